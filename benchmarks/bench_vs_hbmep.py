"""Fit the same data with hbmep-pymc and with hbmep 0.9.0 (NumPyro) and compare speed.

Each fit runs in a fresh Python process, timed from the moment the process
is started until its summary table is computed, so imports and compilation
count. hbmep 0.9.0 is installed into its own virtual environment the first
time (from the package index). Both systems fit the rectified-logistic
StandardHB model with the same chains, warm-up and draws.

Per system the script prints the wall time and the minimum bulk ESS over
the sampled variables of the model page (hyperparameters, ``a`` and the
``_raw`` variables). It also prints ESS per wall second, divergences after
warm-up, the largest r_hat and the peak resident memory. Then it prints
the ratio of ESS per second, hbmep-pymc over hbmep. ESS and r_hat of both fits are computed here with
the same ArviZ. On the bundled data it also prints how far apart the two
systems' threshold posterior means are.

Cases:

- ``bundled``: the bundled TMS data (3 participants, 2 muscles, 245 pulses);
- ``simulated``: 32 participants, 6 muscles, 48 pulses each, simulated
  from the model's own likelihood.

Run from the repository root::

    .venv/bin/python benchmarks/bench_vs_hbmep.py
    .venv/bin/python benchmarks/bench_vs_hbmep.py --cases bundled --repeat 2

``--max-draws N`` lets hbmep-pymc draw on past ``--draws`` until its
r_hat and ESS pass the library's convergence checks, up to N draws per
chain (``max_samples``); hbmep still draws ``--draws``. ESS per second
stays comparable, since ESS grows with the draws and so does the time.

hbmep-pymc's compilation caches start empty for each case (a temporary
PyTensor ``base_compiledir``, numba cache folder and JAX cache), so its
first run pays all compilation, as on a new machine. ``--repeat 2`` runs hbmep-pymc twice; the
second run reuses what the first left in those caches, as a user's second
script would. ``--user-cache`` uses the user's own caches instead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import arviz as az
import numpy as np

import hbmep_pymc as mep
from hbmep_pymc.simulation import simulate

HERE = Path(__file__).resolve().parent
HBMEP_VERSION = "0.9.0"
DEFAULT_VENV = Path.home() / ".cache" / "hbmep-pymc" / f"hbmep-{HBMEP_VERSION}-venv"

SAMPLED = [
    "a_loc", "a_scale", "b_scale", "g_scale", "h_scale", "v_scale", "c1_scale", "c2_scale",
    "a", "b_raw", "g_raw", "h_raw", "v_raw", "c1_raw", "c2_raw",
]


def ensure_hbmep(venv: Path) -> Path:
    """Return the interpreter of a virtual environment with hbmep 0.9.0, creating it if needed."""
    python = venv / "bin" / "python"
    if python.exists():
        check = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('hbmep'))"],
            capture_output=True, text=True,
        )
        if check.returncode == 0 and check.stdout.strip() == HBMEP_VERSION:
            return python
    print(f"Installing hbmep {HBMEP_VERSION} into {venv} (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", f"hbmep=={HBMEP_VERSION}"], check=True
    )
    return python


def write_case(case: str, folder: Path, seed: int) -> dict:
    """Write the CSV of a case and return the column names of its job."""
    if case == "bundled":
        path = folder / "bundled.csv"
        mep.datasets.load_mock_data().to_csv(path, index=False)
        return {"csv": str(path), "intensity": "TMSIntensity", "features": ["participant"],
                "response": ["PKPK_ECR", "PKPK_FCR"]}
    if case == "simulated":
        sim = simulate(n_participants=32, n_muscles=6, n_pulses=48, seed=seed)
        path = folder / "simulated.csv"
        sim.df.to_csv(path, index=False)
        return {"csv": str(path), "intensity": "intensity", "features": ["participant"],
                "response": sim.response}
    raise ValueError(f"Unknown case {case!r}; use bundled or simulated.")


def run_worker(python: str, worker: str, job: dict, log: Path, env: dict | None = None) -> dict:
    """Run one fit in a fresh process and collect its measurements."""
    job_path = Path(job["output"] + ".job.json")
    job_path.write_text(json.dumps(job))
    started = time.time()
    with open(log, "w") as handle:
        status = subprocess.run(
            [python, str(HERE / worker), str(job_path)], stdout=handle, stderr=subprocess.STDOUT, env=env
        )
    if status.returncode != 0:
        raise RuntimeError(f"{worker} failed with status {status.returncode}; see {log}")
    timing = json.loads(Path(job["output"] + ".json").read_text())
    fit = np.load(job["output"])
    posterior = {
        key.split("__", 1)[1]: fit[key] for key in fit.files if key.startswith("sampled__")
    }
    diagnostics = az.summary(posterior, kind="diagnostics", round_to="none")
    wall = timing["summary_done"] - started
    min_ess = float(diagnostics["ess_bulk"].min())
    return {
        "wall_s": wall,
        "min_ess_bulk": min_ess,
        "ess_per_s": min_ess / wall,
        "divergences": int(fit["diverging"].sum()),
        "max_r_hat": float(diagnostics["r_hat"].max()),
        "peak_mb": timing["peak_rss_kb"] / 1024,
        "threshold_mean": fit["threshold"].mean(axis=(0, 1)),
        "labels": fit["labels"].tolist(),
        "worst": diagnostics["ess_bulk"].idxmin(),
        "draws": int(fit["draws"]) if "draws" in fit.files else int(fit["diverging"].shape[1]),
    }


def show(name: str, result: dict) -> None:
    print(
        f"  {name:<22} wall {result['wall_s']:7.1f} s   min bulk ESS {result['min_ess_bulk']:7.0f}"
        f"   ESS/s {result['ess_per_s']:6.1f}   divergences {result['divergences']:3d}"
        f"   max r_hat {result['max_r_hat']:.3f}   peak {result['peak_mb']:6.0f} MB"
        f"   draws/chain {result['draws']}"
        f"   (lowest ESS: {result['worst']})",
        flush=True,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="bundled,simulated", help="comma-separated: bundled, simulated")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument(
        "--max-draws", type=int, default=None,
        help="hbmep-pymc only: draw on past --draws until converged, up to this many per chain",
    )
    parser.add_argument("--sampler", default="nutpie", help="hbmep-pymc back-end")
    parser.add_argument("--repeat", type=int, default=1, help="hbmep-pymc runs per case (later ones reuse caches)")
    parser.add_argument(
        "--user-cache",
        action="store_true",
        help="use the user's PyTensor and JAX caches instead of empty ones, so run 1 may find the model compiled",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated data")
    parser.add_argument("--hbmep-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--skip-hbmep", action="store_true", help="time hbmep-pymc only")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    hbmep_python = None if args.skip_hbmep else str(ensure_hbmep(args.hbmep_venv))
    print(f"hbmep-pymc {mep.__version__} ({args.sampler}) against hbmep {HBMEP_VERSION}; "
          f"{args.chains} chains x ({args.warmup} warm-up + {args.draws} draws); {os.cpu_count()} CPUs", flush=True)
    if args.max_draws:
        print(f"hbmep-pymc draws on until converged, up to {args.max_draws} per chain", flush=True)
    report = {}
    with tempfile.TemporaryDirectory(prefix="bench-vs-hbmep-") as tmp:
        folder = Path(tmp)
        for case in args.cases.split(","):
            columns = write_case(case, folder, args.seed)
            settings = {"chains": args.chains, "warmup": args.warmup, "draws": args.draws, "variables": SAMPLED}
            print(f"\n{case}:", flush=True)
            ours = []
            env = None
            if not args.user_cache:
                # A compile cache of this run only: the first fit compiles everything, later ones reuse it.
                cache = folder / f"{case}-pytensor-cache"
                flags = ",".join(filter(None, [os.environ.get("PYTENSOR_FLAGS"), f"base_compiledir={cache}"]))
                env = dict(
                    os.environ,
                    PYTENSOR_FLAGS=flags,
                    HBMEP_PYMC_JAX_CACHE=str(cache / "jax"),
                    # The library's own numba functions are cached here instead of next to its source.
                    NUMBA_CACHE_DIR=str(cache / "numba"),
                )
            for run in range(args.repeat):
                job = {
                    **columns, **settings, "sampler": args.sampler, "max_draws": args.max_draws,
                    "output": str(folder / f"{case}-pymc-{run}.npz"),
                }
                log = folder / f"{case}-pymc-{run}.log"
                ours.append(run_worker(sys.executable, "_worker_pymc.py", job, log, env))
                show(f"hbmep-pymc (run {run + 1})", ours[-1])
            entry = {"hbmep_pymc": ours}
            if hbmep_python:
                job = {**columns, **settings, "output": str(folder / f"{case}-hbmep.npz")}
                theirs = run_worker(hbmep_python, "_worker_hbmep.py", job, folder / f"{case}-hbmep.log")
                show(f"hbmep {HBMEP_VERSION}", theirs)
                entry["hbmep"] = theirs
                for run, result in enumerate(ours):
                    ratio = result["ess_per_s"] / theirs["ess_per_s"]
                    print(f"  ratio of ESS per second, run {run + 1}: {ratio:.2f}", flush=True)
                    result["ratio"] = ratio
                if case == "bundled":
                    difference = np.abs(ours[0]["threshold_mean"] - theirs["threshold_mean"]).max()
                    print(f"  largest difference of threshold posterior means: {difference:.3f} %MSO", flush=True)
                    entry["threshold_difference"] = float(difference)
            report[case] = entry
    if args.json:
        def plain(value):
            return value.tolist() if isinstance(value, np.ndarray) else value
        args.json.write_text(json.dumps(
            {case: {key: ([{k: plain(v) for k, v in r.items()} for r in val] if isinstance(val, list)
                          else {k: plain(v) for k, v in val.items()} if isinstance(val, dict) else val)
                    for key, val in entry.items()} for case, entry in report.items()},
            indent=2,
        ))
    return 0


if __name__ == "__main__":
    sys.exit(main())
