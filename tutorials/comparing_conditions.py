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
# # Comparing conditions: two electrode positions
#
# A common question is whether a threshold differs between two conditions:
# before and after an intervention, two coil orientations, two electrode
# sites. A Bayesian fit gives the posterior distribution of the
# difference, from which you read its size, its uncertainty and the
# probability that it is positive.
#
# The data come from cervical epidural stimulation in one rat (`amap01`)
# from the hbmep-paper project (MIT licence, see `data/LICENSE-rat_epidural.txt`
# beside this tutorial). The stimulating electrode sat at two positions
# over the C5 segment, midline (`-C5M`) and lateral (`-C5L`), with 51
# intensities each and one pulse per intensity. `pulse_amplitude` is the
# current in µA (50–350). Eight muscle columns hold the response size; the
# source does not state its unit.

# %%
# %matplotlib inline
import os

import arviz as az
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

import hbmep_pymc as mep

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"
if QUICK:
    MCMC_PARAMS = {"num_chains": 2, "num_warmup": 400, "num_samples": 100, "thinning": 1}
else:
    MCMC_PARAMS = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}

output_dir = os.path.join("hbmep-pymc-output", "comparing_conditions")
os.makedirs(output_dir, exist_ok=True)

MUSCLES = ["LBiceps", "LFCR", "LECR", "LTriceps", "LADM", "LDeltoid", "LBicepsFemoris", "RBiceps"]

# %% [markdown]
# ## The data
#
# The file has many stimulator bookkeeping columns. The model reads only the
# columns you name, so the others can stay.

# %%
df = pd.read_csv(os.path.join("data", "rat_epidural.csv"))
print(df.shape)
df[["participant", "compound_position", "pulse_amplitude", *MUSCLES]].head()

# %%
df.groupby("compound_position")["pulse_amplitude"].agg(["count", "min", "max"])

# %% [markdown]
# ## Two ways to describe the curve groups
#
# The features define which pulses share a curve. There are two ways to
# name them here:
#
# - **Separate features**, `["participant", "compound_position"]`: each
#   column becomes its own dim of the parameters, so `a` has dims
#   `(participant, compound_position, muscle)` and a difference between
#   positions is one `.sel` away. Every participant gets a cell for every
#   position; cells without data are NaN.
# - **Combined**, `[["participant", "compound_position"]]`: the combinations
#   that occur in the data become the levels of one dim,
#   `participant__compound_position`, with labels such as `"amap01, -C5L"`.
#   Use it when the combinations are sparse, for example when every
#   participant was tested at different positions.
#
# `model.prepare` shows the dims and labels without fitting:

# %%
separate = mep.StandardHB("pulse_amplitude", ["participant", "compound_position"], MUSCLES)
combined = mep.StandardHB("pulse_amplitude", [["participant", "compound_position"]], MUSCLES)

for name, candidate in [("separate", separate), ("combined", combined)]:
    coords = candidate.prepare(df).coords()
    print(name, {dim: list(labels) for dim, labels in coords.items() if dim not in ("observation", "measurement")})

# %% [markdown]
# With one participant both give the same two curves per muscle. This
# tutorial uses the separate features.
#
# ## Fit
#
# The intensities (up to 350 µA) are far outside the %MSO range the default
# priors assume, so the model rescales the priors from the data's range
# and reports it with a `UnitScalingWarning`. {doc}`other_units` explains the
# rescaling and how to set priors yourself.

# %%
model = separate
model.intensity_unit = "µA"
model.mcmc_params = MCMC_PARAMS
idata, posterior = model.run(df, progress_bar=False)

# %%
thresholds = model.threshold_table(idata)
thresholds.round(1)

# %% [markdown]
# ## The curves
#
# Four of the eight muscles, one row per position:

# %%
model.plot_curves(
    df,
    posterior=idata,
    muscles=["LBiceps", "LECR", "LTriceps", "LADM"],
    output_path=os.path.join(output_dir, "curves.pdf"),
)

# %% [markdown]
# ## The threshold difference
#
# Subtracting the two positions draw by draw gives the posterior of the
# difference for every muscle. Because the draws are labelled, the
# subtraction aligns muscles and draws by name.

# %%
a = idata.posterior["a"].sel(participant="amap01")
difference = a.sel(compound_position="-C5L") - a.sel(compound_position="-C5M")
difference.dims

# %% [markdown]
# The table gives, per muscle, the posterior mean and 95 % HDI of
# `a(-C5L) - a(-C5M)` in µA, and the posterior probability that the
# difference is positive, that is, that the lateral position needs more
# current to recruit the muscle.

# %%
hdi = az.hdi(difference, hdi_prob=0.95)["a"]
result = pd.DataFrame(
    {
        "mean": difference.mean(("chain", "draw")).to_series(),
        "hdi_lower": hdi.sel(hdi="lower").to_series(),
        "hdi_upper": hdi.sel(hdi="higher").to_series(),
        "prob_positive": (difference > 0).mean(("chain", "draw")).to_series(),
    }
)
result.round(3)

# %% [markdown]
# A probability near 1 means the lateral threshold is higher, near 0 that it
# is lower, and near 0.5 that the data cannot tell them apart. Before reporting a
# difference, check the `notes` of the threshold table: a muscle without a
# threshold inside the tested range, or with r_hat warnings, has a
# difference that rests on the prior.
#
# ## The posterior of the difference, per muscle

# %%
figure = Figure(figsize=(12, 5), layout="constrained")
axes = figure.subplots(2, 4, sharex=True).ravel()
for ax, muscle in zip(axes, MUSCLES):
    draws = difference.sel(muscle=muscle).to_numpy().ravel()
    ax.hist(draws, bins=40, color="tab:blue", alpha=0.7)
    ax.axvline(0, color="black", linewidth=1)
    probability = float(np.mean(draws > 0))
    ax.set_title(f"{muscle}\nP(difference > 0) = {probability:.2f}", fontsize=9)
    ax.set_yticks([])
for ax in axes[4:]:
    ax.set_xlabel("a(-C5L) - a(-C5M) (µA)")
figure

# %% [markdown]
# ## Several participants
#
# With more rats, the same subtraction without `.sel(participant=...)` gives
# one difference per rat and muscle, and averaging over the `participant`
# dim gives the mean difference across rats. The hierarchical model pools
# every rat and position through the shared hyperpriors, so sparse curves
# borrow strength from the others.
