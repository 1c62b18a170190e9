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
# # Data in other units: µA, mA, amperes and µV
#
# The default priors are set for TMS: intensity in %MSO (0–100) and
# responses in mV. A threshold prior centred on 50 %MSO makes no sense for
# a current of 0.0002 A, and a growth-rate prior per %MSO is a million times
# off per ampere. hbmep-pymc therefore never fits data in other units with
# the %MSO priors unchanged. It either rescales the priors from the data's
# range, with a warning, or uses priors that you set.
#
# This tutorial uses the rat epidural data of {doc}`comparing_conditions`
# (current in µA) and expresses it in mA and amperes, and its responses in
# µV.

# %%
import os
import warnings

import pandas as pd

import hbmep_pymc as mep
from hbmep_pymc.priors import unit_factors

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"
if QUICK:
    MCMC_PARAMS = {"num_chains": 2, "num_warmup": 400, "num_samples": 100, "thinning": 1}
else:
    MCMC_PARAMS = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}

MUSCLES = ["LBiceps", "LECR", "LTriceps"]
FEATURES = ["participant", "compound_position"]

rat = pd.read_csv(os.path.join("data", "rat_epidural.csv"))
rat = rat[["participant", "compound_position", "pulse_amplitude", *MUSCLES]]

# %% [markdown]
# The same pulses in four unit systems. Only the numbers change.

# %%
frames = {"µA": rat.copy(), "mA": rat.copy(), "A": rat.copy()}
frames["mA"]["pulse_amplitude"] = rat["pulse_amplitude"] / 1e3
frames["A"]["pulse_amplitude"] = rat["pulse_amplitude"] / 1e6

in_microvolts = rat.copy()
in_microvolts[MUSCLES] = rat[MUSCLES] * 1e3

pd.DataFrame({unit: frame["pulse_amplitude"].describe() for unit, frame in frames.items()}).T[["min", "max"]]

# %% [markdown]
# ## How the priors are rescaled
#
# When the largest intensity lies outside 10–100, the model computes an
# intensity factor, the largest intensity divided by 100. When the largest
# response lies outside 0.01–20, it computes a response factor, the largest
# response divided by 5. Each prior then moves with the unit of its
# parameter. The threshold priors (`a_loc`, `a_scale`) are multiplied by the
# intensity factor and the growth rate `b_scale` divided by it. The offset,
# height and the noise term `c1` are multiplied by the response factor.
# `c2` has no unit and stays.
#
# `unit_factors` returns the two factors for given data:

# %%
rows = {}
for unit, frame in frames.items():
    rows[f"intensity in {unit}"] = unit_factors(frame["pulse_amplitude"].to_numpy(), frame[MUSCLES].to_numpy())
rows["responses in µV"] = unit_factors(
    in_microvolts["pulse_amplitude"].to_numpy(), in_microvolts[MUSCLES].to_numpy()
)
pd.DataFrame(rows, index=["intensity_factor", "response_factor"]).T

# %% [markdown]
# The µA data have an intensity factor of 3.5: the priors are those of a
# TMS study stretched from 0–100 to 0–350. `model.resolve_priors` shows the
# priors a fit would use, without fitting. The `UnitScalingWarning` it
# raises is the same one a fit raises.

# %%
model = mep.StandardHB("pulse_amplitude", FEATURES, MUSCLES)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    priors, source, factors = model.resolve_priors(model.prepare(frames["mA"]))
print(caught[0].category.__name__, ":", caught[0].message)
print("source:", source, "factors:", factors)
priors

# %% [markdown]
# Because the rescaled priors describe the same beliefs in other units, a fit
# in mA and a fit in µA give the same thresholds up to the factor 1000 and
# the Monte Carlo noise.
#
# ## Fit in µA with rescaled priors

# %%
model_ua = mep.StandardHB("pulse_amplitude", FEATURES, MUSCLES, intensity_unit="µA")
model_ua.mcmc_params = MCMC_PARAMS
idata_ua, _ = model_ua.run(frames["µA"], progress_bar=False)

{key: idata_ua.posterior.attrs[key] for key in ["priors_source", "intensity_factor", "response_factor"]}

# %% [markdown]
# ## Fit in mA with your own priors
#
# `model.priors` takes a `mep.Priors` mapping. Start from the defaults and
# replace the entries you have knowledge about; every prior is a PyMC
# distribution name and its parameters. Here the thresholds are expected
# somewhere between 0 and 0.4 mA, and the growth-rate prior keeps the width
# of the rescaled default (5 per %MSO divided by the factor 0.0035, about
# 1400 per mA). When you set priors, the model uses them as they are: no
# rescaling and no warning. The attrs record `priors_source = "user"`.

# %%
user_priors = mep.Priors.default()
user_priors["a_loc"] = mep.Prior("TruncatedNormal", mu=0.2, sigma=0.2, lower=0.0)
user_priors["a_scale"] = mep.Prior("HalfNormal", sigma=0.2)
user_priors["b_scale"] = mep.Prior("HalfNormal", sigma=1500.0)

model_ma = mep.StandardHB("pulse_amplitude", FEATURES, MUSCLES, intensity_unit="mA")
model_ma.priors = user_priors
model_ma.mcmc_params = MCMC_PARAMS
idata_ma, _ = model_ma.run(frames["mA"], progress_bar=False)
idata_ma.posterior.attrs["priors_source"]

# %% [markdown]
# The two fits side by side, the mA thresholds converted to µA:

# %%
keys = ["participant", "compound_position", "muscle"]
table_ua = model_ua.threshold_table(idata_ua)[[*keys, "mean", "hdi_lower", "hdi_upper"]]
table_ma = model_ma.threshold_table(idata_ma)[[*keys, "mean", "hdi_lower", "hdi_upper"]]
table_ma[["mean", "hdi_lower", "hdi_upper"]] *= 1e3
table_ua.merge(table_ma, on=keys, suffixes=(" (µA fit)", " (mA fit, in µA)")).round(1)

# %% [markdown]
# The user priors above are close to the rescaled defaults but not equal to
# them, so small differences beyond the Monte Carlo noise are expected.
#
# ## Choosing priors for your data
#
# - Set `model.intensity_unit` and `model.response_unit`. They label the
#   plots and tables and are saved with the fit; they do not change the
#   priors.
# - The rescaling only looks at the largest intensity and response. If
#   your largest tested intensity is far above every threshold, or a few
#   huge responses dominate, set the threshold (`a_loc`, `a_scale`) and
#   height (`h_scale`) priors yourself.
# - Priors in physical units are easiest to state for the threshold: a
#   truncated normal whose bulk covers the intensities where you expect
#   thresholds.
# - To use the same priors for every fit of a project, subclass the model
#   and override `default_priors` (see {doc}`/model`).
# - Save the priors with the fit: `model.priors.to_dict()` is plain JSON,
#   and archives store them (see {doc}`saving_and_loading`).
