# bash completion for mainstream(1). Commands come from `mainstream --help` and each
# command's options from `mainstream CMD --help`, so they never fall out of step with
# the program; files complete everywhere else. Installed as
# share/bash-completion/completions/mainstream; or: source scripts/mainstream-completion.bash
_mainstream() {
    local cur=${COMP_WORDS[COMP_CWORD]} bin=${COMP_WORDS[0]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        local cmds
        cmds=$("$bin" --help 2>/dev/null | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 && /^  / {print $1}')
        COMPREPLY=($(compgen -W "$cmds help --help --version" -- "$cur"))
        return
    fi
    local cmd=${COMP_WORDS[1]}
    [ "$cmd" = help ] && { COMPREPLY=($(compgen -W "$("$bin" --help 2>/dev/null | sed -n '/^commands:/,/^$/p' | awk 'NF > 1 && /^  / {print $1}')" -- "$cur")); return; }
    if [[ $cur == -* ]]; then
        local opts
        opts=$("$bin" "$cmd" --help 2>/dev/null | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -o bashdefault -F _mainstream mainstream
