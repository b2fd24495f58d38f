"""examples/taxi.py, the tour of docs/python.md, runs and its results equal pandas'."""
import os
import subprocess
import sys

import numpy as np
import pandas as pd

import strata

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_taxi_tour_runs_and_equals_pandas(tmp_path, cli):
    pool = str(tmp_path / "pool")
    hours = [str(tmp_path / "h1.csv"), str(tmp_path / "h2.csv")]
    cli(pool, "init")
    subprocess.run([os.environ["STRATA_CLI"], "demo", "taxi", "20000", hours[0], "--seed", "1",
                    "--start", "1704067200"], check=True)
    subprocess.run([os.environ["STRATA_CLI"], "demo", "taxi", "15000", hours[1], "--seed", "2",
                    "--start", "1704070800"], check=True)
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "taxi.py"), pool, *hours],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "expensive trips" in r.stdout and "busiest pickup zones" in r.stdout
    trips = pd.concat([pd.read_csv(h) for h in hours], ignore_index=True)
    exp = trips[(trips.fare > 10000) & (trips.pickupzone != trips.dropoffzone)]
    with strata.Pool(pool) as p:
        with p.dataset("pytaxi/expensive").snapshot() as snap:
            np.testing.assert_array_equal(snap["fare"], exp.fare.to_numpy())
            np.testing.assert_array_equal(snap["duration"],
                                          (exp.dropofftime - exp.pickuptime).to_numpy())
        with p.dataset("pytaxi/top10").snapshot() as snap:
            np.testing.assert_array_equal(snap["fare"],
                                          np.sort(exp.fare.to_numpy())[::-1][:10])
        with p.dataset("pytaxi/zones").snapshot() as snap:
            z = snap.to_pandas().set_index("pickupzone").sort_index()
            ref = trips.groupby("pickupzone").fare.agg(["count", "sum"])
            np.testing.assert_array_equal(z["count"].to_numpy(), ref["count"].to_numpy())
            np.testing.assert_array_equal(z["sum_fare"].to_numpy(), ref["sum"].to_numpy())
    assert f"{len(exp)} expensive trips" in r.stdout
