"""NetCDF archives: round trips in a fresh process, plain-xarray access, bad files and safe writes."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import arviz as az
import h5netcdf
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import hbmep_pymc as mep
from hbmep_pymc import archive
from hbmep_pymc.frame_io import dataset_to_frame, frame_to_dataset

SHORT = {"num_chains": 2, "num_warmup": 300, "num_samples": 200, "thinning": 1}
REPOSITORY = Path(__file__).resolve().parents[1]
GRID = np.linspace(0.0, 100.0, 25)


@pytest.fixture(scope="module")
def mock_fit():
    model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    model.mcmc_params = SHORT
    df, encoder = model.load(mep.datasets.load_mock_data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ConvergenceWarning)
        idata, posterior = model.run(df, progress_bar=False, seed=5)
    return model, df, encoder, idata, posterior


@pytest.fixture(scope="module")
def saved_archive(mock_fit, tmp_path_factory):
    model, df, _, idata, _ = mock_fit
    path = tmp_path_factory.mktemp("archive") / "fit.nc"
    model.save(path, idata, df)
    return path


@pytest.fixture
def archive_copy(saved_archive, tmp_path):
    path = tmp_path / "copy.nc"
    shutil.copy(saved_archive, path)
    return path


def rich_frame() -> pd.DataFrame:
    """A frame with every dtype and label kind the archive promises to keep."""
    frame = pd.DataFrame(
        {
            "participant": pd.Series(["P1", None, "P3"], dtype="str"),
            "nullable_text": pd.Series(["a", None, "c"], dtype="string"),
            "condition": pd.Categorical(["post", "pre", "post"], categories=["pre", "post"], ordered=True),
            "session": pd.Categorical([2, 1, 2]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "accepted": pd.array([True, None, False], dtype="boolean"),
            "intensity": [10.5, np.nan, 30.0],
            "pulse": np.array([1, 2, 3], dtype=np.int32),
            "time": pd.to_datetime(["2024-01-01", None, "2024-01-03"]).tz_localize("Europe/Zurich"),
            "note": pd.Series(["x", 1, None], dtype=object),
            7: [0.1, 0.2, 0.3],
            2.5: [True, False, True],
        },
        index=pd.Index([101, 205, 309], name="trial"),
    )
    frame.attrs = {"source": "rich_frame", "n": 3}
    return frame


def tiny_idata() -> az.InferenceData:
    rng = np.random.default_rng(0)
    return az.from_dict(
        posterior={"a": rng.normal(size=(2, 10, 3))},
        coords={"participant": ["P1", "P2", "P3"]},
        dims={"a": ["participant"]},
    )


def run_python(code: str, *, block_package: bool = False) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter; ``block_package`` makes ``import hbmep_pymc`` fail there."""
    prefix = "import sys\nsys.modules['hbmep_pymc'] = None\n" if block_package else ""
    environment = {**os.environ, "PYTHONPATH": "" if block_package else str(REPOSITORY)}
    result = subprocess.run(
        [sys.executable, "-c", prefix + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=REPOSITORY if not block_package else "/",
        env=environment,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result


def frame_report(df: pd.DataFrame) -> dict:
    """Describe a frame's labels, dtypes and exact values as JSON-able text."""
    return {
        "columns": [repr(label) for label in df.columns],
        "dtypes": [repr(dtype) for dtype in df.dtypes],
        "index": repr(df.index),
        "values": {repr(label): [repr(value) for value in df[label].tolist()] for label in df.columns},
        "attrs": df.attrs,
    }


def predictions(model, df: pd.DataFrame, posterior) -> dict[str, np.ndarray]:
    """Posterior predictions on a grid, or posterior-mean curves where models cannot predict yet."""
    if hasattr(model, "predict"):
        grid = model.make_prediction_dataset(df, num_points=25)
        predicted = model.predict(grid, posterior, seed=7)
        return {"mu": predicted["mu"].values, "obs": predicted["obs"].values}
    params = {name: posterior[name].mean(axis=0)[..., None] for name in ("a", "b", "g", "h", "v")}
    return {"mu": mep.functional.rectified_logistic(GRID, **params)}


def test_round_trip_in_fresh_process(mock_fit, saved_archive, tmp_path):
    model, df, encoder, idata, posterior = mock_fit
    output = tmp_path / "reloaded.npz"
    code = f"""
        import json, numpy as np
        import hbmep_pymc as mep
        from hbmep_pymc.results import Posterior
        from tests.test_archive import frame_report, predictions
        model, idata = mep.load_fit({str(saved_archive)!r})
        df = mep.load_data_frame({str(saved_archive)!r})
        posterior = Posterior.from_idata(idata)
        arrays = {{name: idata.posterior[name].values for name in idata.posterior.data_vars}}
        for key, value in predictions(model, df, posterior).items():
            arrays[f"prediction_{{key}}"] = value
        np.savez({str(output)!r}, **arrays)
        print(json.dumps({{
            "class": type(model).__name__, "state": model.state_dict(), "encoder": model.encoder.to_dict(),
            "frame": frame_report(df),
        }}))
    """
    report = json.loads(run_python(code).stdout.strip().splitlines()[-1])

    assert report["class"] == "StandardHB"
    assert report["state"] == json.loads(json.dumps(model.state_dict()))
    assert report["encoder"] == encoder.to_dict()
    assert report["frame"] == json.loads(json.dumps(frame_report(df)))
    with np.load(output, allow_pickle=False) as reloaded:
        for name in idata.posterior.data_vars:
            np.testing.assert_array_equal(reloaded[name], idata.posterior[name].values)
        for key, value in predictions(model, df, posterior).items():
            np.testing.assert_array_equal(reloaded[f"prediction_{key}"], value)


def test_loaded_groups_identical(mock_fit, saved_archive):
    _, _, _, idata, _ = mock_fit
    model, loaded = mep.load_fit(saved_archive)
    assert sorted(loaded.groups()) == sorted(idata.groups())
    for group in idata.groups():
        xr.testing.assert_identical(loaded[group], idata[group])
    assert model.threshold_table(loaded).equals(model.threshold_table(idata))


def test_archive_opens_without_package(saved_archive):
    code = f"""
        import arviz as az, xarray as xr
        idata = az.from_netcdf({str(saved_archive)!r})
        assert "posterior" in idata.groups()
        assert "data_frame" in idata.groups()
        posterior = xr.open_dataset({str(saved_archive)!r}, group="posterior", engine="h5netcdf")
        assert posterior["a"].dims == ("chain", "draw", "participant", "muscle")
        print(idata.attrs["hbmep_pymc_archive_format"], posterior["participant"].values.tolist())
    """
    output = run_python(code, block_package=True).stdout.split()
    assert output[0] == "1"
    assert "['P1'," in output[1]


def test_tutorial_save_load(mock_fit, tmp_path):
    model, df, encoder, idata, posterior = mock_fit
    mep.save(
        model_state=model.state_dict(),
        df=df,
        posterior=posterior,
        encoder=encoder,
        mcmc=idata,
        output_dir=tmp_path / "output",
    )
    model_state, loaded_df, loaded_posterior, loaded_encoder, mcmc = mep.load(model_dir=tmp_path / "output")

    rebuilt = mep.StandardHB()
    rebuilt.load_state_dict(model_state)
    assert rebuilt.state_dict() == model.state_dict()
    assert loaded_encoder == encoder
    pd.testing.assert_frame_equal(loaded_df, df)
    assert sorted(loaded_posterior) == sorted(posterior)
    np.testing.assert_array_equal(loaded_posterior["a"], posterior["a"])
    xr.testing.assert_identical(mcmc.posterior, idata.posterior)


def test_rich_frame_round_trip(tmp_path):
    frame = rich_frame()
    state = mep.StandardHB("intensity", ["participant"], ["count"]).state_dict()
    mep.save(model_state=state, df=frame, mcmc=tiny_idata(), output_dir=tmp_path)
    _, loaded, _, encoder, _ = mep.load(model_dir=tmp_path)

    assert encoder is None
    pd.testing.assert_frame_equal(loaded, frame, check_exact=True)
    assert list(loaded.dtypes) == list(frame.dtypes)
    assert [type(label) for label in loaded.columns] == [type(label) for label in frame.columns]
    assert loaded.attrs == frame.attrs


def test_frame_multiindex_round_trip():
    frame = rich_frame().set_index(["participant", "pulse"])
    frame.columns = pd.MultiIndex.from_tuples([("c", i) for i in range(frame.shape[1])], names=["kind", "n"])
    restored = dataset_to_frame(frame_to_dataset(frame))
    pd.testing.assert_frame_equal(restored, frame, check_exact=True)


def test_frame_rejects_unstorable_value():
    frame = pd.DataFrame({"note": pd.Series([{"a": 1}], dtype=object)})
    with pytest.raises(mep.FrameEncodingError, match="'note'"):
        frame_to_dataset(frame)


def test_corrupt_bytes_raise(archive_copy):
    size = archive_copy.stat().st_size
    with open(archive_copy, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(np.random.default_rng(1).bytes(4096))
    with pytest.raises(mep.CorruptArchiveError, match=str(archive_copy)):
        mep.load_fit(archive_copy)


def test_changed_values_fail_checksum(archive_copy):
    with h5netcdf.File(archive_copy, "a") as handle:
        handle["constant_data"]["intensity"][0] = -1.0
    with pytest.raises(mep.CorruptArchiveError, match="'constant_data' does not match its SHA-256"):
        mep.load_fit(archive_copy)


def test_truncated_file_raises(archive_copy):
    data = archive_copy.read_bytes()
    archive_copy.write_bytes(data[: len(data) // 2])
    with pytest.raises(mep.CorruptArchiveError, match="truncated"):
        mep.load_fit(archive_copy)


def test_plain_netcdf_not_archive(mock_fit, tmp_path):
    _, _, _, idata, _ = mock_fit
    path = tmp_path / "plain.nc"
    idata.to_netcdf(str(path))
    with pytest.raises(mep.NotAnArchiveError, match="not an hbmep-pymc archive"):
        mep.load_fit(path)


def test_text_file_not_archive(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("intensity,response\n10,0.1\n")
    with pytest.raises(mep.NotAnArchiveError, match="not a NetCDF-4 file"):
        mep.load(model_dir=path)


def test_unknown_format_version_raises(archive_copy):
    with h5netcdf.File(archive_copy, "a") as handle:
        handle.attrs[archive.FORMAT_ATTR] = 99
    with pytest.raises(mep.ArchiveVersionError, match="archive format 99"):
        mep.load_fit(archive_copy)


def test_missing_archive_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="fit.nc"):
        mep.load_fit(tmp_path)


def test_overwrite_needs_flag(mock_fit, archive_copy):
    model, df, _, idata, _ = mock_fit
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(archive_copy, idata, df)
    model.save(archive_copy, idata, overwrite=True)
    assert mep.load_data_frame(archive_copy) is None


def test_interrupted_save_keeps_old_archive(mock_fit, archive_copy, monkeypatch):
    model, df, _, idata, _ = mock_fit
    before = archive_copy.read_bytes()
    write_group = archive._write_group
    calls = []

    def fail_on_third_group(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 3:
            raise KeyboardInterrupt("interrupted while writing")
        write_group(*args, **kwargs)

    monkeypatch.setattr(archive, "_write_group", fail_on_third_group)
    with pytest.raises(KeyboardInterrupt):
        model.save(archive_copy, idata, df, overwrite=True)

    assert len(calls) == 3
    assert archive_copy.read_bytes() == before
    assert sorted(os.listdir(archive_copy.parent)) == [archive_copy.name]
    _, loaded = mep.load_fit(archive_copy)
    xr.testing.assert_identical(loaded.posterior, idata.posterior)


@pytest.mark.slow
def test_loaded_model_refits_with_more_draws(saved_archive):
    model, idata = mep.load_fit(saved_archive)
    df = mep.load_data_frame(saved_archive)
    more = {**SHORT, "num_samples": 2 * SHORT["num_samples"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mep.ConvergenceWarning)
        refit, _ = model.run(df, mcmc_params=more, progress_bar=False)
    assert refit.posterior.sizes["draw"] == 2 * idata.posterior.sizes["draw"]
    assert refit.posterior["participant"].values.tolist() == idata.posterior["participant"].values.tolist()
