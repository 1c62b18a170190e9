# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Configuration files and the command line
#
# The command `hbmep-pymc fit` fits a data file without any Python code. It
# takes its settings from a TOML file, from flags, or from both (flags win).
# It prints the posterior summary and the threshold table and writes
# `inference_data.nc`, `summary.csv` and `thresholds.csv` to an output
# folder. This tutorial writes a configuration file, runs the command in a
# subprocess, and reads the results back in Python.
#
# In a terminal with the package installed, the command is simply
#
# ```bash
# hbmep-pymc fit --config fit.toml
# ```
#
# `python -m hbmep_pymc fit ...` runs the same command, and `hbmep-pymc fit`
# without arguments fits the bundled TMS data.

# %%
import os
import subprocess
import sys
from pathlib import Path

import arviz as az
import pandas as pd

import hbmep_pymc as mep

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"

workdir = Path("hbmep-pymc-output") / "configuration_and_cli"
workdir.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## A data file
#
# The command reads `.csv`, `.tsv` and Excel files. Here the bundled TMS
# data is written to a CSV file to stand in for your own.

# %%
data_path = workdir / "tms.csv"
mep.datasets.load_mock_data().to_csv(data_path, index=False)
print(data_path.read_text().splitlines()[:3])

# %% [markdown]
# ## The configuration file
#
# Four tables:
#
# - `[paths]`: `csv_path`, the data file (relative to the TOML file), and
#   `build_dir`, the output folder;
# - `[variables]`: `intensity`, `features` and `response`, the columns as in
#   Python. An inner list such as `[["participant", "condition"]]` combines
#   columns into one feature;
# - `[mcmc]`: `num_chains`, `num_warmup`, `num_samples`, `thinning`, and
#   optionally `max_samples`, up to which nutpie draws on until r_hat and
#   ESS pass the convergence checks;
# - `[model]` (optional): `function`, `mixture`, `hierarchical`, `sampler`,
#   `seed`, `intensity_unit`, `response_unit`.
#
# An unknown table or key is an error, so a misspelt setting is never
# silently ignored.

# %%
if QUICK:
    mcmc = {"num_chains": 2, "num_warmup": 400, "num_samples": 100}
else:
    mcmc = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000}

config_text = f"""\
[paths]
csv_path = "tms.csv"
build_dir = "results"

[variables]
intensity = "TMSIntensity"
features = ["participant"]
response = ["PKPK_ECR", "PKPK_FCR"]

[mcmc]
num_chains = {mcmc["num_chains"]}
num_warmup = {mcmc["num_warmup"]}
num_samples = {mcmc["num_samples"]}
thinning = 1

[model]
function = "rectified_logistic"
mixture = false
seed = 0
intensity_unit = "%MSO"
response_unit = "mV"
"""
config_path = workdir / "fit.toml"
config_path.write_text(config_text)
print(config_text)

# %% [markdown]
# ## Run the command
#
# `hbmep-pymc` is installed next to the Python interpreter of the
# environment, so the subprocess finds it there. `--no-progress` hides the
# sampler's progress bar. The output folder `build_dir` is relative to the
# folder the command runs in, so the command runs in `workdir`.

# %%
executable = Path(sys.executable).with_name("hbmep-pymc")
result = subprocess.run(
    [str(executable), "fit", "--config", "fit.toml", "--no-progress"],
    cwd=workdir,
    capture_output=True,
    text=True,
)
print(result.stdout)
print("exit status:", result.returncode)

# %% [markdown]
# The log (progress messages and warnings) goes to standard error:

# %%
print(result.stderr[-3000:])

# %% [markdown]
# ## Read the results in Python
#
# The CSV files open with pandas and the NetCDF file with ArviZ. The
# InferenceData carries the original labels as coordinates, and its attrs
# record the settings of the fit.

# %%
output = workdir / "results"
thresholds = pd.read_csv(output / "thresholds.csv")
thresholds.round(2)

# %%
idata = az.from_netcdf(output / "inference_data.nc")
{key: idata.posterior.attrs[key] for key in ["model", "function", "num_chains", "num_samples", "intensity_unit"]}

# %% [markdown]
# ## Flags
#
# Every setting has a flag, and a flag overrides the same setting in the
# file. For example, with the rat data of {doc}`comparing_conditions`:
#
# ```bash
# hbmep-pymc fit rat_epidural.csv --intensity pulse_amplitude \
#     --features participant+compound_position \
#     --response LBiceps LFCR LECR --intensity-unit uA --output rat-results
# ```
#
# `participant+compound_position` combines the two columns into one
# feature. `--help` lists every flag:

# %%
print(subprocess.run([str(executable), "fit", "--help"], capture_output=True, text=True).stdout)

# %% [markdown]
# ## Errors
#
# A bad configuration or data file stops the command with exit status 2 and
# a one-line message that names the problem:

# %%
bad_config = workdir / "bad.toml"
bad_config.write_text('[variables]\nintensity = "TMSIntensity"\nrespons = ["PKPK_ECR"]\n')
bad = subprocess.run(
    [str(executable), "fit", "--config", str(bad_config)], capture_output=True, text=True
)
print("exit status:", bad.returncode)
print(bad.stderr)
