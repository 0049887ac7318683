"""A feature table with planted signal: cohort.csv, features.csv and study.yaml for the modelling
stage alone (for tests, benchmarks and the demo before any image exists).

Each region has `n_features` features. `n_planted` of them per region carry signal: their delta
(relative change) differs between pCR and non-pCR by `effect` standard deviations (Cohen's d), all
others are noise. With k independent planted features the best linear score has a Mahalanobis
distance of effect * sqrt(k), so its AUC is Phi(effect * sqrt(k / 2)) (`expected_auc`).
A few noise features are near-copies of planted ones (|r| > 0.9, for the correlation step), a few
have a zero baseline for some patients (dropped by the delta step), and a few are unreliable
between readers (low ICC).

With a `design` (deltarad.design.Design) the table holds the design's timepoints and regions
instead of the study's (baseline/early, intratumoral/peritumoral): every later timepoint's relative
change from the first carries the planted signal, a response per patient and timepoint (its
outcome's mean `effect` SDs from the other's, plus N(0, 1)) that every region sees; the cohort then also has
`volume_change`, a continuous tumour-volume change that is informative (a clinical reference), and
with `ultrasound=False` no ultrasound column. study.yaml gets the design's `design:` section.

With `centres` > 1 each patient gets a `centre` (centre1, centre2, ...) and, with
`centre_effect` > 0, every centre shifts each feature's delta by N(0, centre_effect) SDs and
scales its spread by exp(N(0, centre_effect / 2)): a scanner/protocol effect for ComBat to
remove. These draws use their own random stream, so the rest of the table is unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.stats import norm

from deltarad import atomic
from deltarad.design import (
    BASELINE,
    DELTA_KEYS,
    EARLY,
    FEATURE_KEYS,
    INTRATUMORAL,
    ULTRASOUND_COLUMN,
    DeltaPair,
    Design,
    Region,
    default_radscores,
)

CLINICAL = ["age", "ca153", "subtype", "ki67"]
#: the generated variant of another study: exams at baseline, early and post (two deltas from
#: baseline), the tumour and two peritumoral bands (0-3 and 3-6 mm), the ultrasound reference
THREE_TIMEPOINTS = Design(
    timepoints=(BASELINE, EARLY, "post"),
    deltas=(DeltaPair(BASELINE, EARLY), DeltaPair(BASELINE, "post")),
    regions=(Region(INTRATUMORAL), Region("ring_0_3", (0.0, 3.0)), Region("ring_3_6", (3.0, 6.0))),
)
#: the designs `deltarad demo --features-only --design` generates (None: the study's own)
DEMO_DESIGNS: dict[str, Design | None] = {"study": None, "three-timepoint": THREE_TIMEPOINTS}
SUBTYPES = ["luminal A", "luminal B", "HER2-positive", "triple negative"]


def expected_auc(effect: float, n_planted: int) -> float:
    return float(norm.cdf(effect * np.sqrt(n_planted / 2)))


def _region_features(rng, y, n_features, n_planted, effect, reader2_rows, centre_rng, centre, centre_effect):
    n = len(y)
    delta_z = rng.standard_normal((n, n_features))
    delta_z[:, :n_planted] += effect * (y[:, None] - 0.5)
    n_copies = min(3, n_planted, n_features - n_planted)
    for j in range(n_copies):  # near-copies of planted features: r about 0.97
        delta_z[:, n_planted + j] = delta_z[:, j] + 0.25 * rng.standard_normal(n)
    if centre_effect > 0:
        n_centres = int(centre.max()) + 1
        shift = centre_rng.normal(0.0, centre_effect, (n_centres, n_features))
        scale = np.exp(centre_rng.normal(0.0, centre_effect / 2, (n_centres, n_features)))
        delta_z = delta_z * scale[centre] + shift[centre]
    baseline = np.exp(rng.normal(3.0, 0.5, (n, n_features)))
    n_zero = min(2, n_features - n_planted - n_copies)
    for j in range(n_zero):  # zero baseline for some patients: these features are dropped
        baseline[rng.choice(n, 2, replace=False), n_features - 1 - j] = 0.0
    early = baseline * (1.0 + 0.1 * delta_z)
    names = [f"original_synthetic_F{j:03d}" for j in range(n_features)]

    reader_sd = np.full(n_features, 0.002)
    reader_sd[n_features - 1 - n_zero - np.arange(min(5, n_features - n_planted - n_copies - n_zero))] = 0.2
    rows = []
    for reader, who in ((1, np.arange(n)), (2, reader2_rows)):
        jitter = 1.0 if reader == 1 else None
        for tp, values in ((BASELINE, baseline), (EARLY, early)):
            v = values[who]
            if reader == 2:
                jitter = 1.0 + reader_sd * rng.standard_normal((len(who), n_features))
                v = v * jitter
            rows.append(pd.DataFrame(v, columns=names).assign(_i=who, timepoint=tp, reader=reader))
    return pd.concat(rows, ignore_index=True)


def _design_region_features(rng, y, n_features, n_planted, response, reader2_rows, timepoints):
    """One region's rows (like _region_features) at every timepoint: each later one's relative
    change from the first follows the patient's `response` at it (timepoint -> one value per
    patient, shared by every region) in the planted features, plus independent noise."""
    n = len(y)
    baseline = np.exp(rng.normal(3.0, 0.5, (n, n_features)))
    for j in range(min(2, n_features - n_planted)):  # zero baselines for some patients: dropped by the delta rule
        baseline[rng.choice(n, 2, replace=False), n_features - 1 - j] = 0.0
    values = {timepoints[0]: baseline}
    for tp in timepoints[1:]:
        delta_z = rng.standard_normal((n, n_features))
        delta_z[:, :n_planted] += response[tp][:, None]
        values[tp] = baseline * (1.0 + 0.1 * delta_z)
    names = [f"original_synthetic_F{j:03d}" for j in range(n_features)]
    reader_sd = np.full(n_features, 0.002)
    reader_sd[n_features - 3 - np.arange(min(5, max(n_features - n_planted - 3, 0)))] = 0.2  # unreliable features
    rows = []
    for reader, who in ((1, np.arange(n)), (2, reader2_rows)):
        for tp, v in values.items():
            v = v[who]
            if reader == 2:
                v = v * (1.0 + reader_sd * rng.standard_normal((len(who), n_features)))
            rows.append(pd.DataFrame(v, columns=names).assign(_i=who, timepoint=tp, reader=reader))
    return pd.concat(rows, ignore_index=True)


def design_delta_table(features: pd.DataFrame, design: Design) -> pd.DataFrame:
    """The long delta table (DELTA_KEYS, the features) of a generated feature table: each of the
    design's deltas in its form; a feature whose reader-1 delta is not finite for some patient of a
    region (a zero baseline) is left empty in that region, as the delta rule drops it."""
    keys = ["patient_id", "region", "reader"]
    feats = [c for c in features.columns if c not in FEATURE_KEYS]
    at = {tp: part.set_index(keys)[feats].sort_index() for tp, part in features.groupby("timepoint")}
    parts = []
    for d in design.deltas:
        before, after = at[d.before], at[d.after].reindex(at[d.before].index)
        with np.errstate(divide="ignore", invalid="ignore"):
            change = {
                "relative": (after - before) / before,
                "log_ratio": np.log(after / before),
                "difference": after - before,
            }[d.form]
        regions, readers = change.index.get_level_values("region"), change.index.get_level_values("reader")
        for region in design.region_names:
            reader1 = (regions == region) & (readers == 1)
            undefined = ~np.isfinite(change[reader1].to_numpy(float)).all(axis=0)
            change.loc[regions == region, np.asarray(feats)[undefined]] = np.nan
        parts.append(change.reset_index().assign(delta=d.name))
    delta = pd.concat(parts, ignore_index=True)
    return delta[[*DELTA_KEYS, *feats]].sort_values(list(DELTA_KEYS), kind="stable").reset_index(drop=True)


def design_section(design: Design) -> dict:
    """The study file's `design:` section of a design (the issue's shape: deltas as pairs,
    regions as tumour or {band_mm: [inner, outer]}, a reference as its column or {name, label, columns})."""
    raw = design.to_dict()
    radscores = (
        {}
        if design.radscores == default_radscores(design.regions, design.deltas)
        else {
            "radscores": [
                {"name": r.name, "label": r.label, "regions": list(r.regions), "delta": r.delta}
                for r in design.radscores
            ]
        }
    )
    return {
        "timepoints": raw["timepoints"],
        "deltas": [d["pair"] if d["form"] == "relative" else d for d in raw["deltas"]],
        "image": raw["image"],
        "regions": raw["regions"],
        "references": [
            r.columns[0]
            if (r.name == ULTRASOUND_COLUMN or r.name == r.label == r.columns[0]) and len(r.columns) == 1
            else {"name": r.name, "label": r.label, "columns": list(r.columns)}
            for r in design.references
        ],
        **radscores,
    }


def generate_feature_study(
    out_dir: str | Path,
    n_patients: int = 187,
    n_features: int = 200,
    n_planted: int = 4,
    effect: float = 1.0,
    seed: int = 0,
    reader2_fraction: float = 0.5,
    internal_validation: bool = False,
    centres: int = 1,
    centre_effect: float = 0.0,
    design: Design | None = None,
    ultrasound: bool = True,
) -> Path:
    """Write cohort.csv, features.csv and study.yaml into out_dir; return the study file."""
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    n = n_patients
    y = (rng.random(n) < 0.54).astype(int)
    ids = [f"SYN{i + 1:04d}" for i in range(n)]
    subtype_p = np.where(y[:, None] == 1, [0.15, 0.25, 0.35, 0.25], [0.35, 0.35, 0.15, 0.15])
    cohort = pd.DataFrame(
        {
            "patient_id": ids,
            "outcome": y,
            "ultrasound": np.where(y == 1, rng.random(n) < 0.48, rng.random(n) > 0.77).astype(int),
            "age": np.round(rng.normal(49, 9, n)).astype(int),
            "ca153": np.round(rng.lognormal(2.6, 0.5, n), 1),
            "subtype": [SUBTYPES[rng.choice(4, p=p)] for p in subtype_p],
            "ki67": np.where(rng.random(n) < 0.75, "high", "low"),
        }
    )
    reader2_rows = np.sort(rng.choice(n, int(round(reader2_fraction * n)), replace=False))
    centre_rng = np.random.default_rng([seed, 1])
    centre = centre_rng.integers(0, centres, n)
    if centres > 1:
        cohort["centre"] = [f"centre{c + 1}" for c in centre]
    parts = []
    if design is None:
        for region in ("intratumoral", "peritumoral"):
            part = _region_features(
                rng, y, n_features, n_planted, effect, reader2_rows, centre_rng, centre, centre_effect
            )
            parts.append(part.assign(region=region))
    else:  # its own random stream: the study's table above is unchanged
        design_rng = np.random.default_rng([seed, 2])
        # the patient's response at each later exam: `effect` SDs apart between outcomes, seen by every region
        response = {tp: effect * (y - 0.5) + design_rng.standard_normal(n) for tp in design.timepoints[1:]}
        for region in design.region_names:
            part = _design_region_features(
                design_rng, y, n_features, n_planted, response, reader2_rows, design.timepoints
            )
            parts.append(part.assign(region=region))
        # a tumour-volume change that follows the outcome (a continuous clinical reference)
        cohort["volume_change"] = np.round(-0.3 - 0.25 * y + 0.2 * design_rng.standard_normal(n), 3)
        if not ultrasound:
            cohort = cohort.drop(columns="ultrasound")
    feats = pd.concat(parts, ignore_index=True)
    feats.insert(0, "patient_id", [ids[i] for i in feats.pop("_i")])
    keys = ["patient_id", "timepoint", "region", "reader"]
    feats = feats[keys + [c for c in feats.columns if c not in keys]]
    feats = feats.sort_values(keys, kind="stable").reset_index(drop=True)

    atomic.write_csv(out / "cohort.csv", cohort)
    atomic.write_csv(out / "features.csv", feats)
    if design is not None:  # modelling without the delta step: the delta table of the design
        atomic.write_csv(out / "delta_features.csv", design_delta_table(feats, design))
    study: dict[str, object] = {
        "cohort": "cohort.csv",
        "features": "features.csv",
        "outcome": "outcome",
        "ultrasound": "ultrasound",
        "clinical": CLINICAL,
        "categorical": ["subtype", "ki67"],
    }
    if design is not None:
        study["design"] = design_section(design)
        if not any(r.name == ULTRASOUND_COLUMN for r in design.references):
            del study["ultrasound"]
    if not internal_validation:  # fast runs for tests and benchmarks; the study default is 200 resamples
        study["validation"] = {"bootstrap": 0, "cv_repeats": 0}
    return atomic.write_text(out / "study.yaml", yaml.safe_dump(study, sort_keys=False))
