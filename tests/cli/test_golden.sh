#!/usr/bin/env bash
# Golden-output tests of the strata command (as zstd's cli-tests): each case
# tests/cli/golden/NAME.sh runs in a new scratch directory holding an empty pool ('pool', also
# $STRATA_POOL) with 'strata' first on PATH; its stdout, stderr and exit status must equal
# NAME.sh.stdout.exact, NAME.sh.stderr.exact and NAME.sh.exit (0 when missing) byte for byte.
#     test_golden.sh STRATA [CASE...]   (STRATA_GOLDEN_UPDATE=1 rewrites the expected files)
set -uo pipefail
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
G=$(cd "$(dirname "$0")" && pwd)/golden
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-golden-XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir "$T/bin"
ln -s "$S" "$T/bin/strata"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || for f in "$G"/*.sh; do cases+=("$(basename "$f" .sh)"); done
fails=0
for name in "${cases[@]}"; do
    d=$T/$name
    mkdir "$d"
    (cd "$d" && STRATA_POOL=pool PATH="$T/bin:$PATH" "$S" init pool >/dev/null)
    (cd "$d" && env -u STRATA_DEBUG -u STRATA_CATALOG STRATA_POOL=pool PATH="$T/bin:$PATH" \
        LC_ALL=C COLUMNS=100 bash "$G/$name.sh" >"$T/$name.out" 2>"$T/$name.err" </dev/null)
    rc=$?
    if [ "${STRATA_GOLDEN_UPDATE:-}" = 1 ]; then
        cp "$T/$name.out" "$G/$name.sh.stdout.exact"
        cp "$T/$name.err" "$G/$name.sh.stderr.exact"
        if [ "$rc" != 0 ]; then echo "$rc" >"$G/$name.sh.exit"; else rm -f "$G/$name.sh.exit"; fi
        continue
    fi
    want=0
    [ -f "$G/$name.sh.exit" ] && want=$(cat "$G/$name.sh.exit")
    ok=1
    [ "$rc" = "$want" ] || { echo "FAIL $name: exit $rc, want $want"; ok=0; }
    for s in stdout:out stderr:err; do
        if ! diff -u "$G/$name.sh.${s%%:*}.exact" "$T/$name.${s##*:}" >"$T/diff"; then
            echo "FAIL $name: ${s%%:*} differs:"
            sed 's/^/    /' "$T/diff"
            ok=0
        fi
    done
    [ $ok = 1 ] || fails=$((fails + 1))
done
[ "${STRATA_GOLDEN_UPDATE:-}" = 1 ] && { echo "expected files rewritten"; exit 0; }
if [ $fails -ne 0 ]; then
    echo "$fails of ${#cases[@]} golden cases failed"
    exit 1
fi
echo "all ${#cases[@]} golden cases passed"
