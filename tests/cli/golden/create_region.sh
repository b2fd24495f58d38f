# nd create (and array create, ingest) make the region they name; find of a dataset no run
# saved is an error
strata nd create sim/n --dtype f32 --shape 4,4 --chunks 2,2
strata region ls
strata array create other/a i32 3
strata region ls
strata find nosuch --dataset temp
echo "exit $?"
strata app register sim n:int
strata find sim
strata find sim --dataset temp
echo "exit $?"
strata --json find sim --dataset temp
