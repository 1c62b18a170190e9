"""Priors of the recruitment-curve models, readable, editable and saved as JSON.

The defaults suit TMS data in %MSO and mV. For data in other units,
:func:`unit_factors` measures how far the data's intensity and response
ranges lie from that footing, and :meth:`Priors.scaled` moves every prior
by those factors, so a fit in µA or µV starts from priors of the same shape.

Examples
--------
>>> from hbmep_pymc.priors import Priors, Prior
>>> priors = Priors.default()
>>> priors["a_loc"]
Prior('TruncatedNormal', mu=50.0, sigma=50.0, lower=0.0)
>>> priors["b_scale"] = Prior("HalfNormal", sigma=1.0)
>>> priors.to_dict()["b_scale"]
{'distribution': 'HalfNormal', 'sigma': 1.0}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from hbmep_pymc import distributions

NOMINAL_INTENSITY_RANGE = (10.0, 100.0)
"""Largest intensities (%MSO-like) for which the default priors are used unscaled."""

NOMINAL_RESPONSE_RANGE = (0.01, 20.0)
"""Largest responses (mV-like) for which the default priors are used unscaled."""

REFERENCE_MAX_INTENSITY = 100.0
REFERENCE_MAX_RESPONSE = 5.0


@dataclass
class Prior:
    """One prior: a PyMC distribution name and its parameters.

    Parameters
    ----------
    distribution : str
        Name of a distribution in :mod:`pymc`, for example ``"HalfNormal"``.
    **parameters : float
        Its parameters, as PyMC names them.

    Raises
    ------
    ValueError
        If ``distribution`` is not a PyMC distribution class.

    Examples
    --------
    >>> Prior("HalfNormal", sigma=5.0)
    Prior('HalfNormal', sigma=5.0)
    """

    distribution: str
    parameters: dict[str, float] = field(default_factory=dict)

    def __init__(self, distribution: str, **parameters: float):
        if not hasattr(pm, distribution) or not isinstance(getattr(pm, distribution), type):
            raise ValueError(
                f"Unknown distribution {distribution!r}: use a PyMC distribution name "
                f"such as 'HalfNormal', 'TruncatedNormal' or 'Uniform'."
            )
        self.distribution = distribution
        self.parameters = {key: float(value) for key, value in parameters.items()}

    def create(self, name: str, **kwargs) -> pt.TensorVariable:
        """Add this prior to the current PyMC model as variable ``name``.

        Parameters
        ----------
        name : str
            Variable name.
        **kwargs
            Passed to the PyMC distribution, for example ``dims``.

        Returns
        -------
        pytensor.tensor.TensorVariable
            The new random variable.

        Examples
        --------
        >>> import pymc as pm
        >>> with pm.Model(coords={"participant": ["P1", "P2"]}) as model:
        ...     h_scale = Prior("HalfNormal", sigma=5.0).create("h_scale", dims="participant")
        >>> model.named_vars_to_dims["h_scale"]
        ('participant',)
        """
        if self.distribution == "TruncatedNormal":
            # PyMC's own version cannot be compiled for the JAX back-ends.
            return distributions.TruncatedNormal(name, **self.parameters, **kwargs)
        return getattr(pm, self.distribution)(name, **self.parameters, **kwargs)

    def rescaled(self, factor: float) -> Prior:
        """Return the prior of ``factor`` times a variable with this prior.

        Location, scale and bound parameters are multiplied by ``factor``,
        and the others are kept.

        Parameters
        ----------
        factor : float
            Positive unit factor, for example 1000 for mV to µV.

        Returns
        -------
        Prior
            A new prior, leaving this one unchanged.

        Raises
        ------
        ValueError
            If the distribution is not HalfNormal, TruncatedNormal, Normal,
            Uniform or HalfCauchy, whose scaling is known.

        Examples
        --------
        >>> Prior("HalfNormal", sigma=5.0).rescaled(1000)
        Prior('HalfNormal', sigma=5000.0)
        """
        scalable = {"mu", "sigma", "lower", "upper", "beta", "alpha_scale"}
        if self.distribution not in {"HalfNormal", "TruncatedNormal", "Normal", "Uniform", "HalfCauchy"}:
            raise ValueError(
                f"Cannot rescale a {self.distribution} prior automatically; "
                f"set it in the data's units yourself."
            )
        parameters = {
            key: (value * factor if key in scalable else value)
            for key, value in self.parameters.items()
        }
        return Prior(self.distribution, **parameters)

    def to_dict(self) -> dict:
        """Return ``{"distribution": name, **parameters}``.

        Returns
        -------
        dict
            JSON-compatible description of the prior.

        Examples
        --------
        >>> Prior("HalfNormal", sigma=5.0).to_dict()
        {'distribution': 'HalfNormal', 'sigma': 5.0}
        """
        return {"distribution": self.distribution, **self.parameters}

    @classmethod
    def from_dict(cls, state: Mapping) -> Prior:
        """Rebuild a prior from :meth:`to_dict` output.

        Parameters
        ----------
        state : mapping
            ``{"distribution": name, **parameters}``.

        Returns
        -------
        Prior
            The prior described.

        Raises
        ------
        KeyError
            If ``state`` has no ``"distribution"``.
        ValueError
            If the distribution is unknown to PyMC.

        Examples
        --------
        >>> Prior.from_dict({"distribution": "HalfNormal", "sigma": 1})
        Prior('HalfNormal', sigma=1.0)
        """
        state = dict(state)
        return cls(state.pop("distribution"), **state)

    def __repr__(self) -> str:
        parameters = ", ".join(f"{key}={value!r}" for key, value in self.parameters.items())
        return f"Prior({self.distribution!r}, {parameters})"


DEFAULT_PRIORS = {
    "a_loc": Prior("TruncatedNormal", mu=50.0, sigma=50.0, lower=0.0),
    "a_scale": Prior("HalfNormal", sigma=50.0),
    "b_scale": Prior("HalfNormal", sigma=5.0),
    "g_scale": Prior("HalfNormal", sigma=0.1),
    "h_scale": Prior("HalfNormal", sigma=5.0),
    "v_scale": Prior("HalfNormal", sigma=5.0),
    "c1_scale": Prior("HalfNormal", sigma=5.0),
    "c2_scale": Prior("HalfNormal", sigma=0.5),
    "outlier_prob": Prior("Uniform", lower=0.0, upper=0.01),
}

# Powers of the unit factors (s_x for intensity, s_y for response) by which
# each hyperprior scales. The shape v is in response units for the
# rectified-logistic and dimensionless for logistic-5; the rectified-linear
# slope b is in response per intensity.
_UNIT_POWERS = {
    "a_loc": (1, 0),
    "a_scale": (1, 0),
    "b_scale": (-1, 0),
    "g_scale": (0, 1),
    "h_scale": (0, 1),
    "v_scale": (0, 1),
    "c1_scale": (0, 1),
    "c2_scale": (0, 0),
    "outlier_prob": (0, 0),
}


class Priors(dict):
    """Hyperpriors of a model, one :class:`Prior` per variable name.

    The keys are ``a_loc, a_scale, b_scale, g_scale, h_scale, v_scale,
    c1_scale, c2_scale, outlier_prob``. Print it to read it, assign to a key
    to change one, and use :meth:`to_dict` / :meth:`from_dict` to save it.

    Examples
    --------
    >>> Priors({"a_loc": Prior("TruncatedNormal", mu=50.0, sigma=50.0, lower=0.0)})
    Priors(
      a_loc: Prior('TruncatedNormal', mu=50.0, sigma=50.0, lower=0.0)
    )
    """

    @classmethod
    def default(cls) -> Priors:
        """Return the defaults for TMS data in %MSO and mV.

        Returns
        -------
        Priors
            A new copy, safe to change.

        Examples
        --------
        >>> list(Priors.default())
        ['a_loc', 'a_scale', 'b_scale', 'g_scale', 'h_scale', 'v_scale', 'c1_scale', 'c2_scale', 'outlier_prob']
        """
        return cls({name: Prior.from_dict(prior.to_dict()) for name, prior in DEFAULT_PRIORS.items()})

    def scaled(self, intensity_factor: float, response_factor: float, curve_name: str) -> Priors:
        """Return the priors for data whose units are these factors times the defaults'.

        Parameters
        ----------
        intensity_factor : float
            Data intensity unit over the %MSO footing of the defaults.
        response_factor : float
            Data response unit over the mV footing of the defaults.
        curve_name : str
            Curve function, because ``b`` and ``v`` carry different units
            in different curves.

        Returns
        -------
        Priors
            New priors; this object is unchanged.

        Raises
        ------
        ValueError
            If a prior that must change has a distribution that
            :meth:`Prior.rescaled` cannot rescale.

        Examples
        --------
        Responses in µV are 1000 times those in mV:

        >>> Priors.default().scaled(1.0, 1000.0, "rectified_logistic")["h_scale"]
        Prior('HalfNormal', sigma=5000.0)
        """
        scaled = Priors()
        for name, prior in self.items():
            x_power, y_power = _UNIT_POWERS.get(name, (0, 0))
            if name == "v_scale" and curve_name == "logistic5":
                y_power = 0
            if name == "b_scale" and curve_name == "rectified_linear":
                y_power = 1
            factor = intensity_factor**x_power * response_factor**y_power
            scaled[name] = prior if factor == 1 else prior.rescaled(factor)
        return scaled

    def to_dict(self) -> dict:
        """Return a JSON-compatible dict.

        Returns
        -------
        dict
            Variable name to :meth:`Prior.to_dict` output.

        Examples
        --------
        >>> Priors.default().to_dict()["c2_scale"]
        {'distribution': 'HalfNormal', 'sigma': 0.5}
        """
        return {name: prior.to_dict() for name, prior in self.items()}

    @classmethod
    def from_dict(cls, state: Mapping) -> Priors:
        """Rebuild priors from :meth:`to_dict` output; missing names keep their defaults.

        Parameters
        ----------
        state : mapping
            Variable name to a :class:`Prior` or to its :meth:`Prior.to_dict`
            output.

        Returns
        -------
        Priors
            The defaults with the given priors replaced.

        Raises
        ------
        KeyError
            If an entry has no ``"distribution"``.
        ValueError
            If a distribution is unknown to PyMC.

        Examples
        --------
        >>> priors = Priors.from_dict({"b_scale": {"distribution": "HalfNormal", "sigma": 1.0}})
        >>> priors["b_scale"], priors["h_scale"]
        (Prior('HalfNormal', sigma=1.0), Prior('HalfNormal', sigma=5.0))
        """
        priors = cls.default()
        for name, item in state.items():
            priors[name] = item if isinstance(item, Prior) else Prior.from_dict(item)
        return priors

    def __repr__(self) -> str:
        lines = [f"  {name}: {prior!r}" for name, prior in self.items()]
        return "Priors(\n" + "\n".join(lines) + "\n)"

    def to_json(self) -> str:
        """Return the priors as a JSON string.

        Returns
        -------
        str
            JSON of :meth:`to_dict`.

        Examples
        --------
        >>> import json
        >>> json.loads(Priors.default().to_json())["a_scale"]
        {'distribution': 'HalfNormal', 'sigma': 50.0}
        """
        return json.dumps(self.to_dict())


def _round_factor(value: float) -> float:
    # Two significant digits keep the printed priors readable.
    if value <= 0 or not np.isfinite(value):
        return 1.0
    digits = 1 - int(math.floor(math.log10(value)))
    return round(value, digits)


def unit_factors(intensity: np.ndarray, response: np.ndarray) -> tuple[float, float]:
    """Measure how far the data's units lie from the %MSO and mV footing of the defaults.

    Intensities whose maximum lies within 10–100 and responses whose maximum
    lies within 0.01–20 keep a factor of 1. Outside those ranges the factor
    maps the data's maximum onto 100 %MSO and 5 mV.

    Parameters
    ----------
    intensity : numpy.ndarray
        Intensities of the fit.
    response : numpy.ndarray
        Responses of the fit, NaN where masked.

    Returns
    -------
    tuple of float
        ``(intensity_factor, response_factor)``.

    Examples
    --------
    >>> import numpy as np
    >>> unit_factors(np.array([50.0, 350.0]), np.array([0.1, 1.0]))
    (3.5, 1.0)
    """
    x_max = float(np.nanmax(intensity)) if np.size(intensity) else 0.0
    y_max = float(np.nanmax(response)) if np.isfinite(response).any() else 0.0
    x_factor = 1.0
    if x_max > 0 and not NOMINAL_INTENSITY_RANGE[0] <= x_max <= NOMINAL_INTENSITY_RANGE[1]:
        x_factor = _round_factor(x_max / REFERENCE_MAX_INTENSITY)
    y_factor = 1.0
    if y_max > 0 and not NOMINAL_RESPONSE_RANGE[0] <= y_max <= NOMINAL_RESPONSE_RANGE[1]:
        y_factor = _round_factor(y_max / REFERENCE_MAX_RESPONSE)
    return x_factor, y_factor
