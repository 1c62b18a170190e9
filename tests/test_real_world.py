"""Messy inputs that researchers bring: each case asserts its error, warning or flag."""

import warnings

import arviz as az
import numpy as np
import pandas as pd
import pytest

import hbmep_pymc as mep
from hbmep_pymc import functional as F
from hbmep_pymc.checks import IdentifiabilityWarning, SingleIntensityError, check_identifiability
from hbmep_pymc.cli import main, read_table
from hbmep_pymc.data import DataError, prepare_data
from hbmep_pymc.results import check_convergence

SHORT = {"num_chains": 2, "num_warmup": 500, "num_samples": 300, "thinning": 1}
INTENSITY = np.repeat(np.linspace(10.0, 90.0, 17), 3)


def _gamma(rng, mu, c1=0.2, c2=0.05):
    beta = 1.0 / c1 + 1.0 / (c2 * mu)
    return rng.gamma(mu * beta, 1.0 / beta)


def messy_frame(seed: int = 5) -> pd.DataFrame:
    """Three participants, each showing one real-world problem, in one muscle."""
    rng = np.random.default_rng(seed)
    x = INTENSITY
    frames = []

    # Dropped block: 15 pulses at one intensity written as 0.0.
    mu = F.rectified_logistic(x, 35.0, 0.3, 0.02, 1.5, 0.8)
    y = _gamma(rng, mu)
    frames.append(pd.DataFrame({"x": x, "participant": "Zürich 01", "ECR left": y}))
    dropped = pd.DataFrame({"x": np.full(15, 50.0), "participant": "Zürich 01", "ECR left": 0.0})
    frames.append(dropped)

    # Still rising at the highest intensity.
    mu = F.rectified_logistic(x, 40.0, 0.02, 0.02, 5.0, 1.0)
    frames.append(pd.DataFrame({"x": x, "participant": "P 2", "ECR left": _gamma(rng, mu)}))

    # Falls at the top: the highest quarter of intensities gives a third of the peak.
    mu = F.rectified_logistic(x, 30.0, 0.4, 0.02, 2.0, 1.0)
    mu = np.where(x >= 70.0, mu / 3.0, mu)
    frames.append(pd.DataFrame({"x": x, "participant": "P3", "ECR left": _gamma(rng, mu)}))

    return pd.concat(frames, ignore_index=True)


def noise_frame(seed: int = 6) -> pd.DataFrame:
    """One recruited participant and one with pure noise: no recruitment in the tested range."""
    rng = np.random.default_rng(seed)
    x = INTENSITY
    recruited = _gamma(rng, F.rectified_logistic(x, 35.0, 0.3, 0.02, 1.5, 0.8))
    noise = _gamma(rng, np.full_like(x, 0.02))
    return pd.concat(
        [
            pd.DataFrame({"x": x, "participant": "P1", "m": recruited}),
            pd.DataFrame({"x": x, "participant": "P4", "m": noise}),
        ],
        ignore_index=True,
    )


@pytest.fixture(scope="module")
def messy_fit():
    df = messy_frame()
    model = mep.StandardHB("x", ["participant"], ["ECR left"])
    model.mcmc_params = SHORT
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata, posterior = model.run(df, progress_bar=False, seed=2)
    return model, idata, posterior, caught


def _table_row(table, participant):
    return table[table["participant"] == participant].iloc[0]


def test_zero_block_masked_with_count_and_group(messy_fit):
    _, idata, posterior, caught = messy_fit
    messages = [str(w.message) for w in caught if issubclass(w.category, mep.NonPositiveResponseWarning)]
    assert len(messages) == 1
    assert "15 non-positive response(s)" in messages[0]
    assert "participant=Zürich 01" in messages[0]
    assert np.isfinite(posterior["a"]).all()


def test_zero_block_can_raise():
    model = mep.StandardHB("x", ["participant"], ["ECR left"], nonpositive="raise")
    with pytest.raises(DataError, match="non-positive values"):
        model.load(messy_frame())


def test_saturation_not_reached_flagged(messy_fit):
    model, idata, _, _ = messy_fit
    table = model.threshold_table(idata)
    row = _table_row(table, "P 2")
    assert "saturation not reached" in row["notes"]
    assert np.isfinite(row["mean"])
    assert "saturation not reached" not in _table_row(table, "Zürich 01")["notes"]
    summary = model.summary(idata)
    assert "saturation not reached" in summary.loc["a[P 2, ECR left]", "notes"]


def test_falling_top_flagged_as_poor_fit(messy_fit):
    model, idata, _, _ = messy_fit
    row = _table_row(model.threshold_table(idata), "P3")
    assert "poor fit at high intensities" in row["notes"]
    # No divergence storm: fewer than 5 % of the 600 draws.
    assert int(idata.sample_stats["diverging"].sum()) < 30


def test_pure_noise_has_no_threshold_in_range():
    model = mep.StandardHB("x", ["participant"], ["m"])
    model.mcmc_params = SHORT
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ConvergenceWarning)
        idata, posterior = model.run(noise_frame(), progress_bar=False, seed=2)
    table = model.threshold_table(idata)
    row = _table_row(table, "P4")
    assert "no threshold within the tested range" in row["notes"]
    assert row["prob_threshold_above_range"] > 0.5
    assert "no threshold" not in _table_row(table, "P1")["notes"]
    assert np.isfinite(posterior["a"]).all()


def test_odd_labels_survive_to_summary_and_netcdf(messy_fit, tmp_path):
    model, idata, _, _ = messy_fit
    assert "a[Zürich 01, ECR left]" in model.summary(idata).index
    path = tmp_path / "fit.nc"
    idata.to_netcdf(str(path))
    reloaded = az.from_netcdf(str(path))
    assert reloaded.posterior["participant"].values.tolist() == ["P 2", "P3", "Zürich 01"]
    assert reloaded.posterior["muscle"].values.tolist() == ["ECR left"]


def test_sparse_curves_named_as_not_identifiable():
    rng = np.random.default_rng(0)
    rows = []
    for p in range(12):
        levels = rng.choice(np.linspace(10, 90, 9), size=1 + p % 3, replace=False)
        for level in levels:
            rows.append({"x": level, "participant": f"S{p}", "m": 0.5})
    df = pd.DataFrame(rows)
    # 90 % of the cells missing: pad with rows whose response is NaN.
    padding = pd.DataFrame({"x": rng.uniform(10, 90, 9 * len(df)), "participant": "S0", "m": np.nan})
    df = pd.concat([df, padding], ignore_index=True)
    data = prepare_data(df, "x", ["participant"], ["m"])
    with pytest.warns(IdentifiabilityWarning, match="12 curve\\(s\\) have fewer distinct intensities") as record:
        weak = check_identifiability(data, mep.get_curve("rectified_logistic"), hierarchical=True)
    assert len(weak) == 12
    assert "participant=S11, muscle=m (3 intensities)" in str(record[0].message)


def test_single_intensity_allowed_in_hierarchy_rejected_alone():
    df = pd.DataFrame(
        {"x": [30.0] * 5 + list(np.linspace(10, 90, 10)), "participant": ["A"] * 5 + ["B"] * 10,
         "m": np.linspace(0.1, 1.0, 15)}
    )
    data = prepare_data(df, "x", ["participant"], ["m"])
    with pytest.warns(IdentifiabilityWarning, match="participant=A, muscle=m \\(1 intensity\\)"):
        check_identifiability(data, mep.get_curve("rectified_logistic"), hierarchical=True)
    model = mep.NonHierarchicalBayesianModel("x", ["participant"], ["m"])
    with pytest.raises(SingleIntensityError, match="tested at a single intensity: participant=A"):
        model.run(df)


def test_headerless_file_read_with_column_names(tmp_path):
    csv = tmp_path / "export.csv"
    csv.write_text("10.0,0.05\n20.0,0.3\n30.0,0.9\n")
    df = read_table(str(csv), "intensity,ECR")
    assert df.columns.tolist() == ["intensity", "ECR"]
    assert len(df) == 3


def test_cli_negative_intensity_one_line(tmp_path, capsys):
    csv = tmp_path / "export.csv"
    csv.write_text("-10.0,0.05\n-20.0,0.3\n-30.0,0.9\n")
    status = main(["fit", str(csv), "--column-names", "current,ECR", "--intensity", "current",
                   "--response", "ECR", "--output", str(tmp_path)])
    assert status == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "must be non-negative" in error
    assert "abs()" in error


def test_spaces_after_commas_and_quotes(tmp_path):
    csv = tmp_path / "spaced.csv"
    csv.write_text('x, "participant name", m\n10, "Anna B", 0.1\n20, "Anna B", 0.4\n')
    df = read_table(str(csv))
    assert df.columns.tolist() == ["x", "participant name", "m"]
    data = prepare_data(df, "x", ["participant name"], ["m"])
    assert data.coords()["participant name"] == ["Anna B"]


def test_excel_file_read(tmp_path):
    frame = pd.DataFrame({"x": [10.0, 20.0], "participant": ["Ö1", "Ö1"], "m": [0.1, 0.5]})
    path = tmp_path / "pulses.xlsx"
    frame.to_excel(path, index=False)
    df = read_table(str(path))
    assert df["participant"].tolist() == ["Ö1", "Ö1"]


def test_float_labels_and_float_noise_intensity():
    df = pd.DataFrame(
        {"current": [0.0, 0.0009000000000000001, 0.0018, 0.003], "site": [1.5, 1.5, 2.5, 2.5],
         "m": [10.0, 250.0, 900.0, 2000.0]}
    )
    data = prepare_data(df, "current", ["site"], ["m"])
    assert data.coords()["site"] == [1.5, 2.5]
    factors = mep.priors.unit_factors(data.intensity, data.response)
    assert factors == (3e-5, 400.0)


def test_chains_that_disagree_are_named():
    rng = np.random.default_rng(0)
    a = np.stack([rng.normal(30, 1, 200), rng.normal(45, 1, 200)])[:, :, None, None]
    idata = az.from_dict(
        posterior={"a": a}, coords={"participant": ["P1"], "muscle": ["ECR"]},
        dims={"a": ["participant", "muscle"]},
    )
    idata.add_groups(sample_stats={"diverging": np.zeros((2, 200), dtype=bool)})
    with pytest.warns(mep.ConvergenceWarning, match=r"r_hat above 1.01 for a\[P1, ECR\]"):
        problems = check_convergence(idata, ["a"])
    assert problems["r_hat"] == ["a[P1, ECR]"]


def test_large_file_handled_without_dense_draw_copies():
    rng = np.random.default_rng(1)
    n = 50_000
    muscles = [f"muscle {m}" for m in range(8)]
    df = pd.DataFrame({"x": rng.uniform(0, 100, n), "participant": rng.integers(0, 60, n)})
    for muscle in muscles:
        df[muscle] = rng.gamma(2.0, 0.1, n)
    data = prepare_data(df, "x", ["participant"], muscles)
    assert data.response.shape == (n, 8)
    assert data.observed_cells().shape == (60, 8)


def test_log_likelihood_skipped_when_too_large(monkeypatch, mock_model, mock_df):
    monkeypatch.setattr("hbmep_pymc.inference.MAX_LOG_LIKELIHOOD_SIZE", 10)
    mock_model.mcmc_params = {"num_chains": 1, "num_warmup": 50, "num_samples": 20, "thinning": 1}
    with pytest.warns(UserWarning, match="log-likelihood was not stored"):
        idata, _ = mock_model.run(mock_df, progress_bar=False)
    assert "log_likelihood" not in idata.groups()


def test_odd_labels_survive_to_plot_titles():
    model = mep.StandardHB("x", ["participant"], ["ECR left"])
    figure = model.plot(messy_frame())
    figures = figure if isinstance(figure, list) else [figure]
    titles = [axis.get_title() for fig in figures for axis in fig.axes]
    assert any("Zürich 01" in title and "ECR left" in title for title in titles)
    assert any("P 2" in title for title in titles)


def test_summary_notes_mark_disagreeing_chains():
    from hbmep_pymc.results import convergence_notes

    rng = np.random.default_rng(0)
    a = np.stack([rng.normal(30, 1, 200), rng.normal(45, 1, 200)])[:, :, None, None]
    idata = az.from_dict(
        posterior={"a": a}, coords={"participant": ["P1"], "muscle": ["ECR"]},
        dims={"a": ["participant", "muscle"]},
    )
    notes = convergence_notes(idata, ["a"], min_ess=200)
    assert "r_hat > 1.01" in notes["a[P1, ECR]"]
    assert "low ESS" in notes["a[P1, ECR]"]
