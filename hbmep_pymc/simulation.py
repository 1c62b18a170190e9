"""Simulated recruitment-curve data with known parameters, for checks and power studies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hbmep_pymc.curves import get_curve
from hbmep_pymc.functional import gamma_shape_rate


@dataclass
class SimulatedData:
    """A simulated data frame and the true curve parameters behind it.

    Attributes
    ----------
    df : pandas.DataFrame
        Columns ``intensity``, ``participant`` and one response column per
        muscle (``muscle_0``, ``muscle_1``, ...).
    parameters : dict of numpy.ndarray
        True value of every curve parameter and of ``c1`` and ``c2``, shape
        ``(n_participants, n_muscles)``.

    Examples
    --------
    >>> sim = simulate(n_participants=2, n_muscles=2, n_pulses=10, seed=1)
    >>> sim.df.columns.tolist()
    ['intensity', 'participant', 'muscle_0', 'muscle_1']
    >>> sim.parameters["a"].round(1).tolist()
    [[45.4, 58.5], [34.3, 58.5]]
    """

    df: pd.DataFrame
    parameters: dict[str, np.ndarray]

    @property
    def response(self) -> list[str]:
        """Response column names.

        Examples
        --------
        >>> simulate(n_muscles=3, seed=0).response
        ['muscle_0', 'muscle_1', 'muscle_2']
        """
        return [column for column in self.df.columns if column.startswith("muscle_")]


def simulate(
    n_participants: int = 4,
    n_muscles: int = 2,
    n_pulses: int = 48,
    *,
    function: str = "rectified_logistic",
    intensity_range: tuple[float, float] = (0.0, 100.0),
    threshold_range: tuple[float, float] = (30.0, 60.0),
    seed: int = 0,
) -> SimulatedData:
    """Draw curves with known parameters and gamma-distributed responses around them.

    The parameters are drawn near those seen in TMS data in %MSO and mV
    (growth rate 0.1–0.4, offset 0.01–0.05 mV, height 0.5–3 mV), and the
    noise follows the model's gamma likelihood with ``c1 = 0.5`` and
    ``c2 = 0.1``.

    Parameters
    ----------
    n_participants, n_muscles, n_pulses : int
        Sizes; every participant gets ``n_pulses`` pulses at intensities
        spread evenly over ``intensity_range``.
    function : str, default "rectified_logistic"
        Curve function.
    intensity_range : tuple of float
        Lowest and highest intensity.
    threshold_range : tuple of float
        Range of the true thresholds.
    seed : int
        Random seed.

    Returns
    -------
    SimulatedData
        The frame and the true parameters.

    Raises
    ------
    ValueError
        If ``function`` is not a registered curve name.

    Examples
    --------
    >>> sim = simulate(n_participants=2, n_muscles=1, n_pulses=10, seed=1)
    >>> sim.df.shape
    (20, 3)
    >>> sim.parameters["a"].shape
    (2, 1)
    """
    curve = get_curve(function)
    rng = np.random.default_rng(seed)
    shape = (n_participants, n_muscles)
    parameters = {
        "a": rng.uniform(*threshold_range, size=shape),
        "b": rng.uniform(0.1, 0.4, size=shape),
        "g": rng.uniform(0.01, 0.05, size=shape),
        "h": rng.uniform(0.5, 3.0, size=shape),
        "v": rng.uniform(0.5, 2.0, size=shape),
        "c1": np.full(shape, 0.5),
        "c2": np.full(shape, 0.1),
    }
    if curve.name == "rectified_linear":
        parameters["b"] = rng.uniform(0.02, 0.08, size=shape)

    intensity = np.tile(np.linspace(*intensity_range, n_pulses), n_participants)
    participant = np.repeat(np.arange(n_participants), n_pulses)
    frame = {"intensity": intensity, "participant": [f"S{p:02d}" for p in participant]}
    for m in range(n_muscles):
        values = {name: parameters[name][participant, m] for name in curve.parameters}
        mu = curve(intensity, **values)
        c1 = parameters["c1"][participant, m]
        c2 = parameters["c2"][participant, m]
        alpha, beta = gamma_shape_rate(mu, c1, c2)
        frame[f"muscle_{m}"] = rng.gamma(shape=alpha, scale=1.0 / beta)
    kept = {name: parameters[name] for name in (*curve.parameters, "c1", "c2")}
    return SimulatedData(pd.DataFrame(frame), kept)
