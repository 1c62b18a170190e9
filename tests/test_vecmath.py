"""The vectorisable elementary functions against NumPy and SciPy."""

import numba
import numpy as np
import pytest
import scipy.special

from hbmep_pymc import vecmath

# Tolerances allow a few units in the last place, since CPUs with and without fused
# multiply-add round differently. The fused likelihood compiles these functions with
# reordered additions allowed, and they must keep their accuracy there too.
FLAG_SETS = [False, {"reassoc", "contract", "nsz"}]


def _vectorised(function, fastmath):
    @numba.njit(error_model="numpy", fastmath=fastmath)
    def apply(values):
        out = np.empty((2, values.size))
        for i in range(values.size):
            result = function(values[i])
            if isinstance(result, tuple):
                out[0, i], out[1, i] = result
            else:
                out[0, i] = result
                out[1, i] = 0.0
        return out

    return apply


def _relative_error(got, expected):
    scale = np.maximum(np.abs(expected), 1.0)
    return np.max(np.abs(got - expected) / scale)


@pytest.mark.parametrize("fastmath", FLAG_SETS)
def test_exp(fastmath):
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-745.0, 709.0, 20000), rng.uniform(-40.0, 40.0, 20000)])
    got = _vectorised(vecmath.exp, fastmath)(x)[0]
    if not fastmath:
        np.testing.assert_allclose(got, np.exp(x), rtol=1e-15, atol=0.0)
    else:
        # Reordering merges the two parts of ln 2 in the argument reduction: the relative
        # error grows with |x|, and subnormal results lose their last bits.
        normal = x > -708.0
        small = np.abs(x) < 40.0
        np.testing.assert_allclose(got[small], np.exp(x[small]), rtol=2e-15, atol=0.0)
        np.testing.assert_allclose(got[normal], np.exp(x[normal]), rtol=1e-13, atol=0.0)
        np.testing.assert_allclose(got[~normal], np.exp(x[~normal]), rtol=0.0, atol=1e-300)
    special = np.array([-np.inf, -800.0, -745.2, -740.0, 0.0, 709.7, 709.8, 800.0, np.inf, np.nan])
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(_vectorised(vecmath.exp, fastmath)(special)[0], np.exp(special), rtol=1e-13, atol=0.0)


@pytest.mark.parametrize("fastmath", FLAG_SETS)
def test_log(fastmath):
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-740.0, 709.0, 20000)), 1.0 + rng.uniform(-0.01, 0.01, 20000)])
    got = _vectorised(vecmath.log, fastmath)(x)[0]
    assert _relative_error(got, np.log(x)) < 1e-15
    near_one = 1.0 + rng.uniform(-1e-3, 1e-3, 1000)
    np.testing.assert_allclose(_vectorised(vecmath.log, fastmath)(near_one)[0], np.log(near_one), rtol=1e-15)
    special = np.array([0.0, -1.0, 5e-324, 1e-310, np.inf, np.nan, 1.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(_vectorised(vecmath.log, fastmath)(special)[0], np.log(special), rtol=1e-15)


@pytest.mark.parametrize("fastmath", FLAG_SETS)
def test_log1p(fastmath):
    rng = np.random.default_rng(2)
    x = np.concatenate([np.exp(rng.uniform(-700.0, 0.0, 20000)), -np.exp(rng.uniform(-700.0, -1e-3, 5000)), rng.uniform(0.0, 1e6, 5000)])
    got = _vectorised(vecmath.log1p, fastmath)(x)[0]
    np.testing.assert_allclose(got, np.log1p(x), rtol=1e-15, atol=0.0)
    special = np.array([-1.0, -2.0, np.inf, np.nan, 0.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(_vectorised(vecmath.log1p, fastmath)(special)[0], np.log1p(special))


@pytest.mark.parametrize("fastmath", FLAG_SETS)
def test_lgamma_digamma(fastmath):
    rng = np.random.default_rng(3)
    x = np.exp(rng.uniform(-20.0, 60.0, 40000))
    lgamma, digamma = _vectorised(vecmath.lgamma_digamma, fastmath)(x)
    # Absolute error where the value is near zero, relative error elsewhere.
    assert _relative_error(lgamma, scipy.special.gammaln(x)) < 1e-14
    assert _relative_error(digamma, scipy.special.psi(x)) < 5e-15
    special = np.array([0.0, np.inf, np.nan])
    lgamma, digamma = _vectorised(vecmath.lgamma_digamma, fastmath)(special)
    np.testing.assert_array_equal(lgamma, [np.inf, np.inf, np.nan])
    np.testing.assert_array_equal(digamma, [-np.inf, np.inf, np.nan])


def test_callable_from_python():
    assert vecmath.exp(1.0) == pytest.approx(np.e, rel=1e-15)
    assert vecmath.log(10.0) == pytest.approx(np.log(10.0), rel=1e-15)
    assert vecmath.lgamma_digamma(5.0)[0] == pytest.approx(np.log(24.0), rel=1e-15)


@pytest.mark.parametrize("fastmath", FLAG_SETS)
def test_log1p_unit(fastmath):
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(0.0, 1.0, 20000), np.exp(rng.uniform(-700.0, 0.0, 20000)), [0.0, 1.0]])
    got = _vectorised(vecmath.log1p_unit, fastmath)(x)[0]
    np.testing.assert_allclose(got, np.log1p(x), rtol=1e-15, atol=0.0)


def test_log1p_unit_ratio_matches_log1p_unit():
    x = np.linspace(0.0, 1.0, 1001)
    got = np.array([vecmath.log1p_unit_ratio(value / (2.0 + value)) for value in x])
    np.testing.assert_allclose(got, np.log1p(x), rtol=1e-15, atol=0.0)
