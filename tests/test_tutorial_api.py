"""The original hbmep getting-started flow, call for call, with full sampler settings."""

import os

import pytest

import hbmep_pymc as mep

pytestmark = pytest.mark.slow


def test_original_getting_started_flow(tmp_path):
    import pandas as pd

    df = pd.read_csv(mep.datasets.mock_data_path())

    model = mep.StandardHB()
    model.intensity = "TMSIntensity"
    model.features = ["participant"]
    model.response = ["PKPK_ECR", "PKPK_FCR"]
    model.mcmc_params = {"num_chains": 4, "thinning": 1, "num_warmup": 1000, "num_samples": 1000}
    model._model = model.rectified_logistic

    output_dir = os.path.join(tmp_path, "hbmep-getting-started")
    os.makedirs(output_dir, exist_ok=True)
    model.plot(df, output_path=os.path.join(output_dir, "dataset.pdf"))

    df, encoder = model.load(df)
    assert encoder["participant"].inverse_transform([0, 1, 2]).tolist() == ["P1", "P2", "P3"]

    mcmc, posterior = model.run(df=df)
    summary_df = model.summary(posterior)
    assert summary_df["r_hat"].max() <= 1.01

    prediction_df = model.make_prediction_dataset(df=df, num_points=1000)
    predictive = model.predict(df=prediction_df, posterior=posterior)
    for name, hdi in (("curves.pdf", 0.0), ("obs_hdi.pdf", 0.95)):
        model.plot_curves(
            df=df,
            prediction_df=prediction_df,
            predictive=predictive,
            posterior=posterior,
            encoder=encoder,
            output_path=os.path.join(output_dir, name),
            predictive_hdi_prob=hdi,
        )
        assert os.path.getsize(os.path.join(output_dir, name)) > 0

    assert posterior[mep.site.a].shape == (4000, 3, 2)
    assert (mep.site.b, mep.site.g, mep.site.h) == ("b", "g", "h")

    model_state = model.state_dict()
    mep.save(
        model_state=model_state, df=df, posterior=posterior, encoder=encoder, mcmc=mcmc,
        output_dir=output_dir,
    )
    model_state, df, posterior, encoder, mcmc = mep.load(model_dir=output_dir)
    model = mep.StandardHB()
    model.load_state_dict(model_state)
    assert model.response == ["PKPK_ECR", "PKPK_FCR"]

    model._model = model.logistic5
    assert model.function == "logistic5"
