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
    """Warned after a fit with divergences, high r_hat or low effective sample size.

    Examples
    --------
    Two chains that settled on different thresholds:

    >>> import warnings
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> draws = np.concatenate([rng.normal(35.0, 1.0, (1, 500, 3, 2)), rng.normal(45.0, 1.0, (1, 500, 3, 2))])
    >>> idata = az.from_dict(posterior={"a": draws}, sample_stats={"diverging": np.zeros((2, 500), dtype=bool)},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     problems = check_convergence(idata, ["a"])
    >>> {warning.category.__name__ for warning in caught}
    {'ConvergenceWarning'}
    """


class Posterior(dict):
    """Posterior draws as NumPy arrays, chains and draws flattened into the first axis.

    ``posterior["a"].shape == (num_chains * num_samples, *curve_dims)``.
    Cells of curve groups with no data are NaN. The InferenceData the
    arrays came from stays at :attr:`idata`, so summaries can still tell
    chains apart.

    Examples
    --------
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> idata = az.from_dict(posterior={"a": rng.normal(40.0, 2.0, size=(2, 500, 3, 2))},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> posterior = Posterior.from_idata(idata)
    >>> posterior["a"].shape
    (1000, 3, 2)
    """

    idata: az.InferenceData | None = None

    @classmethod
    def from_idata(cls, idata: az.InferenceData) -> Posterior:
        """Flatten every posterior variable of ``idata``.

        Parameters
        ----------
        idata : arviz.InferenceData
            A fit with a ``posterior`` group.

        Returns
        -------
        Posterior
            Variable name to array of shape ``(n_chains * n_draws, ...)``,
            chain by chain, with :attr:`idata` set to ``idata``.

        Examples
        --------
        >>> import arviz as az
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
        >>> idata = az.from_dict(posterior={"a": rng.normal(40.0, 2.0, size=(2, 500, 3, 2))},
        ...                      coords=coords, dims={"a": ["participant", "muscle"]})
        >>> posterior = Posterior.from_idata(idata)
        >>> posterior["a"].shape, posterior.idata is idata
        ((1000, 3, 2), True)
        """
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

    Parameters
    ----------
    source : InferenceData, xarray.Dataset, Posterior or dict
        Posterior draws.
    num_chains : int, optional
        Chains in a plain dict of flattened draws, 1 when omitted.

    Returns
    -------
    xarray.Dataset
        The draws with dims ``(chain, draw, ...)``. Arrays of a plain dict
        get generic dim names (``a_dim_0``, ...).

    Raises
    ------
    ValueError
        If the draws of a dict do not split evenly into ``num_chains`` chains.
    TypeError
        If ``source`` is of another type.

    Examples
    --------
    >>> import numpy as np
    >>> dataset = posterior_dataset({"a": np.zeros((1000, 3, 2))}, num_chains=2)
    >>> dict(dataset.sizes)
    {'chain': 2, 'draw': 500, 'a_dim_0': 3, 'a_dim_1': 2}
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
    """Set every variable with the curve dims to NaN in cells without data.

    Parameters
    ----------
    dataset : xarray.Dataset
        Posterior draws.
    observed_cells : xarray.DataArray
        True for curves with data, over the curve dims.

    Returns
    -------
    xarray.Dataset
        A copy, in which variables without all the curve dims are unchanged.

    Examples
    --------
    P2 has no FCR recordings:

    >>> import xarray as xr
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> idata = az.from_dict(posterior={"a": rng.normal(40.0, 2.0, size=(2, 500, 3, 2))},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> observed = xr.DataArray([[True, True], [True, False], [True, True]],
    ...                         dims=("participant", "muscle"), coords=coords)
    >>> masked = mask_unobserved(idata.posterior, observed)
    >>> bool(masked["a"].sel(participant="P2", muscle="PKPK_FCR").isnull().all())
    True
    """
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

    Raises
    ------
    ValueError
        If the draws of a dict do not split evenly into ``num_chains`` chains.
    TypeError
        If ``source`` is of an unsupported type.

    Examples
    --------
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> idata = az.from_dict(posterior={"a": rng.normal(40.0, 2.0, size=(2, 500, 3, 2))},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> table = summary(idata, var_names=["a"])
    >>> table.index[:2].tolist()
    ['a[P1, PKPK_ECR]', 'a[P1, PKPK_FCR]']
    >>> table.columns[:4].tolist()
    ['mean', 'sd', 'hdi_2.5%', 'hdi_97.5%']
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

    Examples
    --------
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> idata = az.from_dict(posterior={"a": rng.normal(40.0, 2.0, size=(2, 500, 3, 2))},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> table = threshold_table(idata, ["participant"])
    >>> table.loc[0, ["participant", "muscle"]].tolist(), round(table.loc[0, "mean"])
    (['P1', 'PKPK_ECR'], 40)
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
    With ``min_ess=0`` ESS is not computed. r_hat is checked only with
    more than one chain.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit.
    var_names : sequence of str
        Variables to check. Names missing from the posterior are skipped.
    min_ess : float
        Smallest acceptable bulk and tail ESS.

    Returns
    -------
    dict of str to list of str
        Notes per row label. Rows without notes are left out.

    Examples
    --------
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> draws = np.concatenate([rng.normal(35.0, 1.0, (1, 500, 3, 2)), rng.normal(45.0, 1.0, (1, 500, 3, 2))])
    >>> idata = az.from_dict(posterior={"a": draws}, sample_stats={"diverging": np.zeros((2, 500), dtype=bool)},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> convergence_notes(idata, ["a"], min_ess=200)["a[P1, PKPK_ECR]"]
    ['r_hat > 1.01', 'low ESS']
    >>> convergence_notes(idata, ["a"], min_ess=0)["a[P1, PKPK_ECR]"]
    ['r_hat > 1.01']
    """
    names = [name for name in var_names if name in idata.posterior]
    posterior = idata.posterior[names]
    with warnings.catch_warnings():
        # Cells of curves without data are NaN on purpose.
        warnings.simplefilter("ignore", RuntimeWarning)
        r_hat = az.rhat(posterior) if posterior.sizes["chain"] > 1 else None
        if min_ess > 0:
            ess_bulk = az.ess(posterior, method="bulk")
            ess_tail = az.ess(posterior, method="tail")

    notes: dict[str, list[str]] = {}
    for name in names:
        flags = []
        if min_ess > 0:
            flags.append(((ess_bulk[name] < min_ess) | (ess_tail[name] < min_ess), "low ESS"))
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

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit with a ``posterior`` group; divergences are counted when it
        also has ``sample_stats``.
    var_names : sequence of str
        Variables to check, usually the sampled ones.

    Returns
    -------
    dict
        ``{"divergences": [message], "r_hat": [labels], "ess": [labels]}``
        for what was warned about.

    Warns
    -----
    ConvergenceWarning
        One per kind of problem found. The r_hat and ESS warnings name up
        to 20 variables.

    Examples
    --------
    >>> import warnings
    >>> import arviz as az
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> coords = {"participant": ["P1", "P2", "P3"], "muscle": ["PKPK_ECR", "PKPK_FCR"]}
    >>> draws = np.concatenate([rng.normal(35.0, 1.0, (1, 500, 3, 2)), rng.normal(45.0, 1.0, (1, 500, 3, 2))])
    >>> idata = az.from_dict(posterior={"a": draws}, sample_stats={"diverging": np.zeros((2, 500), dtype=bool)},
    ...                      coords=coords, dims={"a": ["participant", "muscle"]})
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     problems = check_convergence(idata, ["a"])
    >>> problems["divergences"], problems["r_hat"][:2]
    ([], ['a[P1, PKPK_ECR]', 'a[P1, PKPK_FCR]'])
    """
    problems: dict[str, list[str]] = {"divergences": [], "r_hat": [], "ess": []}
    chains = idata.posterior.sizes["chain"]
    draws = idata.posterior.sizes["draw"]
    min_ess = MIN_ESS_PER_CHAIN * chains

    if "sample_stats" in idata.groups() and "diverging" in idata.sample_stats:
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
            f"Run more warm-up and draws (with nutpie, mcmc_params['max_samples'] draws on until "
            f"the checks pass), and check these curves' data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    if problems["ess"]:
        warnings.warn(
            f"Effective sample size below {min_ess} ({MIN_ESS_PER_CHAIN} per chain) for "
            f"{_shown(problems['ess'])}. Run more draws (or set mcmc_params['max_samples']) "
            f"before trusting their tails.",
            ConvergenceWarning,
            stacklevel=3,
        )
    return problems
