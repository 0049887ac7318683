"""The feature store: a killed run resumes with only the missing exams; a changed input or
setting recomputes exactly the exams that depend on it."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import SimpleITK as sitk

from deltarad.cohort import load_cohort
from deltarad.config import load_study
from deltarad.features.extract import STUDY_PARAMS, extract_cohort
from deltarad.features.store import FeatureStore, exam_key_inputs, key_of, settings_fingerprint
from deltarad.parallel import ParallelSettings

DELTARAD = Path(sys.executable).parent / "deltarad"
N_EXAMS = 6  # the tiny cohort of conftest.py: 3 patients x 2 timepoints


def _snapshot(store: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in store.glob("*.parquet")}


def _extracted_count(log: str) -> int:
    """Exams extracted by the last run in `log`."""
    return int(re.findall(r"(\d+) of (\d+) exams already extracted, (\d+) to extract", log)[-1][2])


def test_run_killed_part_way_recomputes_only_missing_exams(tiny_cohort, reference_features, tmp_path):
    out, store = tmp_path / "out", tmp_path / "out" / "store"
    run = subprocess.Popen(
        [DELTARAD, "extract", tiny_cohort, "--out", out, "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while not _snapshot(store) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(run.pid, signal.SIGKILL)  # the CLI and its Dask worker processes, at once
    run.wait()
    before = _snapshot(store)
    assert 1 <= len(before) < N_EXAMS, "the run was not killed part-way"

    rerun = subprocess.run(
        [DELTARAD, "extract", tiny_cohort, "--out", out, "--workers", "1"], capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert _extracted_count(rerun.stderr) == N_EXAMS - len(before)
    after = _snapshot(store)
    assert len(after) == N_EXAMS
    assert {k: after[k] for k in before} == before  # stored exams were not rewritten
    assert (out / "features.csv").read_bytes() == reference_features


def test_changed_mask_file_recomputes_only_that_exam_and_prune_deletes_its_old_entry(cohort_copy, tmp_path, caplog):
    study = load_study(cohort_copy)
    cohort = load_cohort(study, require_outcome=False)
    run = dict(out_dir=tmp_path / "out", progress=False, parallel=ParallelSettings(workers=0))
    first, _ = extract_cohort(study, cohort, **run)
    store = FeatureStore(tmp_path / "out" / "store")
    keys_before = store.keys()
    assert len(keys_before) == N_EXAMS
    settings_fp = settings_fingerprint(study.imaging.model_copy(update={"params": study.params_path}), STUDY_PARAMS)
    row = cohort.set_index("patient_id", drop=False).loc["DR0002"].to_dict()
    old_key = key_of(exam_key_inputs(row, "baseline", settings_fp))
    assert old_key in keys_before

    mask_path = cohort.set_index("patient_id").loc["DR0002", "baseline_mask"]
    mask = sitk.ReadImage(mask_path)
    arr = sitk.GetArrayFromImage(mask)
    arr[tuple(i[0] for i in arr.nonzero())] = 0  # one voxel less
    changed = sitk.GetImageFromArray(arr)
    changed.CopyInformation(mask)
    sitk.WriteImage(changed, mask_path)

    with caplog.at_level("INFO", logger="deltarad.extract"):
        second, _ = extract_cohort(study, cohort, **run)
    assert _extracted_count(caplog.text) == 1
    new = store.keys() - keys_before
    assert len(new) == 1
    new_key = new.pop()
    entry = pd.read_parquet(store.path(new_key))
    assert set(zip(entry["patient_id"], entry["timepoint"])) == {("DR0002", "baseline")}
    moved = (first.drop(columns="notes", errors="ignore") != second).any(axis=1)
    assert set(second.loc[moved, "patient_id"] + "/" + second.loc[moved, "timepoint"]) == {"DR0002/baseline"}
    assert "1 entries" in caplog.text and "not used by this run" in caplog.text  # the old DR0002/baseline

    caplog.clear()
    with caplog.at_level("INFO", logger="deltarad.extract"):
        extract_cohort(study, cohort, **run, prune_store=True)
    assert _extracted_count(caplog.text) == 0
    assert "deleted 1 entries" in caplog.text
    assert store.keys() == (keys_before | {new_key}) - {old_key}


def test_key_follows_files_settings_and_parameter_file(tiny_cohort, tmp_path):
    study = load_study(tiny_cohort)
    row = load_cohort(study, require_outcome=False).iloc[0].to_dict()
    fp = settings_fingerprint(study.imaging, STUDY_PARAMS)
    key = key_of(exam_key_inputs(row, "baseline", fp))
    assert key == key_of(exam_key_inputs(dict(row, outcome=1 - row["outcome"], age=99), "baseline", fp))
    assert key != key_of(exam_key_inputs(row, "early", fp))
    assert key != key_of(exam_key_inputs(dict(row, baseline_series="7"), "baseline", fp))  # another DICOM series
    assert key == key_of(exam_key_inputs(dict(row, early_series="7"), "baseline", fp))
    assert key != key_of(
        exam_key_inputs(
            row, "baseline", settings_fingerprint(study.imaging.model_copy(update={"ring_mm": 5.0}), STUDY_PARAMS)
        )
    )
    params = tmp_path / "params.yaml"
    params.write_text(STUDY_PARAMS.read_text() + "\n# edited\n")
    assert key != key_of(exam_key_inputs(row, "baseline", settings_fingerprint(study.imaging, params)))
    # a file inside the DICOM folder touched: the image's fingerprint changes
    dicom = sorted(Path(row["baseline_image"]).glob("*.dcm"))[0]
    copy = tmp_path / "dicom"
    copy.mkdir()
    for f in Path(row["baseline_image"]).iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    moved = dict(row, baseline_image=str(copy))
    k1 = key_of(exam_key_inputs(moved, "baseline", fp))
    os.utime(copy / dicom.name, ns=(0, 0))
    assert key_of(exam_key_inputs(moved, "baseline", fp)) != k1
