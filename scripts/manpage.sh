#!/usr/bin/env bash
# Writes the man page mainstream(1) from the command's own help texts: help2man reads
# `mainstream --help` and `--version`; a COMMANDS section holds `mainstream CMD --help`
# for every command. Run by the build (cmake/install.cmake).
# Usage: scripts/manpage.sh MAINSTREAM_BINARY OUT.1
set -euo pipefail
bin=$1
out=$2
mkdir -p "$(dirname "$out")"
extra=$(mktemp)
trap 'rm -f "$extra"' EXIT
{
    echo "[COMMANDS]"
    # the command names: the indented first words of the `commands:` list
    for cmd in $("$bin" --help | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 && /^  / {print $1}'); do
        echo ".SS $cmd"
        echo ".nf"
        # roff: a leading dot or quote would be a request, backslashes escapes
        "$bin" "$cmd" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
        echo ".fi"
    done
    cat <<'TXT'
[ENVIRONMENT]
.TP
.B MAINSTREAM_DATA
The shared data folder (models/, videos/, reference/). Unset: the folder the build was
configured with (../shared/data beside the sources).
.TP
.B MS_LOG
debug, info, warn or error: the least severe message printed on stderr (default info).
.TP
.B MS_LOG_TIME
1: a UTC timestamp on every log line; 0: never (default: only in run).
[SEE ALSO]
docs/cli.md, docs/design.md and docs/formats.md in the source tree.
TXT
} >"$extra"
help2man --no-info --no-discard-stderr --section 1 --name "share DNN layers between video-analysis apps" \
    --include "$extra" --output "$out.tmp" "$bin"
mv "$out.tmp" "$out"
