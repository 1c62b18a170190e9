"""Construction of the PyMC models from prepared data, a curve and priors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from hbmep_pymc import site
from hbmep_pymc.curves import Curve
from hbmep_pymc.data import PreparedData
from hbmep_pymc.functional import EPS, gamma_shape_rate
from hbmep_pymc.priors import Priors

MEASUREMENT_DIM = "measurement"
"""Dim of the observed cells: one response of one muscle on one pulse."""

OBSERVATION_DIM = "observation"
"""Dim of the data-frame rows (pulses)."""

MUSCLE_DIM = "muscle"


@dataclass
class ModelSpec:
    """Structural choices of a model: curve, priors, pooling and mixture."""

    curve: Curve
    priors: Priors
    hierarchical: bool = True
    mixture: bool = False


def measurement_index(data: PreparedData) -> tuple[np.ndarray, np.ndarray]:
    """Row and muscle index of every observed cell, in row-major order."""
    rows, muscles = np.nonzero(data.observed)
    return rows.astype(np.int64), muscles.astype(np.int64)


def model_coords(data: PreparedData) -> dict[str, list]:
    """Coords of every dim of the model, with the user's labels."""
    coords = data.coords()
    index = data.df.index
    coords[OBSERVATION_DIM] = list(index) if index.is_unique else list(range(len(index)))
    coords[MEASUREMENT_DIM] = list(range(int(data.observed.sum())))
    return coords


def sampled_variables(spec: ModelSpec) -> list[str]:
    """Names of the free (sampled) variables, hyperparameters first."""
    names = [site.a_loc, site.a_scale]
    shape_parameters = [p for p in spec.curve.parameters if p != site.a] + [site.c1, site.c2]
    names += [f"{p}_scale" for p in shape_parameters]
    if spec.mixture:
        names.append(site.outlier_prob)
    names.append(site.a)
    names += [f"{p}_raw" for p in shape_parameters]
    return names


def curve_variables(spec: ModelSpec) -> list[str]:
    """Names of the per-curve parameters (curve parameters plus ``c1`` and ``c2``)."""
    return [*spec.curve.parameters, site.c1, site.c2]


def build_pymc_model(data: PreparedData, spec: ModelSpec) -> pm.Model:
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

    Returns
    -------
    pymc.Model
        The model, with data containers ``intensity``, one code container
        per feature, ``measurement_observation``, ``measurement_muscle`` and
        ``response``.
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
        observed = pm.Data("response", data.response[rows, muscles], dims=MEASUREMENT_DIM)

        # Threshold: truncated normal around a shared location.
        a_loc = priors[site.a_loc].create(site.a_loc, dims=hyper_dims)
        a_scale = priors[site.a_scale].create(site.a_scale, dims=hyper_dims)
        parameters = {
            site.a: pm.TruncatedNormal(site.a, mu=a_loc, sigma=a_scale, lower=0.0, dims=curve_dims)
        }

        # Positive parameters, non-centred: p = p_scale * p_raw with p_raw ~ HN(1).
        for name in curve_variables(spec)[1:]:
            scale = priors[f"{name}_scale"].create(f"{name}_scale", dims=hyper_dims)
            raw = pm.HalfNormal(f"{name}_raw", sigma=1.0, dims=curve_dims)
            parameters[name] = pm.Deterministic(name, scale * raw, dims=curve_dims)

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


def outlier_scale(curve: Curve, parameters: dict, x_max: float):
    """Return the scale of the mixture's half-normal outlier component.

    It is the saturation ``g + h``. The rectified-linear curve has no
    saturation, so there it is the curve at the largest tested intensity.
    """
    if site.h in parameters:
        return parameters[site.g] + parameters[site.h]
    return curve(x_max, eps=EPS, **{p: parameters[p] for p in curve.parameters})


def _add_mixture_likelihood(spec, priors, at_cell, alpha, beta, observed, data):
    weight = priors[site.outlier_prob].create(site.outlier_prob)
    components = [
        pm.Gamma.dist(alpha=alpha, beta=beta),
        pm.HalfNormal.dist(sigma=outlier_scale(spec.curve, at_cell, float(np.max(data.intensity)))),
    ]
    pm.Mixture(
        site.obs,
        w=pt.stack([1.0 - weight, weight]),
        comp_dists=components,
        observed=observed,
        dims=MEASUREMENT_DIM,
    )
