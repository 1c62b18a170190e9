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


def _shown(labels: list[str], limit: int = 20) -> str:
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    return ", ".join(labels[:limit]) + more


def convergence_notes(idata: az.InferenceData, var_names: Sequence[str], min_ess: float) -> dict[str, list[str]]:
    """Map each summary row label (``"a[P1, ECR]"``) to its notes: ``r_hat > 1.01``, ``low ESS``.

    ESS counts as low when the bulk or the tail ESS is below ``min_ess``.
    """
    names = [name for name in var_names if name in idata.posterior]
    posterior = idata.posterior[names]
    with warnings.catch_warnings():
        # Cells of curves without data are NaN on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        r_hat = az.rhat(posterior) if posterior.sizes["chain"] > 1 else None
        ess_bulk = az.ess(posterior, method="bulk")
        ess_tail = az.ess(posterior, method="tail")

    notes: dict[str, list[str]] = {}
    for name in names:
        flags = [((ess_bulk[name] < min_ess) | (ess_tail[name] < min_ess), "low ESS")]
        if r_hat is not None:
            flags.insert(0, (r_hat[name] > R_HAT_LIMIT, f"r_hat > {R_HAT_LIMIT}"))
        for mask, text in flags:
            for index in np.argwhere(mask.to_numpy()):
                labels = [str(mask[dim].values[i]) for dim, i in zip(mask.dims, index, strict=True)]
                label = f"{name}[{', '.join(labels)}]" if labels else name
                notes.setdefault(label, []).append(text)
    return notes


def check_convergence(idata: az.InferenceData, var_names: Sequence[str]) -> dict[str, list[str]]:
    """Warn about divergences, r_hat above 1.01 and low ESS, naming the variables.

    Returns
    -------
    dict
        ``{"divergences": [message], "r_hat": [labels], "ess": [labels]}``
        for what was warned about.
    """
    problems: dict[str, list[str]] = {"divergences": [], "r_hat": [], "ess": []}
    chains = idata.posterior.sizes["chain"]
    draws = idata.posterior.sizes["draw"]
    min_ess = MIN_ESS_PER_CHAIN * chains

    if "diverging" in idata.sample_stats:
        count = int(idata.sample_stats["diverging"].sum())
        if count:
            problems["divergences"].append(
                f"{count} divergent transition(s) after warm-up out of {chains * draws} draws, "
                f"so the posterior may be biased. Increase num_warmup, or check the data of the "
                f"curves with the lowest ESS."
            )

    for label, notes in convergence_notes(idata, var_names, min_ess).items():
        if f"r_hat > {R_HAT_LIMIT}" in notes:
            problems["r_hat"].append(label)
        if "low ESS" in notes:
            problems["ess"].append(label)

    if problems["divergences"]:
        warnings.warn(problems["divergences"][0], ConvergenceWarning, stacklevel=3)
    if problems["r_hat"]:
        warnings.warn(
            f"r_hat above {R_HAT_LIMIT} for {_shown(problems['r_hat'])}: the chains disagree. "
            f"Run more warm-up and draws, and check these curves' data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if problems["ess"]:
        warnings.warn(
            f"Effective sample size below {min_ess} ({MIN_ESS_PER_CHAIN} per chain) for "
            f"{_shown(problems['ess'])}. Run more draws before trusting their tails.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return problems
