"""The same data in other units gives the same curves after conversion."""

import warnings

import numpy as np
import pytest

import hbmep_pymc as mep
from hbmep_pymc.simulation import simulate

SHORT = {"num_chains": 2, "num_warmup": 500, "num_samples": 300, "thinning": 1}
AMPERES_PER_PERCENT = 3e-5  # 100 % of the range maps to 3 mA
MICROVOLTS_PER_MILLIVOLT = 1000.0


def _fit(df, intensity, response):
    model = mep.StandardHB(intensity, ["participant"], response)
    model.mcmc_params = SHORT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ConvergenceWarning)
        idata, posterior = model.run(df, progress_bar=False, seed=4)
    return model, idata, posterior


@pytest.fixture(scope="module")
def unit_fits():
    sim = simulate(n_participants=3, n_muscles=1, n_pulses=40, seed=8)
    reference = _fit(sim.df, "intensity", sim.response)

    converted = sim.df.copy()
    converted["current"] = converted["intensity"] * AMPERES_PER_PERCENT
    converted["muscle_0"] = converted["muscle_0"] * MICROVOLTS_PER_MILLIVOLT
    with pytest.warns(mep.UnitScalingWarning, match="rescaled"):
        other = _fit(converted, "current", sim.response)
    return sim, reference, other


def test_thresholds_scale_with_intensity_unit(unit_fits):
    sim, (_, _, reference), (_, _, other) = unit_fits
    a_reference = reference["a"].mean(axis=0)
    a_other = other["a"].mean(axis=0) / AMPERES_PER_PERCENT
    np.testing.assert_allclose(a_other, a_reference, atol=1.5)
    np.testing.assert_allclose(a_reference, sim.parameters["a"], atol=4.0)


def test_curve_shape_unchanged_by_units(unit_fits):
    _, (_, _, reference), (_, _, other) = unit_fits
    saturation_reference = np.median(reference["g"] + reference["h"], axis=0)
    saturation_other = np.median(other["g"] + other["h"], axis=0) / MICROVOLTS_PER_MILLIVOLT
    np.testing.assert_allclose(saturation_other, saturation_reference, rtol=0.2)


def test_other_units_sample_cleanly(unit_fits):
    _, _, (model, idata, posterior) = unit_fits
    assert idata.posterior.attrs["priors_source"] == "data-scaled"
    assert np.isfinite(posterior["a"]).all()
    assert int(idata.sample_stats["diverging"].sum()) < 10
