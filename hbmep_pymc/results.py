"""Posterior results: flattened arrays, summaries, threshold tables and diagnostics."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from hbmep_pymc import site

logger = logging.getLogger(__name__)

R_HAT_LIMIT = 1.01
"""Largest r_hat accepted without a warning."""

MIN_ESS_PER_CHAIN = 100
"""Bulk and tail ESS below this many per chain trigger a warning."""

HDI_PROB = 0.95


class ConvergenceWarning(UserWarning):
    """Warned after a fit with divergences, high r_hat or low effective sample size."""


class Posterior(dict):
    """Posterior draws as NumPy arrays, chains and draws flattened into the first axis.

    ``posterior["a"].shape == (num_chains * num_samples, *curve_dims)``.
    Cells of curve groups with no data are NaN. The InferenceData the
    arrays came from stays at :attr:`idata`, so summaries can still tell
    chains apart.
    """

    idata: az.InferenceData | None = None

    @classmethod
    def from_idata(cls, idata: az.InferenceData) -> Posterior:
        """Flatten every posterior variable of ``idata``."""
        posterior = cls()
        stacked = idata.posterior.stack(sample=("chain", "draw"))
        for name, variable in stacked.data_vars.items():
            posterior[name] = np.moveaxis(variable.to_numpy(), -1, 0)
        posterior.idata = idata
        return posterior


def posterior_dataset(source, num_chains: int | None = None) -> xr.Dataset:
    """Return the posterior as a labelled dataset from an InferenceData or a :class:`Posterior`.

    A plain dict of flattened arrays is split back into ``num_chains`` chains
    in the order :meth:`Posterior.from_idata` flattened them.
    """
    if isinstance(source, az.InferenceData):
        return source.posterior
    if isinstance(source, xr.Dataset):
        return source
    if isinstance(source, Posterior) and source.idata is not None:
        return source.idata.posterior
    if isinstance(source, dict):
        chains = num_chains or 1
        data_vars = {}
        for name, values in source.items():
            values = np.asarray(values)
            if values.shape[0] % chains:
                raise ValueError(
                    f"Cannot split {values.shape[0]} draws of {name!r} into {chains} chains."
                )
            data_vars[name] = (
                ("chain", "draw", *[f"{name}_dim_{i}" for i in range(values.ndim - 1)]),
                values.reshape(chains, -1, *values.shape[1:]),
            )
        return xr.Dataset(data_vars)
    raise TypeError(f"Expected an InferenceData or a posterior dict, got {type(source).__name__}.")


def mask_unobserved(dataset: xr.Dataset, observed_cells: xr.DataArray) -> xr.Dataset:
    """Set every variable with the curve dims to NaN in cells without data."""
    masked = dataset.copy()
    cell_dims = set(observed_cells.dims)
    for name, variable in dataset.data_vars.items():
        if cell_dims.issubset(variable.dims):
            masked[name] = variable.where(observed_cells)
    return masked


def summary(
    source,
    var_names: Sequence[str] | None = None,
    hdi_prob: float = HDI_PROB,
    num_chains: int | None = None,
) -> pd.DataFrame:
    """Summarise posterior draws: mean, sd, HDI, MCSE, bulk and tail ESS, r_hat.

    Rows of curve groups with no data are left out.

    Parameters
    ----------
    source : InferenceData, Posterior or dict
        Posterior draws.
    var_names : sequence of str, optional
        Variables to summarise; all when omitted.
    hdi_prob : float, default 0.95
        Probability mass of the HDI columns.
    num_chains : int, optional
        Chains in a plain dict of flattened draws.

    Returns
    -------
    pandas.DataFrame
        One row per variable and cell, labelled with the original labels.
    """
    dataset = posterior_dataset(source, num_chains)
    if var_names is not None:
        var_names = [name for name in var_names if name in dataset.data_vars]
    with warnings.catch_warnings():
        # Cells without data are NaN on purpose; their rows are dropped below.
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)
        table = az.summary(dataset, var_names=var_names, hdi_prob=hdi_prob, round_to="none")
    return table[table["mean"].notna()]


def threshold_table(
    idata: az.InferenceData,
    features: Sequence[str],
    hdi_prob: float = HDI_PROB,
) -> pd.DataFrame:
    """Posterior mean and HDI of the threshold ``a`` per curve group and muscle.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit.
    features : sequence of str
        Feature dims of the model.
    hdi_prob : float, default 0.95
        Probability mass of the HDI.

    Returns
    -------
    pandas.DataFrame
        Columns: the feature dims, ``muscle``, ``mean``, ``sd``,
        ``hdi_lower``, ``hdi_upper``; one row per curve with data.
    """
    a = idata.posterior[site.a]
    hdi = az.hdi(a, hdi_prob=hdi_prob)[site.a]
    table = xr.Dataset(
        {
            "mean": a.mean(("chain", "draw")),
            "sd": a.std(("chain", "draw")),
            "hdi_lower": hdi.sel(hdi="lower", drop=True),
            "hdi_upper": hdi.sel(hdi="higher", drop=True),
        }
    )
    frame = table.to_dataframe().reset_index()
    frame = frame[[*features, "muscle", "mean", "sd", "hdi_lower", "hdi_upper"]]
    return frame[frame["mean"].notna()].reset_index(drop=True)


def _cell_names(values: xr.DataArray, failing: np.ndarray, limit: int = 10) -> str:
    name = values.name
    if values.ndim == 0:
        return str(name)
    positions = np.argwhere(failing)
    labels = []
    for position in positions[:limit]:
        parts = [str(values[dim].values[i]) for dim, i in zip(values.dims, position)]
        labels.append(f"{name}[{', '.join(parts)}]")
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return ", ".join(labels) + more


def check_convergence(idata: az.InferenceData, var_names: Sequence[str]) -> dict[str, list[str]]:
    """Warn about divergences, r_hat above 1.01 and low ESS, naming the variables.

    Returns
    -------
    dict
        ``{"divergences": [...], "r_hat": [...], "ess": [...]}`` with the
        messages that were warned.
    """
    problems: dict[str, list[str]] = {"divergences": [], "r_hat": [], "ess": []}
    posterior = idata.posterior[[name for name in var_names if name in idata.posterior]]
    chains = posterior.sizes["chain"]
    draws = posterior.sizes["draw"]

    if "diverging" in idata.sample_stats:
        count = int(idata.sample_stats["diverging"].sum())
        if count:
            problems["divergences"].append(
                f"{count} divergent transition(s) after warm-up out of {chains * draws} draws; "
                f"the posterior may be biased. Increase num_warmup, or check the data of the "
                f"curves with the lowest ESS."
            )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        r_hat = az.rhat(posterior) if chains > 1 else None
        ess_bulk = az.ess(posterior, method="bulk")
        ess_tail = az.ess(posterior, method="tail")

    min_ess = MIN_ESS_PER_CHAIN * chains
    for name in posterior.data_vars:
        if r_hat is not None:
            values = r_hat[name]
            failing = (values > R_HAT_LIMIT).to_numpy()
            if failing.any():
                problems["r_hat"].append(_cell_names(values, failing))
        for values in (ess_bulk[name], ess_tail[name]):
            failing = (values < min_ess).to_numpy()
            if failing.any():
                problems["ess"].append(_cell_names(values, failing))
                break

    if problems["divergences"]:
        warnings.warn(problems["divergences"][0], ConvergenceWarning, stacklevel=3)
    if problems["r_hat"]:
        warnings.warn(
            f"r_hat above {R_HAT_LIMIT} for {'; '.join(problems['r_hat'])}: the chains disagree. "
            f"Run more warm-up and draws, and check these curves' data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if problems["ess"]:
        warnings.warn(
            f"Effective sample size below {min_ess} ({MIN_ESS_PER_CHAIN} per chain) for "
            f"{'; '.join(problems['ess'])}. Run more draws before trusting their tails.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return problems
