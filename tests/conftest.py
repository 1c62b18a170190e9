import logging
import os

import pandas as pd
import pytest

import hbmep_pymc as mep

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")


@pytest.fixture
def mock_df() -> pd.DataFrame:
    return mep.datasets.load_mock_data()


@pytest.fixture
def mock_model() -> mep.StandardHB:
    model = mep.StandardHB()
    model.intensity = "TMSIntensity"
    model.features = ["participant"]
    model.response = ["PKPK_ECR", "PKPK_FCR"]
    return model


def shared_csv(name: str) -> str:
    path = os.path.abspath(os.path.join(SHARED_DATA, name))
    if not os.path.exists(path):
        pytest.skip(f"{name} is not available beside the repository")
    return path


@pytest.fixture(autouse=True)
def _quiet_logging():
    logging.getLogger("pymc").setLevel(logging.ERROR)
    yield
