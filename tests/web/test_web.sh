#!/usr/bin/env bash
# Browser tests of strata serve: headless Debian chromium, driven by playwright-core
# (browser.mjs), against a server on a free loopback port over the fixture pool; then the C
# snippet copied from the page is compiled against the library and run. Screenshots of the main
# views go to SHOTDIR.
#     test_web.sh STRATA EXAMPLES_DIR SHOTDIR
set -u
S=$1
EX=$2
SHOTS=$3
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/web.XXXXXX")
PIDS=()
cleanup() {
    kill_children "${PIDS[@]}"
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT
. "$HERE/../cli/lib.sh"
. "$HERE/../serve/lib.sh"

command -v node >/dev/null || { echo "FAIL: node is missing: run scripts/deps.sh"; exit 1; }
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || { echo "FAIL: chromium is missing: run scripts/deps.sh"; exit 1; }
[ -d "$HERE/node_modules/playwright-core" ] || { echo "FAIL: playwright-core is missing: run scripts/deps.sh (npm ci in tests/web)"; exit 1; }

P=$T/pool
bash "$HERE/../serve/fixture.sh" "$S" "$EX" "$P" "$T" || { echo "FAIL: fixture"; exit 1; }
serve_start --timeout 10
rm -rf "$SHOTS"
node "$HERE/browser.mjs" "$U" "$(cat "$P/serve.token")" "$SHOTS" || fails=$((fails + 1))

# the snippet the page copied (it follows the column chosen: fare, whose histogram the browser drew)
# compiles against the library and reads that column
if [ -s "$SHOTS/snippet.c" ]; then
    if compile_snippet "$SHOTS/snippet.c" "$T/snippet"; then
        out=$("$T/snippet" 2>&1)
        echo "$out" | grep -q "^20000 rows, sum of fare" || { echo "FAIL: the copied snippet printed: $out"; fails=$((fails + 1)); }
    else
        echo "FAIL: the copied snippet does not compile: $(head -5 "$T/snippet.err")"; fails=$((fails + 1))
    fi
else
    echo "FAIL: no snippet was copied"; fails=$((fails + 1))
fi
# the copied Python snippet runs with the build's package (built beside the command) and reads
# the same column (where the package imports: not in the ASan build, whose module needs the
# runtime preloaded; tests/python covers that build)
PYPKG=$(dirname "$S")/python
if (PYTHONPATH=$PYPKG /usr/bin/python3 -c "import strata") >/dev/null 2>&1; then
    if [ -s "$SHOTS/snippet.py" ]; then
        out=$(PYTHONPATH=$PYPKG /usr/bin/python3 "$SHOTS/snippet.py" 2>&1)
        echo "$out" | grep -q "^20000 values, sum" || { echo "FAIL: the copied Python snippet printed: $out"; fails=$((fails + 1)); }
    else
        echo "FAIL: no Python snippet was copied"; fails=$((fails + 1))
    fi
fi
ls "$SHOTS"/*.png >/dev/null 2>&1 || { echo "FAIL: no screenshots in $SHOTS"; fails=$((fails + 1)); }
finish web
