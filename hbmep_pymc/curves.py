"""Registry of the curve functions a model can fit.

Each curve is a small object with a lookup name, the parameters it uses and
the formula from :mod:`hbmep_pymc.functional`. Saved model states store the
name, and :func:`get_curve` maps it back.

Examples
--------
>>> from hbmep_pymc.curves import get_curve
>>> get_curve("logistic4").parameters
('a', 'b', 'g', 'h')
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hbmep_pymc import functional as F


@dataclass(frozen=True)
class Curve:
    """A recruitment-curve function.

    Attributes
    ----------
    name : str
        Lookup name, as stored in files and InferenceData attrs.
    parameters : tuple of str
        Curve parameters in call order after the intensity.
    formula : str
        The formula in the notation of the model page.
    function : callable
        ``function(x, **parameters, eps=...)`` for curves with a hard maximum,
        ``function(x, **parameters)`` for the smooth sigmoids.
    inverse : callable
        Intensity that gives a response, NaN where none does.
    has_threshold : bool
        Whether ``a`` is a threshold (True) or an S50 (False).

    Examples
    --------
    Call a curve with keyword parameters. At its S50 the logistic-4 curve is
    halfway between offset and saturation:

    >>> curve = get_curve("logistic4")
    >>> curve
    Curve('logistic4': g + h / (1 + exp(-b (x - a))))
    >>> round(float(curve(50.0, a=50, b=0.2, g=0.01, h=2.0)), 6)
    1.01
    """

    name: str
    parameters: tuple[str, ...]
    formula: str
    function: Callable
    inverse: Callable
    has_threshold: bool

    def __call__(self, x, *, eps: float | None = None, **parameters):
        """Evaluate the curve at intensity ``x`` with the given parameters."""
        values = {name: parameters[name] for name in self.parameters}
        if self.has_threshold:
            return self.function(x, **values, eps=eps)
        return self.function(x, **values)

    def __repr__(self) -> str:
        return f"Curve({self.name!r}: {self.formula})"


RECTIFIED_LOGISTIC = Curve(
    name="rectified_logistic",
    parameters=("a", "b", "g", "h", "v"),
    formula="g + max(0, -v + (h + v) / (1 + (h / v) exp(-b (x - a))))",
    function=F.rectified_logistic,
    inverse=F.rectified_logistic_inverse,
    has_threshold=True,
)

LOGISTIC4 = Curve(
    name="logistic4",
    parameters=("a", "b", "g", "h"),
    formula="g + h / (1 + exp(-b (x - a)))",
    function=F.logistic4,
    inverse=F.logistic4_inverse,
    has_threshold=False,
)

LOGISTIC5 = Curve(
    name="logistic5",
    parameters=("a", "b", "g", "h", "v"),
    formula="g + h / (1 + (2^v - 1) exp(-b (x - a)))^(1 / v)",
    function=F.logistic5,
    inverse=F.logistic5_inverse,
    has_threshold=False,
)

RECTIFIED_LINEAR = Curve(
    name="rectified_linear",
    parameters=("a", "b", "g"),
    formula="g + max(0, b (x - a))",
    function=F.rectified_linear,
    inverse=F.rectified_linear_inverse,
    has_threshold=True,
)

CURVES: dict[str, Curve] = {
    curve.name: curve for curve in (RECTIFIED_LOGISTIC, LOGISTIC4, LOGISTIC5, RECTIFIED_LINEAR)
}

_ALIASES = {
    "rectified-logistic": "rectified_logistic",
    "logistic-4": "logistic4",
    "logistic-5": "logistic5",
    "rectified-linear": "rectified_linear",
    "boltzmann": "logistic4",
}


def get_curve(curve: str | Curve | Callable) -> Curve:
    """Look up a curve by name, or pass a :class:`Curve` through.

    Parameters
    ----------
    curve : str or Curve or callable
        A registered name (``"rectified_logistic"``, ``"logistic4"``,
        ``"logistic5"``, ``"rectified_linear"``, or the hyphenated forms),
        a :class:`Curve`, or a callable with a ``curve_name`` attribute.

    Returns
    -------
    Curve
        The registered curve.

    Raises
    ------
    TypeError
        If ``curve`` is neither a name, a :class:`Curve` nor a callable
        with a ``curve_name`` attribute.
    ValueError
        If the name is not registered.

    Examples
    --------
    >>> get_curve("logistic-5").name
    'logistic5'
    """
    if isinstance(curve, Curve):
        return curve
    name = getattr(curve, "curve_name", curve)
    if not isinstance(name, str):
        raise TypeError(
            f"Curve function must be a name or a Curve, got {curve!r}. "
            f"Use one of: {', '.join(CURVES)}."
        )
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in CURVES:
        raise ValueError(f"Unknown curve function {name!r}. Use one of: {', '.join(CURVES)}.")
    return CURVES[key]
