"""Patient sheets for the tumour board (`deltarad predict ... --sheets`): one self-contained HTML
page per scored patient that prints on one A4 page. It shows the cohort's pseudonym only (the
patient_id column), the exams' region QC images (when this run extracted them), the radscores
and the reference models' columns (the study's: the ultrasound read), the combined probability
against the model's Youden cut-off with the nomogram points behind it, and where the model comes
from (its validation AUC when its run folder has Table 3, the file's SHA-256 and date)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from deltarad import __version__, outputs, runfolder
from deltarad.design import ULTRASOUND_COLUMN
from deltarad.errors import DeltaradError
from deltarad.formatting import format_value
from deltarad.modeling.modelfile import model_design
from deltarad.report.nomogram import nomogram_scales, term_labels
from deltarad.report.run import radscore_variable_labels
from deltarad.runfolder import qc_paths


def model_provenance(model_path: Path) -> dict:
    """SHA-256 and date of the model file, and its validation-set AUC of the combined model from
    tables/table3.csv beside it (the run folder), if there."""
    data = Path(model_path).read_bytes()
    modified = dt.datetime.fromtimestamp(Path(model_path).stat().st_mtime, tz=dt.UTC)
    out = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "date": modified.strftime("%Y-%m-%d %H:%M UTC"),
        "auc": None,
        "auc_source": "not stored with the model file (no tables/table3.csv beside it)",
    }
    t3 = Path(model_path).parent / runfolder.TABLE3
    if t3.is_file():
        try:
            table = pd.read_csv(t3)
            row = table[(table["set"].astype(str) == "validation") & (table["model"].astype(str) == "combined")]
            if len(row):
                r = row.iloc[0]
                out["auc"] = (
                    f"{format_value(r['auc'])} ({format_value(r.get('auc_ci_low'))}–"
                    f"{format_value(r.get('auc_ci_high'))})"
                )
                out["auc_source"] = "validation set of the model's run (tables/table3.csv, DeLong 95% CI)"
        except (pd.errors.ParserError, KeyError, ValueError, TypeError):
            out["auc_source"] = "tables/table3.csv beside the model file is unreadable"
    return out


def nomogram_points(model: dict, values: dict) -> list[dict]:
    """Points of each combined-model term for one patient on the nomogram's scales
    (deltarad.report.nomogram): (beta * value - the term's smallest contribution) / LP per point."""
    nomo = nomogram_scales(model)
    combined = model["combined"]
    beta = combined["coefficients"]
    rows: list[dict[str, Any]] = []
    names = term_labels(model)
    for term in nomo.terms:
        enc = combined["variables"][term.name]
        value = values.get(term.name)
        if enc["type"] == "categorical":
            level = str(value)
            if level not in [str(v) for v in term.values]:
                raise DeltaradError(f"value {value!r} of '{term.name}' is not a level of the model")
            contribution = 0.0 if level == str(term.values[0]) else beta[f"{term.name}[{level}]"]
        else:
            contribution = beta[term.name] * float(value)  # type: ignore[arg-type]  # numeric terms are checked present
        points = (contribution - term.contributions.min()) / nomo.lp_per_point
        rows.append({"term": names.get(term.name, term.name), "value": value, "points": float(points)})
    total = sum(float(r["points"]) for r in rows)
    rows.append({"term": "Total points", "value": "", "points": total, "probability": float(nomo.probability(total))})
    return rows


def sheet_name(patient_id: str) -> str:
    """A file name of the pseudonym (characters other than letters, digits, . _ - become _)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(patient_id)) or "_"


def _png(path: Path) -> str | None:
    return base64.b64encode(path.read_bytes()).decode("ascii") if path.is_file() else None


def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("deltarad.report", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["value"] = format_value
    return env.get_template("sheet.html.j2")


def write_sheets(
    model_path: Path,
    model: dict,
    cohort: pd.DataFrame,
    predictions: pd.DataFrame,
    out_dir: Path,
    regions_dir: Path | None = None,
) -> list[Path]:
    """One sheet per row of `predictions` in out_dir/sheets/<patient>.html. `cohort` gives the
    references' columns (the ultrasound read) and the clinical terms; the QC images are read from `regions_dir` (default
    out_dir/regions/, where extraction wrote them)."""
    regions_dir = Path(regions_dir) if regions_dir is not None else Path(out_dir) / runfolder.REGIONS
    provenance = model_provenance(model_path)
    cut = (model.get("thresholds") or {}).get("combined")
    design = model_design(model)
    radscores = radscore_variable_labels(design)
    references = [
        (f"Ultrasound read ({c})" if ref.name == ULTRASOUND_COLUMN else f"{ref.label} ({c})", c)
        for ref in design.references
        for c in ref.columns
    ]
    rows = predictions.merge(
        cohort.drop(columns=[c for c in predictions.columns if c != "patient_id"], errors="ignore"),
        on="patient_id",
        how="left",
    )
    template = _template()
    written = []
    for r in rows.to_dict("records"):
        pid = str(r["patient_id"])
        points = nomogram_points(model, r)
        probability = float(r["combined"])
        drift = abs(points[-1]["probability"] - probability)
        mismatch = (
            (
                f"The nomogram's points give {points[-1]['probability']:.3f}, the model's prediction is "
                f"{probability:.3f}: the prediction and the model file disagree; check that predictions.csv "
                "was scored by this model file."
            )
            if drift > 0.005
            else ""
        )
        exams = [{"timepoint": tp, "png": _png(qc_paths(regions_dir, pid, tp)[0])} for tp in design.timepoints]
        html = template.render(
            patient_id=pid,
            exams=exams,
            radscores=[(label, r[c]) for c, label in radscores.items()],
            references=[(name, r.get(c)) for name, c in references],
            probability=probability,
            cut=cut,
            above=None if cut is None else probability >= cut,
            points=points,
            provenance=provenance,
            model_file=Path(model_path).name,
            version=__version__,
            mismatch=mismatch,
        )
        written.append(outputs.write_patient_sheet(out_dir, sheet_name(pid), html))
    return written


def write_study_sheets(model_path: Path, study, predictions: pd.DataFrame, out_dir: Path) -> list[Path]:
    """`write_sheets` for `deltarad predict`: the model file and the study's cohort table."""
    from deltarad.cohort import read_table
    from deltarad.modeling.modelfile import DeltaradModel

    model = DeltaradModel.from_json(model_path).data
    cohort = read_table(study.cohort_path, "cohort table")
    cohort = cohort.rename(columns={study.patient_id: "patient_id"})
    cohort["patient_id"] = cohort["patient_id"].astype(str)
    return write_sheets(
        Path(model_path),
        model,
        cohort,
        predictions.assign(patient_id=predictions["patient_id"].astype(str)),
        Path(out_dir),
    )
