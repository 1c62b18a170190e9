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
# # Getting started
#
# This tutorial fits recruitment curves to a small TMS data set with the
# hierarchical model and the rectified-logistic curve. It reads the data,
# fits the model, checks convergence, reads off the thresholds, predicts and
# plots the curves, and saves the fit.
#
# ```{note}
# Every tutorial reads the environment variable `HBMEP_PYMC_TUTORIAL_QUICK`.
# When it is `1`, the fits use 2 chains of 400 warm-up iterations and 100
# draws, so the whole set of tutorials runs in a few minutes. The pages on
# this site are built that way, so their numbers come from short runs and
# may carry convergence warnings. Without the variable the fits use 4 chains
# of 1000 warm-up iterations and 1000 draws, the setting to use for results.
# ```

# %%
# %matplotlib inline
import os

import hbmep_pymc as mep

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"

# %% [markdown]
# `%matplotlib inline` makes Jupyter show the figures that the plotting
# methods return. Without it, a notebook that never imports
# `matplotlib.pyplot` prints only `<Figure size ...>`.
#
# ## The data
#
# The package ships a TMS data set from the hbmep project with three
# participants (`P1`, `P2`, `P3`) and 245 pulses. `TMSIntensity` is the
# intensity in percent of maximum stimulator output (%MSO), and `PKPK_ECR`
# and `PKPK_FCR` are the peak-to-peak MEP amplitudes of two muscles in mV. Your own data
# needs the same shape: one row per pulse, one intensity column, one or more
# columns that label the curve groups (here `participant`), and one response
# column per muscle.

# %%
df = mep.datasets.load_mock_data()
print(df.shape)
df.head()

# %% [markdown]
# To read your own file, use pandas, for example
# `df = pd.read_csv("my_pulses.csv")` or `pd.read_excel("my_pulses.xlsx")`.

# %% [markdown]
# ## Build the model
#
# A model needs to know which column is the intensity, which columns define
# the curve groups (the *features*) and which columns are responses. The
# sampler settings go into `mcmc_params`, and `function` selects the curve.

# %%
model = mep.StandardHB()
model.intensity = "TMSIntensity"
model.features = ["participant"]
model.response = ["PKPK_ECR", "PKPK_FCR"]
model.intensity_unit = "%MSO"
model.response_unit = "mV"

if QUICK:
    model.mcmc_params = {"num_chains": 2, "num_warmup": 400, "num_samples": 100, "thinning": 1}
else:
    model.mcmc_params = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}

model.function = "rectified_logistic"
model

# %% [markdown]
# `model._model = model.rectified_logistic`, the spelling of the original
# hbmep tutorial, sets the same curve.
#
# ## Look at the data first
#
# `model.plot` draws one panel per participant (rows) and muscle (columns).
# It returns a matplotlib figure, which a notebook shows inline, and writes
# a file when you give `output_path` (`.pdf`, `.png` or `.svg`).

# %%
output_dir = "hbmep-getting-started"
os.makedirs(output_dir, exist_ok=True)

model.plot(df, output_path=os.path.join(output_dir, "dataset.pdf"))

# %% [markdown]
# ## Encode the labels
#
# `model.load` checks the columns and values and replaces the participant
# labels by integer codes. It returns the encoded frame and an encoder that
# maps the codes back to the labels. If a column is missing or a value is
# unusable, it raises `mep.DataError` with every problem listed (see
# {doc}`/diagnostics`).

# %%
df, encoder = model.load(df)
print(df["participant"].unique())
print(encoder["participant"].inverse_transform([0, 1, 2]))

# %% [markdown]
# ## Fit
#
# `model.run` compiles the model and samples it with nutpie. A short fit
# spends most of its time compiling, about 15 seconds per model on an
# idle 2-core machine. A refit of the same model on new data in the same
# session skips the compilation. It returns an ArviZ `InferenceData` (`idata`), whose
# coordinates carry the original participant and muscle labels, and a
# `Posterior`: the same draws as NumPy arrays with chains and draws
# flattened into the first axis.

# %%
idata, posterior = model.run(df, progress_bar=False)
idata

# %% [markdown]
# ## Check convergence
#
# The summary lists every sampled variable with its posterior mean, standard
# deviation, 95 % highest density interval (HDI), Monte Carlo standard
# errors, bulk and tail effective sample sizes (ESS) and r_hat. The `notes`
# column marks rows with r_hat above 1.01 or a low ESS, and curves whose
# saturation or threshold rests on the prior. The same problems are also
# raised as `mep.ConvergenceWarning` right after the fit.
# {doc}`/diagnostics` explains what to do about each.

# %%
summary = model.summary(idata)
summary.round(3)

# %% [markdown]
# ## Thresholds
#
# `threshold_table` gives one row per participant and muscle: the posterior
# mean, standard deviation and 95 % HDI of the threshold `a`, in the units
# of the intensity column (%MSO here).

# %%
thresholds = model.threshold_table(idata)
thresholds.round(2)

# %% [markdown]
# The draws are also available directly. `posterior["a"]` has one row per
# draw and one axis per feature and muscle; in `idata.posterior` the same
# draws are labelled.

# %%
a = posterior[mep.site.a]
print("shape of a:", a.shape, "(draws, participants, muscles)")
idata.posterior["a"].sel(participant="P2", muscle="PKPK_FCR").mean().item()

# %% [markdown]
# The other curve parameters are `b` (growth rate), `g` (offset, the
# response without recruitment) and `h` (height, so that `g + h` is the
# saturation); {doc}`/model` explains each of them.
#
# ## Predict the curves
#
# `make_prediction_dataset` makes a grid of intensities for every
# participant, from that participant's lowest to highest tested intensity.
# `predict` evaluates the curve `mu` and draws new observations `obs` for
# every posterior draw at every grid point. The result is a labelled xarray
# dataset with dims `(chain, draw, prediction, muscle)`.

# %%
prediction_df = model.make_prediction_dataset(df, num_points=1000)
predictive = model.predict(prediction_df, posterior=posterior)
predictive

# %% [markdown]
# ## Plot the curves
#
# Each panel shows the pulses, the posterior mean curve with its 95 % HDI
# band, and below it the posterior density of the threshold.

# %%
model.plot_curves(
    df=df,
    prediction_df=prediction_df,
    predictive=predictive,
    posterior=posterior,
    encoder=encoder,
    output_path=os.path.join(output_dir, "curves.pdf"),
)

# %% [markdown]
# With `predictive_hdi_prob=0.95` the panels also show the 95 % HDI of new
# observations. Most pulses should fall inside it. If many fall outside
# at one end of the curve, the curve function or the noise model does not
# suit the data there.

# %%
model.plot_curves(
    df=df,
    prediction_df=prediction_df,
    predictive=predictive,
    posterior=posterior,
    encoder=encoder,
    output_path=os.path.join(output_dir, "obs_hdi.pdf"),
    predictive_hdi_prob=0.95,
)

# %% [markdown]
# ## Save and load
#
# `model.save` writes the model settings, the InferenceData, the encoder and
# the data frame to one NetCDF file. `mep.load_fit` rebuilds the model and
# returns it with the InferenceData, in this session or in a new one years
# later. {doc}`saving_and_loading` covers the archive in detail.

# %%
archive = model.save(os.path.join(output_dir, "fit.nc"), idata, df, overwrite=True)
loaded_model, loaded_idata = mep.load_fit(archive)
loaded_model.threshold_table(loaded_idata).round(2)

# %% [markdown]
# ## Next steps
#
# - {doc}`mixture` makes the fit robust to outlying pulses.
# - {doc}`curve_functions` fits logistic-4, logistic-5 and the
#   rectified-linear curve and compares them with PSIS-LOO.
# - {doc}`comparing_conditions` estimates how a threshold differs between
#   two conditions.
# - {doc}`other_units` fits data in µA, mA or amperes.
