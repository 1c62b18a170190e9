"""Hierarchical Bayesian estimation of motor-evoked potential recruitment curves on PyMC.

Examples
--------
>>> import hbmep_pymc as mep
>>> model = mep.StandardHB()
>>> model.intensity = "TMSIntensity"
>>> model.features = ["participant"]
>>> model.response = ["PKPK_ECR", "PKPK_FCR"]
>>> df, encoder = model.load(mep.datasets.load_mock_data())
>>> idata, posterior = model.run(df)  # doctest: +SKIP
>>> model.summary(idata)  # doctest: +SKIP
"""

import warnings

# PyTensor warns at compile time that it found no BLAS for its C back-end.
# nutpie compiles with numba, which does not use that C back-end.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS", category=UserWarning)

from hbmep_pymc import datasets, functional, site
from hbmep_pymc._version import __version__
from hbmep_pymc.archive import (
    ArchiveError,
    ArchiveVersionError,
    CorruptArchiveError,
    NotAnArchiveError,
    load,
    load_data_frame,
    load_fit,
    save,
    save_fit,
)
from hbmep_pymc.comparison import ComparisonError, ParetoKWarning, compare
from hbmep_pymc.curves import CURVES, Curve, get_curve
from hbmep_pymc.data import DataError, NonPositiveResponseWarning
from hbmep_pymc.encoding import Encoder, LabelEncoder
from hbmep_pymc.frame_io import FrameEncodingError
from hbmep_pymc.model import (
    BaseModel,
    NonHierarchicalBayesianModel,
    StandardHB,
    UnitScalingWarning,
)
from hbmep_pymc.priors import Prior, Priors
from hbmep_pymc.results import ConvergenceWarning, Posterior

__all__ = [
    "ArchiveError",
    "ArchiveVersionError",
    "ComparisonError",
    "CorruptArchiveError",
    "FrameEncodingError",
    "NotAnArchiveError",
    "ParetoKWarning",
    "compare",
    "load",
    "load_data_frame",
    "load_fit",
    "save",
    "save_fit",
    "CURVES",
    "BaseModel",
    "ConvergenceWarning",
    "Curve",
    "DataError",
    "Encoder",
    "LabelEncoder",
    "NonHierarchicalBayesianModel",
    "NonPositiveResponseWarning",
    "Posterior",
    "Prior",
    "Priors",
    "StandardHB",
    "UnitScalingWarning",
    "__version__",
    "datasets",
    "functional",
    "get_curve",
    "site",
]
