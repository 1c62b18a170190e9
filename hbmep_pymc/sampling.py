"""Sampler back-ends: nutpie (default), PyMC's own NUTS, numpyro and blackjax.

Each back-end returns an InferenceData with ``posterior`` and
``sample_stats`` groups in the same layout; the model adds the rest.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
from pymc.initial_point import make_initial_point_fn

from hbmep_pymc import direct, nutpie_numba
from hbmep_pymc.initialization import UNJITTERED, jittered_starts

logger = logging.getLogger(__name__)

SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")

TARGET_ACCEPT = 0.97
"""Default NUTS target acceptance rate.

The rectified-logistic posterior has a curved ridge where the curve stays
flat past ``a``: ``a``, ``ln v``, ``ln b`` and ``ln h`` trade off (on the
bundled data, P2 ECR has ``v`` between 0.01 and 11 and correlations up to
0.8 on the log scale). Measured on the bundled data with the data-informed
starts (4 chains of 1000 + 1000, 2 cores): 0.9 gave 0-5 divergences per
fit. 0.95 took about 27 % more leapfrog steps and still gave one
divergence in about a third of the fits (the README's fit among them).
0.97 gave none on the seeds tried, for about 14 % more steps than 0.95.
"""


@dataclass
class MCMCSettings:
    """Numbers of chains, warm-up and kept draws, thinning and seed.

    Attributes
    ----------
    num_chains, num_warmup, num_samples, thinning : int
        Chains, warm-up iterations and kept draws per chain, and thinning.
    seed : int or None
        Random seed.
    progress_bar : bool
        Show the back-end's progress bar.
    sampler_kwargs : dict
        Extra keyword arguments for the back-end.
    max_samples : int or None
        With nutpie, keep drawing past ``num_samples`` until the sampled
        variables converge (see :func:`sample`) or each chain has this many
        draws. None draws exactly ``num_samples``.

    Examples
    --------
    >>> settings = MCMCSettings(num_chains=2, num_samples=500)
    >>> settings.num_chains, settings.num_warmup, settings.num_samples
    (2, 1000, 500)
    """

    num_chains: int = 4
    num_warmup: int = 1000
    num_samples: int = 1000
    thinning: int = 1
    seed: int | None = 0
    progress_bar: bool = True
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)
    max_samples: int | None = None

    @classmethod
    def from_params(cls, params: dict | None, **overrides) -> MCMCSettings:
        """Merge an hbmep-style ``mcmc_params`` dict and keyword overrides.

        Parameters
        ----------
        params : dict, optional
            ``num_chains``, ``num_warmup``, ``num_samples``, ``thinning``,
            ``max_samples`` and the other attributes.
        **overrides
            Values that replace those in ``params``; None leaves them.

        Returns
        -------
        MCMCSettings
            The checked settings.

        Raises
        ------
        ValueError
            For an unknown key, a count that is not a positive integer
            (``num_warmup`` may be zero), or ``max_samples`` below
            ``num_samples``.

        Examples
        --------
        >>> MCMCSettings.from_params({"num_chains": 2, "num_warmup": 500}, seed=3).seed
        3
        >>> MCMCSettings.from_params({"chains": 2})
        Traceback (most recent call last):
        ...
        ValueError: Unknown MCMC setting(s) ['chains']; use num_chains, num_warmup, num_samples, thinning and max_samples.
        """
        merged = dict(params or {})
        merged.update({key: value for key, value in overrides.items() if value is not None})
        unknown = set(merged) - {
            "num_chains", "num_warmup", "num_samples", "thinning", "seed", "progress_bar",
            "sampler_kwargs", "max_samples",
        }
        if unknown:
            raise ValueError(
                f"Unknown MCMC setting(s) {sorted(unknown)}; use num_chains, num_warmup, "
                f"num_samples, thinning and max_samples."
            )
        settings = cls(**merged)
        for name in ("num_chains", "num_samples", "thinning"):
            value = getattr(settings, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MCMC setting {name} must be a positive integer, got {value!r}.")
        if not isinstance(settings.num_warmup, int) or settings.num_warmup < 0:
            raise ValueError(
                f"MCMC setting num_warmup must be a non-negative integer, got {settings.num_warmup!r}."
            )
        limit = settings.max_samples
        if limit is not None and (
            not isinstance(limit, int) or isinstance(limit, bool) or limit < settings.num_samples
        ):
            raise ValueError(
                f"MCMC setting max_samples must be an integer of at least num_samples "
                f"({settings.num_samples}), got {limit!r}. Remove it to draw exactly num_samples."
            )
        return settings


_INSTALL_HINTS = {
    "nutpie": "pip install 'nutpie>=0.16,<0.17'",
    "jax": "pip install jax",
    "numpyro": "pip install jax numpyro",
    # blackjax 1.7 calls PyMC 5.28 with an argument it removed; 1.5 works.
    "blackjax": "pip install jax 'blackjax>=1.5,<1.6'",
}


def _require(module: str, sampler: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"The {sampler!r} sampler needs the {module!r} package, which is not installed. "
            f"Install it with: {_INSTALL_HINTS.get(module, f'pip install {module}')}"
        )


def sample(
    model: pm.Model,
    sampler: str,
    settings: MCMCSettings,
    start: dict[str, np.ndarray] | None = None,
    cache_key: Hashable | None = None,
    numba_model: pm.Model | None = None,
    check_vars: Sequence[str] | None = None,
) -> az.InferenceData:
    """Draw posterior samples of ``model`` with the chosen back-end.

    Parameters
    ----------
    model : pymc.Model
        The model to sample.
    sampler : {"nutpie", "pymc", "numpyro", "blackjax"}
        Back-end.
    settings : MCMCSettings
        Chains, draws, thinning, seed, progress bar and extra keyword
        arguments for the back-end (for nutpie: ``backend``,
        ``gradient_backend`` for compilation, and sampling options such as
        ``low_rank_modified_mass_matrix``).
    start : dict of str to numpy.ndarray, optional
        Starting values on the natural scale, keyed by variable name (see
        :func:`hbmep_pymc.initialization.initial_values`). Each chain starts
        at a jittered copy. The threshold ``a`` is jittered least (3 % for
        pymc and the JAX back-ends, not at all for nutpie), since a start
        far from the rise of the curve costs hundreds of warm-up iterations.
        The other variables get PyMC's jitter with nutpie, and
        :func:`~hbmep_pymc.initialization.jittered_starts` otherwise.
        Without ``start``, PyMC's default start is used.
    cache_key : hashable, optional
        Structure key of the model for nutpie's compile cache: a later call
        with the same key reuses the compiled model with this model's data.
        None compiles afresh.
    numba_model : pymc.Model, optional
        A model with the same free variables and log density that is
        faster to evaluate, such as ``build_pymc_model(...,
        fused_likelihood=True)``. nutpie's numba back-end samples it in
        place of ``model``; the other back-ends ignore it.
    check_vars : sequence of str, optional
        Variables whose convergence decides when to stop drawing when
        ``settings.max_samples`` is above ``settings.num_samples``: after
        ``num_samples`` draws per chain, and again every half of
        ``num_samples`` draws, sampling stops once none of them has r_hat
        above 1.01 or a bulk or tail ESS below 100 per chain (the rules of
        :func:`hbmep_pymc.results.check_convergence`). The chains are cut
        at that check, so a fit with the same seed gives the same draws.
        All free variables of ``model`` by default.

    Returns
    -------
    arviz.InferenceData
        ``posterior`` and ``sample_stats``, thinned, warm-up dropped.

    Raises
    ------
    ValueError
        If the sampler name is unknown, nutpie is asked for no warm-up, or
        ``max_samples`` is set for a back-end other than nutpie.
    ImportError
        If the back-end's package is not installed.

    Notes
    -----
    ``idata.posterior.attrs["num_samples"]`` is the number of draws per
    chain before thinning.

    Examples
    --------
    >>> import hbmep_pymc as mep
    >>> model = mep.StandardHB("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])
    >>> pymc_model = model.build(mep.datasets.load_mock_data())
    >>> idata = sample(pymc_model, "nutpie", MCMCSettings(num_chains=2))  # doctest: +SKIP
    >>> sorted(idata.groups())  # doctest: +SKIP
    ['posterior', 'sample_stats']
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")
    logger.info(
        "Sampling with %s: %d chains, %d warm-up and %d draws each%s",
        sampler, settings.num_chains, settings.num_warmup, settings.num_samples,
        f" (up to {settings.max_samples} until converged)" if extends(settings) else "",
    )
    if sampler == "nutpie":
        if settings.num_warmup < 1:
            # nutpie 0.16 aborts with a Rust panic when asked for no warm-up at all.
            raise ValueError(
                "The nutpie sampler needs at least one warm-up iteration: set num_warmup to 1 or more, "
                "or use sampler='pymc' to draw without warm-up."
            )
        if check_vars is None:
            check_vars = [rv.name for rv in model.free_RVs]
        idata = _sample_nutpie(model, settings, start, cache_key, numba_model, check_vars)
    else:
        if extends(settings):
            # nutpie returns the draws made so far while it runs, and PyMC's samplers do not.
            raise ValueError(
                f"max_samples requires sampler='nutpie'. With {sampler!r}, set num_samples to the number "
                f"of draws you want and remove max_samples."
            )
        idata = _sample_pymc(model, sampler, settings, start)
    drawn = idata.posterior.sizes["draw"]
    if settings.thinning > 1:
        idata = idata.isel(draw=slice(None, None, settings.thinning))
    # Draws per chain before thinning, which differ from num_samples when max_samples let sampling go on.
    idata.posterior.attrs["num_samples"] = drawn
    return idata


def extends(settings: MCMCSettings) -> bool:
    """Return whether ``settings`` request draws past ``num_samples`` until convergence.

    Examples
    --------
    >>> extends(MCMCSettings(num_samples=1000, max_samples=4000))
    True
    >>> extends(MCMCSettings(num_samples=1000))
    False
    """
    return settings.max_samples is not None and settings.max_samples > settings.num_samples


CURVE_NUTPIE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Measured on the bundled data (4 chains of 1000 + 1000, 2-core machine).
    # Diagonal adaptation left r_hat 1.011 on g_raw. Low-rank adaptation gave
    # r_hat 1.004, min bulk ESS 1426 and no divergences. It did worse on the
    # rectified-logistic curve (r_hat 1.016, ESS 293), so only this curve uses it.
    "rectified_linear": {"low_rank_modified_mass_matrix": True},
}
"""nutpie options that sample a curve function better than nutpie's defaults."""


_COMPILE_KEYS = {"backend", "gradient_backend", "initial_points", "jitter_rvs", "freeze_model"}

_DISK_CACHE_OPTIONS = {"backend"}
"""Compile options under which nutpie models are compiled by :mod:`hbmep_pymc.nutpie_numba`."""

NUTPIE_CACHE_SIZE = 8
"""How many compiled nutpie models one process keeps for refits."""

_NUTPIE_CACHE: OrderedDict[Hashable, Any] = OrderedDict()


def clear_compile_cache() -> None:
    """Forget the compiled nutpie models kept for refits in this process.

    Examples
    --------
    >>> clear_compile_cache()
    >>> compile_cache_size()
    0
    """
    _NUTPIE_CACHE.clear()


def compile_cache_size() -> int:
    """Number of compiled nutpie models kept for refits in this process.

    Examples
    --------
    >>> compile_cache_size() >= 0
    True
    """
    return len(_NUTPIE_CACHE)


def _shared_values(model: pm.Model, names) -> dict[str, np.ndarray]:
    """Current values of the shared variables (data and dim lengths) named ``names``."""
    shared = {var.name: var for var in model.data_vars}
    shared.update({dim: length for dim, length in model.dim_lengths.items() if hasattr(length, "get_value")})
    values = {}
    for name in names:
        if name in nutpie_numba.DIRECT_CONSTANTS:
            # Part of the compiled structure, not data: equal structure keys give equal values.
            continue
        if name not in shared:
            raise KeyError(name)
        values[name] = shared[name].get_value()
    return values


def _flat_start(model: pm.Model, start: dict | None, jitter_rvs) -> Callable[[Any], np.ndarray]:
    """Return a seeded function that gives a start point in nutpie's flat unconstrained layout.

    ``jitter_rvs`` get PyMC's jitter, uniform on (-1, 1) on the unconstrained
    scale. The bundled-data measurements in ``docs/performance.md`` used it.
    """
    if direct.plan_of(model) is not None and start is not None and all(rv.name in start for rv in model.free_RVs):
        # Every variable of this model is sampled on the log scale: no PyTensor function needed.
        base = np.concatenate([np.log(np.ravel(start[rv.name]).astype("float64")) for rv in model.free_RVs])
        jittered = np.concatenate(
            [np.full(np.size(start[rv.name]), rv in jitter_rvs, dtype=bool) for rv in model.free_RVs]
        )

        def flat_log(seed=None):
            rng = np.random.default_rng(seed)
            return base + np.where(jittered, rng.uniform(-1.0, 1.0, base.shape), 0.0)

        return flat_log
    point_fn = make_initial_point_fn(model=model, overrides=start, jitter_rvs=jitter_rvs, return_transformed=True)
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    # nutpie starts its chains from several threads, and a compiled PyTensor
    # function must not run in two of them at once.
    lock = threading.Lock()

    def flat(seed=None):
        with lock:
            point = point_fn(seed)
        return np.concatenate([np.ravel(point[name]).astype("float64") for name in names])

    return flat


def _compile_nutpie(model: pm.Model, compile_options: dict, cache_key: Hashable | None):
    """Compile ``model`` for nutpie, or reuse a model of the same structure compiled before.

    A compiled model takes its data (intensities, codes, responses) as
    arguments, so a refit of the same structure on new data only swaps the
    data in. The structure key must cover everything baked into the compiled
    function: curve, pooling, mixture, priors and the parameter shapes.
    """
    import nutpie

    if cache_key is not None:
        cache_key = (cache_key, tuple(sorted((k, repr(v)) for k, v in compile_options.items())))
        cached = _NUTPIE_CACHE.get(cache_key)
        if cached is not None:
            try:
                updates = _shared_values(model, cached.shared_data)
            except KeyError:
                cached = None
            else:
                _NUTPIE_CACHE.move_to_end(cache_key)
                logger.info("Reusing the compiled model; only the data change")
                return cached.with_data(**updates)
    if _DISK_CACHE_OPTIONS.issuperset(compile_options) and compile_options.get("backend", "numba") == "numba":
        # Same model as nutpie compiles, with callbacks that a later process loads from disk.
        compiled = nutpie_numba.compile_model(model, structure_key=cache_key)
    else:
        compiled = nutpie.compile_pymc_model(model, **compile_options)
    if cache_key is not None:
        _NUTPIE_CACHE[cache_key] = compiled
        while len(_NUTPIE_CACHE) > NUTPIE_CACHE_SIZE:
            _NUTPIE_CACHE.popitem(last=False)
    return compiled


def _sample_nutpie(
    model: pm.Model,
    settings: MCMCSettings,
    start: dict | None,
    cache_key: Hashable | None,
    numba_model: pm.Model | None,
    check_vars: Sequence[str],
) -> az.InferenceData:
    _require("nutpie", "nutpie")
    import nutpie

    options = {"target_accept": TARGET_ACCEPT, **settings.sampler_kwargs}
    compile_options = {key: options.pop(key) for key in list(options) if key in _COMPILE_KEYS}
    user_start = "initial_points" in compile_options or "jitter_rvs" in compile_options
    numba = compile_options.get("backend", "numba") == "numba"
    if numba and numba_model is not None:
        model = numba_model
        cache_key = None if cache_key is None else (cache_key, "numba_model")
    # nutpie takes one start for all chains and PyMC jitters it per chain, except the threshold.
    jitter = {rv for rv in model.free_RVs if rv.name not in UNJITTERED}
    if user_start or not numba:
        # Only numba-compiled models are cached, since only they take their start and data afterwards.
        cache_key = None
    if not numba and not user_start:
        compile_options.update(initial_points=start, jitter_rvs=jitter)
    compiled = _compile_nutpie(model, compile_options, cache_key)
    if numba and not user_start:
        # The start point and coordinates come from this model's data, also for a cached compile.
        coords = dict(compiled.coords or {})
        coords.update({name: pd.Index(values) for name, values in model.coords.items() if values is not None})
        compiled = dataclasses.replace(
            compiled, initial_point_func=_flat_start(model, start, jitter), _coords=coords
        )
    extend = extends(settings)
    # nutpie runs a chain to its end before it starts a chain that has no thread yet. Checking
    # convergence while sampling needs all chains to advance together, so each gets a thread.
    cores = settings.num_chains if extend else min(settings.num_chains, os.cpu_count() or 1)
    run = functools.partial(
        nutpie.sample,
        compiled,
        tune=settings.num_warmup,
        chains=settings.num_chains,
        cores=cores,
        seed=settings.seed,
        progress_bar=settings.progress_bar,
        save_warmup=False,
        **options,
    )
    if extend:
        idata = _sample_until_converged(run, settings, check_vars)
    else:
        idata = run(draws=settings.num_samples)
    # nutpie also stores the unconstrained values ("a_log__", ...); the other
    # back-ends keep only the natural scale, and so does the library.
    unconstrained = [
        model.rvs_to_values[rv].name for rv in model.free_RVs if model.rvs_to_transforms.get(rv) is not None
    ]
    posterior = idata.posterior.drop_vars([name for name in unconstrained if name in idata.posterior])
    unused = [dim for dim in posterior.dims if not any(dim in var.dims for var in posterior.data_vars.values())]
    posterior = posterior.drop_dims(unused)
    return az.InferenceData(posterior=posterior, sample_stats=idata.sample_stats)


POLL_SECONDS = (0.25, 60.0)
"""Shortest and longest wait between two looks at a running nutpie sampler."""


def _draws_per_chain(idata: az.InferenceData) -> int:
    """Count the draws that every chain of a running nutpie trace has finished."""
    if "posterior" not in idata.groups() or idata.posterior.sizes.get("draw", 0) == 0:
        return 0
    # nutpie pads the chains that are behind with NaN, and a real draw always has a finite log density.
    done = np.isfinite(idata.sample_stats["logp"].to_numpy()).sum(axis=1)
    return int(done.min())


def _unconverged(idata: az.InferenceData, check_vars: Sequence[str], draws: int) -> list[str]:
    """List the checked variables that have not converged in the first ``draws`` draws."""
    from hbmep_pymc.results import MIN_ESS_PER_CHAIN, convergence_notes

    head = idata.isel(draw=slice(0, draws))
    # r_hat alone takes under half the time of the full check and fails most often, so it goes first.
    problems = convergence_notes(head, check_vars, min_ess=0)
    if not problems:
        problems = convergence_notes(head, check_vars, MIN_ESS_PER_CHAIN * head.posterior.sizes["chain"])
    return list(problems)


def _finished(sampler: Any) -> bool:
    """Return whether a background nutpie sampler has finished all requested draws."""
    try:
        return bool(sampler.is_finished)
    except TimeoutError:
        # In nutpie 0.16, is_finished raises TimeoutError while the sampler is still running.
        return False


def _sample_until_converged(
    run: Callable[..., Any], settings: MCMCSettings, check_vars: Sequence[str]
) -> az.InferenceData:
    """Sample with nutpie in the background and stop at the first check where ``check_vars`` converged.

    The checks fall at fixed draw counts (``num_samples``, then every half
    of it), and the returned chains end at the check that stopped them, so
    the draws do not depend on how fast the machine is.
    """
    step = max(settings.num_samples // 2, 1)
    checkpoint = settings.num_samples
    sampler = run(draws=settings.max_samples, blocking=False)
    wait = POLL_SECONDS[0]
    first_seen: tuple[float, int] | None = None
    try:
        while True:
            finished = _finished(sampler)
            trace = sampler.wait() if finished else sampler.inspect()
            done = _draws_per_chain(trace)
            while checkpoint <= done and checkpoint < settings.max_samples:
                problems = _unconverged(trace, check_vars, checkpoint)
                if not problems:
                    logger.info("Converged after %d draws per chain; stopping there", checkpoint)
                    if not finished:
                        # Free this copy of the trace before nutpie hands over the final one.
                        del trace
                        trace = sampler.abort()
                    return trace.isel(draw=slice(0, checkpoint))
                logger.info(
                    "After %d draws per chain %d value(s) have not converged (%s%s); drawing on",
                    checkpoint, len(problems), ", ".join(problems[:3]), ", ..." if len(problems) > 3 else "",
                )
                checkpoint += step
            if finished:
                return trace
            del trace
            if checkpoint >= settings.max_samples:
                logger.info("Drawing on to max_samples (%d per chain)", settings.max_samples)
                return sampler.wait()
            # Inspect again at about the time the slowest chain should reach the next check.
            now = time.monotonic()
            if done and first_seen is None:
                first_seen = (now, done)
            if first_seen is not None and done > first_seen[1]:
                rate = (done - first_seen[1]) / (now - first_seen[0])
                wait = (checkpoint - done) / rate
            else:
                # Look often until the speed is known, because a late look lets the chains run past a passing check.
                wait = min(wait * 1.5, 2.0)
            time.sleep(min(max(wait, POLL_SECONDS[0]), POLL_SECONDS[1]))
    except BaseException:
        with contextlib.suppress(Exception):
            sampler.cancel()
        raise


JAX_CACHE_ENV = "HBMEP_PYMC_JAX_CACHE"
"""Environment variable naming the folder of JAX's compilation cache (empty turns it off)."""


def enable_jax_compile_cache() -> str | None:
    """Keep JAX's compiled programs on disk, so a second process skips compilation.

    The folder is ``$HBMEP_PYMC_JAX_CACHE`` or, by default,
    ``~/.cache/hbmep-pymc/jax``. A cache folder the user set in JAX's own
    configuration is left as it is.

    Returns
    -------
    str or None
        The cache folder in use, None when turned off.

    Examples
    --------
    >>> enable_jax_compile_cache()  # doctest: +SKIP
    '/home/me/.cache/hbmep-pymc/jax'
    """
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return current
    folder = os.environ.get(JAX_CACHE_ENV, os.path.join(os.path.expanduser("~"), ".cache", "hbmep-pymc", "jax"))
    if not folder:
        return None
    os.makedirs(folder, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", folder)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return folder


def jax_chain_method(chains: int) -> str:
    """Choose how the JAX back-ends run several chains on this machine.

    The method is ``"parallel"`` (one chain per device) when JAX has at
    least as many devices as chains. Otherwise it is ``"vectorized"``, which
    runs the chains together in one compiled program instead of one after
    another.

    Parameters
    ----------
    chains : int
        Number of chains.

    Returns
    -------
    str
        ``"parallel"`` or ``"vectorized"``.

    Examples
    --------
    >>> jax_chain_method(1)  # doctest: +SKIP
    'parallel'
    """
    import jax

    return "parallel" if jax.local_device_count() >= chains else "vectorized"


def _sample_pymc(
    model: pm.Model, sampler: str, settings: MCMCSettings, start: dict | None
) -> az.InferenceData:
    kwargs = {"target_accept": TARGET_ACCEPT, **settings.sampler_kwargs}
    if start is not None and "initvals" not in kwargs:
        kwargs["initvals"] = jittered_starts(start, settings.num_chains, settings.seed)
        if sampler == "pymc":
            # PyMC's default init jitters again; the starts above are jittered already.
            kwargs.setdefault("init", "adapt_diag")
        else:
            kwargs.setdefault("nuts_sampler_kwargs", {}).setdefault("jitter", False)
    if sampler in ("numpyro", "blackjax"):
        _require("jax", sampler)
        _require(sampler, sampler)
        enable_jax_compile_cache()
        # NumPyro runs chains one after another when there are fewer devices than
        # chains, so "vectorized" runs them together in one compiled program instead.
        kwargs.setdefault("nuts_sampler_kwargs", {}).setdefault("chain_method", jax_chain_method(settings.num_chains))
    if sampler == "pymc":
        kwargs.setdefault("cores", min(settings.num_chains, os.cpu_count() or 1))
        kwargs.setdefault("compute_convergence_checks", False)
    with model:
        idata = pm.sample(
            draws=settings.num_samples,
            tune=settings.num_warmup,
            chains=settings.num_chains,
            random_seed=settings.seed,
            progressbar=settings.progress_bar,
            nuts_sampler=sampler,
            idata_kwargs={"log_likelihood": False},
            **kwargs,
        )
    return az.InferenceData(posterior=idata.posterior, sample_stats=idata.sample_stats)
