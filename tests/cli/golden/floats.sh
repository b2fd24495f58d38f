# floats print in their shortest round-trip form in cat, show, export and JSON (f64 and f32)
printf 'x,y\n21.1,0.1\n-0.5,1e-7\n613,123456789.125\n0.30000000000000004,-0\n' >f.csv
strata ingest demo/f f.csv --quiet
strata cat demo/f
strata cat demo/f --format json
strata show demo/f | grep -v created
strata --json show demo/f | grep -o '"stats":[^}]*}'
strata export demo/f --format csv --out out.csv && cat out.csv
strata array create demo/g f32 3
strata array put demo/g 0 0.1 3.4028235e38 -1.5
strata array get demo/g
strata array create demo/h f64 2
strata array put demo/h 0 0.1 nan
strata array get demo/h
strata --json array get demo/h
