"""A truncated normal distribution that every sampler back-end can compile.

PyMC's ``TruncatedNormal`` normalises its density with ``erfcx``, which
PyTensor cannot translate to JAX, so models with it fail on the numpyro and
blackjax back-ends. The threshold prior of the standard model and the
default ``a_loc`` prior are truncated normals, so the library defines its
own: the same density, normalised with ``erfc`` only.

The normalising constant is the probability mass of the normal between the
bounds. It is computed from the tail nearer the bounds, where ``erfc`` keeps
full relative precision, and the standardised bounds are clipped at 35
standard deviations, beyond which the mass underflows in double precision.
For the default priors (location at or above the lower bound of 0) the mass
lies between one half and one, so no precision is at stake.
"""

from __future__ import annotations

import math

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.shape_utils import rv_size_is_none
from scipy import stats

_SQRT2 = math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_CLIP = 35.0


def _upper_tail(z):
    """Compute the normal survival function ``1 - Phi(z)`` through ``erfc``."""
    return 0.5 * pt.erfc(z / _SQRT2)


def log_normal_mass(alpha, beta=None):
    """Log of the standard normal probability between ``alpha`` and ``beta``.

    Parameters
    ----------
    alpha : tensor_like
        Standardised lower bound.
    beta : tensor_like, optional
        Standardised upper bound; no upper bound when omitted.

    Returns
    -------
    pytensor.tensor.TensorVariable
        ``log(Phi(beta) - Phi(alpha))``.

    Examples
    --------
    >>> round(float(log_normal_mass(0.0).eval()), 6)  # half the mass lies above 0
    -0.693147
    >>> round(float(log_normal_mass(-1.0, 1.0).eval()), 4)
    -0.3817
    """
    alpha = pt.clip(pt.as_tensor_variable(alpha), -_CLIP, _CLIP)
    if beta is None:
        return pt.log(_upper_tail(alpha))
    beta = pt.clip(pt.as_tensor_variable(beta), -_CLIP, _CLIP)
    # Both bounds in the upper tail: subtract upper tails. Otherwise reflect, so
    # the difference is always taken between two small survival values.
    upper_side = _upper_tail(alpha) - _upper_tail(beta)
    lower_side = _upper_tail(-beta) - _upper_tail(-alpha)
    return pt.log(pt.switch(alpha > 0, upper_side, lower_side))


def truncated_normal_logp(value, mu, sigma, lower, upper):
    """Compute the log-density of a normal truncated to ``[lower, upper]``.

    Parameters
    ----------
    value : tensor_like
        Points to evaluate.
    mu, sigma : tensor_like
        Location and scale of the untruncated normal.
    lower : tensor_like
        Lower bound.
    upper : tensor_like
        Upper bound; ``inf`` for none.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The log-density, ``-inf`` outside the bounds.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> ours = truncated_normal_logp(1.0, 2.0, 3.0, 0.0, np.inf).eval()
    >>> bool(np.isclose(ours, stats.truncnorm.logpdf(1.0, -2 / 3, np.inf, loc=2.0, scale=3.0)))
    True
    """
    # Python numbers would become float32 constants where exact (15.0, say), and
    # the log of a float32 is only good to 1e-7.
    value, mu, sigma, lower, upper = (
        pt.as_tensor_variable(x).astype("float64") for x in (value, mu, sigma, lower, upper)
    )
    z = (value - mu) / sigma
    alpha = (lower - mu) / sigma
    beta = (upper - mu) / sigma
    log_mass = pt.switch(pt.isinf(upper), log_normal_mass(alpha), log_normal_mass(alpha, beta))
    logp = -0.5 * z**2 - pt.log(sigma) - _LOG_SQRT_2PI - log_mass
    inside = (value >= lower) & (value <= upper)
    return pt.switch(inside, logp, -np.inf)


def _truncated_normal_random(mu, sigma, lower, upper, rng=None, size=None):
    return stats.truncnorm.rvs(
        (lower - mu) / sigma, (upper - mu) / sigma, loc=mu, scale=sigma, size=size, random_state=rng
    )


def _truncated_normal_support_point(rv, size, mu, sigma, lower, upper):
    # A point strictly inside the bounds near the mode, for PyMC's default start.
    point = pt.clip(mu, lower + 0.1 * sigma, upper - 0.1 * sigma)
    point = pt.switch(pt.isinf(upper), pt.maximum(mu, lower + 0.1 * sigma), point)
    if rv_size_is_none(size):
        return point
    return pt.full(size, point)


def TruncatedNormal(name: str, mu, sigma, lower=0.0, upper=None, **kwargs):
    """Add a truncated normal random variable to the current PyMC model.

    It has the density of :class:`pymc.TruncatedNormal` but compiles on the
    JAX back-ends as well.

    Parameters
    ----------
    name : str
        Variable name.
    mu, sigma : tensor_like
        Location and scale of the normal before truncation.
    lower : float, default 0.0
        Lower bound.
    upper : float, optional
        Upper bound; none by default.
    **kwargs
        Passed to :class:`pymc.CustomDist`, for example ``dims``.

    Returns
    -------
    pytensor.tensor.TensorVariable
        The random variable, sampled on the log scale of ``value - lower``
        (or on the interval scale when ``upper`` is given).

    Raises
    ------
    ValueError
        If ``lower`` is not finite or not below ``upper``.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     a_loc = TruncatedNormal("a_loc", mu=50.0, sigma=50.0)
    >>> round(float(model.compile_logp()({"a_loc_log__": 3.0})), 3)
    -1.837
    """
    if lower is None or not np.isfinite(lower):
        raise ValueError(f"TruncatedNormal needs a finite lower bound, got {lower!r}.")
    if upper is not None and not upper > lower:
        raise ValueError(f"TruncatedNormal needs upper > lower, got lower={lower!r}, upper={upper!r}.")
    if upper is None and lower == 0:
        transform = pm.distributions.transforms.log
    else:
        transform = pm.distributions.transforms.Interval(lower=lower, upper=upper)
    kwargs.setdefault("transform", transform)
    return pm.CustomDist(
        name,
        mu,
        sigma,
        float(lower),
        np.inf if upper is None else float(upper),
        logp=truncated_normal_logp,
        random=_truncated_normal_random,
        support_point=_truncated_normal_support_point,
        **kwargs,
    )
