# cat --where / --offset / --head / --tail across batches; show --columns
printf 'k,v,s\n1,10.5,a\n2,,b\n3,30.25,c\n' >a.csv
printf 'k,v,s\n4,40,d\n5,50.5,\n6,60,f\n' >b.csv
strata ingest t/x a.csv --quiet
strata ingest t/x b.csv --quiet
strata cat t/x --where 'v > 20'
strata cat t/x --where 'v > 20 and k != 4' --format json
strata cat t/x --where 'is_null(v) or s == "c"'
strata cat t/x --where "is_null(v) or s == 'c'"
strata cat t/x --offset 2 --head 3 --columns k
strata cat t/x --tail 2 --columns k,s
strata cat t/x --tail 4 --where 'k > 1' --columns k
strata cat t/x --tail 0
strata cat t/x --where 'k >' --columns k
echo "exit $?"
strata cat t/x --where 'k + 1'
echo "exit $?"
strata cat t/x --tail 2 --head 1
echo "exit $?"
strata column t/x.w --expr 'v * 2' >/dev/null
strata show t/x --columns
strata update t/x >/dev/null
strata --json show t/x --columns
