"""One encoder of categories by value: 1 == 1.0 == "1", 9 before 10, a settable reference level,
levels stored as JSON values; a model file scores a table that codes the same categories
differently, and an unseen level leaves only that patient out."""

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from deltarad.cli import app
from deltarad.config import load_study
from deltarad.encoding import Encoding, encodings_for, level_of, levels_in
from deltarad.errors import DeltaradError
from deltarad.simulate import generate_feature_study
from deltarad.stats.logistic import fit_logistic
from deltarad.stats.tables import table1
from deltarad.workflow import run_study

runner = CliRunner()


def test_a_number_is_one_level_however_it_is_written():
    for written in (1, 1.0, "1", " 1 ", "1.0", np.int64(1), np.float32(1.0), "+1"):
        assert level_of(written) == 1 and type(level_of(written)) is int, written
    assert level_of("1.5") == 1.5 and level_of(" pos ") == "pos"
    for missing in (None, np.nan, pd.NA, "", "   "):
        assert level_of(missing) is None
    assert level_of("Pos") != level_of("pos")  # case-folding belongs to a declared coding only


def test_levels_are_ordered_by_value_numbers_first():
    assert levels_in(["10", 9, "2", 1.0, np.nan, "b", "A", "9.0", " A"]) == [1, 2, 9, 10, "A", "b"]


def test_reference_level_is_the_first_by_value_or_the_one_named():
    values = pd.Series(["II", "III", "I", "II", None])
    assert Encoding.categorical("stage", values).levels == ("I", "II", "III")
    enc = Encoding.categorical("stage", values, reference="II")
    assert enc.levels == ("II", "I", "III") and enc.columns == ["stage[I]", "stage[III]"]
    np.testing.assert_array_equal(enc.encode(values).to_numpy(), [[0, 0], [0, 1], [1, 0], [0, 0], [np.nan, np.nan]])
    with pytest.raises(DeltaradError, match=r"reference level 'IV' of 'stage' is not among its levels \(I, II, III\)"):
        Encoding.categorical("stage", values, reference="IV")
    grade = Encoding.categorical("grade", pd.Series([9.0, 10.0, np.nan]))
    assert grade.levels == (9, 10) and grade.columns == ["grade[10]"]  # R's sorted factor on numbers, not '10' < '9'


def test_levels_are_stored_as_json_values_and_read_back_by_value():
    enc = encodings_for(pd.DataFrame({"er": [0.0, 1.0, np.nan], "her2": ["neg", "pos", "pos"]}), ["er", "her2"], ["er"])
    stored = json.loads(json.dumps([e.to_dict() for e in enc]))
    assert stored == [{"type": "categorical", "levels": [0, 1]}, {"type": "categorical", "levels": ["neg", "pos"]}]
    er = Encoding.from_dict("er", stored[0])
    for coding in ([0, 1, 1], ["0", "1", "1"], [0.0, 1.0, 1.0]):
        np.testing.assert_array_equal(er.encode(pd.Series(coding)).to_numpy().ravel(), [0, 1, 1])


def test_text_levels_of_older_model_files_still_match_by_value():
    old = Encoding.from_dict("er", {"type": "categorical", "levels": ["0.0", "1.0"]})  # deltarad 0.1 stored text
    assert old.columns == ["er[1.0]"]  # its coefficient's name
    np.testing.assert_array_equal(old.encode(pd.Series([1, 0, "1"])).to_numpy().ravel(), [1, 0, 1])


def test_a_value_not_seen_in_training_names_patient_column_and_value():
    enc = Encoding("her2", ("neg", "pos"))
    values = pd.Series(["pos", "equivocal"], index=["P1", "P2"])
    assert enc.unseen(values).tolist() == [False, True]
    with pytest.raises(
        DeltaradError, match=r"patient P2: 'her2' = 'equivocal' was not seen in training \(levels: neg, pos\)"
    ):
        enc.encode(values)
    with pytest.raises(DeltaradError, match="'age' = 'fifty' is not a number"):
        Encoding("age").encode(pd.Series(["fifty"], index=["P3"]))


def test_table2_reference_level_gives_the_inverse_odds_ratio_of_the_2x2_table():
    # stage I: 30 events of 40; stage II: 10 of 40. Odds ratio II vs I = (10/30) / (30/10) = 1/9
    df = pd.DataFrame({"stage": ["I"] * 40 + ["II"] * 40, "y": [1] * 30 + [0] * 10 + [1] * 10 + [0] * 30})
    default = fit_logistic(df, "y", ["stage"]).table.iloc[0]
    assert default.level == "II vs I" and default["or"] == pytest.approx(1 / 9, rel=1e-8)
    named = fit_logistic(df, "y", ["stage"], reference_levels={"stage": "II"}).table.iloc[0]
    assert named.level == "I vs II" and named["or"] == pytest.approx(9, rel=1e-8)
    assert named.se == pytest.approx(np.sqrt(1 / 30 + 1 / 10 + 1 / 10 + 1 / 30), rel=1e-8)  # Woolf


def test_table1_levels_by_value_and_one_row_per_number():
    df = pd.DataFrame({"grade": [9, "9.0", 10, "10", 1.0, 9], "y": [0, 1, 0, 1, 1, 0]})
    t1 = table1(df, "y", variables=["grade"], categorical=["grade"])
    assert t1.loc[t1.variable == "grade", "level"].tolist() == ["1", "9", "10"]
    assert t1.loc[t1.level == "9", ["y=0", "y=1"]].values.tolist() == [["2 (66.7%)", "1 (33.3%)"]]


# ---------------------------------------------------------------- a model across codings


@pytest.fixture(scope="module")
def coded_run(tmp_path_factory):
    """A run whose combined model uses er (0/1 with a blank in a patient left out, so the column is
    read as floats: the case of issue 14) and her2 (text, mapped by a declared coding)."""
    d = tmp_path_factory.mktemp("codings")
    study_file = generate_feature_study(d, n_patients=80, n_features=16, n_planted=2, effect=0.5, seed=1)
    cohort = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    rng = np.random.default_rng([1, 99])
    y = cohort["outcome"].to_numpy()
    cohort["er"] = np.where(rng.random(len(cohort)) < 0.2, 1 - y, y).astype(float)
    cohort["her2"] = np.where(np.where(rng.random(len(cohort)) < 0.25, 1 - y, y) == 1, "Pos", "neg")
    cohort["outcome"] = cohort["outcome"].astype(object)
    cohort.loc[0, ["outcome", "er"]] = np.nan  # left out (no outcome), its blank er makes the column float
    cohort.to_csv(d / "cohort.csv", index=False)
    settings = yaml.safe_load(study_file.read_text())
    settings.update(
        clinical=["er", "her2"],
        categorical=["er", "her2"],
        selection={"lasso_folds": 3},
        coding={"her2": {"positive": "pos", "negative": "neg"}},
    )
    study_file.write_text(yaml.safe_dump(settings))
    result, failures = run_study(load_study(study_file), d / "out")
    assert failures["patient_id"].tolist() == [cohort["patient_id"].iat[0]]
    return d, settings, cohort.iloc[1:].reset_index(drop=True), result


def _predict(d, settings, cohort, name, model="out/model.json"):
    cohort.to_csv(d / f"{name}.csv", index=False)
    (d / f"{name}.yaml").write_text(yaml.safe_dump({**settings, "cohort": f"{name}.csv"}))
    res = runner.invoke(app, ["predict", str(d / model), str(d / f"{name}.yaml"), "--out", str(d / name)])
    return res, pd.read_csv(d / name / "predictions.csv", dtype={"patient_id": str}).set_index("patient_id")


def test_the_combined_model_stores_its_levels_as_values(coded_run):
    _, _, _, result = coded_run
    combined = result.model["combined"]
    assert {"er", "her2"} <= set(combined["terms"]), combined["terms"]  # the data are made for both to enter
    assert combined["variables"]["er"]["levels"] == [0, 1]
    assert combined["variables"]["her2"]["levels"] == ["negative", "positive"]
    assert {"er[1]", "her2[positive]"} <= set(combined["coefficients"])


def test_predict_scores_a_table_coding_the_categories_differently(coded_run):
    d, settings, cohort, result = coded_run
    other = cohort.assign(
        er=cohort["er"].astype(int),  # 0/1 without blanks: integers
        her2=[
            ["POS", " pos ", "Pos"][i % 3] if v == "Pos" else ["NEG", "neg "][i % 2]
            for i, v in enumerate(cohort["her2"])
        ],
    )
    res, scored = _predict(d, settings, other, "other_coding")
    assert res.exit_code == 0, res.output
    ran = result.predictions.set_index("patient_id")
    assert len(scored) == len(ran) == 79
    for m in ("radscore_dir", "radscore_dpr", "us", "combined"):
        np.testing.assert_allclose(scored.loc[ran.index, m], ran[m], rtol=1e-9)  # predictions.csv keeps 10 digits


def test_an_older_model_file_with_text_levels_scores_the_same(coded_run):
    d, settings, cohort, result = coded_run
    model = json.loads((d / "out" / "model.json").read_text())
    model["combined"]["variables"]["er"]["levels"] = ["0.0", "1.0"]  # as deltarad 0.1 wrote a float column
    model["combined"]["coefficients"]["er[1.0]"] = model["combined"]["coefficients"].pop("er[1]")
    (d / "old_model.json").write_text(json.dumps(model))
    res, scored = _predict(d, settings, cohort.assign(er=cohort["er"].astype(int)), "old_model", "old_model.json")
    assert res.exit_code == 0, res.output
    ran = result.predictions.set_index("patient_id")
    np.testing.assert_allclose(
        scored.loc[ran.index, "combined"], ran["combined"], rtol=1e-9
    )  # predictions.csv keeps 10 digits


def test_an_unseen_level_leaves_only_that_patient_out(coded_run):
    d, settings, cohort, result = coded_run
    odd = cohort["patient_id"].iat[5]
    settings = {**settings, "coding": {"her2": {"positive": "pos", "negative": "neg", "equivocal": "2+"}}}
    res, scored = _predict(d, settings, cohort.assign(her2=cohort["her2"].where(cohort.index != 5, "2+")), "unseen")
    assert res.exit_code == 1, res.output
    failures = pd.read_csv(d / "unseen" / "failures.csv", dtype=str)
    assert failures.to_dict("records") == [
        {
            "patient_id": odd,
            "stage": "model",
            "error": "'her2' = 'equivocal' was not seen in training (levels: negative, positive)",
        }
    ]
    assert len(scored) == 78 and odd not in scored.index


def test_run_leaves_out_only_the_validation_patient_with_an_unseen_level(coded_run):
    """An unseen category in a validation patient costs that patient, not the run (issue 14)."""
    d, settings, cohort, result = coded_run
    validation = result.split.loc[result.split["set"] == "validation", "patient_id"]
    odd = validation.iat[0]
    full = pd.read_csv(d / "cohort.csv", dtype={"patient_id": str})
    full.loc[full["patient_id"] == odd, "her2"] = "2+"
    full.to_csv(d / "unseen_run.csv", index=False)
    coding = {"her2": {"positive": "pos", "negative": "neg", "equivocal": "2+"}}
    (d / "unseen_run.yaml").write_text(yaml.safe_dump({**settings, "cohort": "unseen_run.csv", "coding": coding}))
    rerun, failures = run_study(load_study(d / "unseen_run.yaml"), d / "unseen_run")
    left = failures.set_index("patient_id")
    assert (
        left.loc[odd, "stage"] == "model" and "'her2' = 'equivocal' was not seen in training" in left.loc[odd, "error"]
    )
    assert odd not in set(rerun.predictions["patient_id"]) and odd not in set(rerun.split["patient_id"])
    assert len(rerun.predictions) == len(result.predictions) - 1
