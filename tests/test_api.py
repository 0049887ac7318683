"""The public API (`import deltarad`): the same numbers as the CLI's stages, values in and out.

- extract_exam on an exam of a generated DICOM cohort equals what extract_cohort writes for it
  (all 851 features ==), from paths and from SimpleITK images;
- fit(delta(features), clinical) gives the model `deltarad run` writes, with no cohort file;
- with_kinetics joins ΔFTV and the volume change as `deltarad run` does (by hand here);
- evaluate's numbers are the statistics' closed forms (a perfect score, a given cut-off).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

import deltarad
from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.features.extract import extract_cohort
from deltarad.imaging.io import read_analysed_exam
from deltarad.parallel import ParallelSettings
from deltarad.simulate import generate_feature_study
from deltarad.synthetic import generate_cohort

TINY = {"shape": (40, 40, 12), "spacing_mm": (1.2, 1.2, 2.0), "n_phases": 4}


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Two tiny generated patients (DICOM exams, NRRD masks, reader 2 on one) and extract_cohort's table."""
    folder = tmp_path_factory.mktemp("api_cohort")
    study = load_study(generate_cohort(folder / "cohort", n_patients=2, seed=3, reader2_fraction=0.5, **TINY))
    cohort = load_cohort(study, require_outcome=False)
    features, failures = extract_cohort(
        study, cohort, folder / "out", progress=False, parallel=ParallelSettings(workers=0)
    )
    assert failures.empty
    return study, cohort, features


def _exam_rows(features: pd.DataFrame, patient: str, timepoint: str) -> pd.DataFrame:
    rows = features[(features["patient_id"] == patient) & (features["timepoint"] == timepoint)]
    return rows.reset_index(drop=True)


def test_extract_exam_from_paths_equals_the_cohort_extraction(extracted):
    study, cohort, features = extracted
    row = cohort[cohort["baseline_mask_reader2"].notna()].iloc[0]
    table = deltarad.extract_exam(
        row["baseline_image"],
        {1: row["baseline_mask"], 2: row["baseline_mask_reader2"]},
        study,
        patient_id=row["patient_id"],
        timepoint="baseline",
    )
    expected = _exam_rows(features, row["patient_id"], "baseline")
    assert list(table.columns[:4]) == ["patient_id", "timepoint", "region", "reader"]
    assert table["notes"].str.contains("air").all()  # the inferred air threshold is recorded
    table = table.drop(columns="notes")
    assert len(table.columns) - 4 == 851 and list(table.columns) == list(expected.columns)
    assert len(table) == 4  # two regions x two readers
    pd.testing.assert_frame_equal(table, expected, check_exact=True, check_dtype=False)


def test_extract_exam_from_images_equals_the_cohort_extraction(extracted):
    study, cohort, features = extracted
    row = cohort.iloc[-1]
    image, _ = read_analysed_exam(row["early_image"], study.imaging)
    mask = sitk.ReadImage(row["early_mask"])
    table = deltarad.extract_exam(image, mask, patient_id=row["patient_id"], timepoint="early").drop(columns="notes")
    expected = _exam_rows(features, row["patient_id"], "early")
    expected = expected[expected["reader"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(table, expected, check_exact=True, check_dtype=False)


def test_extract_exam_refuses_a_labelmap_with_two_labels_naming_them(extracted):
    study, cohort, _ = extracted
    row = cohort.iloc[0]
    mask = sitk.ReadImage(row["baseline_mask"])
    two = sitk.Cast(mask, sitk.sitkUInt8) + sitk.Cast(sitk.BinaryDilate(mask, [1, 1, 1]), sitk.sitkUInt8)
    with pytest.raises(deltarad.CaseError, match=r"several labels \[1, 2\]") as err:
        deltarad.extract_exam(row["baseline_image"], two, patient_id="P9")
    assert "patient P9" in str(err.value)


@pytest.fixture(scope="module")
def feature_study(tmp_path_factory):
    return load_study(generate_feature_study(tmp_path_factory.mktemp("fs"), n_patients=80, n_features=40, seed=2))


def test_fit_of_delta_equals_deltarad_run(feature_study, tmp_path):
    study = feature_study
    result, _ = deltarad.run_study(study, tmp_path / "run")
    features = deltarad.read_table(study.features_path, "feature table")
    clinical = pd.read_csv(study.cohort_path)  # a plain DataFrame: no cohort file is needed
    settings = {"clinical": study.clinical, "categorical": study.categorical}
    model = deltarad.fit(deltarad.delta(features, settings), clinical, settings)
    on_disk = json.loads((tmp_path / "run" / "model.json").read_text())
    ours = json.loads(json.dumps(model.data))
    for key in ("software", "created_by"):
        on_disk.pop(key), ours.pop(key)
    assert ours == on_disk
    assert model.data["settings"] == deltarad.DeltaradModel.from_json(tmp_path / "run" / "model.json").data["settings"]


def test_fit_reads_a_delta_table_without_its_info_the_same_way(feature_study):
    study = feature_study
    features = deltarad.read_table(study.features_path, "feature table")
    clinical = deltarad.read_table(study.cohort_path, "cohort")
    d = deltarad.delta(features, study)
    info = deltarad.delta_info(d, study)
    bare = pd.DataFrame(d)  # e.g. delta_features.csv read back: no attrs
    bare.attrs.clear()
    rederived = deltarad.delta_info(bare, study)
    for region, part in info["regions"].items():
        assert rederived["regions"][region]["kept"] == part["kept"]
        assert part["dropped"], "the generated table has features the delta rule drops"
    ours, theirs = (deltarad.fit(t, clinical, study).data["radscores"] for t in (bare, d))
    for name in ours:  # the same model; only the selection note lacks the reasons of the drops
        assert {k: v for k, v in ours[name].items() if k != "notes"} == {
            k: v for k, v in theirs[name].items() if k != "notes"
        }


def test_fit_refuses_a_delta_of_another_kind_than_the_settings(feature_study):
    features = deltarad.read_table(feature_study.features_path, "feature table")
    d = deltarad.delta(features, {"delta": "difference"})
    with pytest.raises(deltarad.DeltaradError, match="difference change but the settings say delta: relative"):
        deltarad.fit(d, deltarad.read_table(feature_study.cohort_path, "cohort"))


def test_with_kinetics_joins_dftv_and_the_volume_change_by_patient_id():
    settings = {"patient_id": "case", "kinetics": {}, "design": {"references": ["ultrasound", "delta_ftv_early"]}}
    kinetics = pd.DataFrame(
        {
            "patient_id": ["7", "7", "7", "8", "8"],
            "timepoint": ["baseline", "early", "early", "baseline", "early"],
            "reader": [1, 1, 2, 1, 1],
            "ftv_ml": [4.0, 1.0, 9.0, 2.0, 3.0],  # reader 2's early FTV is not ΔFTV's
        }
    )
    features = pd.DataFrame(
        {
            "patient_id": ["7", "7", "8", "8", "7"],
            "timepoint": ["baseline", "early", "baseline", "early", "early"],
            "region": ["intratumoral"] * 4 + ["peritumoral"],
            "reader": 1,
            "original_shape_VoxelVolume": [800.0, 200.0, 100.0, 150.0, 5.0],
        }
    )
    clinical = pd.DataFrame({"case": [8, 7, 9], "outcome": [0, 1, 0]})  # 9: no exams
    joined = deltarad.with_kinetics(clinical, kinetics, features, settings)
    assert list(joined["case"]) == [8, 7, 9] and list(joined["outcome"]) == [0, 1, 0]
    np.testing.assert_allclose(joined["delta_ftv_early"], [(3 - 2) / 2, (1 - 4) / 4, np.nan])
    np.testing.assert_allclose(joined["volume_change_early"], [(150 - 100) / 100, (200 - 800) / 800, np.nan])


def test_fit_without_a_kinetic_reference_column_says_how_to_join_it(feature_study):
    features = deltarad.read_table(feature_study.features_path, "feature table")
    settings = {"kinetics": {}, "design": {"references": ["ultrasound", "delta_ftv_early"]}}
    with pytest.raises(
        deltarad.DeltaradError,
        match=r"lacks column\(s\) delta_ftv_early that the models read; the kinetic variable\(s\) delta_ftv_early "
        r"come from kinetics.csv and the features: `deltarad run` joins them; in Python, deltarad.with_kinetics",
    ):
        deltarad.fit(
            deltarad.delta(features, settings), deltarad.read_table(feature_study.cohort_path, "cohort"), settings
        )


def test_settings_mapping_is_validated_with_the_key_named():
    with pytest.raises(deltarad.StudyFileError, match="unknown key 'selection.corr_mx'"):
        deltarad.Study.from_settings({"selection": {"corr_mx": 0.8}})
    assert deltarad.Study.from_settings(None).selection.corr_max == 0.9  # the study's default


def test_fit_leaves_out_a_bad_clinical_row_and_still_fits(feature_study, caplog):
    features = deltarad.read_table(feature_study.features_path, "feature table")
    clinical = deltarad.read_table(feature_study.cohort_path, "cohort")
    clinical.loc[3, "outcome"] = 7
    settings = {"clinical": feature_study.clinical, "categorical": feature_study.categorical}
    cohort, failures = deltarad.cohort_table(clinical, settings)
    assert list(failures["patient_id"]) == [clinical.loc[3, "patient_id"]]
    assert "must be 0 or 1, got 7" in failures["error"].iloc[0]
    model = deltarad.fit(deltarad.delta(features, settings), clinical, settings)
    assert set(model.data["thresholds"]) == {"radscore_dir", "radscore_dpr", "us", "combined"}
    assert f"left out patient {clinical.loc[3, 'patient_id']}" in caplog.text


def test_model_round_trip_through_json_scores_the_same(feature_study, tmp_path):
    features = deltarad.read_table(feature_study.features_path, "feature table")
    clinical = deltarad.read_table(feature_study.cohort_path, "cohort")
    d = deltarad.delta(features, feature_study)
    model = deltarad.fit(d, clinical, feature_study)
    again = deltarad.DeltaradModel.from_json(model.to_json(tmp_path / "model.json"))
    pd.testing.assert_frame_equal(again.predict_proba(d, clinical), model.predict_proba(d, clinical), check_exact=True)


def test_split_is_the_fit_split(feature_study):
    clinical = deltarad.read_table(feature_study.cohort_path, "cohort")
    sets = deltarad.split(clinical)
    assert (sets["set"] == "validation").sum() == round(0.3 * len(clinical))
    features = deltarad.read_table(feature_study.features_path, "feature table")
    result = deltarad.fit_result(deltarad.delta(features, feature_study), clinical, feature_study)
    pd.testing.assert_frame_equal(result.split, sets)


def test_evaluate_closed_forms():
    y = np.array([0, 0, 0, 1, 1, 1])
    perfect = evaluate_one(y, [0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    assert perfect["auc"] == 1.0 and perfect["threshold"] == pytest.approx(0.5)  # Youden: midpoint 0.3 | 0.7
    assert perfect["sensitivity"] == perfect["specificity"] == 1.0
    assert perfect["brier"] == pytest.approx(np.mean([0.01, 0.04, 0.09, 0.09, 0.04, 0.01]))
    # One control above every case: 3 of the 9 (case, control) pairs discordant, AUC = 6/9
    # (Mann-Whitney); at the given cut-off 0.75 two of three cases and two of three controls are right.
    mixed = evaluate_one(y, [0.1, 0.2, 0.95, 0.7, 0.8, 0.9], threshold=0.75)
    assert mixed["auc"] == pytest.approx(6 / 9)
    assert (mixed["tp"], mixed["fn"], mixed["tn"], mixed["fp"]) == (2, 1, 2, 1)
    assert mixed["threshold_rule"] == "given"


def test_evaluate_several_models_with_their_cut_offs_and_nan_left_out():
    y = np.array([0, 1, 0, 1])
    table = deltarad.evaluate(
        y,
        pd.DataFrame({"patient_id": list("abcd"), "a": [0.1, 0.9, 0.2, 0.8], "b": [5.0, 1.0, np.nan, 2.0]}),
        threshold={"a": 0.5},
    )
    assert list(table["model"]) == ["a", "b"]
    assert table.loc[1, "n"] == 3 and table.loc[1, "auc"] == 0.0
    assert np.isnan(table.loc[1, "brier"])  # not probabilities
    assert list(table["threshold_rule"]) == ["given", "Youden (these data)"]


def evaluate_one(y, scores, threshold=None) -> dict:
    return deltarad.evaluate(y, np.asarray(scores), threshold=threshold).iloc[0].to_dict()


def test_dir_and_all_list_the_api():
    assert {
        "extract_exam",
        "delta",
        "fit",
        "evaluate",
        "DeltaradModel",
        "load_study",
        "run_study",
        "Study",
        "SelectionSettings",
        "ImagingSettings",
    } <= set(deltarad.__all__)
    assert set(deltarad.__all__) <= set(dir(deltarad))
    for name in deltarad.__all__:
        assert getattr(deltarad, name) is not None
    with pytest.raises(AttributeError):
        deltarad.not_a_name  # noqa: B018


def test_an_edited_parameter_file_is_read_again(tmp_path):
    from deltarad.features.extract import STUDY_PARAMS, load_extractor

    params = tmp_path / "params.yaml"
    params.write_text(STUDY_PARAMS.read_text())
    assert load_extractor(params).settings["binWidth"] == 25
    assert load_extractor(params) is load_extractor(params)  # cached while the file is unchanged
    params.write_text(STUDY_PARAMS.read_text().replace("binWidth: 25", "binWidth: 5"))
    assert load_extractor(params).settings["binWidth"] == 5
