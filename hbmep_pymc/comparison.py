"""Model comparison by PSIS-LOO or WAIC, overall and per muscle.

The pointwise log-likelihood of a fit has one value per measurement, that
is per observed row and muscle. Masked cells are left out, so models
fitted to the same data compare on the same points.

Examples
--------
>>> import hbmep_pymc as mep
>>> table = mep.compare({"rectified_logistic": idata_rl, "logistic4": idata_l4})  # doctest: +SKIP
>>> table[["elpd_loo", "elpd_diff", "weight"]]  # doctest: +SKIP
>>> per_muscle = mep.compare(fits, by_muscle=True)  # doctest: +SKIP
>>> per_muscle.loc["PKPK_ECR"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from hbmep_pymc import site

logger = logging.getLogger(__name__)

MEASUREMENT_DIM = "measurement"
PARETO_K_THRESHOLD = 0.7
"""Pareto k above which the PSIS-LOO estimate of a point is unreliable.

ArviZ 0.23 flags ``k > min(1 - 1 / log10(S), 0.7)`` for S draws, so with
fewer than about 2,150 draws its ``warning`` column can be True even when
no point exceeds 0.7.
"""

_SHOWN_POINTS = 10


class ComparisonError(ValueError):
    """Raised when fits cannot be compared, for example because they were fitted to different data.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> mep.compare({"rectified_logistic": None})
    Traceback (most recent call last):
    ...
    hbmep_pymc.comparison.ComparisonError: Comparison needs at least two fits, got 1.
    """


class ParetoKWarning(UserWarning):
    """Warned when PSIS-LOO is unreliable for some observations (Pareto k above the threshold).

    The message names the model, row and muscle of each such observation.

    Examples
    --------
    Turn the warning into an error to stop a batch of comparisons at the
    first unreliable one:

    >>> import warnings
    >>> import hbmep_pymc as mep
    >>> with warnings.catch_warnings():  # doctest: +SKIP
    ...     warnings.simplefilter("error", mep.ParetoKWarning)
    ...     table = mep.compare({"rectified_logistic": idata_rl, "logistic4": idata_l4})
    """


def compare(
    fits: Mapping[str, az.InferenceData],
    ic: str = "loo",
    by_muscle: bool = False,
    *,
    method: str = "stacking",
    scale: str = "log",
    pareto_k_threshold: float = PARETO_K_THRESHOLD,
) -> pd.DataFrame:
    """Rank models fitted to the same data by expected log pointwise predictive density.

    Parameters
    ----------
    fits : mapping of str to arviz.InferenceData
        Model name to the InferenceData of its fit (from
        :meth:`~hbmep_pymc.model.BaseModel.run` or a loaded archive). At
        least two.
    ic : {"loo", "waic"}, default "loo"
        PSIS-LOO or WAIC.
    by_muscle : bool, default False
        Compare each muscle on its own measurements instead of all at once.
    method : str, default "stacking"
        How ArviZ computes the model weights: ``"stacking"``, ``"BB-pseudo-BMA"``
        or ``"pseudo-BMA"``.
    scale : {"log", "negative_log", "deviance"}, default "log"
        Scale of the ELPD columns.
    pareto_k_threshold : float, default 0.7
        Pareto k above which an observation is named in a :class:`ParetoKWarning`.

    Returns
    -------
    pandas.DataFrame
        ArviZ's comparison table (``rank``, ``elpd_loo`` or ``elpd_waic``,
        ``p_loo`` or ``p_waic``, ``elpd_diff``, ``weight``, ``se``, ``dse``,
        ``warning``, ``scale``), best model first, indexed by model name.
        With ``by_muscle`` the index has two levels, ``muscle`` and ``model``.

    Raises
    ------
    ValueError
        If ``ic`` is not ``"loo"`` or ``"waic"``.
    ComparisonError
        If fewer than two fits are given, a fit is not an InferenceData or
        has no log-likelihood, the fits were made on different data, or
        ``by_muscle`` is set for a log-likelihood without a ``muscle``
        coordinate.

    Warns
    -----
    ParetoKWarning
        Naming the rows and muscles whose Pareto k exceeds ``pareto_k_threshold``.

    Examples
    --------
    >>> table = compare({"rectified_logistic": idata_rl, "logistic4": idata_l4})  # doctest: +SKIP
    >>> table.index[0]  # doctest: +SKIP
    'rectified_logistic'
    """
    if ic not in ("loo", "waic"):
        raise ValueError(f"Unknown information criterion {ic!r}; use 'loo' or 'waic'.")
    if len(fits) < 2:
        raise ComparisonError(f"Comparison needs at least two fits, got {len(fits)}.")
    reference = check_same_data(fits)

    if not by_muscle:
        return _compare_points(fits, None, ic, method, scale, pareto_k_threshold)

    if "muscle" not in reference.coords:
        raise ComparisonError(
            "The log-likelihood has no 'muscle' coordinate, so it cannot be split by muscle."
        )
    muscles = list(dict.fromkeys(reference.coords["muscle"].values.tolist()))
    tables = {}
    for muscle in muscles:
        tables[muscle] = _compare_points(fits, muscle, ic, method, scale, pareto_k_threshold)
    return pd.concat(tables, names=["muscle", "model"])


def check_same_data(fits: Mapping[str, az.InferenceData]) -> xr.DataArray:
    """Check that every fit has a log-likelihood and the same observed measurements.

    Parameters
    ----------
    fits : mapping of str to arviz.InferenceData
        Model name to the InferenceData of its fit.

    Returns
    -------
    xarray.DataArray
        The observed values of the first fit, with their ``observation`` and
        ``muscle`` coords.

    Raises
    ------
    ComparisonError
        Naming the fit that lacks a group or differs from the first.

    Examples
    --------
    >>> check_same_data({"a": idata_a, "b": idata_b}).sizes  # doctest: +SKIP
    Frozen({'measurement': 490})
    """
    reference_name = None
    reference = None
    for name, idata in fits.items():
        if not isinstance(idata, az.InferenceData):
            raise ComparisonError(f"Fit {name!r} is a {type(idata).__name__}, not an arviz.InferenceData.")
        for group in ("log_likelihood", "observed_data"):
            if group not in idata.groups() or site.obs not in idata[group]:
                raise ComparisonError(
                    f"Fit {name!r} has no {site.obs!r} in its {group} group; compare needs the "
                    f"InferenceData of model.run (with log_likelihood=True for large data sets) "
                    f"or of a loaded archive."
                )
        observed = idata.observed_data[site.obs]
        if reference is None:
            reference_name, reference = name, observed
            continue
        problem = _data_difference(reference, observed)
        if problem:
            raise ComparisonError(
                f"Fits {reference_name!r} and {name!r} were made on different data ({problem}); "
                f"models can only be compared on the same observations."
            )
    return reference


def _data_difference(first: xr.DataArray, second: xr.DataArray) -> str | None:
    if first.shape != second.shape:
        return f"{first.size} against {second.size} measurements"
    for coord in ("observation", "muscle"):
        if coord in first.coords and coord in second.coords:
            if not np.array_equal(first[coord].values, second[coord].values):
                return f"the {coord} labels differ"
    if not np.array_equal(first.values, second.values, equal_nan=True):
        count = int(np.sum(first.values != second.values))
        return f"{count} observed values differ"
    return None


def _compare_points(
    fits: Mapping[str, az.InferenceData],
    muscle: str | None,
    ic: str,
    method: str,
    scale: str,
    pareto_k_threshold: float,
) -> pd.DataFrame:
    """Compare the fits on all measurements, or on those of one muscle."""
    elpds = {}
    for name, idata in fits.items():
        log_likelihood = idata.log_likelihood[[site.obs]]
        if muscle is not None:
            keep = np.flatnonzero(log_likelihood.coords["muscle"].values == muscle)
            log_likelihood = log_likelihood.isel({MEASUREMENT_DIM: keep})
        subset = az.InferenceData(posterior=idata.posterior, log_likelihood=log_likelihood)
        where = name if muscle is None else f"{name}, muscle {muscle}"
        elpds[name] = _pointwise_elpd(subset, where, ic, scale, pareto_k_threshold)
        logger.info("Computed %s for %s", ic.upper(), where)

    with warnings.catch_warnings():
        # NOTE: ArviZ 0.23.4 sorts with inplace=True, which pandas 3.1 deprecates; users cannot act on it.
        warnings.filterwarnings("ignore", message="The inplace keyword", module="arviz")
        return az.compare(elpds, ic=ic, method=method, scale=scale)


def _pointwise_elpd(
    idata: az.InferenceData, where: str, ic: str, scale: str, pareto_k_threshold: float
) -> az.ELPDData:
    """Run az.loo or az.waic, re-issuing ArviZ's warnings with the model and point names."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if ic == "loo":
            elpd = az.loo(
                idata, pointwise=True, var_name=site.obs, reff=_relative_ess(idata.posterior), scale=scale
            )
        else:
            elpd = az.waic(idata, pointwise=True, var_name=site.obs, scale=scale)

    for warning in caught:
        text = str(warning.message)
        if ic == "loo" and "Pareto" in text:
            continue
        warnings.warn(f"{where}: {text}", warning.category, stacklevel=4)

    if ic == "loo":
        _warn_high_pareto_k(elpd.pareto_k, where, pareto_k_threshold)
    return elpd


def _relative_ess(posterior: xr.Dataset) -> float:
    """Mean relative effective sample size of the posterior, ignoring NaN cells of curves without data."""
    n_chains = posterior.sizes["chain"]
    if n_chains == 1:
        return 1.0
    ess = az.ess(posterior, method="mean")
    values = np.concatenate([np.ravel(ess[name].values) for name in ess.data_vars])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1.0
    return float(values.mean() / (n_chains * posterior.sizes["draw"]))


def _warn_high_pareto_k(pareto_k: xr.DataArray, where: str, threshold: float) -> None:
    high = np.flatnonzero(pareto_k.values > threshold)
    if high.size == 0:
        return
    points = []
    for position in high[:_SHOWN_POINTS]:
        point = pareto_k.isel({MEASUREMENT_DIM: position})
        row = point.coords["observation"].item() if "observation" in point.coords else position
        muscle = f", {point.coords['muscle'].item()}" if "muscle" in point.coords else ""
        points.append(f"row {row}{muscle} (k = {float(point):.2f})")
    more = f" and {high.size - _SHOWN_POINTS} more" if high.size > _SHOWN_POINTS else ""
    warnings.warn(
        f"{where}: PSIS-LOO is unreliable for {high.size} observation(s) with Pareto k above "
        f"{threshold:g}: {'; '.join(points)}{more}. Check these rows for outliers, fit with "
        f"use_mixture=True, or compare with more draws.",
        ParetoKWarning,
        stacklevel=5,
    )
