"""The hand-written log density of the default model, and the NumPy log-likelihood, against PyMC."""

import arviz as az
import numpy as np
import pymc as pm
import pytest

import hbmep_pymc as mep
from hbmep_pymc import direct, nutpie_numba
from hbmep_pymc.building import ModelSpec, build_pymc_model
from hbmep_pymc.data import prepare_data
from hbmep_pymc.inference import pointwise_log_likelihood
from hbmep_pymc.priors import Prior
from hbmep_pymc.simulation import simulate


def _data(features):
    simulated = simulate(n_participants=3, n_muscles=2, n_pulses=30, seed=5)
    df = simulated.df.copy()
    df.loc[df.index[::5], simulated.response[1]] = np.nan
    if len(features) > 1:
        df["condition"] = np.where(np.arange(len(df)) % 3 == 0, "pre", "post")
    return prepare_data(df, "intensity", features, simulated.response)


def _spec(centered=(), **changes):
    priors = mep.Priors.default()
    for name, prior in changes.items():
        priors[name] = prior
    return ModelSpec(mep.get_curve("rectified_logistic"), priors, centered=centered)


def _flat(model, point):
    return np.concatenate([np.ravel(point[model.rvs_to_values[rv].name]) for rv in model.free_RVs])


@pytest.mark.parametrize(
    ("features", "spec"),
    [
        (["participant"], _spec()),
        (["participant", "condition"], _spec()),
        (["participant"], _spec(a_loc=Prior("TruncatedNormal", mu=3.0, sigma=0.7), h_scale=Prior("HalfNormal", sigma=0.37))),
        (["participant"], _spec(centered=("g", "h", "c1", "c2"))),
        (["participant", "condition"], _spec(centered=("b", "v"), v_scale=Prior("HalfNormal", sigma=0.8))),
    ],
)
def test_log_density_matches_pymc(features, spec):
    data = _data(features)
    model = build_pymc_model(data, spec, fused_likelihood=True)
    reference = build_pymc_model(data, spec)
    plan = direct.plan_of(model)
    assert plan is not None
    arrays = [model[name].get_value() for name in direct.DATA_NAMES]
    logp, dlogp = reference.compile_logp(), reference.compile_dlogp()
    # The reference gradient follows the reference's value variables.
    order = [variable.name for variable in reference.value_vars]
    rng = np.random.default_rng(0)
    start = reference.initial_point()
    values, expected = [], []
    for _ in range(4):
        point = {name: value + rng.normal(0.0, 0.5, np.shape(value)) for name, value in start.items()}
        value, gradient = direct.log_density(_flat(model, point), plan.layout, plan.prior, *arrays)
        reference_gradient = dict(zip(order, np.split(dlogp(point), np.cumsum([np.size(point[n]) for n in order])[:-1])))
        expected_gradient = np.concatenate([reference_gradient[model.rvs_to_values[rv].name] for rv in model.free_RVs])
        np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-7, atol=1e-8)
        values.append(value)
        expected.append(logp(point))
    # PyMC evaluates the log of some prior scales in single precision (about 3e-8 apart);
    # differences between points carry no such constant.
    np.testing.assert_allclose(values, expected, rtol=1e-8)
    np.testing.assert_allclose(np.diff(values), np.diff(expected), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("centered", [(), ("g", "h", "c1", "c2")])
def test_expansion_matches_pymc(centered):
    data = _data(["participant"])
    spec = _spec(centered)
    model = build_pymc_model(data, spec, fused_likelihood=True)
    plan = direct.plan_of(model)
    names, slices, shapes = plan.shape_info
    rng = np.random.default_rng(1)
    point = {name: value + rng.normal(0.0, 0.5, np.shape(value)) for name, value in model.initial_point().items()}
    (expanded,) = direct.expand(_flat(model, point), plan.expansion, plan.n_expanded)
    # PyMC's own map from the unconstrained values to every stored variable.
    outputs = model.unobserved_value_vars
    function = pm.compile(model.value_vars, outputs, on_unused_input="ignore")
    reference = dict(zip([output.name for output in outputs], function(*[point[v.name] for v in model.value_vars])))
    assert sorted(names) == sorted(reference)
    for name, part, shape in zip(names, slices, shapes):
        np.testing.assert_allclose(expanded[part].reshape(shape), reference[name], rtol=1e-14, err_msg=name)


@pytest.mark.parametrize(
    "spec",
    [
        ModelSpec(mep.get_curve("logistic4"), mep.Priors.default()),
        ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default(), mixture=True),
        ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default(), hierarchical=False),
        _spec(b_scale=Prior("Gamma", alpha=2.0, beta=1.0)),
        _spec(a_loc=Prior("TruncatedNormal", mu=50.0, sigma=50.0, lower=10.0)),
        _spec(a_scale=Prior("HalfCauchy", beta=5.0)),
    ],
)
def test_other_models_use_their_graph(spec):
    model = build_pymc_model(_data(["participant"]), spec, fused_likelihood=True)
    assert direct.plan_of(model) is None


def test_nutpie_samples_the_direct_model(monkeypatch):
    data = _data(["participant"])
    model = build_pymc_model(data, _spec(), fused_likelihood=True)
    calls = []
    original = nutpie_numba._compile_direct
    monkeypatch.setattr(nutpie_numba, "_compile_direct", lambda *args: calls.append(1) or original(*args))
    compiled = nutpie_numba.compile_model(model)
    assert calls == [1]
    import nutpie

    idata = nutpie.sample(compiled, draws=30, tune=60, chains=1, seed=1, progress_bar=False)
    assert set(direct.SHAPE_PARAMETERS) <= set(idata.posterior.data_vars)
    np.testing.assert_allclose(
        idata.posterior["h"], idata.posterior["h_scale"] * idata.posterior["h_raw"], rtol=1e-14
    )


@pytest.mark.parametrize(
    ("curve", "mixture", "features"),
    [
        ("rectified_logistic", False, ["participant"]),
        ("logistic5", True, ["participant"]),
        ("rectified_linear", False, ["participant", "condition"]),
    ],
)
def test_pointwise_log_likelihood_matches_pymc(curve, mixture, features):
    data = _data(features)
    spec = ModelSpec(mep.get_curve(curve), mep.Priors.default(), mixture=mixture)
    model = build_pymc_model(data, spec)
    prior = pm.sample_prior_predictive(draws=12, model=model, random_seed=2).prior
    idata = az.InferenceData(posterior=prior)
    expected = pm.compute_log_likelihood(idata, model=model, extend_inferencedata=False, progressbar=False)["obs"]
    got = pointwise_log_likelihood(idata.posterior, data, spec)
    np.testing.assert_allclose(got, expected.to_numpy(), rtol=1e-8, atol=1e-8)
