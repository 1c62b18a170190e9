"""Time ``model.predict`` on 1000-point grids for 6 curves (3 participants, 2 muscles) with 4000 draws.

The posterior is synthetic, drawn around the simulation's true parameters,
so the script needs no fit and runs in seconds. It prints the best of
``--repeats`` wall-clock timings and the CPU time, in seconds.

Run from the repository root::

    .venv/bin/python benchmarks/bench_predict.py --threads 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

import hbmep_pymc as mep
from hbmep_pymc.simulation import simulate

NUM_CHAINS = 4
NUM_DRAWS = 1000
NUM_POINTS = 1000


def synthetic_posterior(sim, seed: int = 0) -> xr.Dataset:
    """Posterior-shaped draws scattered around the true parameters of ``sim``."""
    rng = np.random.default_rng(seed)
    participants = sorted(sim.df["participant"].unique())
    coords = {
        "chain": np.arange(NUM_CHAINS),
        "draw": np.arange(NUM_DRAWS),
        "participant": participants,
        "muscle": sim.response,
    }
    dims = ("chain", "draw", "participant", "muscle")
    data_vars = {}
    for name, truth in sim.parameters.items():
        noise = rng.lognormal(0.0, 0.05, size=(NUM_CHAINS, NUM_DRAWS, *truth.shape))
        data_vars[name] = (dims, truth[None, None] * noise)
    return xr.Dataset(data_vars, coords=coords)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="worker threads (default: up to 4)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is reported")
    args = parser.parse_args()

    sim = simulate(n_participants=3, n_muscles=2, n_pulses=40, seed=0)
    model = mep.StandardHB("intensity", ["participant"], sim.response)
    df, _ = model.load(sim.df)
    grid = model.make_prediction_dataset(df, num_points=NUM_POINTS)
    posterior = synthetic_posterior(sim)

    timings, cpu_times = [], []
    for _ in range(args.repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        predictive = model.predict(grid, posterior=posterior, num_threads=args.threads)
        timings.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)

    values = predictive["obs"].size
    print(f"grid points: {len(grid)} x {len(sim.response)} muscles, draws: {NUM_CHAINS * NUM_DRAWS}")
    print(f"values of mu and of obs: {values:,}")
    print(f"predict: best {min(timings):.2f} s, all {', '.join(f'{t:.2f}' for t in timings)} s")
    # CPU time summed over threads; on a machine shared with other work it is steadier than wall time.
    print(f"CPU time: best {min(cpu_times):.2f} s")


if __name__ == "__main__":
    main()
