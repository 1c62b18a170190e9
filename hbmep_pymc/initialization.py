"""Starting points for the samplers, read off the data.

NUTS started from PyMC's default point (every positive parameter near 1, in
the data's units) spends its first few hundred warm-up iterations at the
maximum tree depth. On the bundled data about 230 of 1000 warm-up
iterations per chain took 1023 leapfrog steps each. That was 70 % of all
gradient evaluations of the fit. Meanwhile the threshold wandered from 1
to 400 %MSO before it found the rise of the curve. A start near a rough fit of each
curve removes that phase. The start changes only where the chains begin,
not the model, so the posterior is the same.

Each curve gets a rough estimate of its parameters from its own data:

- offset ``g``: a low quantile of the responses;
- height ``h``: the range of the responses above the offset;
- threshold ``a``: where a running median of the responses, ordered by
  intensity, first rises a tenth of the height above the offset (half the
  height for the sigmoids, whose ``a`` is the S50);
- growth rate ``b``: steep enough to reach saturation within the tested
  range above ``a``;
- ``v`` equal to ``h``, and noise parameters ``c1`` and ``c2`` from the
  spread of the responses.

The shared scales start at the root mean square of these estimates and each
``_raw`` variable at its estimate divided by the scale, so ``scale * raw``
reproduces the estimate.
"""

from __future__ import annotations

import numpy as np

from hbmep_pymc import site
from hbmep_pymc.curves import Curve
from hbmep_pymc.data import PreparedData

RAW_RANGE = (0.05, 5.0)
"""Bounds of a ``_raw`` start, inside the bulk of its half-normal prior."""


def _running_median(values: np.ndarray, width: int) -> np.ndarray:
    if values.size <= width:
        return np.full(values.size, np.median(values))
    half = width // 2
    padded = np.pad(values, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    return np.median(windows, axis=-1)


def rough_curve_estimate(x: np.ndarray, y: np.ndarray, curve: Curve) -> dict[str, float]:
    """Estimate the curve parameters of one curve from its pulses.

    Parameters
    ----------
    x, y : numpy.ndarray
        Intensities and positive responses of one curve (one curve group
        and muscle), missing cells already removed.
    curve : Curve
        The curve function; decides what ``a`` means.

    Returns
    -------
    dict of str to float
        Rough values of the curve parameters and of ``c1`` and ``c2``, all
        positive. They are good enough to start a sampler near the posterior,
        and are not estimates to report.

    Examples
    --------
    >>> import numpy as np
    >>> from hbmep_pymc.curves import get_curve
    >>> x = np.linspace(0, 100, 21)
    >>> y = np.where(x < 40, 0.05, 0.05 + 0.03 * (x - 40))
    >>> start = rough_curve_estimate(x, y, get_curve("rectified_logistic"))
    >>> bool(35 <= start["a"] <= 50)
    True
    """
    order = np.argsort(x, kind="stable")
    x, y = np.asarray(x, dtype=float)[order], np.asarray(y, dtype=float)[order]
    low, high = float(x[0]), float(x[-1])
    span = max(high - low, 1e-6 * max(abs(high), 1.0))
    smooth = _running_median(y, 5)
    g = max(float(np.quantile(y, 0.1)), 1e-3 * float(np.max(y)))
    h = max(float(np.max(smooth)) - g, g)
    rise = 0.1 if curve.has_threshold else 0.5
    above = np.nonzero(smooth > g + rise * h)[0]
    a = float(x[above[0]]) if above.size else low + 0.5 * span
    # Keep the start strictly inside the support and away from the edge of the range.
    a = float(np.clip(a, low + 0.05 * span, high - 0.05 * span)) if span > 0 else a
    a = max(a, 1e-3 * span)
    b = 4.0 / max(high - a, 0.1 * span)
    estimate = {site.a: a, site.b: b, site.g: g, site.h: h, site.v: h}
    if site.h not in curve.parameters:
        estimate[site.b] = h / max(high - a, 0.1 * span)
    residual = np.abs(y - smooth)
    cv = float(np.median(residual / np.maximum(smooth, g)))
    estimate[site.c2] = float(np.clip(cv**2, 0.01, 1.0))
    estimate[site.c1] = max(float(np.median(residual)), 0.01 * h)
    return {name: estimate[name] for name in (*curve.parameters, site.c1, site.c2)}


def initial_values(
    data: PreparedData, curve: Curve, hierarchical: bool = True, centered: tuple[str, ...] = ()
) -> dict[str, np.ndarray]:
    """Starting values of every free variable of the model, from the data.

    Parameters
    ----------
    data : PreparedData
        The data the model is built on.
    curve : Curve
        The curve function.
    hierarchical : bool, default True
        Whether the scales are shared (True) or one per curve.
    centered : tuple of str, default ()
        Parameters sampled in the centred form: they start at
        ``scale * raw`` under their own name, with no ``_raw`` entry.

    Returns
    -------
    dict of str to numpy.ndarray
        Values on the constrained (natural) scale, keyed by variable name,
        with the shapes of the model's variables: ``a``, the ``_raw``
        variables (or the centred parameters), ``a_loc``, ``a_scale`` and
        the ``_scale`` variables.
        Curves without data start at the mean of the others.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(
    ...     mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"]
    ... )
    >>> start = initial_values(data, mep.get_curve("rectified_logistic"))
    >>> start["a"].shape
    (3, 2)
    """
    names = (*curve.parameters, site.c1, site.c2)
    shape = (*data.group_shape, len(data.muscles))
    estimates = {name: np.full(shape, np.nan) for name in names}
    groups = [tuple(row) for row in data.codes]
    cells: dict[tuple, list[int]] = {}
    for row, group in enumerate(groups):
        cells.setdefault(group, []).append(row)
    for group, rows in cells.items():
        rows = np.asarray(rows)
        for m in range(len(data.muscles)):
            seen = data.observed[rows, m]
            if seen.sum() < 2:
                continue
            estimate = rough_curve_estimate(data.intensity[rows][seen], data.response[rows, m][seen], curve)
            for name, value in estimate.items():
                estimates[name][(*group, m)] = value

    start: dict[str, np.ndarray] = {}
    for name, values in estimates.items():
        fallback = np.nanmean(values) if np.isfinite(values).any() else 1.0
        values = np.where(np.isfinite(values), values, fallback)
        if name == site.a:
            start[site.a] = values
            if hierarchical:
                start[site.a_loc] = np.asarray(values.mean())
                start[site.a_scale] = np.asarray(max(values.std(), 0.05 * values.mean(), 1e-3))
            else:
                start[site.a_loc] = values.copy()
                start[site.a_scale] = np.maximum(0.1 * values, 1e-3)
            continue
        if hierarchical:
            scale = np.asarray(np.sqrt(np.mean(values**2)))
        else:
            scale = values.copy()
        start[f"{name}_scale"] = scale
        raw = np.clip(values / scale, *RAW_RANGE)
        if name in centered:
            start[name] = scale * raw
        else:
            start[f"{name}_raw"] = raw
    return start


UNJITTERED = (site.a,)
"""Variables whose start is jittered by only a few percent.

A threshold jittered on PyMC's usual scale (a factor of up to e) lands
far from the rise of the curve, which is the costly start this module avoids.
"""

JITTER = 0.5
"""Half-width of the uniform jitter of the other starts, on the log scale."""

SMALL_JITTER = 0.03
"""Half-width of the uniform jitter of the variables in :data:`UNJITTERED`, on the log scale."""


def jitter_width(name: str) -> float:
    """Return the half-width of the start jitter of variable ``name``, on the log scale.

    Parameters
    ----------
    name : str
        Variable name.

    Returns
    -------
    float
        :data:`SMALL_JITTER` for the variables in :data:`UNJITTERED`, else
        :data:`JITTER`.

    Examples
    --------
    >>> jitter_width("a"), jitter_width("b_raw")
    (0.03, 0.5)
    """
    return SMALL_JITTER if name in UNJITTERED else JITTER


def jittered_starts(start: dict[str, np.ndarray], chains: int, seed: int | None = None) -> list[dict]:
    """Return one jittered copy of ``start`` per chain, so chains start apart.

    Every value is multiplied by ``exp(u)``, with ``u`` uniform on
    ``(-JITTER, JITTER)``, or ``(-SMALL_JITTER, SMALL_JITTER)`` for the
    threshold. Values stay positive.

    Parameters
    ----------
    start : dict of str to numpy.ndarray
        Positive starting values, as from :func:`initial_values`.
    chains : int
        Number of chains.
    seed : int, optional
        Seed; the same seed gives the same starts.

    Returns
    -------
    list of dict
        One dict per chain, with the keys and shapes of ``start``.

    Examples
    --------
    >>> import numpy as np
    >>> starts = jittered_starts({"a": np.array([40.0]), "b_raw": np.array([1.0])}, chains=2, seed=0)
    >>> len(starts), bool(abs(starts[0]["a"][0] - 40.0) < 2.0)
    (2, True)
    """
    starts = []
    for chain in range(chains):
        rng = np.random.default_rng(None if seed is None else [seed, chain])
        point = {}
        for name, value in start.items():
            width = jitter_width(name)
            value = np.asarray(value, dtype=float)
            point[name] = value * np.exp(rng.uniform(-width, width, size=value.shape))
        starts.append(point)
    return starts
