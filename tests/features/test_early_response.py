"""Complete early response (an empty early tumour mask): a failure of its own stage in the
extraction, counted apart in the cohort flow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import SimpleITK as sitk
import yaml

from deltarad.cohort import Cohort
from deltarad.config import ImagingSettings, Study
from deltarad.features.extract import extract_cohort
from deltarad.imaging.phantom import breast_phantom
from deltarad.outputs import write_cohort_flow
from deltarad.parallel import ParallelSettings
from deltarad.workflow import cohort_flow

#: the study's models (prediction column, label), written out
MODEL_COLUMNS = ["radscore_dir", "radscore_dpr", "us", "combined"]


def test_empty_early_mask_is_counted_as_complete_early_response(tmp_path):
    image, mask = breast_phantom(size=(48, 48, 12), tumour_radius_mm=5.0)
    sitk.WriteImage(image, str(tmp_path / "image.nrrd"))
    sitk.WriteImage(mask, str(tmp_path / "mask.nrrd"))
    sitk.WriteImage(mask * 0, str(tmp_path / "empty.nrrd"))
    (tmp_path / "first.yaml").write_text(
        yaml.safe_dump(
            {"imageType": {"Original": {}}, "featureClass": {"firstorder": None}, "setting": {"binWidth": 25}}
        )
    )
    row = {
        "patient_id": "R1",
        "baseline_image": str(tmp_path / "image.nrrd"),
        "baseline_mask": str(tmp_path / "mask.nrrd"),
        "early_image": str(tmp_path / "image.nrrd"),
        "early_mask": str(tmp_path / "empty.nrrd"),
    }
    study = Study(
        cohort=tmp_path / "cohort.csv",
        base_dir=tmp_path,
        imaging=ImagingSettings(n4=False, params=tmp_path / "first.yaml"),
    )
    features, failures = extract_cohort(
        study, pd.DataFrame([row]), tmp_path / "out", progress=False, parallel=ParallelSettings(workers=0)
    )
    assert failures[["patient_id", "stage"]].to_dict("records") == [{"patient_id": "R1", "stage": "early response"}]
    assert "early tumour mask (reader 1) is empty" in failures.loc[0, "error"]
    assert set(features["timepoint"]) == {"baseline"}

    others = pd.DataFrame([{"patient_id": "R2", "stage": "early/read", "error": "file not found"}])
    cohort = pd.DataFrame({"patient_id": ["R1", "R2", "R3", "R4"]})
    predictions = pd.DataFrame(
        {
            "patient_id": ["R3", "R4"],
            "set": ["training", "validation"],
            "outcome": [1, 0],
            **{m: [0.7, 0.2] for m in MODEL_COLUMNS},
        }
    )
    read = Cohort(cohort, list(cohort["patient_id"]), failures.iloc[:0])
    write_cohort_flow(
        tmp_path,
        cohort_flow(
            read,
            predictions,
            pd.concat([failures, others], ignore_index=True),
            Study(cohort=tmp_path / "c.csv").outcome,
        ),
    )
    flow = pd.read_csv(tmp_path / "cohort_flow.csv")
    assert flow[["stage", "n"]].to_dict("records")[:3] == [
        {"stage": "cohort file", "n": 4},
        {"stage": "complete early response", "n": 1},
        {"stage": "excluded", "n": 1},
    ]
    assert flow[["stage", "n"]].to_dict("records")[-2:] == [
        {"stage": "training", "n": 1},
        {"stage": "validation", "n": 1},
    ]
    assert np.all(flow.loc[flow["stage"] == "excluded", "detail"] == "early/read")
