"""Label encoders that map curve-group labels to integer codes and back."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd


def _to_python(value: Any) -> Any:
    """Convert NumPy scalars (and tuples of them) to plain Python values."""
    if isinstance(value, tuple):
        return tuple(_to_python(item) for item in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


class LabelEncoder:
    """Map the levels of one curve-group feature to codes ``0 .. n - 1``.

    Parameters
    ----------
    classes : sequence
        The original labels, in code order. For a feature that combines
        several columns each label is a tuple with one value per column.
    columns : sequence of str
        The data-frame columns the feature is built from.

    Examples
    --------
    >>> encoder = LabelEncoder(["P1", "P2", "P3"], columns=["participant"])
    >>> encoder.inverse_transform([0, 2]).tolist()
    ['P1', 'P3']
    >>> encoder.transform(["P2"]).tolist()
    [1]
    """

    def __init__(self, classes: Sequence, columns: Sequence[str]):
        self.columns = list(columns)
        self.classes_ = np.empty(len(classes), dtype=object)
        self.classes_[:] = [_to_python(label) for label in classes]
        self._codes = {label: code for code, label in enumerate(self.classes_)}

    @property
    def is_combined(self) -> bool:
        """Whether the feature combines several columns.

        Examples
        --------
        >>> encoder = LabelEncoder([("P1", "post"), ("P1", "pre")], columns=["participant", "condition"])
        >>> encoder.is_combined
        True
        """
        return len(self.columns) > 1

    def transform(self, labels: Iterable) -> np.ndarray:
        """Return the codes of ``labels``.

        Parameters
        ----------
        labels : iterable
            Original labels, as tuples for a combined feature.

        Returns
        -------
        numpy.ndarray
            Integer codes, one per label.

        Raises
        ------
        ValueError
            If a label was not seen when the encoder was made.

        Examples
        --------
        >>> encoder = LabelEncoder([("P1", "post"), ("P1", "pre")], columns=["participant", "condition"])
        >>> encoder.transform([("P1", "pre"), ("P1", "post")]).tolist()
        [1, 0]
        """
        labels = [_to_python(label) for label in labels]
        unknown = sorted({repr(label) for label in labels if label not in self._codes})
        if unknown:
            raise ValueError(
                f"Unknown label(s) {', '.join(unknown[:10])} for feature {self.name!r}; "
                f"known labels are {', '.join(map(repr, self.classes_[:10]))}."
            )
        return np.array([self._codes[label] for label in labels], dtype=np.int64)

    def inverse_transform(self, codes: Iterable[int]) -> np.ndarray:
        """Return the original labels of integer ``codes``.

        Parameters
        ----------
        codes : iterable of int
            Codes from :meth:`transform` or a posterior's feature index.

        Returns
        -------
        numpy.ndarray
            Object array of the labels.

        Raises
        ------
        ValueError
            If a code is out of range.

        Examples
        --------
        >>> encoder = LabelEncoder(["P1", "P2", "P3"], columns=["participant"])
        >>> encoder.inverse_transform([2, 0]).tolist()
        ['P3', 'P1']
        """
        codes = np.asarray(list(codes) if not isinstance(codes, np.ndarray) else codes)
        if codes.size and (codes.min() < 0 or codes.max() >= len(self.classes_)):
            raise ValueError(
                f"Codes for feature {self.name!r} must lie in 0..{len(self.classes_) - 1}, "
                f"got {codes.min()}..{codes.max()}."
            )
        return self.classes_[codes.astype(np.int64)]

    @property
    def name(self) -> str:
        """Name of the feature: the column, or the columns joined by ``__``.

        Examples
        --------
        >>> encoder = LabelEncoder([("P1", "post"), ("P1", "pre")], columns=["participant", "condition"])
        >>> encoder.name
        'participant__condition'
        """
        return "__".join(self.columns)

    def display_labels(self) -> list[str]:
        """Return the labels as text, with combined labels joined by ``", "``.

        Returns
        -------
        list of str
            One label per code, as plots and summaries show them.

        Examples
        --------
        >>> encoder = LabelEncoder([("P1", "post"), ("P1", "pre")], columns=["participant", "condition"])
        >>> encoder.display_labels()
        ['P1, post', 'P1, pre']
        """
        if self.is_combined:
            return [", ".join(str(part) for part in label) for label in self.classes_]
        return [str(label) for label in self.classes_]

    def to_dict(self) -> dict:
        """Return a JSON-compatible description of the encoder.

        Returns
        -------
        dict
            ``{"columns": [...], "classes": [...]}``, with combined labels
            as lists.

        Examples
        --------
        >>> encoder = LabelEncoder(["P1", "P2", "P3"], columns=["participant"])
        >>> encoder.to_dict()
        {'columns': ['participant'], 'classes': ['P1', 'P2', 'P3']}
        """
        classes = [list(label) if isinstance(label, tuple) else label for label in self.classes_]
        return {"columns": self.columns, "classes": classes}

    @classmethod
    def from_dict(cls, state: dict) -> LabelEncoder:
        """Rebuild an encoder from :meth:`to_dict` output.

        Parameters
        ----------
        state : dict
            Output of :meth:`to_dict`, for example read back from JSON.

        Returns
        -------
        LabelEncoder
            An encoder equal to the one described.

        Raises
        ------
        KeyError
            If ``state`` lacks ``"columns"`` or ``"classes"``.

        Examples
        --------
        >>> state = {"columns": ["participant", "condition"], "classes": [["P1", "post"], ["P1", "pre"]]}
        >>> LabelEncoder.from_dict(state).classes_.tolist()
        [('P1', 'post'), ('P1', 'pre')]
        """
        columns = state["columns"]
        classes = state["classes"]
        if len(columns) > 1:
            classes = [tuple(label) for label in classes]
        return cls(classes, columns)

    def __len__(self) -> int:
        return len(self.classes_)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LabelEncoder):
            return NotImplemented
        return self.columns == other.columns and list(self.classes_) == list(other.classes_)

    def __repr__(self) -> str:
        return f"LabelEncoder({self.name!r}, classes={list(self.classes_)!r})"


class Encoder(dict):
    """Mapping from feature name to its :class:`LabelEncoder`.

    ``encoder["participant"].inverse_transform([0, 1])`` gives the original
    participant labels.

    Examples
    --------
    >>> encoder = Encoder(participant=LabelEncoder(["P1", "P2"], columns=["participant"]))
    >>> encoder["participant"].inverse_transform([1]).tolist()
    ['P2']
    """

    def to_dict(self) -> dict:
        """Return a JSON-compatible description of every feature encoder.

        Returns
        -------
        dict
            Feature name to the :meth:`LabelEncoder.to_dict` output.

        Examples
        --------
        >>> encoder = Encoder(participant=LabelEncoder(["P1", "P2"], columns=["participant"]))
        >>> encoder.to_dict()
        {'participant': {'columns': ['participant'], 'classes': ['P1', 'P2']}}
        """
        return {name: label_encoder.to_dict() for name, label_encoder in self.items()}

    @classmethod
    def from_dict(cls, state: dict) -> Encoder:
        """Rebuild an :class:`Encoder` from :meth:`to_dict` output.

        Parameters
        ----------
        state : dict
            Output of :meth:`to_dict`.

        Returns
        -------
        Encoder
            An encoder equal to the one described.

        Raises
        ------
        KeyError
            If an entry lacks ``"columns"`` or ``"classes"``.

        Examples
        --------
        >>> encoder = Encoder.from_dict({"participant": {"columns": ["participant"], "classes": ["P1", "P2"]}})
        >>> encoder["participant"]
        LabelEncoder('participant', classes=['P1', 'P2'])
        """
        return cls({name: LabelEncoder.from_dict(item) for name, item in state.items()})


def sorted_levels(values: pd.Series | pd.DataFrame) -> list:
    """Return the distinct levels of a column (or rows of columns), in a stable order.

    Categorical columns keep their category order. Other levels are sorted,
    by value where the labels compare and by text otherwise, so text labels
    sort character by character (``"P10"`` before ``"P2"``).

    Parameters
    ----------
    values : pandas.Series or pandas.DataFrame
        One feature column, or the columns of a combined feature.

    Returns
    -------
    list
        The levels, as tuples for a DataFrame. Categories absent from the data
        are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> sorted_levels(pd.Series(["P2", "P10", "P1", "P2"]))
    ['P1', 'P10', 'P2']
    >>> sorted_levels(pd.Series(pd.Categorical(["post", "pre"], categories=["pre", "post"])))
    ['pre', 'post']
    """
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype):
            present = set(values.dropna().tolist())
            return [level for level in values.cat.categories.tolist() if level in present]
        levels = list(dict.fromkeys(_to_python(value) for value in values.tolist()))
    else:
        levels = list(
            dict.fromkeys(tuple(_to_python(v) for v in row) for row in values.itertuples(index=False))
        )
    try:
        return sorted(levels)
    except TypeError:
        return sorted(levels, key=repr)
