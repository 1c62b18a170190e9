"""Fit one CSV with hbmep-pymc and save what the comparison needs.

Run by ``bench_vs_hbmep.py`` in a fresh process, so that its wall time
includes starting Python and importing the library, as a user's script does.
The argument is a JSON file that names the data, the columns, the MCMC
settings and the output.
"""

import json
import resource
import sys
import time

import numpy as np
import pandas as pd

import hbmep_pymc as mep


def main(job_path):
    with open(job_path) as handle:
        job = json.load(handle)
    df = pd.read_csv(job["csv"])
    model = mep.StandardHB(job["intensity"], list(job["features"]), list(job["response"]))
    model.mcmc_params = {
        "num_chains": job["chains"],
        "num_warmup": job["warmup"],
        "num_samples": job["draws"],
        "thinning": 1,
    }
    if job.get("max_draws"):
        # Draw on past num_samples until r_hat and ESS pass, up to this many per chain.
        model.mcmc_params["max_samples"] = job["max_draws"]
    idata, posterior = model.run(df, sampler=job.get("sampler", "nutpie"), progress_bar=False)
    summary = model.summary(idata)
    summary_done = time.time()

    names = [name for name in job["variables"] if name in idata.posterior]
    arrays = {name: idata.posterior[name].values for name in names}
    np.savez(
        job["output"],
        diverging=idata.sample_stats["diverging"].values,
        draws=idata.posterior.sizes["draw"],
        threshold=idata.posterior["a"].values,
        labels=np.array(idata.posterior[job["features"][0]].values, dtype=str),
        **{f"sampled__{name}": value for name, value in arrays.items()},
    )
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    with open(job["output"] + ".json", "w") as handle:
        json.dump({"summary_done": summary_done, "peak_rss_kb": peak, "rows": len(summary)}, handle)


if __name__ == "__main__":
    main(sys.argv[1])
