"""Delta radiomics: the change of each feature from baseline to the early exam.

Three forms (the study file's `delta`): `relative` (early - baseline) / baseline, the study's;
`log_ratio` log(early / baseline); `difference` early - baseline.

The rule that keeps a delta meaningful, per region, on reader 1's values (the reader the models
use; reader 2 serves only the ICC, so its readings never drop a feature for everyone):
- relative and log_ratio divide by the baseline, so a feature is dropped when any patient's
  baseline is 0 (`zero baseline`), below `near_zero` times the SD of the baseline over the
  region's patients in absolute value (`near-zero baseline`: the change is then unbounded), or
  when the baselines take both signs (`baseline of both signs`: a relative change then flips its
  sign with the baseline's, as with first-order means and wavelet features);
- log_ratio also needs early / baseline > 0 for every patient (`early of the other sign or 0`);
- difference needs nothing beyond finite values.
These filters use no outcome, so they run over the whole cohort, as in the study. A reader-2
value that breaks the rule (a zero, near-zero or other-signed baseline in the second reader's
segmentation) becomes NaN for that patient and feature alone, is counted in the info and is left
out of that feature's ICC.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deltarad.design import POOLED_SEPARATOR, Design, pooled_feature
from deltarad.errors import DeltaradError

KEYS = ["patient_id", "timepoint", "region", "reader"]
DELTA_KEYS = ["patient_id", "region", "reader"]
TIMEPOINTS = ("baseline", "early")
REGIONS = ("intratumoral", "peritumoral")
DELTA_KINDS = {"relative": "(early - baseline) / baseline", "log_ratio": "log(early / baseline)",
               "difference": "early - baseline"}
NEAR_ZERO = 1e-3  # default fraction of the baseline's SD below which |baseline| counts as near zero
DROPPED_COLUMNS = ["region", "feature", "reason"]

log = logging.getLogger(__name__)


def feature_columns(table: pd.DataFrame, keys: list[str] = KEYS) -> list[str]:
    return [c for c in table.columns if c not in keys]


def check_feature_table(table: pd.DataFrame, source: str = "feature table") -> pd.DataFrame:
    """Validate the long-form layout; return it with typed keys."""
    missing = [k for k in KEYS if k not in table.columns]
    if missing:
        raise DeltaradError(f"missing column(s) {', '.join(missing)}", file=source)
    table = table.copy()
    table["patient_id"] = table["patient_id"].astype(str)
    table["reader"] = pd.to_numeric(table["reader"], errors="coerce")
    for col, allowed in (("timepoint", TIMEPOINTS), ("region", REGIONS), ("reader", (1, 2))):
        bad = ~table[col].isin(allowed)
        if bad.any():
            row = table.loc[bad].iloc[0]
            raise DeltaradError(
                f"{col} must be one of {list(allowed)}, got {row[col]!r}", patient=row["patient_id"], file=source
            )
    table["reader"] = table["reader"].astype(int)
    dup = table.duplicated(KEYS)
    if dup.any():
        row = table.loc[dup].iloc[0]
        raise DeltaradError(
            f"more than one row for {row['timepoint']}/{row['region']}/reader {row['reader']}",
            patient=row["patient_id"],
            file=source,
        )
    feats = feature_columns(table)
    if not feats:
        raise DeltaradError("no feature columns after patient_id, timepoint, region, reader", file=source)
    values = table[feats].apply(pd.to_numeric, errors="coerce")
    nonnum = values.isna() & table[feats].notna()
    if nonnum.any().any():
        r, c = np.argwhere(nonnum.to_numpy())[0]
        raise DeltaradError(
            f"non-numeric value {table[feats].iat[r, c]!r} in feature {feats[c]}",
            patient=table["patient_id"].iat[r],
            file=source,
        )
    table[feats] = values.astype(float)
    present = table[feats].notna().groupby(table["timepoint"]).any()
    if len(present) == 2 and not present.all(axis=0).all():
        only = {tp: [f for f in feats if present.loc[tp, f] and not present.drop(tp).iloc[0][f]] for tp in present.index}
        detail = "; ".join(f"{len(v)} only at {tp} (e.g. {v[0]})" for tp, v in only.items() if v)
        raise DeltaradError(f"feature columns differ between timepoints: {detail}", file=source)
    return table


def _change(b: pd.DataFrame, e: pd.DataFrame, kind: str) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "relative":
            return (e - b) / b
        if kind == "log_ratio":
            return np.log(e / b)
        return e - b


def _drop_reasons(b: pd.DataFrame, e: pd.DataFrame, kind: str, near_zero: float) -> dict[str, str]:
    """feature -> why its delta is not meaningful in this region (reader 1's values, patients x
    features); features not named are kept."""
    reasons: dict[str, str] = {}
    x, y = b.to_numpy(float), e.to_numpy(float)
    n = len(x)
    floor = near_zero * (np.std(x, axis=0, ddof=1) if n > 1 else np.zeros(x.shape[1]))
    for j, f in enumerate(b.columns):
        col = x[:, j]
        if not np.isfinite(col).all():
            reasons[f] = "baseline not finite"
        elif kind == "difference":
            continue
        elif (col == 0).any():
            reasons[f] = f"zero baseline ({int((col == 0).sum())} of {n} patients)"
        elif (np.abs(col) < floor[j]).any():
            reasons[f] = (f"near-zero baseline (|baseline| < {near_zero:g} x its SD {floor[j] / near_zero:.3g} "
                          f"for {int((np.abs(col) < floor[j]).sum())} of {n} patients)")
        elif (col < 0).any() and (col > 0).any():
            reasons[f] = f"baseline of both signs ({int((col < 0).sum())} negative, {int((col > 0).sum())} positive)"
        elif kind == "log_ratio" and not (y[:, j] / col > 0).all():
            reasons[f] = f"early of the other sign or 0 ({int((~(y[:, j] / col > 0)).sum())} of {n} patients)"
    return reasons


def _undefined_values(b: pd.DataFrame, e: pd.DataFrame, reference: pd.DataFrame, kind: str,
                      near_zero: float) -> np.ndarray:
    """Per value (patients x features): True where reader 1's rule, with reader 1's baseline SD
    and sign (`reference`), makes this reader's delta undefined."""
    if kind == "difference":
        return np.zeros(b.shape, bool)
    ref = reference.to_numpy(float)
    floor = near_zero * (np.std(ref, axis=0, ddof=1) if len(ref) > 1 else np.zeros(ref.shape[1]))
    x = b.to_numpy(float)
    bad = (x == 0) | (np.abs(x) < floor) | (np.sign(x) != np.sign(ref[:1]))
    if kind == "log_ratio":
        with np.errstate(divide="ignore", invalid="ignore"):
            bad |= ~(e.to_numpy(float) / x > 0)
    return bad


def compute_delta(features_long: pd.DataFrame, *, kind: str = "relative", near_zero: float = NEAR_ZERO,
                  drop_undefined: bool = True) -> tuple[pd.DataFrame, dict]:
    """The `kind` of change (DELTA_KINDS) from baseline to early per patient, region and reader.

    A feature whose reader-1 delta is not meaningful in a region (the rule in the module
    docstring; for `relative` mostly a zero baseline: the study kept 816 of 851 intratumoral and
    845 peritumoral features) is dropped for that region, with the reason. Reader 2's values
    never drop a feature: an undefined one is NaN for that patient alone. Patients lacking one of
    the two timepoints for a (region, reader) are left out and listed.

    With drop_undefined=False (scoring new patients with a frozen model) nothing is dropped: an
    undefined delta stays NaN or infinite for that patient alone, who is then left out, so one
    patient cannot remove a feature the model needs from the whole new cohort.

    Returns (delta table: patient_id, region, reader, one column per feature with NaN where the
    feature was dropped for that region; info: kind, near_zero, per region n_features, n_kept,
    kept, dropped {feature: reason}, dropped_zero_baseline, reader2_undefined {feature: number of
    patients}, and incomplete patients).
    """
    if kind not in DELTA_KINDS:
        raise DeltaradError(f"delta must be one of {list(DELTA_KINDS)}, got {kind!r}")
    table = check_feature_table(features_long)
    feats = feature_columns(table)
    base = table[table["timepoint"] == "baseline"].set_index(DELTA_KEYS)[feats]
    early = table[table["timepoint"] == "early"].set_index(DELTA_KEYS)[feats]
    both = base.index.intersection(early.index)
    incomplete = sorted(set(base.index.symmetric_difference(early.index).get_level_values("patient_id")))
    base, early = base.loc[both].sort_index(), early.loc[both].sort_index()

    info: dict = {"kind": kind, "formula": DELTA_KINDS[kind], "near_zero": near_zero,
                  "incomplete_patients": incomplete, "regions": {}}
    parts = []
    for region in REGIONS:
        in_region = base.index.get_level_values("region") == region
        if not in_region.any():
            continue
        b, e = base[in_region], early[in_region]
        reader = b.index.get_level_values("reader")
        b1, e1 = b[reader == 1], e[reader == 1]
        dropped = _drop_reasons(b1, e1, kind, near_zero) if drop_undefined and len(b1) else {}
        kept = [f for f in feats if f not in dropped]
        d = _change(b[kept], e[kept], kind)
        reader2_undefined = {}
        if drop_undefined and len(b1) and (reader == 2).any():
            second = reader == 2
            bad = _undefined_values(b[kept][second], e[kept][second], b1[kept], kind, near_zero)
            d.loc[second] = d.loc[second].mask(bad)
            reader2_undefined = {kept[j]: int(bad[:, j].sum()) for j in np.flatnonzero(bad.any(axis=0))}
        d = d.reindex(columns=feats).copy()
        parts.append(d)
        info["regions"][region] = {
            "n_features": len(feats),
            "n_kept": len(kept),
            "dropped": dropped,
            "dropped_zero_baseline": [f for f in feats if dropped.get(f, "").startswith("zero baseline")],
            "reader2_undefined": reader2_undefined,
            "kept": kept,
        }
        summary = drop_summary(info["regions"][region])
        log.info("delta %s (%s): %d of %d features kept%s", region, kind, len(kept), len(feats),
                 f" (dropped: {summary})" if summary else "")
        if reader2_undefined:
            log.info("delta %s: reader 2 has %d undefined value(s) in %d feature(s), left out of their ICC",
                     region, sum(reader2_undefined.values()), len(reader2_undefined))
    if not parts:
        raise DeltaradError("no patient has both a baseline and an early exam")
    delta = pd.concat(parts).copy().reset_index()
    delta = delta.sort_values(DELTA_KEYS, kind="stable").reset_index(drop=True)
    return delta, info


def drop_summary(region_info: dict) -> str:
    """'2 zero baseline, 3 baseline of both signs' for one region's info; '' when none dropped."""
    why = pd.Series([r.split(" (")[0] for r in region_info.get("dropped", {}).values()], dtype=str).value_counts()
    return ", ".join(f"{n} {reason}" for reason, n in why.items())


def dropped_features(info: dict) -> pd.DataFrame:
    """The features the delta rule dropped (DROPPED_COLUMNS), region by region."""
    rows = [{"region": region, "feature": f, "reason": reason}
            for region, part in info["regions"].items() for f, reason in part.get("dropped", {}).items()]
    return pd.DataFrame(rows, columns=DROPPED_COLUMNS)


def with_delta_column(delta: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The delta table with its `delta` column (DeltaPair.name); a table made before deltas were
    named holds the design's single pair and gets the column after patient_id."""
    if "delta" in delta.columns:
        return delta
    if len(design.deltas) != 1:
        raise DeltaradError(f"the delta table has no 'delta' column, but the design declares {len(design.deltas)} "
                            f"deltas ({', '.join(design.delta_names)})")
    out = delta.copy()
    out.insert(1, "delta", design.deltas[0].name)
    return out


def region_info(info: dict, delta: str, region: str) -> dict | None:
    """compute_delta's account (n_features, kept, dropped, ...) of one delta and region; None when
    the delta table has no such rows. An info without per-delta parts holds the single pair's."""
    part = info["deltas"].get(delta, {}) if "deltas" in info else info
    return part.get("regions", {}).get(region)


def region_matrix(delta: pd.DataFrame, region: str, reader: int, features: list[str],
                  pair: str | None = None) -> pd.DataFrame:
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
    def from_table(cls, delta: pd.DataFrame, features: Mapping[tuple[str, str], list[str]],
                   readers: Iterable[int] = (1, 2)) -> "DeltaMatrices":
        """The matrices of `features` ((delta, region) -> its features) for each of `readers`
        (a reader without rows gets an empty matrix); `delta` has its `delta` column
        (with_delta_column)."""
        return cls({(pair, region, reader): region_matrix(delta, region, reader, list(feats), pair)
                    for (pair, region), feats in features.items() for reader in readers})

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
