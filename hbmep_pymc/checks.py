"""Checks that keep a fit honest: identifiability before sampling, curve flags after.

Before sampling, :func:`check_identifiability` names every curve with fewer
distinct intensities than curve parameters. After sampling,
:func:`curve_diagnostics` flags, per curve group and muscle:

- ``saturation not reached``: in most draws the curve at the largest tested
  intensity is below 80 % of its height, so ``g + h`` rests on the prior;
- ``no threshold within the tested range``: most posterior mass of ``a``
  lies above the largest tested intensity;
- ``threshold below the tested range``: most posterior mass of ``a`` lies
  below the smallest tested intensity, so the muscle responds at every
  tested intensity;
- ``poor fit at high intensities``: the posterior predictive check of the
  mean log-response over the top quarter of intensities fails (p below 0.01
  or above 0.99), as when responses fall at the highest intensities.
"""

from __future__ import annotations

import logging
import warnings

import arviz as az
import numpy as np
import pandas as pd

from hbmep_pymc import site
from hbmep_pymc.curves import Curve
from hbmep_pymc.data import PreparedData, group_label
from hbmep_pymc.functional import gamma_shape_rate

logger = logging.getLogger(__name__)

SATURATION_SHARE = 0.8
"""Share of the height that counts as reaching saturation."""

PPC_P_LIMITS = (0.01, 0.99)
"""Posterior predictive p-values outside this range flag a poor fit."""

TOP_SHARE = 0.25
"""Share of a curve's highest distinct intensities used by the predictive check."""


class IdentifiabilityWarning(UserWarning):
    """Warned for curves whose own data cannot determine all of their parameters.

    Examples
    --------
    P2 was tested at one intensity only, fewer than the four parameters of
    the logistic-4 curve:

    >>> import warnings
    >>> import pandas as pd
    >>> from hbmep_pymc.curves import get_curve
    >>> from hbmep_pymc.data import prepare_data
    >>> df = pd.DataFrame({"TMSIntensity": [40.0, 50.0, 60.0, 45.0, 45.0],
    ...                    "participant": ["P1", "P1", "P1", "P2", "P2"],
    ...                    "PKPK_ECR": [0.02, 0.2, 0.4, 0.03, 0.05]})
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     weak = check_identifiability(data, get_curve("logistic4"), hierarchical=True)
    >>> caught[0].category.__name__
    'IdentifiabilityWarning'
    """


class SingleIntensityError(ValueError):
    """Raised when a non-hierarchical fit gets a curve tested at one intensity only.

    Examples
    --------
    The check runs before sampling, so the error comes at once:

    >>> import pandas as pd
    >>> import hbmep_pymc as mep
    >>> df = pd.DataFrame({"TMSIntensity": [40.0, 50.0, 60.0, 45.0, 45.0],
    ...                    "participant": ["P1", "P1", "P1", "P2", "P2"],
    ...                    "PKPK_ECR": [0.02, 0.2, 0.4, 0.03, 0.05]})
    >>> model = mep.NonHierarchicalBayesianModel("TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> model.run(df)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hbmep_pymc.checks.SingleIntensityError: 1 curve(s) were tested at a single intensity: participant=P2, ...
    """


def distinct_intensities(data: PreparedData) -> np.ndarray:
    """Count the distinct intensities with an observed response, per curve cell.

    Parameters
    ----------
    data : PreparedData
        Validated data from :func:`~hbmep_pymc.data.prepare_data`.

    Returns
    -------
    numpy.ndarray
        Integer counts, shape ``(*data.group_shape, n_muscles)``, with 0
        for curves without data.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> distinct_intensities(data).tolist()
    [[76, 76], [11, 11], [11, 11]]
    """
    counts = np.zeros((*data.group_shape, len(data.muscles)), dtype=np.int64)
    frame = pd.DataFrame(data.codes, columns=[f"f{i}" for i in range(data.codes.shape[1])])
    frame["x"] = data.intensity
    for m in range(len(data.muscles)):
        rows = data.observed[:, m]
        if not rows.any():
            continue
        keys = list(frame.columns[:-1])
        subset = frame[rows]
        if keys:
            per_group = subset.groupby(keys)["x"].nunique()
            for key, count in per_group.items():
                key = key if isinstance(key, tuple) else (key,)
                counts[(*key, m)] = count
        else:
            counts[m] = subset["x"].nunique()
    return counts


def check_identifiability(data: PreparedData, curve: Curve, hierarchical: bool) -> list[str]:
    """Warn about curves with fewer distinct intensities than curve parameters.

    Inside a hierarchy such curves are still estimated, from pooling and the
    priors. A non-hierarchical fit has nothing to pool, so a curve with a
    single tested intensity is an error there.

    Parameters
    ----------
    data : PreparedData
        Validated data from :func:`~hbmep_pymc.data.prepare_data`.
    curve : Curve
        The curve function of the fit.
    hierarchical : bool
        Whether the fit pools curves (:class:`~hbmep_pymc.model.StandardHB`).

    Returns
    -------
    list of str
        Labels of the curves warned about, with their number of distinct
        intensities.

    Raises
    ------
    SingleIntensityError
        In a non-hierarchical fit, if a curve has data at one intensity only.

    Warns
    -----
    IdentifiabilityWarning
        Naming every curve with fewer distinct intensities than curve
        parameters.

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> from hbmep_pymc.curves import get_curve
    >>> from hbmep_pymc.data import prepare_data
    >>> df = pd.DataFrame({"TMSIntensity": [40.0, 50.0, 60.0, 45.0, 45.0],
    ...                    "participant": ["P1", "P1", "P1", "P2", "P2"],
    ...                    "PKPK_ECR": [0.02, 0.2, 0.4, 0.03, 0.05]})
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     check_identifiability(data, get_curve("logistic4"), hierarchical=True)
    ['participant=P1, muscle=PKPK_ECR (3 intensities)', 'participant=P2, muscle=PKPK_ECR (1 intensity)']
    """
    counts = distinct_intensities(data)
    observed = data.observed_cells()
    needed = len(curve.parameters)
    weak = []
    single = []
    for cell in zip(*np.nonzero(observed & (counts < needed))):
        label = f"{group_label(data, np.array(cell[:-1]))}, muscle={data.muscles[cell[-1]]}"
        weak.append(f"{label} ({counts[cell]} intensit{'y' if counts[cell] == 1 else 'ies'})")
        if counts[cell] < 2:
            single.append(label)
    if single and not hierarchical:
        raise SingleIntensityError(
            f"{len(single)} curve(s) were tested at a single intensity: {'; '.join(single[:10])}. "
            f"A non-hierarchical fit cannot estimate a curve from one intensity; use StandardHB, "
            f"which pools across curves, or remove these curves."
        )
    if weak:
        shown = "; ".join(weak[:12]) + (f"; and {len(weak) - 12} more" if len(weak) > 12 else "")
        message = (
            f"{len(weak)} curve(s) have fewer distinct intensities than the {needed} parameters of "
            f"the {curve.name} curve, so their data alone cannot identify them: {shown}. Their "
            f"estimates come from pooling and the priors."
        )
        warnings.warn(message, IdentifiabilityWarning, stacklevel=3)
    return weak


def _curve_frame(idata: az.InferenceData, features: list[str]) -> pd.DataFrame:
    """Observed cells as a frame: feature codes, muscle, intensity, response."""
    constant = idata.constant_data
    observed = idata.observed_data[site.obs]
    rows = pd.Index(constant["observation"].to_numpy()).get_indexer(observed["observation"].to_numpy())
    frame = pd.DataFrame(
        {
            "muscle": observed["muscle"].to_numpy(),
            "x": constant["intensity"].to_numpy()[rows],
            "y": observed.to_numpy(),
        }
    )
    for name in features:
        codes = constant[f"{name}_code"].to_numpy()[rows]
        frame[name] = idata.posterior[name].to_numpy()[codes]
    return frame


def _top_quarter(group: pd.DataFrame) -> pd.DataFrame:
    levels = np.sort(group["x"].unique())
    keep = max(1, int(np.ceil(len(levels) * TOP_SHARE)))
    return group[group["x"] >= levels[-keep]]


def curve_diagnostics(idata: az.InferenceData, curve: Curve, seed: int = 0) -> pd.DataFrame:
    """Flag curves whose estimates rest on the prior or that the model fits poorly.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit from :meth:`~hbmep_pymc.model.BaseModel.run` or a loaded
        archive. It needs the ``constant_data`` and ``observed_data`` groups
        that ``run`` adds.
    curve : Curve
        Its curve function.
    seed : int
        Seed of the replicated data of the predictive check.

    Returns
    -------
    pandas.DataFrame
        One row per curve with data: the feature dims, ``muscle``,
        ``min_intensity``, ``max_intensity``, ``prob_saturation_reached``,
        ``prob_threshold_above_range``, ``prob_threshold_below_range``,
        ``ppc_p_top`` and ``notes`` (flags joined by ``"; "``, empty when none).
        ``prob_saturation_reached`` is NaN for curves without a height
        (rectified-linear).

    Examples
    --------
    >>> from hbmep_pymc.curves import get_curve
    >>> idata, posterior = model.run(df)  # doctest: +SKIP
    >>> table = curve_diagnostics(idata, get_curve("rectified_logistic"))  # doctest: +SKIP
    >>> table.loc[table["notes"] != "", ["participant", "muscle", "notes"]]  # doctest: +SKIP
    """
    posterior = idata.posterior
    features = [dim for dim in posterior[site.a].dims if dim not in ("chain", "draw", "muscle")]
    frame = _curve_frame(idata, features)
    rng = np.random.default_rng(seed)
    records = []
    for key, group in frame.groupby([*features, "muscle"], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        selection = dict(zip([*features, "muscle"], key, strict=True))
        values = {name: posterior[name].sel(selection).to_numpy().ravel() for name in
                  (*curve.parameters, site.c1, site.c2)}
        x_max = float(group["x"].max())
        x_min = float(group["x"].min())
        a = values[site.a]

        record = dict(selection)
        record["min_intensity"] = x_min
        record["max_intensity"] = x_max
        notes = []
        if site.h in values:
            reached = curve(x_max, **values) - values[site.g] >= SATURATION_SHARE * values[site.h]
            record["prob_saturation_reached"] = float(np.mean(reached))
            if record["prob_saturation_reached"] < 0.5:
                notes.append("saturation not reached")
        else:
            record["prob_saturation_reached"] = np.nan
        record["prob_threshold_above_range"] = float(np.mean(a > x_max))
        if record["prob_threshold_above_range"] > 0.5:
            notes.append("no threshold within the tested range")
        record["prob_threshold_below_range"] = float(np.mean(a < x_min))
        if curve.has_threshold and record["prob_threshold_below_range"] > 0.5:
            notes.append("threshold below the tested range")

        top = _top_quarter(group)
        mu = curve(top["x"].to_numpy()[None, :], **{p: values[p][:, None] for p in curve.parameters})
        alpha, beta = gamma_shape_rate(mu, values[site.c1][:, None], values[site.c2][:, None])
        replicated = rng.gamma(shape=alpha, scale=1.0 / beta)
        statistic = np.log(top["y"].to_numpy()).mean()
        replicated_statistic = np.log(np.maximum(replicated, 1e-300)).mean(axis=1)
        record["ppc_p_top"] = float(np.mean(replicated_statistic <= statistic))
        if not PPC_P_LIMITS[0] <= record["ppc_p_top"] <= PPC_P_LIMITS[1]:
            notes.append("poor fit at high intensities")
        record["notes"] = "; ".join(notes)
        records.append(record)
    return pd.DataFrame.from_records(records)
