"""Extraction speed at the gray levels of real exams: cohorts whose tumours span 30, 100 and 300
bins of width 25 in the original image, int16 and float intensities, the competent plain
PyRadiomics way against `deltarad extract`, side by side per cohort, with the bin counts each ran on.

Real DCE exams are stored with 12-16 bits and vendor scaling, so a tumour spans many more bins of
width 25 than the synthetic exams' (26-36), and the wavelet sub-bands more still (coif1's
low-pass LLL band has about 2.8 times the original's range). Each cohort here is the realistic
synthetic cohort (deltarad.synthetic, generated once) with the analysed phase of every exam scaled
so that the reader-1 tumour spans the wanted number of bins in the original image that
PyRadiomics sees (after N4 and 1 mm resampling), and written as a 3D NRRD: int16 (rounded) for even-numbered patients, float32 for odd ones. The masks are the
synthetic readers'. Both ways read the same files.

    python benchmarks/graylevels.py [--bins 30 100 300] [--patients 2] [--shape 256 256 112] [--workers 2]

Bins per image type: for every exam, the prepared image (N4, 1 mm) and its filtered images, the
reader-1 tumour's bins of width 25 as PyRadiomics counts them (N_g: edges from the region's
minimum to its maximum) and the gray levels present; printed as median (min-max) over exams.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk
import yaml
from radiomics import imageoperations

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import extraction  # noqa: E402
import profile_exam  # noqa: E402
from deltarad.cohort import load_cohort  # noqa: E402
from deltarad.config import load_study  # noqa: E402
from deltarad.features.delta import TIMEPOINTS  # noqa: E402
from deltarad.features.extract import filtered_images, load_extractor, prepare_timepoint  # noqa: E402
from deltarad.imaging.io import read_analysed_exam  # noqa: E402
from deltarad.synthetic import generate_cohort  # noqa: E402

RESULTS = HERE / "results"
BIN_LEVELS = (30, 100, 300)
BIN_WIDTH = 25.0
#: issue 15's exams: 256 x 256 x 112 voxels of 0.9 x 0.9 x 1.2 mm, 8 phases
EXAM_SHAPE = (256, 256, 112)
EXAM_SPACING_MM = (0.9, 0.9, 1.2)
IMAGE_COLUMNS = ("baseline_image", "early_image")
MASK_COLUMNS = ("baseline_mask", "early_mask", "baseline_mask_reader2", "early_mask_reader2")

log = logging.getLogger("bench")


def base_cohort(n_patients: int, shape: tuple[int, int, int]) -> Path:
    """The realistic synthetic cohort (8 phases, 0.9 x 0.9 x 1.2 mm), generated once."""
    folder = RESULTS / f"cohort_{'x'.join(map(str, shape))}_{n_patients}"
    study = folder / "study.yaml"
    if not study.is_file():
        generate_cohort(
            folder, n_patients=n_patients, seed=0, realistic=True, shape=shape, spacing_mm=EXAM_SPACING_MM, workers=2
        )
    return study


def graylevel_cohort(bins: int, n_patients: int, shape: tuple[int, int, int] = EXAM_SHAPE) -> Path:
    """The base cohort with every exam's analysed phase scaled so that its reader-1 tumour spans
    `bins` bins of width 25 on the prepared image (after N4 and resampling; int16 for
    even-numbered patients, float32 for odd ones); written once."""
    base = base_cohort(n_patients, shape)
    folder = RESULTS / f"cohort_{bins}bins_{'x'.join(map(str, shape))}_{n_patients}"
    study_path = folder / "study.yaml"
    if study_path.is_file():
        return study_path
    shutil.rmtree(folder, ignore_errors=True)
    settings = load_study(base).imaging.model_copy(update={"params": None})
    cohort = pd.read_csv(base.parent / "cohort.csv", dtype={"patient_id": str}, keep_default_na=False)
    for index, row in cohort.iterrows():
        for timepoint in TIMEPOINTS:
            image, _ = read_analysed_exam(base.parent / row[f"{timepoint}_image"], settings)
            mask_path = base.parent / row[f"{timepoint}_mask"]
            values = sitk.GetArrayViewFromImage(image).astype(np.float64)
            tumour = values[sitk.GetArrayViewFromImage(sitk.ReadImage(str(mask_path))) > 0]
            factor = bins * BIN_WIDTH / float(tumour.max() - tumour.min())
            target = folder / "patients" / row["patient_id"] / timepoint / "image.nrrd"
            target.parent.mkdir(parents=True, exist_ok=True)
            # twice: N4 and resampling change the tumour's range, so the factor is corrected once
            # by the bins the prepared image has
            for _ in range(2):
                _write_scaled(values, factor, image, target, integer=index % 2 == 0)
                prepared = _prepared_bins(
                    {
                        "patient_id": row["patient_id"],
                        f"{timepoint}_image": str(target),
                        f"{timepoint}_mask": str(mask_path),
                    },
                    timepoint,
                    settings,
                )
                factor *= bins / prepared
            cohort.loc[index, f"{timepoint}_image"] = target.relative_to(folder).as_posix()
        for column in MASK_COLUMNS:
            if row.get(column):
                target = folder / row[column]
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(base.parent / row[column], target)
    cohort.to_csv(folder / "cohort.csv", index=False)
    study = yaml.safe_load(base.read_text())
    study_path.write_text(
        f"# {bins} bins of width 25 across each reader-1 tumour (benchmarks/graylevels.py)\n"
        + yaml.safe_dump(study, sort_keys=False)
    )
    return study_path


def _write_scaled(values: np.ndarray, factor: float, like: sitk.Image, target: Path, *, integer: bool) -> None:
    """values x factor as int16 (rounded) or float32 NRRD on `like`'s grid."""
    scaled = values * factor
    stored = np.clip(np.rint(scaled), -32768, 32767).astype(np.int16) if integer else scaled.astype(np.float32)
    out = sitk.GetImageFromArray(stored)
    out.CopyInformation(like)
    sitk.WriteImage(out, str(target), useCompression=False)


def _prepared_bins(row: dict, timepoint: str, settings) -> int:
    """The reader-1 tumour's bins of width 25 on the prepared (N4, resampled) image."""
    exam = prepare_timepoint(row, timepoint, settings)
    values = sitk.GetArrayViewFromImage(exam.image)[sitk.GetArrayViewFromImage(exam.regions["intratumoral", 1]) > 0]
    return len(imageoperations.getBinEdges(values, binWidth=BIN_WIDTH)) - 1


def bins_per_image_type(study_path: Path) -> dict[str, dict[str, list[int]]]:
    """Per image type (original, wavelet-LLH, ...): the reader-1 tumour's N_g (bins of width 25 from
    its minimum to its maximum) and gray levels present, one value per exam."""
    study = load_study(study_path)
    settings = study.imaging.model_copy(update={"params": study.params_path})
    extractor = load_extractor(settings.params)
    out: dict[str, dict[str, list[int]]] = {}
    for row in load_cohort(study, require_outcome=False).to_dict("records"):
        for timepoint in TIMEPOINTS:
            exam = prepare_timepoint(row, timepoint, settings)
            mask = exam.regions["intratumoral", 1]
            inside = sitk.GetArrayViewFromImage(mask) > 0
            for image, name, kwargs in filtered_images(extractor, exam.image, mask):
                values = sitk.GetArrayViewFromImage(image)[inside]
                edges = imageoperations.getBinEdges(values, binWidth=kwargs.get("binWidth", BIN_WIDTH))
                levels = np.digitize(values, edges)
                counts = out.setdefault(name, {"bins": [], "present": []})
                counts["bins"].append(len(edges) - 1)
                counts["present"].append(len(np.unique(levels)))
    return out


def compare(bins: int, n_patients: int, shape: tuple[int, int, int], workers: int, profile: bool = True) -> dict:
    """The competent plain way and `deltarad extract --workers N` on one gray-level cohort."""
    study = graylevel_cohort(bins, n_patients, shape)
    log.info("%d bins: bins per image type ...", bins)
    counts = bins_per_image_type(study)
    log.info("%d bins: competent plain way (%d processes) ...", bins, workers)
    competent = extraction.competent_pyradiomics(study, workers)
    out = RESULTS / f"extract_{bins}bins"
    shutil.rmtree(out, ignore_errors=True)
    log.info("%d bins: deltarad extract --workers %d ...", bins, workers)
    ours = extraction.deltarad_pool_way(study, out, workers)
    rel, where = extraction.max_relative_difference(competent["features"], ours["features"])
    result = {
        "bins": bins,
        "patients": n_patients,
        "exams": n_patients * len(TIMEPOINTS),
        "shape": list(shape),
        "workers": workers,
        "competent_s": competent["wall_s"],
        "competent_exam_s": competent["exam_s"],
        "deltarad_s": ours["wall_s"],
        "speedup": competent["wall_s"] / ours["wall_s"],
        "feature_sets": len(ours["features"]),
        "features": ours["features"].shape[1] - 4,
        "max_relative_difference": rel,
        "max_relative_difference_at": where,
        "differences_by_class": extraction.differences_by_class(competent["features"], ours["features"]),
        "bins_per_image_type": counts,
    }
    if profile:
        cohort = load_cohort(load_study(study), require_outcome=False)
        patient = str(cohort["patient_id"].iloc[0])
        log.info("%d bins: profile of %s baseline on one thread ...", bins, patient)
        result["profile"] = profile_exam.profile_exam(study, patient, "baseline")
    return result


def summary(results: list[dict]) -> str:
    lines = [
        "",
        "Extraction at the gray levels of real exams (competent plain PyRadiomics way vs deltarad extract, "
        "same machine, same run):",
        f"  {'cohort':<12}{'exams':>6}{'competent s':>13}{'deltarad s':>12}{'speedup':>9}  {'GLCM share':>10}"
        f"  {'features':>9}  max rel. difference (vs the competent way: N4 differs)",
    ]
    for r in results:
        p = r.get("profile")
        share = f"{p['glcm'] / p['total']:.0%}" if p else "-"
        lines.append(
            f"  {str(r['bins']) + ' bins':<12}{r['exams']:>6}{r['competent_s']:>13.1f}{r['deltarad_s']:>12.1f}"
            f"{r['speedup']:>8.1f}x  {share:>10}  {r['features']:>9}  {r['max_relative_difference']:.1e}"
        )
    lines.append(
        "  (exams of "
        + " x ".join(map(str, results[0]["shape"]))
        + " voxels of "
        + " x ".join(map(str, EXAM_SPACING_MM))
        + f" mm, {results[0]['workers']} processes / workers; "
        "GLCM share: of one exam on one thread, benchmarks/profile_exam.py)"
    )
    lines += [
        "",
        "  Bins of width 25 across the reader-1 tumour, per image type, median (min-max) over exams; "
        "gray levels present in brackets:",
    ]
    names = list(results[0]["bins_per_image_type"])
    lines.append(f"  {'image type':<18}" + "".join(f"{str(r['bins']) + ' bins':>26}" for r in results))
    for name in names:
        cells = []
        for r in results:
            c = r["bins_per_image_type"][name]
            b, p = np.array(c["bins"]), np.array(c["present"])
            cells.append(f"{np.median(b):.0f} ({b.min()}-{b.max()}) [{np.median(p):.0f}]")
        lines.append(f"  {name:<18}" + "".join(f"{cell:>26}" for cell in cells))
    profiles = [(r["bins"], r["profile"]) for r in results if r.get("profile")]
    if profiles:
        stages = [k for k in profiles[0][1] if k not in ("masks", "total")]
        lines += [
            "",
            "  deltarad per exam on one thread (seconds):",
            f"  {'cohort':<12}" + "".join(f"{s:>10}" for s in stages) + f"{'total':>9}",
        ]
        for bins, p in profiles:
            lines.append(
                f"  {str(bins) + ' bins':<12}" + "".join(f"{p[s]:>10.2f}" for s in stages) + f"{p['total']:>9.2f}"
            )
    return "\n".join(lines)


def json_default(value):
    """numpy scalars as Python numbers for json."""
    return value.item() if hasattr(value, "item") else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bins", type=int, nargs="+", default=list(BIN_LEVELS))
    parser.add_argument("--patients", type=int, default=4, help="patients per cohort")
    parser.add_argument("--shape", type=int, nargs=3, default=list(EXAM_SHAPE), help="exam voxels (x y z)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-profile", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("deltarad", "radiomics"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    RESULTS.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = [compare(b, args.patients, tuple(args.shape), args.workers, not args.skip_profile) for b in args.bins]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = summary(results)
    (RESULTS / f"graylevels-{stamp}.json").write_text(json.dumps(results, indent=2, default=json_default) + "\n")
    (RESULTS / f"graylevels-{stamp}.txt").write_text(text + "\n")
    print(text)
    log.info("done in %.0f s; results in %s", time.perf_counter() - start, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
