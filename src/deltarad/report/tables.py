"""The report's own layouts of Table 3 and the internal validation, and XLSX copies of its tables
(numbers formatted by deltarad.formatting)."""

from __future__ import annotations

import io

import pandas as pd

from deltarad.formatting import format_p, format_value


def table3_display(t3: pd.DataFrame, labels: dict[str, str], comparator: str | None = "US") -> pd.DataFrame:
    """Table 3 in the study's layout: AUC (95% CI), metrics at the training cut-off, and the
    comparisons against the `comparator` model (its short name; the study's: US; None: the design
    declares no reference model and the comparison columns are empty)."""
    rows = []
    for r in t3.to_dict("records"):
        row = {
            "Set": str(r["set"]).capitalize(),
            "Model": labels.get(str(r["model"]), str(r["model"])),
            **({"n": format_value(r["n"])} if "n" in r else {}),  # patients scored: a blank costs the combined model
            "AUC (95% CI)": f"{format_value(r['auc'])} ({format_value(r.get('auc_ci_low'))}–{format_value(r.get('auc_ci_high'))})",
        }
        for col, head in [
            ("threshold", "Cut-off"),
            ("accuracy", "Accuracy"),
            ("sensitivity", "Sensitivity"),
            ("specificity", "Specificity"),
            ("ppv", "PPV"),
            ("npv", "NPV"),
        ]:
            row[head] = format_value(r.get(col))
        mark = NESTED_MARK if str(r.get("nested_optimistic")) == "True" else ""
        delong = f"DeLong p vs {comparator}" if comparator else "DeLong p (no reference model)"
        row[delong] = format_p(r.get("delong_p")) + mark
        idi = format_value(r.get("idi"))
        row["IDI (p)"] = (f"{idi} ({format_p(r.get('idi_p'))})" if idi and format_p(r.get("idi_p")) else idi) + mark
        row["NRI"] = format_value(r.get("nri"))
        rows.append(row)
    return pd.DataFrame(rows)


NESTED_MARK = "†"  # a nested comparison on the training set: optimistic (stats.tables.NESTED_NOTE)

VALIDATION_METRICS = {"auc": "AUC", "calibration_slope": "Calibration slope", "brier": "Brier score"}


def validation_display(validation: pd.DataFrame, labels: dict[str, str]) -> pd.DataFrame:
    """The internal-validation table (validation.csv; its `model` column holds prediction columns) as a journal
    prints it: per model (named once) and measure, apparent, optimism and corrected values beside
    the single split's validation value and the cross-validation mean ± SD."""
    rows = []
    order = {m: i for i, m in enumerate(labels)}
    metrics = list(VALIDATION_METRICS)
    ranked = validation.assign(
        _m=[order.get(str(k), len(order)) for k in validation["model"]],
        _k=[metrics.index(k) if k in metrics else len(metrics) for k in validation["metric"]],
    ).sort_values(["_m", "_k"], kind="stable")
    previous = None
    for r in ranked.to_dict("records"):
        model = labels.get(str(r["model"]), str(r["model"]))
        mean, sd = format_value(r.get("cv_mean")), format_value(r.get("cv_sd"))
        rows.append(
            {
                "Model": "" if model == previous else model,
                "Measure": VALIDATION_METRICS.get(r["metric"], str(r["metric"])),
                "Apparent": format_value(r.get("apparent")),
                "Optimism": format_value(r.get("optimism")),
                "Optimism-corrected": format_value(r.get("corrected")),
                "Validation set (split)": format_value(r.get("split_validation")),
                "Cross-validation mean ± SD": f"{mean} ± {sd}" if mean and sd else mean,
            }
        )
        previous = model
    return pd.DataFrame(rows)


def xlsx_bytes(df: pd.DataFrame, sheet: str) -> bytes:
    """An XLSX workbook of one sheet (named `sheet`, cut to Excel's 31 characters) holding the
    table's own values (not the display strings)."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        df.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()
