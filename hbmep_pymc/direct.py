"""The default model's log density and draw expansion, written out for nutpie's numba back-end.

nutpie's numba back-end normally runs two functions that PyTensor derives
from the PyMC model: the log density with its gradient, and the expansion
of an unconstrained draw into every stored variable. For the default model
on the bundled data the log density has about 140 operations. numba took
about 30 s to compile the two functions in a process with an empty
compile cache, and one evaluation spent about 5 microseconds outside the
likelihood, a quarter of the total.

For the default model this module supplies both functions directly: the
priors, their log transforms and the non-centred products in a few loops,
and the likelihood through :func:`hbmep_pymc.fused.rectified_logistic_gamma`.
They are ordinary numba functions, compiled once per installation and
kept in numba's cache, and they take the model's layout and prior
parameters as arrays, so every data set and prior scale shares them.

A :class:`DirectPlan` records that layout. :func:`make_plan` returns one
only for the model the functions implement:

- rectified-logistic curve, gamma likelihood without the mixture,
  hierarchical (one set of hyperparameters);
- ``a_loc`` truncated normal with lower bound 0, ``a_scale`` and every
  ``*_scale`` half-normal, as in :meth:`hbmep_pymc.Priors.default`, with any
  parameter values;
- every free variable on the log scale;
- each shape parameter non-centred (``p = p_scale * p_raw``) or centred
  (``p ~ HalfNormal(p_scale)``), as :attr:`ModelSpec.centered` says.

Any other model gets ``None`` and is compiled from its PyTensor graph as
before. The tests compare the log density, its gradient and the expansion
with PyMC's on random points.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numba
import numpy as np
import pymc as pm

from hbmep_pymc import fused, site

SHAPE_PARAMETERS = ("b", "g", "h", "v", "c1", "c2")
"""Positive per-curve parameters, each ``scale * raw``, in the order of the layout."""

_A_LOC, _A_SCALE, _A = 0, 1, 2
_CURVES = 3 + 2 * len(SHAPE_PARAMETERS)
"""Entry of the layout that contains the number of curves."""
_CENTERED = _CURVES + 1
"""First of the layout's flags, one per shape parameter: 1 where it is sampled centred."""

_ALOC_MU, _ALOC_SIGMA, _ASCALE_SIGMA = 0, 1, 2
_HALF_LOG_2_OVER_PI = 0.5 * math.log(2.0 / math.pi)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
_CLIP = 35.0
"""Standardised bounds are clipped here, as in :mod:`hbmep_pymc.distributions`."""

_EXP, _PRODUCT, _RATIO = 0, 1, 2
"""Kinds of rows of the expansion plan: ``exp`` of one block, the product of two blocks' ``exp``,
or the first block's ``exp`` divided by the second's (``p_raw`` of a centred ``p``)."""

DATA_NAMES = ("measurement_intensity", "response", "log_response", "measurement_curve")
"""Data of the fused model that the log density reads, in argument order."""


@dataclass(frozen=True)
class DirectPlan:
    """Positions of the variables in nutpie's flat vectors, and the prior parameters.

    Attributes
    ----------
    layout : numpy.ndarray of int64
        Offsets in the unconstrained vector of ``a_loc``, ``a_scale``,
        ``a``, then of each shape parameter's scale and per-curve values
        (``p_raw``, or ``p`` itself where it is centred); then the number
        of curves and one flag per shape parameter, 1 where it is centred.
    prior : numpy.ndarray of float64
        ``mu`` and ``sigma`` of the ``a_loc`` prior, then the ``sigma`` of
        ``a_scale`` and of each shape parameter's scale.
    expansion : numpy.ndarray of int64
        One row per block of the expanded vector after the unconstrained
        values: kind, target offset, first and second source offsets, length.
    n_dim, n_expanded : int
        Lengths of the unconstrained and the expanded vector.
    shape_info : tuple
        Names, slices and shapes of the blocks of the expanded vector, as
        nutpie describes them.
    """

    layout: np.ndarray
    prior: np.ndarray
    expansion: np.ndarray
    n_dim: int
    n_expanded: int
    shape_info: tuple


_PLANS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _eligible_priors(priors) -> bool:
    a_loc = priors[site.a_loc]
    parameters = set(a_loc.parameters)
    if a_loc.distribution != "TruncatedNormal" or not {"mu", "sigma"} <= parameters <= {"mu", "sigma", "lower"}:
        return False
    if a_loc.parameters.get("lower", 0.0) != 0.0:
        return False
    for name in [site.a_scale, *(f"{p}_scale" for p in SHAPE_PARAMETERS)]:
        prior = priors[name]
        if prior.distribution != "HalfNormal" or set(prior.parameters) != {"sigma"}:
            return False
    return True


def make_plan(model: pm.Model, spec) -> DirectPlan | None:
    """Return the plan of ``model`` when this module implements it, else None.

    Parameters
    ----------
    model : pymc.Model
        A model built by ``build_pymc_model(data, spec, fused_likelihood=True)``.
    spec : hbmep_pymc.building.ModelSpec
        Its structure.

    Returns
    -------
    DirectPlan or None
        None for every model other than the one described in the module's
        documentation.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import ModelSpec, build_pymc_model
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> spec = ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default())
    >>> plan = make_plan(build_pymc_model(data, spec, fused_likelihood=True), spec)
    >>> plan.n_dim  # 8 hyperparameters and 7 parameters for each of 6 curves
    50
    """
    from hbmep_pymc.building import FUSED_LIKELIHOOD, uses_fused_likelihood

    if not (uses_fused_likelihood(spec) and spec.hierarchical and _eligible_priors(spec.priors)):
        return None
    if FUSED_LIKELIHOOD not in model.named_vars:
        return None
    hyper = [site.a_loc, site.a_scale, *(f"{p}_scale" for p in SHAPE_PARAMETERS)]
    sampled = {p: p if p in spec.centered else f"{p}_raw" for p in SHAPE_PARAMETERS}
    per_curve = [site.a, *sampled.values()]
    free = [rv.name for rv in model.free_RVs]
    if sorted(free) != sorted(hyper + per_curve):
        return None

    def shape(name):
        return tuple(len(model.coords[dim]) for dim in model.named_vars_to_dims.get(name, ()))

    offsets, shapes, joined_names, slices = {}, {}, [], []
    count = 0
    for rv in model.free_RVs:
        transform = model.rvs_to_transforms.get(rv)
        if not isinstance(transform, pm.distributions.transforms.LogTransform):
            return None
        size = math.prod(shape(rv.name))
        offsets[rv.name] = count
        shapes[rv.name] = shape(rv.name)
        joined_names.append(model.rvs_to_values[rv].name)
        slices.append(slice(count, count + size))
        count += size
    n_dim = count
    if any(shapes[name] != () for name in hyper):
        return None
    curves = math.prod(shapes[site.a])
    if any(math.prod(shapes[name]) != curves for name in per_curve):
        return None

    layout = [offsets[site.a_loc], offsets[site.a_scale], offsets[site.a]]
    for p in SHAPE_PARAMETERS:
        layout += [offsets[f"{p}_scale"], offsets[sampled[p]]]
    layout.append(curves)
    layout += [int(p in spec.centered) for p in SHAPE_PARAMETERS]

    priors = spec.priors
    prior = [priors[site.a_loc].parameters["mu"], priors[site.a_loc].parameters["sigma"]]
    prior += [priors[name].parameters["sigma"] for name in [site.a_scale, *(f"{p}_scale" for p in SHAPE_PARAMETERS)]]

    names, all_slices, all_shapes = list(joined_names), list(slices), [shapes[rv.name] for rv in model.free_RVs]
    rows = []
    for variable in model.unobserved_value_vars:
        name = variable.name
        if name in joined_names:
            continue
        if name in offsets:
            length = math.prod(shapes[name])
            rows.append((_EXP, count, offsets[name], 0, length))
            block_shape = shapes[name]
        elif name in SHAPE_PARAMETERS:
            length = curves
            rows.append((_PRODUCT, count, offsets[f"{name}_scale"], offsets[f"{name}_raw"], length))
            block_shape = shape(name)
        elif name.endswith("_raw") and name[: -len("_raw")] in spec.centered:
            parameter = name[: -len("_raw")]
            length = curves
            rows.append((_RATIO, count, offsets[parameter], offsets[f"{parameter}_scale"], length))
            block_shape = shape(name)
        else:
            return None
        names.append(name)
        all_slices.append(slice(count, count + length))
        all_shapes.append(block_shape)
        count += length

    return DirectPlan(
        layout=np.array(layout, dtype=np.int64),
        prior=np.array(prior, dtype=np.float64),
        expansion=np.array(rows, dtype=np.int64).reshape(-1, 5),
        n_dim=n_dim,
        n_expanded=count,
        shape_info=(names, all_slices, all_shapes),
    )


def attach(model: pm.Model, plan: DirectPlan | None) -> None:
    """Remember ``plan`` for ``model``, for :func:`plan_of`.

    Parameters
    ----------
    model : pymc.Model
        The model.
    plan : DirectPlan or None
        Its plan; None removes any earlier one.
    """
    if plan is None:
        _PLANS.pop(model, None)
    else:
        _PLANS[model] = plan


def plan_of(model: pm.Model) -> DirectPlan | None:
    """Return the plan attached to ``model``, or None.

    Parameters
    ----------
    model : pymc.Model
        The model.

    Returns
    -------
    DirectPlan or None
        What :func:`attach` stored.
    """
    return _PLANS.get(model)


@numba.njit(cache=True, error_model="numpy")
def _log_upper_tail(alpha):
    # log(1 - Phi(alpha)) and its derivative, with alpha clipped. The derivative is zero where clipped.
    clipped = min(max(alpha, -_CLIP), _CLIP)
    tail = 0.5 * math.erfc(clipped / _SQRT2)
    density = math.exp(-0.5 * clipped * clipped - _LOG_SQRT_2PI)
    derivative = -density / tail if -_CLIP < alpha < _CLIP else 0.0
    return math.log(tail), derivative


@numba.njit(cache=True, error_model="numpy")
def log_density(x, layout, prior, intensity, response, log_response, curve):
    """Return the log density of the default model on nutpie's unconstrained vector, with its gradient.

    Parameters
    ----------
    x : numpy.ndarray
        Unconstrained values (every variable on the log scale), laid out
        as in :attr:`DirectPlan.layout`.
    layout, prior : numpy.ndarray
        :attr:`DirectPlan.layout` and :attr:`DirectPlan.prior`.
    intensity, response, log_response, curve : numpy.ndarray
        The fused model's data (see :data:`DATA_NAMES`).

    Returns
    -------
    tuple
        The log density (float) and its gradient (array like ``x``).
    """
    curves = layout[_CURVES]
    gradient = np.zeros(x.shape[0])

    # a_loc ~ TruncatedNormal(mu0, sigma0, lower=0), whose normalising constant is fixed.
    theta = x[layout[_A_LOC]]
    a_loc = math.exp(theta)
    mu0 = prior[_ALOC_MU]
    sigma0 = prior[_ALOC_SIGMA]
    z = (a_loc - mu0) / sigma0
    log_tail, _ = _log_upper_tail(-mu0 / sigma0)
    total = -0.5 * z * z - math.log(sigma0) - _LOG_SQRT_2PI - log_tail + theta
    d_a_loc = -z / sigma0

    # a_scale ~ HalfNormal(sigma).
    theta = x[layout[_A_SCALE]]
    a_scale = math.exp(theta)
    ratio = a_scale / prior[_ASCALE_SIGMA]
    total += _HALF_LOG_2_OVER_PI - math.log(prior[_ASCALE_SIGMA]) - 0.5 * ratio * ratio + theta
    gradient[layout[_A_SCALE]] = 1.0 - ratio * ratio
    d_a_scale = 0.0

    # Per-curve values on the natural scale.
    a = np.empty(curves)
    values = np.empty((len(SHAPE_PARAMETERS), curves))
    for k in range(len(SHAPE_PARAMETERS)):
        log_scale = x[layout[3 + 2 * k]]
        scale = math.exp(log_scale)
        ratio = scale / prior[3 + k]
        total += _HALF_LOG_2_OVER_PI - math.log(prior[3 + k]) - 0.5 * ratio * ratio + log_scale
        gradient[layout[3 + 2 * k]] = 1.0 - ratio * ratio
        offset = layout[4 + 2 * k]
        if layout[_CENTERED + k]:
            # p_j ~ HalfNormal(scale), sampled as log(p_j).
            through_scale = 0.0
            for j in range(curves):
                theta = x[offset + j]
                value = math.exp(theta)
                ratio = value / scale
                total += _HALF_LOG_2_OVER_PI - log_scale - 0.5 * ratio * ratio + theta
                gradient[offset + j] = 1.0 - ratio * ratio
                through_scale += ratio * ratio - 1.0
                values[k, j] = value
            gradient[layout[3 + 2 * k]] += through_scale
        else:
            # p_j = scale * raw_j with raw_j ~ HalfNormal(1), sampled as log(raw_j).
            for j in range(curves):
                theta = x[offset + j]
                raw = math.exp(theta)
                total += _HALF_LOG_2_OVER_PI - 0.5 * raw * raw + theta
                gradient[offset + j] = 1.0 - raw * raw
                values[k, j] = scale * raw

    # a ~ TruncatedNormal(a_loc, a_scale, lower=0), one per curve.
    alpha = -a_loc / a_scale
    log_tail, d_log_tail = _log_upper_tail(alpha)
    a_offset = layout[_A]
    for j in range(curves):
        theta = x[a_offset + j]
        a[j] = math.exp(theta)
        z = (a[j] - a_loc) / a_scale
        total += -0.5 * z * z - math.log(a_scale) - _LOG_SQRT_2PI - log_tail + theta
        gradient[a_offset + j] = 1.0 - z * a[j] / a_scale
        d_a_loc += z / a_scale
        d_a_scale += (z * z - 1.0) / a_scale
    # The normalising constant depends on a_loc and a_scale through alpha = -a_loc / a_scale.
    d_a_loc += curves * d_log_tail / a_scale
    d_a_scale += curves * d_log_tail * alpha / a_scale

    value, ga, gb, gg, gh, gv, gc1, gc2 = fused.rectified_logistic_gamma(
        intensity, response, log_response, curve,
        a, values[0], values[1], values[2], values[3], values[4], values[5],
    )
    total += value[()]
    for j in range(curves):
        gradient[a_offset + j] += ga[j] * a[j]
    for k, likelihood_gradient in enumerate((gb, gg, gh, gv, gc1, gc2)):
        offset = layout[4 + 2 * k]
        through_scale = 0.0
        for j in range(curves):
            # d/d log(p_j) is p_j dL/dp_j. Where p_j = scale * raw_j, so are d/d log(raw_j) and
            # d/d log(scale). A centred p_j does not depend on the scale.
            term = likelihood_gradient[j] * values[k, j]
            gradient[offset + j] += term
            through_scale += term
        if not layout[_CENTERED + k]:
            gradient[layout[3 + 2 * k]] += through_scale

    gradient[layout[_A_LOC]] = 1.0 + d_a_loc * a_loc
    gradient[layout[_A_SCALE]] += d_a_scale * a_scale
    return total, gradient


@numba.njit(cache=True, error_model="numpy")
def expand(x, expansion, n_expanded):
    """Expand an unconstrained draw into every stored variable, as nutpie stores them.

    Parameters
    ----------
    x : numpy.ndarray
        Unconstrained values.
    expansion : numpy.ndarray
        :attr:`DirectPlan.expansion`.
    n_expanded : int
        :attr:`DirectPlan.n_expanded`.

    Returns
    -------
    tuple
        One array: ``x``, then each block of :attr:`DirectPlan.expansion`.
    """
    out = np.empty(n_expanded)
    for i in range(x.shape[0]):
        out[i] = x[i]
    for row in range(expansion.shape[0]):
        target = expansion[row, 1]
        first = expansion[row, 2]
        second = expansion[row, 3]
        for i in range(expansion[row, 4]):
            if expansion[row, 0] == _EXP:
                out[target + i] = math.exp(x[first + i])
            elif expansion[row, 0] == _PRODUCT:
                out[target + i] = math.exp(x[first]) * math.exp(x[second + i])
            else:
                out[target + i] = math.exp(x[first + i]) / math.exp(x[second])
    return (out,)
