"""The synthetic cohort behaves like the study's: clinical distributions, ultrasound accuracy,
and tumours of responders shrinking more under therapy."""

import numpy as np
import pandas as pd
import SimpleITK as sitk
from scipy import stats

from deltarad.config import load_study
from deltarad.synthetic import generate_cohort
from deltarad.synthetic.clinical import CLINICAL_COLUMNS, draw_clinical
from deltarad.synthetic.response import draw_response


def _clinical(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame([draw_clinical(rng) for _ in range(n)])


def test_outcome_and_ultrasound_match_the_study():
    df = _clinical(6000)
    se = 0.02  # ~3 binomial SEs at n = 6000 for the rates checked below
    assert abs(df["outcome"].mean() - 101 / 187) < se  # study: 101 of 187 ALN-pCR
    pcr, non = df[df["outcome"] == 1], df[df["outcome"] == 0]
    assert abs(pcr["ultrasound"].mean() - 0.48) < se + 0.01  # study's sensitivity
    assert abs(1 - non["ultrasound"].mean() - 0.77) < se + 0.01  # study's specificity


def test_clinical_variables_are_plausible():
    df = _clinical(3000)
    assert set(CLINICAL_COLUMNS) <= set(df.columns)
    rate = df.groupby("subtype")["outcome"].mean()
    assert min(rate["HER2-positive"], rate["triple negative"]) > max(rate["luminal A"], rate["luminal B"])
    tn = df[df["subtype"] == "triple negative"]
    assert (tn[["er", "pr", "her2"]] == "negative").all().all()
    assert (df.loc[df["subtype"] == "HER2-positive", "her2"] == "positive").all()
    assert (df.loc[df["subtype"] == "luminal A", "ki67"] == "low").all()
    assert set(df["stage"]) == {"I", "II", "III", "IV"} and set(df["side"]) == {"left", "right"}
    assert 45 < df["age"].mean() < 55 and df["age"].between(18, 90).all()
    assert df["diameter_cm"].between(1, 5).all() and 2.5 < df["diameter_cm"].median() < 4
    assert (df[["cea", "ca153", "ca125"]] > 0).all().all()
    assert df["cea"].median() < 5 and df["ca153"].median() < 25 and df["ca125"].median() < 35  # normal ranges


def test_effect_zero_makes_response_independent_of_outcome():
    rng = np.random.default_rng(2)
    ratios = {y: [draw_response(rng, y, effect=0.0).diameter_ratio for _ in range(3000)] for y in (0, 1)}
    assert stats.ttest_ind(ratios[0], ratios[1]).pvalue > 0.01
    strong = {y: [draw_response(rng, y, effect=1.0).diameter_ratio for _ in range(300)] for y in (0, 1)}
    assert np.mean(strong[1]) < np.mean(strong[0]) - 0.1


def test_responders_shrink_more_in_the_images(tmp_path, tiny):
    study = load_study(generate_cohort(tmp_path, n_patients=20, seed=0, reader2_fraction=0.0, **tiny))
    cohort = pd.read_csv(study.cohort_path)

    def volume(rel):
        return int(sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / rel))).sum())

    log_ratio = np.log([volume(e) / volume(b) for b, e in zip(cohort["baseline_mask"], cohort["early_mask"])])
    pcr, non = log_ratio[cohort["outcome"] == 1], log_ratio[cohort["outcome"] == 0]
    assert len(pcr) >= 5 and len(non) >= 5
    assert pcr.mean() < non.mean()
    assert stats.ttest_ind(pcr, non, equal_var=False).pvalue < 0.05
