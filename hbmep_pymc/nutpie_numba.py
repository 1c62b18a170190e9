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

import functools
import hashlib
import importlib.metadata
import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import pymc as pm

logger = logging.getLogger(__name__)


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
        return jitted, scalar_op_cache_key(op, implementation=f"hbmep_pymc digamma {source_digest()}")

    _DIGAMMA_REGISTERED = True


@functools.cache
def _as_pointer_intrinsic():
    from numba.core import cgutils, types
    from numba.extending import intrinsic

    @intrinsic
    def as_pointer(typingctx, address):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], cgutils.voidptr_t)

        return types.voidptr(address), codegen

    return as_pointer


def _unpack_lines(names: list[str], shared_data: dict[str, np.ndarray], record: np.dtype) -> list[str]:
    """Source lines that turn the data pointers in ``user_data`` into arrays.

    nutpie's ``user_data`` is a record of 64-bit words: each variable's
    data pointer, its size and its shape. The lines read it as an array of
    words at offsets computed here, which numba compiles much faster than
    access to the fields of a record.
    """
    shared = record["shared"]
    base = record.fields["shared"][1]
    data_base = base + shared.fields["data"][1]
    shape_base = base + shared.fields["shape"][1]
    lines = [f"    words = numba.carray(user_data_ptr, ({record.itemsize // 8},), np.uint64)"]
    for index, name in enumerate(names):
        pointer = data_base + shared["data"].fields[name][1]
        shape_start = shape_base + shared["shape"].fields[name][1]
        if pointer % 8 or shape_start % 8 or shared["data"].fields[name][0].itemsize != 8:
            raise ValueError(
                f"Invalid layout of nutpie's user data (not 64-bit words): {record}. "
                "Install a nutpie version within the range that pyproject.toml pins."
            )
        ndim = shared_data[name].ndim
        shape = "".join(f"int(words[{shape_start // 8 + axis}]), " for axis in range(ndim))
        lines.append(
            f"    data_{index} = numba.carray(as_pointer(words[{pointer // 8}]), ({shape}), DTYPE_{index})"
        )
    return lines


def _callback_source(
    header: str, size_check: str, body: list[str], failure: int, names, shared_data, record, guard: bool = True
) -> str:
    """Source of one callback: data pointers to arrays, size check, then ``body``.

    With ``guard``, ``body`` runs inside a try block that turns an exception
    into the return code ``failure``. PyTensor's graphs raise on invalid
    parameters, so their callbacks need it. The block costs about 1.5 s of
    compilation per callback.
    """
    inner = [f"    {line}" for line in body]
    if guard:
        inner = ["    try:", *[f"    {line}" for line in inner], "    except Exception:", f"        return {failure}"]
    return "\n".join(
        [
            header,
            *_unpack_lines(names, shared_data, record),
            f"    if {size_check}:",
            f"        return {_WRONG_SIZE}",
            *inner,
            "    return 0",
            "",
        ]
    )


_STORE_LOGP = [
    "logp[()] = value",
    # Plain loops: numba compiles them in a fraction of the time of array assignments.
    "finite = True",
    "for i in range(x.shape[0]):",
    "    gradient[i] = grad[i]",
    "    finite = finite and np.isfinite(grad[i])",
    "if not finite:",
    f"    return {_GRADIENT_NOT_FINITE}",
    "if not np.isfinite(value):",
    f"    return {_LOGP_NOT_FINITE}",
]
"""Source lines of a log-density callback after the call: store the value and gradient, check them."""


def _logp_source(names: list[str], shared_data: dict[str, np.ndarray], record: np.dtype) -> str:
    arguments = "".join(f", data_{index}" for index in range(len(names)))
    body = [
        "x = numba.carray(x_ptr, (N_DIM,))",
        "gradient = numba.carray(gradient_ptr, (N_DIM,))",
        "logp = numba.carray(logp_ptr, ())",
        f"value, grad = INNER(x{arguments})",
        *_STORE_LOGP,
    ]
    header = "def hbmep_logp(dim, x_ptr, gradient_ptr, logp_ptr, user_data_ptr):"
    return _callback_source(header, "dim != N_DIM", body, _RAISED, names, shared_data, record)


def _expand_source(names: list[str], shared_data: dict[str, np.ndarray], record: np.dtype) -> str:
    arguments = "".join(f", data_{index}" for index in range(len(names)))
    body = [
        "x = numba.carray(x_ptr, (N_DIM,))",
        "out = numba.carray(out_ptr, (N_EXPANDED,))",
        f"(values,) = INNER(x{arguments})",
        "for i in range(N_EXPANDED):",
        "    out[i] = values[i]",
    ]
    header = "def hbmep_expand(dim, n_expanded, x_ptr, out_ptr, user_data_ptr):"
    size_check = "dim != N_DIM or n_expanded != N_EXPANDED"
    return _callback_source(header, size_check, body, _EXPAND_FAILED, names, shared_data, record)


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


_LOGP_NAME = "hbmep_logp"
_EXPAND_NAME = "hbmep_expand"


def _signatures():
    from numba import types

    logp = types.int64(
        types.uint64, types.CPointer(types.double), types.CPointer(types.double),
        types.CPointer(types.double), types.voidptr,
    )
    expand = types.int64(
        types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double), types.voidptr,
    )
    return {_LOGP_NAME: (_logp_source, logp), _EXPAND_NAME: (_expand_source, expand)}


_SOURCE_DIGEST: str | None = None


def source_digest() -> str:
    """Return a hash of this package's source files.

    It is part of every cache key of the library's compiled code, so that
    changed code never meets machine code compiled from an older version.

    Returns
    -------
    str
        Hexadecimal SHA-256 of the paths and contents of the ``.py`` files.

    Examples
    --------
    >>> len(source_digest())
    64
    """
    global _SOURCE_DIGEST
    if _SOURCE_DIGEST is None:
        folder = Path(__file__).parent
        hasher = hashlib.sha256()
        for path in sorted(folder.rglob("*.py")):
            hasher.update(path.relative_to(folder).as_posix().encode())
            hasher.update(path.read_bytes())
        _SOURCE_DIGEST = hasher.hexdigest()
    return _SOURCE_DIGEST


def _record_path(model: pm.Model, structure_key) -> Path | None:
    """Path of the record that lets a later process skip PyTensor's compilation, None when caching is off."""
    from pytensor import config
    from pytensor.link.numba.cache import NUMBA_CACHE_PATH

    if structure_key is None or not config.numba__cache:
        return None
    free = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    data = [(variable.name, variable.type.dtype, variable.type.ndim) for variable in model.data_vars]
    text = repr((_versions(), source_digest(), structure_key, free, data))
    return Path(NUMBA_CACHE_PATH) / f"hbmep_pymc_model_{hashlib.sha256(text.encode()).hexdigest()}.json"


def _shared_from_model(model: pm.Model, names) -> tuple[dict, dict]:
    """Current values and variables of the model's data, by name."""
    shared_data: dict[str, np.ndarray] = {}
    shared_vars = {}
    for name in names:
        variable = model[name]
        value = np.array(variable.get_value(), order="C", copy=True)
        value.flags.writeable = False
        shared_data[name] = value
        shared_vars[name] = variable
    return shared_data, shared_vars


def _default_start(model: pm.Model):
    """Return a function drawing PyMC's default start in nutpie's flat layout, compiled on first call."""
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    compiled = []

    def default_start(seed=None):
        from pymc.initial_point import make_initial_point_fn

        if not compiled:
            compiled.append(make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True))
        point = compiled[0](seed)
        return np.concatenate([np.ravel(point[name]).astype("float64") for name in names])

    return default_start


def _assemble(model, n_dim, n_expanded, shape_info, callbacks, shared_data, user_data, functions):
    from nutpie.compile_pymc import CompiledPyMCModel, _prepare_dims_and_coords

    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=callbacks[_LOGP_NAME],
        compiled_expand_func=callbacks[_EXPAND_NAME],
        initial_point_func=_default_start(model),
        shared_data=shared_data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=functions[0],
        expand_func=functions[1],
    )


def _load_recorded(model: pm.Model, path: Path):
    """Build the compiled model from a record and the callbacks on disk, or return None on any mismatch."""
    import numba
    from nutpie.compile_pymc import make_user_data

    try:
        record = json.loads(path.read_text())
        names = record["data"]
        shared_data, shared_vars = _shared_from_model(model, names)
        if [[shared_data[name].dtype.str, shared_data[name].ndim] for name in names] != record["layout"]:
            return None
        free = [model.rvs_to_values[rv].name for rv in model.free_RVs]
        if record["shape_info"][0][: len(free)] != free:
            return None
        user_data = make_user_data(shared_vars, shared_data)
        sizes = {"N_DIM": record["n_dim"], "N_EXPANDED": record["n_expanded"]}
        callbacks = {}
        for function_name, (make_source, signature) in _signatures().items():
            entry = record["callbacks"][function_name]
            source = make_source(entry["names"], shared_data, user_data.dtype)
            # With the callback on disk numba never looks at the inner function; without it typing
            # fails on the placeholder, and the caller compiles everything.
            callbacks[function_name] = _callback(
                source, function_name, None, entry["names"], shared_data, signature, sizes, entry["key"]
            )
            if callbacks[function_name].cache_hits != 1:
                return None
    except (OSError, ValueError, KeyError, TypeError, numba.core.errors.NumbaError):
        return None
    names_, slices, shapes = record["shape_info"]
    shape_info = (names_, [slice(*bounds) for bounds in slices], [tuple(shape) for shape in shapes])
    logger.info("Loaded the compiled model from %s", path)
    return _assemble(
        model, record["n_dim"], record["n_expanded"], shape_info, callbacks, shared_data, user_data, (None, None)
    )


def compile_model(model: pm.Model, structure_key=None) -> object:
    """Compile ``model`` for nutpie's numba back-end, loading the callbacks from disk when cached.

    Parameters
    ----------
    model : pymc.Model
        The model, with its data as ``pm.Data`` (shared variables), so that
        a compiled model can take new data with ``with_data``.
    structure_key : hashable, optional
        A key of everything the compiled model bakes in apart from the data
        (see :func:`hbmep_pymc.building.structure_key`). With it, a record
        on disk lets a later process with the same key skip PyTensor's
        compilation of the model (graph rewrites take about 3 s on the
        bundled data). The record's name also covers the source of this
        package and the versions of the compiling libraries.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        What ``nutpie.compile_pymc_model(model)`` returns. Its start
        function draws PyMC's default start; callers replace it. Loaded
        from a record, it has no PyTensor functions (``logp_func`` and
        ``expand_func`` are None), which nutpie needs only for
        normalizing-flow adaptation.

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
    from nutpie.compile_pymc import _make_functions, make_user_data
    from pymc.initial_point import make_initial_point_fn

    from hbmep_pymc import direct

    plan = direct.plan_of(model)
    if plan is not None:
        return _compile_direct(model, plan)
    register_digamma()
    record_path = _record_path(model, structure_key)
    if record_path is not None and record_path.exists():
        compiled = _load_recorded(model, record_path)
        if compiled is not None:
            return compiled

    n_dim, n_expanded, logp_function, expand_function, _, shape_info = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=make_initial_point_fn(model=model, jitter_rvs=set(), return_transformed=True),
        var_names=None,
    )
    names = []
    for variable in [*logp_function.get_shared(), *expand_function.get_shared()]:
        if variable.name in names:
            if model[variable.name] is not variable:
                raise ValueError(f"Two data variables of the model share the name {variable.name!r}.")
            continue
        names.append(variable.name)
    shared_data, shared_vars = _shared_from_model(model, names)
    user_data = make_user_data(shared_vars, shared_data)
    sizes = {"N_DIM": n_dim, "N_EXPANDED": n_expanded}

    callbacks = {}
    entries = {}
    for function, (function_name, (make_source, signature)) in zip(
        (logp_function, expand_function), _signatures().items()
    ):
        function_names = [variable.name for variable in function.get_shared()]
        source = make_source(function_names, shared_data, user_data.dtype)
        inner_key = _inner_cache_key(function)
        key = None
        if inner_key is not None:
            layout = [(name, shared_data[name].dtype.str, shared_data[name].ndim) for name in function_names]
            text = repr(
                (_versions(), source_digest(), inner_key, source, layout, user_data.dtype.descr, n_dim, n_expanded)
            )
            key = "hbmep_pymc_" + hashlib.sha256(text.encode()).hexdigest()
        else:
            logger.info("PyTensor cannot cache part of %s; it is compiled in this process only", function_name)
        callbacks[function_name] = _callback(
            source, function_name, function.vm.jit_fn, function_names, shared_data, signature, sizes, key
        )
        entries[function_name] = {"names": function_names, "key": key}

    if record_path is not None and all(entry["key"] is not None for entry in entries.values()):
        record = {
            "data": names,
            "layout": [[shared_data[name].dtype.str, shared_data[name].ndim] for name in names],
            "n_dim": int(n_dim),
            "n_expanded": int(n_expanded),
            "shape_info": [
                list(shape_info[0]),
                [[int(part.start), int(part.stop)] for part in shape_info[1]],
                [[int(size) for size in shape] for shape in shape_info[2]],
            ],
            "callbacks": entries,
        }
        try:
            temporary = record_path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(record))
            os.replace(temporary, record_path)
        except OSError as error:
            logger.info("Could not write %s (%s); the next process compiles the model again", record_path, error)
    return _assemble(
        model, n_dim, n_expanded, shape_info, callbacks, shared_data, user_data, (logp_function, expand_function)
    )


DIRECT_CONSTANTS = ("hbmep_pymc_layout", "hbmep_pymc_prior", "hbmep_pymc_expansion", "hbmep_pymc_sizes")
"""Arrays of a :class:`~hbmep_pymc.direct.DirectPlan` that travel with the data, not in the compiled code."""


def _direct_source(function_name: str, shared_data: dict[str, np.ndarray], record: np.dtype) -> str:
    """Source of a callback around :mod:`hbmep_pymc.direct`, the same for every plan.

    The plan's arrays and sizes come through ``user_data`` like the data,
    so one compiled callback serves every number of curves and every prior.
    """
    from hbmep_pymc import direct

    names = [*direct.DATA_NAMES, *DIRECT_CONSTANTS]
    data = ", ".join(f"data_{index}" for index in range(len(direct.DATA_NAMES)))
    layout, prior, expansion, sizes = (f"data_{len(direct.DATA_NAMES) + index}" for index in range(4))
    if function_name == _LOGP_NAME:
        header = "def hbmep_logp(dim, x_ptr, gradient_ptr, logp_ptr, user_data_ptr):"
        size_check = f"int(dim) != {sizes}[0]"
        body = [
            f"x = numba.carray(x_ptr, ({sizes}[0],))",
            f"gradient = numba.carray(gradient_ptr, ({sizes}[0],))",
            "logp = numba.carray(logp_ptr, ())",
            # Should the call ever raise, numba returns 0 from the callback; NaN makes nutpie reject the point.
            "logp[()] = np.nan",
            f"value, grad = INNER(x, {layout}, {prior}, {data})",
            *_STORE_LOGP,
        ]
        failure = _RAISED
    else:
        header = "def hbmep_expand(dim, n_expanded, x_ptr, out_ptr, user_data_ptr):"
        size_check = f"int(dim) != {sizes}[0] or int(n_expanded) != {sizes}[1]"
        body = [
            f"x = numba.carray(x_ptr, ({sizes}[0],))",
            f"out = numba.carray(out_ptr, ({sizes}[1],))",
            f"(values,) = INNER(x, {expansion}, {sizes}[1])",
            "for i in range(out.shape[0]):",
            "    out[i] = values[i]",
        ]
        failure = _EXPAND_FAILED
    # The direct functions use NumPy's error model and no bounds checks: only a failed allocation
    # of a few hundred bytes could raise. So no try block.
    return _callback_source(header, size_check, body, failure, names, shared_data, record, guard=False)


def _compile_direct(model: pm.Model, plan) -> object:
    """Build nutpie's model from the functions of :mod:`hbmep_pymc.direct`, without PyTensor."""
    from nutpie.compile_pymc import make_user_data

    from hbmep_pymc import direct

    shared_data, shared_vars = _shared_from_model(model, direct.DATA_NAMES)
    constants = (plan.layout, plan.prior, plan.expansion, np.array([plan.n_dim, plan.n_expanded], dtype=np.int64))
    for name, value in zip(DIRECT_CONSTANTS, constants):
        value = np.array(value, order="C", copy=True)
        value.flags.writeable = False
        shared_data[name] = value
        # nutpie's record needs only each variable's number of dimensions.
        shared_vars[name] = value
    names = list(shared_data)
    user_data = make_user_data(shared_vars, shared_data)
    callbacks = {}
    for function_name, (_, signature) in _signatures().items():
        source = _direct_source(function_name, shared_data, user_data.dtype)
        inner = direct.log_density if function_name == _LOGP_NAME else direct.expand
        text = repr((_versions(), source_digest(), source, user_data.dtype.descr))
        key = "hbmep_pymc_direct_" + hashlib.sha256(text.encode()).hexdigest()
        callbacks[function_name] = _callback(
            source, function_name, inner, names, shared_data, signature, {}, key
        )
    logger.info("Compiled the default model's own log density for nutpie")
    return _assemble(
        model, plan.n_dim, plan.n_expanded, plan.shape_info, callbacks, shared_data, user_data, (None, None)
    )
