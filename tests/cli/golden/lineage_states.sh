# lineage names each object's state: never computed, fresh or STALE; update's lines and summary
# use one vocabulary (incremental, refreshed, fresh)
strata demo taxi 300 t.csv --seed 5 >/dev/null
strata ingest taxi/trips t.csv --quiet
strata derive taxi/big --from taxi/trips --filter 'fare > 10000' >/dev/null
strata derive taxi/byfare --from taxi/trips --sort fare >/dev/null
strata column taxi/byfare.z --gather taxi/trips.pickupzone >/dev/null
strata column taxi/trips.usd --expr 'fare / 100.0' >/dev/null
strata lineage
strata --json lineage | tr '{' '\n' | grep -o '"dataset":"[^"]*","column":[^,]*\|"fresh":[a-z]*,"computed":[a-z]*'
strata update | sed 's/ in [0-9.]* s$/ in T s/'
strata lineage
strata ingest taxi/trips t.csv --quiet
strata lineage taxi/big
strata update | sed 's/ in [0-9.]* s$/ in T s/'
strata update | sed 's/ in [0-9.]* s$/ in T s/'
strata update --full taxi/big | sed 's/ in [0-9.]* s$/ in T s/'
