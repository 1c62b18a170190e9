"""Fit one CSV with hbmep 0.9.0 (NumPyro) and save what the comparison needs.

Run by ``bench_vs_hbmep.py`` with the interpreter of hbmep's own virtual
environment; it imports nothing from hbmep_pymc. The argument is a JSON
file that names the data, the columns, the MCMC settings and the output.
"""

import json
import resource
import sys
import time

import hbmep as mep
import numpy as np
import pandas as pd
from hbmep.util import site


def main(job_path):
    with open(job_path) as handle:
        job = json.load(handle)
    df = pd.read_csv(job["csv"])
    model = mep.StandardHB()
    model.intensity = job["intensity"]
    model.features = list(job["features"])
    model.response = list(job["response"])
    model.mcmc_kw = {
        "num_chains": job["chains"],
        "num_warmup": job["warmup"],
        "num_samples": job["draws"],
        "thinning": 1,
    }
    df, encoder = model.process(df)
    mcmc, posterior = model.run(df, extra_fields=("diverging",))
    summary = model.summary(posterior)
    summary_done = time.time()

    chains = job["chains"]
    sampled = [name for name in model.sample_sites if name in posterior]
    arrays = {name: posterior[name].reshape(chains, -1, *posterior[name].shape[1:]) for name in sampled}
    diverging = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"])
    labels = list(encoder[model.features[0]].classes_)
    np.savez(
        job["output"],
        diverging=diverging,
        threshold=arrays[site.a],
        labels=np.array(labels, dtype=str),
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
