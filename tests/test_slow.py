"""Full-length statistical checks; run with ``pytest -m slow`` (about 30 minutes on 2 cores)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import hbmep_pymc as mep
from hbmep_pymc.simulation import simulate
from tests.conftest import shared_csv

pytestmark = pytest.mark.slow

FULL = {"num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1}
REFERENCE_THRESHOLDS = np.array([[31.9, 31.6], [45.5, 44.8], [30.1, 31.2]])
RAT_MUSCLES = ["LBiceps", "LFCR", "LECR", "LTriceps", "LADM", "LDeltoid", "LBicepsFemoris", "RBiceps"]


def _mock_model(**kwargs) -> mep.StandardHB:
    model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"], **kwargs)
    model.mcmc_params = FULL
    return model


@pytest.mark.parametrize("function", ["rectified_logistic", "logistic4", "logistic5", "rectified_linear"])
def test_curve_function_converges_on_bundled_data(function):
    model = _mock_model(function=function)
    idata, posterior = model.run(mep.datasets.load_mock_data(), progress_bar=False)
    summary = model.summary(idata)
    assert summary["r_hat"].max() <= 1.01, summary.sort_values("r_hat").tail(5)
    assert idata.posterior.attrs["function"] == function
    if function == "rectified_logistic":
        np.testing.assert_allclose(posterior["a"].mean(axis=0), REFERENCE_THRESHOLDS, atol=1.5)


def test_mixture_resists_injected_outliers():
    df = mep.datasets.load_mock_data()
    # Three P1 pulses spread over the curve: below threshold, rising, near saturation.
    p1 = df[df["participant"] == "P1"]
    rows = pd.Index([(p1["TMSIntensity"] - level).abs().idxmin() for level in (20.0, 40.0, 60.0)])
    saturation = df.loc[df["participant"] == "P1", "PKPK_FCR"].max()
    contaminated = df.copy()
    contaminated.loc[rows, "PKPK_FCR"] = 20 * saturation

    def estimates(frame, mixture):
        model = _mock_model(use_mixture=mixture)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mep.ConvergenceWarning)
            idata, posterior = model.run(frame, progress_bar=False)
        return idata, {name: posterior[name][:, 0, 1].mean() for name in ("a", "b")}

    # Each model is compared with its own fit of the clean data.
    _, plain_clean = estimates(df, mixture=False)
    _, plain = estimates(contaminated, mixture=False)
    _, robust_clean = estimates(df, mixture=True)
    mixture_idata, robust = estimates(contaminated, mixture=True)
    for name in ("a", "b"):
        moved_with_mixture = abs(robust[name] - robust_clean[name])
        moved_without = abs(plain[name] - plain_clean[name])
        assert moved_with_mixture < moved_without, (name, moved_with_mixture, moved_without)

    probability = mixture_idata.posterior[mep.site.outlier_posterior].mean(("chain", "draw"))
    top = probability.sortby(probability, ascending=False)[:3]
    assert sorted(top["observation"].values.tolist()) == sorted(rows.tolist())
    assert set(top["measurement_muscle"].values.tolist()) == {"PKPK_FCR"}


def test_hierarchy_beats_separate_fits_on_sparse_data():
    sim = simulate(n_participants=8, n_muscles=1, n_pulses=12, seed=21)
    errors = {}
    for model_class in (mep.StandardHB, mep.NonHierarchicalBayesianModel):
        model = model_class("intensity", ["participant"], sim.response)
        model.mcmc_params = {"num_chains": 2, "num_warmup": 1000, "num_samples": 500, "thinning": 1}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mep.ConvergenceWarning)
            _, posterior = model.run(sim.df, progress_bar=False, seed=5)
        errors[model_class.__name__] = np.abs(posterior["a"].mean(axis=0) - sim.parameters["a"]).mean()
    assert errors["StandardHB"] < errors["NonHierarchicalBayesianModel"], errors


def test_rat_data_fits_with_unit_priors():
    df = pd.read_csv(shared_csv("rat_epidural.csv"))
    model = mep.StandardHB("pulse_amplitude", [["participant", "compound_position"]], RAT_MUSCLES)
    model.mcmc_params = FULL
    with pytest.warns(mep.UnitScalingWarning):
        idata, _ = model.run(df, progress_bar=False)
    assert idata.posterior.attrs["priors_source"] == "data-scaled"
    table = model.threshold_table(idata)
    assert len(table) == 16
    assert table["participant__compound_position"].unique().tolist() == ["amap01, -C5L", "amap01, -C5M"]
    inside = table[~table["notes"].str.contains("no threshold|below the tested range")]
    assert inside["mean"].between(50, 350).all(), inside
