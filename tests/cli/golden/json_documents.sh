# --json is one JSON document on stdout for every command; --ndjson an object per line for the
# streams (cat, log, check, watch); a stream without end refuses --json
printf 'k,s\n1,a\n2,b\n' >a.csv
strata ingest t/x a.csv --quiet
strata ingest t/x a.csv --quiet
strata --json cat t/x
strata cat t/x --ndjson
strata cat t/x --head 0 --json
strata log t/x --json | sed 's/"time":"[^"]*"/"time":"T"/g'
strata log t/x --ndjson | sed 's/"time":"[^"]*"/"time":"T"/g'
strata check --json
strata check --ndjson
echo "(nothing above: no problem)"
strata watch --json
echo "exit $?"
strata ls --ndjson
echo "exit $?"
# each of these prints one document that a JSON parser reads whole
for c in "ls" "region ls" "show t/x" "show t/x --columns" "cat t/x" "log t/x" "lineage" \
    "check" "info" "version" "tier ls" "array ls" "gc --dry-run"; do
    strata --json $c | python3 -c 'import json, sys; json.load(sys.stdin)' >/dev/null &&
        echo "one document: $c"
done
