"""Completion of a sampled InferenceData: data groups, log-likelihood, masks, attrs."""

from __future__ import annotations

import json
import logging
import warnings

import arviz as az
import numpy as np
import pymc as pm
import xarray as xr
from scipy import special, stats

from hbmep_pymc import site
from hbmep_pymc.building import (
    MEASUREMENT_DIM,
    MUSCLE_DIM,
    OBSERVATION_DIM,
    ModelSpec,
    measurement_curve,
    measurement_index,
    outlier_scale,
)
from hbmep_pymc.data import PreparedData
from hbmep_pymc.functional import EPS, gamma_shape_rate
from hbmep_pymc.results import mask_unobserved

logger = logging.getLogger(__name__)

MAX_LOG_LIKELIHOOD_SIZE = 50_000_000
"""Largest number of pointwise log-likelihood values stored without being asked (400 MB)."""


def observed_cells_array(data: PreparedData, coords: dict) -> xr.DataArray:
    """Return a boolean DataArray over ``(*features, muscle)``: True where a curve has data.

    Parameters
    ----------
    data : PreparedData
        Validated data.
    coords : dict
        Coords of the model, from :func:`~hbmep_pymc.building.model_coords`.

    Returns
    -------
    xarray.DataArray
        Labelled with the original feature levels and muscle names.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> from hbmep_pymc.data import prepare_data
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> observed_cells_array(data, model_coords(data)).sel(participant="P2").values.tolist()
    [True, True]
    """
    dims = (*data.features, MUSCLE_DIM)
    return xr.DataArray(
        data.observed_cells(), dims=dims, coords={dim: coords[dim] for dim in dims}
    )


def measurement_coords(data: PreparedData, coords: dict) -> dict:
    """Return the coords of the measurement dim, with the row label and muscle of each cell.

    Parameters
    ----------
    data : PreparedData
        Validated data.
    coords : dict
        Coords of the model, from :func:`~hbmep_pymc.building.model_coords`.

    Returns
    -------
    dict
        ``measurement`` (positions), and ``observation`` and ``muscle`` as
        ``(dim, values)`` pairs on the ``measurement`` dim, ready for
        ``assign_coords``.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> from hbmep_pymc.data import prepare_data
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> cell_coords = measurement_coords(data, model_coords(data))
    >>> cell_coords["muscle"][1][:3].tolist()
    ['PKPK_ECR', 'PKPK_FCR', 'PKPK_ECR']
    """
    rows, muscles = measurement_index(data)
    return {
        MEASUREMENT_DIM: coords[MEASUREMENT_DIM],
        OBSERVATION_DIM: (MEASUREMENT_DIM, np.asarray(coords[OBSERVATION_DIM], dtype=object)[rows]),
        MUSCLE_DIM: (MEASUREMENT_DIM, np.asarray(data.muscles, dtype=object)[muscles]),
    }


def parameters_at_cells(posterior: xr.Dataset, data: PreparedData, names) -> dict[str, xr.DataArray]:
    """Pick each curve parameter at every measurement: dims ``(chain, draw, measurement)``.

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``(chain, draw, *features, muscle)``.
    data : PreparedData
        The data of the fit.
    names : iterable of str
        Variables to pick.

    Returns
    -------
    dict of str to xarray.DataArray
        Variable name to its value at every observed cell.

    Examples
    --------
    Give every curve a threshold of 40 %MSO and read it back per measurement:

    >>> import numpy as np
    >>> import xarray as xr
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> from hbmep_pymc.data import prepare_data
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> a = xr.DataArray(np.full((1, 10, 3, 2), 40.0), dims=("chain", "draw", "participant", "muscle"))
    >>> parameters_at_cells(xr.Dataset({"a": a}), data, ["a"])["a"].shape
    (1, 10, 490)
    """
    rows, muscles = measurement_index(data)
    indexers = {
        name: xr.DataArray(data.codes[rows, f], dims=MEASUREMENT_DIM)
        for f, name in enumerate(data.features)
    }
    indexers[MUSCLE_DIM] = xr.DataArray(muscles, dims=MEASUREMENT_DIM)
    return {name: posterior[name].isel(indexers) for name in names}


def add_data_groups(idata: az.InferenceData, data: PreparedData, coords: dict) -> None:
    """Add ``observed_data`` and ``constant_data`` with labelled dims.

    ``observed_data`` contains ``obs`` on the ``measurement`` dim (observed
    cells only). ``constant_data`` contains ``intensity``, the full
    ``response`` table with NaN where masked, and one ``<feature>_code``
    per feature.

    Parameters
    ----------
    idata : arviz.InferenceData
        Changed in place.
    data : PreparedData
        The data of the fit.
    coords : dict
        Coords of the model, from :func:`~hbmep_pymc.building.model_coords`.

    Examples
    --------
    >>> import arviz as az
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> from hbmep_pymc.data import prepare_data
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> idata = az.InferenceData()
    >>> add_data_groups(idata, data, model_coords(data))
    >>> dict(idata.observed_data.sizes), dict(idata.constant_data.sizes)
    ({'measurement': 490}, {'observation': 245, 'muscle': 2})
    """
    rows, muscles = measurement_index(data)
    cell_coords = measurement_coords(data, coords)
    observed = xr.Dataset(
        {site.obs: (MEASUREMENT_DIM, data.response[rows, muscles])}, coords=cell_coords
    )
    constant = xr.Dataset(
        {
            "intensity": (OBSERVATION_DIM, data.intensity),
            "response": ((OBSERVATION_DIM, MUSCLE_DIM), data.response),
            **{
                f"{name}_code": (OBSERVATION_DIM, data.codes[:, f])
                for f, name in enumerate(data.features)
            },
        },
        coords={OBSERVATION_DIM: coords[OBSERVATION_DIM], MUSCLE_DIM: data.muscles},
    )
    idata.add_groups(observed_data=observed, constant_data=constant)


def add_log_likelihood(
    idata: az.InferenceData, model: pm.Model, data: PreparedData, coords: dict, spec: ModelSpec | None = None
) -> None:
    """Add the pointwise log-likelihood of every observed cell.

    Use it for a fit run with ``log_likelihood=False``, before
    :func:`~hbmep_pymc.comparison.compare`.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit with a ``posterior`` group, changed in place.
    model : pymc.Model
        The PyMC model of the fit, from :meth:`~hbmep_pymc.model.BaseModel.build`.
    data : PreparedData
        The data of the fit.
    coords : dict
        Coords of the model, from :func:`~hbmep_pymc.building.model_coords`.
    spec : ModelSpec, optional
        Structure of the fitted model. With it the values are computed with
        NumPy and SciPy (:func:`pointwise_log_likelihood`); without it
        :func:`pymc.compute_log_likelihood` compiles the model's likelihood
        and evaluates it draw by draw, which takes seconds longer. Both give
        the same values.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> df = mep.datasets.load_mock_data()
    >>> data = model.prepare(df)
    >>> idata, posterior = model.run(df, log_likelihood=False)  # doctest: +SKIP
    >>> add_log_likelihood(idata, model.build(df), data, model_coords(data))  # doctest: +SKIP
    >>> idata.log_likelihood["obs"].sizes["measurement"]  # doctest: +SKIP
    490
    """
    if spec is None:
        dataset = pm.compute_log_likelihood(idata, model=model, extend_inferencedata=False, progressbar=False)
    else:
        values = pointwise_log_likelihood(idata.posterior, data, spec)
        posterior = idata.posterior
        dataset = xr.Dataset(
            {site.obs: (("chain", "draw", MEASUREMENT_DIM), values)},
            coords={"chain": posterior["chain"], "draw": posterior["draw"]},
        )
    dataset = dataset.assign_coords(measurement_coords(data, coords))
    idata.add_groups(log_likelihood=dataset)


_BLOCK_CELLS = 1_000_000
"""Draws times cells evaluated at once by :func:`pointwise_log_likelihood`, to bound its memory."""


def pointwise_log_likelihood(posterior: xr.Dataset, data: PreparedData, spec: ModelSpec) -> np.ndarray:
    """Log-likelihood of every observed cell under every draw, with NumPy and SciPy.

    The values equal those of the PyMC model's ``obs`` (the gamma
    likelihood, or its mixture with the half-normal outlier component).

    Parameters
    ----------
    posterior : xarray.Dataset
        Draws with dims ``(chain, draw, *features, muscle)`` for the curve
        parameters, ``c1`` and ``c2`` (and ``outlier_prob`` with dims
        ``(chain, draw)`` for a mixture).
    data : PreparedData
        The data of the fit.
    spec : ModelSpec
        Structure of the fitted model.

    Returns
    -------
    numpy.ndarray
        Shape ``(chain, draw, measurement)``.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import ModelSpec
    >>> from hbmep_pymc.data import prepare_data
    >>> data = prepare_data(mep.datasets.load_mock_data(), "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> spec = ModelSpec(mep.get_curve("logistic4"), mep.Priors.default())
    >>> values = {"a": 40.0, "b": 0.2, "g": 0.02, "h": 1.0, "c1": 1.0, "c2": 0.5}
    >>> posterior = xr.Dataset({
    ...     name: (("chain", "draw", "participant", "muscle"), np.full((1, 2, 3, 2), value))
    ...     for name, value in values.items()
    ... })
    >>> pointwise_log_likelihood(posterior, data, spec).shape
    (1, 2, 490)
    """
    rows, muscles = measurement_index(data)
    curve = measurement_curve(data)
    # Curve by curve, so each curve's parameters broadcast over its cells without a gather.
    order = np.argsort(curve, kind="stable")
    x = data.intensity[rows][order]
    y = data.response[rows, muscles][order]
    log_y = np.log(y)
    sorted_curve = curve[order]
    names = [*spec.curve.parameters, site.c1, site.c2]
    curve_dims = [*data.features, MUSCLE_DIM]
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    flat = {
        name: posterior[name].transpose("chain", "draw", *curve_dims).to_numpy().reshape(chains * draws, -1)
        for name in names
    }
    if spec.mixture:
        weight = posterior[site.outlier_prob].transpose("chain", "draw").to_numpy().reshape(-1, 1)
        x_max = float(np.max(data.intensity))
    out = np.empty((chains * draws, len(curve)))
    starts = np.flatnonzero(np.r_[True, sorted_curve[1:] != sorted_curve[:-1]])
    for first, last in zip(starts, [*starts[1:], len(curve)]):
        j = sorted_curve[first]
        cells = slice(first, last)
        block = max(1, _BLOCK_CELLS // (last - first))
        for start in range(0, chains * draws, block):
            draws_in_block = slice(start, start + block)
            at_curve = {name: values[draws_in_block, j, None] for name, values in flat.items()}
            mu = spec.curve(x[cells], eps=EPS, **{p: at_curve[p] for p in spec.curve.parameters})
            alpha, beta = gamma_shape_rate(mu, at_curve[site.c1], at_curve[site.c2])
            # The gamma log density as PyMC writes it, in the response's units.
            log_gamma = alpha * np.log(beta) - special.gammaln(alpha) + (alpha - 1.0) * log_y[cells] - beta * y[cells]
            if spec.mixture:
                q = weight[draws_in_block]
                scale = outlier_scale(spec.curve, at_curve, x_max)
                log_outlier = np.log(q) + stats.halfnorm.logpdf(y[cells], scale=scale)
                log_gamma = np.logaddexp(np.log1p(-q) + log_gamma, log_outlier)
            out[draws_in_block, cells] = log_gamma
    out = np.take(out, np.argsort(order), axis=1)
    return out.reshape(chains, draws, len(curve))


def add_outlier_probability(
    idata: az.InferenceData, data: PreparedData, spec: ModelSpec, coords: dict
) -> None:
    """Add the per-measurement posterior probability of coming from the outlier component.

    The probability is computed on every draw and stored as
    ``outlier_posterior_prob`` in ``idata.posterior``, with dims
    ``(chain, draw, measurement)``.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit of a mixture model (``use_mixture=True``), changed in place.
    data : PreparedData
        The data of the fit.
    spec : ModelSpec
        Structure of the fitted model.
    coords : dict
        Coords of the model, from :func:`~hbmep_pymc.building.model_coords`.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> df = mep.datasets.load_mock_data()
    >>> data = model.prepare(df)
    >>> model.use_mixture = True
    >>> idata, posterior = model.run(df)  # doctest: +SKIP
    >>> add_outlier_probability(idata, data, model.model_spec(model.last_priors),
    ...                         model_coords(data))  # doctest: +SKIP
    >>> idata.posterior["outlier_posterior_prob"].dims  # doctest: +SKIP
    ('chain', 'draw', 'measurement')
    """
    rows, muscles = measurement_index(data)
    names = [*spec.curve.parameters, site.c1, site.c2]
    at_cell = parameters_at_cells(idata.posterior, data, names)
    x = data.intensity[rows]
    y = data.response[rows, muscles]
    values = {name: at_cell[name].to_numpy() for name in names}
    mu = spec.curve(x, eps=EPS, **{p: values[p] for p in spec.curve.parameters})
    alpha, beta = gamma_shape_rate(mu, values[site.c1], values[site.c2])
    scale = outlier_scale(spec.curve, values, float(np.max(data.intensity)))

    q = idata.posterior[site.outlier_prob].to_numpy()[..., None]
    log_inlier = np.log1p(-q) + stats.gamma.logpdf(y, a=alpha, scale=1.0 / beta)
    log_outlier = np.log(q) + stats.halfnorm.logpdf(y, scale=scale)
    probability = np.exp(log_outlier - np.logaddexp(log_inlier, log_outlier))
    template = at_cell[site.c1]
    probability = template.copy(data=probability).drop_vars(
        [dim for dim in data.features + [MUSCLE_DIM] if dim in template.coords]
    )
    # The posterior already has a "muscle" dim, so the muscle of each measurement
    # gets its own coordinate name here.
    cell_coords = measurement_coords(data, coords)
    probability = probability.assign_coords(
        {
            MEASUREMENT_DIM: cell_coords[MEASUREMENT_DIM],
            OBSERVATION_DIM: cell_coords[OBSERVATION_DIM],
            "measurement_muscle": cell_coords[MUSCLE_DIM],
        }
    )
    idata.posterior[site.outlier_posterior] = probability


def finish_idata(
    idata: az.InferenceData,
    model: pm.Model,
    data: PreparedData,
    spec: ModelSpec,
    coords: dict,
    attrs: dict,
    log_likelihood: bool | None = None,
) -> az.InferenceData:
    """Add data groups, log-likelihood, outlier probabilities, masks and attrs.

    Parameters of curves without data are set to NaN. Attr values other
    than text and numbers are stored as JSON text, which NetCDF accepts.

    Parameters
    ----------
    idata : arviz.InferenceData
        Output of the sampler, with ``posterior`` and ``sample_stats``,
        changed in place.
    model : pymc.Model
        The sampled PyMC model.
    data : PreparedData
        The data of the fit.
    spec : ModelSpec
        Structure of the sampled model.
    coords : dict
        Coords of the model, from :func:`~hbmep_pymc.building.model_coords`.
    attrs : dict
        Attrs to set on every group.
    log_likelihood : bool, optional
        Store the pointwise log-likelihood. By default it is stored up to
        5e7 values (draws times observed cells). Above that it is left out
        with a warning.

    Returns
    -------
    arviz.InferenceData
        ``idata``.

    Examples
    --------
    Sample the model with PyMC's own NUTS and complete the result as
    :meth:`~hbmep_pymc.model.BaseModel.run` does:

    >>> import pymc as pm
    >>> from hbmep_pymc.building import build_pymc_model
    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.building import model_coords
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> df = mep.datasets.load_mock_data()
    >>> data = model.prepare(df)
    >>> spec = model.model_spec(mep.Priors.default())
    >>> pymc_model = build_pymc_model(data, spec)
    >>> idata = pm.sample(model=pymc_model)  # doctest: +SKIP
    >>> idata = finish_idata(idata, pymc_model, data, spec, model_coords(data),
    ...                      attrs={"model": "StandardHB"})  # doctest: +SKIP
    """
    add_data_groups(idata, data, coords)
    size = idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"] * int(data.observed.sum())
    if log_likelihood is None:
        log_likelihood = size <= MAX_LOG_LIKELIHOOD_SIZE
        if not log_likelihood:
            warnings.warn(
                f"The pointwise log-likelihood was not stored: {size:.2g} values (draws times "
                f"observed cells) would take about {size * 8 / 1e9:.1f} GB. Pass "
                f"log_likelihood=True to model.run to store it for LOO and WAIC.",
                UserWarning,
                stacklevel=3,
            )
    if log_likelihood:
        add_log_likelihood(idata, model, data, coords, spec)
    if spec.mixture:
        add_outlier_probability(idata, data, spec, coords)
    observed_cells = observed_cells_array(data, coords)
    if not bool(observed_cells.all()):
        logger.info(
            "%d of %d curve cells have no data; their parameters are set to NaN",
            int((~observed_cells).sum()), observed_cells.size,
        )
        idata.posterior = mask_unobserved(idata.posterior, observed_cells)
    for group in idata.groups():
        idata[group].attrs.update(_netcdf_attrs(attrs))
    return idata


def _netcdf_attrs(attrs: dict) -> dict:
    """Encode attrs so NetCDF accepts them: numbers and text stay, the rest becomes JSON."""
    encoded = {}
    for key, value in attrs.items():
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            encoded[key] = value
        else:
            encoded[key] = json.dumps(value)
    return encoded
