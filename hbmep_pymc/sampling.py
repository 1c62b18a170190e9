"""Sampler back-ends: nutpie (default), PyMC's own NUTS, numpyro and blackjax.

Each back-end returns an InferenceData with ``posterior`` and
``sample_stats`` groups in the same layout; the model adds the rest.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import pymc as pm

logger = logging.getLogger(__name__)

SAMPLERS = ("nutpie", "pymc", "numpyro", "blackjax")

TARGET_ACCEPT = 0.9
"""Default NUTS target acceptance rate.

The rectified-logistic posterior has a curved ridge where ``v`` is near zero
(the curve stays flat past ``a``, so ``a`` and ``ln v`` trade off). On the
bundled data (4 chains of 1000 + 1000, 2-core machine) nutpie gave 27
divergences with the usual 0.8. With 0.9 it gave 0-1, at about 20 % more
gradient evaluations.
"""


@dataclass
class MCMCSettings:
    """Numbers of chains, warm-up and kept draws, thinning and seed."""

    num_chains: int = 4
    num_warmup: int = 1000
    num_samples: int = 1000
    thinning: int = 1
    seed: int | None = 0
    progress_bar: bool = True
    sampler_kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_params(cls, params: dict | None, **overrides) -> MCMCSettings:
        """Merge an hbmep-style ``mcmc_params`` dict and keyword overrides."""
        merged = dict(params or {})
        merged.update({key: value for key, value in overrides.items() if value is not None})
        unknown = set(merged) - {
            "num_chains", "num_warmup", "num_samples", "thinning", "seed", "progress_bar",
            "sampler_kwargs",
        }
        if unknown:
            raise ValueError(
                f"Unknown MCMC setting(s) {sorted(unknown)}; use num_chains, num_warmup, "
                f"num_samples and thinning."
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


def sample(model: pm.Model, sampler: str, settings: MCMCSettings) -> az.InferenceData:
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

    Returns
    -------
    arviz.InferenceData
        ``posterior`` and ``sample_stats``, thinned, warm-up dropped.

    Raises
    ------
    ValueError
        If the sampler name is unknown.
    ImportError
        If the back-end's package is not installed.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")
    logger.info(
        "Sampling with %s: %d chains, %d warm-up and %d draws each",
        sampler, settings.num_chains, settings.num_warmup, settings.num_samples,
    )
    if sampler == "nutpie":
        idata = _sample_nutpie(model, settings)
    else:
        idata = _sample_pymc(model, sampler, settings)
    if settings.thinning > 1:
        idata = idata.isel(draw=slice(None, None, settings.thinning))
    return idata


CURVE_NUTPIE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Measured on the bundled data (4 chains of 1000 + 1000, 2-core machine).
    # Diagonal adaptation left r_hat 1.011 on g_raw. Low-rank adaptation gave
    # r_hat 1.004, min bulk ESS 1426 and no divergences. It did worse on the
    # rectified-logistic curve (r_hat 1.016, ESS 293), so only this curve uses it.
    "rectified_linear": {"low_rank_modified_mass_matrix": True},
}
"""nutpie options that sample a curve function better than nutpie's defaults."""


_COMPILE_KEYS = {"backend", "gradient_backend", "initial_points", "jitter_rvs", "freeze_model"}


def _sample_nutpie(model: pm.Model, settings: MCMCSettings) -> az.InferenceData:
    _require("nutpie", "nutpie")
    import nutpie

    options = {"target_accept": TARGET_ACCEPT, **settings.sampler_kwargs}
    compile_options = {key: options.pop(key) for key in list(options) if key in _COMPILE_KEYS}
    compiled = nutpie.compile_pymc_model(model, **compile_options)
    idata = nutpie.sample(
        compiled,
        draws=settings.num_samples,
        tune=settings.num_warmup,
        chains=settings.num_chains,
        cores=min(settings.num_chains, os.cpu_count() or 1),
        seed=settings.seed,
        progress_bar=settings.progress_bar,
        save_warmup=False,
        **options,
    )
    return az.InferenceData(posterior=idata.posterior, sample_stats=idata.sample_stats)


def _sample_pymc(model: pm.Model, sampler: str, settings: MCMCSettings) -> az.InferenceData:
    if sampler in ("numpyro", "blackjax"):
        _require("jax", sampler)
        _require(sampler, sampler)
    kwargs = {"target_accept": TARGET_ACCEPT, **settings.sampler_kwargs}
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
