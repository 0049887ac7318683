"""The study's tables as tidy DataFrames (deltarad.outputs.write_table writes them with journal-formatted
XLSX/HTML copies).

Table 1: characteristics by outcome (within each set). Table 2: univariate and multivariate
logistic regression. Table 3: discrimination and classification of each model per set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from deltarad.encoding import label, level_of, levels_in
from deltarad.errors import DeltaradError
from deltarad.stats._validate import is_categorical
from deltarad.stats.exact import chi_square, fisher_2x2, fisher_exact
from deltarad.stats.logistic import COLUMNS as LOGISTIC_COLUMNS
from deltarad.stats.logistic import fit_logistic
from deltarad.stats.metrics import confusion_metrics
from deltarad.stats.reclassification import idi, nri
from deltarad.stats.roc import delong_ci, delong_test, youden_threshold

ALL_SETS = "all"
NORMALITY_ALPHA = 0.05
_NESTED_NOTE = (
    "Optimistic: the training-set DeLong test and IDI compare a model with the {reference} model it contains "
    "(nested), both fitted on these patients. Under the null hypothesis that the added terms carry no "
    "information the AUC difference is not normally distributed and its DeLong variance degenerates, so the "
    "DeLong test is far from its nominal size (Demler, Pencina & D'Agostino, Stat Med 2012;31:2577-87), and the "
    "IDI's test likewise (Pepe, Kerr, Longton & Wang, Stat Med 2013;32:1467-82); the likelihood-ratio test of "
    "the added terms is the valid test of nested models. The validation-set comparisons are not affected."
)


def nested_note(reference: str = "ultrasound") -> str:
    """Why a nested comparison on the training set is optimistic, naming the `reference` model."""
    return _NESTED_NOTE.format(reference=reference)


NESTED_NOTE = nested_note()
TABLE3_COLUMNS = [
    "set", "model", "auc", "auc_ci_low", "auc_ci_high", "threshold", "accuracy", "sensitivity",
    "specificity", "ppv", "npv", "tp", "fp", "tn", "fn", "delong_p", "idi", "idi_p", "nri",
]  # fmt: skip


# ---------------------------------------------------------------- helpers


def _require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DeltaradError(f"column(s) not found: {', '.join(missing)}; available: {', '.join(map(str, df.columns))}")


def _categorical_set(df: pd.DataFrame, variables: Sequence[str], categorical: Sequence[str] | None) -> set[str]:
    """Variables named in `categorical`, plus every non-numeric (string, category, bool) one."""
    return set(categorical or ()) | {v for v in variables if is_categorical(df[v])}


def _sets(df: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    if by is None:
        return [(ALL_SETS, df)]
    _require_columns(df, [by])
    return [(str(name), part) for name, part in df.groupby(by, sort=False, dropna=True)]


def _outcome_01(df: pd.DataFrame, outcome: str) -> pd.Series:
    values = pd.to_numeric(df[outcome], errors="coerce")
    bad = df[outcome][values.isna() | ~values.isin([0, 1])]
    if len(bad):
        raise DeltaradError(f"outcome {outcome} must be coded 0/1; found {sorted(map(str, bad.unique()))[:5]}")
    return values.astype(int)


# ---------------------------------------------------------------- Table 1


def mann_whitney_z(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney U test reported as SPSS does: Z from the smaller U with the tie-corrected
    variance and no continuity correction (so Z <= 0), and its two-sided asymptotic p."""
    n1, n2 = a.size, b.size
    ranks = stats.rankdata(np.concatenate([a, b]))
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    u = min(u1, n1 * n2 - u1)
    n = n1 + n2
    _, ties = np.unique(ranks, return_counts=True)
    var = n1 * n2 / 12 * ((n + 1) - np.sum(ties**3 - ties) / (n * (n - 1)))
    z = (u - n1 * n2 / 2) / np.sqrt(var) if var > 0 else 0.0
    return float(z), float(2 * stats.norm.sf(abs(z)))


def _is_normal(values: np.ndarray) -> bool:
    """Shapiro-Wilk p > 0.05 (groups under 3 values, or constant, count as not normal)."""
    return values.size >= 3 and np.ptp(values) > 0 and stats.shapiro(values).pvalue > NORMALITY_ALPHA


def _continuous_rows(groups: list[np.ndarray], digits: int) -> tuple[list[str], str, float, float]:
    """Summaries per group, the test name, its statistic and p-value."""
    f = f"{{:.{digits}f}}"
    if all(_is_normal(g) for g in groups):
        summaries = [f"{f.format(g.mean())} ± {f.format(g.std(ddof=1))}" for g in groups]
        res = stats.ttest_ind(groups[0], groups[1], equal_var=True)
        return summaries, "Student t", float(res.statistic), float(res.pvalue)
    summaries = []
    for g in groups:
        if g.size == 0:
            summaries.append("")
            continue
        # Quartiles by the weighted-average definition (type 6), as SPSS prints them.
        q1, med, q3 = np.quantile(g, [0.25, 0.5, 0.75], method="weibull") if g.size > 1 else (g[0],) * 3
        summaries.append(f"{f.format(med)} ({f.format(q1)}, {f.format(q3)})")
    if any(g.size == 0 for g in groups):
        return summaries, "", np.nan, np.nan
    z, p = mann_whitney_z(groups[0], groups[1])
    return summaries, "Mann-Whitney U (Z)", z, p


def categorical_test(counts: np.ndarray) -> tuple[str, float, float]:
    """Pearson chi-square without continuity correction when every expected count is >= 5,
    otherwise Fisher's exact test (exact for r x c tables too). Returns (test, statistic, p)."""
    counts = counts[counts.sum(axis=1) > 0][:, counts.sum(axis=0) > 0]
    if min(counts.shape) < 2:
        return "", np.nan, np.nan
    chi = chi_square(counts)
    if chi["min_expected"] >= 5:
        return "Pearson chi-square", chi["statistic"], chi["p_value"]
    if counts.shape == (2, 2):
        return "Fisher exact", np.nan, fisher_2x2(counts).p_value
    return "Fisher exact", np.nan, fisher_exact(counts)


def table1(
    df: pd.DataFrame,
    outcome: str,
    by: str | None = None,
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    digits: int = 2,
) -> pd.DataFrame:
    """Table 1: each variable by outcome (0/1), within each value of `by` (else one set "all").

    Continuous: mean ± SD and Student's t when Shapiro-Wilk accepts normality in both groups,
    else median (Q1, Q3) and Mann-Whitney U (Z). Categorical: n (%) per level with the test of
    `categorical_test`; levels in value order (deltarad.encoding: 9 before 10). One row per
    (set, variable, level); the test, statistic and p_value are
    filled on each variable's first row. Missing values are left out variable by variable.
    """
    _require_columns(df, [outcome])
    variables = list(variables) if variables else [c for c in df.columns if c not in (outcome, by)]
    _require_columns(df, variables)
    cat = _categorical_set(df, variables, categorical)
    y_all = _outcome_01(df, outcome)
    labels = [0, 1]
    group_cols = [f"{outcome}={g}" for g in labels]

    rows: list[dict[str, object]] = []
    for set_name, part in _sets(df, by):
        y = y_all.loc[part.index]
        rows.append(
            {
                "set": set_name,
                "variable": "n",
                "level": "",
                **{c: str(int((y == g).sum())) for c, g in zip(group_cols, labels)},
            }
        )
        for var in variables:
            values = part[var]
            keep = values.notna()
            if var in cat:
                levels = [label(lvl) for lvl in levels_in(values[keep])]
                shown_as = pd.Series([label(level_of(v)) for v in values[keep]], index=values[keep].index)
                counts = pd.crosstab(shown_as, y[keep]).reindex(index=levels, columns=labels, fill_value=0)
                test, statistic, p = categorical_test(counts.to_numpy())
                totals = counts.sum(axis=0)
                for i, level in enumerate(levels):
                    cells = {
                        c: f"{counts.loc[level, g]} ({100 * counts.loc[level, g] / totals[g]:.1f}%)"
                        if totals[g]
                        else "0"
                        for c, g in zip(group_cols, labels)
                    }
                    first = i == 0
                    rows.append({"set": set_name, "variable": var, "level": level, **cells,
                                 "test": test if first else "", "statistic": statistic if first else np.nan,
                                 "p_value": p if first else np.nan})  # fmt: skip
            else:
                numeric = pd.to_numeric(values[keep], errors="coerce")
                if numeric.isna().any():
                    raise DeltaradError(f"variable {var} mixes numbers and text; name it with --categorical")
                groups = [numeric[y[keep] == g].to_numpy(dtype=float) for g in labels]
                summaries, test, statistic, p = _continuous_rows(groups, digits)
                rows.append({"set": set_name, "variable": var, "level": "", **dict(zip(group_cols, summaries)),
                             "test": test, "statistic": statistic, "p_value": p})  # fmt: skip
    out = pd.DataFrame(rows, columns=["set", "variable", "level", *group_cols, "test", "statistic", "p_value"])
    out["test"] = out["test"].fillna("")
    return out


# ---------------------------------------------------------------- Table 2


def table2(
    df: pd.DataFrame,
    outcome: str,
    variables: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    entry_p: float = 0.05,
    reference_levels: dict | None = None,
) -> pd.DataFrame:
    """Table 2: univariate logistic regression of `outcome` on each variable, then one
    multivariate model on the variables whose univariate Wald p (joint over a categorical
    variable's levels) is below `entry_p`. Categorical levels are compared with the first level in
    value order, or the one `reference_levels` names.
    Columns: analysis (univariate | multivariate), variable, level, beta, se, z, p_value, or,
    or_ci_low, or_ci_high, warning (set when separation makes the estimates NaN)."""
    _require_columns(df, [outcome])
    variables = list(variables) if variables else [c for c in df.columns if c != outcome]
    _require_columns(df, variables)
    cat = _categorical_set(df, variables, categorical)
    parts, entered = [], []
    for var in variables:
        fit = fit_logistic(df, outcome, [var], categorical=cat, reference_levels=reference_levels)
        parts.append(fit.table.assign(analysis="univariate"))
        if fit.variable_p[var] < entry_p:
            entered.append(var)
    if entered:
        multivariate = fit_logistic(df, outcome, entered, categorical=cat, reference_levels=reference_levels)
        parts.append(multivariate.table.assign(analysis="multivariate"))
    return pd.concat(parts, ignore_index=True)[["analysis", *LOGISTIC_COLUMNS]]


# ---------------------------------------------------------------- Table 3


def table3(
    df: pd.DataFrame,
    outcome: str,
    scores: Sequence[str],
    by: str | None = None,
    fit_set: str = "training",
    reference: str | None = None,
    level: float = 0.95,
    nested: Sequence[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Table 3: per set and model, AUC with DeLong CI; accuracy, sensitivity, specificity, PPV,
    NPV and counts at the Youden cut-off chosen on `fit_set` and carried unchanged to the other
    sets; paired DeLong p, IDI (with p) and continuous NRI against the `reference` model.
    `thresholds`: cut-offs given per model (a frozen model's training cut-offs), used instead of
    the Youden cut-off on `fit_set` for the models they name.

    Without `by` the whole table is one set ("all") and the cut-off is chosen on it. A model
    without a score for a patient (NaN: a blank it needs) is evaluated on the patients it scores,
    and compared with the reference on the patients both score.

    `nested`: the models that contain the reference model (e.g. the combined model with the
    ultrasound term); with it, a column `nested_optimistic` flags their comparisons on `fit_set` (NESTED_NOTE).
    """
    scores = list(scores)
    _require_columns(df, [outcome, *scores, *([reference] if reference else [])])
    if reference is not None and reference not in scores:
        scores.append(reference)  # the reference model gets its own rows
    text = [m for m in scores if not pd.api.types.is_numeric_dtype(df[m])]
    if text:
        raise DeltaradError(f"score column(s) {', '.join(text)} hold text, not numbers")
    data = df.dropna(subset=[outcome]).dropna(subset=scores, how="all")
    y_all = _outcome_01(data, outcome)
    sets = _sets(data, by)
    if by is not None:
        names = [name for name, _ in sets]
        if fit_set not in names:
            raise DeltaradError(f"fit set {fit_set!r} not found in column {by} (values: {', '.join(names)})")
        sets.sort(key=lambda item: item[0] != fit_set)  # fit set first, others in file order
        fit_part = dict(sets)[fit_set]
    else:
        fit_part = data
    y_fit = y_all.loc[fit_part.index]
    scored = {m: fit_part[m].notna() for m in scores}
    given = dict(thresholds or {})
    thresholds = {
        m: float(given[m]) if m in given else youden_threshold(y_fit[scored[m]], fit_part.loc[scored[m], m])
        for m in scores
    }

    rows = []
    for set_name, whole in sets:
        for model in scores:
            part = whole.dropna(subset=[model])
            y = y_all.loc[part.index].to_numpy()
            s = part[model].to_numpy(dtype=float)
            a, low, high = delong_ci(y, s, level=level)
            row = {"set": set_name, "model": model, "auc": a, "auc_ci_low": low, "auc_ci_high": high,
                   "threshold": thresholds[model], **confusion_metrics(y, s, thresholds[model]),
                   "delong_p": np.nan, "idi": np.nan, "idi_p": np.nan, "nri": np.nan}  # fmt: skip
            if reference is not None and model != reference:
                part = part.dropna(subset=[reference])
                y, s = y_all.loc[part.index].to_numpy(), part[model].to_numpy(dtype=float)
                ref = part[reference].to_numpy(dtype=float)
                gain = idi(y, s, ref)
                row.update(
                    delong_p=delong_test(y, s, ref)[1], idi=gain["idi"], idi_p=gain["p"], nri=nri(y, s, ref)["nri"]
                )
            rows.append(row)
    out = pd.DataFrame(rows, columns=TABLE3_COLUMNS)
    if nested is not None:
        out["nested_optimistic"] = (
            (out["set"] == (fit_set if by is not None else ALL_SETS))
            & out["model"].isin(list(nested))
            & (reference is not None)
        )
    return out
