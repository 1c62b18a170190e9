"""Posterior and prior predictions of recruitment curves on intensity grids.

Predictions pick each curve group's parameters once, broadcast them over
the group's points and evaluate the curve on all draws at once, with no
Python loop over draws.

Examples
--------
Predict the fitted curves of the bundled data on a 200-point grid:

>>> import hbmep_pymc as mep
>>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
>>> df, encoder = model.load(mep.datasets.load_mock_data())
>>> grid = model.make_prediction_dataset(df, num_points=200)
>>> grid.shape
(600, 2)
>>> idata, posterior = model.run(df)  # doctest: +SKIP
>>> predictive = model.predict(grid, posterior=posterior)  # doctest: +SKIP
>>> predictive["mu"].dims  # doctest: +SKIP
('chain', 'draw', 'prediction', 'muscle')

Draw curves from the priors alone, before any fit:

>>> prior = model.predict(grid, prior_draws=200)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from hbmep_pymc import site
from hbmep_pymc.building import MUSCLE_DIM, build_pymc_model
from hbmep_pymc.curves import Curve
from hbmep_pymc.data import ENCODER_ATTR, PreparedData, feature_name, normalize_features
from hbmep_pymc.encoding import Encoder, LabelEncoder, sorted_levels
from hbmep_pymc.functional import gamma_shape_rate
from hbmep_pymc.results import Posterior, posterior_dataset

logger = logging.getLogger(__name__)

PREDICTION_DIM = "prediction"
"""Dim of the prediction points (rows of the prediction frame)."""

SCALES = ("linear", "ln", "log10")
"""Grid spacings accepted by :meth:`PredictionMixin.make_prediction_dataset`."""

_CHUNK_VALUES = 2_000_000
"""Values per block of prediction points, which bounds the memory of the intermediate arrays."""


def intensity_grid(low: float, high: float, num_points: int, scale: str = "linear") -> np.ndarray:
    """Return ``num_points`` intensities from ``low`` to ``high``.

    Parameters
    ----------
    low, high : float
        First and last intensity.
    num_points : int
        Number of points, at least 2.
    scale : {"linear", "ln", "log10"}
        ``"linear"`` spaces points evenly in intensity. ``"ln"`` and
        ``"log10"`` space them evenly in the logarithm of intensity, which
        gives the same points for either base, and need ``low > 0``.

    Returns
    -------
    numpy.ndarray
        The grid, float.

    Raises
    ------
    ValueError
        If ``scale`` is ``"ln"`` or ``"log10"`` and ``low`` is not positive.

    Examples
    --------
    >>> intensity_grid(1.0, 100.0, 3, scale="log10").tolist()
    [1.0, 10.0, 100.0]
    """
    if scale == "linear":
        return np.linspace(low, high, num_points)
    if low <= 0:
        raise ValueError(
            f"A {scale!r} grid needs a positive lowest intensity, got {low:g}; "
            f"pass min_intensity > 0 or use scale='linear'."
        )
    return np.geomspace(low, high, num_points)


@dataclass
class FrameGroups:
    """Curve group of every row of a frame, as codes and as the original labels.

    Attributes
    ----------
    codes : numpy.ndarray
        Integer codes, shape ``(n_rows, n_features)``.
    features : list of str
        Feature (dim) names.
    encoder : Encoder
        Feature name to label encoder.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"participant": ["P2", "P1", "P2"], "condition": ["pre", "pre", "post"]})
    >>> groups = frame_groups(df, [["participant", "condition"]])
    >>> groups.features, groups.codes[:, 0].tolist()
    (['participant__condition'], [2, 0, 1])
    """

    codes: np.ndarray
    features: list[str]
    encoder: Encoder

    def labels(self, name: str) -> np.ndarray:
        """Return the display labels of feature ``name`` for every row, as text.

        Parameters
        ----------
        name : str
            Feature (dim) name.

        Returns
        -------
        numpy.ndarray
            Object array of text labels, with combined labels joined by ``", "``.

        Raises
        ------
        ValueError
            If ``name`` is not one of :attr:`features`.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"participant": ["P2", "P1", "P2"], "condition": ["pre", "pre", "post"]})
        >>> frame_groups(df, [["participant", "condition"]]).labels("participant__condition").tolist()
        ['P2, pre', 'P1, pre', 'P2, post']
        """
        position = self.features.index(name)
        display = np.asarray(self.encoder[name].display_labels(), dtype=object)
        return display[self.codes[:, position]]


def frame_groups(df: pd.DataFrame, features: Sequence, encoder: Encoder | None = None) -> FrameGroups:
    """Find the curve group of every row of a raw or encoded frame.

    Unlike :func:`~hbmep_pymc.data.prepare_data`, this needs no response
    columns, so it serves prediction grids.

    Parameters
    ----------
    df : pandas.DataFrame
        Raw labels, or codes from :meth:`~hbmep_pymc.model.BaseModel.load`
        (recognised by the encoder in ``df.attrs``).
    features : sequence
        Feature specification, as ``model.features``.
    encoder : Encoder, optional
        Encoder of the fit. Taken from ``df.attrs`` when omitted; a raw
        frame without one is encoded from its own labels.

    Returns
    -------
    FrameGroups
        Codes, feature names and encoder.

    Raises
    ------
    ValueError
        If a column is missing, a label is unknown to the encoder or a code
        is out of range.

    Examples
    --------
    >>> import pandas as pd
    >>> groups = frame_groups(pd.DataFrame({"participant": ["P2", "P1"]}), ["participant"])
    >>> groups.codes[:, 0].tolist()
    [1, 0]
    """
    encoded = ENCODER_ATTR in df.attrs
    if encoder is None and encoded:
        encoder = Encoder.from_dict(df.attrs[ENCODER_ATTR])
    encoder = Encoder(encoder) if encoder is not None else Encoder()

    feature_columns = normalize_features(features)
    codes = np.zeros((len(df), len(feature_columns)), dtype=np.int64)
    for f, columns in enumerate(feature_columns):
        name = feature_name(columns)
        has_codes = name in df.columns and (encoded or len(columns) > 1)
        if has_codes and name in encoder:
            codes[:, f] = _checked_codes(df[name], encoder[name])
            continue

        missing = [column for column in columns if column not in df.columns]
        if missing:
            raise ValueError(
                f"Column(s) {missing} of feature {name!r} are missing from the data frame; "
                f"pass the frame from model.load(df) or model.make_prediction_dataset(df)."
            )
        frame = df[list(columns)]
        source = frame[columns[0]] if len(columns) == 1 else frame
        labels = source.tolist() if len(columns) == 1 else list(frame.itertuples(index=False, name=None))
        if name not in encoder:
            encoder[name] = LabelEncoder(sorted_levels(source), columns)
        codes[:, f] = encoder[name].transform(labels)
    return FrameGroups(codes, [feature_name(columns) for columns in feature_columns], encoder)


def _checked_codes(values: pd.Series, label_encoder: LabelEncoder) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    valid = np.isfinite(numbers) & (numbers >= 0) & (numbers < len(label_encoder)) & (numbers % 1 == 0)
    if not valid.all():
        bad = values[~valid].unique()[:5].tolist()
        raise ValueError(
            f"Column {label_encoder.name!r} should hold codes 0..{len(label_encoder) - 1} from "
            f"model.load(df), but contains {bad}; pass the encoder of the fit or the raw labels."
        )
    return numbers.astype(np.int64)


def intensity_values(df: pd.DataFrame, column: str) -> np.ndarray:
    """Return the intensity column as finite, non-negative floats, or raise naming the bad rows.

    Parameters
    ----------
    df : pandas.DataFrame
        Data or prediction grid.
    column : str
        Intensity column. Numbers stored as text are converted.

    Returns
    -------
    numpy.ndarray
        The intensities, float.

    Raises
    ------
    ValueError
        If the column is missing, or a value is missing, not a number,
        infinite or negative.

    Examples
    --------
    >>> import pandas as pd
    >>> intensity_values(pd.DataFrame({"TMSIntensity": [40, "55"]}), "TMSIntensity").tolist()
    [40.0, 55.0]
    """
    if column not in df.columns:
        raise ValueError(f"Intensity column {column!r} is missing from the data frame.")
    values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        rows = df.index[bad][:5].tolist()
        raise ValueError(
            f"Intensity column {column!r} needs finite, non-negative numbers, but rows {rows} are not."
        )
    return values


def positions_in(dataset: xr.Dataset, groups: FrameGroups) -> dict[str, np.ndarray]:
    """Map every row's curve group to positions along the feature dims of ``dataset``.

    Labels are matched as text, so the positions are right even when the
    draws list the groups in another order than the encoder.

    Parameters
    ----------
    dataset : xarray.Dataset
        Draws, or any Dataset whose feature dims carry the group labels.
    groups : FrameGroups
        Curve group of every row, from :func:`frame_groups`.

    Returns
    -------
    dict of str to numpy.ndarray
        Feature name to the position of every row along that dim.

    Raises
    ------
    ValueError
        If ``dataset`` lacks a feature dim or a group of ``groups``.

    Examples
    --------
    >>> import pandas as pd
    >>> import xarray as xr
    >>> draws = xr.Dataset(coords={"participant": ["P1", "P2", "P3"]})
    >>> groups = frame_groups(pd.DataFrame({"participant": ["P3", "P1"]}), ["participant"])
    >>> positions_in(draws, groups)["participant"].tolist()
    [2, 0]
    """
    positions = {}
    for name in groups.features:
        if name not in dataset.dims:
            raise ValueError(
                f"The draws have no {name!r} dim (dims: {sorted(map(str, dataset.dims))}); "
                f"were they fitted with features {groups.features}?"
            )
        lookup = {str(label): i for i, label in enumerate(dataset[name].to_numpy())}
        labels = groups.labels(name)
        unknown = sorted({label for label in labels if label not in lookup})
        if unknown:
            raise ValueError(
                f"Curve group(s) {unknown[:10]} of {name!r} are not in the fit, which has "
                f"{list(lookup)[:10]}; predict only groups that were fitted."
            )
        positions[name] = np.array([lookup[label] for label in labels], dtype=np.int64)
    return positions


def _labelled_dataset(source: dict, features: list[str], encoder: Encoder, muscles: list[str],
                      num_chains: int) -> xr.Dataset:
    """Split flattened draws into chains and give the curve dims their names and labels."""
    dataset = posterior_dataset(source, num_chains)
    curve_dims = [*features, MUSCLE_DIM]
    coords = {name: encoder[name].display_labels() for name in features}
    coords[MUSCLE_DIM] = list(muscles)
    renamed = {}
    for name, variable in dataset.data_vars.items():
        extra = [dim for dim in variable.dims if dim not in ("chain", "draw")]
        if len(extra) == len(curve_dims):
            variable = variable.rename(dict(zip(extra, curve_dims)))
        renamed[name] = variable
    return xr.Dataset(renamed).assign_coords(
        {dim: values for dim, values in coords.items() if dim in xr.Dataset(renamed).dims}
    )


def predict_draws(curve: Curve, parameters: dict[str, np.ndarray], x: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate the curve and draw new observations for every draw at once.

    Parameters
    ----------
    curve : Curve
        The curve function.
    parameters : dict of numpy.ndarray
        Every curve parameter plus ``c1`` and ``c2``, shape
        ``(n_draws, n_muscles, 1)`` for points of one curve group, or
        ``(n_draws, n_muscles, n_points)``.
    x : numpy.ndarray
        Intensity of each point, shape ``(n_points,)``.
    rng : numpy.random.Generator
        Source of the new observations.

    Returns
    -------
    tuple of numpy.ndarray
        ``mu`` and ``obs``, shape ``(n_draws, n_muscles, n_points)``; NaN
        where the parameters are NaN (curves without data). Points come
        last so that NumPy's inner loops run along them.

    Examples
    --------
    >>> import numpy as np
    >>> from hbmep_pymc.curves import get_curve
    >>> ones = np.ones((5, 2, 1))
    >>> params = {"a": 30 * ones, "b": ones, "g": ones, "c1": ones, "c2": ones}
    >>> mu, obs = predict_draws(get_curve("rectified_linear"), params, np.array([0, 40, 50.0]),
    ...                         np.random.default_rng(0))
    >>> mu.shape, obs.shape
    ((5, 2, 3), (5, 2, 3))
    """
    # NOTE: the curve uses the hard maximum of its definition. The fitted model's smooth
    # maximum (width 1e-3) differs from it by at most 1e-3 response units, only next to the
    # threshold, and is slower to evaluate.
    values = {name: parameters[name] for name in curve.parameters}
    mu = curve(x[None, None, :], **values)

    alpha, beta = gamma_shape_rate(mu, parameters[site.c1], parameters[site.c2])
    has_nan = any(np.isnan(value).any() for value in parameters.values())
    missing = np.isnan(alpha) if has_nan else None
    if has_nan:
        alpha[missing] = 1.0
    obs = rng.standard_gamma(alpha)
    obs /= beta
    if has_nan:
        obs[missing] = np.nan
    return mu, obs


def predict_blocks(curve: Curve, flat: dict[str, np.ndarray], positions: list[np.ndarray],
                   x: np.ndarray, seed: int | None = None,
                   num_threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Predict every point on every draw, one block of points of one curve group at a time.

    The parameters of a curve group are picked once and broadcast over its
    points, so per-group work (such as ``log(h / v)``) is not repeated per
    point, and blocks bound the memory of the intermediate arrays.

    Parameters
    ----------
    curve : Curve
        The curve function.
    flat : dict of numpy.ndarray
        Curve parameters plus ``c1`` and ``c2``, shape
        ``(n_samples, *group_shape, n_muscles)``.
    positions : list of numpy.ndarray
        Position of every point along each feature axis.
    x : numpy.ndarray
        Intensity of every point.
    seed : int, optional
        Seed; each block gets its own stream spawned from it, so results
        do not depend on ``num_threads``.
    num_threads : int, optional
        Worker threads (NumPy releases the GIL in its array loops); by
        default up to 4, never more than the machine's cores.

    Returns
    -------
    tuple of numpy.ndarray
        ``mu`` and ``obs``, shape ``(n_samples, n_points, n_muscles)``
        (views of arrays stored with the points last).

    Raises
    ------
    ValueError
        If ``num_threads`` is not a positive integer.

    Examples
    --------
    >>> import numpy as np
    >>> from hbmep_pymc.curves import get_curve
    >>> flat = {name: np.ones((10, 2, 1)) for name in ("a", "b", "g", "c1", "c2")}
    >>> mu, obs = predict_blocks(get_curve("rectified_linear"), flat, [np.array([0, 1, 1])],
    ...                          np.array([0.0, 1.0, 2.0]), seed=1)
    >>> mu.shape
    (10, 3, 1)
    """
    if num_threads is None:
        num_threads = min(4, os.cpu_count() or 1)
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)) or num_threads < 1:
        raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}.")

    first = next(iter(flat.values()))
    num_samples, num_muscles = first.shape[0], first.shape[-1]
    block = max(1, _CHUNK_VALUES // max(1, num_samples * num_muscles))
    mu = np.empty((num_samples, num_muscles, len(x)))
    obs = np.empty_like(mu)

    # One task per block of points that share a curve group.
    cells = np.stack(positions, axis=1) if positions else np.zeros((len(x), 0), dtype=np.int64)
    unique_cells, inverse = np.unique(cells, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    tasks = []
    for u, cell in enumerate(unique_cells):
        points = np.flatnonzero(inverse == u)
        tasks += [(tuple(cell), points[i:i + block]) for i in range(0, len(points), block)]
    streams = np.random.SeedSequence(seed).spawn(max(1, len(tasks)))

    def run_task(k: int) -> None:
        cell, points = tasks[k]
        index = (slice(None), *cell, slice(None))
        parameters = {name: values[index][:, :, None] for name, values in flat.items()}
        mu_block, obs_block = predict_draws(curve, parameters, x[points], np.random.default_rng(streams[k]))
        contiguous = points[-1] - points[0] + 1 == len(points)
        where = slice(points[0], points[-1] + 1) if contiguous else points
        mu[:, :, where] = mu_block
        obs[:, :, where] = obs_block

    if num_threads == 1 or len(tasks) <= 1:
        for k in range(len(tasks)):
            run_task(k)
    else:
        with ThreadPoolExecutor(num_threads) as pool:
            list(pool.map(run_task, range(len(tasks))))
    return mu.transpose(0, 2, 1), obs.transpose(0, 2, 1)

class PredictionMixin:
    """Prediction grids and posterior or prior predictions for :class:`~hbmep_pymc.model.BaseModel`.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> grid = model.make_prediction_dataset(mep.datasets.load_mock_data(), num_points=3,
    ...                                      min_intensity=20, max_intensity=80)
    >>> grid["TMSIntensity"].tolist()[:3]
    [20.0, 50.0, 80.0]
    >>> predictive = model.predict(grid, posterior=posterior)  # doctest: +SKIP
    """

    def make_prediction_dataset(
        self,
        df: pd.DataFrame,
        num_points: int = 100,
        min_intensity: float | None = None,
        max_intensity: float | None = None,
        scale: str = "linear",
    ) -> pd.DataFrame:
        """Make a grid of intensities for every curve group present in ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw data, or the encoded frame from :meth:`load`.
        num_points : int, default 100
            Points per curve group, at least 2.
        min_intensity, max_intensity : float, optional
            Bounds of every grid. By default each group's grid spans that
            group's own lowest to highest intensity.
        scale : {"linear", "ln", "log10"}, default "linear"
            Spacing of the points: even in intensity, or even in its
            logarithm (``"ln"`` and ``"log10"`` give the same points).

        Returns
        -------
        pandas.DataFrame
            ``num_points`` rows per curve group with the intensity column
            and the feature columns in the form ``df`` has them (codes for
            an encoded frame, whose encoder stays in ``attrs``).

        Raises
        ------
        ValueError
            If ``num_points``, a bound or ``scale`` is invalid, a column is
            missing, or an intensity is missing or negative.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR"])
        >>> grid = model.make_prediction_dataset(mep.datasets.load_mock_data(), num_points=50)
        >>> grid.groupby("participant").size().tolist()
        [50, 50, 50]
        """
        if isinstance(num_points, bool) or not isinstance(num_points, (int, np.integer)) or num_points < 2:
            raise ValueError(f"num_points must be an integer of at least 2, got {num_points!r}.")
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(map(repr, SCALES))}, got {scale!r}.")
        for name, bound in (("min_intensity", min_intensity), ("max_intensity", max_intensity)):
            if bound is not None and not (np.isfinite(bound) and bound >= 0):
                raise ValueError(f"{name} must be a finite, non-negative number, got {bound!r}.")
        if min_intensity is not None and max_intensity is not None and min_intensity >= max_intensity:
            raise ValueError(
                f"min_intensity ({min_intensity:g}) must be below max_intensity ({max_intensity:g})."
            )

        x = intensity_values(df, self.intensity)
        groups = frame_groups(df, self.features, self._fit_encoder(df))
        unique_codes, first_rows, inverse = np.unique(
            groups.codes, axis=0, return_index=True, return_inverse=True
        )
        inverse = inverse.reshape(-1)
        keep = [column for column in df.columns if column in self._feature_columns()]

        frames = []
        for g, row in enumerate(first_rows):
            in_group = inverse == g
            low = float(x[in_group].min()) if min_intensity is None else float(min_intensity)
            high = float(x[in_group].max()) if max_intensity is None else float(max_intensity)
            if low >= high:
                logger.info("Curve group %s spans one intensity only (%g)", unique_codes[g].tolist(), low)
            frame = df.iloc[np.repeat(row, num_points)][keep].reset_index(drop=True)
            frame.insert(0, self.intensity, intensity_grid(low, high, num_points, scale))
            frames.append(frame)

        grid = pd.concat(frames, ignore_index=True)
        grid.attrs = {key: value for key, value in df.attrs.items() if key == ENCODER_ATTR}
        logger.info("Prediction grid: %d curve groups x %d points", len(first_rows), num_points)
        return grid

    def predict(
        self,
        df: pd.DataFrame,
        posterior: Posterior | az.InferenceData | xr.Dataset | dict | None = None,
        idata: az.InferenceData | None = None,
        *,
        encoder: Encoder | None = None,
        prior_draws: int = 1000,
        seed: int | None = None,
        num_threads: int | None = None,
    ) -> xr.Dataset:
        """Predict the curve ``mu`` and new observations ``obs`` at every row of ``df``.

        Each curve group's parameters are broadcast over its points and the
        curve is evaluated on all draws at once. New observations come from the
        gamma likelihood with rate ``1/c1 + 1/(c2 mu)`` and shape
        ``mu * rate``; mixture fits predict without the outlier component.

        Parameters
        ----------
        df : pandas.DataFrame
            Prediction points, usually from :meth:`make_prediction_dataset`;
            it needs the intensity and feature columns only.
        posterior : Posterior, InferenceData, xarray.Dataset or dict, optional
            Draws of a fit (either output of :meth:`run`). A plain dict of
            flattened arrays is split into ``mcmc_params["num_chains"]``
            chains.
        idata : InferenceData, optional
            A fit to take the draws from when ``posterior`` is omitted. The
            ``predictions`` and ``predictions_constant_data`` groups are
            added to it (and to ``posterior`` when that is an InferenceData),
            replacing earlier ones.
        encoder : Encoder, optional
            Encoder of the fit, for encoded frames whose attrs were lost.
        prior_draws : int, default 1000
            Draws from the priors when no posterior is given.
        seed : int, optional
            Seed of the new observations (and prior draws); :attr:`seed` by default.
        num_threads : int, optional
            Threads that share the work; by default up to 4, never more
            than the machine's cores.

        Returns
        -------
        xarray.Dataset
            ``mu`` and ``obs`` with dims ``(chain, draw, prediction,
            muscle)``. The ``prediction`` dim carries the coords
            ``intensity`` and one per feature with the original labels.
            ``attrs["source"]`` is ``"posterior"`` or ``"prior"``.

        Raises
        ------
        ValueError
            If a column is missing, a curve group was not fitted, the
            draws lack a curve parameter, ``prior_draws`` or
            ``num_threads`` is not a positive integer, or no response
            columns are set for prior draws.
        TypeError
            If ``posterior`` is of an unsupported type.

        Notes
        -----
        Without draws from a fit, the curve parameters are drawn from the
        priors with :func:`pymc.sample_prior_predictive` on a model built
        for the groups in ``df``. The priors are, in this order,
        ``model.priors``, the priors of the model's last fit, or the
        defaults rescaled to the grid's intensity range. A grid has no
        responses, so defaults are never rescaled for response units; set
        ``model.priors`` for data outside the mV range.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> df, encoder = model.load(mep.datasets.load_mock_data())
        >>> grid = model.make_prediction_dataset(df, num_points=50)
        >>> prior = model.predict(grid, prior_draws=100)  # doctest: +SKIP
        >>> prior["obs"].sizes["prediction"]  # doctest: +SKIP
        150
        """
        x = intensity_values(df, self.intensity)
        encoder = encoder if encoder is not None else self._fit_encoder(df)
        groups = frame_groups(df, self.features, encoder)
        seed = self.seed if seed is None else seed

        draws, targets = self._resolve_draws(posterior, idata, groups)
        source = "posterior"
        if draws is None:
            draws = self._prior_draws(df, x, groups, prior_draws, seed)
            source = "prior"
        names = [*self.curve.parameters, site.c1, site.c2]
        missing = [name for name in names if name not in draws]
        if missing:
            raise ValueError(
                f"The draws lack {missing}, which the {self.function} curve needs; "
                f"was the fit made with another curve function?"
            )

        # Flatten chains and draws, so that one index picks a curve group's (sample, muscle) block.
        positions = positions_in(draws, groups)
        dims = ("chain", "draw", *groups.features, MUSCLE_DIM)
        flat = {}
        for name in names:
            values = draws[name].transpose(*dims).to_numpy()
            flat[name] = values.reshape(-1, *values.shape[2:])
        mu, obs = predict_blocks(
            self.curve, flat, [positions[name] for name in groups.features], x, seed, num_threads
        )

        shape = (draws.sizes["chain"], draws.sizes["draw"], len(x), mu.shape[-1])
        predictions = _predictions_dataset(
            df, x, groups, positions, draws, mu.reshape(shape), obs.reshape(shape)
        )
        predictions.attrs.update({"source": source, "function": self.function, "intensity": self.intensity})
        if source == "posterior":
            self._add_prediction_groups(targets, predictions, groups)
        return predictions

    # --- helpers -------------------------------------------------------------

    def _feature_columns(self) -> set[str]:
        """Columns that identify a curve group: the raw columns and the encoded ones."""
        columns = set()
        for group in normalize_features(self.features):
            columns.update(group)
            columns.add(feature_name(group))
        return columns

    def _fit_encoder(self, df: pd.DataFrame) -> Encoder | None:
        """Encoder to read ``df`` with: its own attrs first, then the model's last load or fit."""
        if ENCODER_ATTR in df.attrs:
            return None
        return self.encoder

    def _resolve_draws(self, posterior, idata, groups: FrameGroups):
        """Return the draws as a labelled dataset (None for the prior) and the InferenceData to extend."""
        source = posterior if posterior is not None else idata
        targets = [] if idata is None else [idata]
        if source is None:
            return None, targets

        if isinstance(source, az.InferenceData):
            if "posterior" not in source.groups():
                raise ValueError(
                    "The InferenceData has no posterior group; pass the output of model.run, "
                    "or no posterior at all to predict from the priors."
                )
            if all(target is not source for target in targets):
                targets.append(source)
            return source.posterior, targets
        if isinstance(source, Posterior) and source.idata is not None:
            return source.idata.posterior, targets
        if isinstance(source, xr.Dataset):
            return source, targets
        if isinstance(source, dict):
            num_chains = int(self.mcmc_params.get("num_chains", 1))
            dataset = _labelled_dataset(source, groups.features, groups.encoder, self.response, num_chains)
            return dataset, targets
        raise TypeError(
            f"posterior must be a Posterior, an InferenceData, an xarray Dataset or a dict of "
            f"arrays, got {type(source).__name__}."
        )

    def _prior_draws(self, df: pd.DataFrame, x: np.ndarray, groups: FrameGroups,
                     num_draws: int, seed: int | None) -> xr.Dataset:
        """Draw the curve parameters from the priors on a model built for the groups in ``df``."""
        if isinstance(num_draws, bool) or not isinstance(num_draws, (int, np.integer)) or num_draws < 1:
            raise ValueError(f"prior_draws must be a positive integer, got {num_draws!r}.")
        muscles = list(self.response)
        if not muscles:
            raise ValueError("No response columns are set: assign model.response = ['<column>', ...].")

        # The likelihood is not sampled, so placeholder responses of 1 only fix the shapes.
        placeholder = PreparedData(
            df=df,
            encoder=groups.encoder,
            intensity=x,
            codes=groups.codes,
            response=np.ones((len(df), len(muscles))),
            observed=np.ones((len(df), len(muscles)), dtype=bool),
            features=groups.features,
            muscles=muscles,
        )
        if self.priors is None and self.last_priors is not None:
            priors = self.last_priors
            logger.info("Drawing from the priors of the model's last fit")
        else:
            priors, _, _ = self.resolve_priors(placeholder)
        pymc_model = build_pymc_model(placeholder, self.model_spec(priors))
        names = [*self.curve.parameters, site.c1, site.c2]
        logger.info("Drawing %d sets of curve parameters from the priors", num_draws)
        prior = pm.sample_prior_predictive(
            draws=num_draws, model=pymc_model, var_names=names, random_seed=seed
        )
        return prior.prior

    def _add_prediction_groups(self, targets: list[az.InferenceData], predictions: xr.Dataset,
                               groups: FrameGroups) -> None:
        if not targets:
            return
        constant = xr.Dataset(
            {
                "intensity": (PREDICTION_DIM, predictions["intensity"].to_numpy()),
                **{
                    f"{name}_code": (PREDICTION_DIM, groups.codes[:, f])
                    for f, name in enumerate(groups.features)
                },
            },
            coords={PREDICTION_DIM: predictions[PREDICTION_DIM].to_numpy()},
        )
        for target in targets:
            for group in ("predictions", "predictions_constant_data"):
                if group in target.groups():
                    logger.info("Replacing the %s group of the InferenceData", group)
                    delattr(target, group)
            target.add_groups(predictions=predictions, predictions_constant_data=constant)


def _predictions_dataset(df, x, groups, positions, draws, mu, obs) -> xr.Dataset:
    index = df.index.to_numpy() if df.index.is_unique else np.arange(len(df))
    coords = {
        "chain": draws["chain"].to_numpy(),
        "draw": draws["draw"].to_numpy(),
        PREDICTION_DIM: index,
        MUSCLE_DIM: draws[MUSCLE_DIM].to_numpy(),
        "intensity": (PREDICTION_DIM, x),
    }
    for name in groups.features:
        coords[name] = (PREDICTION_DIM, draws[name].to_numpy()[positions[name]])
    dims = ("chain", "draw", PREDICTION_DIM, MUSCLE_DIM)
    return xr.Dataset({site.mu: (dims, mu), site.obs: (dims, obs)}, coords=coords)
