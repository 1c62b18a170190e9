"""Reading fit settings from TOML files.

A configuration file has a ``[variables]`` table (``intensity``,
``features``, ``response``), an ``[mcmc]`` table (``num_chains``,
``num_warmup``, ``num_samples``, ``thinning``, optionally ``max_samples``)
and optionally ``[model]``
(``function``, ``mixture``, ``sampler``, ``seed``, ``intensity_unit``,
``response_unit``) and ``[paths]`` (``csv_path``, ``build_dir``).

Examples
--------
A file for the rat data::

    [paths]
    csv_path = "rat_epidural.csv"

    [variables]
    intensity = "pulse_amplitude"
    features = [["participant", "compound_position"]]
    response = ["LBiceps", "LFCR", "LECR", "LTriceps", "LADM", "LDeltoid", "LBicepsFemoris", "RBiceps"]

    [mcmc]
    num_chains = 4
    num_warmup = 1000
    num_samples = 1000
    thinning = 1
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """Raised for a configuration file that cannot be used.

    The message lists every problem found in the file.

    Examples
    --------
    >>> read_config("no_such_config.toml")
    Traceback (most recent call last):
    ...
    hbmep_pymc.config.ConfigError: Configuration file 'no_such_config.toml' not found.
    """


_TABLES = {
    "paths": {"csv_path", "build_dir"},
    "variables": {"intensity", "features", "response"},
    "mcmc": {"num_chains", "num_warmup", "num_samples", "thinning", "max_samples"},
    "model": {"function", "mixture", "sampler", "seed", "intensity_unit", "response_unit", "hierarchical"},
}


@dataclass
class FitConfig:
    """Settings of one fit, from a TOML file, command-line flags or both.

    Attributes
    ----------
    csv_path : str or None
        Data file, or None for the bundled ``mock_data.csv``.
    build_dir : str or None
        Output folder.
    intensity : str or None
        Intensity column.
    features : list
        Feature columns. A nested list combines columns into one feature.
    response : list of str
        Response columns, one per muscle.
    mcmc : dict
        ``num_chains``, ``num_warmup``, ``num_samples``, ``thinning`` and
        ``max_samples``.
    model : dict
        Keys of the ``[model]`` table: ``function``, ``mixture``,
        ``sampler``, ``seed``, ``intensity_unit``, ``response_unit`` and
        ``hierarchical``.

    Examples
    --------
    >>> config = FitConfig(intensity="TMSIntensity", features=["participant"], response=["PKPK_ECR"])
    >>> config.mcmc
    {}
    """

    csv_path: str | None = None
    build_dir: str | None = None
    intensity: str | None = None
    features: list = field(default_factory=list)
    response: list[str] = field(default_factory=list)
    mcmc: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)


def read_config(path: str | Path) -> FitConfig:
    """Read a TOML configuration file.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    FitConfig
        Its settings; relative ``csv_path`` values are resolved against the
        file's folder.

    Raises
    ------
    ConfigError
        If the file is missing, is not valid TOML, or has unknown tables or
        keys, or values of the wrong type.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder, "fit.toml")
    ...     _ = path.write_text('[variables]\\nintensity = "TMSIntensity"\\n[mcmc]\\nnum_chains = 2\\n')
    ...     config = read_config(path)
    >>> config.intensity, config.mcmc
    ('TMSIntensity', {'num_chains': 2})
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Configuration file {str(path)!r} not found.")
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"Configuration file {str(path)!r} is not valid TOML: {error}.") from None

    problems = []
    for table, values in content.items():
        if table not in _TABLES:
            problems.append(f"unknown table [{table}] (expected {', '.join(sorted(_TABLES))})")
            continue
        if not isinstance(values, dict):
            problems.append(f"{table!r} must be a table like [{table}]")
            continue
        for key in values:
            if key not in _TABLES[table]:
                problems.append(f"unknown key {key!r} in [{table}] (expected {', '.join(sorted(_TABLES[table]))})")
    variables = content.get("variables", {})
    if "intensity" in variables and not isinstance(variables["intensity"], str):
        problems.append("[variables] intensity must be a column name")
    if "response" in variables and not (
        isinstance(variables["response"], list) and all(isinstance(r, str) for r in variables["response"])
    ):
        problems.append("[variables] response must be a list of column names")
    if "features" in variables and not isinstance(variables["features"], list):
        problems.append("[variables] features must be a list of column names or lists of names")
    for key, value in content.get("mcmc", {}).items():
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"[mcmc] {key} must be an integer, got {value!r}")
    if problems:
        raise ConfigError(f"Invalid configuration file {str(path)!r}: " + "; ".join(problems) + ".")

    paths = content.get("paths", {})
    csv_path = paths.get("csv_path")
    if csv_path is not None and not Path(csv_path).is_absolute():
        csv_path = str(path.parent / csv_path)
    return FitConfig(
        csv_path=csv_path,
        build_dir=paths.get("build_dir"),
        intensity=variables.get("intensity"),
        features=list(variables.get("features", [])),
        response=list(variables.get("response", [])),
        mcmc=dict(content.get("mcmc", {})),
        model=dict(content.get("model", {})),
    )
