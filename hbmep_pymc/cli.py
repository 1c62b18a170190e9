"""Command line: ``hbmep-pymc fit`` fits recruitment curves and writes the results.

Examples
--------
Fit the bundled TMS data with default settings::

    hbmep-pymc fit

Fit a file, combining two columns into one curve-group feature::

    hbmep-pymc fit rat.csv --intensity pulse_amplitude \\
        --features participant+compound_position --response LBiceps LFCR
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

import pandas as pd

from hbmep_pymc import datasets
from hbmep_pymc._version import __version__
from hbmep_pymc.config import ConfigError, FitConfig, read_config
from hbmep_pymc.data import DataError
from hbmep_pymc.model import MODELS

logger = logging.getLogger("hbmep_pymc")

DEFAULT_OUTPUT = "hbmep-pymc-output"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hbmep-pymc",
        description="Hierarchical Bayesian estimation of MEP recruitment curves.",
    )
    parser.add_argument("--version", action="version", version=f"hbmep-pymc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser(
        "fit",
        help="fit recruitment curves to a CSV or Excel file (the bundled TMS data when none is given)",
        description="Fit recruitment curves and write the InferenceData (NetCDF), summary and "
        "thresholds (CSV) to the output folder.",
    )
    fit.add_argument("csv", nargs="?", help="data file (.csv, .tsv, .xlsx); default: bundled mock_data.csv")
    fit.add_argument("--config", help="TOML file with [variables], [mcmc] and optional [model], [paths] tables")
    fit.add_argument("--output", help=f"output folder (default: {DEFAULT_OUTPUT})")
    fit.add_argument("--intensity", help="intensity column")
    fit.add_argument(
        "--features",
        nargs="+",
        help="feature columns, one curve-group dim each; join columns with '+' to combine them "
        "into one dim, for example participant+condition",
    )
    fit.add_argument("--response", nargs="+", help="response columns, one per muscle")
    fit.add_argument("--function", help="curve function: rectified_logistic, logistic4, logistic5, rectified_linear")
    fit.add_argument("--mixture", action="store_true", default=None, help="add the outlier mixture component")
    fit.add_argument("--non-hierarchical", action="store_true", help="fit every curve on its own")
    fit.add_argument("--sampler", help="nutpie (default), pymc, numpyro or blackjax")
    fit.add_argument("--num-chains", type=int, help="number of chains (default 4)")
    fit.add_argument("--num-warmup", type=int, help="warm-up iterations per chain (default 1000)")
    fit.add_argument("--num-samples", type=int, help="kept draws per chain (default 1000)")
    fit.add_argument(
        "--max-samples", type=int,
        help="nutpie: keep drawing past --num-samples until r_hat and ESS pass, up to this many per chain",
    )
    fit.add_argument("--thinning", type=int, help="keep every n-th draw (default 1)")
    fit.add_argument("--seed", type=int, help="random seed (default 0)")
    fit.add_argument("--intensity-unit", help="unit of the intensity, for labels (for example %%MSO, uA)")
    fit.add_argument("--response-unit", help="unit of the responses, for labels (for example mV)")
    fit.add_argument(
        "--column-names",
        help="comma-separated column names for a file without a header row",
    )
    fit.add_argument("--no-progress", action="store_true", help="hide the sampler's progress bar")
    fit.add_argument("--quiet", action="store_true", help="log warnings and errors only")

    compare = commands.add_parser(
        "compare",
        help="compare saved fits by PSIS-LOO or WAIC",
        description="Load archives written by model.save or hbmep_pymc.save and print ArviZ's "
        "comparison table, best model first.",
    )
    compare.add_argument(
        "fits", nargs="+", metavar="NAME=PATH", help="model name and archive path, at least two"
    )
    compare.add_argument(
        "--ic", choices=("loo", "waic"), default="loo", help="information criterion (default loo)"
    )
    compare.add_argument("--by-muscle", action="store_true", help="print one table per muscle")
    compare.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    return parser


def read_table(path: str, column_names: str | None = None) -> pd.DataFrame:
    """Read a CSV, TSV or Excel file; ``column_names`` names a file without a header.

    Parameters
    ----------
    path : str
        Data file. Files ending in ``.xlsx``, ``.xls`` or ``.xlsm`` are read
        as Excel, ``.tsv`` as tab-separated and every other suffix as
        comma-separated.
    column_names : str, optional
        Comma-separated column names for a file without a header row.

    Returns
    -------
    pandas.DataFrame
        The table, one row per line of the file.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    DataError
        If the file cannot be parsed.

    Examples
    --------
    >>> from hbmep_pymc.datasets import mock_data_path
    >>> read_table(mock_data_path()).shape
    (245, 4)
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"Data file {path!r} not found.")
    names = [name.strip() for name in column_names.split(",")] if column_names else None
    header = None if names else "infer"
    suffix = file.suffix.lower()
    try:
        if suffix in (".xlsx", ".xls", ".xlsm"):
            return pd.read_excel(file, header=None if names else 0, names=names)
        separator = "\t" if suffix == ".tsv" else ","
        return pd.read_csv(file, sep=separator, header=header, names=names, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"Cannot read {path!r}: {error}") from None


def _features_from_flags(values: list[str]) -> list:
    features = []
    for value in values:
        columns = [part for part in value.split("+") if part]
        features.append(columns if len(columns) > 1 else columns[0])
    return features


def resolve_settings(args: argparse.Namespace) -> FitConfig:
    """Merge the configuration file, command-line flags and bundled-data defaults.

    Flags override the file. Without a data file the columns, and the units
    ``%MSO`` and ``mV``, default to those of the bundled ``mock_data.csv``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of the ``fit`` command.

    Returns
    -------
    FitConfig
        The settings of the fit.

    Raises
    ------
    ConfigError
        If the ``--config`` file is unusable, or if the intensity or
        response columns are named neither by flags nor in the file.

    Examples
    --------
    >>> from hbmep_pymc.cli import _parser
    >>> config = resolve_settings(_parser().parse_args(["fit", "--num-chains", "2"]))
    >>> config.intensity, config.response, config.mcmc
    ('TMSIntensity', ['PKPK_ECR', 'PKPK_FCR'], {'num_chains': 2})
    """
    config = read_config(args.config) if args.config else FitConfig()
    if args.csv:
        config.csv_path = args.csv
    if args.intensity:
        config.intensity = args.intensity
    if args.features:
        config.features = _features_from_flags(args.features)
    if args.response:
        config.response = list(args.response)
    for key in ("num_chains", "num_warmup", "num_samples", "thinning", "max_samples"):
        value = getattr(args, key)
        if value is not None:
            config.mcmc[key] = value
    for key in ("function", "sampler", "seed", "intensity_unit", "response_unit", "mixture"):
        value = getattr(args, key)
        if value is not None:
            config.model[key] = value
    if args.non_hierarchical:
        config.model["hierarchical"] = False

    if config.csv_path is None:
        bundled = datasets.MOCK_DATA_COLUMNS
        config.intensity = config.intensity or bundled["intensity"]
        config.features = config.features or list(bundled["features"])
        config.response = config.response or list(bundled["response"])
        config.model.setdefault("intensity_unit", "%MSO")
        config.model.setdefault("response_unit", "mV")
    missing = [
        flag for flag, value in (("--intensity", config.intensity), ("--response", config.response)) if not value
    ]
    if missing:
        raise ConfigError(
            f"Missing {' and '.join(missing)}: name the columns with these flags or in the "
            f"[variables] table of a --config file."
        )
    return config


def run_fit(args: argparse.Namespace) -> int:
    """Fit with the given flags, print the summary and thresholds, and write the outputs.

    The output folder receives ``inference_data.nc``, ``fit_archive.nc``
    (readable by :func:`~hbmep_pymc.archive.load_fit`), ``summary.csv`` and
    ``thresholds.csv``.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of the ``fit`` command.

    Returns
    -------
    int
        The exit status, 0.

    Raises
    ------
    ConfigError
        If the settings are incomplete or the ``--config`` file is unusable.
    FileNotFoundError
        If the data file does not exist.
    DataError
        If the data file cannot be parsed or its data cannot be fitted.
    ValueError
        If an MCMC setting or the sampler name is invalid.

    Examples
    --------
    >>> from hbmep_pymc.cli import _parser
    >>> args = _parser().parse_args(["fit", "--num-chains", "2", "--output", "fits/mock"])
    >>> run_fit(args)  # doctest: +SKIP
    0
    """
    config = resolve_settings(args)
    if config.csv_path is None:
        df = datasets.load_mock_data()
        source = "bundled mock_data.csv"
    else:
        df = read_table(config.csv_path, args.column_names)
        source = config.csv_path
    logger.info("Read %d rows from %s", len(df), source)

    model_class = MODELS["StandardHB" if config.model.get("hierarchical", True) else "NonHierarchicalBayesianModel"]
    model = model_class(
        config.intensity,
        config.features,
        config.response,
        function=config.model.get("function", "rectified_logistic"),
        use_mixture=bool(config.model.get("mixture", False)),
        sampler=config.model.get("sampler", "nutpie"),
        seed=config.model.get("seed", 0),
        intensity_unit=config.model.get("intensity_unit"),
        response_unit=config.model.get("response_unit"),
    )
    model.mcmc_params = {
        "num_chains": 4, "num_warmup": 1000, "num_samples": 1000, "thinning": 1, **config.mcmc,
    }

    idata, _ = model.run(df, progress_bar=not args.no_progress)
    summary = model.summary(idata)
    thresholds = model.threshold_table(idata)

    output = Path(args.output or config.build_dir or DEFAULT_OUTPUT)
    output.mkdir(parents=True, exist_ok=True)
    idata_path = output / "inference_data.nc"
    idata.to_netcdf(str(idata_path))
    # The archive keeps the model settings and the data beside the draws, so
    # `hbmep-pymc compare` and `mep.load_fit` can use this fit later.
    archive_path = model.save(output / "fit_archive.nc", idata, df, overwrite=True)
    summary.to_csv(output / "summary.csv")
    thresholds.to_csv(output / "thresholds.csv", index=False)

    with pd.option_context("display.max_rows", None, "display.width", 160):
        print("Posterior summary (sampled variables):")
        print(summary.round(3).to_string())
        unit = f" ({model.intensity_unit})" if model.intensity_unit else ""
        print(f"\nThresholds{unit}: posterior mean and 95% HDI of a")
        print(thresholds.round(3).to_string(index=False))
    print(
        f"\nWrote {idata_path}, {archive_path}, {output / 'summary.csv'} and "
        f"{output / 'thresholds.csv'}"
    )
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Load the archives named on the command line, compare them and print the table.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of the ``compare`` command.

    Returns
    -------
    int
        The exit status: 0, or 2 when an archive cannot be read (the error
        is printed to standard error).

    Raises
    ------
    ValueError
        If an argument is not of the form ``NAME=PATH`` or a name is given
        twice.
    FileNotFoundError
        If an archive does not exist.
    ComparisonError
        If the fits cannot be compared, for example because they were made
        on different data.

    Examples
    --------
    >>> from hbmep_pymc.cli import _parser
    >>> args = _parser().parse_args(["compare", "rl=fits/rl.nc", "l4=fits/l4.nc"])
    >>> run_compare(args)  # doctest: +SKIP
    0
    """
    from hbmep_pymc.archive import ArchiveError, load_fit
    from hbmep_pymc.comparison import compare

    fits = {}
    for item in args.fits:
        name, separator, path = item.partition("=")
        if not separator or not name or not path:
            raise ValueError(f"Expected NAME=PATH, got {item!r}; for example rectified_logistic=fits/rl.nc.")
        if name in fits:
            raise ValueError(f"The model name {name!r} is given twice; give every fit its own name.")
        try:
            _, fits[name] = load_fit(path)
        except ArchiveError as error:
            print(f"hbmep-pymc: error: {error}", file=sys.stderr)
            return 2

    table = compare(fits, ic=args.ic, by_muscle=args.by_muscle)
    with pd.option_context("display.max_rows", None, "display.width", 160):
        print(table.round(3).to_string())
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    A ``DataError``, ``ConfigError``, ``FileNotFoundError``, ``ValueError``,
    ``ImportError`` or ``TypeError`` is printed to standard error as one
    line and gives exit status 2 instead of a traceback.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name, ``sys.argv[1:]`` when omitted.

    Returns
    -------
    int
        0 on success, 2 on an error in the input.

    Raises
    ------
    SystemExit
        From argparse, for ``--help``, ``--version`` and unknown flags.

    Notes
    -----
    It configures the root logger and replaces ``warnings.showwarning`` for
    the rest of the process, so a notebook that calls it prints later
    warnings in the command-line form.

    Examples
    --------
    >>> from hbmep_pymc.cli import main
    >>> main(["fit", "--num-chains", "2", "--num-samples", "500", "--output", "fits/mock"])  # doctest: +SKIP
    0
    """
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if getattr(args, "quiet", False) else logging.INFO,
        format="%(levelname)s: %(message)s",
    )
    warnings.showwarning = _show_warning
    try:
        if args.command == "fit":
            return run_fit(args)
        if args.command == "compare":
            return run_compare(args)
    except (DataError, ConfigError, FileNotFoundError, ValueError, ImportError, TypeError) as error:
        text = " ".join(str(error).split())
        print(f"hbmep-pymc: error: {text}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
