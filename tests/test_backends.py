"""Every sampler back-end on a small model, the JAX-safe truncated normal, and the compile cache."""

import numpy as np
import pymc as pm
import pytest
from scipy import stats

import hbmep_pymc as mep
from hbmep_pymc import sampling
from hbmep_pymc.distributions import TruncatedNormal, truncated_normal_logp
from hbmep_pymc.initialization import initial_values, jittered_starts
from hbmep_pymc.results import convergence_notes
from hbmep_pymc.simulation import simulate

TINY = {"num_chains": 2, "num_warmup": 150, "num_samples": 100, "thinning": 1}


@pytest.fixture(scope="module")
def small_data():
    return simulate(n_participants=2, n_muscles=2, n_pulses=24, seed=5)


@pytest.fixture(scope="module")
def nutpie_fit(small_data):
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    idata, _ = model.run(small_data.df, mcmc_params=TINY, progress_bar=False, seed=1)
    return idata


def _layout(idata):
    groups = {
        group: {name: idata[group][name].dims for name in idata[group].data_vars}
        for group in ("posterior", "observed_data", "constant_data", "log_likelihood")
    }
    return groups, set(idata.groups())


@pytest.mark.parametrize("sampler", ["pymc", "numpyro", "blackjax"])
def test_backend_matches_nutpie_layout(sampler, small_data, nutpie_fit):
    if sampler != "pymc":
        pytest.importorskip(sampler)
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    idata, posterior = model.run(small_data.df, mcmc_params=TINY, sampler=sampler, progress_bar=False, seed=1)
    assert _layout(idata) == _layout(nutpie_fit)
    assert idata.posterior["a"].dims == ("chain", "draw", "participant", "muscle")
    assert idata.posterior.sizes["chain"] == 2
    assert idata.posterior.sizes["draw"] == 100
    assert idata.posterior.attrs["sampler"] == sampler
    assert "diverging" in idata.sample_stats
    assert posterior["a"].shape == (200, 2, 2)
    # Short chains, but every back-end must find the rise of the curves.
    np.testing.assert_allclose(posterior["a"].mean(axis=0), small_data.parameters["a"], atol=6.0)


@pytest.mark.parametrize("sampler", ["nutpie", "pymc", "numpyro", "blackjax"])
def test_backend_samples_centred_form(sampler, small_data, nutpie_fit):
    if sampler not in ("nutpie", "pymc"):
        pytest.importorskip(sampler)
    centered = ["g", "h", "c1", "c2"]
    model = mep.StandardHB("intensity", ["participant"], small_data.response, centered=centered)
    idata, posterior = model.run(small_data.df, mcmc_params=TINY, sampler=sampler, progress_bar=False, seed=1)
    assert _layout(idata) == _layout(nutpie_fit)
    assert idata.posterior.attrs["centered"] == "g,h,c1,c2"
    for name in centered:
        np.testing.assert_allclose(
            idata.posterior[f"{name}_raw"], idata.posterior[name] / idata.posterior[f"{name}_scale"], rtol=1e-6
        )
    np.testing.assert_allclose(posterior["a"].mean(axis=0), small_data.parameters["a"], atol=6.0)


def test_numpyro_mixture_with_logistic5(small_data):
    pytest.importorskip("numpyro")
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    model.use_mixture = True
    model._model = model.logistic5
    idata, _ = model.run(small_data.df, mcmc_params=TINY, sampler="numpyro", progress_bar=False, seed=2)
    assert "outlier_prob" in idata.posterior
    assert idata.posterior["v"].dims == ("chain", "draw", "participant", "muscle")


def test_truncated_normal_matches_scipy():
    with pm.Model() as ours:
        TruncatedNormal("a", mu=20.0, sigma=15.0, shape=3)
    with pm.Model() as theirs:
        pm.TruncatedNormal("a", mu=20.0, sigma=15.0, lower=0.0, shape=3)
    values = np.array([0.5, 20.0, 80.0])
    ours_logp = ours.compile_logp(jacobian=False)({"a_log__": np.log(values)})
    theirs_logp = theirs.compile_logp(jacobian=False)({"a_interval__": np.log(values)})
    reference = stats.truncnorm.logpdf(values, -20.0 / 15.0, np.inf, loc=20.0, scale=15.0).sum()
    assert ours_logp == pytest.approx(reference, rel=1e-9)
    assert theirs_logp == pytest.approx(reference, rel=1e-6)
    assert float(truncated_normal_logp(-1.0, 20.0, 15.0, 0.0, np.inf).eval()) == -np.inf


def test_truncated_normal_compiles_for_jax():
    pytest.importorskip("jax")
    with pm.Model() as model:
        a_loc = TruncatedNormal("a_loc", mu=50.0, sigma=50.0)
        TruncatedNormal("a", mu=a_loc, sigma=10.0, shape=2)
    logp = model.compile_logp(mode="JAX")
    point = {"a_loc_log__": np.log(40.0), "a_log__": np.log([35.0, 45.0])}
    assert logp(point) == pytest.approx(model.compile_logp()(point))


def test_truncated_normal_rejects_bad_bounds():
    with pm.Model(), pytest.raises(ValueError, match="upper > lower"):
        TruncatedNormal("a", mu=1.0, sigma=1.0, lower=2.0, upper=1.0)


def test_starts_near_curve_rise(small_data):
    data = mep.StandardHB("intensity", ["participant"], small_data.response).prepare(small_data.df)
    start = initial_values(data, mep.get_curve("rectified_logistic"))
    # The pulses are 100/23 %MSO apart; the rough threshold lands within a few pulses.
    np.testing.assert_allclose(start["a"], small_data.parameters["a"], atol=15.0)
    for name in ("b", "g", "h", "v", "c1", "c2"):
        assert np.all(start[f"{name}_raw"] > 0)
        assert np.all(start[f"{name}_scale"] > 0)
    chains = jittered_starts(start, chains=3, seed=4)
    assert not np.allclose(chains[0]["b_raw"], chains[1]["b_raw"])
    np.testing.assert_allclose(chains[0]["a"], start["a"], rtol=0.031)


def test_starts_fill_curves_without_data():
    sim = simulate(n_participants=3, n_muscles=1, n_pulses=20, seed=1)
    df = sim.df.copy()
    df.loc[df["participant"] == "S01", "muscle_0"] = np.nan
    model = mep.StandardHB("intensity", ["participant"], sim.response)
    data = model.prepare(df)
    start = initial_values(data, model.curve, model.hierarchical)
    assert np.all(np.isfinite(start["a"]))
    assert np.all(start["a"] > 0)


def test_refit_reuses_compiled_model(small_data, monkeypatch):
    sampling.clear_compile_cache()
    calls = []
    original = sampling.nutpie_numba.compile_model

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sampling.nutpie_numba, "compile_model", counting)
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    short = {"num_chains": 1, "num_warmup": 100, "num_samples": 50}
    model.run(small_data.df, mcmc_params=short, progress_bar=False)
    # New data of the same structure: other pulses, other participant labels.
    other = simulate(n_participants=2, n_muscles=2, n_pulses=30, seed=8)
    other.df["participant"] = other.df["participant"].map({"S00": "P7", "S01": "P9"})
    idata, posterior = model.run(other.df, mcmc_params=short, progress_bar=False)
    assert len(calls) == 1
    assert idata.posterior["participant"].values.tolist() == ["P7", "P9"]
    assert idata.observed_data.sizes["measurement"] == 120
    np.testing.assert_allclose(posterior["a"].mean(axis=0), other.parameters["a"], atol=8.0)
    # A different structure compiles again.
    model.use_mixture = True
    model.run(other.df, mcmc_params=short, progress_bar=False)
    assert len(calls) == 2
    sampling.clear_compile_cache()


def test_nutpie_options_are_passed_through(small_data):
    pytest.importorskip("jax")
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    short = {"num_chains": 1, "num_warmup": 50, "num_samples": 20}
    idata, _ = model.run(
        small_data.df, mcmc_params=short, progress_bar=False, backend="jax", gradient_backend="jax",
        low_rank_modified_mass_matrix=True,
    )
    assert idata.posterior.sizes["draw"] == 20
    assert "a_log__" not in idata.posterior


def test_nutpie_without_warmup_rejected(small_data):
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    with pytest.raises(ValueError, match="at least one warm-up iteration"):
        model.run(small_data.df, mcmc_params={"num_chains": 1, "num_warmup": 0, "num_samples": 5})


def test_max_samples_fixed_checkpoints(small_data, monkeypatch):
    """Sampling goes on in steps of half num_samples until the checks pass, and the cut is reproducible."""
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    fixed = {"num_chains": 2, "num_warmup": 100, "num_samples": 300}
    reference, _ = model.run(small_data.df, mcmc_params=fixed, progress_bar=False, seed=3)

    checked = []

    def pass_from_250(trace, check_vars, draws):
        checked.append(draws)
        return [] if draws >= 250 else ["a[S00, muscle_0]"]

    monkeypatch.setattr(sampling, "_unconverged", pass_from_250)
    extended = {"num_chains": 2, "num_warmup": 100, "num_samples": 100, "max_samples": 2000}
    idata, _ = model.run(small_data.df, mcmc_params=extended, progress_bar=False, seed=3)
    assert checked == [100, 150, 200, 250]
    assert idata.posterior.sizes["draw"] == 250
    assert idata.posterior.attrs["num_samples"] == 250
    assert idata.posterior.attrs["max_samples"] == 2000
    # The first 250 draws are those of a fixed-length run with the same seed.
    np.testing.assert_array_equal(idata.posterior["a"].values, reference.posterior["a"].values[:, :250])


def test_max_samples_stops_at_the_limit(small_data, monkeypatch):
    monkeypatch.setattr(sampling, "_unconverged", lambda trace, check_vars, draws: ["a_loc"])
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    extended = {"num_chains": 1, "num_warmup": 50, "num_samples": 40, "max_samples": 70}
    idata, _ = model.run(small_data.df, mcmc_params=extended, progress_bar=False)
    assert idata.posterior.sizes["draw"] == 70
    assert not np.isnan(idata.posterior["a"].values).any()


def test_max_samples_real_checks(small_data):
    model = mep.StandardHB("intensity", ["participant"], small_data.response)
    extended = {"num_chains": 2, "num_warmup": 200, "num_samples": 200, "max_samples": 2000}
    idata, _ = model.run(small_data.df, mcmc_params=extended, progress_bar=False, seed=1)
    drawn = idata.posterior.sizes["draw"]
    # Here the first check fails and a later one passes, so sampling stopped at a passing check.
    assert 200 < drawn < 2000
    names = model.sampled_variables()
    assert not convergence_notes(idata, names, min_ess=200)
    assert convergence_notes(idata.isel(draw=slice(0, drawn - 100)), names, min_ess=200)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"num_samples": 500, "max_samples": 400}, "at least num_samples"),
        ({"max_samples": 1500.0}, "must be an integer"),
        ({"max_samples": True}, "must be an integer"),
    ],
)
def test_max_samples_rejects_bad_values(params, message):
    with pytest.raises(ValueError, match=message):
        sampling.MCMCSettings.from_params(params)


def test_max_samples_needs_nutpie(small_data):
    model = mep.StandardHB("intensity", ["participant"], small_data.response, sampler="pymc")
    with pytest.raises(ValueError, match="max_samples requires sampler='nutpie'"):
        model.run(small_data.df, mcmc_params={"num_chains": 1, "num_samples": 10, "max_samples": 20})
