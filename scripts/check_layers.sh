#!/usr/bin/env bash
# Check the layer rules of docs/architecture.md on every #include "..." of src/ and python/src/:
#   1. a private header (*_int.h) is included only by files of its own folder;
#   2. src/cli, src/serve and python/src include only strata.h and headers of their own folder
#      (the CLI may also include the server's interface, serve/serve.h, to start it);
#   3. a layer includes only its own headers and those of the layers below it, in the order
#      util < catalog, format < pool < store < ops, expr < derive, ingest, ndarray < tier, interop
#      < mdms, check;
#   4. the catalog calls that make data visible (a dataset's change set, N-d chunks) and the
#      chunk and column file writers are called only from the folders that own that data.
# Violations listed in scripts/layers.allow (the debt being paid off, one "FILE -> HEADER" per
# line) are reported but tolerated; anything else fails, and so does an entry of that list that
# no longer occurs (so the list only shrinks). Run by scripts/test.sh (CI).
#     bash scripts/check_layers.sh          # check
#     bash scripts/check_layers.sh --list   # print every current violation (to review the list)
set -euo pipefail
cd "$(dirname "$0")/.."

rank() { # the layer rank of a folder of src/, or nothing for folders outside the library
    case $1 in
    util) echo 0 ;;
    catalog | format) echo 1 ;;
    pool) echo 2 ;;
    store) echo 3 ;;
    ops | expr) echo 4 ;;
    derive | ingest | ndarray) echo 5 ;;
    tier | interop) echo 6 ;;
    mdms | check) echo 7 ;;
    *) echo "" ;;
    esac
}

violations=()
while IFS= read -r line; do
    file=${line%%:*}
    hdr=$(sed -n 's/.*#include "\([^"]*\)".*/\1/p' <<<"${line#*:}")
    [ -n "$hdr" ] || continue
    dir=$(dirname "$file")
    folder=${dir#src/}
    folder=${folder#python/}
    hfolder=""
    [[ $hdr == */* ]] && hfolder=${hdr%%/*}
    why=""
    case $dir in
    src/cli)
        [[ $hdr == strata.h || $hdr == cli.h || $hdr == cli/* || $hdr == serve/serve.h || $hdr == serve.h ]] ||
            why="the CLI uses only strata.h and its own headers"
        ;;
    src/serve)
        [[ $hdr == strata.h || $hdr == serve/* || ($hdr != */* && -f src/serve/$hdr) ]] ||
            why="the server uses only strata.h and its own headers"
        ;;
    python/src)
        [[ $hdr == strata.h || ($hdr != */* && -f python/src/$hdr) ]] ||
            why="the Python extension uses only strata.h and its own headers"
        ;;
    src/*)
        if [[ $hdr == *_int.h && -n $hfolder && $hfolder != "$folder" ]]; then
            why="a private header of another folder"
        elif [ -n "$hfolder" ] && [ "$hfolder" != "$folder" ]; then
            r=$(rank "$folder")
            hr=$(rank "$hfolder")
            if [ -n "$r" ] && [ -n "$hr" ] && [ "$hr" -ge "$r" ]; then
                why="a layer above or beside this one"
            fi
        fi
        ;;
    esac
    [ -n "$why" ] && violations+=("$file -> $hdr|$why")
done < <(grep -rn --include='*.c' --include='*.h' '#include "' src python/src | sed 's/:[0-9]*:/:/')

# Rule 4: the writes that make data visible have one owner each. A call of one of these
# functions from any other folder is a violation ("FILE -> FUNCTION()").
owners=(
    "st_cat_apply:catalog store"             # datasets' change sets: the store's st_dataset_apply
    "st_cat_nd_commit:catalog ndarray"       # N-d chunks: the ndarray writer
    "st_cat_nd_commit_tx:catalog ndarray"
    "st_cat_save_commit:catalog ndarray"     # an mdms save's new array: st_nd_commit_new
    "st_cat_nd_insert:catalog ndarray"
    "st_cat_nd_attr_put:catalog ndarray"    # N-d attributes: the ndarray layer
    "st_chunk_write:util ndarray tier"       # chunk files: the ndarray writer and the tier mover
    "st_colw_open:store derive ingest"       # column files: the store's column writer
)
for o in "${owners[@]}"; do
    fn=${o%%:*}
    ok=" ${o#*:} "
    while IFS= read -r file; do
        dir=$(dirname "$file")
        folder=${dir#src/}
        folder=${folder#python/}
        [[ $ok == *" $folder "* ]] && continue
        violations+=("$file -> $fn()|writes data another layer owns (rule 4)")
    done < <(grep -rlw --include='*.c' "$fn" src python/src || true)
done

if [ "${1:-}" = "--list" ]; then
    for v in "${violations[@]}"; do echo "${v%%|*}"; done
    exit 0
fi

allow=scripts/layers.allow
declare -A allowed=()
if [ -f "$allow" ]; then
    while IFS= read -r a; do
        [[ -z $a || $a == \#* ]] && continue
        allowed[$a]=1
    done <"$allow"
fi
fails=0
declare -A seen=()
for v in "${violations[@]}"; do
    key=${v%%|*}
    seen[$key]=1
    if [ -z "${allowed[$key]:-}" ]; then
        echo "layers: $key: ${v#*|} (docs/architecture.md)" >&2
        fails=$((fails + 1))
    fi
done
for a in "${!allowed[@]}"; do
    if [ -z "${seen[$a]:-}" ]; then
        echo "layers: '$a' is listed in $allow but no longer occurs: remove it from the list" >&2
        fails=$((fails + 1))
    fi
done
if [ $fails -gt 0 ]; then
    echo "layers: $fails problem(s)" >&2
    exit 1
fi
echo "layers: rules hold (${#allowed[@]} known exceptions left in $allow)"
