"""Region QC: images and numbers drawn from real preprocessed exams (phantom and the real two-visit
case), the ring pushed into air flagged first, and the flags on constructed numbers."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from deltarad.config import ImagingSettings, ReportSettings
from deltarad.features.extract import extract_timepoint, prepare_timepoint
from deltarad.features.region_qc import exam_qc
from deltarad.imaging.phantom import breast_phantom
from deltarad.report.qc import flag_patients, load_qc, robust_z
from deltarad.runfolder import qc_paths, write_exam_qc

PNG = b"\x89PNG\r\n\x1a\n"


def _phantom_case(folder: Path, pid: str, offset_y_mm: float) -> dict:
    """Two exams (early tumour smaller) and a second reader (eroded mask); tumour `offset_y_mm`
    from the default place: -26 mm puts it at the body surface, so its ring reaches into air."""
    row = {"patient_id": pid}
    for tp, radius, seed in (("baseline", 8.0, 0), ("early", 6.5, 1)):
        image, mask = breast_phantom(tumour_radius_mm=radius, tumour_offset_mm=(0.0, offset_y_mm, 0.0), seed=seed)
        for name, im in (
            (f"{tp}_image", image),
            (f"{tp}_mask", mask),
            (f"{tp}_mask_reader2", sitk.BinaryErode(mask, [1, 1, 0])),
        ):
            path = folder / f"{pid}_{name}.nrrd"
            sitk.WriteImage(im, str(path))
            row[name] = str(path)
    return row


@pytest.fixture(scope="module")
def qc_cohort(tmp_path_factory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("qc")
    rows = [_phantom_case(folder, "P01", 10.0), _phantom_case(folder, "P02", 12.0), _phantom_case(folder, "P03", -26.0)]
    regions = folder / "regions"
    settings = ImagingSettings()
    seconds = []
    for row in rows:
        for tp in ("baseline", "early"):
            exam = prepare_timepoint(row, tp, settings)
            start = time.perf_counter()
            write_exam_qc(
                regions,
                exam_qc(
                    exam.image, exam.regions, row["patient_id"], tp, settings.ring_mm, getattr(exam, "ring_stats", None)
                ),
            )
            seconds.append(time.perf_counter() - start)
    print(
        f"region QC: {np.mean(seconds):.3f} s per exam (max {max(seconds):.3f}); 374 exams: "
        f"{374 * np.mean(seconds):.0f} s on one core"
    )
    return regions, rows


def test_qc_image_and_numbers_of_each_exam(qc_cohort) -> None:
    regions, rows = qc_cohort
    for row in rows:
        for tp in ("baseline", "early"):
            png, meta = qc_paths(regions, row["patient_id"], tp)
            assert png.read_bytes().startswith(PNG)
            numbers = json.loads(meta.read_text())
            mask = sitk.ReadImage(row[f"{tp}_mask"])
            voxels = int(sitk.GetArrayViewFromImage(mask).sum())
            # the resampled (1 mm) tumour keeps the volume of the 0.8 x 0.8 x 2 mm mask within a few %
            assert numbers["readers"]["1"]["tumour_ml"] == pytest.approx(voxels * 0.8 * 0.8 * 2 / 1000, rel=0.08)
            assert 0 < numbers["dice"] < 1 and numbers["hd95_mm"] > 0
            assert numbers["fov_edge"] is False
            assert "PNG" not in meta.read_text() and row["patient_id"] in meta.read_text()


def test_ring_pushed_into_air_is_flagged_first(qc_cohort) -> None:
    regions, rows = qc_cohort
    qc = load_qc(regions, [r["patient_id"] for r in rows])
    lost = qc.set_index(["patient_id", "timepoint"])["ring_lost_share"]
    assert lost["P01", "baseline"] < 0.1 and lost["P03", "baseline"] > 0.3
    flags = flag_patients(qc, ReportSettings(qc_ring_cut_max=0.3))
    assert flags["patient_id"].iloc[0] == "P03"
    assert any("ring cut by" in f and "air" in f for f in flags["flags"].iloc[0])
    assert flags.set_index("patient_id").loc[["P01", "P02"], "n_flags"].tolist() == [0, 0]


def test_extraction_writes_the_qc_beside_the_region_masks(qc_cohort, tmp_path) -> None:
    _, rows = qc_cohort
    extract_timepoint(rows[0], "early", ImagingSettings(), regions_dir=tmp_path)
    png, meta = qc_paths(tmp_path, "P01", "early")
    assert png.read_bytes().startswith(PNG) and json.loads(meta.read_text())["timepoint"] == "early"


def test_real_two_visit_case_qc(shared_data: Path, tmp_path: Path) -> None:
    """The real patient's two visits (1.3 x 1.3 x 5 mm), intensities from its tissue maps (air 0,
    adipose 100, fibroglandular 300, tumour 800, as tests/imaging do): the shrinking tumour's volume
    and the ring kept inside the breast."""
    case = shared_data / "two-visit-case"
    row = {"patient_id": "TV1"}
    for tp, visit in (("baseline", 1), ("early", 2)):
        tissues = sitk.ReadImage(str(case / f"tissues_v{visit}.nrrd"))
        t = sitk.GetArrayFromImage(tissues)
        tumour = sitk.GetArrayFromImage(sitk.ReadImage(str(case / f"tumor_mask_v{visit}.nrrd"))) > 0
        image = sitk.GetImageFromArray(
            np.select([tumour, t == 2, t == 1], [800.0, 300.0, 100.0], 0.0).astype(np.float32)
        )
        image.CopyInformation(tissues)
        row[f"{tp}_image"] = str(tmp_path / f"{tp}.nrrd")
        sitk.WriteImage(image, row[f"{tp}_image"])
        row[f"{tp}_mask"] = str(case / f"tumor_mask_v{visit}.nrrd")
    settings = ImagingSettings(n4=False)
    for tp in ("baseline", "early"):
        exam = prepare_timepoint(row, tp, settings)
        write_exam_qc(
            tmp_path, exam_qc(exam.image, exam.regions, "TV1", tp, settings.ring_mm, getattr(exam, "ring_stats", None))
        )
    qc = load_qc(tmp_path, ["TV1"]).set_index("timepoint")
    # 2387 and 1250 voxels of 1.3 x 1.3 x 5 mm
    assert qc.loc["baseline", "tumour_ml"] == pytest.approx(2387 * 1.3 * 1.3 * 5 / 1000, rel=0.1)
    assert qc.loc["early", "tumour_ml"] == pytest.approx(1250 * 1.3 * 1.3 * 5 / 1000, rel=0.1)
    assert qc["png"].notna().all()
    assert (qc["ring_lost_share"] < 0.5).all()  # the tumour lies deep in the breast
    assert math.isnan(qc.loc["baseline", "dice"])  # one reader


def test_flags_on_constructed_numbers() -> None:
    rows = []
    for i in range(12):
        pid = f"P{i:02d}"
        base = 2.0
        early = {5: 0.1, 9: 1.0}.get(i, 1.0 + 0.02 * i)  # P05 shrinks 95%, P09 is ordinary
        for tp, ml in (("baseline", base), ("early", early)):
            rows.append(
                {
                    "patient_id": pid,
                    "timepoint": tp,
                    "tumour_ml": ml,
                    "missing": "",
                    "ring_lost_share": 0.9 if (i, tp) == (7, "early") else 0.1,
                    "fov_edge": (i, tp) == (3, "baseline"),
                    "fov_edge_mm": 1.0,
                    "dice": 0.5 if (i, tp) == (7, "baseline") else 0.9,
                }
            )
    flags = flag_patients(pd.DataFrame(rows), ReportSettings())
    order = flags["patient_id"].tolist()
    assert order[0] == "P07"  # ring cut and low Dice: two flags
    assert set(order[1:3]) == {"P03", "P05"}
    assert order[3:] == [p for p in (f"P{i:02d}" for i in range(12)) if p not in {"P03", "P05", "P07"}]
    why = dict(zip(flags["patient_id"], flags["flags"]))
    assert why["P05"] == [next(f for f in why["P05"] if f.startswith("tumour volume change -95%"))]
    assert "field-of-view edge" in why["P03"][0]


def test_robust_z_closed_form() -> None:
    z = robust_z(pd.Series([1.0, 2.0, 3.0, 4.0, 100.0]))
    # median 3, MAD 1 -> z = (x - 3) / 1.4826
    assert z.tolist() == pytest.approx([(x - 3) / 1.4826 for x in (1, 2, 3, 4, 100)])
