"""Save fits to self-describing NetCDF archives and load them back, without pickle.

An archive is one NetCDF-4 file. It contains every InferenceData group of
the fit and the data frame, with its original labels and dtypes, in the
group ``data_frame``. The group ``hbmep_pymc`` stores the model state and
the encoder as JSON. The root attrs record the package version, the
archive format version and a SHA-256 digest of every group. Plain ``arviz.from_netcdf`` or
``xarray.open_dataset(path, group="posterior")`` read it without
hbmep-pymc installed.

Examples
--------
Save and reload with the model's own methods:

>>> model.save("fit.nc", idata, df)  # doctest: +SKIP
>>> model, idata = mep.load_fit("fit.nc")  # doctest: +SKIP

The form of the original hbmep tutorial, which writes ``output_dir/fit.nc``:

>>> mep.save(model_state=model.state_dict(), df=df, posterior=posterior,
...          encoder=encoder, mcmc=idata, output_dir="output")  # doctest: +SKIP
>>> model_state, df, posterior, encoder, mcmc = mep.load(model_dir="output")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from hbmep_pymc._version import __version__
from hbmep_pymc.encoding import Encoder
from hbmep_pymc.frame_io import dataset_to_frame, frame_to_dataset
from hbmep_pymc.results import Posterior, posterior_dataset

if TYPE_CHECKING:
    from hbmep_pymc.model import BaseModel

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = 1
"""Version of the archive layout that this module writes and reads."""

ARCHIVE_FILENAME = "fit.nc"
"""File name of the archive inside a folder given to :func:`save` or :func:`load`."""

FORMAT_ATTR = "hbmep_pymc_archive_format"
VERSION_ATTR = "hbmep_pymc_archive_version"
DIGEST_ATTR = "hbmep_pymc_archive_sha256"
OWN_ATTRS = (FORMAT_ATTR, VERSION_ATTR, DIGEST_ATTR)

FRAME_GROUP = "data_frame"
META_GROUP = "hbmep_pymc"
ENGINE = "h5netcdf"

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_READ_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError, IndexError)


class ArchiveError(Exception):
    """Raised when an archive cannot be read; the message names the file and the problem.

    It is the base class of :class:`CorruptArchiveError`,
    :class:`NotAnArchiveError` and :class:`ArchiveVersionError`, so one
    ``except`` clause catches every unusable archive.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> try:  # doctest: +SKIP
    ...     model, idata = mep.load_fit("fits/P1_ECR.nc")
    ... except mep.ArchiveError as error:
    ...     print(f"Refit instead: {error}")
    """


class CorruptArchiveError(ArchiveError):
    """Raised for an archive whose bytes are damaged or cut short.

    Examples
    --------
    A file that starts like NetCDF-4 but is cut short after the signature:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import hbmep_pymc as mep
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "fit.nc")
    ...     _ = path.write_bytes(b"\\x89HDF\\r\\n\\x1a\\n" + bytes(64))
    ...     try:
    ...         mep.load_fit(path)
    ...     except mep.CorruptArchiveError:
    ...         print("corrupt")
    corrupt
    """


class NotAnArchiveError(ArchiveError):
    """Raised for a file that is not NetCDF, or NetCDF that hbmep-pymc did not write.

    Examples
    --------
    Passing the data table instead of the archive:

    >>> import hbmep_pymc as mep
    >>> from hbmep_pymc.datasets import mock_data_path
    >>> try:
    ...     mep.load_fit(mock_data_path())
    ... except mep.NotAnArchiveError:
    ...     print("not an archive")
    not an archive
    """


class ArchiveVersionError(ArchiveError):
    """Raised for an archive written in a format version that this release cannot read.

    The message names the format version and the hbmep-pymc version that
    wrote the file.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> try:  # doctest: +SKIP
    ...     model, idata = mep.load_fit("fit_from_newer_release.nc")
    ... except mep.ArchiveVersionError as error:
    ...     print(error)
    """


def save_fit(
    path: str | os.PathLike,
    model: BaseModel,
    idata: az.InferenceData,
    df: pd.DataFrame | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a fitted model, its InferenceData and optionally its data frame to one archive.

    Parameters
    ----------
    path : str or path-like
        Archive file to write, for example ``"fit.nc"``.
    model : BaseModel
        The fitted model; its :meth:`~BaseModel.state_dict` and encoder are stored.
    idata : arviz.InferenceData
        The InferenceData returned by :meth:`~BaseModel.run`.
    df : pandas.DataFrame, optional
        The data frame of the fit, raw or encoded.
    overwrite : bool, default False
        Replace an existing archive at ``path``.

    Returns
    -------
    pathlib.Path
        The archive path.

    Raises
    ------
    TypeError
        If ``idata`` is not an ``arviz.InferenceData``.
    IsADirectoryError
        If ``path`` is a folder.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If ``idata`` has a group named ``data_frame`` or ``hbmep_pymc``,
        which the archive reserves.
    hbmep_pymc.frame_io.FrameEncodingError
        If a column of ``df`` cannot be stored losslessly.

    Examples
    --------
    >>> mep.save_fit("fit.nc", model, idata, df)  # doctest: +SKIP
    """
    return _write_archive(Path(path), model.state_dict(), model.encoder, idata, df, overwrite)


def load_fit(path: str | os.PathLike) -> tuple[BaseModel, az.InferenceData]:
    """Read an archive and rebuild the model that made it.

    Parameters
    ----------
    path : str or path-like
        Archive file, or a folder that contains ``fit.nc``.

    Returns
    -------
    model : BaseModel
        A model of the saved class with the saved settings and encoder, ready
        to summarise, predict or refit.
    idata : arviz.InferenceData
        The saved InferenceData.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ArchiveError
        If the file is corrupt, truncated, not an archive, or from an
        unknown format version, or if it contains a model class that this
        release does not define.

    Examples
    --------
    >>> model, idata = mep.load_fit("fit.nc")  # doctest: +SKIP
    >>> model.threshold_table(idata)  # doctest: +SKIP
    """
    contents = read_archive(path)
    return contents["model"], contents["idata"]


def load_data_frame(path: str | os.PathLike) -> pd.DataFrame | None:
    """Return the data frame saved in an archive, or None when none was saved.

    Parameters
    ----------
    path : str or path-like
        Archive file, or a folder that contains ``fit.nc``.

    Returns
    -------
    pandas.DataFrame or None
        The frame with its original labels, dtypes and index.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ArchiveError
        If the file is corrupt, truncated, not an archive, or from an
        unknown format version.

    Examples
    --------
    >>> df = mep.load_data_frame("fit.nc")  # doctest: +SKIP
    """
    return read_archive(path)["df"]


def save(
    model_state: dict,
    df: pd.DataFrame | None = None,
    posterior: dict | None = None,
    encoder: Encoder | None = None,
    mcmc: az.InferenceData | None = None,
    output_dir: str | os.PathLike = ".",
    overwrite: bool = False,
) -> Path:
    """Save a fit in the form of the original hbmep tutorial, as ``output_dir/fit.nc``.

    Parameters
    ----------
    model_state : dict
        Output of :meth:`~BaseModel.state_dict`.
    df : pandas.DataFrame, optional
        The data frame of the fit.
    posterior : dict, optional
        The :class:`~hbmep_pymc.results.Posterior` of the fit. Only used when
        ``mcmc`` is None, because ``mcmc`` already contains the same draws.
    encoder : Encoder, optional
        The encoder returned by :meth:`~BaseModel.load`.
    mcmc : arviz.InferenceData, optional
        The InferenceData returned by :meth:`~BaseModel.run`.
    output_dir : str or path-like, default "."
        Folder to write to; created when missing.
    overwrite : bool, default False
        Replace an existing archive in ``output_dir``.

    Returns
    -------
    pathlib.Path
        The archive path.

    Raises
    ------
    ValueError
        If neither ``mcmc`` nor ``posterior`` is given, if the flattened
        draws of ``posterior`` do not split into the saved number of chains,
        or if ``mcmc`` has a group named ``data_frame`` or ``hbmep_pymc``.
    FileExistsError
        If the archive exists and ``overwrite`` is False.
    hbmep_pymc.frame_io.FrameEncodingError
        If a column of ``df`` cannot be stored losslessly.

    Examples
    --------
    >>> mep.save(model_state=model.state_dict(), df=df, posterior=posterior,
    ...          encoder=encoder, mcmc=mcmc, output_dir="output")  # doctest: +SKIP
    """
    if mcmc is None:
        if posterior is None:
            raise ValueError("Nothing to save: pass mcmc (the InferenceData from model.run) or posterior.")
        chains = (model_state.get("mcmc_params") or {}).get("num_chains", 1)
        mcmc = az.InferenceData(posterior=posterior_dataset(posterior, num_chains=chains))

    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return _write_archive(folder / ARCHIVE_FILENAME, model_state, encoder, mcmc, df, overwrite)


def load(
    model_dir: str | os.PathLike = ".",
) -> tuple[dict, pd.DataFrame | None, Posterior, Encoder | None, az.InferenceData]:
    """Load a fit in the form of the original hbmep tutorial.

    Parameters
    ----------
    model_dir : str or path-like
        Folder passed to :func:`save` as ``output_dir``, or an archive file.

    Returns
    -------
    tuple
        ``(model_state, df, posterior, encoder, mcmc)``: the state for
        :meth:`~BaseModel.load_state_dict`, the data frame (None when none
        was saved), the flattened :class:`~hbmep_pymc.results.Posterior`,
        the encoder (None when none was saved) and the InferenceData.

    Raises
    ------
    FileNotFoundError
        If ``model_dir`` contains no ``fit.nc`` and is not an archive file.
    ArchiveError
        If the archive is corrupt, truncated, not an archive, or from an
        unknown format version.

    Examples
    --------
    >>> model_state, df, posterior, encoder, mcmc = mep.load(model_dir="output")  # doctest: +SKIP
    >>> model = mep.StandardHB()  # doctest: +SKIP
    >>> model.load_state_dict(model_state)  # doctest: +SKIP
    """
    contents = read_archive(model_dir)
    idata = contents["idata"]
    return contents["model_state"], contents["df"], Posterior.from_idata(idata), contents["encoder"], idata


class ArchiveMixin:
    """Adds :meth:`save` to a model.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> df = mep.datasets.load_mock_data()
    >>> idata, posterior = model.run(df)  # doctest: +SKIP
    >>> model.save("fit.nc", idata, df)  # doctest: +SKIP
    """

    def save(
        self,
        path: str | os.PathLike,
        idata: az.InferenceData,
        df: pd.DataFrame | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write this model, ``idata`` and optionally ``df`` to an archive; see :func:`save_fit`.

        Parameters
        ----------
        path : str or path-like
            Archive file to write, for example ``"fit.nc"``.
        idata : arviz.InferenceData
            The InferenceData returned by :meth:`run`.
        df : pandas.DataFrame, optional
            The data frame of the fit, raw or encoded.
        overwrite : bool, default False
            Replace an existing archive at ``path``.

        Returns
        -------
        pathlib.Path
            The archive path.

        Raises
        ------
        TypeError
            If ``idata`` is not an ``arviz.InferenceData``.
        IsADirectoryError
            If ``path`` is a folder.
        FileExistsError
            If ``path`` exists and ``overwrite`` is False.
        ValueError
            If ``idata`` has a group named ``data_frame`` or ``hbmep_pymc``.
        hbmep_pymc.frame_io.FrameEncodingError
            If a column of ``df`` cannot be stored losslessly.

        Examples
        --------
        >>> idata, posterior = model.run(df)  # doctest: +SKIP
        >>> model.save("fit.nc", idata, df)  # doctest: +SKIP
        """
        return save_fit(path, self, idata, df, overwrite=overwrite)


# --- reading -----------------------------------------------------------------------


def read_archive(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check an archive; return its parts.

    Parameters
    ----------
    path : str or path-like
        Archive file, or a folder that contains ``fit.nc``.

    Returns
    -------
    dict
        ``model_state`` (dict), ``model`` (rebuilt model), ``encoder``
        (Encoder or None), ``df`` (DataFrame or None), ``idata``
        (InferenceData) and ``version`` (the hbmep-pymc version that wrote it).

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    ArchiveError
        If the file is corrupt, truncated, not an archive, or from an
        unknown format version.

    Examples
    --------
    >>> read_archive("fit.nc")["version"]  # doctest: +SKIP
    '0.1.0'
    """
    file = Path(path)
    if file.is_dir():
        file = file / ARCHIVE_FILENAME
    if not file.is_file():
        raise FileNotFoundError(f"No archive at {str(file)!r}; check the path or save the fit first.")

    root_attrs, groups = _read_groups(file)
    _check_digests(file, root_attrs, groups)

    meta = groups.pop(META_GROUP)
    frame = groups.pop(FRAME_GROUP, None)
    try:
        model_state = json.loads(str(meta["model_state"].values))
        encoder_state = json.loads(str(meta["encoder"].values))
        df = dataset_to_frame(frame) if frame is not None else None
    except _READ_ERRORS as error:
        raise CorruptArchiveError(
            f"{file}: the stored model state or data frame is unreadable ({error})."
        ) from error

    encoder = Encoder.from_dict(encoder_state) if encoder_state is not None else None
    idata_attrs = {key: value for key, value in root_attrs.items() if key not in OWN_ATTRS}
    idata = az.InferenceData(attrs=idata_attrs, **groups)
    logger.info("Read archive %s written by hbmep-pymc %s", file, root_attrs.get(VERSION_ATTR))
    return {
        "model_state": model_state,
        "model": _rebuild_model(file, model_state, encoder),
        "encoder": encoder,
        "df": df,
        "idata": idata,
        "version": str(root_attrs.get(VERSION_ATTR)),
    }


def _read_groups(file: Path) -> tuple[dict, dict[str, xr.Dataset]]:
    """Open the file, check its format version and load every group into memory."""
    with open(file, "rb") as handle:
        head = handle.read(8)
    if head != _HDF5_SIGNATURE:
        raise NotAnArchiveError(
            f"{file}: not a NetCDF-4 file (it does not start with the HDF5 signature). "
            f"Pass the path of a file written by hbmep_pymc.save_fit or model.save."
        )

    import h5netcdf

    try:
        with h5netcdf.File(file, mode="r") as handle:
            root_attrs = dict(handle.attrs)
            names = list(handle.groups)
    except _READ_ERRORS as error:
        raise CorruptArchiveError(
            f"{file}: the archive is corrupt or truncated and cannot be opened ({error}). "
            f"Restore it from a backup or save the fit again."
        ) from error

    if FORMAT_ATTR not in root_attrs or META_GROUP not in names:
        raise NotAnArchiveError(
            f"{file}: a NetCDF file, but not an hbmep-pymc archive (no {FORMAT_ATTR!r} attribute). "
            f"A plain InferenceData file opens with arviz.from_netcdf."
        )
    fmt = root_attrs[FORMAT_ATTR]
    if isinstance(fmt, np.generic):
        fmt = fmt.item()
    if not isinstance(fmt, int) or fmt != ARCHIVE_FORMAT:
        raise ArchiveVersionError(
            f"{file}: archive format {fmt!r} (written by hbmep-pymc {root_attrs.get(VERSION_ATTR)}) "
            f"is unknown to hbmep-pymc {__version__}, which reads format {ARCHIVE_FORMAT}. "
            f"Install the hbmep-pymc version that wrote it or a newer one."
        )

    groups = {}
    try:
        for name in names:
            with xr.open_dataset(file, group=name, engine=ENGINE) as dataset:
                groups[name] = dataset.load()
    except _READ_ERRORS as error:
        raise CorruptArchiveError(
            f"{file}: group {name!r} of the archive is corrupt or truncated ({error}). "
            f"Restore the file from a backup or save the fit again."
        ) from error
    return root_attrs, groups


def _check_digests(file: Path, root_attrs: dict, groups: dict[str, xr.Dataset]) -> None:
    try:
        expected = json.loads(root_attrs[DIGEST_ATTR])
    except (KeyError, ValueError, TypeError) as error:
        raise CorruptArchiveError(
            f"{file}: the archive's checksums are missing or unreadable ({error})."
        ) from error
    missing = sorted(set(expected) - set(groups))
    if missing:
        raise CorruptArchiveError(f"{file}: group(s) {', '.join(missing)} of the archive are missing.")
    for name, dataset in groups.items():
        if expected.get(name) != dataset_digest(dataset):
            raise CorruptArchiveError(
                f"{file}: group {name!r} does not match its SHA-256 checksum, so the file was damaged "
                f"after it was written. Restore it from a backup or save the fit again."
            )


def _rebuild_model(file: Path, state: dict, encoder: Encoder | None) -> BaseModel:
    from hbmep_pymc.model import MODELS

    name = state.get("model")
    if name not in MODELS:
        raise ArchiveError(
            f"{file}: the archive contains a {name!r} model, which this hbmep-pymc does not define "
            f"(known: {', '.join(MODELS)}). Load it with hbmep_pymc.load and rebuild the model yourself."
        )
    model = MODELS[name]()
    model.load_state_dict(state)
    model.encoder = encoder
    return model


def dataset_digest(dataset: xr.Dataset) -> str:
    """Return a SHA-256 hex digest of a Dataset's variables, dims and values.

    Values are hashed in a canonical form (64-bit numbers, text for
    strings and objects), so the digest does not depend on the NetCDF
    encoding that xarray chooses.

    Parameters
    ----------
    dataset : xarray.Dataset
        Any Dataset, for example one group of an InferenceData.

    Returns
    -------
    str
        64 hexadecimal characters.

    Examples
    --------
    >>> import xarray as xr
    >>> len(dataset_digest(xr.Dataset({"x": ("row", [1.0, 2.0])})))
    64
    """
    digest = hashlib.sha256()
    for name in sorted(dataset.variables, key=str):
        variable = dataset.variables[name]
        digest.update(f"{name}|{','.join(map(str, variable.dims))}|{variable.shape}|".encode())
        digest.update(_canonical_bytes(variable.to_numpy()))
    return digest.hexdigest()


def _canonical_bytes(values: np.ndarray) -> bytes:
    kind = values.dtype.kind
    if kind in "biu":
        return np.ascontiguousarray(values, dtype=np.int64).tobytes()
    if kind == "f":
        return np.ascontiguousarray(values, dtype=np.float64).tobytes()
    if kind == "c":
        return np.ascontiguousarray(values, dtype=np.complex128).tobytes()
    if kind in "Mm":
        unit = "datetime64[ns]" if kind == "M" else "timedelta64[ns]"
        return np.ascontiguousarray(values.astype(unit)).view(np.int64).tobytes()
    return "\x1f".join(str(value) for value in values.ravel().tolist()).encode("utf-8", "surrogatepass")


# --- writing -----------------------------------------------------------------------


def _write_archive(
    path: Path,
    model_state: dict,
    encoder: Encoder | None,
    idata: az.InferenceData,
    df: pd.DataFrame | None,
    overwrite: bool,
) -> Path:
    """Write the archive to a temporary file beside ``path``, check it, then rename it into place."""
    if not isinstance(idata, az.InferenceData):
        raise TypeError(f"idata must be an arviz.InferenceData, got {type(idata).__name__}.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; pass a file path such as {path / ARCHIVE_FILENAME}.")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it.")

    groups: dict[str, xr.Dataset] = {name: idata[name] for name in idata.groups()}
    for reserved in (FRAME_GROUP, META_GROUP):
        if reserved in groups:
            raise ValueError(f"idata has a group named {reserved!r}, which archives reserve; rename it.")
    encoder_state = Encoder(encoder).to_dict() if encoder is not None else None
    groups[META_GROUP] = xr.Dataset(
        {"model_state": ((), json.dumps(model_state)), "encoder": ((), json.dumps(encoder_state))}
    )
    if df is not None:
        groups[FRAME_GROUP] = frame_to_dataset(df)

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    # mkstemp creates the file readable by its owner only; give it the permissions of a normal file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)
    try:
        for position, (name, dataset) in enumerate(groups.items()):
            _write_group(temporary, name, dataset, mode="w" if position == 0 else "a")

        # Digest what reads back from the file, so a later load compares like with like.
        digests = {}
        for name in groups:
            with xr.open_dataset(temporary, group=name, engine=ENGINE) as dataset:
                digests[name] = dataset_digest(dataset.load())
        root_attrs = {
            **_netcdf_safe_attrs(idata.attrs),
            FORMAT_ATTR: ARCHIVE_FORMAT,
            VERSION_ATTR: __version__,
            DIGEST_ATTR: json.dumps(digests),
        }
        xr.Dataset(attrs=root_attrs).to_netcdf(temporary, mode="a", engine=ENGINE)
        _fsync(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    logger.info("Saved archive %s (%s)", path, ", ".join(groups))
    return path


def _write_group(filename: str, name: str, dataset: xr.Dataset, mode: str) -> None:
    """Append one group to the NetCDF file, compressing numeric variables."""
    encoding = {
        variable: {"zlib": True}
        for variable, values in dataset.variables.items()
        if values.dtype.kind in "biuf" and values.ndim > 0
    }
    dataset.to_netcdf(filename, mode=mode, group=name, engine=ENGINE, encoding=encoding)


def _netcdf_safe_attrs(attrs: dict) -> dict:
    """Keep the InferenceData's own attrs, encoding values NetCDF cannot store as JSON text."""
    safe = {}
    for key, value in attrs.items():
        if isinstance(value, (str, int, float, np.number)) and not isinstance(value, bool):
            safe[key] = value
        else:
            safe[key] = json.dumps(value, default=str)
    return safe


def _fsync(filename: str) -> None:
    with open(filename, "rb") as handle:
        os.fsync(handle.fileno())
