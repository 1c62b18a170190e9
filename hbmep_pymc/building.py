"""Construction of the PyMC models from prepared data, a curve and priors."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from hbmep_pymc import direct, fused, site
from hbmep_pymc.curves import Curve
from hbmep_pymc.data import PreparedData
from hbmep_pymc.distributions import TruncatedNormal
from hbmep_pymc.functional import EPS, gamma_shape_rate
from hbmep_pymc.priors import Priors

MEASUREMENT_DIM = "measurement"
"""Dim of the observed cells: one response of one muscle on one pulse."""

OBSERVATION_DIM = "observation"
"""Dim of the data-frame rows (pulses)."""

MUSCLE_DIM = "muscle"

FUSED_LIKELIHOOD = "obs_logp"
"""Name of the potential that contains the fused likelihood."""


@dataclass
class ModelSpec:
    """Structural choices of a model: curve, priors, pooling and mixture.

    Attributes
    ----------
    curve : Curve
        The curve function.
    priors : Priors
        Hyperpriors, in the data's units.
    hierarchical : bool, default True
        Share the hyperparameters across curves (partial pooling).
    mixture : bool, default False
        Add the outlier component to the likelihood.
    centered : tuple of str, default ()
        Positive parameters sampled in the centred form ``p ~ HalfNormal(p_scale)``
        instead of ``p = p_scale * p_raw``. The model is the same; only the
        variables the sampler moves differ (see :func:`choose_centered`).

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> spec = ModelSpec(mep.get_curve("logistic4"), mep.Priors.default(), mixture=True)
    >>> spec.hierarchical, spec.mixture
    (True, True)
    """

    curve: Curve
    priors: Priors
    hierarchical: bool = True
    mixture: bool = False
    centered: tuple[str, ...] = ()


def measurement_index(data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """Row and muscle index of every observed cell, in row-major order.

    Parameters
    ----------
    data : PreparedData
        Validated data.

    Returns
    -------
    rows, muscles : numpy.ndarray
        Integer indices, one pair per observed response.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> rows, muscles = measurement_index(data)
    >>> rows[:4].tolist(), muscles[:4].tolist()
    ([0, 0, 1, 1], [0, 1, 0, 1])
    """
    rows, muscles = np.nonzero(data.observed)
    return rows.astype(np.int64), muscles.astype(np.int64)


def model_coords(data: PreparedData) -> dict[str, list]:
    """Coords of every dim of the model, with the user's labels.

    Parameters
    ----------
    data : PreparedData
        Validated data.

    Returns
    -------
    dict of str to list
        Feature dims, ``muscle``, ``observation`` (the frame's index) and
        ``measurement`` (one entry per observed cell).

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> coords = model_coords(data)
    >>> coords["participant"], coords["muscle"], len(coords["measurement"])
    (['P1', 'P2', 'P3'], ['PKPK_ECR', 'PKPK_FCR'], 490)
    """
    coords = data.coords()
    index = data.df.index
    coords[OBSERVATION_DIM] = list(index) if index.is_unique else list(range(len(index)))
    coords[MEASUREMENT_DIM] = list(range(int(data.observed.sum())))
    return coords


def sampled_variables(spec: ModelSpec) -> list[str]:
    """Names of the free (sampled) variables, hyperparameters first.

    Parameters
    ----------
    spec : ModelSpec
        The model's structure.

    Returns
    -------
    list of str
        Variable names.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> sampled_variables(ModelSpec(mep.get_curve("logistic4"), mep.Priors.default()))[:4]
    ['a_loc', 'a_scale', 'b_scale', 'g_scale']
    """
    names = [site.a_loc, site.a_scale]
    shape_parameters = [p for p in spec.curve.parameters if p != site.a] + [site.c1, site.c2]
    names += [f"{p}_scale" for p in shape_parameters]
    if spec.mixture:
        names.append(site.outlier_prob)
    names.append(site.a)
    names += [p if p in spec.centered else f"{p}_raw" for p in shape_parameters]
    return names


def curve_variables(spec: ModelSpec) -> list[str]:
    """Names of the per-curve parameters (curve parameters plus ``c1`` and ``c2``).

    Parameters
    ----------
    spec : ModelSpec
        The model's structure.

    Returns
    -------
    list of str
        Parameter names, ``a`` first.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> curve_variables(ModelSpec(mep.get_curve("rectified_linear"), mep.Priors.default()))
    ['a', 'b', 'g', 'c1', 'c2']
    """
    return [*spec.curve.parameters, site.c1, site.c2]


CENTERED_WHEN_DENSE = (site.g, site.h, site.c1, site.c2)
"""Parameters that :func:`choose_centered` samples centred when curves have dense data."""

DENSE_CURVE = 40
"""Median number of observed responses per curve from which data count as dense."""


def choose_centered(data: PreparedData, curve: Curve, hierarchical: bool = True) -> tuple[str, ...]:
    """Choose the positive parameters to sample in the centred form, from the data.

    Offset, height and the two noise parameters are sampled centred,
    ``p ~ HalfNormal(p_scale)``, when the model is hierarchical and the
    median curve has at least :data:`DENSE_CURVE` observed responses.
    Otherwise every positive parameter stays non-centred,
    ``p = p_scale * p_raw``. Both forms are the same model.

    With dense data each curve's data pin its ``g``, ``h``, ``c1`` and
    ``c2``. In the non-centred form ``p_scale`` can then move only if every
    ``p_raw`` moves the other way, a direction a diagonal mass matrix does
    not capture. Measured with 4 chains of 1000 + 1000 draws on a 2-core
    CPU (``docs/performance.md``): on the bundled data (about 80 responses
    per curve) centring took 80 instead of 135 leapfrog steps per draw at
    the same minimum ESS. With 32 participants, 6 muscles and 48 pulses the
    minimum ESS of the scales rose from about 55 to over 470, and their
    largest r_hat fell from 1.07 to 1.009. With 12 or 24 pulses per curve
    centring took fewer steps too, but the thresholds mixed worse (r_hat up
    to 1.03), so sparse data keep the non-centred form. ``b`` and ``v`` are less well
    identified by a curve's data and stay non-centred (centring them made
    ``v_scale`` mix badly).

    Parameters
    ----------
    data : PreparedData
        Validated data.
    curve : Curve
        The curve function.
    hierarchical : bool, default True
        Whether the scales are shared across curves.

    Returns
    -------
    tuple of str
        Parameter names, in the order of :func:`curve_variables`; empty for
        sparse data and for non-hierarchical models.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> choose_centered(data, mep.get_curve("rectified_logistic"))
    ('g', 'h', 'c1', 'c2')
    >>> choose_centered(data, mep.get_curve("rectified_linear"))
    ('g', 'c1', 'c2')
    """
    if not hierarchical:
        return ()
    counts = np.bincount(measurement_curve(data))
    counts = counts[counts > 0]
    if counts.size == 0 or np.median(counts) < DENSE_CURVE:
        return ()
    return tuple(p for p in (*curve.parameters, site.c1, site.c2) if p in CENTERED_WHEN_DENSE)


def check_centered(centered, curve: Curve) -> tuple[str, ...]:
    """Validate a user's choice of centred parameters.

    Parameters
    ----------
    centered : iterable of str
        Names of positive per-curve parameters.
    curve : Curve
        The curve function.

    Returns
    -------
    tuple of str
        The names, in the order of the model's parameters.

    Raises
    ------
    ValueError
        If ``centered`` is not a list of names, or a name is not a positive
        parameter of ``curve`` (``a`` is always centred).

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> check_centered(["h", "g"], mep.get_curve("logistic4"))
    ('g', 'h')
    """
    if centered is None:
        return ()
    if isinstance(centered, str):
        centered = [centered]
    try:
        centered = list(centered)
    except TypeError:
        raise ValueError(
            f"Invalid centered value {centered!r}: pass 'auto', [] or a list of parameter names such as ['g', 'h']."
        ) from None
    allowed = [p for p in (*curve.parameters, site.c1, site.c2) if p != site.a]
    unknown = sorted(set(centered) - set(allowed))
    if unknown:
        raise ValueError(
            f"Invalid centered parameters {unknown}: the positive parameters of the {curve.name} curve "
            f"are {allowed}. Pass some of them, [] for none, or 'auto' to choose from the data."
        )
    return tuple(p for p in allowed if p in set(centered))


def structure_key(data: PreparedData, spec: ModelSpec) -> tuple:
    """Key of everything a compiled model bakes in, apart from the data values.

    Two fits with equal keys can share one compiled model: same curve,
    pooling, mixture and priors, and the same numbers of
    feature levels and muscles (the shapes of the parameters). The number of
    pulses may differ.

    Parameters
    ----------
    data : PreparedData
        The data of the fit.
    spec : ModelSpec
        The model's structure.

    Returns
    -------
    tuple
        A hashable key.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> spec = ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default())
    >>> half = prepare_data(df.iloc[::2], "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> structure_key(data, spec) == structure_key(half, spec)
    True
    """
    return (
        spec.curve.name,
        spec.hierarchical,
        spec.mixture,
        tuple(spec.centered),
        json.dumps(spec.priors.to_dict(), sort_keys=True),
        tuple(data.features),
        tuple(data.group_shape),
        len(data.muscles),
    )


def uses_fused_likelihood(spec: ModelSpec) -> bool:
    """Tell whether :func:`build_pymc_model` can use the fused likelihood for ``spec``.

    It exists for the rectified-logistic curve without the mixture.

    Parameters
    ----------
    spec : ModelSpec
        The model's structure.

    Returns
    -------
    bool
        True when ``fused_likelihood=True`` changes the model.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> uses_fused_likelihood(ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default()))
    True
    >>> uses_fused_likelihood(ModelSpec(mep.get_curve("logistic4"), mep.Priors.default()))
    False
    """
    return spec.curve.name == "rectified_logistic" and not spec.mixture


def build_pymc_model(data: PreparedData, spec: ModelSpec, fused_likelihood: bool = False) -> pm.Model:
    """Build the recruitment-curve model as a PyMC model with labelled dims.

    Every curve parameter has dims ``(*features, "muscle")``. The likelihood
    covers only the observed cells (dim ``measurement``), so missing and
    masked responses are left out without dropping their rows.

    Parameters
    ----------
    data : PreparedData
        Validated data.
    spec : ModelSpec
        Curve, priors, pooling and mixture settings.
    fused_likelihood : bool, default False
        Where :func:`uses_fused_likelihood` allows it, add the likelihood as
        a potential computed by
        :class:`hbmep_pymc.fused.RectifiedLogisticGammaLogp` in one pass,
        in place of the observed ``Gamma``. The log density is the same, so
        the posterior is too, but the model has no observed variable: use
        it to sample with nutpie's numba back-end only.

    Returns
    -------
    pymc.Model
        The model, with data containers ``intensity``, one code container
        per feature, ``measurement_observation``, ``measurement_muscle`` and
        ``response``.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> model = build_pymc_model(data, ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default()))
    >>> model.named_vars_to_dims["a"]
    ('participant', 'muscle')
    """
    coords = model_coords(data)
    rows, muscles = measurement_index(data)
    curve_dims = (*data.features, MUSCLE_DIM)
    hyper_dims = None if spec.hierarchical else curve_dims
    priors = spec.priors

    with pm.Model(coords=coords) as model:
        intensity = pm.Data("intensity", data.intensity, dims=OBSERVATION_DIM)
        feature_codes = [
            pm.Data(f"{name}_code", data.codes[:, f], dims=OBSERVATION_DIM)
            for f, name in enumerate(data.features)
        ]
        row_index = pm.Data("measurement_observation", rows, dims=MEASUREMENT_DIM)
        muscle_index = pm.Data("measurement_muscle", muscles, dims=MEASUREMENT_DIM)
        if not (fused_likelihood and uses_fused_likelihood(spec)):
            observed = pm.Data("response", data.response[rows, muscles], dims=MEASUREMENT_DIM)

        # Threshold: truncated normal around a shared location.
        a_loc = priors[site.a_loc].create(site.a_loc, dims=hyper_dims)
        a_scale = priors[site.a_scale].create(site.a_scale, dims=hyper_dims)
        parameters = {
            site.a: TruncatedNormal(site.a, mu=a_loc, sigma=a_scale, lower=0.0, dims=curve_dims)
        }

        # Positive parameters: p = p_scale * p_raw with p_raw ~ HN(1) (non-centred), or
        # p ~ HN(p_scale) for those in spec.centered (choose_centered explains when and why).
        for name in curve_variables(spec)[1:]:
            scale = priors[f"{name}_scale"].create(f"{name}_scale", dims=hyper_dims)
            if name in spec.centered:
                parameters[name] = pm.HalfNormal(name, sigma=scale, dims=curve_dims)
                pm.Deterministic(f"{name}_raw", parameters[name] / scale, dims=curve_dims)
            else:
                raw = pm.HalfNormal(f"{name}_raw", sigma=1.0, dims=curve_dims)
                parameters[name] = pm.Deterministic(name, scale * raw, dims=curve_dims)

        if fused_likelihood and uses_fused_likelihood(spec):
            _add_fused_likelihood(data, parameters)
            # Where it can, nutpie's numba back-end runs this model from hand-written functions.
            direct.attach(model, direct.make_plan(model, spec))
            return model

        # Parameters are gathered per observed cell, so missing responses cost nothing.
        cell = (*[codes[row_index] for codes in feature_codes], muscle_index)
        at_cell = {name: value[cell] for name, value in parameters.items()}
        x = intensity[row_index]
        mu = spec.curve(x, eps=EPS, **{p: at_cell[p] for p in spec.curve.parameters})

        alpha, beta = gamma_shape_rate(mu, at_cell[site.c1], at_cell[site.c2])

        if spec.mixture:
            _add_mixture_likelihood(spec, priors, at_cell, alpha, beta, observed, data)
        else:
            pm.Gamma(site.obs, alpha=alpha, beta=beta, observed=observed, dims=MEASUREMENT_DIM)
    return model


def measurement_curve(data: PreparedData) -> np.ndarray:
    """Flat index of each observed cell's curve in C-ordered ``(*features, muscle)`` arrays.

    Parameters
    ----------
    data : PreparedData
        Validated data.

    Returns
    -------
    numpy.ndarray of int64
        One index per observed cell, in the order of :func:`measurement_index`.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> measurement_curve(data)[:4].tolist()
    [0, 1, 0, 1]
    """
    rows, muscles = measurement_index(data)
    curve = np.zeros_like(rows)
    for f, levels in enumerate(data.group_shape):
        curve = curve * levels + data.codes[rows, f]
    return (curve * len(data.muscles) + muscles).astype(np.int64)


def _add_fused_likelihood(data, parameters):
    # Everything per cell that does not depend on the parameters is data, computed once per fit.
    rows, muscles = measurement_index(data)
    curve = measurement_curve(data)
    # The operation sums runs of cells of one curve, so cells are ordered by curve.
    order = np.argsort(curve, kind="stable")
    rows, muscles, curve = rows[order], muscles[order], curve[order]
    response = data.response[rows, muscles]
    cells = [
        pm.Data("measurement_intensity", data.intensity[rows], dims=MEASUREMENT_DIM),
        pm.Data("response", response, dims=MEASUREMENT_DIM),
        pm.Data("log_response", np.log(response), dims=MEASUREMENT_DIM),
        pm.Data("measurement_curve", curve.astype(np.int64), dims=MEASUREMENT_DIM),
    ]
    flat = [pt.reshape(parameters[name], (-1,)) for name in fused.PARAMETERS]
    pm.Potential(FUSED_LIKELIHOOD, fused.rectified_logistic_gamma_logp(*cells, *flat))


def outlier_scale(curve: Curve, parameters: dict, x_max: float):
    """Return the scale of the mixture's half-normal outlier component.

    It is the saturation ``g + h``. The rectified-linear curve has no
    saturation, so there it is the curve at the largest tested intensity.

    Parameters
    ----------
    curve : Curve
        The curve function.
    parameters : dict
        Curve parameters (arrays or tensors) by name.
    x_max : float or TensorVariable
        Largest tested intensity.

    Returns
    -------
    array_like
        The scale, with the shape of the parameters.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> float(outlier_scale(mep.get_curve("logistic4"), {"a": 40.0, "b": 0.2, "g": 0.05, "h": 2.0}, 100.0))
    2.05
    """
    if site.h in parameters:
        return parameters[site.g] + parameters[site.h]
    return curve(x_max, eps=EPS, **{p: parameters[p] for p in curve.parameters})


def _add_mixture_likelihood(spec, priors, at_cell, alpha, beta, observed, data):
    weight = priors[site.outlier_prob].create(site.outlier_prob)
    # Data, not a constant, so a refit that reuses the compiled model gets the new range.
    x_max = pm.Data("max_intensity", float(np.max(data.intensity)))
    components = [
        pm.Gamma.dist(alpha=alpha, beta=beta),
        pm.HalfNormal.dist(sigma=outlier_scale(spec.curve, at_cell, x_max)),
    ]
    pm.Mixture(
        site.obs,
        w=pt.stack([1.0 - weight, weight]),
        comp_dists=components,
        observed=observed,
        dims=MEASUREMENT_DIM,
    )
