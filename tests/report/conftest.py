"""Run folders to build reports from.

`make_run_folder`: a plausible finished run folder, as `deltarad run` writes it with internal
validation switched on. Predictions carry real signal (the radscores separate the outcomes about
as well as the study's), and Table 3 is computed from them with the statistics library, so the
figures and the table agree.

`cli_runs`: a development run and an external validation written by the real CLI (`deltarad run`,
`deltarad validate`) on two generated feature-table cohorts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deltarad.atomic import write_csv, write_json
from deltarad.simulate import generate_feature_study
from deltarad.stats.roc import delong_ci, delong_test, youden_threshold

OUTCOME = "aln_pcr"
STUDY_FUNNEL = {
    "intratumoral": [851, 816, 715, 616, 136, 9],
    "peritumoral": [851, 845, 618, 75, 35, 4],
}
STEPS = ["features", "delta", "icc", "ttest", "correlation", "lasso"]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _predictions(rng: np.random.Generator, n: int) -> pd.DataFrame:
    y = (rng.random(n) < 0.54).astype(int)
    sets = np.array(["training"] * n, dtype=object)
    sets[rng.permutation(n)[: round(0.3 * n)]] = "validation"
    # Ultrasound read with about the study's sensitivity (0.48) and specificity (0.77).
    us_read = np.where(y == 1, rng.random(n) < 0.48, rng.random(n) < 0.23).astype(int)
    lin_dir = 1.6 * (y - 0.5) * 2 + rng.normal(0, 1.4, n)
    lin_dpr = 0.9 * (y - 0.5) * 2 + rng.normal(0, 1.4, n)
    train = sets == "training"
    us_prob = np.where(us_read == 1, y[train & (us_read == 1)].mean(), y[train & (us_read == 0)].mean())
    return pd.DataFrame(
        {
            "patient_id": [f"DEMO{i:03d}" for i in range(n)],
            "set": sets,
            OUTCOME: y,
            "radscore_dir": _sigmoid(lin_dir),
            "radscore_dpr": _sigmoid(lin_dpr),
            "us": us_prob,
            "combined": _sigmoid(0.8 * lin_dir + 0.6 * lin_dpr + 1.0 * (us_read - 0.5)),
        }
    )


def _table3(pred: pd.DataFrame) -> pd.DataFrame:
    models = ["combined", "radscore_dir", "radscore_dpr", "us"]
    train = pred[pred["set"] == "training"]
    cut = {m: youden_threshold(train[OUTCOME], train[m]) for m in models}
    rows = []
    for s in ("training", "validation"):
        part = pred[pred["set"] == s]
        y = part[OUTCOME].to_numpy()
        for m in models:
            score = part[m].to_numpy()
            auc, low, high = delong_ci(y, score)
            pos = score >= cut[m]
            tp, fp = int((pos & (y == 1)).sum()), int((pos & (y == 0)).sum())
            tn, fn = int((~pos & (y == 0)).sum()), int((~pos & (y == 1)).sum())
            p = np.nan if m == "us" else delong_test(y, score, part["us"].to_numpy())[1]
            rows.append(
                {
                    "set": s,
                    "model": m,
                    "auc": auc,
                    "auc_ci_low": low,
                    "auc_ci_high": high,
                    "threshold": cut[m],
                    "accuracy": (tp + tn) / len(y),
                    "sensitivity": tp / (tp + fn),
                    "specificity": tn / (tn + fp),
                    "ppv": tp / max(tp + fp, 1),
                    "npv": tn / max(tn + fn, 1),
                    "tp": tp,
                    "fp": fp,
                    "tn": tn,
                    "fn": fn,
                    "delong_p": p,
                    "idi": np.nan if m == "us" else 0.1,
                    "idi_p": np.nan if m == "us" else 0.0004,
                    "nri": np.nan if m == "us" else 0.35,
                }
            )
    return pd.DataFrame(rows)


# Internal validation as validation.py writes it: 200 bootstrap resamples, 10 x 5-fold CV.
VALIDATION_COLUMNS = [
    "model",
    "metric",
    "apparent",
    "optimism",
    "corrected",
    "bootstrap_n",
    "cv_mean",
    "cv_sd",
    "cv_n",
    "split_validation",
]
VALIDATION = [
    (model, metric, apparent, optimism, apparent - optimism, 200, cv_mean, cv_sd, 50, split)
    for model, rows in {
        "radscore_dir": [
            ("auc", 0.844, 0.071, 0.768, 0.061, 0.773),
            ("calibration_slope", 1.0, 0.262, 0.69, 0.21, 0.74),
            ("brier", 0.172, -0.021, 0.195, 0.018, 0.190),
        ],
        "radscore_dpr": [
            ("auc", 0.797, 0.083, 0.705, 0.072, 0.728),
            ("calibration_slope", 1.0, 0.301, 0.62, 0.25, 0.66),
            ("brier", 0.190, -0.024, 0.214, 0.020, 0.210),
        ],
        "us": [
            ("auc", 0.625, 0.004, 0.618, 0.055, 0.590),
            ("calibration_slope", 1.0, 0.021, 0.93, 0.30, 0.88),
            ("brier", 0.236, -0.003, 0.240, 0.012, 0.243),
        ],
        "combined": [
            ("auc", 0.912, 0.061, 0.847, 0.048, 0.855),
            ("calibration_slope", 1.0, 0.231, 0.75, 0.19, 0.79),
            ("brier", 0.131, -0.019, 0.152, 0.016, 0.149),
        ],
    }.items()
    for metric, apparent, optimism, cv_mean, cv_sd, split in rows
]


def _selection_frequency(rng: np.random.Generator, final: list[tuple[str, str]]) -> pd.DataFrame:
    """Final features selected often, a few others now and then, as validation.py writes them."""
    others = [(r, f"wavelet-LLL_glrlm_Feature{k}") for r in ("intratumoral", "peritumoral") for k in range(8)]
    rows = [
        {
            "region": r,
            "feature": f,
            "bootstrap_frequency": rng.uniform(0.45, 1.0),
            "cv_frequency": rng.uniform(0.4, 1.0),
            "in_final_model": True,
        }
        for r, f in final
    ]
    rows += [
        {
            "region": r,
            "feature": f,
            "bootstrap_frequency": rng.uniform(0.01, 0.5),
            "cv_frequency": rng.uniform(0.0, 0.5),
            "in_final_model": False,
        }
        for r, f in others
    ]
    return pd.DataFrame(rows).sort_values(["region", "bootstrap_frequency"], ascending=[True, False])


AIR_PATIENT = "DEMO005"  # its tumour sits at the body surface: the ring reaches into air


@pytest.fixture(scope="session")
def air_patient() -> str:
    """The fixture cohort's patient whose ring reaches into air (flagged first in the QC gallery)."""
    return AIR_PATIENT


FEATURE_CLASSES = ("firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm")


def _real_exam_qc(folder: Path) -> dict[str, dict]:
    """Region QC of real preprocessed phantom exams (read, N4, 1 mm, regions of two readers): an
    ordinary tumour and one at the body surface, each at baseline and early."""
    import SimpleITK as sitk

    from deltarad.config import ImagingSettings
    from deltarad.features.extract import prepare_timepoint
    from deltarad.features.region_qc import exam_qc
    from deltarad.imaging.phantom import breast_phantom
    from deltarad.runfolder import qc_paths, write_exam_qc

    out = {}
    for name, offset in (("ordinary", 10.0), ("air", -26.0)):
        row = {"patient_id": name}
        for tp, radius in (("baseline", 8.0), ("early", 6.5)):
            image, mask = breast_phantom(tumour_radius_mm=radius, tumour_offset_mm=(0.0, offset, 0.0))
            for key, im in (
                (f"{tp}_image", image),
                (f"{tp}_mask", mask),
                (f"{tp}_mask_reader2", sitk.BinaryErode(mask, [1, 1, 0])),
            ):
                sitk.WriteImage(im, str(folder / f"{name}_{key}.nrrd"))
                row[key] = str(folder / f"{name}_{key}.nrrd")
            exam = prepare_timepoint(row, tp, ImagingSettings())
            qc = exam_qc(exam.image, exam.regions, name, tp, 3.0)
            write_exam_qc(folder / "regions", qc)
            numbers = qc.numbers
            out[name, tp] = {"numbers": numbers, "png": qc_paths(folder / "regions", name, tp)[0].read_bytes()}
    return out


def _regions_and_delta(
    path: Path, pred: pd.DataFrame, features: list[tuple[str, str]], rng: np.random.Generator
) -> None:
    """regions/<patient>/qc_<timepoint>.png/.json for every analysed patient (the phantom's images,
    each patient's own numbers) and delta_features.csv with two readers."""
    import json

    from deltarad.atomic import write_bytes, write_text

    phantoms = path.parent / f"{path.name}-phantoms"
    phantoms.mkdir(parents=True, exist_ok=True)
    exams = _real_exam_qc(phantoms)
    base_ml = rng.lognormal(np.log(3.0), 0.4, len(pred))
    shrink = np.clip(rng.normal(-0.35, 0.12, len(pred)), -0.9, 0.5)
    for i, pid in enumerate(pred["patient_id"]):
        kind = "air" if pid == AIR_PATIENT else "ordinary"
        for tp, ml in (("baseline", base_ml[i]), ("early", base_ml[i] * (1 + shrink[i]))):
            numbers = json.loads(json.dumps(exams[kind, tp]["numbers"]))
            numbers.update(patient_id=pid)
            numbers["readers"]["1"]["tumour_ml"] = float(ml)
            numbers["dice"] = float(np.clip(rng.normal(0.86, 0.04), 0.72, 0.97))
            numbers["hd95_mm"] = float(rng.gamma(4, 0.4))
            write_bytes(path / "regions" / pid / f"qc_{tp}.png", exams[kind, tp]["png"])
            write_text(path / "regions" / pid / f"qc_{tp}.json", json.dumps(numbers))
    names = sorted(
        {f for _, f in features}
        | {"original_shape_MeshVolume"}
        | {f"original_{c}_Feature{k}" for c in FEATURE_CLASSES for k in range(3)}
    )
    rows = []
    for i, pid in enumerate(pred["patient_id"]):
        for region in ("intratumoral", "peritumoral"):
            values = dict(zip(names, rng.normal(0, 1, len(names))))
            values["original_shape_MeshVolume"] = shrink[i]
            values["wavelet-LLH_glcm_Idmn"] = -shrink[i] + rng.normal(0, 0.05)  # a feature that is only shrinkage
            for reader, noise in ((1, 0.0), (2, 0.25)):
                rows.append(
                    {
                        "patient_id": pid,
                        "region": region,
                        "reader": reader,
                        **{k: v + rng.normal(0, noise) for k, v in values.items()},
                    }
                )
    write_csv(path / "delta_features.csv", pd.DataFrame(rows))


def _tables_1_2(path: Path, pred: pd.DataFrame, rng: np.random.Generator) -> None:
    """Tables 1 and 2 as `deltarad run` writes them (the statistics library's long tables)."""
    from deltarad.stats.tables import table1, table2

    y = pred[OUTCOME].to_numpy()
    data = pred.assign(
        age=np.round(rng.normal(50, 10, len(pred))),
        subtype=np.where(rng.random(len(pred)) < 0.3 + 0.2 * y, "HER2-positive", "luminal"),
        us_post_nat=(pred["us"] > pred["us"].mean()).astype(int),
    )
    variables = ["age", "subtype", "us_post_nat", "radscore_dir", "radscore_dpr"]
    write_csv(
        path / "tables" / "table1.csv",
        table1(data, OUTCOME, by="set", variables=variables, categorical=["subtype", "us_post_nat"]),
    )
    write_csv(
        path / "tables" / "table2.csv",
        table2(data[data["set"] == "training"], OUTCOME, variables=variables, categorical=["subtype", "us_post_nat"]),
    )


def make_run_folder(path: Path, n: int = 187, seed: int = 0) -> Path:
    """Write every file of a finished run into `path`; return it."""
    rng = np.random.default_rng(seed)
    pred = _predictions(rng, n)
    write_csv(path / "predictions.csv", pred)
    write_csv(path / "split.csv", pred[["patient_id", "set"]])
    write_csv(
        path / "selection.csv",
        pd.DataFrame(
            [
                {"region": r, "step": s, "n_features": k, "note": ""}
                for r, ks in STUDY_FUNNEL.items()
                for s, k in zip(STEPS, ks)
            ]
        ),
    )
    features = (
        [("intratumoral", f"wavelet-{b}_glcm_Idmn") for b in ("LLH", "LHL", "HLL", "HHH", "LLL")]
        + [
            ("intratumoral", f"original_{f}")
            for f in ("firstorder_Skewness", "glszm_ZoneEntropy", "shape_Sphericity", "gldm_DependenceVariance")
        ]
        + [
            ("peritumoral", f"wavelet-HLH_{f}")
            for f in ("firstorder_Mean", "glrlm_RunEntropy", "ngtdm_Busyness", "glcm_ClusterShade")
        ]
    )
    write_csv(
        path / "selected_features.csv",
        pd.DataFrame([{"region": r, "feature": f, "coefficient": rng.normal(0, 0.6)} for r, f in features]),
    )
    write_csv(path / "tables" / "selection_frequency.csv", _selection_frequency(rng, features))
    write_csv(path / "tables" / "validation.csv", pd.DataFrame(VALIDATION, columns=VALIDATION_COLUMNS))
    write_csv(
        path / "failures.csv",
        pd.DataFrame([{"patient_id": "DEMO999", "stage": "imaging", "error": "early exam: phase 3 missing"}]),
    )
    flow = [{"stage": "cohort file", "n": n + 1, "detail": ""}, {"stage": "excluded", "n": 1, "detail": "imaging"}]
    for s in ("training", "validation"):
        part = pred[pred["set"] == s]
        flow.append(
            {"stage": s, "n": len(part), "detail": f"{part[OUTCOME].sum()} pCR / {(part[OUTCOME] == 0).sum()} non-pCR"}
        )
    write_csv(path / "cohort_flow.csv", pd.DataFrame(flow))
    _tables_1_2(path, pred, rng)
    _regions_and_delta(path, pred, features, rng)
    from deltarad.config import Study
    from deltarad.outputs import write_study_record
    from deltarad.record import study_record

    write_study_record(
        path,
        study_record(
            Study(
                cohort=Path("cohort.csv"),
                name="Demo-like ALN pCR study",
                file_name="demo.yaml",
                outcome=OUTCOME,
                ultrasound="us_post_nat",
            )
        ),
    )
    table3 = _table3(pred)
    write_csv(path / "tables" / "table3.csv", table3)
    write_json(
        path / "model.json",
        {
            "outcome": OUTCOME,
            "ultrasound": "us_post_nat",
            "settings": {
                "split": {"validation_fraction": 0.3, "seed": 0},
                "selection": {
                    "icc_min": 0.8,
                    "ttest_p": 0.05,
                    "ttest": "welch",
                    "corr_max": 0.9,
                    "lasso_folds": 10,
                    "lasso_rule": "min",
                    "lasso_seed": 0,
                },
                "imaging": {"phase": 3, "ring_mm": 3.0, "resample_mm": [1.0, 1.0, 1.0]},
            },
            "combined": {
                "terms": ["us_post_nat", "radscore_dir", "radscore_dpr"],
                "intercept": -2.9,
                "variables": {
                    "us_post_nat": {"type": "numeric", "range": [0, 1]},
                    "radscore_dir": {"type": "numeric", "range": [0.02, 0.97]},
                    "radscore_dpr": {"type": "numeric", "range": [0.05, 0.93]},
                },
                "coefficients": {"us_post_nat": 1.0, "radscore_dir": 4.4, "radscore_dpr": 2.1},
                "aic": 107.2,
                "path": [{"step": "start", "aic": 112.0}],
            },
            "thresholds": {m: float(t) for m, t in zip(table3["model"], table3["threshold"])},
            "software": {"deltarad": "0.1.0", "numpy": np.__version__, "pandas": pd.__version__},
        },
    )
    return path


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_folder(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="session")
def report(run_folder: Path) -> Path:
    """The report built once from the fixture run, shared by the tests that only read it."""
    from deltarad.report.html import build_report

    return build_report(run_folder)


@pytest.fixture(scope="session")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`deltarad run` (with a small internal validation) on one generated cohort, then `deltarad
    validate` of its model.json on a second cohort (another seed); the folders and the study files."""
    from typer.testing import CliRunner

    from deltarad.cli import app

    root = tmp_path_factory.mktemp("cli")
    development = generate_feature_study(root / "development", n_patients=90, n_features=30, seed=1)
    with development.open("a", encoding="utf-8") as study:
        study.write("validation:\n  bootstrap: 2\n  cv_folds: 2\n  cv_repeats: 1\n  workers: 1\n")
    external = generate_feature_study(root / "external", n_patients=90, n_features=30, seed=2)
    runner = CliRunner()
    for args in (
        ["run", str(development), "--out", str(root / "run")],
        ["report", str(root / "run")],
        ["validate", str(root / "run" / "model.json"), str(external), "--out", str(root / "ext")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"deltarad {' '.join(args)}: {result.output}"
    return {"run": root / "run", "ext": root / "ext", "development_study": development, "external_study": external}
