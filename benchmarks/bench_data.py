"""Time and peak memory of data handling on a large table: 50,000 rows, 60 curve groups, 8 muscles.

Run with ``python benchmarks/bench_data.py``; it prints seconds and peak
memory of validation and encoding, the identifiability check and building
the PyMC model (no sampling).
"""

import time
import tracemalloc

import numpy as np
import pandas as pd

import hbmep_pymc as mep
from hbmep_pymc.checks import check_identifiability
from hbmep_pymc.data import prepare_data


def main() -> None:
    rng = np.random.default_rng(1)
    n = 50_000
    muscles = [f"muscle {m}" for m in range(8)]
    df = pd.DataFrame({"x": rng.uniform(0, 100, n), "participant": rng.integers(0, 60, n)})
    for muscle in muscles:
        values = rng.gamma(2.0, 0.1, n)
        values[rng.random(n) < 0.1] = np.nan
        df[muscle] = values

    tracemalloc.start()
    start = time.perf_counter()
    data = prepare_data(df, "x", ["participant"], muscles)
    prepared = time.perf_counter()
    check_identifiability(data, mep.get_curve("rectified_logistic"), hierarchical=True)
    checked = time.perf_counter()
    mep.StandardHB("x", ["participant"], muscles).build(df)
    built = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(f"rows: {n}, curve groups: 60, muscles: 8, observed cells: {int(data.observed.sum())}")
    print(f"validate and encode: {prepared - start:.2f} s")
    print(f"identifiability check: {checked - prepared:.2f} s")
    print(f"build PyMC model: {built - checked:.2f} s")
    print(f"peak traced memory: {peak / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
