# region rm: an empty region goes; one that holds anything only with --force, which deletes
# datasets, derived data, arrays and N-d arrays cleanly; never while another region derives from it
strata region create empty
strata region rm empty
strata demo taxi 200 t.csv --seed 3 >/dev/null
strata ingest taxi/trips t.csv --quiet
strata derive taxi/big --from taxi/trips --filter 'fare > 10000' >/dev/null
strata column taxi/big.f --gather taxi/trips.fare >/dev/null
strata column taxi/trips.x --scatter taxi/big.f --default 0 >/dev/null
strata update >/dev/null
strata array create taxi/a i64 10 >/dev/null
strata nd create taxi/n --dtype f32 --shape 10,10 --chunks 5,5 >/dev/null
strata region create other >/dev/null
strata derive other/o --from taxi/big --filter 'f > 15000' >/dev/null
strata region rm taxi
echo "exit $?"
strata --json region rm taxi
echo "exit $?"
strata region rm taxi --force
echo "exit $?"
strata nd ls taxi
strata drop other/o
strata region rm taxi --force
echo "exit $?"
strata ls
strata gc --grace 0 | sed 's/[0-9.]* [KM]*B;/N B;/'
strata check
find pool/data -mindepth 1 | wc -l
strata app register sim n:int >/dev/null
strata region rm sim --force
