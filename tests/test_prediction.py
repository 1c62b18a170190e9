"""Prediction grids and posterior and prior predictions."""

import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbmep_pymc as mep
from hbmep_pymc.curves import get_curve
from hbmep_pymc.prediction import frame_groups, intensity_grid
from hbmep_pymc.results import Posterior

TINY = {"num_chains": 2, "num_warmup": 200, "num_samples": 100, "thinning": 1}
MUSCLES = ["PKPK_ECR", "PKPK_FCR"]


@pytest.fixture(scope="module")
def fit():
    model = mep.StandardHB("TMSIntensity", ["participant"], MUSCLES)
    model.mcmc_params = TINY
    df, encoder = model.load(mep.datasets.load_mock_data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ConvergenceWarning)
        idata, posterior = model.run(df, progress_bar=False, seed=1)
    return model, df, encoder, idata, posterior


@pytest.fixture
def model():
    return mep.StandardHB("TMSIntensity", ["participant"], MUSCLES)


def test_grid_spans_each_group(model, mock_df):
    grid = model.make_prediction_dataset(mock_df, num_points=25)
    assert grid.shape == (75, 2)
    assert grid.groupby("participant").size().to_dict() == {"P1": 25, "P2": 25, "P3": 25}
    for label, rows in mock_df.groupby("participant"):
        points = grid.loc[grid["participant"] == label, "TMSIntensity"]
        assert points.min() == pytest.approx(rows["TMSIntensity"].min())
        assert points.max() == pytest.approx(rows["TMSIntensity"].max())


def test_grid_of_encoded_frame_keeps_codes(model, mock_df):
    df, encoder = model.load(mock_df)
    grid = model.make_prediction_dataset(df, num_points=10)
    assert sorted(grid["participant"].unique().tolist()) == [0, 1, 2]
    assert "hbmep_pymc_encoder" in grid.attrs
    groups = frame_groups(grid, model.features)
    assert groups.labels("participant")[:1].tolist() == ["P1"]


def test_grid_bounds_and_log_scales(model, mock_df):
    grid = model.make_prediction_dataset(mock_df, num_points=5, min_intensity=10, max_intensity=1000,
                                         scale="log10")
    points = grid.loc[grid["participant"] == "P1", "TMSIntensity"].to_numpy()
    np.testing.assert_allclose(points, [10, 10**1.5, 100, 10**2.5, 1000])
    natural = model.make_prediction_dataset(mock_df, num_points=5, min_intensity=10, max_intensity=1000,
                                            scale="ln")
    np.testing.assert_allclose(natural["TMSIntensity"], grid["TMSIntensity"])


def test_grid_combined_feature_labels():
    frame = pd.DataFrame({
        "x": [10.0, 20, 30, 40, 15, 25],
        "participant": ["P1", "P1", "P1", "P1", "P2", "P2"],
        "condition": ["pre", "pre", "post", "post", "pre", "pre"],
        "y": [0.1, 0.2, 0.1, 0.3, 0.2, 0.4],
    })
    model = mep.StandardHB("x", [["participant", "condition"]], ["y"])
    encoded, _ = model.load(frame)
    grid = model.make_prediction_dataset(encoded, num_points=4)
    groups = frame_groups(grid, model.features)
    assert sorted(set(groups.labels("participant__condition"))) == ["P1, post", "P1, pre", "P2, pre"]
    assert len(grid) == 12


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_points": 1}, "num_points"),
        ({"num_points": 2.5}, "num_points"),
        ({"scale": "log"}, "scale"),
        ({"min_intensity": 50, "max_intensity": 40}, "below max_intensity"),
        ({"min_intensity": -1}, "non-negative"),
        ({"scale": "ln", "min_intensity": 0}, "positive lowest intensity"),
    ],
)
def test_grid_rejects_bad_arguments(model, mock_df, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model.make_prediction_dataset(mock_df, **kwargs)


def test_grid_missing_intensity_column(model, mock_df):
    with pytest.raises(ValueError, match="TMSIntensity"):
        model.make_prediction_dataset(mock_df.drop(columns="TMSIntensity"))


def test_intensity_grid_linear():
    assert intensity_grid(0.0, 10.0, 3).tolist() == [0.0, 5.0, 10.0]


def test_predict_dims_and_coords(fit):
    model, df, _, _, posterior = fit
    grid = model.make_prediction_dataset(df, num_points=40)
    predictive = model.predict(df=grid, posterior=posterior)
    for name in ("mu", "obs"):
        assert predictive[name].dims == ("chain", "draw", "prediction", "muscle")
        assert predictive[name].shape == (2, 100, 120, 2)
    assert predictive["muscle"].values.tolist() == MUSCLES
    np.testing.assert_allclose(predictive["intensity"], grid["TMSIntensity"])
    assert predictive["participant"].values[[0, 40, 80]].tolist() == ["P1", "P2", "P3"]
    assert predictive.attrs["source"] == "posterior"
    assert bool((predictive["mu"] > 0).all())
    assert bool((predictive["obs"] > 0).all())


def test_predict_matches_curve_formula(fit):
    model, df, _, idata, posterior = fit
    grid = model.make_prediction_dataset(df, num_points=10)
    predictive = model.predict(grid, posterior=posterior)
    cell = idata.posterior.sel(participant="P2", muscle="PKPK_FCR")
    x = float(grid["TMSIntensity"].iloc[15])
    expected = get_curve("rectified_logistic")(x, **{p: cell[p].values for p in "abghv"})
    actual = predictive["mu"].isel(prediction=15).sel(muscle="PKPK_FCR").values
    np.testing.assert_allclose(actual, expected)


def test_predict_obs_follows_gamma_mean(fit):
    model, df, _, _, posterior = fit
    grid = model.make_prediction_dataset(df, num_points=5)
    predictive = model.predict(grid, posterior=posterior, seed=3)
    mu = predictive["mu"].mean(("chain", "draw"))
    obs = predictive["obs"].mean(("chain", "draw"))
    # Averaged over 200 draws, new observations stay within 35 % of the mean curve.
    np.testing.assert_allclose(obs, mu, rtol=0.35)


def test_predict_adds_groups_to_idata(fit):
    model, df, _, idata, _ = fit
    copy = idata.copy()
    grid = model.make_prediction_dataset(df, num_points=10)
    model.predict(grid, idata=copy)
    model.predict(grid, idata=copy)
    assert "predictions" in copy.groups()
    assert "predictions_constant_data" in copy.groups()
    assert copy.predictions["mu"].sizes["prediction"] == 30
    assert copy.predictions_constant_data["participant_code"].values[:1].tolist() == [0]
    assert "predictions" not in idata.groups()


def test_predict_same_for_every_source(fit):
    model, df, _, idata, posterior = fit
    grid = model.make_prediction_dataset(df, num_points=8)
    plain = {name: np.asarray(values) for name, values in posterior.items()}
    reference = model.predict(grid, posterior=posterior, seed=5)
    for source in (idata.copy(), idata.posterior, plain, Posterior(plain)):
        other = model.predict(grid, posterior=source, seed=5)
        xr.testing.assert_allclose(reference["mu"], other["mu"])
        np.testing.assert_array_equal(reference["obs"].values, other["obs"].values)


def test_predict_threads_do_not_change_draws(fit):
    model, df, _, _, posterior = fit
    grid = model.make_prediction_dataset(df, num_points=2000)
    single = model.predict(grid, posterior=posterior, seed=2, num_threads=1)
    several = model.predict(grid, posterior=posterior, seed=2, num_threads=2)
    np.testing.assert_array_equal(single["obs"].values, several["obs"].values)


def test_predict_raw_grid_labels(fit):
    model, _, _, _, posterior = fit
    grid = pd.DataFrame({"TMSIntensity": [20.0, 40.0], "participant": ["P3", "P1"]})
    predictive = model.predict(grid, posterior=posterior)
    assert predictive["participant"].values.tolist() == ["P3", "P1"]


def test_predict_unknown_group(fit):
    model, _, _, _, posterior = fit
    grid = pd.DataFrame({"TMSIntensity": [20.0], "participant": ["P9"]})
    with pytest.raises(ValueError, match="P9"):
        model.predict(grid, posterior=posterior, encoder=None)


def test_predict_rejects_bad_posterior(fit):
    model, df, *_ = fit
    grid = model.make_prediction_dataset(df, num_points=3)
    with pytest.raises(TypeError, match="posterior must be"):
        model.predict(grid, posterior=[1, 2, 3])


def test_predict_other_curve_draws(fit):
    model, df, _, _, posterior = fit
    other = mep.StandardHB("TMSIntensity", ["participant"], MUSCLES, function="logistic4")
    reduced = posterior.idata.posterior.drop_vars(["h"])
    grid = model.make_prediction_dataset(df, num_points=3)
    with pytest.raises(ValueError, match="lack"):
        other.predict(grid, posterior=reduced)


def test_prior_predictive_without_fit(model, mock_df):
    grid = model.make_prediction_dataset(mock_df, num_points=20)
    prior = model.predict(grid, prior_draws=50, seed=4)
    assert prior.attrs["source"] == "prior"
    assert prior["mu"].shape == (1, 50, 60, 2)
    assert bool(np.isfinite(prior["obs"]).all())
