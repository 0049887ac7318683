"""Numbers as a journal prints them, for every human-readable copy of a table: the XLSX and HTML
copies `write_table` writes beside each CSV, the report's tables and the patient sheets. The CSV
files keep every number; only these copies round.

- p-values: "<0.001" below 0.001, else three decimals (`format_p`);
- integers as integers, other numbers to three decimals, in scientific notation from a million up
  (an estimate that large has diverged: 15 digits of it are noise) (`format_value`);
- text unchanged, even when it reads as a number (a pseudonym "007" stays "007"); blanks empty.

A leaf module: it imports nothing of deltarad.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

P_COLUMNS = {"p", "p_value", "pvalue", "p value", "p-value"}
LARGE = 1e6  # from here on a real number is printed in scientific notation


def is_p_column(name: object) -> bool:
    """Whether a column holds p-values by its name: p, p_value, P value, ..., `*_p`, `* p`, `p_*`
    (any case)."""
    low = str(name).strip().lower()
    return low in P_COLUMNS or low.endswith(("_p", " p")) or low.startswith("p_")


def format_p(p: object) -> str:
    """A p-value as journals print it: "<0.001" below 0.001, else three decimals; blank when
    missing, text unchanged."""
    value = _real(p)
    if value is None:
        return "" if _blank(p) else str(p)
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def format_value(v: object, digits: int = 3) -> str:
    """Integers as integers, other numbers to `digits` decimals (in scientific notation with
    `digits` significant digits from a million up), text and booleans unchanged, blanks empty."""
    if _blank(v):
        return ""
    if isinstance(v, numbers.Integral) and not _is_bool(v):
        return str(int(v))
    value = _real(v)
    if value is None:
        return str(v)
    if not math.isfinite(value) or abs(value) >= LARGE:
        return f"{value:.{digits}g}"
    return f"{value:.{digits}f}"


def journal_format(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """Every cell as display text: p-value columns (`is_p_column`) with `format_p`, the others
    with `format_value`."""
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        if is_p_column(col):
            out[col] = [format_p(v) for v in df[col]]
        else:
            out[col] = [format_value(v, digits) for v in df[col]]
    return out


def _is_bool(v: object) -> bool:
    return isinstance(v, (bool, np.bool_))  # numpy's bool is no subclass of bool


def _blank(v: object) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, str):
        return v.strip() == ""
    return isinstance(v, numbers.Real) and not _is_bool(v) and math.isnan(float(v))


def _real(v: object) -> float | None:
    """`v` as a float when it is a number (not text, not a boolean, not blank)."""
    if _blank(v) or _is_bool(v) or not isinstance(v, numbers.Real):
        return None
    return float(v)
