"""Real sampling runs, kept short: simulated recovery, the output layout and the command line."""

import arviz as az
import numpy as np
import pytest

import hbmep_pymc as mep
from hbmep_pymc.cli import main
from hbmep_pymc.simulation import simulate

SHORT = {"num_chains": 2, "num_warmup": 400, "num_samples": 300, "thinning": 1}


@pytest.fixture(scope="module")
def simulated_fit():
    sim = simulate(n_participants=3, n_muscles=2, n_pulses=40, seed=3)
    model = mep.StandardHB("intensity", ["participant"], sim.response)
    model.mcmc_params = SHORT
    idata, posterior = model.run(sim.df, progress_bar=False, seed=11)
    return sim, model, idata, posterior


def test_fit_recovers_simulated_thresholds(simulated_fit):
    sim, _, _, posterior = simulated_fit
    estimate = posterior[mep.site.a].mean(axis=0)
    np.testing.assert_allclose(estimate, sim.parameters["a"], atol=3.0)


def test_fit_output_layout(simulated_fit):
    sim, model, idata, posterior = simulated_fit
    for group in ("posterior", "sample_stats", "observed_data", "constant_data", "log_likelihood"):
        assert group in idata.groups()
    assert posterior[mep.site.a].shape == (600, 3, 2)
    assert idata.posterior["a"].dims == ("chain", "draw", "participant", "muscle")
    assert idata.posterior["participant"].values.tolist() == ["S00", "S01", "S02"]
    assert idata.log_likelihood["obs"].sizes["measurement"] == 240
    assert idata.posterior.attrs["function"] == "rectified_logistic"
    assert idata.posterior.attrs["hbmep_pymc_version"] == mep.__version__


def test_summary_has_labelled_rows(simulated_fit):
    _, model, idata, posterior = simulated_fit
    table = model.summary(posterior)
    assert {"mean", "sd", "hdi_2.5%", "hdi_97.5%", "ess_bulk", "ess_tail", "r_hat"} <= set(table.columns)
    assert "a[S01, muscle_1]" in table.index
    assert "b[S01, muscle_1]" not in table.index
    assert len(model.summary(idata)) == len(table)


def test_threshold_table_labels(simulated_fit):
    _, model, idata, _ = simulated_fit
    table = model.threshold_table(idata)
    assert table.columns.tolist()[:6] == ["participant", "muscle", "mean", "sd", "hdi_lower", "hdi_upper"]
    assert "notes" in table.columns
    assert len(table) == 6
    assert (table["hdi_lower"] < table["mean"]).all()


def test_cli_fits_bundled_data(tmp_path, capsys):
    status = main(
        ["fit", "--output", str(tmp_path), "--num-chains", "1", "--num-warmup", "200",
         "--num-samples", "100", "--no-progress", "--quiet"]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "Thresholds (%MSO)" in printed
    assert "P3" in printed
    idata = az.from_netcdf(tmp_path / "inference_data.nc")
    assert idata.posterior["a"].dims[2:] == ("participant", "muscle")
    assert idata.posterior["participant"].values.tolist() == ["P1", "P2", "P3"]
    assert idata.posterior["muscle"].values.tolist() == ["PKPK_ECR", "PKPK_FCR"]
    assert (tmp_path / "summary.csv").exists()


def test_cli_reports_bad_column_in_one_line(tmp_path, capsys):
    csv = tmp_path / "data.csv"
    csv.write_text("x,participant,m\n10,A,0.1\n20,A,0.2\n")
    status = main(["fit", str(csv), "--intensity", "intensity", "--features", "participant",
                   "--response", "m", "--output", str(tmp_path)])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "Column 'intensity' is missing" in error[0]


def test_cli_reports_bad_config(tmp_path, capsys):
    config = tmp_path / "fit.toml"
    config.write_text("[variables]\nintensity = 3\n[mcmc]\nnum_chains = 'four'\n")
    assert main(["fit", "--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert "intensity must be a column name" in error
    assert "num_chains must be an integer" in error


def test_cli_max_samples_too_small(tmp_path, capsys):
    status = main(["fit", "--output", str(tmp_path), "--num-samples", "100", "--max-samples", "50", "--quiet"])
    assert status == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1
    assert "max_samples must be an integer of at least num_samples (100), got 50" in error[0]


def test_config_accepts_max_samples(tmp_path):
    from hbmep_pymc.config import read_config

    config = tmp_path / "fit.toml"
    config.write_text("[mcmc]\nnum_samples = 1000\nmax_samples = 5000\n")
    assert read_config(config).mcmc == {"num_samples": 1000, "max_samples": 5000}
