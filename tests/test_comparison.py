"""Model comparison by PSIS-LOO and WAIC on simulated data, overall, per muscle and from the command line."""

import warnings

import numpy as np
import pandas as pd
import pytest

import hbmep_pymc as mep
from hbmep_pymc.cli import main
from hbmep_pymc.simulation import simulate

SHORT = {"num_chains": 2, "num_warmup": 300, "num_samples": 200, "thinning": 1}
ARVIZ_COLUMNS = ["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "warning", "scale"]


@pytest.fixture(scope="module")
def simulated_fits():
    """Rectified-logistic and logistic-4 fits to rectified-logistic data with thresholds at 30-60."""
    sim = simulate(n_participants=3, n_muscles=2, n_pulses=40, seed=3)
    models, fits = {}, {}
    for function in ("rectified_logistic", "logistic4"):
        model = mep.StandardHB("intensity", ["participant"], sim.response, function=function)
        model.mcmc_params = SHORT
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", mep.ConvergenceWarning)
            fits[function], _ = model.run(sim.df, progress_bar=False, seed=1)
        models[function] = model
    return sim, models, fits


def quiet_compare(fits, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ParetoKWarning)
        warnings.simplefilter("ignore", UserWarning)
        return mep.compare(fits, **kwargs)


def test_compare_ranks_true_curve_first(simulated_fits):
    _, _, fits = simulated_fits
    table = quiet_compare(fits)
    assert table.index.tolist() == ["rectified_logistic", "logistic4"]
    assert table.columns.tolist() == ARVIZ_COLUMNS
    assert table.loc["logistic4", "elpd_diff"] > 0
    assert table.loc["rectified_logistic", "weight"] > 0.5


def test_compare_waic_columns(simulated_fits):
    _, _, fits = simulated_fits
    table = quiet_compare(fits, ic="waic")
    assert {"elpd_waic", "p_waic", "elpd_diff", "weight", "se", "dse", "warning"} <= set(table.columns)
    assert table.index[0] == "rectified_logistic"


def test_compare_by_muscle(simulated_fits):
    sim, _, fits = simulated_fits
    table = quiet_compare(fits, by_muscle=True)
    assert table.index.names == ["muscle", "model"]
    assert table.index.get_level_values("muscle").unique().tolist() == sim.response
    for muscle in sim.response:
        assert sorted(table.loc[muscle].index) == ["logistic4", "rectified_logistic"]
    overall = quiet_compare(fits)
    per_muscle_total = table.xs("rectified_logistic", level="model")["elpd_loo"].sum()
    np.testing.assert_allclose(per_muscle_total, overall.loc["rectified_logistic", "elpd_loo"], rtol=1e-6)


def test_high_pareto_k_names_observation(simulated_fits):
    _, _, fits = simulated_fits
    damaged = fits["logistic4"].copy()
    values = damaged.log_likelihood["obs"].values.copy()
    values[..., 5] = -np.exp(np.random.default_rng(0).normal(0.0, 4.0, size=values.shape[:2]))
    damaged.log_likelihood["obs"] = damaged.log_likelihood["obs"].copy(data=values)
    point = damaged.log_likelihood["obs"].isel(measurement=5)
    row, muscle = point.coords["observation"].item(), point.coords["muscle"].item()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mep.compare({"rectified_logistic": fits["rectified_logistic"], "damaged": damaged})
    messages = [str(w.message) for w in caught if issubclass(w.category, mep.ParetoKWarning)]
    damaged_messages = [message for message in messages if message.startswith("damaged:")]
    assert len(damaged_messages) == 1
    assert f"row {row}, {muscle} (k = " in damaged_messages[0]


def test_compare_rejects_different_data(simulated_fits):
    _, _, fits = simulated_fits
    other = fits["logistic4"].copy()
    other.observed_data["obs"] = other.observed_data["obs"] * 1.5
    with pytest.raises(mep.ComparisonError, match="different data"):
        mep.compare({"rectified_logistic": fits["rectified_logistic"], "other": other})


def test_compare_needs_two_fits(simulated_fits):
    _, _, fits = simulated_fits
    with pytest.raises(mep.ComparisonError, match="at least two"):
        mep.compare({"rectified_logistic": fits["rectified_logistic"]})


def test_compare_rejects_unknown_ic(simulated_fits):
    _, _, fits = simulated_fits
    with pytest.raises(ValueError, match="'bic'"):
        mep.compare(fits, ic="bic")


def test_cli_compare_archives(simulated_fits, tmp_path, capsys):
    sim, models, fits = simulated_fits
    arguments = ["compare"]
    for function, idata in fits.items():
        path = models[function].save(tmp_path / f"{function}.nc", idata, sim.df)
        arguments.append(f"{function}={path}")

    assert main([*arguments, "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "elpd_loo" in lines[0]
    assert lines[1].startswith("rectified_logistic")

    assert main([*arguments, "--ic", "waic", "--by-muscle", "--quiet"]) == 0
    output = capsys.readouterr().out
    assert "elpd_waic" in output
    assert "muscle_1" in output


def test_cli_compare_bad_arguments(tmp_path, capsys):
    assert main(["compare", "only-a-path.nc", "other=x.nc"]) == 2
    assert "NAME=PATH" in capsys.readouterr().err
    (tmp_path / "a.nc").write_text("not netcdf")
    assert main(["compare", f"a={tmp_path / 'a.nc'}", f"b={tmp_path / 'a.nc'}"]) == 2
    assert "not a NetCDF-4 file" in capsys.readouterr().err
