"""Lossless conversion between a pandas DataFrame and an xarray Dataset that NetCDF can store.

Each column becomes a variable on the dim ``row``; the index levels are
stored the same way. A JSON attribute ``hbmep_pymc_column`` on every
variable records the original label and dtype, so that
:func:`dataset_to_frame` restores values, dtypes (NumPy, pandas string,
categorical, nullable integer, float and boolean, time-zone-aware
datetimes) and labels (text, integer, float, tuple) exactly.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"participant": ["P1", "P2"], 3: [1.5, 2.5]}, index=[10, 20])
>>> restored = dataset_to_frame(frame_to_dataset(df))
>>> restored.equals(df), restored.columns.tolist()
(True, ['participant', 3])
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

ROW_DIM = "row"
"""Dim of the stored data frame's rows."""

COLUMN_ATTR = "hbmep_pymc_column"
"""Variable attribute with the JSON description of a column or index level."""

FRAME_ATTR = "hbmep_pymc_frame"
"""Dataset attribute with the JSON description of the column labels, index and ``DataFrame.attrs``."""

_MASKED_ARRAYS = (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)


class FrameEncodingError(TypeError):
    """Raised when a data frame contains a dtype, label or attr that cannot be stored losslessly.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"participant": ["P1", "P2"], "sessions": [{1, 2}, {1}]})
    >>> frame_to_dataset(df)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hbmep_pymc.frame_io.FrameEncodingError: Column 'sessions' contains the value {1, 2} of type set, ...
    """


def encode_label(label: Any) -> Any:
    """Return a JSON-compatible form of a column or index label that keeps its type.

    Tuples (MultiIndex labels) are tagged so they come back as tuples; NumPy
    scalars become Python scalars.

    Parameters
    ----------
    label : str, int, float, bool, None or tuple of these
        A column label, index name or level value.

    Returns
    -------
    str, int, float, bool, None or dict
        The label, or ``{"tuple": [...]}`` for a tuple.

    Raises
    ------
    FrameEncodingError
        If the label is of another type, such as a timestamp.

    Examples
    --------
    >>> encode_label(("P1", 2))
    {'tuple': ['P1', 2]}
    """
    if isinstance(label, tuple):
        return {"tuple": [encode_label(part) for part in label]}
    if isinstance(label, np.generic):
        label = label.item()
    if label is None or isinstance(label, (str, bool, int, float)):
        return label
    raise FrameEncodingError(
        f"Cannot store the label {label!r} of type {type(label).__name__}; rename it to text "
        f"or a number before saving."
    )


def decode_label(value: Any) -> Any:
    """Invert :func:`encode_label`.

    Parameters
    ----------
    value : object
        Output of :func:`encode_label`, as read back from JSON.

    Returns
    -------
    object
        The original label, with tagged tuples turned back into tuples.

    Examples
    --------
    >>> decode_label({"tuple": ["P1", 2]})
    ('P1', 2)
    """
    if isinstance(value, dict) and set(value) == {"tuple"}:
        return tuple(decode_label(part) for part in value["tuple"])
    return value


def _describe_dtype(dtype) -> dict:
    if isinstance(dtype, pd.StringDtype):
        na_value = "nan" if _is_nan(dtype.na_value) else "NA"
        return {"name": "string", "storage": dtype.storage, "na_value": na_value}
    return {"name": str(dtype)}


def _restore_dtype(description: dict):
    if description["name"] == "string":
        # pandas before 2.3 has only the pd.NA variant and no na_value argument.
        if description["na_value"] == "NA":
            return pd.StringDtype(storage=description["storage"])
        return pd.StringDtype(storage=description["storage"], na_value=np.nan)
    return pd.api.types.pandas_dtype(description["name"])


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _json_element(value: Any, column: str) -> str:
    """Encode one element of an object column as JSON text."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA:
        return json.dumps({"NA": True})
    if isinstance(value, tuple):
        return json.dumps(encode_label(value))
    if value is None or isinstance(value, (str, bool, int, float)):
        return json.dumps(value)
    raise FrameEncodingError(
        f"Column {column} contains the value {value!r} of type {type(value).__name__}, which cannot "
        f"be stored; convert the column to text or numbers before saving."
    )


def _decode_json_element(text: str) -> Any:
    value = json.loads(text)
    if isinstance(value, dict) and value == {"NA": True}:
        return pd.NA
    return decode_label(value)


def encode_series(series: pd.Series, name: str) -> tuple[dict[str, xr.Variable], dict]:
    """Return the variables that store ``series`` and the JSON description to restore it.

    ``name`` is the variable name; helper variables get ``name`` plus a
    suffix (``__missing`` for masks).

    Parameters
    ----------
    series : pandas.Series
        The column. Its name appears in error messages.
    name : str
        Name of the main variable, for example ``"column_0"``.

    Returns
    -------
    variables : dict of str to xarray.Variable
        The main variable and its helpers, on the dim ``row``.
    description : dict
        JSON-compatible description for :func:`decode_series`.

    Raises
    ------
    FrameEncodingError
        If the dtype cannot be stored; the message names the column and the
        conversion to apply.

    Examples
    --------
    >>> import pandas as pd
    >>> series = pd.Series(["P1", None, "P3"], dtype="string", name="participant")
    >>> variables, description = encode_series(series, "column_0")
    >>> sorted(variables), description["kind"]
    (['column_0', 'column_0__missing'], 'string')
    """
    dtype = series.dtype
    where = f"{series.name!r}"
    variables: dict[str, xr.Variable] = {}

    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories
        description = {
            "kind": "categorical",
            "ordered": bool(dtype.ordered),
            "categories": [_json_element(value, where) for value in categories.tolist()],
            "categories_dtype": _describe_dtype(categories.dtype),
        }
        variables[name] = xr.Variable(ROW_DIM, np.asarray(series.cat.codes, dtype=np.int64))
        return variables, description

    if isinstance(dtype, pd.StringDtype):
        missing = series.isna().to_numpy()
        text = np.asarray(series.astype(object).where(~missing, "").tolist(), dtype=object)
        variables[name] = xr.Variable(ROW_DIM, text)
        variables[f"{name}__missing"] = xr.Variable(ROW_DIM, missing)
        return variables, {"kind": "string", "dtype": _describe_dtype(dtype)}

    if isinstance(series.array, _MASKED_ARRAYS):
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype=dtype.numpy_dtype, na_value=0)
        variables[name] = xr.Variable(ROW_DIM, values)
        variables[f"{name}__missing"] = xr.Variable(ROW_DIM, missing)
        return variables, {"kind": "masked", "dtype": _describe_dtype(dtype)}

    if isinstance(dtype, pd.DatetimeTZDtype):
        naive = series.dt.tz_convert("UTC").dt.tz_localize(None)
        variables[name] = xr.Variable(ROW_DIM, naive.to_numpy())
        return variables, {"kind": "datetimetz", "unit": dtype.unit, "tz": str(dtype.tz)}

    if isinstance(dtype, np.dtype) and dtype.kind in "biufMm":
        variables[name] = xr.Variable(ROW_DIM, series.to_numpy())
        return variables, {"kind": "numpy", "dtype": _describe_dtype(dtype)}

    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        text = np.asarray([_json_element(value, where) for value in series.tolist()], dtype=object)
        variables[name] = xr.Variable(ROW_DIM, text)
        return variables, {"kind": "json"}

    raise FrameEncodingError(
        f"Column {where} has dtype {dtype}, which cannot be stored losslessly; convert it with "
        f"df.astype(...) to a NumPy, string, categorical or nullable numeric dtype before saving."
    )


def decode_series(dataset: xr.Dataset, name: str, description: dict) -> pd.Series:
    """Rebuild a column stored by :func:`encode_series`; the result has a default index.

    Parameters
    ----------
    dataset : xarray.Dataset
        Contains the variables that :func:`encode_series` returned.
    name : str
        Name of the main variable.
    description : dict
        The description that :func:`encode_series` returned.

    Returns
    -------
    pandas.Series
        The column with its original values and dtype, without its name.

    Raises
    ------
    ValueError
        If ``description`` has an unknown ``kind``.

    Examples
    --------
    >>> import pandas as pd
    >>> import xarray as xr
    >>> series = pd.Series(pd.Categorical(["post", "pre", "post"], categories=["pre", "post"]))
    >>> variables, description = encode_series(series, "column_0")
    >>> restored = decode_series(xr.Dataset(variables), "column_0", description)
    >>> restored.equals(series)
    True
    """
    values = dataset[name].to_numpy()
    kind = description["kind"]

    if kind == "categorical":
        categories = pd.Index(
            [_decode_json_element(text) for text in description["categories"]],
            dtype=_restore_dtype(description["categories_dtype"]),
        )
        dtype = pd.CategoricalDtype(categories, ordered=description["ordered"])
        return pd.Series(pd.Categorical.from_codes(values.astype(np.int64), dtype=dtype))

    if kind in ("string", "masked"):
        dtype = _restore_dtype(description["dtype"])
        missing = dataset[f"{name}__missing"].to_numpy().astype(bool)
        array = pd.array(values.tolist() if kind == "string" else values, dtype=dtype)
        series = pd.Series(array)
        series[missing] = dtype.na_value
        return series

    if kind == "datetimetz":
        naive = pd.Series(values).astype(f"datetime64[{description['unit']}]")
        return naive.dt.tz_localize("UTC").dt.tz_convert(description["tz"])

    if kind == "numpy":
        return pd.Series(values).astype(_restore_dtype(description["dtype"]))

    if kind == "json":
        decoded = np.empty(len(values), dtype=object)
        decoded[:] = [_decode_json_element(text) for text in values.tolist()]
        return pd.Series(decoded, dtype=object)

    raise ValueError(f"Unknown column kind {kind!r} in the stored data frame.")


def frame_to_dataset(df: pd.DataFrame) -> xr.Dataset:
    """Convert a data frame to a NetCDF-ready Dataset that :func:`dataset_to_frame` inverts.

    Parameters
    ----------
    df : pandas.DataFrame
        Any frame whose columns, index levels and labels use the supported
        dtypes; ``df.attrs`` must be JSON-compatible.

    Returns
    -------
    xarray.Dataset
        Variables ``column_0``, ``column_1``, ... and ``index_0``, ... on the
        dim ``row`` (helper variables beside them), with the labels in attrs.

    Raises
    ------
    FrameEncodingError
        If a dtype, label or attr cannot be stored.

    Examples
    --------
    >>> import pandas as pd
    >>> frame_to_dataset(pd.DataFrame({"x": [1.0, 2.0]}))["column_0"].values.tolist()
    [1.0, 2.0]
    """
    variables: dict[str, xr.Variable] = {}
    for position, label in enumerate(df.columns):
        name = f"column_{position}"
        column_vars, description = encode_series(df.iloc[:, position], name)
        description["label"] = encode_label(label)
        column_vars[name].attrs[COLUMN_ATTR] = json.dumps(description)
        variables.update(column_vars)

    index = df.index
    if isinstance(index, pd.RangeIndex):
        index_description = {
            "kind": "range",
            "start": index.start,
            "stop": index.stop,
            "step": index.step,
            "name": encode_label(index.name),
        }
    else:
        for level in range(index.nlevels):
            name = f"index_{level}"
            level_vars, description = encode_series(
                pd.Series(index.get_level_values(level), name=f"index level {level}"), name
            )
            level_vars[name].attrs[COLUMN_ATTR] = json.dumps(description)
            variables.update(level_vars)
        index_description = {
            "kind": "multi" if isinstance(index, pd.MultiIndex) else "plain",
            "names": [encode_label(level_name) for level_name in index.names],
        }

    try:
        frame_attrs = json.dumps(df.attrs)
    except TypeError as error:
        raise FrameEncodingError(
            f"DataFrame.attrs must be JSON-compatible to be stored ({error}); remove or convert "
            f"the offending entries before saving."
        ) from None

    columns = df.columns
    frame_description = {
        "n_rows": len(df),
        "index": index_description,
        "columns_multi": isinstance(columns, pd.MultiIndex),
        "columns_names": [encode_label(level_name) for level_name in columns.names],
        "columns_dtype": None if isinstance(columns, pd.MultiIndex) else _describe_dtype(columns.dtype),
        "attrs": frame_attrs,
    }
    return xr.Dataset(variables, attrs={FRAME_ATTR: json.dumps(frame_description)})


def dataset_to_frame(dataset: xr.Dataset) -> pd.DataFrame:
    """Rebuild the data frame stored by :func:`frame_to_dataset`.

    Parameters
    ----------
    dataset : xarray.Dataset
        Output of :func:`frame_to_dataset`, possibly read back from NetCDF.

    Returns
    -------
    pandas.DataFrame
        The frame with its original values, dtypes, labels, index and
        ``attrs``.

    Raises
    ------
    KeyError, ValueError
        If the Dataset was not written by :func:`frame_to_dataset`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": pd.Categorical(["b", "a"])})
    >>> restored = dataset_to_frame(frame_to_dataset(df))
    >>> restored["x"].cat.categories.tolist(), restored.equals(df)
    (['a', 'b'], True)
    """
    frame_description = json.loads(dataset.attrs[FRAME_ATTR])
    n_columns = sum(1 for name in dataset.data_vars if _is_main_variable(name, "column_"))

    labels = []
    columns = {}
    for position in range(n_columns):
        name = f"column_{position}"
        description = json.loads(dataset[name].attrs[COLUMN_ATTR])
        labels.append(decode_label(description["label"]))
        columns[position] = decode_series(dataset, name, description)

    index_description = frame_description["index"]
    if index_description["kind"] == "range":
        index = pd.RangeIndex(
            index_description["start"],
            index_description["stop"],
            index_description["step"],
            name=decode_label(index_description["name"]),
        )
    else:
        names = [decode_label(level_name) for level_name in index_description["names"]]
        levels = []
        for level in range(len(names)):
            name = f"index_{level}"
            levels.append(decode_series(dataset, name, json.loads(dataset[name].attrs[COLUMN_ATTR])))
        if index_description["kind"] == "multi":
            index = pd.MultiIndex.from_arrays(levels, names=names)
        else:
            index = pd.Index(levels[0], name=names[0])

    df = pd.DataFrame(columns, index=pd.RangeIndex(frame_description["n_rows"]))
    df.index = index

    column_names = [decode_label(level_name) for level_name in frame_description["columns_names"]]
    if frame_description["columns_multi"]:
        df.columns = pd.MultiIndex.from_tuples(labels, names=column_names)
    else:
        dtype = _restore_dtype(frame_description["columns_dtype"])
        df.columns = pd.Index(labels, dtype=dtype, name=column_names[0])
    df.attrs = json.loads(frame_description["attrs"])
    return df


def _is_main_variable(name: str, prefix: str) -> bool:
    return name.startswith(prefix) and "__" not in name
