import warnings

import numpy as np
import pandas as pd
import pytest

import hbmep_pymc as mep
from hbmep_pymc.simulation import simulate
from tests.conftest import shared_csv

RAT_MUSCLES = ["LBiceps", "LFCR", "LECR", "LTriceps", "LADM", "LDeltoid", "LBicepsFemoris", "RBiceps"]


def test_standard_model_dims_and_shapes(mock_model, mock_df):
    mock_model.centered = []
    pymc_model = mock_model.build(mock_df)
    assert pymc_model.coords["participant"] == ("P1", "P2", "P3")
    assert pymc_model.coords["muscle"] == ("PKPK_ECR", "PKPK_FCR")
    assert pymc_model.named_vars_to_dims["a"] == ("participant", "muscle")
    assert pymc_model.named_vars_to_dims["obs"] == ("measurement",)
    free = {rv.name for rv in pymc_model.free_RVs}
    assert free == set(mock_model.sampled_variables())
    assert {"b", "g", "h", "v", "c1", "c2"} <= set(pymc_model.named_vars)


def test_model_logp_finite_at_initial_point(mock_model, mock_df):
    pymc_model = mock_model.build(mock_df)
    logp = pymc_model.compile_logp()(pymc_model.initial_point())
    assert np.isfinite(logp)


@pytest.mark.parametrize(
    ("function", "absent"),
    [("logistic4", {"v_raw"}), ("rectified_linear", {"h_raw", "v_raw"}), ("logistic5", set())],
)
def test_curve_choice_changes_variables(mock_model, mock_df, function, absent):
    mock_model.function = function
    free = {rv.name for rv in mock_model.build(mock_df).free_RVs}
    assert absent.isdisjoint(free)
    assert "a" in free


def test_original_tutorial_curve_assignment(mock_model):
    mock_model._model = mock_model.logistic5
    assert mock_model.function == "logistic5"
    with pytest.raises(ValueError, match="Unknown curve function"):
        mock_model.function = "gompertz"


def test_mixture_adds_outlier_weight(mock_model, mock_df):
    mock_model.use_mixture = True
    pymc_model = mock_model.build(mock_df)
    assert "outlier_prob" in {rv.name for rv in pymc_model.free_RVs}
    assert np.isfinite(pymc_model.compile_logp()(pymc_model.initial_point()))


def test_non_hierarchical_hyperparameters_per_curve(mock_df):
    model = mep.NonHierarchicalBayesianModel("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    pymc_model = model.build(mock_df)
    assert pymc_model.named_vars_to_dims["a_loc"] == ("participant", "muscle")
    assert model.sampled_variables() == mep.StandardHB().sampled_variables()


def test_mock_data_uses_default_priors(mock_model, mock_df):
    data = mock_model.prepare(mock_df)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mep.UnitScalingWarning)
        priors, source, factors = mock_model.resolve_priors(data)
    assert source == "default"
    assert priors["a_loc"].parameters["mu"] == 50.0


def test_rat_data_priors_rescaled_with_warning():
    df = pd.read_csv(shared_csv("rat_epidural.csv"))
    model = mep.StandardHB("pulse_amplitude", [["participant", "compound_position"]], RAT_MUSCLES)
    data = model.prepare(df)
    with pytest.warns(mep.UnitScalingWarning, match="assume intensity in %MSO"):
        priors, source, factors = model.resolve_priors(data)
    assert source == "data-scaled"
    assert factors == (3.5, 1.0)
    assert priors["a_loc"].parameters["mu"] == pytest.approx(175.0)
    assert priors["b_scale"].parameters["sigma"] == pytest.approx(5.0 / 3.5)


def test_user_priors_take_precedence(mock_model, mock_df):
    priors = mep.Priors.default()
    priors["b_scale"] = mep.Prior("HalfNormal", sigma=1.0)
    mock_model.priors = priors
    resolved, source, _ = mock_model.resolve_priors(mock_model.prepare(mock_df))
    assert source == "user"
    assert resolved["b_scale"].parameters == {"sigma": 1.0}


def test_subclass_default_priors(mock_df):
    class SlowGrowth(mep.StandardHB):
        @classmethod
        def default_priors(cls):
            priors = super().default_priors()
            priors["b_scale"] = mep.Prior("HalfNormal", sigma=0.5)
            return priors

    model = SlowGrowth("TMSIntensity", ["participant"], ["PKPK_ECR"])
    resolved, source, _ = model.resolve_priors(model.prepare(mock_df))
    assert resolved["b_scale"].parameters["sigma"] == 0.5


def test_unknown_prior_distribution_rejected():
    with pytest.raises(ValueError, match="Unknown distribution 'HalfNorml'"):
        mep.Prior("HalfNorml", sigma=1.0)


def test_state_dict_round_trip(mock_model):
    mock_model.function = "logistic4"
    mock_model.use_mixture = True
    mock_model.centered = ["h"]
    state = mock_model.state_dict()
    restored = mep.StandardHB()
    restored.load_state_dict(state)
    assert restored.state_dict() == state


def test_invalid_mcmc_params_rejected(mock_model, mock_df):
    mock_model.mcmc_params = {"num_chains": 0}
    with pytest.raises(ValueError, match="num_chains must be a positive integer"):
        mock_model.run(mock_df)


def test_unknown_sampler_rejected(mock_model, mock_df):
    with pytest.raises(ValueError, match="Unknown sampler 'stan'"):
        mock_model.run(mock_df, sampler="stan")


def test_auto_centring_follows_data_density(mock_model, mock_df):
    # About 80 responses per curve: g, h, c1 and c2 are sampled, their _raw variables derived.
    free = {rv.name for rv in mock_model.build(mock_df).free_RVs}
    assert {"g", "h", "c1", "c2", "b_raw", "v_raw"} <= free
    assert not {"g_raw", "h_raw", "c1_raw", "c2_raw"} & free
    sparse = simulate(n_participants=4, n_muscles=2, n_pulses=12, seed=0)
    model = mep.StandardHB("intensity", ["participant"], sparse.response)
    assert {"g_raw", "h_raw", "c1_raw", "c2_raw"} <= {rv.name for rv in model.build(sparse.df).free_RVs}
    unpooled = mep.NonHierarchicalBayesianModel("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    assert "g_raw" in {rv.name for rv in unpooled.build(mock_df).free_RVs}


def test_unknown_centred_parameter_rejected(mock_model, mock_df):
    mock_model.function = "rectified_linear"
    mock_model.centered = ["h"]
    with pytest.raises(ValueError, match=r"Invalid centered parameters \['h'\].*rectified_linear.*'auto'"):
        mock_model.build(mock_df)
    mock_model.centered = 3
    with pytest.raises(ValueError, match=r"Invalid centered value 3: pass 'auto'"):
        mock_model.build(mock_df)


@pytest.mark.parametrize(("function", "mixture"), [("rectified_logistic", False), ("logistic5", True)])
def test_centred_form_same_log_density(mock_df, function, mixture):
    # On the log scale, log(p) = log(p_scale) + log(p_raw) is a shift with unit Jacobian,
    # so the two forms give equal log densities at corresponding points.
    columns = ("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    shifted = ("g", "h", "c1", "c2")
    forms = {}
    for centered in ([], list(shifted)):
        model = mep.StandardHB(*columns, function=function, use_mixture=mixture, centered=centered)
        forms[bool(centered)] = model.build(mock_df)
    non_centred, centred = forms[False], forms[True]
    rng = np.random.default_rng(2)
    point = {name: value + rng.normal(0.0, 0.4, np.shape(value)) for name, value in non_centred.initial_point().items()}
    moved = dict(point)
    for name in shifted:
        del moved[f"{name}_raw_log__"]
        moved[f"{name}_log__"] = point[f"{name}_raw_log__"] + point[f"{name}_scale_log__"]
    assert set(moved) == set(centred.initial_point())
    np.testing.assert_allclose(centred.compile_logp()(moved), non_centred.compile_logp()(point), rtol=1e-10)
