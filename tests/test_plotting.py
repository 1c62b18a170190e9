"""Data and curve figures: panels, titles, lines, bands, labels, pages and files."""

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PathCollection, PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import hbmep_pymc as mep  # noqa: E402
from hbmep_pymc.simulation import simulate  # noqa: E402

TINY = {"num_chains": 2, "num_warmup": 200, "num_samples": 100, "thinning": 1}
MUSCLES = ["PKPK_ECR", "PKPK_FCR"]


@pytest.fixture(scope="module")
def fit():
    model = mep.StandardHB("TMSIntensity", ["participant"], MUSCLES,
                           intensity_unit="%MSO", response_unit="mV")
    model.mcmc_params = TINY
    df, encoder = model.load(mep.datasets.load_mock_data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ConvergenceWarning)
        idata, posterior = model.run(df, progress_bar=False, seed=1)
    grid = model.make_prediction_dataset(df, num_points=100)
    predictive = model.predict(grid, posterior=posterior)
    return model, df, encoder, posterior, grid, predictive


def axes_with(figure: Figure, label: str) -> list:
    return [ax for ax in figure.axes if ax.get_label() == label]


def bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def scatters(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PathCollection)]


def test_plot_data_panels_and_titles(mock_df, tmp_path):
    model = mep.StandardHB("TMSIntensity", ["participant"], MUSCLES)
    figure = model.plot(mock_df, output_path=tmp_path / "dataset.pdf")
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 6
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [f"{p} | {m}" for p in ("P1", "P2", "P3") for m in MUSCLES]
    assert all(len(scatters(ax)) == 1 for ax in figure.axes)
    assert figure.axes[0].get_xlabel() == "TMSIntensity"
    assert figure.axes[0].get_ylabel() == "Response"
    assert (tmp_path / "dataset.pdf").stat().st_size > 0


def test_plot_units_hue_log_and_muscles(mock_df, tmp_path):
    model = mep.StandardHB("TMSIntensity", ["participant"], MUSCLES,
                           intensity_unit="%MSO", response_unit="mV")
    frame = mock_df.assign(block=np.where(mock_df.index % 2 == 0, "early", "late"))
    figure = model.plot(frame, output_path=tmp_path / "ecr.png", hue="block", muscles=["PKPK_ECR"],
                        log_response=True)
    assert len(figure.axes) == 3
    ax = figure.axes[0]
    assert ax.get_xlabel() == "TMSIntensity (%MSO)"
    assert ax.get_ylabel() == "Response (mV)"
    assert ax.get_yscale() == "log"
    assert len(scatters(ax)) == 2
    assert (tmp_path / "ecr.png").exists()


def test_plot_many_groups_pages(tmp_path):
    sim = simulate(n_participants=12, n_muscles=2, n_pulses=12, seed=0)
    model = mep.StandardHB("intensity", ["participant"], sim.response)
    figures = model.plot(sim.df, output_path=tmp_path / "many.pdf", rows_per_page=5)
    assert isinstance(figures, list)
    assert [len(figure.axes) for figure in figures] == [10, 10, 4]
    assert figures[2].axes[0].get_title() == "S10 | muscle_0"
    widths = {tuple(figure.get_size_inches().round(2))[0] for figure in figures}
    assert widths == {8.0}


def test_plot_png_pages_are_numbered(tmp_path):
    sim = simulate(n_participants=3, n_muscles=1, n_pulses=8, seed=0)
    model = mep.StandardHB("intensity", ["participant"], sim.response)
    with pytest.warns(UserWarning, match="pages"):
        model.plot(sim.df, output_path=tmp_path / "data.svg", rows_per_page=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data-page1.svg", "data-page2.svg"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"output_path": "figure.jpg"}, ValueError, ".pdf"),
        ({"output_path": "/no/such/folder/figure.pdf"}, FileNotFoundError, "does not exist"),
        ({"muscles": ["PKPK_APB"]}, ValueError, "PKPK_APB"),
        ({"rows_per_page": 0}, ValueError, "rows_per_page"),
        ({"hue": "condition"}, ValueError, "condition"),
    ],
)
def test_plot_rejects_bad_arguments(mock_df, kwargs, error, message):
    model = mep.StandardHB("TMSIntensity", ["participant"], MUSCLES)
    with pytest.raises(error, match=message):
        model.plot(mock_df, **kwargs)


def test_plot_curves_tutorial_layout(fit, tmp_path):
    model, df, encoder, posterior, grid, predictive = fit
    figure = model.plot_curves(df=df, prediction_df=grid, predictive=predictive, posterior=posterior,
                               encoder=encoder, output_path=tmp_path / "curves.pdf")
    curves = axes_with(figure, "curve")
    thresholds = axes_with(figure, "threshold")
    assert len(curves) == 6
    assert len(thresholds) == 6
    assert [ax.get_title() for ax in curves] == [f"{p} | {m}" for p in ("P1", "P2", "P3") for m in MUSCLES]
    for ax in curves:
        assert len(ax.lines) == 1
        assert len(bands(ax)) == 1
        assert len(scatters(ax)) == 1
        assert ax.get_ylabel() == "Response (mV)"
    for ax in thresholds:
        assert len(ax.lines) == 1
        assert len(bands(ax)) == 1
        assert ax.get_xlabel() == "TMSIntensity (%MSO)"
        assert ax.get_ylabel() == "Threshold\ndensity"
    assert (tmp_path / "curves.pdf").stat().st_size > 0


def test_plot_curves_obs_hdi_band(fit):
    model, df, encoder, posterior, grid, predictive = fit
    figure = model.plot_curves(df, grid, predictive, posterior, encoder, predictive_hdi_prob=0.95)
    curves = axes_with(figure, "curve")
    assert all(len(bands(ax)) == 2 for ax in curves)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "95% HDI of new observations" in labels
    assert "95% HDI of mu" in labels


def test_plot_curves_obs_band_covers_mu_band(fit):
    model, df, encoder, posterior, grid, predictive = fit
    figure = model.plot_curves(df, grid, predictive, posterior, encoder, predictive_hdi_prob=0.95)
    obs_band, mu_band = bands(axes_with(figure, "curve")[0])
    obs_y = obs_band.get_paths()[0].vertices[:, 1]
    mu_y = mu_band.get_paths()[0].vertices[:, 1]
    assert obs_y.min() >= 0
    assert obs_y.max() > mu_y.max()


def test_plot_curves_predicts_when_not_given(fit):
    model, df, encoder, posterior, *_ = fit
    figure = model.plot_curves(df, posterior=posterior, muscles=["PKPK_FCR"], log_response=True,
                               num_points=30)
    curves = axes_with(figure, "curve")
    assert len(curves) == 3
    assert all(ax.get_yscale() == "log" for ax in curves)
    assert all(len(ax.lines) == 1 for ax in curves)


def test_plot_curves_without_posterior_has_no_densities(fit):
    model, df, encoder, _, grid, predictive = fit
    figure = model.plot_curves(df, grid, predictive, encoder=encoder)
    assert len(axes_with(figure, "threshold")) == 0
    assert axes_with(figure, "curve")[0].get_xlabel() == "TMSIntensity (%MSO)"


def test_plot_curves_marks_outliers(fit):
    model, df, encoder, posterior, grid, predictive = fit
    idata = posterior.idata.copy()
    observed = idata.observed_data
    probability = np.zeros((idata.posterior.sizes["chain"], idata.posterior.sizes["draw"],
                            observed.sizes["measurement"]))
    first_ecr = int(np.flatnonzero(observed["muscle"].values == "PKPK_ECR")[0])
    probability[..., first_ecr] = 0.9
    # Same layout as a mixture fit: the measurement dim carries no coords in the posterior.
    idata.posterior["outlier_posterior_prob"] = (("chain", "draw", "measurement"), probability)
    figure = model.plot_curves(df, grid, predictive, idata, encoder)
    curves = axes_with(figure, "curve")
    assert len(scatters(curves[0])) == 2
    assert all(len(scatters(ax)) == 1 for ax in curves[1:])
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "outlier (p > 0.5)" in labels


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hdi_prob": 1.5}, "hdi_prob"),
        ({"predictive_hdi_prob": 1.0}, "predictive_hdi_prob"),
        ({"muscles": ["PKPK_APB"]}, "PKPK_APB"),
        ({"output_path": "curves.txt"}, ".pdf"),
    ],
)
def test_plot_curves_rejects_bad_arguments(fit, kwargs, message):
    model, df, encoder, posterior, grid, predictive = fit
    with pytest.raises(ValueError, match=message):
        model.plot_curves(df, grid, predictive, posterior, encoder, **kwargs)


def test_plot_curves_needs_fit(fit):
    model, df, *_ = fit
    with pytest.raises(ValueError, match="posterior="):
        model.plot_curves(df)
