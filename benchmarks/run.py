"""deltarad benchmarks (`make bench`): extraction speed against the competent plain PyRadiomics way
(a process per core, preCrop) and the serial plain way, memory, a per-stage profile per exam,
1 -> 2 worker scaling, and the modelling stage. Not part of `make test`: it takes minutes.

Writes benchmarks/results/ (generated cohorts are kept there and reused) and prints a summary.

    python benchmarks/run.py [--patients 4] [--quick] [--skip-extraction] [--skip-graylevels] [--skip-n4]
                             [--skip-big-exam] [--skip-modelling] [--skip-profile]

The gray-level comparison (benchmarks/graylevels.py: cohorts whose tumours span 30, 100 and 300
bins of width 25, the competent way against `deltarad extract`, with the bin counts per image
type) runs on --patients patients per cohort (it takes tens of minutes at 300 bins, where
PyRadiomics' GLCM alone takes about a minute per mask and wavelet band).

--quick: the extraction table (competent, serial, deltarad on 2 workers, its PyRadiomics-classes
run), the per-stage profile and the 512 x 512 x 200 exam; no 1-worker or ITK-N4 runs, no N4
comparison, no modelling (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import extraction  # noqa: E402
import graylevels  # noqa: E402
import modelling  # noqa: E402
import n4  # noqa: E402
import profile_exam  # noqa: E402
from deltarad import __version__  # noqa: E402
from deltarad.features.delta import TIMEPOINTS  # noqa: E402
from deltarad.parallel import machine_cores  # noqa: E402
from deltarad.synthetic import generate_cohort  # noqa: E402

RESULTS = HERE / "results"
BIG_EXAM_SHAPE = (512, 512, 200)
BIG_EXAM_SPACING_MM = (0.7, 0.7, 1.0)  # a 358 mm breast field of view, 1 mm slices


#: issue 15's exams: 256 x 256 x 112 voxels of 0.9 x 0.9 x 1.2 mm, 8 phases
EXAM_SHAPE = (256, 256, 112)
EXAM_SPACING_MM = (0.9, 0.9, 1.2)


def realistic_cohort(n_patients: int) -> Path:
    """256 x 256 x 112 exams of 0.9 x 0.9 x 1.2 mm, 8 phases, tumours of 1-5 cm (generated once;
    seed 0 and 4 patients give tumours of 18-36 mm and 24 feature sets)."""
    folder = RESULTS / f"cohort_256x256x112_{n_patients}"
    study = folder / "study.yaml"
    if not study.is_file():
        generate_cohort(
            folder,
            n_patients=n_patients,
            seed=0,
            realistic=True,
            shape=EXAM_SHAPE,
            spacing_mm=EXAM_SPACING_MM,
            workers=machine_cores(),
        )
    return study


def big_exam_cohort() -> Path:
    """One patient with 512 x 512 x 200 exams (4 phases; the 3rd post-injection one is analysed)."""
    folder = RESULTS / "cohort_512x512x200"
    study = folder / "study.yaml"
    if not study.is_file():
        generate_cohort(
            folder, n_patients=1, seed=0, shape=BIG_EXAM_SHAPE, spacing_mm=BIG_EXAM_SPACING_MM, n_phases=4, workers=1
        )
    return study


#: deltarad's runs: name -> (workers, imaging settings over the study's). "deltarad" is the
#: default; "pyradiomics-classes" runs PyRadiomics' own feature classes (features.engine:
#: pyradiomics) in deltarad's pipeline, "itk-n4" SimpleITK's N4 (pinned to 1 thread).
DELTARAD_RUNS = {
    "deltarad_1w": (1, {}),
    "deltarad_2w": (2, {}),
    "pyradiomics-classes_2w": (2, {"feature_engine": "pyradiomics"}),
    "itk-n4_2w": (2, {"n4_implementation": "itk"}),
    "deltarad-pool_2w": (2, {}),
}
#: runs on the embedded forked pool, as `deltarad extract --workers N` (start included), not on a warmed Dask cluster
POOL_RUNS = {"deltarad-pool_2w"}
QUICK_RUNS = ("deltarad_2w", "pyradiomics-classes_2w", "deltarad-pool_2w")
RUN_LABELS = {
    "deltarad": "deltarad",
    "pyradiomics-classes": "deltarad, PyRadiomics' classes",
    "itk-n4": "deltarad with ITK's N4",
    "deltarad-pool": "deltarad extract, forked pool",
}
#: (reference, other) feature comparisons reported per feature class.
COMPARISONS = [
    ("pyradiomics-classes_2w", "deltarad_2w"),
    ("plain", "deltarad_2w"),
    ("competent", "deltarad_2w"),
    ("plain", "itk-n4_2w"),
]


def bench_extraction(n_patients: int, quick: bool = False, profile: bool = True) -> dict:
    study = realistic_cohort(n_patients)
    cores = machine_cores()
    log.info("competent plain way (%d processes, preCrop) on %d patients ...", cores, n_patients)
    competent = extraction.competent_pyradiomics(study, cores)
    log.info("serial plain PyRadiomics way on %d patients ...", n_patients)
    plain, plain_s = extraction.plain_pyradiomics(study)
    runs = {}
    for name, (workers, imaging) in DELTARAD_RUNS.items():
        if quick and name not in QUICK_RUNS:
            continue
        out = RESULTS / f"extract_{name}"
        shutil.rmtree(out, ignore_errors=True)
        log.info("deltarad %s ...", name)
        runs[name] = (
            extraction.deltarad_pool_way(study, out, workers)
            if name in POOL_RUNS
            else extraction.deltarad_way(study, out, workers, imaging)
        )
    features = {"plain": plain, "competent": competent["features"], **{name: r["features"] for name, r in runs.items()}}
    rel, where = extraction.max_relative_difference(features["pyradiomics-classes_2w"], runs["deltarad_2w"]["features"])
    exams = n_patients * len(TIMEPOINTS)
    result = {
        "patients": n_patients,
        "exams": exams,
        "feature_sets": len(plain),
        "cores": cores,
        "serial_s": plain_s,
        "competent": {
            "workers": cores,
            "wall_s": competent["wall_s"],
            "worker_peak_rss_mib": competent["peak_rss_mib"],
            "exam_s": competent["exam_s"],
        },
        "runs": {
            name: {
                "workers": DELTARAD_RUNS[name][0],
                "imaging": DELTARAD_RUNS[name][1],
                "wall_s": r["wall_s"],
                "vs_competent": competent["wall_s"] / r["wall_s"],
                "vs_serial": plain_s / r["wall_s"],
                "cluster_start_s": r["startup_s"],
                "worker_idle_rss_mib": r["idle_rss_mib"],
                "worker_peak_rss_mib": r["peak_rss_mib"],
            }
            for name, r in runs.items()
        },
        "max_relative_difference_engines": rel,
        "max_relative_difference_engines_at": where,
        "differences_by_class": {
            f"{ref} -> {other}": extraction.differences_by_class(features[ref], features[other])
            for ref, other in COMPARISONS
            if ref in features and other in features
        },
    }
    if "deltarad_1w" in runs:
        result["scaling_1w_to_2w"] = runs["deltarad_1w"]["wall_s"] / runs["deltarad_2w"]["wall_s"]
        result["features_csv_same_bytes_1w_2w"] = (RESULTS / "extract_deltarad_1w" / "features.csv").read_bytes() == (
            RESULTS / "extract_deltarad_2w" / "features.csv"
        ).read_bytes()
    if profile:
        log.info("per-stage profile of every exam (1 thread) ...")
        result["profile"] = profile_cohort(study)
    return result


def profile_cohort(study: Path) -> list[dict]:
    """profile_exam of every exam of the cohort, deltarad's default settings, in this process."""
    from deltarad.cohort import load_cohort
    from deltarad.config import load_study

    cohort = load_cohort(load_study(study), require_outcome=False)
    return [
        {"exam": f"{pid} {timepoint}", **profile_exam.profile_exam(study, pid, timepoint)}
        for pid in cohort["patient_id"].astype(str)
        for timepoint in TIMEPOINTS
    ]


def bench_n4(n_patients: int) -> list[dict]:
    log.info("N4 alone: SimpleITK on %s threads and deltarad ...", "/".join(map(str, n4.ITK_THREADS)))
    return n4.compare_n4(realistic_cohort(n_patients))


def bench_big_exam() -> dict:
    study = big_exam_cohort()
    out = RESULTS / "extract_512x512x200"
    shutil.rmtree(out, ignore_errors=True)
    log.info("deltarad on a 512 x 512 x 200 exam (1 worker) ...")
    run = extraction.deltarad_way(study, out, 1)
    return {
        "shape": "x".join(map(str, BIG_EXAM_SHAPE)),
        "spacing_mm": "x".join(map(str, BIG_EXAM_SPACING_MM)),
        "s_per_exam": run["wall_s"] / 2,
        "worker_idle_rss_mib": run["idle_rss_mib"],
        "worker_peak_rss_mib": run["peak_rss_mib"],
    }


def bench_modelling() -> list[dict]:
    rows = []
    for n in (187, 5000):
        study = modelling.feature_study(RESULTS / f"feature_study_{n}", n)
        log.info("modelling on %d patients ...", n)
        rows.append(modelling.time_modelling(study, RESULTS / f"modelling_{n}"))
    return rows


def extraction_summary(e: dict) -> list[str]:
    exams = e["exams"]
    lines = [
        "",
        f"Extraction: {e['patients']} generated patients ({' x '.join(map(str, EXAM_SHAPE))} voxels of "
        f"{' x '.join(map(str, EXAM_SPACING_MM))} mm, 8 phases), {exams} exams, {e['feature_sets']} feature sets of 851",
        f"  {'way':<44}{'wall s':>8}{'s / exam':>10}{'vs competent':>14}{'vs serial':>11}{'peak MiB/worker':>17}",
    ]
    c = e["competent"]
    rows = [
        ("plain PyRadiomics, serial", e["serial_s"], None),
        (f"competent plain PyRadiomics, {c['workers']} processes", c["wall_s"], c["worker_peak_rss_mib"]),
    ]
    for name, r in e["runs"].items():
        label = f"{RUN_LABELS[name.rsplit('_', 1)[0]]}, {r['workers']} worker{'s' if r['workers'] > 1 else ''}"
        rows.append((label, r["wall_s"], r["worker_peak_rss_mib"]))
    for label, wall, peak in rows:
        lines.append(
            f"  {label:<44}{wall:>8.1f}{wall / exams:>10.2f}{c['wall_s'] / wall:>13.1f}x{e['serial_s'] / wall:>10.1f}x"
            + (f"{peak:>17.0f}" if peak is not None else "")
        )
    lines += [
        "  (competent = a process per core on 1 ITK + 1 BLAS thread each, SimpleITK's N4 on the exam shrunk 4x, "
        "50/40/30 iterations, 1 mm resampling and regions on the whole exam, execute per mask with preCrop;",
        "   serial = the same one exam after another, N4 on all cores' threads, without preCrop; deltarad = the default: "
        "its N4, crop, filters once per exam, its feature engine; target >= 10x the competent way)",
        f"  competent way per exam (one process): {min(c['exam_s']):.1f} - {max(c['exam_s']):.1f} s",
    ]
    if "scaling_1w_to_2w" in e:
        lines += [
            f"  scaling 1 -> 2 workers: {e['scaling_1w_to_2w']:.2f}x",
            f"  features.csv identical bytes with 1 and 2 workers: {e['features_csv_same_bytes_1w_2w']}",
        ]
    lines += [
        f"  features: deltarad's engine vs PyRadiomics' classes, max relative difference "
        f"{e['max_relative_difference_engines']:.1e} at {e['max_relative_difference_engines_at']} (stated tolerance 1e-9)",
        "  relative feature differences per class, median / 99th percentile / max:",
    ]
    comparisons = list(e["differences_by_class"])
    classes = list(e["differences_by_class"][comparisons[0]])
    lines.append(f"  {'class':<12}" + "".join(f"{c:>36}" for c in comparisons))
    for cls in classes:
        cells = [e["differences_by_class"][c][cls] for c in comparisons]
        lines.append(
            f"  {cls:<12}" + "".join(f"{d['median']:.0e} / {d['p99']:.0e} / {d['max']:.0e}".rjust(36) for d in cells)
        )
    lines.append("  |difference| / the feature's SD across exams of its region, 99th percentile / max:")
    for cls in classes:
        cells = [e["differences_by_class"][c][cls] for c in comparisons]
        lines.append(f"  {cls:<12}" + "".join(f"{d['sd_p99']:.0e} / {d['sd_max']:.0e}".rjust(36) for d in cells))
    profile = e.get("profile")
    if profile:
        stages = [k for k in profile[0] if k not in ("exam", "masks", "total")]
        lines += [
            "",
            "deltarad per exam on one thread (seconds, by timers; body = air threshold, air and body masks):",
            f"  {'exam':<16}{'masks':>6}" + "".join(f"{s:>10}" for s in stages) + f"{'total':>9}",
        ]
        for row in profile + [
            {"exam": "mean", **{k: sum(r[k] for r in profile) / len(profile) for k in profile[0] if k != "exam"}}
        ]:
            lines.append(
                f"  {row['exam']:<16}{row['masks']:>6.0f}"
                + "".join(f"{row[s]:>10.2f}" for s in stages)
                + f"{row['total']:>9.2f}"
            )
    return lines


def summary(results: dict) -> str:
    lines = [
        f"deltarad {__version__} benchmarks on {platform.node()}: {machine_cores()} cores, Python {platform.python_version()}"
    ]
    e = results.get("extraction")
    if e:
        lines += extraction_summary(e)
    if results.get("graylevels"):
        lines.append(graylevels.summary(results["graylevels"]))
    rows = results.get("n4")
    if rows:
        threads = n4.ITK_THREADS
        lines += [
            "",
            "N4 alone per exam (shrink 4, 50/40/30 iterations): seconds, and max |log field difference|",
            "  exam               ITK "
            + "/".join(f"{k}t" for k in threads)
            + " s     deltarad s   "
            + "   ".join(f"ITK {k}t vs 1t" for k in threads[1:])
            + "   "
            + "   ".join(f"deltarad vs ITK {k}t" for k in threads),
        ]
        for r in rows:
            lines.append(
                f"  {r['exam']:<18} "
                + "/".join(f"{r[f'itk_{k}t_s']:.1f}" for k in threads).ljust(16)
                + f"{r['deltarad_s']:>8.2f}     "
                + "".join(f"{r[f'itk_{k}t_vs_itk_1t']:.1e}".ljust(16) for k in threads[1:])
                + "".join(f"{r[f'deltarad_vs_itk_{k}t']:.1e}".ljust(21) for k in threads)
                + f"(field range {r['field_range']:.2f})"
            )
    b = results.get("big_exam")
    if b:
        lines += [
            "",
            f"{b['shape']} exam ({b['spacing_mm']} mm): {b['s_per_exam']:.1f} s per exam, peak memory per worker "
            f"{b['worker_peak_rss_mib']:.0f} MiB (imports alone {b['worker_idle_rss_mib']:.0f} MiB; target < 2048)",
        ]
    m = results.get("modelling")
    if m:
        lines += [
            "",
            "Modelling (delta, selection, models, statistics, tables; no report):",
            f"  {'patients':>8}{'delta feats':>12}{'read CSV s':>11}{'delta s':>9}{'fit s':>8}{'tables s':>9}{'total s':>9}",
        ]
        for r in m:
            lines.append(
                f"  {r['patients']:>8}{r['delta_features']:>12}{r['read_csv_s']:>11.1f}{r['delta_s']:>9.1f}"
                f"{r['fit_s']:>8.1f}{r['tables_s']:>9.1f}{r['modelling_s']:>9.1f}"
            )
        lines.append("  (total = delta + fit + tables, the CSV read apart; target < 60 s at 5,000 patients)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=4, help="patients of the extraction benchmark")
    parser.add_argument("--quick", action="store_true", help="the extraction table, profile and big exam only")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-extraction", action="store_true")
    parser.add_argument("--skip-graylevels", action="store_true")
    parser.add_argument("--skip-n4", action="store_true")
    parser.add_argument("--skip-big-exam", action="store_true")
    parser.add_argument("--skip-modelling", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("deltarad", "radiomics", "pykwalify", "distributed"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("radiomics").setLevel(logging.ERROR)  # "GLCM is symmetrical ..." once per mask and filter
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    start = time.perf_counter()
    if not args.skip_extraction:
        results["extraction"] = bench_extraction(args.patients, quick=args.quick, profile=not args.skip_profile)
    if not (args.skip_graylevels or args.quick):
        results["graylevels"] = [
            graylevels.compare(
                bins, args.patients, graylevels.EXAM_SHAPE, machine_cores(), profile=not args.skip_profile
            )
            for bins in graylevels.BIN_LEVELS
        ]
    if not (args.skip_n4 or args.quick):
        results["n4"] = bench_n4(args.patients)
    if not args.skip_big_exam:
        results["big_exam"] = bench_big_exam()
    if not (args.skip_modelling or args.quick):
        results["modelling"] = bench_modelling()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(results, indent=2, default=graylevels.json_default) + "\n")
    text = summary(results)
    (RESULTS / f"bench-{stamp}.txt").write_text(text + "\n")
    print(text)
    log.info("benchmarks done in %.0f s; results in %s", time.perf_counter() - start, RESULTS)
    return 0


log = logging.getLogger("bench")

if __name__ == "__main__":
    sys.exit(main())
