#!/usr/bin/env bash
# Progress lines on a terminal (a pseudo-terminal from util-linux's script): long commands (nd
# write and read, migrate, stage, export, check, gc) draw "WHAT: DONE of TOTAL UNIT (P%)" on
# stderr and clear it before their result; nothing of it without a terminal or with --json.
set -uo pipefail
S=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-progress-XXXXXX")
trap 'rm -rf "$T"' EXIT
export STRATA_POOL=$T/pool
cd "$T"
fails=0
command -v script >/dev/null || { echo "SKIP: no script (util-linux)"; exit 77; }
"$S" init >/dev/null
/usr/bin/python3 -c "import numpy as np; np.save('x.npy', np.arange(160000, dtype='f4').reshape(400, 400))"
"$S" nd create sim/x --dtype f32 --shape 400,400 --chunks 10,10 >/dev/null
"$S" tier add tape "$T/tape" --kind archive >/dev/null
"$S" demo taxi 3000 t.csv >/dev/null
"$S" ingest taxi/t t.csv --batch-rows 500 --quiet
tty_run() { script -qfec "$*" /dev/null 2>&1; }
want_progress() { # WHAT-PREFIX COMMAND...: a progress line, then cleared, then the result
    local what=$1 out
    shift
    out=$(tty_run "$@")
    if ! grep -q "$what[^%]* of [^%]*(.*%)" <<<"$out"; then
        echo "FAIL: no progress line '$what ...' for: $*"
        printf '%s\n' "$out" | od -c | head -5
        fails=$((fails + 1))
    fi
    # after the last progress line the terminal line is cleared (ESC [ K) before anything else
    local tail=${out##*%)}
    if [[ $tail != $'\r\e[K'* ]]; then
        echo "FAIL: the progress line is not cleared after: $*: $(printf '%q' "${tail:0:40}")"
        fails=$((fails + 1))
    fi
}
want_progress "write sim/x:" "$S" nd write sim/x --from x.npy --start 0,0
want_progress "read sim/x:" "$S" nd read sim/x --out r.npy
want_progress "migrate sim/x to tape:" "$S" migrate sim/x --to tape
want_progress "stage sim/x to default:" "$S" stage sim/x --to default
want_progress "export taxi/t:" "$S" export taxi/t --format csv --out o.csv
want_progress "export taxi/t:" "$S" export taxi/t --format npy --out o.npy
want_progress "check" "$S" check
want_progress "gc" "$S" gc
# not a terminal, or --json: no progress at all
for args in "nd read sim/x --out r2.npy" "--json nd read sim/x --out r3.npy"; do
    if [ "${args#--json}" = "$args" ]; then out=$("$S" $args 2>&1); else out=$(tty_run "$S" $args); fi
    if grep -q $'\e\\[K' <<<"$out"; then
        echo "FAIL: a progress line without a terminal or with --json: $args"
        fails=$((fails + 1))
    fi
done
[ $fails -eq 0 ] || { echo "$fails progress checks failed"; exit 1; }
echo "all progress checks passed"
