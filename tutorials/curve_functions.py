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
# # Choosing a curve function
#
# hbmep-pymc has four recruitment-curve functions. All have the parameters
# `a` (threshold or S50), `b` (growth rate) and `g` (offset). All but the
# rectified-linear add `h` (height from offset to saturation), and the
# rectified-logistic and logistic-5 add `v` (shape).
#
# | `model.function` | curve | what `a` is |
# |---|---|---|
# | `"rectified_logistic"` (default) | flat at `g` up to `a`, then a logistic rise to `g + h` | threshold: `f(a) = g` exactly |
# | `"logistic4"` | Boltzmann sigmoid `g + h / (1 + exp(-b (x - a)))` | S50, the intensity of half the height |
# | `"logistic5"` | logistic-4 with an asymmetry `v`; `v = 1` gives logistic-4 | S50 |
# | `"rectified_linear"` | flat at `g` up to `a`, then a straight line of slope `b` | threshold, no saturation |
#
# The formulas are on the {doc}`/model` page. This tutorial fits all four to
# the bundled TMS data and compares them by how well they predict left-out
# responses (PSIS-LOO).
#
# ```{note}
# The `a` of the logistic curves is the S50, not a threshold, so it is
# higher than the rectified-logistic threshold of the same curve. Compare
# thresholds only between fits with the same curve function.
# ```

# %%
# %matplotlib inline
import os
import subprocess
import sys

import numpy as np
from matplotlib.figure import Figure

import hbmep_pymc as mep

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"
if QUICK:
    MCMC_PARAMS = {"num_chains": 2, "num_warmup": 400, "num_samples": 100, "thinning": 1}
else:
    MCMC_PARAMS = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}

output_dir = os.path.join("hbmep-pymc-output", "curve_functions")
os.makedirs(output_dir, exist_ok=True)

# %% [markdown]
# ## The shapes
#
# `mep.get_curve(name)` returns a curve object, and calling it evaluates the
# curve on NumPy arrays. Here all four share `a = 40`, `b = 0.2`,
# `g = 0.05` and `h = 2`.

# %%
x = np.linspace(0, 100, 400)
parameters = {"a": 40.0, "b": 0.2, "g": 0.05, "h": 2.0, "v": 1.0}

figure = Figure(figsize=(6, 3.5))
ax = figure.subplots()
for name in ["rectified_logistic", "logistic4", "logistic5", "rectified_linear"]:
    curve = mep.get_curve(name)
    values = curve(x, **{key: parameters[key] for key in curve.parameters})
    ax.plot(x, values, label=f"{name} ({', '.join(curve.parameters)})")
ax.set_ylim(0, 2.5)
ax.set_xlabel("intensity (%MSO)")
ax.set_ylabel("response (mV)")
ax.legend(fontsize=8)
figure

# %% [markdown]
# ## Fit each function
#
# Only `model.function` changes between the fits. (`model._model =
# model.logistic5`, the spelling of the original hbmep, works too.) Each fit
# stores the pointwise log-likelihood that PSIS-LOO needs.

# %%
df = mep.datasets.load_mock_data()
fits = {}
models = {}
for name in ["rectified_logistic", "logistic4", "logistic5", "rectified_linear"]:
    model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    model.intensity_unit = "%MSO"
    model.response_unit = "mV"
    model.mcmc_params = MCMC_PARAMS
    model.function = name
    fits[name], _ = model.run(df, progress_bar=False)
    models[name] = model

# %% [markdown]
# ## The logistic-5 curves
#
# `plot_curves` predicts and draws the curves when only the posterior is
# given. For logistic-5 the density below each panel is that of the S50.

# %%
models["logistic5"].plot_curves(
    df,
    posterior=fits["logistic5"],
    output_path=os.path.join(output_dir, "curves_logistic5.pdf"),
)

# %% [markdown]
# ## Compare with PSIS-LOO
#
# `mep.compare` takes a dictionary of fits made on the same data and returns
# ArviZ's comparison table, best model first. `elpd_loo` is the estimated
# expected log predictive density of a left-out response (higher is
# better), `p_loo` the effective number of parameters, `elpd_diff` the
# difference to the best model and `dse` its standard error. A difference
# smaller than about two `dse` is within the noise of the estimate.
# `weight` is the stacking weight.
# A `ParetoKWarning` names responses for which the PSIS approximation is
# unreliable (Pareto k above 0.7).

# %%
table = mep.compare(fits)
table.round(2)

# %% [markdown]
# `by_muscle=True` compares each muscle on its own responses:

# %%
mep.compare(fits, by_muscle=True).round(2)

# %% [markdown]
# ## The same from the command line
#
# `hbmep-pymc compare` reads archives written by `model.save` and prints the
# same table. Here two of the fits are saved and compared in a subprocess.
# In a terminal the command is
# `hbmep-pymc compare rectified_logistic=rl.nc logistic4=l4.nc`.

# %%
paths = {}
for name in ["rectified_logistic", "logistic4"]:
    paths[name] = os.path.join(output_dir, f"{name}.nc")
    models[name].save(paths[name], fits[name], df, overwrite=True)

command = [sys.executable, "-m", "hbmep_pymc", "compare", "--quiet"]
command += [f"{name}={path}" for name, path in paths.items()]
result = subprocess.run(command, capture_output=True, text=True, check=True)
print(result.stdout)

# %% [markdown]
# ## Which one to use
#
# - For thresholds, use the rectified-logistic: its `a` is the intensity
#   where the curve leaves the offset, while the logistic curves have no
#   threshold at all.
# - If you need only the shape of the curve, choose between logistic-4 and
#   logistic-5 by the comparison above on your own data. Logistic-5 contains
#   logistic-4 (`v = 1`), so it fits asymmetric curves that logistic-4
#   cannot.
# - The rectified-linear curve has no saturation. Use it only when the
#   tested intensities stay well below saturation.
