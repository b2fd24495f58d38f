# bash completion for strata: commands, subcommands, options (from each command's --help), and
# the pool's regions, datasets, arrays, N-d arrays and columns (strata __complete). Installed by
# cmake --install into share/bash-completion/completions/strata; or: source completions/strata.bash

_strata_words() { # COMMAND [SUBCOMMAND]: the subcommands, or the options, of a command
    local help
    help=$("${_strata_cmd[@]}" "$@" --help 2>/dev/null) || return
    if [ $# -eq 1 ]; then
        printf '%s\n' "$help" | sed -n "s/^ *\(usage: \)\{0,1\}strata $1 \([a-z][a-z|]*\).*/\2/p" |
            tr '|' '\n' | sort -u
    fi
}

_strata() {
    local cur=${COMP_WORDS[COMP_CWORD]} i cmd="" sub="" nargs=0
    _strata_cmd=(strata)
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
        -P | --pool)
            _strata_cmd+=(-P "${COMP_WORDS[i + 1]}")
            ((i++))
            ;;
        --threads) ((i++)) ;;
        -*) ;;
        *)
            if [ -z "$cmd" ]; then cmd=${COMP_WORDS[i]}; elif [ -z "$sub" ]; then sub=${COMP_WORDS[i]}; fi
            nargs=$((nargs + 1))
            ;;
        esac
    done
    if [ -z "$cmd" ]; then
        if [[ $cur == -* ]]; then
            mapfile -t COMPREPLY < <(compgen -W "--pool --json --threads --help --version" -- "$cur")
        else
            mapfile -t COMPREPLY < <(compgen -W "$("${_strata_cmd[@]}" __complete --commands)" -- "$cur")
        fi
        return
    fi
    if [[ $cur == -* ]]; then
        local opts
        opts=$("${_strata_cmd[@]}" "$cmd" ${sub:+"$sub"} --help 2>/dev/null | grep -o -- '--[a-z][a-z-]*' | sort -u)
        mapfile -t COMPREPLY < <(compgen -W "$opts --help" -- "$cur")
        return
    fi
    if [ "$nargs" -eq 1 ]; then # a subcommand, if the command has them
        local subs
        subs=$(_strata_words "$cmd")
        if [ -n "$subs" ]; then
            mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
            return
        fi
    fi
    if [ "$cmd" = help ]; then
        mapfile -t COMPREPLY < <(compgen -W "$("${_strata_cmd[@]}" __complete --commands)" -- "$cur")
        return
    fi
    mapfile -t COMPREPLY < <("${_strata_cmd[@]}" __complete "$cur" 2>/dev/null)
    if [ ${#COMPREPLY[@]} -eq 0 ]; then
        mapfile -t COMPREPLY < <(compgen -f -- "$cur") # files: CSV, NPY, HDF5 ...
    elif [ ${#COMPREPLY[@]} -eq 1 ] && [[ ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _strata strata
