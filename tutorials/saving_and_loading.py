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
# # Saving, loading and archiving fits
#
# A fit takes minutes to hours and may end up in a paper, so it should be
# saved once and reopened later, on another machine and with a newer
# version of the library. hbmep-pymc writes one NetCDF file per fit (an
# *archive*) that contains:
#
# - every InferenceData group of the fit (posterior, sample statistics,
#   observed and constant data, log-likelihood);
# - the data frame, with its original labels and dtypes;
# - the model settings (`model.state_dict()`) and the label encoder, as JSON;
# - the package version, the archive format version and a SHA-256 digest of
#   every group, checked on loading.
#
# Nothing is pickled, so loading a file never runs code from it, and the
# file opens with plain xarray or ArviZ without hbmep-pymc installed.

# %%
import os

import arviz as az
import numpy as np
import xarray as xr

import hbmep_pymc as mep

QUICK = os.environ.get("HBMEP_PYMC_TUTORIAL_QUICK") == "1"

output_dir = os.path.join("hbmep-pymc-output", "saving_and_loading")
os.makedirs(output_dir, exist_ok=True)

# %% [markdown]
# ## A fit to save

# %%
model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
model.intensity_unit = "%MSO"
model.response_unit = "mV"
if QUICK:
    model.mcmc_params = {"num_chains": 2, "num_warmup": 400, "num_samples": 100, "thinning": 1}
else:
    model.mcmc_params = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}

df, encoder = model.load(mep.datasets.load_mock_data())
idata, posterior = model.run(df, progress_bar=False)

# %% [markdown]
# ## Save and load with the model
#
# `model.save(path, idata, df)` writes the archive. The write goes to a
# temporary file that is renamed when complete, so an interrupted save
# never leaves a half-written file in place of a good one.

# %%
path = os.path.join(output_dir, "fit.nc")
model.save(path, idata, df, overwrite=True)
print(f"{os.path.getsize(path) / 1e6:.1f} MB")

# %% [markdown]
# An existing archive is only replaced with `overwrite=True`:

# %%
try:
    model.save(path, idata, df)
except FileExistsError as error:
    print(error)

# %% [markdown]
# `mep.load_fit` returns a model of the saved class with the saved settings
# and encoder, and the InferenceData. `mep.load_data_frame` returns the
# saved data frame.

# %%
loaded_model, loaded_idata = mep.load_fit(path)
loaded_df = mep.load_data_frame(path)
loaded_model

# %% [markdown]
# The reloaded model works like the original: summaries, thresholds,
# predictions and plots come out the same.

# %%
grid = model.make_prediction_dataset(df, num_points=50)
original = model.predict(grid, posterior=idata, seed=1)
reloaded = loaded_model.predict(grid, posterior=loaded_idata, seed=1)
print("same curves:", np.allclose(original["mu"], reloaded["mu"]))
print("same data frame:", loaded_df.equals(df))
loaded_model.threshold_table(loaded_idata).round(2)

# %% [markdown]
# To continue from a saved fit with more draws, change the sampler settings
# of the loaded model and run it again on the saved data:
#
# ```python
# loaded_model.mcmc_params = {"num_chains": 4, "num_warmup": 2000, "num_samples": 2000, "thinning": 1}
# idata_longer, posterior_longer = loaded_model.run(loaded_df)
# ```

# %% [markdown]
# ## The form of the original hbmep tutorial
#
# `mep.save` and `mep.load` take and return the same objects as in the
# original hbmep (there they use pickle). They write and read `fit.nc`
# inside `output_dir`.

# %%
model_state = model.state_dict()
mep.save(
    model_state=model_state,
    df=df,
    posterior=posterior,
    encoder=encoder,
    mcmc=idata,
    output_dir=output_dir,
    overwrite=True,
)

model_state, df_loaded, posterior_loaded, encoder_loaded, mcmc = mep.load(model_dir=output_dir)
model_again = mep.StandardHB()
model_again.load_state_dict(model_state)
model_state

# %% [markdown]
# ## Without hbmep-pymc
#
# The archive is a NetCDF-4 file with groups. ArviZ reads the InferenceData
# groups, and xarray reads any group, including the data frame (group
# `data_frame`):

# %%
plain = az.from_netcdf(path)
print(plain.groups())
xr.open_dataset(path, group="posterior")["a"].mean(("chain", "draw")).round(2).to_dataframe()

# %% [markdown]
# ## Broken files
#
# A file that is not an archive, is truncated or corrupt, or comes from an
# unknown format version raises a subclass of `mep.ArchiveError` that names
# the file and the problem.

# %%
broken = os.path.join(output_dir, "broken.nc")
with open(path, "rb") as source, open(broken, "wb") as target:
    target.write(source.read()[:5000])

try:
    mep.load_fit(broken)
except mep.ArchiveError as error:
    print(type(error).__name__, ":", error)
