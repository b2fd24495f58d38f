"""The taxi pipeline of DESIGN.md, from Python: ingest hourly batches, derive once, update
incrementally, read results as zero-copy numpy arrays and pandas frames.

    PYTHONPATH=build/release/python /usr/bin/python3 examples/taxi.py POOL hour1.csv hour2.csv

(`strata demo taxi ROWS FILE.csv` writes such files.) scripts/demo.sh runs it, and
tests/python/test_examples.py checks its results against pandas.
"""
import sys

import numpy as np

import strata


def main(pool_path, first_hour, next_hour):
    try:
        pool = strata.Pool(pool_path)
    except strata.NotFound:
        pool = strata.Pool(pool_path, create=True)
    with pool:
        # 1. the first hour arrives: one ingest, one published version
        stats = pool.ingest("pytaxi/trips", first_hour, progress=False)
        trips = pool.dataset("pytaxi/trips")
        print(f"ingested {stats.rows} rows -> {trips!r}")

        # 2. define the derived data once (nothing is computed yet)
        pool.derive("pytaxi/expensive", "pytaxi/trips",
                    filter="fare > 10000 and pickupzone != dropoffzone")
        for col in ("pickuptime", "dropofftime", "fare"):
            pool.column(f"pytaxi/expensive.{col}", gather=f"pytaxi/trips.{col}")
        pool.column("pytaxi/expensive.duration", expr="dropofftime - pickuptime")
        pool.derive("pytaxi/top10", "pytaxi/expensive", topk="fare", k=10, desc=True,
                    global_=True)
        pool.derive("pytaxi/zones", "pytaxi/trips", groupby="pickupzone",
                    agg="count,sum:fare,mean:fare")
        pool.auto("pytaxi/expensive")
        pool.auto("pytaxi/top10")
        pool.auto("pytaxi/zones")
        print("update:", pool.update("pytaxi"))

        # 3. the next hour arrives: only the new batch is processed
        pool.ingest("pytaxi/trips", next_hour, progress=False)
        print("update:", pool.update(auto=True))

        # 4. read the results: zero-copy numpy views and pandas frames
        with pool.dataset("pytaxi/expensive").snapshot() as snap:
            fare = snap["fare"]
            print(f"{len(snap)} expensive trips, mean fare {fare.mean() / 100:.2f} $, "
                  f"mean duration {snap['duration'].mean() / 60:.1f} min")
        with pool.dataset("pytaxi/top10").snapshot() as snap:
            print("top fares:", snap["fare"][:3].tolist())
        with pool.dataset("pytaxi/zones").snapshot() as snap:
            zones = snap.to_pandas()
            busiest = zones.nlargest(3, "count")[["pickupzone", "count", "sum_fare", "mean_fare"]]
            print("busiest pickup zones:")
            print(busiest.to_string(index=False))

        # 5. the arrays beneath: a shared counter, exact across processes
        try:
            counter = pool.array("pytaxi/counter")
        except strata.NotFound:
            counter = pool.create_array("pytaxi/counter", "i64", 4)
        counter.fetch_add(0, 1)
        print("counter:", counter[:], "| a zero-copy view:", np.asarray(counter.numpy())[:2])


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: taxi.py POOL hour1.csv hour2.csv")
    main(*sys.argv[1:])
