"""Recruitment-curve functions and the quantities derived from them.

Every function here accepts NumPy arrays or PyTensor tensors and broadcasts
its arguments, so the same definition serves the PyMC model, predictions
over all posterior draws, and plain NumPy analysis.

Notation: ``x`` intensity, ``a`` threshold (S50 for the sigmoids), ``b``
growth rate, ``g`` offset, ``h`` height from offset to saturation, ``v``
shape. All of ``b, g, h, v`` are positive.

Examples
--------
>>> import numpy as np
>>> from hbmep_pymc import functional as F
>>> x = np.array([20.0, 30.0, 40.0])
>>> y = F.rectified_logistic(x, a=30, b=0.5, g=0.01, h=1.0, v=0.5)
>>> bool(np.isclose(y[1], 0.01))
True
>>> round(float(F.rectified_logistic_inverse(y[2], a=30, b=0.5, g=0.01, h=1.0, v=0.5)), 6)
40.0
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytensor.tensor as pt
from scipy import special

EPS = 1e-3
"""Width of the smooth maximum used inside the models, in response units."""

_LN2 = math.log(2.0)

_NUMPY_OPS = SimpleNamespace(
    exp=np.exp,
    log=np.log,
    expm1=np.expm1,
    softplus=lambda u: np.logaddexp(0.0, u),
    sigmoid=special.expit,
    logit=special.logit,
    relu=lambda t: np.maximum(t, 0.0),
    where=np.where,
)

SOFTPLUS_CUTOFF = 30.0
"""Beyond ``|x| > 30``, ``softplus(x)`` equals ``max(x, 0)`` to within 1e-13."""


def _tensor_softplus(x):
    """``softplus`` for PyTensor graphs whose gradient stays finite on every back-end.

    PyTensor's JAX version of ``softplus`` selects among branches with
    ``where``, and evaluates all of them: ``exp(x)`` overflows for large
    ``x`` in a branch that is not selected, and its infinite gradient, times
    zero, turns the whole gradient into NaN. With the argument clipped, every
    branch stays finite; outside the clip the exact ``max(x, 0)`` is used.
    """
    inner = pt.softplus(pt.clip(x, -SOFTPLUS_CUTOFF, SOFTPLUS_CUTOFF))
    return pt.switch(pt.abs(x) < SOFTPLUS_CUTOFF, inner, pt.maximum(x, 0.0))


_PYTENSOR_OPS = SimpleNamespace(
    exp=pt.exp,
    log=pt.log,
    expm1=pt.expm1,
    softplus=_tensor_softplus,
    sigmoid=pt.sigmoid,
    logit=lambda p: pt.log(p) - pt.log1p(-p),
    relu=lambda t: pt.maximum(t, 0.0),
    where=pt.switch,
)


def _ops(*args):
    """Pick PyTensor operations when any argument is a tensor, else NumPy."""
    if any(isinstance(arg, pt.Variable) for arg in args):
        return _PYTENSOR_OPS
    return _NUMPY_OPS


def _asarrays(*args):
    if any(isinstance(arg, pt.Variable) for arg in args):
        return args
    return tuple(np.asarray(arg, dtype=float) for arg in args)


def smooth_relu(t, eps: float = EPS):
    """Smooth maximum of ``t`` and zero.

    ``t + (eps / ln 2) * ln(1 + exp(-t ln 2 / eps))``, written as a scaled
    softplus so that it neither overflows nor loses precision. It equals
    ``eps`` at ``t = 0`` and approaches ``max(0, t)`` elsewhere.

    Parameters
    ----------
    t : array_like or TensorVariable
        Argument.
    eps : float, default 1e-3
        Value at zero; smaller values give a sharper corner.

    Returns
    -------
    array_like or TensorVariable
        The smooth maximum, with the shape of ``t``.

    Examples
    --------
    >>> float(smooth_relu(0.0))
    0.001
    """
    (t,) = _asarrays(t)
    ops = _ops(t)
    return (eps / _LN2) * ops.softplus(t * _LN2 / eps)


def gamma_shape_rate(mu, c1, c2):
    """Compute the shape and rate of the models' gamma likelihood from its mean.

    The rate is ``beta = 1 / c1 + 1 / (c2 mu)`` and the shape
    ``alpha = mu beta``, so the variance ``c1 c2 mu^2 / (c1 + c2 mu)`` grows
    with the mean.

    Parameters
    ----------
    mu : array_like or TensorVariable
        Expected response (the curve's value).
    c1, c2 : array_like or TensorVariable
        Variance parameters.

    Returns
    -------
    tuple
        ``(alpha, beta)``, broadcast over all arguments.

    Examples
    --------
    >>> alpha, beta = gamma_shape_rate(1.0, c1=0.5, c2=0.5)
    >>> float(alpha), float(beta)
    (4.0, 4.0)
    """
    beta = 1.0 / c1 + 1.0 / (c2 * mu)
    return mu * beta, beta


def _rectified_logistic_core(x, a, b, h, v, ops):
    # (h + v) / (1 + (h / v) exp(-b (x - a))) is (h + v) * sigmoid(b (x - a) - ln(h / v)),
    # and expit does not overflow for intensities far below threshold.
    return -v + (h + v) * ops.sigmoid(b * (x - a) - ops.log(h) + ops.log(v))


def rectified_logistic(x, a, b, g, h, v, eps: float | None = None):
    """Rectified-logistic curve.

    ``f(x) = g + max(0, -v + (h + v) / (1 + (h / v) exp(-b (x - a))))``.
    ``f(a) = g`` exactly, so ``a`` is a threshold, and ``f`` tends to
    ``g + h`` as ``x`` grows.

    Parameters
    ----------
    x : array_like or TensorVariable
        Intensity.
    a, b, g, h, v : array_like or TensorVariable
        Threshold, growth rate, offset, height and shape.
    eps : float, optional
        When given, the hard maximum is replaced by :func:`smooth_relu`
        with this width, as in the models (which use ``1e-3``).

    Returns
    -------
    array_like or TensorVariable
        Expected response, broadcast over all arguments.

    Examples
    --------
    >>> float(rectified_logistic(10.0, a=30, b=0.5, g=0.01, h=1.0, v=0.5))
    0.01
    """
    x, a, b, g, h, v = _asarrays(x, a, b, g, h, v)
    ops = _ops(x, a, b, g, h, v)
    core = _rectified_logistic_core(x, a, b, h, v, ops)
    if eps is None:
        return g + ops.relu(core)
    return g + smooth_relu(core, eps)


def logistic4(x, a, b, g, h):
    """Logistic-4 (Boltzmann) curve, ``f(x) = g + h / (1 + exp(-b (x - a)))``.

    ``a`` is the S50, the intensity at half of the height.

    Parameters
    ----------
    x : array_like or TensorVariable
        Intensity.
    a, b, g, h : array_like or TensorVariable
        S50, growth rate, offset and height.

    Returns
    -------
    array_like or TensorVariable
        Expected response, broadcast over all arguments.

    Examples
    --------
    >>> float(logistic4(30.0, a=30, b=0.5, g=0.0, h=1.0))
    0.5
    """
    x, a, b, g, h = _asarrays(x, a, b, g, h)
    ops = _ops(x, a, b, g, h)
    return g + h * ops.sigmoid(b * (x - a))


def _log_two_pow_minus_one(v, ops):
    """``ln(2^v - 1)`` without cancellation for small ``v``."""
    return ops.log(ops.expm1(v * _LN2))


def logistic5(x, a, b, g, h, v):
    """Logistic-5 curve, ``f(x) = g + h / (1 + (2^v - 1) exp(-b (x - a)))^(1 / v)``.

    ``a`` is the S50 and ``v = 1`` gives :func:`logistic4`.

    Parameters
    ----------
    x : array_like or TensorVariable
        Intensity.
    a, b, g, h, v : array_like or TensorVariable
        S50, growth rate, offset, height and asymmetry.

    Returns
    -------
    array_like or TensorVariable
        Expected response, broadcast over all arguments.

    Examples
    --------
    >>> round(float(logistic5(30.0, a=30, b=0.5, g=0.0, h=1.0, v=2.0)), 6)
    0.5
    """
    x, a, b, g, h, v = _asarrays(x, a, b, g, h, v)
    ops = _ops(x, a, b, g, h, v)
    # ln(1 + (2^v - 1) e^{-z}) = softplus(ln(2^v - 1) - z)
    log_denominator = ops.softplus(_log_two_pow_minus_one(v, ops) - b * (x - a))
    return g + h * ops.exp(-log_denominator / v)


def rectified_linear(x, a, b, g, eps: float | None = None):
    """Rectified-linear curve, ``f(x) = g + max(0, b (x - a))``.

    Parameters
    ----------
    x : array_like or TensorVariable
        Intensity.
    a, b, g : array_like or TensorVariable
        Threshold, slope and offset.
    eps : float, optional
        When given, the hard maximum is replaced by :func:`smooth_relu`.

    Returns
    -------
    array_like or TensorVariable
        Expected response, broadcast over all arguments.

    Examples
    --------
    >>> float(rectified_linear(40.0, a=30, b=0.1, g=0.01))
    1.01
    """
    x, a, b, g = _asarrays(x, a, b, g)
    ops = _ops(x, a, b, g)
    if eps is None:
        return g + ops.relu(b * (x - a))
    return g + smooth_relu(b * (x - a), eps)


def _nan_outside(value, inside, ops):
    if ops is _NUMPY_OPS:
        return np.where(inside, value, np.nan)
    return pt.switch(inside, value, np.nan)


def rectified_logistic_inverse(y, a, b, g, h, v):
    """Intensity at which the rectified-logistic curve reaches ``y``.

    Defined for ``g < y < g + h``. Below or at the offset no single
    intensity gives ``y``, and the saturation ``g + h`` is never reached, so
    both return NaN.

    Parameters
    ----------
    y : array_like or TensorVariable
        Response.
    a, b, g, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Intensity, NaN where ``y`` is outside the curve's open range.

    Examples
    --------
    >>> float(rectified_logistic_inverse(0.01, a=30, b=0.5, g=0.01, h=1.0, v=0.5))
    nan
    """
    y, a, b, g, h, v = _asarrays(y, a, b, g, h, v)
    ops = _ops(y, a, b, g, h, v)
    inside = (y > g) & (y < g + h)
    share = (y - g + v) / (h + v)
    share = ops.where(inside, share, 0.5)
    x = a + (ops.logit(share) + ops.log(h) - ops.log(v)) / b
    return _nan_outside(x, inside, ops)


def logistic4_inverse(y, a, b, g, h):
    """Intensity at which the logistic-4 curve reaches ``y`` (NaN outside ``(g, g + h)``).

    Parameters
    ----------
    y : array_like or TensorVariable
        Response.
    a, b, g, h : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Intensity, NaN where ``y`` is outside the curve's open range.

    Examples
    --------
    >>> float(logistic4_inverse(0.5, a=30, b=0.5, g=0.0, h=1.0))
    30.0
    """
    y, a, b, g, h = _asarrays(y, a, b, g, h)
    ops = _ops(y, a, b, g, h)
    inside = (y > g) & (y < g + h)
    share = ops.where(inside, (y - g) / h, 0.5)
    return _nan_outside(a + ops.logit(share) / b, inside, ops)


def logistic5_inverse(y, a, b, g, h, v):
    """Intensity at which the logistic-5 curve reaches ``y`` (NaN outside ``(g, g + h)``).

    Parameters
    ----------
    y : array_like or TensorVariable
        Response.
    a, b, g, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Intensity, NaN where ``y`` is outside the curve's open range.

    Examples
    --------
    >>> float(logistic5_inverse(0.5, a=30, b=0.5, g=0.0, h=1.0, v=2.0))
    30.0
    """
    y, a, b, g, h, v = _asarrays(y, a, b, g, h, v)
    ops = _ops(y, a, b, g, h, v)
    inside = (y > g) & (y < g + h)
    share = ops.where(inside, (y - g) / h, 0.5)
    # (h / (y - g))^v - 1 = expm1(-v ln share)
    log_rest = ops.log(ops.expm1(-v * ops.log(share)))
    x = a + (_log_two_pow_minus_one(v, ops) - log_rest) / b
    return _nan_outside(x, inside, ops)


def rectified_linear_inverse(y, a, b, g):
    """Intensity at which the rectified-linear curve reaches ``y`` (NaN for ``y <= g``).

    Parameters
    ----------
    y : array_like or TensorVariable
        Response.
    a, b, g : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Intensity, NaN where ``y <= g``.

    Examples
    --------
    >>> float(rectified_linear_inverse(1.01, a=30, b=0.1, g=0.01))
    40.0
    """
    y, a, b, g = _asarrays(y, a, b, g)
    ops = _ops(y, a, b, g)
    return _nan_outside(a + (y - g) / b, y > g, ops)


def rectified_logistic_antiderivative(x, a, b, g, h, v):
    """Integral of the rectified-logistic curve (hard maximum) from 0 to ``x``.

    Above threshold the logistic part integrates to a softplus:
    ``(h + v) / b * (softplus(b (x - a) - ln(h / v)) - ln(1 + v / h)) - v (x - a)``.
    Below threshold only the offset ``g`` contributes.

    Parameters
    ----------
    x : array_like or TensorVariable
        Upper intensity, non-negative.
    a, b, g, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Area under the curve between 0 and ``x``, in response times
        intensity units.

    Examples
    --------
    >>> float(rectified_logistic_antiderivative(10.0, a=30, b=0.5, g=0.1, h=1.0, v=0.5))
    1.0
    """
    x, a, b, g, h, v = _asarrays(x, a, b, g, h, v)
    ops = _ops(x, a, b, g, h, v)
    above = ops.relu(x - a)
    log_ratio = ops.log(h) - ops.log(v)
    logistic_area = (h + v) / b * (ops.softplus(b * above - log_ratio) - ops.softplus(-log_ratio))
    return g * x + logistic_area - v * above


def rectified_logistic_area(x_low, x_high, a, b, g, h, v):
    """Area under the rectified-logistic curve between two intensities.

    Parameters
    ----------
    x_low, x_high : array_like or TensorVariable
        Integration bounds, with ``0 <= x_low``.
    a, b, g, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        ``F(x_high) - F(x_low)`` where ``F`` is
        :func:`rectified_logistic_antiderivative`.

    Examples
    --------
    >>> float(rectified_logistic_area(0.0, 10.0, a=30, b=0.5, g=0.1, h=1.0, v=0.5))
    1.0
    """
    upper = rectified_logistic_antiderivative(x_high, a, b, g, h, v)
    lower = rectified_logistic_antiderivative(x_low, a, b, g, h, v)
    return upper - lower


def rectified_logistic_threshold_slope(b, h, v):
    """Right-hand slope of the rectified-logistic curve at threshold, ``b h v / (h + v)``.

    Parameters
    ----------
    b, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Slope in response units per intensity unit.

    Examples
    --------
    >>> float(rectified_logistic_threshold_slope(b=0.5, h=1.0, v=1.0))
    0.25
    """
    b, h, v = _asarrays(b, h, v)
    return b * h * v / (h + v)


def rectified_logistic_s50(a, b, h, v):
    """Intensity at half of saturation, ``a + ln((h + 2 v) / v) / b``.

    Parameters
    ----------
    a, b, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Intensity at which ``f = g + h / 2``.

    Examples
    --------
    >>> round(float(rectified_logistic_s50(a=30, b=0.5, h=1.0, v=1.0)), 4)
    32.1972
    """
    a, b, h, v = _asarrays(a, b, h, v)
    ops = _ops(a, b, h, v)
    return a + ops.log((h + 2.0 * v) / v) / b


def rectified_logistic_inflection(a, b, h, v):
    """Intensity of the inflection point, ``a + ln(h / v) / b``.

    The inflection lies above the threshold only when ``h > v``; otherwise
    the curve is concave from threshold on and the returned intensity is at
    or below ``a``.

    Parameters
    ----------
    a, b, h, v : array_like or TensorVariable
        Curve parameters.

    Returns
    -------
    array_like or TensorVariable
        Intensity at which the logistic part has zero second derivative.

    Examples
    --------
    >>> float(rectified_logistic_inflection(a=30, b=0.5, h=1.0, v=1.0))
    30.0
    """
    a, b, h, v = _asarrays(a, b, h, v)
    ops = _ops(a, b, h, v)
    return a + (ops.log(h) - ops.log(v)) / b
