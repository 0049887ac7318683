"""Delta radiomics: the change of each feature between two exams of the design, per declared pair.

Three forms (design.DELTA_FORMS; per pair, default the study file's `delta`): `relative`
(after - before) / before, the study's; `log_ratio` log(after / before); `difference` after - before.

The rule that keeps a delta meaningful, per (pair, region), on reader 1's values (the reader the
models use; reader 2 serves only the ICC, so its readings never drop a feature for everyone):
- relative and log_ratio divide by the earlier exam ("baseline" below: the pair's `before`), so
  a feature is dropped when any patient's baseline is 0 (`zero baseline`), below `near_zero`
  times the SD of the baseline over the region's patients in absolute value (`near-zero
  baseline`: the change is then unbounded), or when the baselines take both signs (`baseline of
  both signs`: a relative change then flips its sign with the baseline's, as with first-order
  means and wavelet features);
- log_ratio also needs after / baseline > 0 for every patient (`early of the other sign or 0`);
- difference needs nothing beyond finite values.
These filters use no outcome, so they run over the whole cohort, as in the study. A reader-2
value that breaks the rule (a zero, near-zero or other-signed baseline in the second reader's
segmentation) becomes NaN for that patient and feature alone, is counted in the info and is left
out of that feature's ICC.

The table is computed with array operations: each exam row is placed by its (patient, region,
reader) unit, so a pair's two exams meet by index, in time linear in the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from deltarad.design import (
    BASELINE,
    DELTA_FORMS,
    EARLY,
    FEATURE_KEYS,
    INTRATUMORAL,
    PERITUMORAL,
    POOLED_SEPARATOR,
    READERS,
    DeltaPair,
    Design,
    pooled_feature,
)
from deltarad.design import DELTA_KEYS as _DELTA_KEYS
from deltarad.errors import DeltaradError

KEYS = list(FEATURE_KEYS)
DELTA_KEYS = list(_DELTA_KEYS)
#: the study's own timepoints and regions (Design()); a study's design names its own
TIMEPOINTS = (BASELINE, EARLY)
REGIONS = (INTRATUMORAL, PERITUMORAL)
DELTA_KINDS = {form: DeltaPair(BASELINE, EARLY, form).formula for form in DELTA_FORMS}
NEAR_ZERO = 1e-3  # default fraction of the baseline's SD below which |baseline| counts as near zero
DROPPED_COLUMNS = ["delta", "region", "feature", "reason"]

log = logging.getLogger(__name__)


def feature_columns(table: pd.DataFrame, keys: Sequence[str] = KEYS) -> list[str]:
    return [c for c in table.columns if c not in keys]


def check_feature_table(
    table: pd.DataFrame,
    source: str = "feature table",
    design: Design | None = None,
    *,
    timepoints: Sequence[str] | None = None,
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate the long-form layout; return it with typed keys. Timepoints and regions must be
    the design's names (`design`, default the study's: Design()); `timepoints` / `regions` given
    instead restrict only that key."""
    keys, feats, values = _checked(table, source, design, timepoints, regions)
    out = pd.concat([keys.reset_index(drop=True), pd.DataFrame(values, columns=feats, copy=False)], axis=1).set_axis(
        table.index
    )
    return out if list(out.columns) == list(table.columns) else out[list(table.columns)]


def _checked(
    table: pd.DataFrame,
    source: str,
    design: Design | None,
    timepoints: Sequence[str] | None,
    regions: Sequence[str] | None,
) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """`check_feature_table`'s checks; returns (typed keys, feature names, rows x features array)."""
    if design is None and timepoints is None and regions is None:
        design = Design()
    if design is not None:
        timepoints, regions = design.timepoints, design.region_names
    missing = [k for k in KEYS if k not in table.columns]
    if missing:
        raise DeltaradError(f"missing column(s) {', '.join(missing)}", file=source)
    keys = table[KEYS].copy()
    keys["patient_id"] = keys["patient_id"].astype(str)
    keys["reader"] = pd.to_numeric(keys["reader"], errors="coerce")
    for col, allowed in (("timepoint", timepoints), ("region", regions), ("reader", READERS)):
        if allowed is None:
            continue
        bad = ~keys[col].isin(allowed)
        if bad.any():
            row = keys.loc[bad].iloc[0]
            raise DeltaradError(
                f"{col} must be one of {list(allowed)}, got {row[col]!r}", patient=row["patient_id"], file=source
            )
    keys["reader"] = keys["reader"].astype(int)
    dup = keys.duplicated(KEYS)
    if dup.any():
        row = keys.loc[dup].iloc[0]
        raise DeltaradError(
            f"more than one row for {row['timepoint']}/{row['region']}/reader {row['reader']}",
            patient=row["patient_id"],
            file=source,
        )
    feats = feature_columns(table)
    if not feats:
        raise DeltaradError("no feature columns after patient_id, timepoint, region, reader", file=source)
    values = _numeric_values(table, feats, source)
    tp_codes, tps = pd.factorize(keys["timepoint"])
    missing_values = np.isnan(values)
    present: np.ndarray | None = None
    if len(tps) >= 2 and missing_values.any():  # features with a value at some timepoints only
        given = np.zeros((len(tps), len(feats)), dtype=np.int64)
        np.add.at(given, tp_codes, (~missing_values).astype(np.int64))
        present = given > 0
    if present is not None and not present.all():
        everywhere = np.asarray(present.all(axis=0))
        only = {tp: [f for j, f in enumerate(feats) if present[k, j] and not everywhere[j]] for k, tp in enumerate(tps)}
        detail = "; ".join(f"{len(v)} only at {tp} (e.g. {v[0]})" for tp, v in only.items() if v)
        raise DeltaradError(f"feature columns differ between timepoints: {detail}", file=source)
    return keys, feats, values


def _numeric_values(table: pd.DataFrame, feats: list[str], source: str) -> np.ndarray:
    """The features as one float array (rows x features); a value that is not a number is named.
    Numeric columns are taken as they are; only text columns are parsed."""
    frame = table[feats]
    text = [j for j, dtype in enumerate(frame.dtypes) if not pd.api.types.is_numeric_dtype(dtype)]
    if not text:
        return frame.to_numpy(float)
    values = np.empty((len(frame), len(feats)))
    numeric = [j for j in range(len(feats)) if j not in set(text)]
    if numeric:
        values[:, numeric] = frame.iloc[:, numeric].to_numpy(float)
    for j in text:
        column = frame.iloc[:, j]
        parsed = pd.to_numeric(column, errors="coerce")
        bad = np.flatnonzero(parsed.isna().to_numpy() & column.notna().to_numpy())
        if len(bad):
            raise DeltaradError(
                f"non-numeric value {column.iat[bad[0]]!r} in feature {feats[j]}",
                patient=table["patient_id"].iat[bad[0]],
                file=source,
            )
        values[:, j] = parsed.to_numpy(float)
    return values


def _change(b: np.ndarray, e: np.ndarray, kind: str) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "relative":
            return (e - b) / b
        if kind == "log_ratio":
            return np.log(e / b)
        return e - b


def _drop_reasons(x: np.ndarray, y: np.ndarray, feats: Sequence[str], kind: str, near_zero: float) -> dict[str, str]:
    """feature -> why its delta is not meaningful in this region (reader 1's baseline `x` and
    later exam `y`, patients x features); features not named are kept."""
    reasons: dict[str, str] = {}
    n = len(x)
    floor = near_zero * (np.std(x, axis=0, ddof=1) if n > 1 else np.zeros(x.shape[1]))
    for j, f in enumerate(feats):
        col = x[:, j]
        if not np.isfinite(col).all():
            reasons[f] = "baseline not finite"
        elif kind == "difference":
            continue
        elif (col == 0).any():
            reasons[f] = f"zero baseline ({int((col == 0).sum())} of {n} patients)"
        elif (np.abs(col) < floor[j]).any():
            reasons[f] = (
                f"near-zero baseline (|baseline| < {near_zero:g} x its SD {floor[j] / near_zero:.3g} "
                f"for {int((np.abs(col) < floor[j]).sum())} of {n} patients)"
            )
        elif (col < 0).any() and (col > 0).any():
            reasons[f] = f"baseline of both signs ({int((col < 0).sum())} negative, {int((col > 0).sum())} positive)"
        elif kind == "log_ratio" and not (y[:, j] / col > 0).all():
            reasons[f] = f"early of the other sign or 0 ({int((~(y[:, j] / col > 0)).sum())} of {n} patients)"
    return reasons


def _undefined_values(x: np.ndarray, y: np.ndarray, ref: np.ndarray, kind: str, near_zero: float) -> np.ndarray:
    """Per value (patients x features): True where reader 1's rule, with reader 1's baseline SD
    and sign (`ref`, reader 1's baselines), makes this reader's delta (baseline `x`, later `y`) undefined."""
    if kind == "difference":
        return np.zeros(x.shape, bool)
    floor = near_zero * (np.std(ref, axis=0, ddof=1) if len(ref) > 1 else np.zeros(ref.shape[1]))
    bad = (x == 0) | (np.abs(x) < floor) | (np.sign(x) != np.sign(ref[:1]))
    if kind == "log_ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            bad |= ~(y / x > 0)
    return bad


def delta_pairs(design: Design | Sequence[DeltaPair] | None, kind: str | None = None) -> tuple[DeltaPair, ...]:
    """The pairs of `design` (a Design or its pairs); None = the study's baseline-to-early pair in
    `kind` (default relative)."""
    if design is None:
        kind = kind or "relative"
        if kind not in DELTA_FORMS:
            raise DeltaradError(f"delta must be one of {list(DELTA_FORMS)}, got {kind!r}")
        return (DeltaPair(BASELINE, EARLY, kind),)
    if kind is not None:
        raise DeltaradError("give the delta's form in the design's pairs, not as `kind` as well")
    return tuple(design.deltas if isinstance(design, Design) else design)


def compute_delta(
    features_long: pd.DataFrame,
    design: Design | Sequence[DeltaPair] | None = None,
    *,
    kind: str | None = None,
    near_zero: float = NEAR_ZERO,
    drop_undefined: bool = True,
) -> tuple[pd.DataFrame, dict]:
    """The change of every feature for each pair of `design` (a Design, or its DeltaPairs; None =
    the study's baseline-to-early change in the form `kind`, default relative) per patient, region
    and reader.

    A feature whose reader-1 delta is not meaningful in a (pair, region) (the rule in the module
    docstring; for `relative` mostly a zero baseline: the study kept 816 of 851 intratumoral and
    845 peritumoral features) is dropped there, with the reason. Reader 2's values never drop a
    feature: an undefined one is NaN for that patient alone. Patients lacking one of the pair's
    two exams for a (region, reader) are left out of that pair and listed.

    With drop_undefined=False (scoring new patients with a frozen model) nothing is dropped: an
    undefined delta stays NaN or infinite for that patient alone, who is then left out, so one
    patient cannot remove a feature the model needs from the whole new cohort.

    Returns (delta table: DELTA_KEYS (patient_id, delta = the pair's name, region, reader) and one
    column per feature, NaN where the feature was dropped for that pair and region, rows sorted by
    patient_id then the design's order of pairs and regions, then reader; info: per pair under
    `deltas` {name: before, after, kind, formula, incomplete_patients, regions {region: n_features,
    n_kept, kept, dropped {feature: reason}, dropped_zero_baseline, reader2_undefined {feature:
    number of patients}}}, with near_zero, and the first pair's kind, formula,
    incomplete_patients and regions also at the top level, as a one-pair study reads them).
    """
    pairs = delta_pairs(design, kind)
    if isinstance(design, Design):
        table, feats, values = _checked(features_long, "feature table", design, None, None)
        region_order = list(design.region_names)
    else:
        table, feats, values = _checked(
            features_long,
            "feature table",
            None,
            None if design is not None else TIMEPOINTS,
            None if design is not None else REGIONS,
        )
        region_order = [r for r in REGIONS if r in set(table["region"])] + sorted(set(table["region"]) - set(REGIONS))
    used = table["timepoint"].isin({t for p in pairs for t in (p.before, p.after)}).to_numpy()
    if not used.all():
        table, values = table.loc[used], values[used]

    # each row's unit (patient, region, reader) as one integer, in the output's sort order
    patients, patient_code = np.unique(table["patient_id"].to_numpy(str), return_inverse=True)
    region_code = table["region"].map({r: i for i, r in enumerate(region_order)}).to_numpy(int)
    readers = np.array(READERS)
    reader_code = np.searchsorted(readers, table["reader"].to_numpy(int))
    n_units = len(patients) * len(region_order) * len(readers)
    unit = (patient_code * len(region_order) + region_code) * len(readers) + reader_code
    timepoint = table["timepoint"].to_numpy(object)

    def rows_of(tp: str) -> np.ndarray:
        """unit -> row of `tp`'s exam (-1: none)."""
        at = np.full(n_units, -1)
        rows = np.flatnonzero(timepoint == tp)
        at[unit[rows]] = rows
        return at

    at = {tp: rows_of(tp) for tp in {t for p in pairs for t in (p.before, p.after)}}
    info: dict = {"near_zero": near_zero, "deltas": {}}
    parts = []
    for pair in pairs:
        before, after = at[pair.before], at[pair.after]
        has_b, has_a = before >= 0, after >= 0
        both = np.flatnonzero(has_b & has_a)
        one = np.flatnonzero(has_b ^ has_a)
        incomplete = sorted(set(patients[one // (len(region_order) * len(readers))].tolist()))
        pair_info: dict[str, Any] = {
            "before": pair.before,
            "after": pair.after,
            "kind": pair.form,
            "formula": pair.formula,
            "incomplete_patients": incomplete,
            "regions": {},
        }
        info["deltas"][pair.name] = pair_info
        unit_region = (both // len(readers)) % len(region_order)
        unit_reader = readers[both % len(readers)]
        for r, region in enumerate(region_order):
            in_region = unit_region == r
            if not in_region.any():
                continue
            units = both[in_region]
            b, e = values[before[units]], values[after[units]]
            first = unit_reader[in_region] == 1
            b1, e1 = b[first], e[first]
            dropped = _drop_reasons(b1, e1, feats, pair.form, near_zero) if drop_undefined and len(b1) else {}
            kept = np.array([f not in dropped for f in feats])
            d = np.full(b.shape, np.nan)
            d[:, kept] = _change(b[:, kept], e[:, kept], pair.form)
            reader2_undefined = {}
            second = unit_reader[in_region] == 2
            if drop_undefined and len(b1) and second.any():
                kept_j = np.flatnonzero(kept)
                bad = _undefined_values(b[second][:, kept_j], e[second][:, kept_j], b1[:, kept_j], pair.form, near_zero)
                block = d[second][:, kept_j]
                block[bad] = np.nan
                d[np.ix_(np.flatnonzero(second), kept_j)] = block
                reader2_undefined = {feats[kept_j[j]]: int(bad[:, j].sum()) for j in np.flatnonzero(bad.any(axis=0))}
            parts.append((units // (len(region_order) * len(readers)), unit_reader[in_region], pair.name, region, d))
            kept_names = [f for f, k in zip(feats, kept) if k]
            pair_info["regions"][region] = {
                "n_features": len(feats),
                "n_kept": len(kept_names),
                "dropped": dropped,
                "dropped_zero_baseline": [f for f in feats if dropped.get(f, "").startswith("zero baseline")],
                "reader2_undefined": reader2_undefined,
                "kept": kept_names,
            }
            summary = drop_summary(pair_info["regions"][region])
            log.info(
                "delta %s %s (%s): %d of %d features kept%s",
                pair.name,
                region,
                pair.form,
                len(kept_names),
                len(feats),
                f" (dropped: {summary})" if summary else "",
            )
            if reader2_undefined:
                log.info(
                    "delta %s %s: reader 2 has %d undefined value(s) in %d feature(s), left out of their ICC",
                    pair.name,
                    region,
                    sum(reader2_undefined.values()),
                    len(reader2_undefined),
                )
        if not pair_info["regions"]:
            raise DeltaradError(f"no patient has both exams of the delta {pair.name} ({pair.before} and {pair.after})")
    first = info["deltas"][pairs[0].name]
    info.update({k: first[k] for k in ("kind", "formula", "incomplete_patients", "regions")})
    return _delta_table(parts, patients, feats), info


def _delta_table(
    parts: list[tuple[np.ndarray, np.ndarray, str, str, np.ndarray]], patients: np.ndarray, feats: list[str]
) -> pd.DataFrame:
    """The long delta table of blocks (patient codes, readers, pair, region, values), sorted by
    patient, then the blocks' order (pairs, then regions), then reader."""
    patient = np.concatenate([p for p, *_ in parts])
    reader = np.concatenate([r for _, r, *_ in parts])
    block = np.repeat(np.arange(len(parts)), [len(p) for p, *_ in parts])
    order = np.lexsort((reader, block, patient))
    keys = pd.DataFrame(
        {
            "patient_id": patients[patient[order]].astype(object),
            "delta": np.array([d for _, _, d, _, _ in parts], dtype=object)[block[order]],
            "region": np.array([r for _, _, _, r, _ in parts], dtype=object)[block[order]],
            "reader": reader[order],
        }
    )
    values = pd.DataFrame(np.concatenate([v for *_, v in parts])[order], columns=feats, copy=False)
    return pd.concat([keys, values], axis=1)


def drop_summary(region_info: dict) -> str:
    """'2 zero baseline, 3 baseline of both signs' for one region's info; '' when none dropped."""
    why = pd.Series([r.split(" (")[0] for r in region_info.get("dropped", {}).values()], dtype=str).value_counts()
    return ", ".join(f"{n} {reason}" for reason, n in why.items())


def dropped_features(info: dict) -> pd.DataFrame:
    """The features the delta rule dropped (DROPPED_COLUMNS), pair by pair and region by region."""
    deltas = info.get("deltas") or {DeltaPair(BASELINE, EARLY).name: info}
    rows = [
        {"delta": name, "region": region, "feature": f, "reason": reason}
        for name, pair in deltas.items()
        for region, part in pair["regions"].items()
        for f, reason in part.get("dropped", {}).items()
    ]
    return pd.DataFrame(rows, columns=DROPPED_COLUMNS)


def with_delta_column(delta: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The delta table with its `delta` column (DeltaPair.name); a table made before deltas were
    named holds the design's single pair and gets the column after patient_id."""
    if "delta" in delta.columns:
        return delta
    if len(design.deltas) != 1:
        raise DeltaradError(
            f"the delta table has no 'delta' column, but the design declares {len(design.deltas)} "
            f"deltas ({', '.join(design.delta_names)})"
        )
    out = delta.copy()
    out.insert(1, "delta", design.deltas[0].name)
    return out


def region_info(info: dict, delta: str, region: str) -> dict | None:
    """compute_delta's account (n_features, kept, dropped, ...) of one delta and region; None when
    the delta table has no such rows. An info without per-delta parts holds the single pair's."""
    part = info["deltas"].get(delta, {}) if "deltas" in info else info
    return part.get("regions", {}).get(region)


def region_matrix(
    delta: pd.DataFrame, region: str, reader: int, features: list[str], pair: str | None = None
) -> pd.DataFrame:
    """Patients x features of one region and reader (and delta `pair`, when given), indexed by patient_id."""
    mask = (delta["region"].to_numpy() == region) & (delta["reader"].to_numpy() == reader)
    if pair is not None:
        mask &= delta["delta"].to_numpy() == pair
    return delta.loc[mask, ["patient_id", *features]].set_index("patient_id")  # only the columns asked for


def features_by_region(regions: Sequence[str], features: Sequence[str]) -> dict[str, list[str]]:
    """A radscore's features per region: all of them for one region; for pooled regions, each
    region's by its prefix (design.pooled_feature), unprefixed."""
    if len(regions) == 1:
        return {regions[0]: list(features)}
    out: dict[str, list[str]] = {r: [] for r in regions}
    for f in features:
        region, _, name = f.partition(POOLED_SEPARATOR)
        out[region].append(name)
    return out


@dataclass(frozen=True)
class DeltaMatrices:
    """The delta table as the models use it: per delta, region and reader, a patients x features
    matrix (indexed by patient_id, the region's features only), cut from the long table once per
    fit or scoring and passed to harmonisation, selection and the radscores."""

    matrices: Mapping[tuple[str, str, int], pd.DataFrame]

    @classmethod
    def from_table(
        cls, delta: pd.DataFrame, features: Mapping[tuple[str, str], list[str]], readers: Iterable[int] = (1, 2)
    ) -> DeltaMatrices:
        """The matrices of `features` ((delta, region) -> its features) for each of `readers`
        (a reader without rows gets an empty matrix); `delta` has its `delta` column
        (with_delta_column)."""
        return cls(
            {
                (pair, region, reader): region_matrix(delta, region, reader, list(feats), pair)
                for (pair, region), feats in features.items()
                for reader in readers
            }
        )

    def __getitem__(self, key: tuple[str, str, int]) -> pd.DataFrame:
        return self.matrices[key]

    def __iter__(self) -> Iterator[tuple[str, str, int]]:
        return iter(self.matrices)

    def items(self):
        return self.matrices.items()

    def radscore(self, pair: str, regions: Sequence[str], reader: int) -> pd.DataFrame:
        """A radscore's patients x features: its region's matrix, or for pooled regions theirs side
        by side with region-prefixed names (a patient lacking a region is NaN there)."""
        if len(regions) == 1:
            return self[pair, regions[0], reader]
        parts = [self[pair, r, reader].rename(columns=lambda f, r=r: pooled_feature(r, f)) for r in regions]
        return pd.concat(parts, axis=1, join="outer")
