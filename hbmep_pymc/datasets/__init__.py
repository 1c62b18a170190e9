"""Data sets shipped with hbmep-pymc, so examples run without a download.

``mock_data.csv`` comes from the hbmep project under the MIT licence; its
copyright notice is in ``LICENSE-mock_data.txt`` beside it.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

MOCK_DATA_COLUMNS = {
    "intensity": "TMSIntensity",
    "features": ["participant"],
    "response": ["PKPK_ECR", "PKPK_FCR"],
}
"""Column roles of :func:`load_mock_data`."""


def mock_data_path() -> str:
    """Return the file path of the bundled ``mock_data.csv``.

    Returns
    -------
    str
        Path inside the installed package, for tools that read files.

    Examples
    --------
    >>> import pandas as pd
    >>> pd.read_csv(mock_data_path()).columns.tolist()
    ['TMSIntensity', 'participant', 'PKPK_ECR', 'PKPK_FCR']
    """
    return str(resources.files(__name__).joinpath("mock_data.csv"))


def load_mock_data() -> pd.DataFrame:
    """Load the bundled TMS data set.

    Three participants (``P1``–``P3``), 245 pulses, intensity
    ``TMSIntensity`` in %MSO, peak-to-peak MEP amplitude in mV of two
    muscles, ``PKPK_ECR`` and ``PKPK_FCR``.

    Returns
    -------
    pandas.DataFrame
        245 rows, columns ``TMSIntensity, participant, PKPK_ECR, PKPK_FCR``.

    Examples
    --------
    >>> df = load_mock_data()
    >>> df.shape
    (245, 4)
    """
    return pd.read_csv(mock_data_path())
