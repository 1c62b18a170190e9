"""Recruitment-curve models: the hierarchical StandardHB and its non-hierarchical baseline.

Examples
--------
Fit the bundled TMS data and print thresholds:

>>> import hbmep_pymc as mep
>>> model = mep.StandardHB()
>>> model.intensity = "TMSIntensity"
>>> model.features = ["participant"]
>>> model.response = ["PKPK_ECR", "PKPK_FCR"]
>>> df = mep.datasets.load_mock_data()
>>> df, encoder = model.load(df)
>>> idata, posterior = model.run(df)  # doctest: +SKIP
>>> model.threshold_table(idata)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Sequence
from typing import Any

import arviz as az
import pandas as pd
import pymc as pm

from hbmep_pymc import curves, results, site
from hbmep_pymc._version import __version__
from hbmep_pymc.archive import ArchiveMixin
from hbmep_pymc.building import (
    ModelSpec,
    build_pymc_model,
    check_centered,
    choose_centered,
    model_coords,
    sampled_variables,
    structure_key,
    uses_fused_likelihood,
)
from hbmep_pymc.checks import check_identifiability, curve_diagnostics
from hbmep_pymc.data import PreparedData, normalize_features, prepare_data
from hbmep_pymc.inference import finish_idata
from hbmep_pymc.initialization import initial_values
from hbmep_pymc.plotting import PlottingMixin
from hbmep_pymc.prediction import PredictionMixin
from hbmep_pymc.priors import Priors, unit_factors
from hbmep_pymc.sampling import CURVE_NUTPIE_DEFAULTS, SAMPLERS, MCMCSettings, sample

logger = logging.getLogger(__name__)


_DIAGNOSTIC_COLUMNS = {
    "min_intensity", "max_intensity", "prob_saturation_reached", "prob_threshold_above_range",
    "prob_threshold_below_range", "ppc_p_top", "notes",
}


class UnitScalingWarning(UserWarning):
    """Warned when the default priors are rescaled to data outside the %MSO and mV footing.

    Examples
    --------
    The bundled responses converted from mV to µV:

    >>> import warnings
    >>> import hbmep_pymc as mep
    >>> df = mep.datasets.load_mock_data()
    >>> df[["PKPK_ECR", "PKPK_FCR"]] *= 1000
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     priors, source, factors = model.resolve_priors(model.prepare(df))
    >>> caught[0].category.__name__, source, factors
    ('UnitScalingWarning', 'data-scaled', (1.0, 97.0))
    """


class BaseModel(ArchiveMixin, PredictionMixin, PlottingMixin):
    """Shared machinery of the recruitment-curve models.

    Set the columns, optionally the curve function, priors and sampler
    settings, then call :meth:`run`. Subclasses choose whether curves are
    pooled (:attr:`hierarchical`) and may override :meth:`default_priors`
    to change priors for every fit of the subclass.

    Parameters
    ----------
    intensity : str, optional
        Intensity column.
    features : list, optional
        Feature columns; a nested list combines columns into one feature.
    response : list of str, optional
        Response columns, one per muscle.
    function : str, default "rectified_logistic"
        Curve function: ``"rectified_logistic"``, ``"logistic4"``,
        ``"logistic5"`` or ``"rectified_linear"``.
    use_mixture : bool, default False
        Add the outlier component to the likelihood.
    priors : Priors or dict, optional
        Hyperpriors. When omitted, the defaults are used, rescaled to the
        data's units if they lie outside the %MSO and mV footing.
    mcmc_params : dict, optional
        ``num_chains``, ``num_warmup``, ``num_samples``, ``thinning``, and
        optionally ``max_samples``: with nutpie, sampling goes on past
        ``num_samples`` until r_hat and ESS pass the convergence checks, up
        to ``max_samples`` draws per chain (see
        :func:`hbmep_pymc.sampling.sample`).
    sampler : str, default "nutpie"
        ``"nutpie"``, ``"pymc"``, ``"numpyro"`` or ``"blackjax"``.
    nonpositive : {"mask", "raise"}, default "mask"
        Treatment of responses at or below zero.
    seed : int, default 0
        Seed of the sampler.
    intensity_unit, response_unit : str, optional
        Units for labels, for example ``"%MSO"`` and ``"mV"``.
    centered : "auto" or list of str, default "auto"
        Positive parameters to sample in the centred form
        ``p ~ HalfNormal(p_scale)`` instead of ``p = p_scale * p_raw``. The
        model and its posterior are the same, and only the sampler's speed
        differs. ``"auto"`` chooses from the data
        (:func:`hbmep_pymc.building.choose_centered`); ``[]`` keeps every
        parameter non-centred.

    Raises
    ------
    ValueError
        If ``function`` is not a registered curve name.

    Examples
    --------
    Use a concrete model, :class:`StandardHB` or
    :class:`NonHierarchicalBayesianModel`:

    >>> import hbmep_pymc as mep
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"],
    ...                        function="logistic4", mcmc_params={"num_chains": 2, "num_samples": 500})
    >>> model.function, model.hierarchical
    ('logistic4', True)
    """

    hierarchical: bool = True
    name: str = "BaseModel"

    rectified_logistic = curves.RECTIFIED_LOGISTIC
    logistic4 = curves.LOGISTIC4
    logistic5 = curves.LOGISTIC5
    rectified_linear = curves.RECTIFIED_LINEAR

    def __init__(
        self,
        intensity: str | None = None,
        features: Sequence | None = None,
        response: Sequence[str] | None = None,
        *,
        function: str = "rectified_logistic",
        use_mixture: bool = False,
        priors: Priors | dict | None = None,
        mcmc_params: dict | None = None,
        sampler: str = "nutpie",
        nonpositive: str = "mask",
        seed: int = 0,
        intensity_unit: str | None = None,
        response_unit: str | None = None,
        centered: str | Sequence[str] = "auto",
    ):
        self.intensity = intensity
        self.features = list(features) if features is not None else []
        self.response = list(response) if response is not None else []
        self.function = function
        self.use_mixture = use_mixture
        self.priors = priors
        self.mcmc_params = dict(mcmc_params) if mcmc_params else {
            "num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1,
        }
        self.sampler = sampler
        self.nonpositive = nonpositive
        self.seed = seed
        self.intensity_unit = intensity_unit
        self.response_unit = response_unit
        self.centered = centered
        self.sampler_kwargs: dict[str, Any] = {}
        self.encoder = None
        self.last_priors: Priors | None = None
        self.last_pymc_model: pm.Model | None = None

    # --- curve function -------------------------------------------------

    @property
    def function(self) -> str:
        """Name of the curve function.

        Assigning accepts a registered name, a hyphenated alias or a
        :class:`~hbmep_pymc.curves.Curve`, and raises ``ValueError`` for
        an unknown name.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> model.function = "logistic-5"
        >>> model.function
        'logistic5'
        """
        return self._function

    @function.setter
    def function(self, value) -> None:
        self._function = curves.get_curve(value).name

    @property
    def curve(self) -> curves.Curve:
        """The :class:`~hbmep_pymc.curves.Curve` of :attr:`function`.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> model.curve.parameters
        ('a', 'b', 'g', 'h', 'v')
        """
        return curves.get_curve(self._function)

    @property
    def _model(self) -> curves.Curve:
        """Curve function, settable as in hbmep: ``model._model = model.logistic5``."""
        return self.curve

    @_model.setter
    def _model(self, value) -> None:
        self.function = value

    # --- priors -----------------------------------------------------------

    @classmethod
    def default_priors(cls) -> Priors:
        """Return the hyperpriors used when none are given.

        Override in a subclass to change priors for every fit::

            class SlowGrowthHB(StandardHB):
                @classmethod
                def default_priors(cls):
                    priors = super().default_priors()
                    priors["b_scale"] = Prior("HalfNormal", sigma=1.0)
                    return priors

        Returns
        -------
        Priors
            A new copy of the defaults, safe to change.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> mep.StandardHB.default_priors()["a_loc"]
        Prior('TruncatedNormal', mu=50.0, sigma=50.0, lower=0.0)
        """
        return Priors.default()

    def resolve_priors(self, data: PreparedData) -> tuple[Priors, str, tuple[float, float]]:
        """Choose the priors of a fit: user-given, else defaults rescaled to the data's units.

        Parameters
        ----------
        data : PreparedData
            The data of the fit, from :meth:`prepare`.

        Returns
        -------
        tuple
            ``(priors, source, (intensity_factor, response_factor))`` where
            ``source`` is ``"user"``, ``"default"`` or ``"data-scaled"``.

        Raises
        ------
        ValueError
            If :attr:`priors` is a dict naming an unknown distribution, or if
            the defaults must be rescaled but one of them has a distribution
            that cannot be rescaled automatically.

        Warns
        -----
        UnitScalingWarning
            When the defaults are rescaled.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> df = mep.datasets.load_mock_data()
        >>> priors, source, factors = model.resolve_priors(model.prepare(df))
        >>> source, factors
        ('default', (1.0, 1.0))
        """
        if self.priors is not None:
            user = self.priors if isinstance(self.priors, Priors) else Priors.from_dict(self.priors)
            logger.info("Using the priors set on the model")
            return user, "user", (1.0, 1.0)

        defaults = self.default_priors()
        intensity_factor, response_factor = unit_factors(data.intensity, data.response)
        if intensity_factor == 1.0 and response_factor == 1.0:
            logger.info("Using the default priors (intensity in a %MSO-like range, responses in a mV-like range)")
            return defaults, "default", (1.0, 1.0)

        x_max = float(data.intensity.max())
        y_max = float(pd.Series(data.response.ravel()).max())
        message = (
            f"The default priors assume intensity in %MSO (0-100) and responses in mV, but this "
            f"data's largest intensity is {x_max:g} and largest response is {y_max:g}. The priors "
            f"were rescaled from the data's range (intensity factor {intensity_factor:g}, response "
            f"factor {response_factor:g}); set model.priors to choose them yourself."
        )
        warnings.warn(message, UnitScalingWarning, stacklevel=3)
        scaled = defaults.scaled(intensity_factor, response_factor, self.function)
        return scaled, "data-scaled", (intensity_factor, response_factor)

    # --- data ---------------------------------------------------------------

    def prepare(self, df: pd.DataFrame, encoder=None) -> PreparedData:
        """Validate ``df`` against the model's columns and return model-ready arrays.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw data, or the encoded frame from :meth:`load`.
        encoder : Encoder, optional
            Encoder of an encoded frame whose attrs were lost.

        Returns
        -------
        PreparedData
            Arrays, mask, encoded frame and encoder.

        Raises
        ------
        hbmep_pymc.data.DataError
            If a column is missing or a value is unusable; the message
            lists every problem.
        ValueError
            If :attr:`nonpositive` is not ``"mask"`` or ``"raise"``.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> df = mep.datasets.load_mock_data()
        >>> model.prepare(df).response.shape
        (245, 2)
        """
        return prepare_data(
            df,
            self.intensity,
            self.features,
            self.response,
            nonpositive=self.nonpositive,
            encoder=encoder,
        )

    def load(self, df: pd.DataFrame):
        """Validate a data frame and encode its feature columns.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw data, one row per pulse.

        Returns
        -------
        tuple of (pandas.DataFrame, Encoder)
            The encoded frame (feature labels replaced by codes; every row
            kept) and the encoder that maps codes back to labels.

        Raises
        ------
        hbmep_pymc.data.DataError
            If a column is missing or a value is unusable; the message
            lists every problem.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR"])
        >>> df, encoder = model.load(mep.datasets.load_mock_data())
        >>> encoder["participant"].inverse_transform([0, 1, 2]).tolist()
        ['P1', 'P2', 'P3']
        """
        data = self.prepare(df)
        self.encoder = data.encoder
        return data.df, data.encoder

    # --- fitting -------------------------------------------------------------

    def model_spec(self, priors: Priors, data: PreparedData | None = None) -> ModelSpec:
        """Return the structural description of the model for given priors.

        Parameters
        ----------
        priors : Priors
            Hyperpriors of the fit.
        data : PreparedData, optional
            The fit's data, from which ``centered="auto"`` chooses the
            centred parameters. Without data none is centred.

        Returns
        -------
        ModelSpec
            Curve, priors, pooling, mixture setting and centred parameters.

        Raises
        ------
        ValueError
            If :attr:`centered` names a parameter the curve does not have.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> spec = model.model_spec(mep.Priors.default())
        >>> spec.curve.name, spec.hierarchical, spec.mixture
        ('rectified_logistic', True, False)
        """
        if isinstance(self.centered, str) and self.centered == "auto":
            centered = () if data is None else choose_centered(data, self.curve, self.hierarchical)
        else:
            centered = check_centered(self.centered, self.curve)
        return ModelSpec(
            curve=self.curve,
            priors=priors,
            hierarchical=self.hierarchical,
            mixture=self.use_mixture,
            centered=centered,
        )

    def build(self, df: pd.DataFrame, encoder=None) -> pm.Model:
        """Build the PyMC model for ``df`` without sampling it.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw or encoded data.
        encoder : Encoder, optional
            Encoder of an encoded frame whose attrs were lost.

        Returns
        -------
        pymc.Model
            The model, with labelled dims.

        Raises
        ------
        hbmep_pymc.data.DataError
            If the data are unusable.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> df = mep.datasets.load_mock_data()
        >>> pymc_model = model.build(df)
        >>> pymc_model.coords["participant"]
        ('P1', 'P2', 'P3')
        """
        data = self.prepare(df, encoder)
        priors, _, _ = self.resolve_priors(data)
        return build_pymc_model(data, self.model_spec(priors, data))

    def run(
        self,
        df: pd.DataFrame,
        *,
        encoder=None,
        mcmc_params: dict | None = None,
        sampler: str | None = None,
        seed: int | None = None,
        progress_bar: bool = True,
        log_likelihood: bool | None = None,
        **sampler_kwargs,
    ) -> tuple[az.InferenceData, results.Posterior]:
        """Fit the model to ``df`` by MCMC.

        Parameters
        ----------
        df : pandas.DataFrame
            Raw or encoded data.
        encoder : Encoder, optional
            Encoder of an encoded frame whose attrs were lost.
        mcmc_params : dict, optional
            Overrides :attr:`mcmc_params` for this fit.
        sampler : str, optional
            Overrides :attr:`sampler` for this fit.
        seed : int, optional
            Overrides :attr:`seed` for this fit.
        progress_bar : bool, default True
            Show the sampler's progress bar.
        log_likelihood : bool, optional
            Store the pointwise log-likelihood (needed for LOO and WAIC).
            By default it is stored up to 5e7 values (draws times observed
            cells, about 400 MB). Above that a warning explains how to
            force it.
        **sampler_kwargs
            Passed to the back-end (nutpie: ``backend``,
            ``low_rank_modified_mass_matrix``, ...).

        Returns
        -------
        idata : arviz.InferenceData
            ``posterior``, ``sample_stats``, ``observed_data``,
            ``constant_data`` and ``log_likelihood`` groups; attrs record
            the package version, model, curve function and settings.
        posterior : Posterior
            Variable name to NumPy array with chains and draws flattened
            first, for example ``posterior["a"].shape == (4000, 3, 2)``.

        Raises
        ------
        ValueError
            If the sampler name or an MCMC setting is invalid.
        hbmep_pymc.data.DataError
            If the data are unusable.
        hbmep_pymc.checks.SingleIntensityError
            In a non-hierarchical model, if a curve was tested at one
            intensity only.
        ImportError
            If the sampler's package is not installed.

        Warns
        -----
        hbmep_pymc.results.ConvergenceWarning
            After divergences, r_hat above 1.01 or low effective sample size.

        Examples
        --------
        A short fit for a first look. Keep the defaults (4 chains of
        1000 warm-up and 1000 kept draws) for results:

        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> df = mep.datasets.load_mock_data()
        >>> idata, posterior = model.run(df, mcmc_params={"num_chains": 2, "num_warmup": 500,
        ...                                               "num_samples": 500})  # doctest: +SKIP
        >>> posterior["a"].shape  # doctest: +SKIP
        (1000, 3, 2)
        """
        sampler = sampler or self.sampler
        if sampler not in SAMPLERS:
            raise ValueError(f"Unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")
        params = dict(mcmc_params or self.mcmc_params)
        if seed is None:
            # A seed in mcmc_params counts, as in hbmep; otherwise the model's.
            seed = params.pop("seed", self.seed)
        settings = MCMCSettings.from_params(
            params,
            seed=seed,
            progress_bar=progress_bar,
        )
        curve_defaults = CURVE_NUTPIE_DEFAULTS.get(self.function, {}) if sampler == "nutpie" else {}
        settings.sampler_kwargs = {**curve_defaults, **self.sampler_kwargs, **sampler_kwargs}

        data = self.prepare(df, encoder)
        self.encoder = data.encoder
        check_identifiability(data, self.curve, self.hierarchical)
        priors, source, factors = self.resolve_priors(data)
        self.last_priors = priors
        spec = self.model_spec(priors, data)
        pymc_model = build_pymc_model(data, spec)
        self.last_pymc_model = pymc_model

        start = initial_values(data, spec.curve, spec.hierarchical, spec.centered)
        # nutpie samples the same model with the likelihood computed in one compiled pass.
        numba_model = None
        if sampler == "nutpie" and uses_fused_likelihood(spec):
            numba_model = build_pymc_model(data, spec, fused_likelihood=True)
        checked = sampled_variables(spec)
        idata = sample(
            pymc_model, sampler, settings, start=start, cache_key=structure_key(data, spec),
            numba_model=numba_model, check_vars=checked,
        )
        drawn = idata.posterior.attrs.pop("num_samples", settings.num_samples)
        attrs = self._fit_attrs(
            dataclasses.replace(settings, num_samples=drawn), sampler, priors, source, factors, spec.centered
        )
        attrs["max_samples"] = settings.max_samples or settings.num_samples
        idata = finish_idata(
            idata, pymc_model, data, spec, model_coords(data), attrs, log_likelihood=log_likelihood
        )

        results.check_convergence(idata, checked)
        return idata, results.Posterior.from_idata(idata)

    def _fit_attrs(self, settings, sampler, priors, source, factors, centered=()) -> dict:
        return {
            "hbmep_pymc_version": __version__,
            "model": type(self).__name__,
            "hierarchical": int(self.hierarchical),
            "function": self.function,
            "use_mixture": int(self.use_mixture),
            "intensity": self.intensity,
            "features": normalize_features(self.features),
            "response": list(self.response),
            "sampler": sampler,
            "num_chains": settings.num_chains,
            "num_warmup": settings.num_warmup,
            "num_samples": settings.num_samples,
            "thinning": settings.thinning,
            "seed": -1 if settings.seed is None else settings.seed,
            "priors": priors.to_dict(),
            "priors_source": source,
            "intensity_factor": factors[0],
            "response_factor": factors[1],
            "intensity_unit": self.intensity_unit or "",
            "response_unit": self.response_unit or "",
            # Comma-separated, since netCDF attributes cannot contain lists of strings.
            "centered": ",".join(centered),
        }

    # --- results ---------------------------------------------------------------

    def sampled_variables(self) -> list[str]:
        """Return the names of the sampled variables of this model configuration, as the model page names them.

        Returns
        -------
        list of str
            Hyperparameters first, then the per-curve variables, with the
            ``_raw`` names of the non-centred form. These are the rows of
            :meth:`summary` by default. Where a fit samples a parameter
            centred (see ``centered``), its ``_raw`` variable is derived
            from it and is still in the posterior.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
        >>> model.use_mixture = True
        >>> model.sampled_variables()[:8]
        ['a_loc', 'a_scale', 'b_scale', 'g_scale', 'h_scale', 'v_scale', 'c1_scale', 'c2_scale']
        """
        return sampled_variables(self.model_spec(Priors.default()))

    def summary(self, source, var_names: Sequence[str] | None = None, hdi_prob: float = 0.95) -> pd.DataFrame:
        """Summarise a fit: mean, sd, 95 % HDI, MCSE, bulk and tail ESS and r_hat.

        Parameters
        ----------
        source : InferenceData or Posterior
            The output of :meth:`run` (either element).
        var_names : sequence of str, optional
            Variables; the sampled ones by default.
        hdi_prob : float, default 0.95
            HDI probability.

        Returns
        -------
        pandas.DataFrame
            One row per variable and cell, labelled with the original
            participant and muscle names; curves without data are left out.
            For an InferenceData with data groups, a ``notes`` column flags
            r_hat above 1.01, low ESS and the curve flags of
            :meth:`curve_diagnostics`.

        Raises
        ------
        TypeError
            If ``source`` is neither an InferenceData nor a dict of draws.
        ValueError
            If the flattened draws of a plain dict do not split into
            ``mcmc_params["num_chains"]`` chains.

        Examples
        --------
        >>> idata, posterior = model.run(df)  # doctest: +SKIP
        >>> table = model.summary(idata)  # doctest: +SKIP
        >>> table.loc[table["notes"] != "", ["mean", "r_hat", "notes"]]  # doctest: +SKIP
        """
        names = list(var_names) if var_names is not None else self.sampled_variables()
        table = results.summary(
            source, var_names=names, hdi_prob=hdi_prob, num_chains=self.mcmc_params.get("num_chains")
        )
        idata = source if isinstance(source, az.InferenceData) else getattr(source, "idata", None)
        if idata is None or "constant_data" not in idata.groups():
            return table
        min_ess = results.MIN_ESS_PER_CHAIN * idata.posterior.sizes["chain"]
        notes = results.convergence_notes(idata, names, min_ess)
        curve_notes = self._curve_notes(idata)
        column = []
        for label in table.index:
            cell = label[label.find("[") + 1 : -1] if "[" in label else None
            row_notes = notes.get(label, []) + ([curve_notes[cell]] if cell in curve_notes else [])
            column.append("; ".join(note for note in row_notes if note))
        table["notes"] = column
        return table

    def _curve_notes(self, idata: az.InferenceData) -> dict[str, str]:
        """Curve label (``"P1, PKPK_ECR"``) to its diagnostic notes."""
        diagnostics = self.curve_diagnostics(idata)
        keys = [column for column in diagnostics.columns if column not in _DIAGNOSTIC_COLUMNS]
        return {
            ", ".join(str(value) for value in row[keys]): row["notes"]
            for _, row in diagnostics.iterrows()
            if row["notes"]
        }

    def curve_diagnostics(self, idata: az.InferenceData) -> pd.DataFrame:
        """Flag curves whose saturation or threshold rests on the prior, or that fit poorly.

        See :func:`hbmep_pymc.checks.curve_diagnostics`.

        Parameters
        ----------
        idata : arviz.InferenceData
            The output of :meth:`run` or :func:`~hbmep_pymc.archive.load_fit`.

        Returns
        -------
        pandas.DataFrame
            One row per curve with data, with a ``notes`` column.

        Examples
        --------
        >>> idata, posterior = model.run(df)  # doctest: +SKIP
        >>> flags = model.curve_diagnostics(idata)  # doctest: +SKIP
        >>> flags.loc[flags["notes"] != "", ["participant", "muscle", "notes"]]  # doctest: +SKIP
        """
        curve = curves.get_curve(idata.posterior.attrs.get("function", self.function))
        return curve_diagnostics(idata, curve)

    def threshold_table(self, idata: az.InferenceData, hdi_prob: float = 0.95) -> pd.DataFrame:
        """Tabulate the posterior mean, sd and HDI of the threshold per curve group and muscle.

        Parameters
        ----------
        idata : arviz.InferenceData
            The output of :meth:`run` or :func:`~hbmep_pymc.archive.load_fit`.
        hdi_prob : float, default 0.95
            Probability mass of the HDI.

        Returns
        -------
        pandas.DataFrame
            Columns: the feature dims, ``muscle``, ``mean``, ``sd``,
            ``hdi_lower``, ``hdi_upper``, and for fits with data groups
            ``prob_threshold_below_range``, ``prob_threshold_above_range``,
            ``prob_saturation_reached`` and ``notes`` (see :meth:`curve_diagnostics`).

        Examples
        --------
        >>> idata, posterior = model.run(df)  # doctest: +SKIP
        >>> table = model.threshold_table(idata, hdi_prob=0.9)  # doctest: +SKIP
        >>> table[["participant", "muscle", "mean", "hdi_lower", "hdi_upper"]].round(1)  # doctest: +SKIP
        """
        features = [name for name in idata.posterior[site.a].dims if name not in ("chain", "draw", "muscle")]
        table = results.threshold_table(idata, features, hdi_prob=hdi_prob)
        if "constant_data" not in idata.groups():
            return table
        diagnostics = self.curve_diagnostics(idata)
        keys = [*features, "muscle"]
        merged = table.merge(
            diagnostics[
                [*keys, "prob_threshold_below_range", "prob_threshold_above_range",
                 "prob_saturation_reached", "notes"]
            ],
            on=keys,
            how="left",
        )
        return merged

    # --- state -----------------------------------------------------------------

    def state_dict(self) -> dict:
        """Return the model's settings as JSON-compatible data.

        Returns
        -------
        dict
            Model class name, package version, columns, curve function,
            mixture setting, priors (None for the defaults), MCMC and sampler
            settings, seed and units, which :meth:`load_state_dict` restores.

        Raises
        ------
        TypeError
            If a setting, such as an entry of :attr:`sampler_kwargs`, is not
            JSON-compatible.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> state = mep.StandardHB("x", ["participant"], ["y"]).state_dict()
        >>> state["function"]
        'rectified_logistic'
        """
        priors = self.priors
        if isinstance(priors, Priors):
            priors = priors.to_dict()
        state = {
            "model": type(self).__name__,
            "hbmep_pymc_version": __version__,
            "intensity": self.intensity,
            "features": [list(columns) if len(columns) > 1 else columns[0]
                         for columns in normalize_features(self.features)],
            "response": list(self.response),
            "function": self.function,
            "use_mixture": bool(self.use_mixture),
            "priors": priors,
            "mcmc_params": dict(self.mcmc_params),
            "sampler": self.sampler,
            "sampler_kwargs": dict(self.sampler_kwargs),
            "nonpositive": self.nonpositive,
            "seed": self.seed,
            "intensity_unit": self.intensity_unit,
            "response_unit": self.response_unit,
            "centered": self.centered if isinstance(self.centered, str) else list(self.centered or []),
        }
        json.dumps(state)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore settings from :meth:`state_dict` output.

        Keys missing from ``state`` leave the current settings unchanged.

        Parameters
        ----------
        state : dict
            Output of :meth:`state_dict`, for example read back from JSON.

        Raises
        ------
        ValueError
            If ``state`` names an unknown curve function or prior
            distribution.

        Examples
        --------
        >>> import hbmep_pymc as mep
        >>> state = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR"], function="logistic4").state_dict()
        >>> model = mep.StandardHB()
        >>> model.load_state_dict(state)
        >>> model.function, model.response
        ('logistic4', ['PKPK_ECR'])
        """
        for key in (
            "intensity", "features", "response", "function", "use_mixture", "mcmc_params",
            "sampler", "sampler_kwargs", "nonpositive", "seed", "intensity_unit", "response_unit",
            "centered",
        ):
            if key in state:
                setattr(self, key, state[key])
        if state.get("priors") is not None:
            self.priors = Priors.from_dict(state["priors"])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(intensity={self.intensity!r}, features={self.features!r}, "
            f"response={self.response!r}, function={self.function!r}, use_mixture={self.use_mixture})"
        )


class StandardHB(BaseModel):
    """Hierarchical model: curve parameters partially pooled across curve groups and muscles.

    ``a ~ TN(a_loc, a_scale)`` and ``p = p_scale * p_raw`` with
    ``p_raw ~ HN(1)`` for ``p`` in ``b, g, h, v, c1, c2``; the
    hyperparameters are shared by every curve, which is what lets sparse
    curves borrow strength. See :class:`BaseModel` for the parameters.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> model.function = "logistic5"
    >>> model.sampled_variables()[:3]
    ['a_loc', 'a_scale', 'b_scale']
    """

    hierarchical = True
    name = "StandardHB"


class NonHierarchicalBayesianModel(BaseModel):
    """The same priors fitted to every curve on its own, with nothing pooled.

    Every curve group and muscle gets its own copy of the hyperparameters,
    in one vectorised model, so it samples all curves at once. Output layout
    and variable names match :class:`StandardHB`.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> model = mep.NonHierarchicalBayesianModel("TMSIntensity", ["participant"], ["PKPK_ECR"])
    >>> model.hierarchical
    False
    """

    hierarchical = False
    name = "NonHierarchicalBayesianModel"


MODELS = {cls.__name__: cls for cls in (StandardHB, NonHierarchicalBayesianModel)}
