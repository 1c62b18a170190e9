import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import integrate

from hbmep_pymc import functional as F

PARAMS = {"a": 30.0, "b": 0.4, "g": 0.02, "h": 1.5, "v": 0.7}


def test_rectified_logistic_equals_offset_at_threshold():
    assert F.rectified_logistic(30.0, **PARAMS) == pytest.approx(PARAMS["g"])
    assert F.rectified_logistic(10.0, **PARAMS) == pytest.approx(PARAMS["g"])


def test_rectified_logistic_tends_to_saturation():
    assert F.rectified_logistic(1e4, **PARAMS) == pytest.approx(PARAMS["g"] + PARAMS["h"])


def test_rectified_logistic_smooth_max_width():
    value = F.rectified_logistic(30.0, **PARAMS, eps=1e-3)
    assert value == pytest.approx(PARAMS["g"] + 1e-3)


def test_rectified_logistic_far_below_threshold_is_finite():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = F.rectified_logistic(-1e6, a=30, b=50.0, g=0.1, h=1.0, v=1e-6)
    assert value == pytest.approx(0.1)


def test_rectified_logistic_huge_growth_rate():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        above = F.rectified_logistic(30.5, a=30, b=1e6, g=0.1, h=1.0, v=0.5)
    assert above == pytest.approx(1.1)


def test_threshold_slope_matches_finite_difference():
    step = 1e-6
    a = PARAMS["a"]
    numeric = (F.rectified_logistic(a + step, **PARAMS) - F.rectified_logistic(a, **PARAMS)) / step
    expected = F.rectified_logistic_threshold_slope(PARAMS["b"], PARAMS["h"], PARAMS["v"])
    assert numeric == pytest.approx(expected, rel=1e-4)


def test_s50_gives_half_saturation():
    x = F.rectified_logistic_s50(PARAMS["a"], PARAMS["b"], PARAMS["h"], PARAMS["v"])
    assert F.rectified_logistic(x, **PARAMS) == pytest.approx(PARAMS["g"] + PARAMS["h"] / 2)


def test_inflection_has_zero_second_derivative():
    x = F.rectified_logistic_inflection(PARAMS["a"], PARAMS["b"], PARAMS["h"], PARAMS["v"])
    step = 1e-3
    f = lambda t: F.rectified_logistic(t, **PARAMS)  # noqa: E731
    second = (f(x + step) - 2 * f(x) + f(x - step)) / step**2
    assert abs(second) < 1e-5
    assert F.rectified_logistic(x, **PARAMS) == pytest.approx(
        PARAMS["g"] + (PARAMS["h"] - PARAMS["v"]) / 2
    )


@pytest.mark.parametrize(("low", "high"), [(0.0, 100.0), (10.0, 29.0), (25.0, 45.0), (31.0, 80.0)])
def test_area_matches_numerical_integration(low, high):
    expected, _ = integrate.quad(lambda t: F.rectified_logistic(t, **PARAMS), low, high, points=[30.0])
    area = F.rectified_logistic_area(low, high, **PARAMS)
    assert area == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize(
    ("function", "inverse", "params"),
    [
        (F.rectified_logistic, F.rectified_logistic_inverse, PARAMS),
        (F.logistic4, F.logistic4_inverse, {k: PARAMS[k] for k in "abgh"}),
        (F.logistic5, F.logistic5_inverse, PARAMS),
        (F.rectified_linear, F.rectified_linear_inverse, {k: PARAMS[k] for k in "abg"}),
    ],
)
def test_inverse_round_trip(function, inverse, params):
    x = np.linspace(31.0, 45.0, 15)
    y = function(x, **params)
    np.testing.assert_allclose(inverse(y, **params), x, rtol=1e-9)


def test_inverse_below_offset_is_nan():
    assert np.isnan(F.rectified_logistic_inverse(0.01, **PARAMS))
    assert np.isnan(F.rectified_logistic_inverse(PARAMS["g"], **PARAMS))
    assert np.isnan(F.logistic4_inverse(5.0, **{k: PARAMS[k] for k in "abgh"}))


def test_logistic5_with_unit_shape_is_logistic4():
    x = np.linspace(0, 80, 9)
    four = F.logistic4(x, 30.0, 0.3, 0.1, 2.0)
    five = F.logistic5(x, 30.0, 0.3, 0.1, 2.0, 1.0)
    np.testing.assert_allclose(five, four, rtol=1e-12)


def test_logistic5_small_shape_stays_finite():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = F.logistic5(np.array([0.0, 30.0, 90.0]), 30.0, 0.3, 0.1, 2.0, 1e-8)
    assert np.all(np.isfinite(value))


def test_functions_broadcast_over_draws_and_curves():
    x = np.linspace(0, 100, 50)[:, None, None]
    a = np.full((1, 100, 3), 30.0)
    assert F.rectified_logistic(x, a, 0.3, 0.1, 1.0, 0.5).shape == (50, 100, 3)


def test_pytensor_and_numpy_agree():
    x = pt.vector("x")
    expression = F.rectified_logistic(x, 30.0, 0.4, 0.02, 1.5, 0.7, eps=1e-3)
    compiled = pytensor.function([x], expression)
    values = np.linspace(0, 90, 31)
    np.testing.assert_allclose(
        compiled(values), F.rectified_logistic(values, 30.0, 0.4, 0.02, 1.5, 0.7, eps=1e-3), rtol=1e-6
    )
