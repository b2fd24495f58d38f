#!/usr/bin/env bash
# The shell completions (completions/strata.bash, completions/_strata) on a pool: commands,
# subcommands, options from each command's --help, regions, datasets, arrays, N-d arrays and
# columns from the pool, files where no name fits. bash through its completion function; zsh
# (when installed) with compadd and _files stubbed, which print what they would offer.
set -uo pipefail
S=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-compl-XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir "$T/bin"
ln -s "$(cd "$(dirname "$S")" && pwd)/$(basename "$S")" "$T/bin/strata"
export PATH="$T/bin:$PATH" STRATA_POOL=$T/pool
cd "$T"
strata init >/dev/null
strata demo taxi 100 trips.csv --seed 1 >/dev/null
strata ingest taxi/trips trips.csv --quiet
strata array create taxi/counter i64 4 >/dev/null
strata nd create sim/field --dtype f32 --shape 4,4 --chunks 2,2 >/dev/null
fails=0
check() { # SHELL WANT WORDS...: the completions of the last word, sorted, must be WANT
    local sh=$1 want=$2 got
    shift 2
    if [ "$sh" = bash ]; then
        got=$(bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _strata
                       printf "%s\n" "${COMPREPLY[@]}"' _ "$SRC/completions/strata.bash" "$@" |
            sort | tr '\n' ' ')
    else
        # compadd as zsh's would: its options up to --, then the candidates the word starts
        got=$(zsh -c 'compadd() {
                          while [[ $# -gt 0 && $1 != -- ]]; do [[ $1 == -S ]] && shift; shift; done
                          shift
                          local a; for a in "$@"; do
                              [[ -n $a && $a == ${words[CURRENT]}* ]] && print -r -- $a; done }
                      _files() { print -r -- "<files>" }
                      words=("$@"); CURRENT=$#; source "$0"' "$SRC/completions/_strata" "$@" |
            sort -u | tr '\n' ' ')
    fi
    if [ "$got" != "$want " ]; then
        echo "FAIL ($sh): $*: got '$got', want '$want '"
        fails=$((fails + 1))
    fi
}
shells=(bash)
command -v zsh >/dev/null && shells+=(zsh) || [ "${CI:-}" != true ] || { echo "FAIL: no zsh"; exit 1; }
for sh in "${shells[@]}"; do
    check "$sh" "array" strata ar
    check "$sh" "cas create" strata array c
    check "$sh" "sim/ taxi/" strata cat ''
    check "$sh" "taxi/counter taxi/trips" strata show taxi/
    check "$sh" "taxi/trips.dropofftime taxi/trips.dropoffzone" strata show taxi/trips.d
    check "$sh" "sim/field" strata nd read sim/f
    check "$sh" "--where" strata cat taxi/trips --wh
    check "$sh" "--json" strata --js
    check "$sh" "update" strata help upd
    check "$sh" "create" strata nd cr
done
check bash "trips.csv" strata ingest taxi/trips tr
[ "${#shells[@]}" -lt 2 ] || check zsh "<files>" strata ingest taxi/trips tr
[ $fails -eq 0 ] || { echo "$fails completion checks failed"; exit 1; }
echo "all completion checks passed (${shells[*]})"
