"""nutpie models compiled with callbacks that numba keeps on disk."""

import ctypes
import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from scipy import special

import hbmep_pymc as mep
from hbmep_pymc import nutpie_numba
from hbmep_pymc.building import ModelSpec, build_pymc_model
from hbmep_pymc.data import prepare_data
from hbmep_pymc.simulation import simulate

nutpie = pytest.importorskip("nutpie")

DOUBLE_POINTER = ctypes.POINTER(ctypes.c_double)


@pytest.fixture(scope="module")
def small_model():
    simulated = simulate(n_participants=2, n_muscles=2, n_pulses=20, seed=3)
    data = prepare_data(simulated.df, "intensity", ["participant"], simulated.response)
    spec = ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default())
    return build_pymc_model(data, spec), simulated


def _logp(compiled, x):
    gradient = np.zeros(compiled.n_dim)
    logp = np.zeros(())
    code = compiled.compiled_logp_func.ctypes(
        compiled.n_dim,
        x.ctypes.data_as(DOUBLE_POINTER),
        gradient.ctypes.data_as(DOUBLE_POINTER),
        logp.ctypes.data_as(DOUBLE_POINTER),
        compiled.user_data.ctypes.data,
    )
    assert code == 0
    return float(logp), gradient


def _expand(compiled, x):
    out = np.zeros(compiled.n_expanded)
    code = compiled.compiled_expand_func.ctypes(
        compiled.n_dim,
        compiled.n_expanded,
        x.ctypes.data_as(DOUBLE_POINTER),
        out.ctypes.data_as(DOUBLE_POINTER),
        compiled.user_data.ctypes.data,
    )
    assert code == 0
    return out


def test_digamma_matches_scipy():
    jitted = numba.njit(nutpie_numba.digamma)
    positive = np.concatenate([np.geomspace(1e-300, 1e300, 2001), np.linspace(0.01, 30.0, 3001)])
    got = np.array([jitted(x) for x in positive])
    np.testing.assert_allclose(got, special.psi(positive), rtol=5e-15, atol=5e-15)
    negative = np.array([-0.5, -1.25, -2.75, -10.1])
    np.testing.assert_allclose([jitted(x) for x in negative], special.psi(negative), rtol=1e-12)
    edges = np.array([0.0, -0.0, -1.0, -3.0, np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal([jitted(x) for x in edges], special.psi(edges))


def test_callbacks_match_nutpie(small_model):
    model, _ = small_model
    ours = nutpie_numba.compile_model(model)
    theirs = nutpie.compile_pymc_model(model)
    assert (ours.n_dim, ours.n_expanded) == (theirs.n_dim, theirs.n_expanded)
    assert ours.shape_info[0] == theirs.shape_info[0]
    assert ours.coords["unconstrained_parameter"].equals(theirs.coords["unconstrained_parameter"])
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = theirs.initial_point_func(int(rng.integers(1 << 30))) + rng.normal(0, 0.3, theirs.n_dim)
        logp, gradient = _logp(ours, x)
        expected_logp, expected_gradient = _logp(theirs, x)
        assert logp == pytest.approx(expected_logp, rel=1e-12)
        np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(_expand(ours, x), _expand(theirs, x), rtol=1e-12)


def test_new_data_changes_the_density(small_model):
    model, simulated = small_model
    compiled = nutpie_numba.compile_model(model)
    x = compiled.initial_point_func(0)
    before, _ = _logp(compiled, x)
    response = compiled.shared_data["response"] * 1.5
    after, _ = _logp(compiled.with_data(response=response), x)
    assert after != pytest.approx(before)
    # The same model built on the scaled responses gives the same density.
    scaled = simulated.df.copy()
    scaled[simulated.response] *= 1.5
    data = prepare_data(scaled, "intensity", ["participant"], simulated.response)
    rebuilt = build_pymc_model(data, ModelSpec(mep.get_curve("rectified_logistic"), mep.Priors.default()))
    assert _logp(nutpie_numba.compile_model(rebuilt), x)[0] == pytest.approx(after, rel=1e-12)


CHILD = """
import hbmep_pymc as mep
from hbmep_pymc import nutpie_numba
from hbmep_pymc.building import ModelSpec, build_pymc_model
from hbmep_pymc.data import prepare_data
from hbmep_pymc.simulation import simulate

simulated = simulate(n_participants=2, n_muscles=1, n_pulses=15, seed=4)
data = prepare_data(simulated.df, "intensity", ["participant"], simulated.response)
model = build_pymc_model(data, ModelSpec(mep.get_curve("logistic4"), mep.Priors.default()))
compiled = nutpie_numba.compile_model(model)
print("HITS", compiled.compiled_logp_func.cache_hits, compiled.compiled_expand_func.cache_hits)
keyed = nutpie_numba.compile_model(model, structure_key=("logistic4", 2, 1))
print("RECORD", keyed.logp_func is None, keyed.n_dim, keyed.shape_info[0] == compiled.shape_info[0])
"""


def test_second_process_loads_callbacks_from_disk(tmp_path):
    env = dict(os.environ, PYTENSOR_FLAGS=f"base_compiledir={tmp_path}")
    hits = []
    records = []
    for _ in range(2):
        output = subprocess.run(
            [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True
        ).stdout
        hits.append([text for text in output.splitlines() if text.startswith("HITS")][-1].split()[1:])
        records.append([text for text in output.splitlines() if text.startswith("RECORD")][-1].split()[1:])
    assert hits == [["0", "0"], ["1", "1"]]
    assert any(name.startswith("string.hbmep_logp") for name in os.listdir(tmp_path / "numba"))
    # The first process compiled the keyed model with PyTensor and wrote a record; the second loaded it.
    assert records[0][0] == "False"
    assert records[1][0] == "True"
    assert records[0][1:] == records[1][1:]
    assert records[1][2] == "True"
    assert any(name.startswith("hbmep_pymc_model_") for name in os.listdir(tmp_path / "numba"))


def test_record_with_missing_callbacks_compiles_again(small_model, tmp_path, monkeypatch):
    model, _ = small_model
    record = tmp_path / "record.json"
    monkeypatch.setattr(nutpie_numba, "_record_path", lambda model, key: record)
    first = nutpie_numba.compile_model(model, structure_key="key")
    assert first.logp_func is not None
    assert record.exists()
    # A record that names callbacks numba does not have on disk is ignored.
    text = record.read_text().replace("hbmep_pymc_", "hbmep_pymc_missing_")
    record.write_text(text)
    again = nutpie_numba.compile_model(model, structure_key="key")
    assert again.logp_func is not None
    x = first.initial_point_func(0)
    assert _logp(again, x)[0] == pytest.approx(_logp(first, x)[0], rel=1e-12)
