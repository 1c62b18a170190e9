"""nutpie's numba back-end, with entry points that a later process loads from disk.

nutpie drives a model through two C callbacks: the log density with its
gradient, and the expansion of an unconstrained draw into every stored
variable. ``nutpie.compile_pymc_model`` builds them as closures over
freshly made functions, which numba cannot cache, so each new process
compiles them again. On the bundled data that was about 10 of the 16 s
from ``import hbmep_pymc`` to the first draw.

Here the two callbacks are generated as source that refers only to module
globals. They are registered in PyTensor's numba cache under a key built
from PyTensor's cache keys of the two inner functions and from the layout
of the model's data. A later process compiling a model of the same
structure loads the machine code instead of compiling it. The rest (the
PyTensor graph, the data layout that nutpie's ``with_data`` updates, the
dims) is nutpie's own, so the result is a ``CompiledPyMCModel`` like the
one nutpie makes.

When a part of the graph cannot be cached by PyTensor, the callbacks are
compiled as before and nothing is written to disk. In PyTensor 2.38 that
was the digamma function of the gamma likelihood's gradient: its numba
version calls scipy's compiled code through a pointer, which numba will not
cache. :func:`register_digamma` gives PyTensor a numba digamma of its own.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import math

import numpy as np
import pymc as pm

logger = logging.getLogger(__name__)

WRAPPER_VERSION = "1"
"""Part of every cache key; raise it whenever the generated source changes."""

# Return codes of the callbacks, as nutpie reads them: a positive code is a
# failed evaluation that the sampler treats as a divergence, a negative one
# stops the run.
_WRONG_SIZE = -1
_EXPAND_FAILED = -2
_RAISED = 1
_GRADIENT_NOT_FINITE = 3
_LOGP_NOT_FINITE = 4


def digamma(x: float) -> float:
    """The digamma function, for numba; matches ``scipy.special.psi`` on real input.

    Arguments below 10 are raised by the recurrence
    ``psi(x) = psi(x + 1) - 1 / x``, and the asymptotic series is summed
    to the term in ``x**-14``, whose truncation error is below 1e-16 at
    ``x = 10``. Negative arguments use the reflection formula
    ``psi(x) = psi(1 - x) - pi / tan(pi x)``, which loses relative accuracy
    near the poles; the models never evaluate it there.

    Parameters
    ----------
    x : float
        Argument.

    Returns
    -------
    float
        ``psi(x)``; -inf at +0, +inf at -0 and +inf, NaN at negative
        integers, -inf and NaN.

    Examples
    --------
    >>> round(digamma(1.0), 12)  # minus the Euler-Mascheroni constant
    -0.577215664902
    """
    if math.isnan(x) or x == -math.inf:
        return math.nan
    if x == math.inf:
        return math.inf
    shift = 0.0
    if x <= 0.0:
        if x == math.floor(x):
            return math.nan if x != 0.0 else -math.copysign(math.inf, x)
        shift = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:
        shift -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (1 / 12 - f * (1 / 120 - f * (1 / 252 - f * (1 / 240 - f * (1 / 132 - f * (691 / 32760 - f / 12))))))
    return shift + math.log(x) - 0.5 / x - series


_DIGAMMA_REGISTERED = False


def register_digamma() -> None:
    """Make PyTensor's numba back-end use :func:`digamma`, which numba can cache.

    PyTensor 2.38 compiles ``pytensor.tensor.digamma`` (the gradient of
    ``gammaln``) into a call of scipy's compiled code through a function
    pointer. Numba refuses to cache such a function, and with it every
    function that contains it: the whole log density of a gamma-likelihood
    model. After this call, PyTensor compiles the function with a numba
    version written in Python, which is cached like any other. Calling it
    again does nothing.

    Examples
    --------
    >>> register_digamma()
    """
    global _DIGAMMA_REGISTERED
    if _DIGAMMA_REGISTERED:
        return
    from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
    from pytensor.link.numba.dispatch.scalar import numba_funcify_ScalarOp, scalar_op_cache_key
    from pytensor.scalar.math import Psi

    jitted = numba_njit(digamma)

    @register_funcify_and_cache_key(Psi)
    def _numba_funcify_psi(op, node=None, **kwargs):
        if any(variable.type.dtype.startswith("complex") for variable in node.inputs):
            # Complex arguments keep PyTensor's implementation.
            return numba_funcify_ScalarOp(op, node=node, **kwargs)
        return jitted, scalar_op_cache_key(op, implementation=f"hbmep_pymc digamma {WRAPPER_VERSION}")

    _DIGAMMA_REGISTERED = True


def _as_pointer_intrinsic():
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def as_pointer(typingctx, address):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return types.voidptr(address), codegen

    return as_pointer


def _unpack_lines(names: list[str], shared_data: dict[str, np.ndarray]) -> list[str]:
    """Source lines that turn the data pointers in ``user_data`` into arrays."""
    lines = [
        "    record = numba.carray(user_data_ptr, (), RECORD)",
        "    shared = record['shared']",
    ]
    for index, name in enumerate(names):
        ndim = shared_data[name].ndim
        shape = "".join(f"int(shared['shape'][{name!r}][()][{axis}]), " for axis in range(ndim))
        lines.append(
            f"    data_{index} = numba.carray(as_pointer(shared['data'][{name!r}][()]), "
            f"({shape}), DTYPE_{index})"
        )
    return lines


def _logp_source(names: list[str], shared_data: dict[str, np.ndarray]) -> str:
    arguments = "".join(f", data_{index}" for index in range(len(names)))
    return "\n".join(
        [
            "def hbmep_logp(dim, x_ptr, gradient_ptr, logp_ptr, user_data_ptr):",
            "    if dim != N_DIM:",
            f"        return {_WRONG_SIZE}",
            *_unpack_lines(names, shared_data),
            "    try:",
            "        x = numba.carray(x_ptr, (N_DIM,))",
            "        gradient = numba.carray(gradient_ptr, (N_DIM,))",
            "        logp = numba.carray(logp_ptr, ())",
            f"        value, grad = INNER(x{arguments})",
            "        logp[()] = value",
            "        gradient[...] = grad",
            "        if not np.all(np.isfinite(gradient)):",
            f"            return {_GRADIENT_NOT_FINITE}",
            "        if not np.isfinite(value):",
            f"            return {_LOGP_NOT_FINITE}",
            "    except Exception:",
            f"        return {_RAISED}",
            "    return 0",
            "",
        ]
    )


def _expand_source(names: list[str], shared_data: dict[str, np.ndarray]) -> str:
    arguments = "".join(f", data_{index}" for index in range(len(names)))
    return "\n".join(
        [
            "def hbmep_expand(dim, n_expanded, x_ptr, out_ptr, user_data_ptr):",
            "    if dim != N_DIM or n_expanded != N_EXPANDED:",
            f"        return {_WRONG_SIZE}",
            *_unpack_lines(names, shared_data),
            "    try:",
            "        x = numba.carray(x_ptr, (N_DIM,))",
            "        out = numba.carray(out_ptr, (N_EXPANDED,))",
            f"        (values,) = INNER(x{arguments})",
            "        out[...] = values",
            "    except Exception:",
            f"        return {_EXPAND_FAILED}",
            "    return 0",
            "",
        ]
    )


def _inner_cache_key(function) -> str | None:
    """PyTensor's cache key of a compiled function's numba entry, None when it has none."""
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS

    jitted = function.vm.jit_fn
    return CACHED_SRC_FUNCTIONS.get(getattr(jitted, "py_func", None))


def _versions() -> str:
    packages = ("numba", "llvmlite", "pytensor", "nutpie", "numpy")
    return ";".join(f"{name}={importlib.metadata.version(name)}" for name in packages)


def _callback(source, function_name, inner, names, shared_data, signature, sizes, key):
    import numba
    from pytensor.link.numba.cache import compile_numba_function_src

    global_env = {
        # numba names the module of a cached function when it loads it again.
        "__name__": __name__,
        "numba": numba,
        "np": np,
        "as_pointer": _as_pointer_intrinsic(),
        "INNER": inner,
        **sizes,
        **{f"DTYPE_{index}": shared_data[name].dtype for index, name in enumerate(names)},
    }
    python_function = compile_numba_function_src(source, function_name, global_env, cache_key=key)
    return numba.cfunc(signature, cache=key is not None)(python_function)


def compile_model(model: pm.Model) -> object:
    """Compile ``model`` for nutpie's numba back-end, loading the callbacks from disk when cached.

    Parameters
    ----------
    model : pymc.Model
        The model, with its data as ``pm.Data`` (shared variables), so that
        a compiled model can take new data with ``with_data``.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        What ``nutpie.compile_pymc_model(model)`` returns. Its start
        function draws PyMC's default start; callers replace it.

    Examples
    --------
    >>> import pymc as pm
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu")
    ...     _ = pm.Normal("y", mu, 1, observed=pm.Data("y_data", np.array([0.1, -0.3, 0.4])))
    >>> compiled = compile_model(model)  # doctest: +SKIP
    >>> compiled.n_dim  # doctest: +SKIP
    1
    """
    from numba import types
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _make_functions,
        _prepare_dims_and_coords,
        make_user_data,
    )
    from pymc.initial_point import make_initial_point_fn

    register_digamma()
    point_fn = make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True)
    names_in_order = [model.rvs_to_values[rv].name for rv in model.free_RVs]

    def default_start(seed=None):
        point = point_fn(seed)
        return np.concatenate([np.ravel(point[name]).astype("float64") for name in names_in_order])

    n_dim, n_expanded, logp_function, expand_function, _, shape_info = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=point_fn,
        var_names=None,
    )
    shared_data: dict[str, np.ndarray] = {}
    shared_vars = {}
    for variable in [*logp_function.get_shared(), *expand_function.get_shared()]:
        if variable.name in shared_vars and shared_vars[variable.name] is not variable:
            raise ValueError(f"Two data variables of the model share the name {variable.name!r}.")
        value = np.array(variable.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[variable.name] = value
        shared_vars[variable.name] = variable
    user_data = make_user_data(shared_vars, shared_data)
    sizes = {"N_DIM": n_dim, "N_EXPANDED": n_expanded, "RECORD": user_data.dtype}

    callbacks = []
    for function, make_source, function_name, signature in (
        (
            logp_function,
            _logp_source,
            "hbmep_logp",
            types.int64(
                types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                types.CPointer(types.double), types.voidptr,
            ),
        ),
        (
            expand_function,
            _expand_source,
            "hbmep_expand",
            types.int64(
                types.uint64, types.uint64, types.CPointer(types.double),
                types.CPointer(types.double), types.voidptr,
            ),
        ),
    ):
        names = [variable.name for variable in function.get_shared()]
        source = make_source(names, shared_data)
        inner_key = _inner_cache_key(function)
        key = None
        if inner_key is not None:
            layout = [(name, shared_data[name].dtype.str, shared_data[name].ndim) for name in names]
            text = repr((WRAPPER_VERSION, _versions(), inner_key, source, layout, user_data.dtype.descr, n_dim, n_expanded))
            key = "hbmep_pymc_" + hashlib.sha256(text.encode()).hexdigest()
        else:
            logger.info("PyTensor cannot cache part of %s; it is compiled in this process only", function_name)
        callbacks.append(
            _callback(source, function_name, function.vm.jit_fn, names, shared_data, signature, sizes, key)
        )

    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=callbacks[0],
        compiled_expand_func=callbacks[1],
        initial_point_func=default_start,
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_function,
        expand_func=expand_function,
    )
