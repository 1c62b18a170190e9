"""Time from ``import hbmep_pymc`` to the first posterior draw, in a fresh process.

A model whose structure was compiled before in another process can reuse
what the back-end keeps on disk. The JAX back-ends (numpyro, blackjax) keep
XLA's compiled programs in ``~/.cache/hbmep-pymc/jax``. For nutpie's numba
back-end, PyTensor's numba cache (``~/.pytensor/numba`` by default) keeps
the compiled operations and, through :mod:`hbmep_pymc.nutpie_numba`, the
two callbacks that nutpie calls.

The script runs the same short fit in two new processes one after the
other, per back-end: bundled data, 1 chain, one warm-up iteration and one
draw, which stands for the first draw. It prints both times. The first
process pays any compilation the caches do not hold, and the second shows
what a user's next script pays.
It also times a refit of the same structure on new data inside one
process, which reuses the compiled nutpie model.

Run from the repository root::

    .venv/bin/python benchmarks/bench_first_draw.py --samplers nutpie,numpyro
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CHILD = """
import time
start = time.time()
import warnings
warnings.simplefilter("ignore")
import hbmep_pymc as mep
model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
df = mep.datasets.load_mock_data()
params = {"num_chains": 1, "num_warmup": 1, "num_samples": 1}
model.run(df, mcmc_params=params, sampler=SAMPLER, progress_bar=False, log_likelihood=False)
first = time.time() - start
if REFIT:
    again = time.time()
    model.run(df.iloc[::2], mcmc_params=params, sampler=SAMPLER, progress_bar=False, log_likelihood=False)
    print(f"RESULT {first:.2f} {time.time() - again:.2f}")
else:
    print(f"RESULT {first:.2f}")
"""


def run_child(sampler: str, refit: bool) -> list[float]:
    code = CHILD.replace("SAMPLER", repr(sampler)).replace("REFIT", repr(refit))
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    line = [text for text in output.splitlines() if text.startswith("RESULT")][-1]
    return [float(value) for value in line.split()[1:]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samplers", default="nutpie,numpyro")
    args = parser.parse_args(argv)
    for sampler in args.samplers.split(","):
        started = time.time()
        first = run_child(sampler, refit=sampler == "nutpie")
        second = run_child(sampler, refit=False)
        print(
            f"{sampler:<9} import to first draw: first process {first[0]:6.1f} s, "
            f"next process {second[0]:6.1f} s"
            + (f"; refit in the same process {first[1]:5.1f} s" if len(first) > 1 else "")
            + f"  ({time.time() - started:.0f} s in all)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
