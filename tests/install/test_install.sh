#!/usr/bin/env bash
# Installs the build into a temporary prefix and uses it as a program would: a C file
# that includes <mainstream/mainstream.h> builds with `pkg-config --cflags --libs
# mainstream` (shared) and against libmainstream.a, and through find_package(mainstream);
# each runs. The installed command, man page and bash completion are checked too.
# Usage: test_install.sh BUILD_DIR [extra C flags, e.g. the sanitizers]
set -euo pipefail
build=$1
shift
extra=()
for a in "$@"; do [ -n "$a" ] && extra+=("$a"); done
prefix=$(mktemp -d /tmp/mainstream-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "test_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
lib=$prefix/lib
[ -d "$prefix/lib64" ] && lib=$prefix/lib64
for f in bin/mainstream include/mainstream/mainstream.h include/mainstream/base/error.h \
         share/man/man1/mainstream.1 share/bash-completion/completions/mainstream; do
    [ -f "$prefix/$f" ] || fail "$f not installed"
done
for f in libmainstream.a libmainstream.so pkgconfig/mainstream.pc cmake/mainstream/mainstreamConfig.cmake; do
    [ -e "$lib/$f" ] || fail "lib/$f not installed"
done
# The headers name each other as <mainstream/...>: nothing points back into src/.
if grep -rn '#include "' "$prefix/include/mainstream"; then fail "a public header includes with quotes"; fi

version=$("$prefix/bin/mainstream" --version)
[[ $version =~ ^mainstream\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version printed '$version'"
grep -q '^\.SH COMMANDS' "$prefix/share/man/man1/mainstream.1" || fail "the man page has no COMMANDS section"
grep -q 'score-events' "$prefix/share/man/man1/mainstream.1" || fail "the man page lacks score-events"

# bash completion: command names, then a command's options
(
    set +u
    # shellcheck disable=SC1091
    source "$prefix/share/bash-completion/completions/mainstream"
    COMP_WORDS=("$prefix/bin/mainstream" sch); COMP_CWORD=1; _mainstream
    [ "${COMPREPLY[*]}" = schedule ] || fail "completion of 'sch': '${COMPREPLY[*]}'"
    COMP_WORDS=("$prefix/bin/mainstream" schedule --pol); COMP_CWORD=2; _mainstream
    [ "${COMPREPLY[*]}" = --policy ] || fail "completion of 'schedule --pol': '${COMPREPLY[*]}'"
)

work=$prefix/work
mkdir -p "$work"
cat >"$work/prog.c" <<'C'
/* A program using the installed library: the version, a backend, and (when the shared
 * data is there) a model's chokepoints. */
#include <mainstream/mainstream.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    printf("built against mainstream %s\n", MAINSTREAM_VERSION_STRING);
    if (!ms_backend_find("ref") || !ms_backend_find("cpu")) return 1;
    if (argc < 2 || access(argv[1], R_OK) != 0) return 0;
    const char *path = argv[1];
    ms_graph *g = NULL;
    ms_chokepoint *cps = NULL;
    int n = 0;
    ms_error err;
    if (ms_model_load(&path, 1, &g, &err) || ms_graph_chokepoints(g, &cps, &n, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%d chokepoints\n", n);
    free(cps);
    ms_graph_free(g);
    return n == 16 ? 0 : 1;
}
C
model=${MAINSTREAM_DATA:-}/models/mobilenet_v1_0.25_128_quant.tflite
export PKG_CONFIG_PATH=$lib/pkgconfig
cflags=$(pkg-config --cflags mainstream)
case " $cflags " in *"/src"*) fail "pkg-config --cflags names a source folder: $cflags" ;; esac
cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" "$work/prog.c" $(pkg-config --cflags --libs mainstream) -o "$work/prog"
out=$(LD_LIBRARY_PATH=$lib "$work/prog" "$model") || fail "the pkg-config program failed: $out"
echo "$out"
used=$(LD_LIBRARY_PATH=$lib ldd "$work/prog" | awk '/libmainstream\.so/ {print $3}')
[ -n "$used" ] && [ "$(realpath "$used")" = "$(realpath "$lib/libmainstream.so")" ] ||
    fail "the program does not use the installed libmainstream.so (ldd: '$used')"
# static: libmainstream.a with the .pc's private dependencies, themselves shared (Debian
# ships FFmpeg's shared libraries; `pkg-config --static` would ask for all of theirs)
private=$(sed -n 's/^Libs.private: //p' "$lib/pkgconfig/mainstream.pc")
static_libs="$lib/libmainstream.a $(pkg-config --libs libcjson $(pkg-config --print-requires-private mainstream)) $private"
cc -std=c11 -Wall -Wextra -Werror "${extra[@]}" "$work/prog.c" $(pkg-config --cflags mainstream) $static_libs -o "$work/prog_static"
"$work/prog_static" "$model" >/dev/null || fail "the static program failed"

# CMake: find_package(mainstream) and the target mainstream::mainstream
mkdir -p "$work/cm"
cat >"$work/cm/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(uses_mainstream C)
find_package(mainstream 0.1 REQUIRED)
add_executable(prog ../prog.c)
target_compile_options(prog PRIVATE ${extra[*]})
target_link_options(prog PRIVATE ${extra[*]})
target_link_libraries(prog PRIVATE mainstream::mainstream)
CM
cmake -S "$work/cm" -B "$work/cm/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null || fail "find_package(mainstream) failed"
cmake --build "$work/cm/build" >/dev/null || fail "the CMake program did not build"
LD_LIBRARY_PATH=$lib "$work/cm/build/prog" "$model" >/dev/null || fail "the CMake program failed"
echo "test_install: ok ($version, prefix $prefix)"
