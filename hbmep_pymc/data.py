"""Validation and encoding of recruitment-curve data frames.

A data frame has one row per pulse: an intensity column, feature columns
whose level combinations define the curve groups, and one response column
per muscle. :func:`prepare_data` checks all of it, collects every problem
before raising, and returns arrays ready for a model.
"""

from __future__ import annotations

import difflib
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hbmep_pymc.encoding import Encoder, LabelEncoder, sorted_levels

logger = logging.getLogger(__name__)

ENCODER_ATTR = "hbmep_pymc_encoder"
"""Key in ``DataFrame.attrs`` under which :func:`encode` records its encoder."""


class DataError(ValueError):
    """Raised when a data frame cannot be used for a fit; the message lists every problem.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> try:
    ...     prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_APB"])
    ... except mep.DataError as error:
    ...     print(error)
    Invalid data frame:
      - Column 'PKPK_APB' is missing from the data frame. Did you mean 'PKPK_FCR', 'PKPK_ECR'?
    """


class NonPositiveResponseWarning(UserWarning):
    """Warned when non-positive responses are masked out of the likelihood.

    Examples
    --------
    A dropped recording stored as 0 mV is left out of the fit:

    >>> import warnings
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> df.loc[0, "PKPK_ECR"] = 0.0
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> caught[0].category.__name__, data.masked_nonpositive
    ('NonPositiveResponseWarning', {'PKPK_ECR': 1})
    """


def _rows_text(index: pd.Index, limit: int = 8) -> str:
    shown = ", ".join(str(label) for label in index[:limit])
    more = f" and {len(index) - limit} more" if len(index) > limit else ""
    return f"row(s) {shown}{more}"


def normalize_features(features: str | Sequence | None) -> list[tuple[str, ...]]:
    """Turn a feature specification into a list of column tuples.

    ``["participant", "condition"]`` gives two features (two dims);
    ``[["participant", "condition"]]`` gives one feature that combines both
    columns (one dim named ``participant__condition``).

    Parameters
    ----------
    features : str, sequence or None
        Column name, or list of column names and lists of column names.

    Returns
    -------
    list of tuple of str
        One tuple of columns per feature.

    Raises
    ------
    TypeError
        If an item is neither a column name nor a non-empty list of names.

    Examples
    --------
    >>> normalize_features([["participant", "condition"], "muscle_side"])
    [('participant', 'condition'), ('muscle_side',)]
    """
    if features is None:
        return []
    if isinstance(features, str):
        features = [features]
    normalized = []
    for item in features:
        if isinstance(item, str):
            normalized.append((item,))
        elif isinstance(item, Sequence) and item and all(isinstance(c, str) for c in item):
            normalized.append(tuple(item))
        else:
            raise TypeError(
                f"Each feature must be a column name or a list of column names, got {item!r}."
            )
    return normalized


def feature_name(columns: Sequence[str]) -> str:
    """Return the dim name of a feature: the column, or the columns joined by ``__``.

    Parameters
    ----------
    columns : sequence of str
        Columns of the feature, as one tuple of :func:`normalize_features`.

    Returns
    -------
    str
        The dim name, as it appears in posteriors and summaries.

    Examples
    --------
    >>> feature_name(("participant", "condition"))
    'participant__condition'
    """
    return "__".join(columns)


def _normalize_response(response: str | Sequence[str] | None) -> list[str]:
    if response is None:
        return []
    if isinstance(response, str):
        return [response]
    return list(response)


@dataclass
class PreparedData:
    """Arrays that a model is built from, with the labels to report them.

    Attributes
    ----------
    df : pandas.DataFrame
        The encoded frame: a copy of the input with every feature replaced
        by integer codes (combined features get a new column), all rows kept.
    encoder : Encoder
        Feature name to :class:`~hbmep_pymc.encoding.LabelEncoder`.
    intensity : numpy.ndarray
        Intensity per row, float.
    codes : numpy.ndarray
        Integer codes, shape ``(n_rows, n_features)``.
    response : numpy.ndarray
        Responses, shape ``(n_rows, n_muscles)``, NaN where masked.
    observed : numpy.ndarray
        Boolean mask of the cells used in the likelihood.
    features : list of str
        Feature (dim) names.
    muscles : list of str
        Response column names.
    masked_nonpositive : dict of str to int
        Number of non-positive responses left out, per response column.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> data.features, data.muscles, data.codes.shape
    (['participant'], ['PKPK_ECR', 'PKPK_FCR'], (245, 1))
    """

    df: pd.DataFrame
    encoder: Encoder
    intensity: np.ndarray
    codes: np.ndarray
    response: np.ndarray
    observed: np.ndarray
    features: list[str]
    muscles: list[str]
    masked_nonpositive: dict[str, int] = field(default_factory=dict)

    @property
    def group_shape(self) -> tuple[int, ...]:
        """Number of levels of each feature.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> df = mep.datasets.load_mock_data()
        >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> data.group_shape
        (3,)
        """
        return tuple(len(self.encoder[name]) for name in self.features)

    def observed_cells(self) -> np.ndarray:
        """Return a boolean array of shape ``(*group_shape, n_muscles)``: True for curves with data.

        Returns
        -------
        numpy.ndarray
            True where at least one response of the curve is observed.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> df = mep.datasets.load_mock_data()
        >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> data.observed_cells().tolist()
        [[True, True], [True, True], [True, True]]
        """
        cells = np.zeros((*self.group_shape, len(self.muscles)), dtype=bool)
        rows, muscles = np.nonzero(self.observed)
        cells[(*self.codes[rows].T, muscles)] = True
        return cells

    def coords(self) -> dict[str, list]:
        """Return the coordinates of every feature dim and of the ``muscle`` dim.

        Labels of a single-column feature keep their type, and combined
        labels are text joined by ``", "``.

        Returns
        -------
        dict of str to list
            Dim name to its labels, features first and ``muscle`` last.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> df = mep.datasets.load_mock_data()
        >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> data.coords()
        {'participant': ['P1', 'P2', 'P3'], 'muscle': ['PKPK_ECR', 'PKPK_FCR']}
        """
        coords = {name: self.encoder[name].display_labels() for name in self.features}
        for name in self.features:
            if not self.encoder[name].is_combined:
                coords[name] = list(self.encoder[name].classes_)
        coords["muscle"] = list(self.muscles)
        return coords


def check_columns(df: pd.DataFrame, required: Sequence[str]) -> list[str]:
    """Return one problem message per missing or duplicated column.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    required : sequence of str
        Columns the fit needs.

    Returns
    -------
    list of str
        Messages, empty when every column is present once. A missing
        column's message suggests close matches.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> check_columns(mep.datasets.load_mock_data(), ["TMSIntensity", "PKPK_ECR"])
    []
    """
    problems = []
    duplicated = df.columns[df.columns.duplicated()].unique().tolist()
    if duplicated:
        problems.append(
            f"Duplicate column name(s) {duplicated}: rename them so that each column is unique."
        )
    available = [str(column) for column in df.columns]
    for column in dict.fromkeys(required):
        if column not in df.columns:
            close = difflib.get_close_matches(str(column), available, n=3)
            hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
            problems.append(f"Column {column!r} is missing from the data frame.{hint}")
    return problems


def _check_intensity(df: pd.DataFrame, column: str, problems: list[str]) -> np.ndarray:
    raw = df[column]
    values = pd.to_numeric(raw, errors="coerce")
    non_numeric = raw.notna() & values.isna()
    if non_numeric.any():
        examples = ", ".join(repr(v) for v in raw[non_numeric].unique()[:5])
        problems.append(
            f"Intensity column {column!r} has non-numeric values ({examples}) in "
            f"{_rows_text(df.index[non_numeric.to_numpy()])}; convert them to numbers."
        )
    missing = raw.isna().to_numpy()
    if missing.any():
        problems.append(
            f"Intensity column {column!r} has missing values (NaN) in "
            f"{_rows_text(df.index[missing])}; every pulse needs an intensity, so fill or drop these rows."
        )
    values = values.to_numpy(dtype=float, na_value=np.nan)
    infinite = np.isinf(values)
    if infinite.any():
        problems.append(
            f"Intensity column {column!r} has infinite values in {_rows_text(df.index[infinite])}."
        )
    negative = values < 0
    if negative.any():
        problems.append(
            f"Intensity column {column!r} has negative values in {_rows_text(df.index[negative])}; "
            f"intensity must be non-negative. If your stimulator writes current with a minus sign, "
            f"flip it with df[{column!r}] = df[{column!r}].abs()."
        )
    return values


def _check_responses(
    df: pd.DataFrame,
    columns: Sequence[str],
    nonpositive: str,
    problems: list[str],
) -> tuple[np.ndarray, dict[str, int]]:
    response = np.full((len(df), len(columns)), np.nan)
    masked = {}
    for r, column in enumerate(columns):
        raw = df[column]
        values = pd.to_numeric(raw, errors="coerce")
        non_numeric = raw.notna() & values.isna()
        if non_numeric.any():
            examples = ", ".join(repr(v) for v in raw[non_numeric].unique()[:5])
            problems.append(
                f"Response column {column!r} has non-numeric values ({examples}) in "
                f"{_rows_text(df.index[non_numeric.to_numpy()])}; to treat them as missing, use "
                f"df[{column!r}] = pd.to_numeric(df[{column!r}], errors='coerce')."
            )
            continue
        values = values.to_numpy(dtype=float, na_value=np.nan)
        infinite = np.isinf(values)
        if infinite.any():
            problems.append(
                f"Response column {column!r} has infinite values in {_rows_text(df.index[infinite])}."
            )
        if np.isnan(values).all():
            problems.append(
                f"Response column {column!r} has no observed values (all missing); "
                f"remove it from the response list."
            )
            continue
        nonpositive_rows = values <= 0
        if nonpositive_rows.any():
            if nonpositive == "raise":
                problems.append(
                    f"Response column {column!r} has non-positive values in "
                    f"{_rows_text(df.index[nonpositive_rows])}; a gamma likelihood needs positive "
                    f"responses. Pass nonpositive='mask' to leave them out of the fit."
                )
                continue
            masked[column] = int(nonpositive_rows.sum())
            values = np.where(nonpositive_rows, np.nan, values)
            if np.isnan(values).all():
                problems.append(
                    f"Response column {column!r} has no positive values; "
                    f"remove it from the response list."
                )
                continue
        response[:, r] = values
    return response, masked


def _encode_features(
    df: pd.DataFrame,
    features: list[tuple[str, ...]],
    problems: list[str],
) -> tuple[pd.DataFrame, Encoder, np.ndarray]:
    encoded = df.copy()
    encoder = Encoder()
    codes = np.zeros((len(df), len(features)), dtype=np.int64)
    for f, columns in enumerate(features):
        name = feature_name(columns)
        frame = df[list(columns)]
        missing = frame.isna().any(axis=1).to_numpy()
        if missing.any():
            problems.append(
                f"Feature column(s) {list(columns)} have missing labels (NaN) in "
                f"{_rows_text(df.index[missing])}; give every row a label or drop these rows."
            )
            continue
        source = frame[columns[0]] if len(columns) == 1 else frame
        label_encoder = LabelEncoder(sorted_levels(source), columns)
        if len(columns) == 1:
            labels = source.tolist()
        else:
            labels = list(frame.itertuples(index=False, name=None))
        codes[:, f] = label_encoder.transform(labels)
        encoder[name] = label_encoder
        encoded[name] = codes[:, f]
    return encoded, encoder, codes


def is_encoded(df: pd.DataFrame) -> bool:
    """Return whether ``df`` came from :func:`encode` (its attrs contain the encoder).

    The frames returned by :meth:`~hbmep_pymc.model.BaseModel.load` count
    as encoded.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.

    Returns
    -------
    bool
        True when ``df.attrs`` contains the encoder.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> encoded, encoder = encode(df, "TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> is_encoded(df), is_encoded(encoded)
    (False, True)
    """
    return ENCODER_ATTR in df.attrs


def prepare_data(
    df: pd.DataFrame,
    intensity: str,
    features: str | Sequence | None,
    response: str | Sequence[str],
    *,
    nonpositive: str = "mask",
    encoder: Encoder | None = None,
) -> PreparedData:
    """Validate a data frame and turn it into model-ready arrays.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per pulse. Either raw labels, or the frame returned by
        :meth:`~hbmep_pymc.model.BaseModel.load` (features already encoded).
    intensity : str
        Intensity column.
    features : str or sequence
        Feature columns; see :func:`normalize_features`.
    response : str or sequence of str
        Response columns, one per muscle.
    nonpositive : {"mask", "raise"}, default "mask"
        What to do with responses at or below zero: leave them out of the
        likelihood with a warning, or raise.
    encoder : Encoder, optional
        Encoder of an already encoded frame. Taken from ``df.attrs`` when
        the frame came from ``load``.

    Returns
    -------
    PreparedData
        Arrays, mask, encoded frame and encoder.

    Raises
    ------
    TypeError
        If ``df`` is not a DataFrame, or an item of ``features`` is neither
        a column name nor a list of names.
    ValueError
        If ``nonpositive`` is not ``"mask"`` or ``"raise"``.
    DataError
        With every problem found: missing or duplicate columns, an empty
        frame, non-numeric, missing, infinite or negative intensities,
        non-numeric or all-missing responses, missing feature labels.
        With ``nonpositive="raise"``, also non-positive responses.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> data.response.shape
    (245, 2)
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame, got {type(df).__name__}.")
    if nonpositive not in ("mask", "raise"):
        raise ValueError(f"nonpositive must be 'mask' or 'raise', got {nonpositive!r}.")
    if not intensity:
        raise DataError("No intensity column is set: assign model.intensity = '<column name>'.")
    feature_columns = normalize_features(features)
    muscles = _normalize_response(response)
    if not muscles:
        raise DataError("No response columns are set: assign model.response = ['<column>', ...].")

    required = [intensity, *[c for columns in feature_columns for c in columns], *muscles]
    problems = check_columns(df, required)
    if problems:
        raise DataError("Invalid data frame:\n  - " + "\n  - ".join(problems))
    if len(df) == 0:
        raise DataError("The data frame is empty (no rows); load a file with at least one pulse.")

    if encoder is None and is_encoded(df):
        encoder = Encoder.from_dict(df.attrs[ENCODER_ATTR])

    x = _check_intensity(df, intensity, problems)
    y, masked = _check_responses(df, muscles, nonpositive, problems)

    if encoder is not None:
        encoded, codes = _codes_from_encoded(df, feature_columns, encoder, problems)
    else:
        encoded, encoder, codes = _encode_features(df, feature_columns, problems)

    if problems:
        raise DataError("Invalid data frame:\n  - " + "\n  - ".join(problems))

    encoded[intensity] = x
    encoded.attrs[ENCODER_ATTR] = encoder.to_dict()
    data = PreparedData(
        df=encoded,
        encoder=encoder,
        intensity=x,
        codes=codes,
        response=y,
        observed=~np.isnan(y),
        features=[feature_name(columns) for columns in feature_columns],
        muscles=muscles,
        masked_nonpositive=masked,
    )
    if masked:
        _warn_masked(data, df, masked)
    return data


def _codes_from_encoded(
    df: pd.DataFrame,
    feature_columns: list[tuple[str, ...]],
    encoder: Encoder,
    problems: list[str],
) -> tuple[pd.DataFrame, np.ndarray]:
    codes = np.zeros((len(df), len(feature_columns)), dtype=np.int64)
    for f, columns in enumerate(feature_columns):
        name = feature_name(columns)
        if name not in encoder:
            problems.append(
                f"The encoder has no entry for feature {name!r}; call model.load(df) on the raw data."
            )
            continue
        if name not in df.columns:
            problems.append(f"Encoded column {name!r} is missing; call model.load(df) on the raw data.")
            continue
        values = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        valid = np.isfinite(values) & (values >= 0) & (values < len(encoder[name])) & (values % 1 == 0)
        if not valid.all():
            problems.append(
                f"Column {name!r} should hold codes 0..{len(encoder[name]) - 1} from model.load(df), "
                f"but {_rows_text(df.index[~valid])} do not."
            )
            continue
        codes[:, f] = values.astype(np.int64)
    return df.copy(), codes


def _warn_masked(data: PreparedData, df: pd.DataFrame, masked: dict[str, int]) -> None:
    parts = []
    for column, count in masked.items():
        raw = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        rows = raw <= 0
        groups = sorted({group_label(data, code_row) for code_row in data.codes[rows]})
        shown = "; ".join(groups[:6]) + (f" and {len(groups) - 6} more" if len(groups) > 6 else "")
        parts.append(f"{count} in {column!r} (curve groups: {shown})")
    total = sum(masked.values())
    message = (
        f"{total} non-positive response(s) were left out of the fit as missing: "
        + ", ".join(parts)
        + ". Zeros often mean dropped recordings; pass nonpositive='raise' to stop on them instead."
    )
    warnings.warn(message, NonPositiveResponseWarning, stacklevel=3)


def group_label(data: PreparedData, code_row: np.ndarray) -> str:
    """Return the text label of one curve group from its row of codes.

    Parameters
    ----------
    data : PreparedData
        Validated data.
    code_row : numpy.ndarray
        One code per feature, as a row of ``data.codes``.

    Returns
    -------
    str
        ``"name=label"`` per feature joined by ``", "``, or ``"all data"``
        for a model without features.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> data = prepare_data(df, "TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> group_label(data, data.codes[0])
    'participant=P1'
    """
    if not data.features:
        return "all data"
    parts = []
    for name, code in zip(data.features, code_row):
        parts.append(f"{name}={data.encoder[name].display_labels()[int(code)]}")
    return ", ".join(parts)


def encode(
    df: pd.DataFrame,
    intensity: str,
    features: str | Sequence | None,
    response: str | Sequence[str],
    **kwargs,
) -> tuple[pd.DataFrame, Encoder]:
    """Validate and encode a frame; return the encoded frame and its encoder.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw data, one row per pulse.
    intensity, features, response
        Columns, as for :func:`prepare_data`.
    **kwargs
        Passed to :func:`prepare_data`.

    Returns
    -------
    tuple of (pandas.DataFrame, Encoder)
        The encoded frame and the encoder.

    Raises
    ------
    DataError
        If the frame cannot be used. :func:`prepare_data` lists these
        cases and the ``TypeError`` and ``ValueError`` cases.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> encoded, encoder = encode(df, "TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> encoder["participant"].inverse_transform([0, 1, 2]).tolist()
    ['P1', 'P2', 'P3']
    """
    data = prepare_data(df, intensity, features, response, **kwargs)
    return data.df, data.encoder
