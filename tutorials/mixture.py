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
# # Outliers: the mixture extension
#
# A few pulses far above the curve, for example from a movement artefact or
# a voluntary contraction, can pull a fitted curve towards them. The mixture
# extension lets each response come either from the recruitment curve or,
# with a small probability, from a broad outlier component, so that such
# pulses lose their pull on the curve. It also returns, for every response,
# the posterior probability that it is an outlier.
#
# The model: each response comes from
# `(1 - q) Gamma(alpha, beta) + q HalfNormal(g + h)`, with one outlier weight
# `q ~ Uniform(0, 0.01)` shared by all curves (see {doc}`/model`).

# %%
# %matplotlib inline
import os

import pandas as pd

import hbmep_pymc as mep

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"
if QUICK:
    MCMC_PARAMS = {"num_chains": 2, "num_warmup": 400, "num_samples": 100, "thinning": 1}
else:
    MCMC_PARAMS = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}

output_dir = os.path.join("hbmep-pymc-output", "mixture")
os.makedirs(output_dir, exist_ok=True)

# %% [markdown]
# ## Fit with and without the mixture
#
# Both models get the bundled TMS data and the same settings. The only
# difference is `use_mixture`.

# %%
df = mep.datasets.load_mock_data()


def make_model(use_mixture):
    model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    model.intensity_unit = "%MSO"
    model.response_unit = "mV"
    model.mcmc_params = MCMC_PARAMS
    model.use_mixture = use_mixture
    return model


standard = make_model(use_mixture=False)
idata_standard, _ = standard.run(df, progress_bar=False)

mixture = make_model(use_mixture=True)
idata_mixture, posterior_mixture = mixture.run(df, progress_bar=False)

# %% [markdown]
# The mixture fit has one more sampled variable, `outlier_prob` (the weight
# `q`):

# %%
mixture.summary(idata_mixture, var_names=["outlier_prob", "a_loc", "b_scale"]).round(4)

# %% [markdown]
# ## Which pulses look like outliers?
#
# `outlier_posterior_prob` has one value per draw and observed response (dim
# `measurement`), in the same order as the observed responses in
# `idata.observed_data["obs"]`, whose coordinates give the row
# (`observation`) and the muscle of each measurement. Averaged over the
# draws, it is the posterior probability that the response is an outlier.

# %%
probability = idata_mixture.posterior["outlier_posterior_prob"].mean(("chain", "draw"))
observed = idata_mixture.observed_data["obs"]

outliers = pd.DataFrame(
    {
        "observation": observed["observation"].to_numpy(),
        "muscle": observed["muscle"].to_numpy(),
        "response": observed.to_numpy(),
        "outlier_posterior_prob": probability.to_numpy(),
    }
)
outliers = outliers.merge(df[["TMSIntensity", "participant"]], left_on="observation", right_index=True)
outliers.sort_values("outlier_posterior_prob", ascending=False).head(5)

# %% [markdown]
# `plot_curves` circles the pulses whose outlier probability is above 0.5
# (set `outlier_threshold` to change that, or `mark_outliers=False` to turn
# it off).

# %%
mixture.plot_curves(
    df,
    posterior=posterior_mixture,
    output_path=os.path.join(output_dir, "curves_mixture.pdf"),
)

# %% [markdown]
# ## How much did the curves move?
#
# The thresholds of both fits side by side. Curves without outlying pulses
# should barely change.

# %%
columns = ["participant", "muscle", "mean", "hdi_lower", "hdi_upper"]
side_by_side = standard.threshold_table(idata_standard)[columns].merge(
    mixture.threshold_table(idata_mixture)[columns],
    on=["participant", "muscle"],
    suffixes=("_standard", "_mixture"),
)
side_by_side.round(2)

# %% [markdown]
# A few high pulses mostly pull on the growth rate `b` and the saturation,
# so compare `b` as well:

# %%
growth = {
    "standard": idata_standard.posterior["b"].mean(("chain", "draw")).to_series(),
    "mixture": idata_mixture.posterior["b"].mean(("chain", "draw")).to_series(),
}
growth_table = growth["standard"].rename("b_standard").to_frame()
growth_table["b_mixture"] = growth["mixture"]
growth_table.round(3)

# %% [markdown]
# ## Does the mixture predict better?
#
# PSIS-LOO estimates how well each model predicts a left-out response
# (`elpd_loo`, higher is better). `mep.compare` ranks the fits; `elpd_diff`
# and its standard error `dse` show whether the difference is larger than
# its uncertainty. With the quick settings of the rendered page the estimate is
# rough.

# %%
mep.compare({"standard": idata_standard, "mixture": idata_mixture}).round(2)

# %% [markdown]
# ## When to use it
#
# - Use the mixture when a few pulses sit far above the curve and you do not
#   want to remove them by hand. The outlier probabilities document which
#   pulses the model discounted.
# - The outlier weight is at most 0.01, so the mixture only discounts a few
#   pulses. It is not a substitute for removing recordings that you know are
#   broken.
# - Predictions and the curve plots use `q = 0`, so they show the
#   recruitment curve without the outlier component.
