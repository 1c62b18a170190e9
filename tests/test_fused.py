"""The fused rectified-logistic gamma likelihood against PyMC's graph of the same model."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
import scipy.stats

import hbmep_pymc as mep
from hbmep_pymc import fused
from hbmep_pymc.building import FUSED_LIKELIHOOD, ModelSpec, build_pymc_model
from hbmep_pymc.data import prepare_data
from hbmep_pymc.simulation import simulate

SPEC = ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default())


def _data(features):
    simulated = simulate(n_participants=3, n_muscles=2, n_pulses=30, seed=3)
    df = simulated.df.copy()
    df.loc[df.index[::7], simulated.response[0]] = np.nan
    if len(features) > 1:
        df["condition"] = np.where(np.arange(len(df)) % 2 == 0, "pre", "post")
    return prepare_data(df, "intensity", features, simulated.response)


@pytest.mark.parametrize("features", [["participant"], ["participant", "condition"]])
def test_fused_model_matches_gamma_model(features):
    data = _data(features)
    reference = build_pymc_model(data, SPEC)
    model = build_pymc_model(data, SPEC, fused_likelihood=True)
    assert [rv.name for rv in model.free_RVs] == [rv.name for rv in reference.free_RVs]
    assert FUSED_LIKELIHOOD in model.named_vars
    assert not model.observed_RVs
    logp, reference_logp = model.compile_logp(), reference.compile_logp()
    dlogp, reference_dlogp = model.compile_dlogp(), reference.compile_dlogp()
    rng = np.random.default_rng(1)
    start = reference.initial_point()
    for _ in range(5):
        point = {name: value + rng.normal(0.0, 0.5, np.shape(value)) for name, value in start.items()}
        assert logp(point) == pytest.approx(reference_logp(point), rel=1e-12)
        np.testing.assert_allclose(dlogp(point), reference_dlogp(point), rtol=1e-7, atol=1e-8)


def test_fused_only_for_rectified_logistic():
    data = _data(["participant"])
    for spec in (
        ModelSpec(mep.get_curve("logistic4"), mep.Priors.default()),
        ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default(), mixture=True),
    ):
        model = build_pymc_model(data, spec, fused_likelihood=True)
        assert FUSED_LIKELIHOOD not in model.named_vars
        assert [rv.name for rv in model.observed_RVs] == ["obs"]


def test_kernel_python_and_numba_agree():
    rng = np.random.default_rng(0)
    cells, curves = 200, 4
    x = rng.uniform(10.0, 90.0, cells)
    y = rng.gamma(2.0, 0.3, cells) + 0.01
    curve = rng.integers(0, curves, cells)
    parameters = [rng.uniform(20, 60, curves)] + [rng.uniform(0.05, 2.0, curves) for _ in range(6)]
    compiled = fused.rectified_logistic_gamma(x, y, np.log(y), curve, *parameters)
    interpreted = fused.rectified_logistic_gamma.py_func(x, y, np.log(y), curve, *parameters)
    for got, expected in zip(compiled, interpreted):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


def test_numba_and_python_backends_agree():
    rng = np.random.default_rng(2)
    cells = 50
    x = rng.uniform(10.0, 90.0, cells)
    y = rng.gamma(2.0, 0.3, cells) + 0.01
    curve = np.zeros(cells, dtype=np.int64)
    a = pt.dvector("a")
    rest = [np.array([value]) for value in (0.3, 0.05, 1.0, 0.5, 0.4, 0.3)]
    logp = fused.rectified_logistic_gamma_logp(x, y, np.log(y), curve, a, *rest)
    outputs = [logp, pytensor.grad(logp, a)]
    point = np.array([45.0])
    numba_values = pytensor.function([a], outputs, mode="NUMBA")(point)
    python_values = pytensor.function([a], outputs, mode="FAST_COMPILE")(point)
    for got, expected in zip(numba_values, python_values):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_second_derivative_raises():
    a = pt.dvector("a")
    one = np.ones(1)
    logp = fused.rectified_logistic_gamma_logp(
        np.array([30.0]), np.array([0.05]), np.log([0.05]), np.array([0]), a, one, 0.05 * one, one, one, one, one
    )
    gradient = pytensor.grad(logp, a).sum()
    with pytest.raises(NotImplementedError, match="Second derivatives"):
        pytensor.grad(gradient, a)


@pytest.mark.parametrize("cells", [3, 8, 61, 500])
def test_kernel_does_not_depend_on_cell_order(cells):
    # Sorted cells make long runs of one curve. Shuffled cells make runs of one or two,
    # so the vector windows reach into other curves' cells and past the ends of the arrays.
    rng = np.random.default_rng(cells)
    curves = 5
    x = rng.uniform(10.0, 90.0, cells)
    y = rng.gamma(2.0, 0.3, cells) + 0.01
    curve = rng.integers(0, curves, cells)
    parameters = [rng.uniform(20, 60, curves)] + [rng.uniform(0.05, 2.0, curves) for _ in range(6)]
    results = []
    for order in (np.argsort(curve, kind="stable"), rng.permutation(cells)):
        results.append(fused.rectified_logistic_gamma(x[order], y[order], np.log(y[order]), curve[order], *parameters))
    for sorted_result, shuffled_result in zip(*results):
        np.testing.assert_allclose(sorted_result, shuffled_result, rtol=1e-12, atol=1e-12)


def test_kernel_matches_scipy():
    rng = np.random.default_rng(4)
    cells, curves = 300, 3
    x = rng.uniform(10.0, 90.0, cells)
    y = rng.gamma(2.0, 0.3, cells) + 0.01
    curve = np.sort(rng.integers(0, curves, cells))
    parameters = [rng.uniform(20, 60, curves)] + [rng.uniform(0.05, 2.0, curves) for _ in range(6)]
    a, b, g, h, v, c1, c2 = (p[curve] for p in parameters)
    mu = mep.functional.rectified_logistic(x, a, b, g, h, v, eps=mep.functional.EPS)
    beta = 1.0 / c1 + 1.0 / (c2 * mu)
    alpha = mu * beta
    expected = np.sum(scipy.stats.gamma.logpdf(y, alpha, scale=1.0 / beta))
    logp = fused.rectified_logistic_gamma(x, y, np.log(y), curve, *parameters)[0]
    assert float(logp) == pytest.approx(expected, rel=1e-12)
