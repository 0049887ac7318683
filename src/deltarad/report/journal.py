"""Tables 1 and 2 as the study prints them, from the long tables `deltarad run` writes
(stats.tables.table1 / table2): Table 1 with the sets side by side and pCR / non-pCR columns,
Table 2 with the univariate and multivariate fits side by side. Cells are display strings."""

from __future__ import annotations

import re

import pandas as pd

from deltarad.formatting import format_p, format_value
from deltarad.report.run import OUTCOME_LABELS, RADSCORE_LABELS, SETS

VARIABLE_LABELS = {**RADSCORE_LABELS, "n": "Patients, n"}
_GROUP = re.compile(r"^(?P<outcome>.+)=(?P<value>[01])$")


def is_long_table1(df: pd.DataFrame) -> bool:
    return {"set", "variable"} <= set(df.columns) and sum(bool(_GROUP.match(str(c))) for c in df.columns) == 2


def is_long_table2(df: pd.DataFrame) -> bool:
    return {"analysis", "variable", "beta", "p_value"} <= set(df.columns)


def _label(variable: str, ultrasound: str | None, labels: dict[str, str] | None = None) -> str:
    if ultrasound and variable == ultrasound:
        return f"Ultrasound read ({variable})"
    return (labels or VARIABLE_LABELS).get(variable, variable)


def table1_journal(
    long: pd.DataFrame, ultrasound: str | None = None, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per (characteristic, level); per set (training, validation, ...) the pCR and
    non-pCR columns and the P value. `labels`: variable -> display name (default the study's
    radscores'); `ultrasound`: the ultrasound read's column."""
    matches = {c: _GROUP.match(str(c)) for c in long.columns}
    groups = {int(m["value"]): c for c, m in matches.items() if m}
    sets = [s for s in SETS if s in set(long["set"].astype(str))] + [
        s for s in dict.fromkeys(long["set"].astype(str)) if s not in SETS
    ]
    keys = list(dict.fromkeys(zip(long["variable"].astype(str), long["level"].fillna("").astype(str))))
    rows = []
    for variable, level in keys:
        row = {"Characteristic": _label(variable, ultrasound, labels), "Level": level}
        for s in sets:
            match = long[
                (long["set"].astype(str) == s)
                & (long["variable"].astype(str) == variable)
                & (long["level"].fillna("").astype(str) == level)
            ]
            r = match.iloc[0] if len(match) else None
            head = s.capitalize()
            for value in (1, 0):
                row[f"{head} {OUTCOME_LABELS[value]}"] = "" if r is None else format_value(r[groups[value]])
            row[f"{head} P"] = "" if r is None else format_p(r.get("p_value"))
        rows.append(row)
    out = pd.DataFrame(rows)
    # a variable's name once, on its first level
    out.loc[out["Characteristic"].duplicated(), "Characteristic"] = ""
    return out


def table2_journal(
    long: pd.DataFrame, ultrasound: str | None = None, labels: dict[str, str] | None = None
) -> pd.DataFrame:
    """One row per (variable, level): univariate beta, SE, Z, P, OR (95% CI), then the same for
    the multivariate model (blank where the variable did not enter it)."""
    keys = list(dict.fromkeys(zip(long["variable"].astype(str), long["level"].fillna("").astype(str))))
    rows = []
    for variable, level in keys:
        row = {"Variable": _label(variable, ultrasound, labels), "Level": level}
        for analysis, head in (("univariate", "Univariate"), ("multivariate", "Multivariate")):
            match = long[
                (long["analysis"] == analysis)
                & (long["variable"].astype(str) == variable)
                & (long["level"].fillna("").astype(str) == level)
            ]
            r = match.iloc[0] if len(match) else None
            for col, name in (("beta", "β"), ("se", "SE"), ("z", "Z")):
                row[f"{head} {name}"] = "" if r is None else format_value(r.get(col))
            row[f"{head} P"] = "" if r is None else format_p(r.get("p_value"))
            row[f"{head} OR (95% CI)"] = (
                ""
                if r is None or pd.isna(r.get("or"))
                else (
                    f"{format_value(r['or'])} ({format_value(r.get('or_ci_low'))}–{format_value(r.get('or_ci_high'))})"
                )
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    out.loc[out["Variable"].duplicated(), "Variable"] = ""
    return out


def journal_layout(
    name: str, df: pd.DataFrame, ultrasound: str | None = None, labels: dict[str, str] | None = None
) -> pd.DataFrame | None:
    """The journal layout of tables/`name`.csv when it is the long table of `deltarad run`, else None."""
    if name == "table1" and is_long_table1(df):
        return table1_journal(df, ultrasound, labels)
    if name == "table2" and is_long_table2(df):
        return table2_journal(df, ultrasound, labels)
    return None
