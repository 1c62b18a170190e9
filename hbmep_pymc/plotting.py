"""Figures of the data and of the fitted recruitment curves, one panel per curve group and muscle.

Rows are curve groups and columns are muscles, titled with the original
labels. Every panel has the same size, and groups beyond ``rows_per_page``
continue on further pages, so a study with many participants stays
readable. Figures are built without pyplot, so they are not shown twice in
a notebook and are freed when no longer referenced.

Examples
--------
>>> import hbmep_pymc as mep
>>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
>>> figure = model.plot(mep.datasets.load_mock_data())
>>> len(figure.axes)
6
>>> df, encoder = model.load(mep.datasets.load_mock_data())
>>> idata, posterior = model.run(df)  # doctest: +SKIP
>>> model.plot_curves(df, posterior=posterior, output_path="curves.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from hbmep_pymc import site
from hbmep_pymc.building import MUSCLE_DIM
from hbmep_pymc.data import feature_name, normalize_features
from hbmep_pymc.encoding import Encoder
from hbmep_pymc.prediction import frame_groups, intensity_values

logger = logging.getLogger(__name__)

OUTPUT_SUFFIXES = (".pdf", ".png", ".svg")
"""File types that :meth:`PlottingMixin.plot` and :meth:`PlottingMixin.plot_curves` write."""

DATA_COLOR = "0.3"
CURVE_COLOR = "C0"
OBS_COLOR = "C1"
THRESHOLD_COLOR = "C2"
OUTLIER_COLOR = "C3"


@dataclass
class DataTable:
    """Data rows with their curve-group labels, in the order the panels show them.

    Attributes
    ----------
    intensity : numpy.ndarray
        Intensity of every row.
    responses : dict of str to numpy.ndarray
        Response of every row, per muscle shown, NaN where not numeric.
    row_keys : list of tuple of str
        Curve-group labels of every row.
    groups : list of tuple of str
        Curve groups present, one panel row each, in panel order.
    hue : numpy.ndarray or None
        Text level of the ``hue`` column of every row.
    index : pandas.Index
        Index of the data frame.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> table = DataTable(intensity=np.array([30.0, 50.0]), responses={"PKPK_ECR": np.array([0.01, 0.2])},
    ...                   row_keys=[("P1",), ("P1",)], groups=[("P1",)], hue=None, index=pd.RangeIndex(2))
    >>> [group_title(key) for key in table.groups]
    ['P1']
    """

    intensity: np.ndarray
    responses: dict[str, np.ndarray]
    row_keys: list[tuple[str, ...]]
    groups: list[tuple[str, ...]]
    hue: np.ndarray | None
    index: pd.Index


def group_title(key: tuple[str, ...]) -> str:
    """Return the text of a curve group: its labels joined by ``", "``, or ``"all data"`` without features.

    Parameters
    ----------
    key : tuple of str
        Display label of the group in every feature.

    Returns
    -------
    str
        The panel title before the muscle name.

    Examples
    --------
    >>> group_title(("P1", "post"))
    'P1, post'
    >>> group_title(())
    'all data'
    """
    return ", ".join(key) if key else "all data"


def _check_output_path(output_path) -> str | None:
    if output_path is None:
        return None
    path = os.fspath(output_path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(
            f"Cannot write {path!r}: use a path ending in {', '.join(OUTPUT_SUFFIXES)} "
            f"(.pdf keeps every page in one file)."
        )
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Folder {folder!r} does not exist; create it before plotting to it.")
    return path


def save_pages(figures: list[Figure], output_path: str | None) -> list[str]:
    """Write pages to a PDF, or to one image per page; return the paths written.

    Parameters
    ----------
    figures : list of matplotlib.figure.Figure
        The pages.
    output_path : str or None
        A ``.pdf`` path keeps every page in one file. Other suffixes write
        one file per page, with ``-page1``, ``-page2``, ... before the
        suffix when there are several. None writes nothing.

    Returns
    -------
    list of str
        The files written.

    Warns
    -----
    UserWarning
        When several pages are written as separate image files.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> save_pages([Figure()], None)
    []
    """
    if output_path is None:
        return []
    stem, suffix = os.path.splitext(output_path)
    if suffix.lower() == ".pdf":
        with PdfPages(output_path) as pdf:
            for figure in figures:
                pdf.savefig(figure)
        logger.info("Wrote %d page(s) to %s", len(figures), output_path)
        return [output_path]

    if len(figures) == 1:
        figures[0].savefig(output_path)
        return [output_path]
    paths = [f"{stem}-page{k + 1}{suffix}" for k in range(len(figures))]
    for figure, path in zip(figures, paths):
        figure.savefig(path)
    warnings.warn(
        f"The figure has {len(figures)} pages, written as {paths[0]} ... {paths[-1]}; "
        f"pass a .pdf path to keep them in one file.",
        UserWarning,
        stacklevel=3,
    )
    return paths


def _pages(figures: list[Figure]) -> Figure | list[Figure]:
    return figures[0] if len(figures) == 1 else figures


class PlottingMixin:
    """Data and curve figures for :class:`~hbmep_pymc.model.BaseModel`.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"],
    ...                        intensity_unit="%MSO", response_unit="mV")
    >>> figure = model.plot(mep.datasets.load_mock_data())
    >>> figure.axes[0].get_xlabel(), figure.axes[0].get_ylabel()
    ('TMSIntensity (%MSO)', 'Response (mV)')
    """

    def plot(
        self,
        df: pd.DataFrame,
        output_path: str | os.PathLike | None = None,
        *,
        encoder: Encoder | None = None,
        hue: str | None = None,
        muscles: Sequence[str] | None = None,
        log_response: bool = False,
        rows_per_page: int = 5,
        panel_size: tuple[float, float] = (4.0, 2.6),
    ) -> Figure | list[Figure]:
        """Plot the data: one panel per curve group (rows) and muscle (columns).

        Parameters
        ----------
        df : pandas.DataFrame
            Raw data, or the encoded frame from :meth:`load`.
        output_path : str or path, optional
            ``.pdf`` (every page), ``.png`` or ``.svg`` (one file per page).
        encoder : Encoder, optional
            Encoder of an encoded frame whose attrs were lost.
        hue : str, optional
            Column whose levels colour the pulses, for example a condition.
        muscles : sequence of str, optional
            Response columns to show; all by default.
        log_response : bool, default False
            Log-scaled response axis (non-positive responses are not shown).
        rows_per_page : int, default 5
            Curve groups per page.
        panel_size : tuple of float, default (4.0, 2.6)
            Width and height of one panel in inches.

        Returns
        -------
        Figure or list of Figure
            One figure per page; a single figure when everything fits one page.

        Raises
        ------
        ValueError
            If a column or muscle is missing, ``rows_per_page`` is not a
            positive integer, or ``output_path`` has an unsupported suffix.
        FileNotFoundError
            If the folder of ``output_path`` does not exist.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> figure = model.plot(mep.datasets.load_mock_data(), log_response=True)
        >>> figure.axes[0].get_title()
        'P1 | PKPK_ECR'
        """
        path = _check_output_path(output_path)
        muscles = self._plot_muscles(muscles, self.response)
        table = self._data_table(df, encoder, muscles, hue)
        figures = []
        for page in _chunks(table.groups, rows_per_page):
            figure, panels = _page_layout(page, muscles, panel_size, with_threshold=False)
            for (key, muscle), (curve_ax, _) in panels.items():
                self._draw_data(curve_ax, table, key, muscle)
                self._label_axes(curve_ax, None, log_response)
            _add_legend(figure, _data_handles(table))
            figures.append(figure)
        _number_pages(figures)
        save_pages(figures, path)
        return _pages(figures)

    def plot_curves(
        self,
        df: pd.DataFrame,
        prediction_df: pd.DataFrame | None = None,
        predictive: xr.Dataset | az.InferenceData | None = None,
        posterior=None,
        encoder: Encoder | None = None,
        output_path: str | os.PathLike | None = None,
        predictive_hdi_prob: float = 0.0,
        *,
        hdi_prob: float = 0.95,
        hue: str | None = None,
        muscles: Sequence[str] | None = None,
        log_response: bool = False,
        mark_outliers: bool = True,
        outlier_threshold: float = 0.5,
        num_points: int = 200,
        rows_per_page: int = 5,
        panel_size: tuple[float, float] = (4.0, 3.6),
    ) -> Figure | list[Figure]:
        """Plot the data with the fitted curves and, below each panel, the threshold posterior.

        Each panel shows the pulses, the posterior mean of the curve ``mu``
        with its HDI band, and optionally the HDI of new observations. Below
        it, a smaller panel shows the posterior density of the threshold
        ``a`` (the S50 for the logistic curves) with its HDI shaded.

        Parameters
        ----------
        df : pandas.DataFrame
            The data of the fit, raw or encoded.
        prediction_df : pandas.DataFrame, optional
            Grid of ``predictive``; made with :meth:`make_prediction_dataset`
            when ``predictive`` is omitted. The curves are drawn from the
            coords of ``predictive``, so a given grid only sets where a new
            prediction is made.
        predictive : xarray.Dataset or InferenceData, optional
            Output of :meth:`predict`, or an InferenceData with a
            ``predictions`` group. Computed from ``posterior`` when omitted.
        posterior : Posterior, InferenceData, xarray.Dataset or dict, optional
            Draws of the fit, for the threshold densities and outliers.
        encoder : Encoder, optional
            Encoder of an encoded ``df`` whose attrs were lost.
        output_path : str or path, optional
            ``.pdf`` (every page), ``.png`` or ``.svg`` (one file per page).
        predictive_hdi_prob : float, default 0.0
            Probability of the HDI of new observations ``obs``; 0 leaves it out.
        hdi_prob : float, default 0.95
            Probability of the HDI of ``mu`` and of the threshold.
        hue : str, optional
            Column whose levels colour the pulses.
        muscles : sequence of str, optional
            Muscles to show; all predicted ones by default.
        log_response : bool, default False
            Log-scaled response axis.
        mark_outliers : bool, default True
            Circle pulses whose posterior outlier probability exceeds
            ``outlier_threshold`` (mixture fits only).
        outlier_threshold : float, default 0.5
            Probability above which a pulse is marked.
        num_points : int, default 200
            Grid points per curve group when the grid is made here.
        rows_per_page : int, default 5
            Curve groups per page.
        panel_size : tuple of float, default (4.0, 3.6)
            Width and height of one panel (curve plus density) in inches.

        Returns
        -------
        Figure or list of Figure
            One figure per page; a single figure when everything fits one page.

        Raises
        ------
        ValueError
            If neither ``predictive`` nor ``posterior`` is given, a
            probability is outside (0, 1), a muscle is unknown,
            ``rows_per_page`` is not a positive integer or ``output_path``
            has an unsupported suffix.
        FileNotFoundError
            If the folder of ``output_path`` does not exist.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> df, encoder = model.load(mep.datasets.load_mock_data())
        >>> idata, posterior = model.run(df)  # doctest: +SKIP
        >>> grid = model.make_prediction_dataset(df, num_points=1000)  # doctest: +SKIP
        >>> predictive = model.predict(grid, posterior=posterior)  # doctest: +SKIP
        >>> model.plot_curves(df, grid, predictive, posterior, encoder,
        ...                   output_path="obs_hdi.pdf", predictive_hdi_prob=0.95)  # doctest: +SKIP
        """
        path = _check_output_path(output_path)
        if not 0 < hdi_prob < 1:
            raise ValueError(f"hdi_prob must lie strictly between 0 and 1, got {hdi_prob!r}.")
        if not 0 <= predictive_hdi_prob < 1:
            raise ValueError(
                f"predictive_hdi_prob must lie in [0, 1), got {predictive_hdi_prob!r}; use 0 to leave it out."
            )
        if predictive is None and posterior is None:
            raise ValueError(
                "plot_curves needs the fit: pass posterior= (an output of model.run) or "
                "predictive= (the output of model.predict)."
            )

        if encoder is None:
            encoder = self._fit_encoder(df)
        draws = None
        if posterior is not None:
            draws, _ = self._resolve_draws(posterior, None, frame_groups(df, self.features, encoder))
        if predictive is None:
            grid = prediction_df
            if grid is None:
                grid = self.make_prediction_dataset(df, num_points=num_points)
            predictive = self.predict(grid, posterior=draws, encoder=encoder)
        elif isinstance(predictive, az.InferenceData):
            predictive = predictive.predictions

        muscles = self._plot_muscles(muscles, predictive[MUSCLE_DIM].to_numpy())
        table = self._data_table(df, encoder, muscles, hue)
        features = [name for name in predictive.coords if name in _feature_dims(self.features)]
        bands = _curve_bands(predictive.sel({MUSCLE_DIM: muscles}), features, hdi_prob, predictive_hdi_prob)
        thresholds = _threshold_summary(draws, hdi_prob) if draws is not None else None
        outliers = None
        if mark_outliers and draws is not None and site.outlier_posterior in draws:
            outliers = _outlier_probability(draws, _observed_cells(posterior), table)

        figures = []
        for page in _chunks(table.groups, rows_per_page):
            figure, panels = _page_layout(page, muscles, panel_size, with_threshold=thresholds is not None)
            for (key, muscle), (curve_ax, threshold_ax) in panels.items():
                _draw_bands(curve_ax, bands, key, muscle)
                rows = self._draw_data(curve_ax, table, key, muscle)
                if outliers is not None:
                    _draw_outliers(curve_ax, table, outliers, rows, muscle, outlier_threshold)
                if threshold_ax is not None:
                    _draw_threshold(threshold_ax, thresholds, features, key, muscle)
                self._label_axes(curve_ax, threshold_ax, log_response)
            _add_legend(figure, _curve_handles(table, hdi_prob, predictive_hdi_prob, thresholds, outliers,
                                               outlier_threshold))
            figures.append(figure)
        _number_pages(figures)
        save_pages(figures, path)
        return _pages(figures)

    # --- shared pieces --------------------------------------------------------

    def _plot_muscles(self, muscles, available) -> list[str]:
        available = [str(m) for m in available]
        if muscles is None:
            return available
        muscles = [muscles] if isinstance(muscles, str) else list(muscles)
        unknown = [m for m in muscles if m not in available]
        if unknown or not muscles:
            raise ValueError(f"Unknown muscle(s) {unknown}; choose from {available}.")
        return muscles

    def _data_table(self, df: pd.DataFrame, encoder, muscles: list[str], hue: str | None) -> DataTable:
        if encoder is None:
            encoder = self._fit_encoder(df)
        groups = frame_groups(df, self.features, encoder)
        x = intensity_values(df, self.intensity)
        missing = [m for m in muscles if m not in df.columns]
        if hue is not None and hue not in df.columns:
            missing.append(hue)
        if missing:
            raise ValueError(f"Column(s) {missing} are missing from the data frame.")

        labels = [groups.labels(name) for name in groups.features]
        row_keys = [tuple(str(label[i]) for label in labels) for i in range(len(df))]
        order = np.unique(groups.codes, axis=0) if len(df) else np.empty((0, len(groups.features)))
        present = [tuple(row) for row in order]
        display = {name: groups.encoder[name].display_labels() for name in groups.features}
        keys = [tuple(display[name][code] for name, code in zip(groups.features, row)) for row in present]
        responses = {
            m: pd.to_numeric(df[m], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for m in muscles
        }
        hue_values = df[hue].astype(str).to_numpy() if hue is not None else None
        return DataTable(x, responses, row_keys, keys, hue_values, df.index)

    def _draw_data(self, ax, table: DataTable, key, muscle: str) -> np.ndarray:
        rows = np.array([row_key == key for row_key in table.row_keys], dtype=bool)
        y = table.responses[muscle]
        visible = rows & np.isfinite(y)
        if not visible.any():
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")
            return rows
        if table.hue is None:
            ax.scatter(table.intensity[visible], y[visible], s=10, color=DATA_COLOR, alpha=0.8, zorder=3)
            return rows
        for level, color in _hue_colors(table.hue).items():
            in_level = visible & (table.hue == level)
            if in_level.any():
                ax.scatter(table.intensity[in_level], y[in_level], s=10, color=color, alpha=0.85, zorder=3)
        return rows

    def _label_axes(self, curve_ax, threshold_ax, log_response: bool) -> None:
        intensity_label = _with_unit(str(self.intensity), self.intensity_unit)
        curve_ax.set_ylabel(_with_unit("Response", self.response_unit))
        if log_response:
            curve_ax.set_yscale("log")
        if threshold_ax is None:
            curve_ax.set_xlabel(intensity_label)
            return
        threshold_ax.set_xlabel(intensity_label)
        name = "Threshold" if self.curve.has_threshold else "S50"
        threshold_ax.set_ylabel(f"{name}\ndensity")
        threshold_ax.set_yticks([])
        curve_ax.tick_params(labelbottom=False)


def _with_unit(label: str, unit: str | None) -> str:
    return f"{label} ({unit})" if unit else label


def _chunks(items: list, size: int) -> list[list]:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"rows_per_page must be a positive integer, got {size!r}.")
    return [items[i:i + size] for i in range(0, max(len(items), 1), size)]


def _hue_colors(values: np.ndarray) -> dict[str, tuple]:
    from matplotlib import colormaps

    levels = sorted(set(values.tolist()))
    palette = colormaps["Dark2" if len(levels) <= 8 else "viridis"]
    spread = np.linspace(0, 1, len(levels)) if len(levels) > 8 else np.arange(len(levels))
    return {level: palette(position) for level, position in zip(levels, spread)}


def _page_layout(keys, muscles, panel_size, with_threshold: bool):
    """Make one page: a curve axes per panel, with a threshold axes below it when requested."""
    width, height = panel_size
    rows_per_group = 2 if with_threshold else 1
    ratios = [3, 1] * len(keys) if with_threshold else [1] * len(keys)
    figure = Figure(
        figsize=(width * len(muscles), height * len(keys) + 0.8), layout="constrained"
    )
    axes = figure.subplots(
        len(keys) * rows_per_group, len(muscles), squeeze=False,
        gridspec_kw={"height_ratios": ratios},
    )
    panels = {}
    for i, key in enumerate(keys):
        for j, muscle in enumerate(muscles):
            curve_ax = axes[i * rows_per_group, j]
            curve_ax.set_label("curve")
            curve_ax.set_title(f"{group_title(key)} | {muscle}", fontsize=10)
            threshold_ax = None
            if with_threshold:
                threshold_ax = axes[i * rows_per_group + 1, j]
                threshold_ax.set_label("threshold")
                threshold_ax.sharex(curve_ax)
            panels[(key, muscle)] = (curve_ax, threshold_ax)
    return figure, panels


def _data_handles(table: DataTable) -> list:
    if table.hue is None:
        return [Line2D([], [], ls="", marker="o", ms=4, color=DATA_COLOR, label="data")]
    return [
        Line2D([], [], ls="", marker="o", ms=4, color=color, label=level)
        for level, color in _hue_colors(table.hue).items()
    ]


def _add_legend(figure: Figure, handles: list) -> None:
    figure.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 3),
                  frameon=False, fontsize=9)


def _number_pages(figures: list[Figure]) -> None:
    if len(figures) > 1:
        for k, figure in enumerate(figures):
            figure.text(0.995, 0.002, f"page {k + 1} of {len(figures)}", ha="right", va="bottom",
                        fontsize=8, color="0.4")


def _feature_dims(features) -> list[str]:
    return [feature_name(columns) for columns in normalize_features(features)]


def _curve_bands(predictive: xr.Dataset, features: list[str], hdi_prob: float, obs_prob: float) -> dict:
    """Posterior mean and HDI bands of every prediction point, with its curve group."""
    with warnings.catch_warnings():
        # Curves without data are NaN on purpose; their panels show no band.
        warnings.simplefilter("ignore", RuntimeWarning)
        bands = {
            "mean": predictive[site.mu].mean(("chain", "draw")).to_numpy(),
            "mu": az.hdi(predictive[site.mu], hdi_prob=hdi_prob)[site.mu].to_numpy(),
            "obs": None,
        }
        if obs_prob > 0:
            bands["obs"] = az.hdi(predictive[site.obs], hdi_prob=obs_prob)[site.obs].to_numpy()
    bands["intensity"] = predictive["intensity"].to_numpy()
    labels = [predictive[name].to_numpy().astype(str) for name in features]
    bands["keys"] = np.array(["\x1f".join(parts) for parts in zip(*labels)] if labels else [""] * len(
        bands["intensity"]))
    bands["muscles"] = [str(m) for m in predictive[MUSCLE_DIM].to_numpy()]
    return bands


def _draw_bands(ax, bands: dict, key: tuple[str, ...], muscle: str) -> None:
    points = np.flatnonzero(bands["keys"] == "\x1f".join(key))
    m = bands["muscles"].index(muscle)
    if not points.size or np.isnan(bands["mean"][points, m]).all():
        return
    points = points[np.argsort(bands["intensity"][points], kind="stable")]
    x = bands["intensity"][points]
    if bands["obs"] is not None:
        ax.fill_between(x, bands["obs"][points, m, 0], bands["obs"][points, m, 1], color=OBS_COLOR,
                        alpha=0.18, linewidth=0, zorder=1)
    ax.fill_between(x, bands["mu"][points, m, 0], bands["mu"][points, m, 1], color=CURVE_COLOR,
                    alpha=0.35, linewidth=0, zorder=2)
    ax.plot(x, bands["mean"][points, m], color=CURVE_COLOR, linewidth=1.6, zorder=4)


def _threshold_summary(draws: xr.Dataset, hdi_prob: float) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        hdi = az.hdi(draws[site.a], hdi_prob=hdi_prob)[site.a]
    return {"draws": draws[site.a], "hdi": hdi}


def _select_cell(array: xr.DataArray, features: list[str], key: tuple[str, ...], muscle: str) -> xr.DataArray:
    indexers = {}
    for name, label in zip(features, key):
        lookup = [str(value) for value in array[name].to_numpy()]
        indexers[name] = lookup.index(label)
    indexers[MUSCLE_DIM] = [str(value) for value in array[MUSCLE_DIM].to_numpy()].index(muscle)
    return array.isel(indexers)


def _draw_threshold(ax, thresholds: dict, features: list[str], key, muscle: str) -> None:
    values = _select_cell(thresholds["draws"], features, key, muscle).to_numpy().ravel()
    values = values[np.isfinite(values)]
    if values.size < 2:
        return
    lower, upper = _select_cell(thresholds["hdi"], features, key, muscle).to_numpy()
    grid, density = az.kde(values)
    ax.plot(grid, density, color=THRESHOLD_COLOR, linewidth=1.2)
    inside = (grid >= lower) & (grid <= upper)
    ax.fill_between(grid[inside], 0, density[inside], color=THRESHOLD_COLOR, alpha=0.35, linewidth=0)
    ax.set_ylim(bottom=0)


def _observed_cells(posterior) -> xr.Dataset | None:
    """Coords that map each measurement to its observation (row label) and muscle, if the fit has them."""
    idata = posterior if isinstance(posterior, az.InferenceData) else getattr(posterior, "idata", None)
    if idata is None or "observed_data" not in idata.groups():
        return None
    observed = idata.observed_data
    if "observation" not in observed.coords or MUSCLE_DIM not in observed.coords:
        return None
    return observed


def _outlier_probability(draws: xr.Dataset, observed: xr.Dataset | None,
                         table: DataTable) -> dict[str, np.ndarray] | None:
    """Posterior outlier probability of every data row and muscle (NaN where the fit has none)."""
    probability = draws[site.outlier_posterior].mean(("chain", "draw"))
    if observed is None or observed.sizes.get("measurement") != probability.sizes.get("measurement"):
        logger.info("Outliers are not marked: the fit's observed_data does not map its measurements to rows")
        return None
    lookup = pd.Series(
        probability.to_numpy(),
        index=pd.MultiIndex.from_arrays(
            [observed["observation"].to_numpy(), observed[MUSCLE_DIM].to_numpy().astype(str)]
        ),
    )
    rows = table.index if table.index.is_unique else pd.RangeIndex(len(table.index))
    result = {}
    for muscle in table.responses:
        cells = pd.MultiIndex.from_arrays([rows, [muscle] * len(rows)])
        result[muscle] = lookup.reindex(cells).to_numpy(dtype=float)
    return result


def _draw_outliers(ax, table: DataTable, outliers: dict, rows: np.ndarray, muscle: str,
                   threshold: float) -> None:
    marked = rows & (outliers[muscle] > threshold) & np.isfinite(table.responses[muscle])
    if marked.any():
        ax.scatter(table.intensity[marked], table.responses[muscle][marked], s=60, facecolors="none",
                   edgecolors=OUTLIER_COLOR, linewidths=1.2, zorder=5)


def _curve_handles(table, hdi_prob, obs_prob, thresholds, outliers, outlier_threshold) -> list:
    handles = _data_handles(table)
    handles.append(Line2D([], [], color=CURVE_COLOR, linewidth=1.6, label="posterior mean of mu"))
    handles.append(Patch(color=to_rgba(CURVE_COLOR, 0.35), label=f"{hdi_prob:.0%} HDI of mu"))
    if obs_prob > 0:
        handles.append(Patch(color=to_rgba(OBS_COLOR, 0.18), label=f"{obs_prob:.0%} HDI of new observations"))
    if thresholds is not None:
        handles.append(Patch(color=to_rgba(THRESHOLD_COLOR, 0.35), label=f"{hdi_prob:.0%} HDI of a"))
    if outliers is not None:
        handles.append(Line2D([], [], ls="", marker="o", ms=7, markerfacecolor="none",
                              markeredgecolor=OUTLIER_COLOR, label=f"outlier (p > {outlier_threshold:g})"))
    return handles
