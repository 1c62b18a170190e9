"""Elementary functions as plain arithmetic, so that numba vectorises the loops that call them.

Numba compiles ``math.exp``, ``math.log`` and ``math.lgamma`` into calls of
the C library, one value at a time. A loop that contains such a call runs
one cell per iteration. The functions here use only additions,
multiplications, divisions, comparisons and bit operations on the IEEE 754
representation, with no branches that the compiler cannot turn into
selects. LLVM then evaluates four or eight cells per instruction (AVX2 or
AVX-512), which made the fused likelihood of :mod:`hbmep_pymc.fused`
several times faster.

Each function is accurate to a few units in the last place over the
arguments the models use, and returns what the C library returns at
zero, infinity and NaN. The tests compare them with NumPy and SciPy,
compiled as written and compiled with reordered additions
(``fastmath={"reassoc", ...}``), which the fused likelihood needs to sum
on vector registers. Reordering costs :func:`exp` some accuracy: the
relative error grows to about 1e-13 near ``|x| = 700``, and subnormal
results lose bits. The likelihood takes :func:`exp` of ``-|z|`` only and
adds the result to 1, so neither matters there.

- :func:`exp`: ``x = n ln 2 + r`` with ``|r| <= ln(2) / 2``, a Taylor
  polynomial of degree 13 for ``exp(r)``, and ``n`` added to the exponent bits.
- :func:`log`: ``x = 2**k m`` with ``m`` in ``[sqrt(1/2), sqrt(2))`` and
  ``log(m) = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``, summed to ``s**23``.
- :func:`log1p`: below 0.25 in magnitude ``2 atanh(x / (2 + x))`` by the
  same series, elsewhere ``log(1 + x)``. :func:`log1p_unit` takes the
  series further and covers ``[0, 1]`` alone.
- :func:`lgamma_digamma`: both functions of one positive argument.
  Arguments below ``1e8`` are raised by 10 with the recurrence
  ``Gamma(x + 1) = x Gamma(x)``; the product ``x (x + 1) ... (x + 9)`` and its
  derivative give both corrections with one logarithm and one division.
  Stirling's series to the term in ``z**-15`` then has a relative error
  below 1e-16 for ``z >= 10``.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


@intrinsic
def _bits(typingctx, value):
    """Return the IEEE 754 bits of a float64, as an int64."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, value):
    """Return the float64 whose IEEE 754 bits are the given int64."""
    if value != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


def _split_ln2() -> tuple[float, float]:
    # ln 2 as a float with its low 32 mantissa bits cleared, plus the rest:
    # n * _LN2_HI is then exact for every exponent n of a float64.
    with localcontext() as context:
        context.prec = 50
        exact = Decimal(2).ln()
        high_bits = np.float64(float(exact)).view(np.int64) & ~np.int64(0xFFFFFFFF)
        high = float(np.int64(high_bits).view(np.float64))
        return high, float(exact - Decimal(high))


_LN2_HI, _LN2_LO = _split_ln2()
_LOG2E = 1.0 / math.log(2.0)
_ROUNDING_SHIFT = 6755399441055744.0
"""``1.5 * 2**52``: the bits of ``n + 1.5 * 2**52`` minus its own bits are the integer ``n``."""

_EXPONENT_SHIFT = 4503599627370496.0
"""``2**52``, whose bits with an integer below ``2**52`` in the mantissa read as that integer plus ``2**52``."""

_EXP_MAX = 709.782712893384
_EXP_MIN = -745.1332191019412
_SQRT2 = math.sqrt(2.0)
_SMALLEST_NORMAL = 2.2250738585072014e-308
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_EXPONENT_BITS = 0x4330000000000000
_LOG1P_NEAR = 0.25
"""Below this magnitude :func:`log1p` sums its own series; ``|s| < 1 / 7`` there."""

_SHIFTED_MAXIMUM = 1e8
"""Above this argument Stirling's series is used directly."""


@numba.njit(cache=True, error_model="numpy", inline="always")
def exp(x: float) -> float:
    """Return ``e**x``, in a form that numba vectorises.

    Parameters
    ----------
    x : float
        Argument.

    Returns
    -------
    float
        ``e**x``; 0 below about -745, inf above about 709.78, NaN for NaN.

    Examples
    --------
    >>> abs(exp(1.0) - math.e) < 1e-15
    True
    """
    clamped = min(max(x, -1075.0), 1025.0)
    n = math.floor(clamped * _LOG2E + 0.5)
    r = (clamped - n * _LN2_HI) - n * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    # The integer n, read from the bits of n + 1.5 * 2**52.
    k = _bits(n + _ROUNDING_SHIFT) - _bits(_ROUNDING_SHIFT)
    # p 2**n: for a normal result, add n to the exponent bits of p. Near and below the
    # subnormal range, multiply by 2**n in two factors.
    normal = _from_bits(_bits(p) + (k << 52))
    half = k >> 1
    tiny = p * _from_bits((half + 1023) << 52) * _from_bits((k - half + 1023) << 52)
    value = normal if k > -1020 else tiny
    value = 0.0 if x < _EXP_MIN else value
    value = math.inf if x > _EXP_MAX else value
    return x if x != x else value


@numba.njit(cache=True, error_model="numpy", inline="always")
def _atanh_series(z):
    # (atanh(s) / s - 1) / s**2 = 1/3 + z/5 + z**2/7 + ... with z = s**2, to the term in z**10.
    p = 1.0 / 23.0
    p = p * z + 1.0 / 21.0
    p = p * z + 1.0 / 19.0
    p = p * z + 1.0 / 17.0
    p = p * z + 1.0 / 15.0
    p = p * z + 1.0 / 13.0
    p = p * z + 1.0 / 11.0
    p = p * z + 1.0 / 9.0
    p = p * z + 1.0 / 7.0
    p = p * z + 1.0 / 5.0
    return p * z + 1.0 / 3.0


@numba.njit(cache=True, error_model="numpy", inline="always")
def log(x: float) -> float:
    """Return the natural logarithm of ``x``, in a form that numba vectorises.

    Parameters
    ----------
    x : float
        Argument.

    Returns
    -------
    float
        ``ln(x)``; -inf at 0, inf at inf, NaN below 0 and for NaN.

    Examples
    --------
    >>> abs(log(math.e) - 1.0) < 1e-15
    True
    """
    subnormal = x < _SMALLEST_NORMAL
    scaled = x * 18014398509481984.0 if subnormal else x
    bits = _bits(scaled)
    k = _from_bits((bits >> 52) | _EXPONENT_BITS) - _EXPONENT_SHIFT - 1023.0
    k = k - 54.0 if subnormal else k
    m = _from_bits((bits & _MANTISSA) | _ONE_BITS)
    above = m > _SQRT2
    m = 0.5 * m if above else m
    k = k + 1.0 if above else k
    s = (m - 1.0) / (m + 1.0)
    z = s * s
    p = _atanh_series(z)
    value = k * _LN2_HI + (2.0 * s + (2.0 * s * z * p + k * _LN2_LO))
    value = value if x > 0.0 else math.nan
    value = -math.inf if x == 0.0 else value
    value = math.inf if x == math.inf else value
    return x if x != x else value


@numba.njit(cache=True, error_model="numpy", inline="always")
def log1p(x: float) -> float:
    """Return ``log(1 + x)``, accurate for small ``x``, in a form that numba vectorises.

    Parameters
    ----------
    x : float
        Argument, at least -1.

    Returns
    -------
    float
        ``ln(1 + x)``.

    Examples
    --------
    >>> log1p(1e-20)
    1e-20
    """
    # Near zero, log(1 + x) = 2 atanh(s) with s = x / (2 + x), summed like log's series: no
    # rounding of 1 + x enters. Elsewhere 1 + x carries no cancellation.
    s = x / (2.0 + x)
    z = s * s
    p = _atanh_series(z)
    near = 2.0 * s + 2.0 * s * z * p
    far = log(1.0 + x)
    return near if abs(x) < _LOG1P_NEAR else far


@numba.njit(cache=True, error_model="numpy", inline="always")
def log1p_unit(x: float) -> float:
    """Return ``log(1 + x)`` for ``0 <= x <= 1`` with one division, in a form that numba vectorises.

    ``2 atanh(s)`` with ``s = x / (2 + x) <= 1 / 3``, summed to ``s**35``. It
    is shorter than :func:`log1p`, which also covers the rest of the line.

    Parameters
    ----------
    x : float
        Argument, from 0 to 1.

    Returns
    -------
    float
        ``ln(1 + x)``; outside ``[0, 1]`` the series is truncated too early.

    Examples
    --------
    >>> abs(log1p_unit(1.0) - math.log(2.0)) < 1e-15
    True
    """
    return log1p_unit_ratio(x / (2.0 + x))


@numba.njit(cache=True, error_model="numpy", inline="always")
def log1p_unit_ratio(s: float) -> float:
    """Return :func:`log1p_unit` of ``x``, given ``s = x / (2 + x)``.

    For callers that get ``s`` from a division they make anyway.

    Parameters
    ----------
    s : float
        ``x / (2 + x)``, from 0 to 1/3.

    Returns
    -------
    float
        ``ln(1 + x) = 2 atanh(s)``.

    Examples
    --------
    >>> abs(log1p_unit_ratio(1.0 / 3.0) - math.log(2.0)) < 1e-15
    True
    """
    z = s * s
    p = 1.0 / 35.0
    for k in range(16, 0, -1):
        p = p * z + 1.0 / (2 * k + 1)
    return 2.0 * s + 2.0 * s * z * p


@numba.njit(cache=True, error_model="numpy", inline="always")
def lgamma_digamma(x: float) -> tuple[float, float]:
    """Return the log-gamma and digamma functions of a positive argument, in a form that numba vectorises.

    Parameters
    ----------
    x : float
        Argument, positive.

    Returns
    -------
    tuple of float
        ``ln Gamma(x)`` and ``psi(x)``: ``(inf, -inf)`` at 0, ``(inf, inf)`` at
        inf. Negative arguments are outside the domain and give meaningless values.

    Examples
    --------
    >>> lgamma, digamma = lgamma_digamma(1.0)
    >>> abs(lgamma) < 1e-14, abs(digamma + 0.5772156649015329) < 1e-14
    (True, True)
    """
    large = x > _SHIFTED_MAXIMUM
    # product = x (x + 1) ... (x + 9) and derivative = its derivative, by the product rule.
    base = min(x, _SHIFTED_MAXIMUM)
    product = base
    derivative = 1.0
    for step in range(1, 10):
        factor = base + step
        derivative = derivative * factor + product
        product = product * factor
    z = x if large else x + 10.0
    inverse = 1.0 / z
    f = inverse * inverse
    log_z = log(z)
    # Stirling's series for ln Gamma(z) and psi(z), with coefficients B_2k / (2k (2k - 1)) and B_2k / (2k).
    series = -3617.0 / 122400.0
    series = series * f + 1.0 / 156.0
    series = series * f - 691.0 / 360360.0
    series = series * f + 1.0 / 1188.0
    series = series * f - 1.0 / 1680.0
    series = series * f + 1.0 / 1260.0
    series = series * f - 1.0 / 360.0
    series = series * f + 1.0 / 12.0
    lgamma = (z - 0.5) * log_z - z + _HALF_LOG_2PI + series * inverse
    psi_series = -3617.0 / 8160.0
    psi_series = psi_series * f + 1.0 / 12.0
    psi_series = psi_series * f - 691.0 / 32760.0
    psi_series = psi_series * f + 1.0 / 132.0
    psi_series = psi_series * f - 1.0 / 240.0
    psi_series = psi_series * f + 1.0 / 252.0
    psi_series = psi_series * f - 1.0 / 120.0
    psi_series = psi_series * f + 1.0 / 12.0
    digamma = log_z - 0.5 * inverse - psi_series * f
    # Computed for every argument, so that the choice below is a select rather than a branch.
    log_product = log(product)
    ratio = derivative / product
    lgamma = lgamma if large else lgamma - log_product
    digamma = digamma if large else digamma - ratio
    lgamma = math.inf if x == math.inf else lgamma
    digamma = math.inf if x == math.inf else digamma
    return lgamma, digamma
