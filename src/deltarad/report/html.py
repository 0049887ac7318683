"""The report: one self-contained HTML page (figures embedded as PNG, styles inline, no scripts
from elsewhere) built from a finished run folder, with the figures as PNG + SVG and the tables as
XLSX written beside it. A section whose inputs are missing says so and why; it never stops the
report."""
from __future__ import annotations

import base64
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import jinja2
import pandas as pd
from matplotlib.figure import Figure as MplFigure

from deltarad import __version__
from deltarad.atomic import write_text
from deltarad.errors import DeltaradError
from deltarad.report import figures
from deltarad.report.journal import journal_layout
from deltarad.report.missing import missing_paragraph
from deltarad.report.nomogram import nomogram_figure
from deltarad.report.methods import methods_items
from deltarad.report.record import study_name, study_ultrasound
from deltarad.report.sections import volume_check, with_region_sections
from deltarad.report.run import (
    MODELS,
    OUTCOME_LABELS,
    RunFolder,
    Unavailable,
    model_key,
)
from deltarad.formatting import format_value, journal_format
from deltarad.report.tables import NESTED_MARK, table3_display, validation_display, write_xlsx
from deltarad.stats.calibration import calibration_curve, smoothed_calibration
from deltarad.stats.dca import decision_curve
from deltarad.stats.roc import roc_points
from deltarad.stats.tables import NESTED_NOTE

log = logging.getLogger(__name__)

STEP_LABELS = {
    "features": "Extracted features",
    "delta": "Delta features (non-zero baseline)",
    "icc": "Inter-reader ICC ≥ {icc_min}",
    "ttest": "t-test p < {ttest_p}",
    "correlation": "|r| ≤ {corr_max} (one of each correlated pair)",
    "lasso": "LASSO (non-zero coefficient)",
}
SELECTION_DEFAULTS = {"icc_min": 0.8, "ttest_p": 0.05, "corr_max": 0.9}
MIN_DISTINCT_FOR_SMOOTHING = 10
TOP_SELECTED = 15  # features per region in the selection-frequency figure
# Sections about fitting the model. An external-validation folder holds a frozen model fitted
# elsewhere, so there they are left out (unless their input is present) rather than "not available".
DEVELOPMENT_ONLY = {"table1", "selection", "table2", "validation"}


@dataclass
class FigureItem:
    label: str
    anchor: str
    title: str
    caption: str
    png_base64: str
    width_px: int
    files: list[str]
    kind: str = "figure"


@dataclass
class TableItem:
    label: str
    anchor: str
    title: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    files: list[str]
    kind: str = "table"


@dataclass
class Section:
    anchor: str
    title: str
    intro: str = ""
    items: list = field(default_factory=list)
    unavailable: str | None = None


class _Builder:
    """Numbers figures and tables in order of appearance and writes their files."""

    def __init__(self, run: RunFolder, out: Path):
        self.run = run
        self.out = out
        self.figure_dir = out.parent / "figures"
        self.table_dir = out.parent / "tables"
        self.n_figures = 0
        self.n_supplementary = 0

    def figure(self, name: str, fig: MplFigure, title: str, caption: str) -> FigureItem:
        self.n_figures += 1
        png, width_px = figures.export(fig, self.figure_dir, name)
        return FigureItem(f"Figure {self.n_figures}", f"fig-{name}", title, caption,
                          base64.b64encode(png).decode("ascii"), width_px,
                          [f"figures/{name}.png", f"figures/{name}.svg"])

    def table(self, shown: pd.DataFrame, title: str, caption: str, *, label: str | None = None,
              source: pd.DataFrame | None = None, name: str | None = None) -> TableItem:
        """`shown` is the formatted table; `source` (the raw values) is saved as tables/`name`.xlsx
        (and .csv when the report is written outside the run folder)."""
        if label is None:
            self.n_supplementary += 1
            label = f"Table S{self.n_supplementary}"
        files = []
        if source is not None and name is not None:
            write_xlsx(self.table_dir / f"{name}.xlsx", source, title)
            files.append(f"tables/{name}.xlsx")
            csv = self.run.path / "tables" / f"{name}.csv"
            if csv.is_file():
                if csv.resolve() != (self.table_dir / f"{name}.csv").resolve():
                    shutil.copyfile(csv, self.table_dir / f"{name}.csv")
                files.insert(0, f"tables/{name}.csv")
        anchor = "tab-" + label.split()[-1].lower()
        rows = shown.astype(str).values.tolist()
        return TableItem(label, anchor, title, caption, [str(c) for c in shown.columns], rows, files)


def build_report(run_dir: Path, out: Path | None = None) -> Path:
    """Read the finished run folder `run_dir` and write the report (default run_dir/report.html),
    with figures/ (PNG + SVG) and tables/ (XLSX) beside it. Returns the report's path."""
    run = RunFolder(Path(run_dir))
    if not run.path.is_dir():
        raise DeltaradError("run folder not found", file=run.path)
    out = Path(out) if out is not None else run.path / "report.html"
    builder = _Builder(run, out)
    sections = []
    for anchor, title, make in with_region_sections(SECTIONS, run):
        section = Section(anchor, title)
        try:
            make(builder, section)
        except Unavailable as exc:
            if run.is_external and anchor in DEVELOPMENT_ONLY:
                continue
            section.unavailable = str(exc)
        except Exception as exc:  # a malformed input must not cost the reader the other sections
            log.warning("report section '%s' failed", title, exc_info=True)
            section.unavailable = f"could not be drawn ({type(exc).__name__}: {exc})"
        sections.append(section)
    html = _template().render(
        title=_title(run),
        external=run.is_external,
        run_name=run.path.resolve().name,
        study_name=study_name(run),
        version=__version__,
        sections=sections,
        summary=_summary(run),
    )
    write_text(out, html)
    return out


def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("deltarad.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.globals["stylesheet"] = (Path(__file__).parent / "templates" / "report.css").read_text(encoding="utf-8")
    return env.get_template("report.html.j2")


def _title(run: RunFolder) -> str:
    head = "External validation of a delta dual-region DCE-MRI radiomics model" if run.is_external \
        else "Delta dual-region DCE-MRI radiomics"
    try:
        return f"{head}: prediction of {run.outcome}"
    except Unavailable:
        return head


def _summary(run: RunFolder) -> list[str]:
    """One line per set: patients and validation AUCs, for the page header."""
    lines = []
    try:
        pred = run.predictions
        for s in run.sets():
            part = pred[pred["set"] == s]
            lines.append(f"{s.capitalize()} set: {len(part)} patients, {int(part[run.outcome].sum())} pCR")
        t3 = run.table3
        for r in t3[t3["set"].astype(str) != "training"].itertuples():
            lines.append(f"{str(r.set).capitalize()} AUC, {run.models.get(r.model_key, r.model)}: {format_value(r.auc)}")
    except Unavailable:
        pass
    return lines


def _by_set(run: RunFolder):
    pred = run.predictions.dropna(subset=list(run.models))  # the patients every model scored
    for s in run.sets():
        part = pred[pred["set"] == s]
        if part[run.outcome].nunique() < 2:
            raise Unavailable(f"the {s} set has patients of one outcome only")
        yield s, part


# --- sections -------------------------------------------------------------------------------

def _cohort(b: _Builder, sec: Section) -> None:
    run = b.run
    pred = run.predictions
    counts = []
    for s in run.sets():
        part = pred[pred["set"] == s]
        counts.append({"set": s, "n": len(part), "pcr": int((part[run.outcome] == 1).sum()),
                       "non_pcr": int((part[run.outcome] == 0).sum())})
    groups = pd.DataFrame(counts)
    try:
        failures = run.csv("failures.csv", required=("patient_id", "stage", "error"))
    except Unavailable:
        failures = None
    per_model = pd.DataFrame()
    try:
        stages = run.csv("cohort_flow.csv", required=("stage", "n"))
        if "detail" not in stages.columns:
            stages["detail"] = ""
        # the sets are drawn from the predictions, below the chain of stages; the models' n in a table
        per_model = stages[stages["stage"].astype(str).str.startswith("model: ")]
        stages = stages[~stages["stage"].astype(str).str.lower().isin(groups["set"]) & ~stages.index.isin(per_model.index)]
        stages = stages.assign(stage=[str(st)[:1].upper() + str(st)[1:] for st in stages["stage"]])
    except Unavailable:
        n_failed = 0 if failures is None else failures["patient_id"].nunique()
        rows = [("Patients in the cohort", len(pred) + n_failed, "")]
        if n_failed:
            reasons = failures.groupby("stage")["patient_id"].nunique()
            rows.append(("Excluded", n_failed, "; ".join(f"{k}: {v}" for k, v in reasons.items())))
        rows.append(("Analysed", len(pred), ""))
        stages = pd.DataFrame(rows, columns=["stage", "n", "detail"])
    sets = ("the external cohort, scored by the frozen model" if run.is_external
            else "the random split into training and validation sets")
    sec.items.append(b.figure(
        "cohort_flow", figures.cohort_flow(stages, groups), "Cohort flow",
        f"Patients at each stage of the run and {sets}, "
        f"with the number of each outcome ({OUTCOME_LABELS[1]} = {run.outcome} 1)."))
    shown = groups.rename(columns={"set": "Set", "n": "Patients", "pcr": OUTCOME_LABELS[1], "non_pcr": OUTCOME_LABELS[0]})
    shown["Set"] = shown["Set"].str.capitalize()
    total = {"Set": "Total", "Patients": shown["Patients"].sum(), OUTCOME_LABELS[1]: shown[OUTCOME_LABELS[1]].sum(),
             OUTCOME_LABELS[0]: shown[OUTCOME_LABELS[0]].sum()}
    shown = pd.concat([shown, pd.DataFrame([total])], ignore_index=True)
    sec.items.append(b.table(journal_format(shown), "Patients per set and outcome",
                             "Outcome counts in each set" + ("." if run.is_external else " after the split.")))
    if len(per_model):
        shown = pd.DataFrame({"Model": [MODELS.get(str(st).removeprefix("model: "), st) for st in per_model["stage"]],
                              "Patients": per_model["n"], "Detail": per_model["detail"]})
        sec.items.append(b.table(journal_format(shown), "Patients per model",
                                 "Patients each model was fitted and evaluated on (from cohort_flow.csv)."))
    missing = missing_paragraph(run)
    if missing:
        sec.intro = missing
    if failures is not None:
        excluded = failures[["patient_id", "stage", "error"]].set_axis(["Patient", "Stage", "Problem"], axis=1)
        sec.items.append(b.table(journal_format(excluded), "Excluded patients",
                                 "Patients a stage of the run could not process (from failures.csv)."))


def _table(name: str, caption: str) -> Callable[[_Builder, Section], None]:
    def make(b: _Builder, sec: Section) -> None:
        df = b.run.csv(f"tables/{name}.csv")
        label = name.replace("table", "Table ")
        title = sec.title.removeprefix(f"{label}. ")
        journal = journal_layout(name, df, study_ultrasound(b.run))
        item = b.table(journal_format(df) if journal is None else journal, title, caption, label=label, source=df, name=name)
        if journal is not None:  # the journal's layout as a sheet too; tables/<name>.xlsx keeps the values
            write_xlsx(b.table_dir / f"{name}_journal.xlsx", journal, title)
            item.files.append(f"tables/{name}_journal.xlsx")
        sec.items.append(item)
    return make


def _selection(b: _Builder, sec: Section) -> None:
    sel = b.run.csv("selection.csv", required=("region", "step", "n_features"))
    settings = {**SELECTION_DEFAULTS}
    try:
        settings.update({k: v for k, v in b.run.model.get("settings", {}).get("selection", {}).items()
                         if k in settings})
    except (Unavailable, AttributeError):
        pass
    labels = {k: v.format(**settings) for k, v in STEP_LABELS.items()}
    funnel = " → ".join
    summary = "; ".join(f"{region}: {funnel(str(int(n)) for n in part['n_features'])}"
                        for region, part in sel.groupby("region", sort=False))
    sec.intro = f"Features remaining after each step, fitted on the training set only ({summary})."
    sec.items.append(b.figure("selection_funnel", figures.selection_funnel(sel, labels), "Feature selection funnel",
                              "Number of delta features left after each selection step, per region."))
    shown = sel.assign(step=[labels.get(s, s) for s in sel["step"]])
    keep = [c for c in ("region", "step", "n_features", "note") if c in shown.columns]
    shown = shown[keep].rename(columns={"region": "Region", "step": "Step", "n_features": "Features", "note": "Note"})
    sec.items.append(b.table(journal_format(shown), "Selection steps", "Feature counts per step and region.",
                             source=sel, name="selection"))


def _selected(b: _Builder, sec: Section) -> None:
    sel = b.run.coefficients()
    if b.run.is_external:
        sec.intro = "The frozen model's features and coefficients (model.json), applied unchanged to this cohort."
    sec.items.append(b.figure("coefficients", figures.coefficients(sel), "Selected features and coefficients",
                              "Coefficients of the features the LASSO kept, by region; blue positive "
                              "(higher delta, higher predicted probability of pCR), red negative."))
    shown = sel.rename(columns={"region": "Region", "feature": "Feature", "coefficient": "Coefficient"})
    sec.items.append(b.table(journal_format(shown), "Selected features", "The final features of each radscore.",
                             source=sel, name="selected_features"))
    volume_check(b, sec)
    try:
        frequency = b.run.csv("tables/selection_frequency.csv",
                              required=("region", "feature", "bootstrap_frequency", "cv_frequency", "in_final_model"))
    except Unavailable:
        return
    _selection_frequency(b, sec, frequency)


def _resamples(run: RunFolder) -> tuple[int | None, int | None]:
    """Bootstrap resamples and cross-validation folds that internal validation completed, from
    validation.csv (None where it does not say)."""
    try:
        v = run.csv("tables/validation.csv")
    except Unavailable:
        return None, None
    count = {}
    for col in ("bootstrap_n", "cv_n"):
        n = pd.to_numeric(v.get(col, pd.Series(dtype=float)), errors="coerce").max()
        count[col] = int(n) if pd.notna(n) else None
    return count["bootstrap_n"], count["cv_n"]


def _selection_frequency(b: _Builder, sec: Section, frequency: pd.DataFrame) -> None:
    frequency = frequency.assign(
        bootstrap_frequency=pd.to_numeric(frequency["bootstrap_frequency"], errors="coerce"),
        cv_frequency=pd.to_numeric(frequency["cv_frequency"], errors="coerce"),
        in_final_model=frequency["in_final_model"].astype(str).str.lower().isin(["true", "1", "yes"]),
    )
    n_boot, n_cv = _resamples(b.run)
    if frequency["bootstrap_frequency"].notna().any():
        column, resampling = "bootstrap_frequency", f"{n_boot or 'the'} bootstrap resamples"
    elif frequency["cv_frequency"].notna().any():
        column, resampling = "cv_frequency", f"{n_cv or 'the'} cross-validation folds"
    else:
        raise Unavailable("tables/selection_frequency.csv has no frequencies")
    ranked = frequency.sort_values([column, "in_final_model"], ascending=False, kind="stable")
    top = pd.concat([ranked[ranked["region"] == r].head(TOP_SELECTED) for r in dict.fromkeys(frequency["region"])])
    sec.items.append(b.figure(
        "selection_frequency", figures.selection_frequency(top, column, resampling), "Selection frequency",
        f"How often each feature was selected when the whole procedure (ICC, t-test, correlation pruning, LASSO) "
        f"was refitted on {resampling} of the training set: the {TOP_SELECTED} most frequent features per region; "
        "blue bars (bold names) are the features of the final model. A feature chosen in few resamples is an "
        "unstable choice, however large its coefficient."
        + (" Black ticks: share of the cross-validation folds that selected it." if column != "cv_frequency"
           and frequency["cv_frequency"].notna().any() else "")))
    shown = pd.DataFrame({
        "Region": top["region"], "Feature": top["feature"],
        "Bootstrap": [f"{v:.0%}" if pd.notna(v) else "" for v in top["bootstrap_frequency"]],
        "Cross-validation": [f"{v:.0%}" if pd.notna(v) else "" for v in top["cv_frequency"]],
        "In final model": ["yes" if v else "" for v in top["in_final_model"]],
    })
    sec.items.append(b.table(shown, "Selection frequency",
                             f"Share of resamples that selected each feature ({TOP_SELECTED} most frequent per "
                             "region); the CSV and XLSX list every feature selected at least once.",
                             source=frequency, name="selection_frequency"))


def _combined(b: _Builder, sec: Section) -> None:
    combined = b.run.model.get("combined")
    if not isinstance(combined, dict) or "coefficients" not in combined:
        raise Unavailable("model.json has no combined model coefficients")
    coef = dict(combined["coefficients"])
    if "intercept" in combined:
        coef = {"(intercept)": combined["intercept"], **coef}
    rows = [{"Term": k, "Coefficient": v} for k, v in coef.items()]
    terms = combined.get("terms", [])
    extras = ", ".join(f"{k.upper() if k == 'aic' else k} = {format_value(v)}" for k, v in combined.items()
                       if k not in ("terms", "coefficients", "intercept") and isinstance(v, (int, float, str)))
    sec.intro = ("The combined model was chosen by stepwise logistic regression minimising AIC; it kept "
                 + (", ".join(map(str, terms)) if terms else "no term") + "." + (f" ({extras})" if extras else ""))
    sec.items.append(b.table(journal_format(pd.DataFrame(rows)), "Combined model",
                             "Logistic regression coefficients (log-odds) of the combined model."))


def _nomogram(b: _Builder, sec: Section) -> None:
    try:
        fig = nomogram_figure(b.run.model, outcome_label=OUTCOME_LABELS[1])
    except DeltaradError as exc:
        raise Unavailable(exc.problem) from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise Unavailable(f"model.json's combined model lacks what a nomogram needs ({type(exc).__name__}: {exc})") from None
    sec.items.append(b.figure(
        "nomogram", fig, "Nomogram of the combined model",
        "How to read it: for each predictor, find the patient's value on its axis and go straight up to the "
        "Points axis; add the points of all predictors, find the sum on the Total points axis and go straight "
        f"down to read the predicted probability of {OUTCOME_LABELS[1]}. The predictor whose effect spans the "
        "widest range earns 0–100 points, the others are on the same scale, so a longer axis means more "
        "influence; radscores are probabilities (0–1), numeric variables span their training range and the "
        "reference level of a categorical variable earns 0 points. The nomogram is the combined model's "
        "logistic regression drawn, not a new model: it inherits its optimism (see the internal validation)."))


def _table3(b: _Builder, sec: Section) -> None:
    t3 = b.run.table3
    shown = table3_display(t3, b.run.models)
    cutoff = ("the frozen model's own cut-off, chosen on its training set (Youden index) and not re-chosen on this "
              "cohort" if b.run.is_external else
              "cut-off chosen on the training set (Youden index) and carried to validation")
    sec.items.append(b.table(shown, "Performance of the models",
                             f"AUC with DeLong 95% CI; accuracy, sensitivity, specificity, PPV and NPV at the "
                             f"{cutoff}; DeLong test and IDI against the ultrasound model, and NRI."
                             + (f" {NESTED_MARK} {NESTED_NOTE}" if t3.get("nested_optimistic", pd.Series(dtype=bool))
                                .astype(str).eq("True").any() else ""),
                             label="Table 3", source=t3.drop(columns="model_key"), name="table3"))


def _internal_validation(b: _Builder, sec: Section) -> None:
    if not (b.run.path / "tables" / "validation.csv").is_file():
        raise Unavailable("internal validation not run (set validation.bootstrap in the study file)")
    v = b.run.csv("tables/validation.csv", required=("model", "metric", "apparent", "optimism", "corrected"))
    v = v.assign(model_key=[model_key(m) for m in v["model"]])
    n_boot, n_cv = _resamples(b.run)
    boot = (f"Harrell's optimism bootstrap with {n_boot} resamples of the training set" if n_boot
            else "The optimism bootstrap was not run")
    cv = (f"mean ± SD over {n_cv} held-out folds of repeated stratified cross-validation" if n_cv
          else "cross-validation was not run")
    sec.intro = ("A model whose features were chosen from hundreds on a hundred-odd patients looks better on those "
                 "patients than it will on new ones. This section estimates by how much, refitting the whole "
                 "procedure, selection included, in every resample.")
    sec.items.append(b.table(
        validation_display(v, MODELS),
        "Internal validation of the whole modelling procedure",
        f"{boot}: in every resample the whole procedure (ICC, t-test, correlation pruning, LASSO, radscores, "
        "ultrasound and stepwise combined models) is refitted on the resample; its performance there minus its "
        "performance on the original training set, averaged over resamples, is the optimism, and optimism-corrected "
        "= apparent (the final model on its own training set) − optimism. Validation set: the final model on the "
        f"single random split's held-out patients. Cross-validation: {cv}, the procedure refitted on the rest. "
        "Ideal values: AUC 1, calibration slope 1 (below 1: predictions too extreme), Brier score 0."
        + _failed_refits(b.run, v),
        source=v.drop(columns="model_key"), name="validation"))


def _failed_refits(run: RunFolder, v: pd.DataFrame) -> str:
    """' k bootstrap and j cross-validation refits failed ...' from validation.csv's counts and
    validation_failures.csv's first reason; '' when none failed or the run does not say."""
    counts = {col: pd.to_numeric(v.get(col, pd.Series(dtype=float)), errors="coerce").max()
              for col in ("bootstrap_failed", "cv_failed")}
    parts = [f"{int(n)} {what}" for what, n in zip(("bootstrap", "cross-validation"), counts.values())
             if pd.notna(n) and n > 0]
    if not parts:
        return ""
    try:
        first = run.csv("tables/validation_failures.csv", required=("resampling", "number", "error")).iloc[0]
        reason = f" (first: {first['resampling']} {first['number']}, {first['error']})"
    except (Unavailable, IndexError):
        reason = ""
    return (f" Failed refits, left out of the means above: {' and '.join(parts)}{reason}; every one is listed "
            "in tables/validation_failures.csv.")


def _roc(b: _Builder, sec: Section) -> None:
    run = b.run
    try:
        t3 = run.table3
    except Unavailable:
        t3 = None
    curves, labels = {}, {}
    for s, part in _by_set(run):
        y = part[run.outcome].to_numpy()
        curves[s] = {m: roc_points(y, part[m].to_numpy(dtype=float)) for m in run.models}
        labels[s] = {}
        for m, name in run.models.items():
            row = None if t3 is None else t3[(t3["set"].astype(str) == s) & (t3["model_key"] == m)]
            if row is not None and len(row):
                r = row.iloc[0]
                name = (f"{name}: AUC {format_value(r['auc'])} "
                        f"({format_value(r.get('auc_ci_low'))}–{format_value(r.get('auc_ci_high'))})")
            labels[s][m] = name
    sec.items.append(b.figure("roc", figures.roc_curves(curves, labels), "ROC curves",
                              "Receiver operating characteristic curves of the four models in each set; the "
                              "legend gives the AUC with its DeLong 95% confidence interval (Table 3)."))


def _dca(b: _Builder, sec: Section) -> None:
    run = b.run
    curves = {s: decision_curve(part[run.outcome].to_numpy(), {m: part[m].to_numpy(dtype=float) for m in run.models})
              for s, part in _by_set(run)}
    sec.items.append(b.figure("decision_curves", figures.decision_curves(curves, run.models), "Decision curves",
                              "Net benefit of deciding by each model across threshold probabilities, against "
                              "treating all patients as pCR or none."))


def _calibration(b: _Builder, sec: Section) -> None:
    run = b.run
    binned, smooth = {}, {}
    for s, part in _by_set(run):
        y = part[run.outcome].to_numpy()
        binned[s] = {m: calibration_curve(y, part[m].to_numpy(dtype=float), n_bins=10) for m in run.models}
        # A smoother through a handful of distinct predictions (the ultrasound model has two) draws
        # a line the model cannot produce; those models are shown by their points only.
        smooth[s] = {m: smoothed_calibration(y, part[m].to_numpy(dtype=float)) for m in run.models
                     if part[m].nunique() >= MIN_DISTINCT_FOR_SMOOTHING}
    sec.items.append(b.figure("calibration", figures.calibration_curves(binned, smooth, run.models),
                              "Calibration curves",
                              "Observed proportion of pCR against predicted probability: points are deciles of "
                              "predicted risk, lines the smoothed calibration curve; the dashed diagonal is "
                              "perfect calibration. Models with fewer than "
                              f"{MIN_DISTINCT_FOR_SMOOTHING} distinct predictions (the ultrasound model: one per "
                              "read) are shown by their points only."))
    try:  # `deltarad validate` writes these measures; a run reports them in its internal validation
        summary = run.csv("tables/calibration.csv", required=("model", "calibration_intercept", "calibration_slope"))
        keys = [model_key(m) for m in summary["model"]]
    except Unavailable:
        return
    summary = summary.assign(model_key=keys).sort_values("model_key", key=lambda k: k.map(list(MODELS).index),
                                                         kind="stable")
    shown = pd.DataFrame({
        "Model": [MODELS[k] for k in summary["model_key"]],
        "Calibration-in-the-large (intercept)": [format_value(v) for v in summary["calibration_intercept"]],
        "Calibration slope": [format_value(v) for v in summary["calibration_slope"]],
        "Brier score": [format_value(v) for v in summary["brier"]] if "brier" in summary else "",
    })
    sec.items.append(b.table(shown, "Calibration measures",
                             "Logistic recalibration of each model's predictions: intercept with the slope fixed "
                             "at 1 (calibration-in-the-large; 0 is ideal, above 0 the model under-predicts) and "
                             "slope (1 is ideal, below 1 predictions too extreme); Brier score (mean squared error "
                             "of the predicted probability).",
                             source=summary.drop(columns="model_key"), name="calibration"))


def _confusion(b: _Builder, sec: Section) -> None:
    run = b.run
    t3 = run.table3
    missing = [c for c in ("tp", "fp", "tn", "fn") if c not in t3.columns]
    if missing:
        raise Unavailable(f"tables/table3.csv lacks column(s) {', '.join(missing)}")
    cells = t3.assign(threshold=[run.thresholds().get(m, float("nan")) for m in t3["model_key"]],
                      set=t3["set"].astype(str))
    sets = [s for s in run.sets() if s in set(cells["set"])]
    sec.items.append(b.figure("confusion_matrices", figures.confusion_matrices(cells, sets, run.models),
                              "Confusion matrices",
                              "Observed against predicted outcome for each model and set at the training-set "
                              "Youden cut-off; counts with the share of each observed class."))


def _boxplots(b: _Builder, sec: Section) -> None:
    run = b.run
    scores = {m: label for m, label in run.models.items() if m != "us"}
    sec.items.append(b.figure("radscore_boxplots",
                              figures.radscore_boxplots(run.predictions, run.outcome, scores, run.sets()),
                              "Radscores by outcome",
                              "Radscore_DIR, Radscore_DPR and the combined model's probability by outcome in each "
                              "set; boxes show the median and quartiles, points the patients."))


def _heatmap(b: _Builder, sec: Section) -> None:
    run = b.run
    terms = run.model.get("combined", {}).get("terms", [])
    aliases = {"ultrasound": "us", str(run.model.get("ultrasound", "ultrasound")).lower(): "us"}
    inputs, absent = {}, []
    for term in terms:
        col = term if term in run.predictions.columns else aliases.get(str(term).lower(), str(term).lower())
        if col in run.predictions.columns and col != "combined":
            inputs[col] = run.models.get(col, str(term))
        else:
            absent.append(str(term))
    if not inputs:
        raise Unavailable("none of the combined model's inputs is a column of predictions.csv"
                          + (f" (terms: {', '.join(absent)})" if absent else " (model.json lists no terms)"))
    note = f" Inputs not in predictions.csv, not shown: {', '.join(absent)}." if absent else ""
    sec.items.append(b.figure("input_heatmap",
                              figures.input_heatmap(run.predictions, run.outcome, inputs, run.sets()),
                              "Heatmap of the combined model's inputs",
                              "Each column is a patient, sorted by outcome and then by the combined model's "
                              "probability; each row an input of the combined model (the ultrasound row is the "
                              "ultrasound model's probability, i.e. the read), z-scored over all patients." + note))


def _rose(b: _Builder, sec: Section) -> None:
    run = b.run
    try:
        thresholds = run.thresholds()
    except Unavailable:
        thresholds = {}
    sec.items.append(b.figure("rose_plots",
                              figures.rose_plots(run.predictions.dropna(subset=list(run.models)), run.outcome,
                                                 run.models, run.sets(), thresholds),
                              "Rose plots of the predictions",
                              "One bar per patient, its length the predicted probability of pCR and its colour "
                              "the observed outcome (blue pCR, orange non-pCR); patients ordered by outcome, then "
                              "probability. " + ("The dashed circle is the training-set Youden cut-off." if thresholds
                                                 else "No training-set cut-off was available to draw.")))


def _settings(b: _Builder, sec: Section) -> None:
    model = b.run.model
    methods_items(b, sec)
    settings = model.get("settings")
    if isinstance(settings, dict) and settings:
        shown = pd.DataFrame(_flatten(settings), columns=["Setting", "Value"])
        sec.items.append(b.table(shown, "Run settings", "The study settings this run used (model.json)."))
    software = model.get("software")
    if isinstance(software, dict) and software:
        shown = pd.DataFrame([(k, str(v)) for k, v in software.items()], columns=["Package", "Version"])
        sec.items.append(b.table(shown, "Software versions", "Versions of the software that produced the run."))
    if not sec.items:
        raise Unavailable("model.json holds no settings or software versions")


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    rows = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            rows.extend(_flatten(v, key + "."))
        else:
            rows.append((key, ", ".join(map(str, v)) if isinstance(v, list) else str(v)))
    return rows


SECTIONS: list[tuple[str, str, Callable[[_Builder, Section], None]]] = [
    ("cohort", "Cohort flow", _cohort),
    ("table1", "Table 1. Characteristics of the patients by outcome",
     _table("table1", "Each characteristic by outcome within each set. Continuous: mean ± SD (t-test) or "
                      "median (IQR) (Mann-Whitney U); categorical: n (%) (chi-square or Fisher's exact test).")),
    ("selection", "Feature selection", _selection),
    ("features", "Selected features and coefficients", _selected),
    ("table2", "Table 2. Univariate and multivariate logistic regression",
     _table("table2", "Univariate and multivariate logistic regression: beta, SE, Z, P and OR (95% CI); "
                      "categorical variables against a reference level.")),
    ("combined", "Combined model", _combined),
    ("nomogram", "Nomogram", _nomogram),
    ("table3", "Table 3. Performance of the models", _table3),
    ("validation", "Internal validation (optimism-corrected)", _internal_validation),
    ("roc", "ROC curves", _roc),
    ("dca", "Decision curves", _dca),
    ("calibration", "Calibration curves", _calibration),
    ("confusion", "Confusion matrices", _confusion),
    ("radscores", "Radscores by outcome", _boxplots),
    ("heatmap", "Combined model inputs", _heatmap),
    ("rose", "Rose plots of the predictions", _rose),
    ("settings", "Settings and software versions", _settings),
]
