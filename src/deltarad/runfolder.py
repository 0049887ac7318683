"""Ground floor: the run folder's layout (every file name), the paths of an exam's region masks and
QC image, and the writers a worker or the model file may use, each atomic (deltarad.atomic): a run
that stops leaves each file whole or absent, never half written. Imports nothing above the ground.

The result tables are written by deltarad.outputs; the report reads the folder by these names. Layout of
`deltarad run --out DIR`:

    DIR/failures.csv             patients left out: patient_id, stage, error (written as soon as known)
    DIR/delta_dropped.csv        delta features left out (undefined where the baseline is ~0)
    DIR/delta_features.csv       the delta table the models are fitted on
    DIR/split.csv, predictions.csv, selection.csv, selected_features.csv, model.json   the fit
    DIR/study.json               the study's settings, design and software versions (deltarad.record)
    DIR/cohort_flow.csv          patients per stage, model and set
    DIR/tables/missing_values.csv
    DIR/tables/validation.csv, selection_frequency.csv, validation_failures.csv   internal validation
    DIR/tables/table1|2|3.csv    with journal-formatted .xlsx and .html copies beside each

Feature extraction (`deltarad extract`, or `run` from images):

    DIR/features.csv             long form: one row per (patient, timepoint, region, reader)
    DIR/extraction_failures.csv  exams that failed: patient_id, stage, error
    DIR/extraction_notes.csv     what was inferred or corrected per exam: patient_id, timepoint, reader, note
    DIR/kinetics.csv             with a study's `kinetics:` key: FTV, peak enhancement, time to peak and
                                 curve-type shares per exam and reader (deltarad.kinetics.KINETICS_COLUMNS)
    DIR/kinetics_deltas.csv      ΔFTV and tumour-volume change per patient and delta (reader 1), the
                                 cohort variables delta_ftv_<after> and volume_change_<after>
    DIR/regions/<patient>/<timepoint>_<region>_reader<k>.nrrd   the regions PyRadiomics saw (3D Slicer)
    DIR/regions/<patient>/qc_<timepoint>.png|json               the exam's region QC (deltarad.features.region_qc)

written as each exam finishes (regions) or when all have (the tables); the feature store
(DIR/store/, deltarad.features.store) is the resumable cache behind them.

`deltarad validate` writes predictions.csv, failures.csv, model.json (a copy) and
tables/table3|calibration|roc|decision_curve.csv; `deltarad predict` predictions.csv and
failures.csv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from deltarad import atomic

if TYPE_CHECKING:
    import SimpleITK as sitk

FAILURES = "failures.csv"
DELTA_DROPPED = "delta_dropped.csv"
DELTA_FEATURES = "delta_features.csv"
SPLIT = "split.csv"
PREDICTIONS = "predictions.csv"
SELECTION = "selection.csv"
SELECTED_FEATURES = "selected_features.csv"
MODEL = "model.json"
STUDY_RECORD = "study.json"
COHORT_FLOW = "cohort_flow.csv"
TABLES = "tables"
MISSING_VALUES = f"{TABLES}/missing_values.csv"
VALIDATION = f"{TABLES}/validation.csv"
SELECTION_FREQUENCY = f"{TABLES}/selection_frequency.csv"
VALIDATION_FAILURES = f"{TABLES}/validation_failures.csv"
TABLE1, TABLE2, TABLE3 = (f"{TABLES}/table{i}.csv" for i in (1, 2, 3))
CALIBRATION = f"{TABLES}/calibration.csv"
ROC = f"{TABLES}/roc.csv"
DECISION_CURVE = f"{TABLES}/decision_curve.csv"
INDEX = "index.csv"
FEATURES = "features.csv"
EXTRACTION_FAILURES = "extraction_failures.csv"
EXTRACTION_NOTES = "extraction_notes.csv"
KINETICS = "kinetics.csv"
KINETICS_DELTAS = "kinetics_deltas.csv"
REGIONS = "regions"


def region_mask_path(regions_dir: Path, patient_id: str, timepoint: str, region: str, reader: int) -> Path:
    return Path(regions_dir) / str(patient_id) / f"{timepoint}_{region}_reader{reader}.nrrd"


def qc_paths(regions_dir: Path, patient_id: str, timepoint: str) -> tuple[Path, Path]:
    """An exam's QC image and numbers: (qc_<timepoint>.png, qc_<timepoint>.json)."""
    folder = Path(regions_dir) / str(patient_id)
    return folder / f"qc_{timepoint}.png", folder / f"qc_{timepoint}.json"


def write_region_masks(
    regions_dir: Path, patient_id: str, timepoint: str, regions: dict[tuple[str, int], sitk.Image]
) -> list[Path]:
    """Each (region, reader) mask of one exam as compressed NRRD."""
    import SimpleITK as sitk

    written = []
    for (region, reader), mask in regions.items():
        path = region_mask_path(regions_dir, patient_id, timepoint, region, reader)
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("NrrdImageIO")
        writer.UseCompressionOn()
        with atomic.atomic_path(path) as tmp:
            writer.SetFileName(str(tmp))
            writer.Execute(mask)
        written.append(path)
    return written


class ExamQCImage(Protocol):
    """What write_exam_qc needs of an exam's QC (deltarad.features.region_qc.ExamQC)."""

    @property
    def patient_id(self) -> str: ...

    @property
    def timepoint(self) -> str: ...

    @property
    def png(self) -> bytes: ...

    @property
    def numbers(self) -> dict: ...


def write_exam_qc(regions_dir: Path, qc: ExamQCImage) -> tuple[Path, Path]:
    """An exam's QC image and its numbers, beside its region masks."""
    png, meta = qc_paths(regions_dir, qc.patient_id, qc.timepoint)
    atomic.write_bytes(png, qc.png)
    atomic.write_text(meta, json.dumps(qc.numbers, indent=1, allow_nan=True))
    return png, meta


def write_model_file(path: Path, model: dict) -> Path:
    """A model file: plain JSON (deltarad.modeling.modelfile), never pickle."""
    return atomic.write_json(path, model)
