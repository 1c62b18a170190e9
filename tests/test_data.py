import numpy as np
import pandas as pd
import pytest

import hbmep_pymc as mep
from hbmep_pymc.data import DataError, normalize_features, prepare_data

COLUMNS = ("TMSIntensity", ["participant"], ["PKPK_ECR", "PKPK_FCR"])


def test_load_encodes_participants(mock_model, mock_df):
    encoded, encoder = mock_model.load(mock_df)
    assert encoder["participant"].inverse_transform([0, 1, 2]).tolist() == ["P1", "P2", "P3"]
    assert sorted(encoded["participant"].unique().tolist()) == [0, 1, 2]
    assert len(encoded) == len(mock_df)


def test_load_keeps_input_unchanged(mock_model, mock_df):
    before = mock_df.copy()
    mock_model.load(mock_df)
    pd.testing.assert_frame_equal(mock_df, before)


def test_encoded_frame_round_trips(mock_model, mock_df):
    encoded, encoder = mock_model.load(mock_df)
    data = mock_model.prepare(encoded)
    assert data.encoder == encoder
    np.testing.assert_array_equal(data.codes[:, 0], encoded["participant"].to_numpy())


def test_missing_response_masked_per_cell(mock_df):
    df = mock_df.copy()
    df.loc[3, "PKPK_ECR"] = np.nan
    data = prepare_data(df, *COLUMNS)
    assert data.response.shape == (245, 2)
    assert not data.observed[3, 0]
    assert data.observed[3, 1]
    assert data.observed.sum() == 245 * 2 - 1


def test_nonpositive_response_masked_with_warning(mock_df):
    df = mock_df.copy()
    df.loc[[0, 1], "PKPK_FCR"] = 0.0
    with pytest.warns(mep.NonPositiveResponseWarning, match="2 non-positive response"):
        data = prepare_data(df, *COLUMNS)
    assert data.observed.sum() == 245 * 2 - 2
    assert data.masked_nonpositive == {"PKPK_FCR": 2}


def test_nonpositive_response_rejected_on_request(mock_df):
    df = mock_df.copy()
    df.loc[5, "PKPK_ECR"] = -0.1
    with pytest.raises(DataError, match=r"'PKPK_ECR' has non-positive values in row\(s\) 5"):
        prepare_data(df, *COLUMNS, nonpositive="raise")


def test_missing_column_named_with_hint(mock_df):
    with pytest.raises(DataError, match=r"Column 'PKPK_EC' is missing.*Did you mean 'PKPK_ECR'"):
        prepare_data(mock_df, "TMSIntensity", ["participant"], ["PKPK_EC"])


def test_all_problems_reported_together(mock_df):
    with pytest.raises(DataError) as error:
        prepare_data(mock_df, "intensity", ["subject"], ["PKPK_ECR"])
    assert "'intensity' is missing" in str(error.value)
    assert "'subject' is missing" in str(error.value)


def test_non_numeric_intensity_rejected(mock_df):
    df = mock_df.copy()
    df["TMSIntensity"] = df["TMSIntensity"].astype(object)
    df.loc[7, "TMSIntensity"] = "high"
    with pytest.raises(DataError, match=r"non-numeric values \('high'\) in row\(s\) 7"):
        prepare_data(df, *COLUMNS)


def test_nan_intensity_rejected(mock_df):
    df = mock_df.copy()
    df.loc[[2, 9], "TMSIntensity"] = np.nan
    with pytest.raises(DataError, match=r"missing values \(NaN\) in row\(s\) 2, 9"):
        prepare_data(df, *COLUMNS)


def test_negative_intensity_rejected_with_fix(mock_df):
    df = mock_df.copy()
    df["TMSIntensity"] = -df["TMSIntensity"]
    with pytest.raises(DataError, match=r"must be non-negative.*\.abs\(\)"):
        prepare_data(df, *COLUMNS)


def test_empty_frame_rejected(mock_df):
    with pytest.raises(DataError, match="empty"):
        prepare_data(mock_df.iloc[:0], *COLUMNS)


def test_all_missing_response_rejected(mock_df):
    df = mock_df.copy()
    df["PKPK_FCR"] = np.nan
    with pytest.raises(DataError, match="'PKPK_FCR' has no observed values"):
        prepare_data(df, *COLUMNS)


def test_nan_feature_label_rejected(mock_df):
    df = mock_df.copy()
    df.loc[4, "participant"] = None
    with pytest.raises(DataError, match=r"missing labels \(NaN\) in row\(s\) 4"):
        prepare_data(df, *COLUMNS)


def test_duplicate_columns_rejected(mock_df):
    df = pd.concat([mock_df, mock_df[["PKPK_ECR"]]], axis=1)
    with pytest.raises(DataError, match="Duplicate column name"):
        prepare_data(df, *COLUMNS)


def test_non_frame_input_rejected():
    with pytest.raises(TypeError, match="pandas DataFrame"):
        prepare_data({"x": [1]}, *COLUMNS)


def test_combined_features_make_one_dim():
    df = pd.DataFrame(
        {
            "x": [10.0, 20.0, 30.0, 40.0],
            "participant": ["A", "A", "B", "B"],
            "condition": ["pre", "post", "pre", "pre"],
            "m": [0.1, 0.2, 0.3, 0.4],
        }
    )
    data = prepare_data(df, "x", [["participant", "condition"]], ["m"])
    assert data.features == ["participant__condition"]
    assert data.encoder["participant__condition"].classes_.tolist() == [("A", "post"), ("A", "pre"), ("B", "pre")]
    assert data.coords()["participant__condition"] == ["A, post", "A, pre", "B, pre"]
    assert data.df["participant"].tolist() == ["A", "A", "B", "B"]


def test_separate_features_mark_unobserved_cells():
    df = pd.DataFrame(
        {
            "x": [10.0, 20.0, 30.0],
            "participant": ["A", "A", "B"],
            "condition": ["pre", "post", "pre"],
            "m": [0.1, 0.2, 0.3],
        }
    )
    data = prepare_data(df, "x", ["participant", "condition"], ["m"])
    cells = data.observed_cells()
    assert cells.shape == (2, 2, 1)
    # B has no "post" pulses: condition levels are sorted as post, pre.
    assert not cells[1, 0, 0]
    assert cells.sum() == 3


def test_normalize_features_rejects_numbers():
    with pytest.raises(TypeError, match="column name"):
        normalize_features([1])


def test_integer_and_categorical_labels_survive():
    df = pd.DataFrame(
        {
            "x": [10.0, 20.0, 30.0, 40.0],
            "participant": pd.Categorical(["late", "early", "late", "early"], categories=["late", "early"]),
            "session": [3, 1, 3, 1],
            "m": [0.1, 0.2, 0.3, 0.4],
        }
    )
    data = prepare_data(df, "x", ["participant", "session"], ["m"])
    assert data.encoder["participant"].classes_.tolist() == ["late", "early"]
    assert data.encoder["session"].classes_.tolist() == [1, 3]
    assert data.coords()["session"] == [1, 3]
