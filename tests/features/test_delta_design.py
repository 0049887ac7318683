"""compute_delta over a design's pairs: one delta per declared pair, each in its form, keyed by
design.DELTA_KEYS; values against closed forms and a plain per-row loop."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deltarad.design import DELTA_KEYS, DeltaPair, Design, Region
from deltarad.errors import DeltaradError
from deltarad.features.delta import check_feature_table, compute_delta, dropped_features

DESIGN = Design(
    timepoints=("baseline", "early", "post"),
    deltas=(DeltaPair("baseline", "early"), DeltaPair("baseline", "post", "log_ratio")),
    regions=(Region("intratumoral"), Region("ring_0_3", (0, 3)), Region("ring_3_6", (3, 6))),
)


def long_table(values: dict) -> pd.DataFrame:
    """{(patient, timepoint, region, reader): (a, b)} -> the long feature table."""
    return pd.DataFrame(
        [(*k, *v) for k, v in values.items()], columns=["patient_id", "timepoint", "region", "reader", "a", "b"]
    )


def test_one_delta_per_pair_each_in_its_form():
    rows = {}
    for p, scale in (("P1", 1.0), ("P2", 2.0), ("P3", 4.0)):
        for region in DESIGN.region_names:
            rows[p, "baseline", region, 1] = (2.0 * scale, 10.0)
            rows[p, "early", region, 1] = (3.0 * scale, 5.0)
            if p != "P3":  # P3 has no post exam
                rows[p, "post", region, 1] = (2.0 * scale * math.e, -1.0)
    delta, info = compute_delta(long_table(rows), DESIGN)
    assert list(delta.columns) == [*DELTA_KEYS, "a", "b"]
    assert list(delta["delta"].unique()) == ["early_vs_baseline", "post_vs_baseline"]
    early = delta[delta["delta"] == "early_vs_baseline"]
    assert len(early) == 9 and early["a"].tolist() == [0.5] * 9 and early["b"].tolist() == [-0.5] * 9
    post = delta[delta["delta"] == "post_vs_baseline"]
    assert sorted(set(post["patient_id"])) == ["P1", "P2"]
    assert post["a"].to_numpy() == pytest.approx(1.0)  # log(e)
    assert post["b"].isna().all()  # log of a negative ratio: dropped in every region
    assert info["deltas"]["post_vs_baseline"]["incomplete_patients"] == ["P3"]
    assert info["deltas"]["post_vs_baseline"]["formula"] == "log(post / baseline)"
    assert info["deltas"]["early_vs_baseline"]["formula"] == "(early - baseline) / baseline"
    assert info["deltas"]["post_vs_baseline"]["regions"]["ring_3_6"]["dropped"] == {
        "b": "early of the other sign or 0 (2 of 2 patients)"
    }
    assert info["kind"] == "relative" and info["regions"] == info["deltas"]["early_vs_baseline"]["regions"]
    # rows: patient, then the design's pairs and regions, then reader
    assert delta[["patient_id", "delta", "region"]].head(6).values.tolist() == [
        ["P1", "early_vs_baseline", "intratumoral"],
        ["P1", "early_vs_baseline", "ring_0_3"],
        ["P1", "early_vs_baseline", "ring_3_6"],
        ["P1", "post_vs_baseline", "intratumoral"],
        ["P1", "post_vs_baseline", "ring_0_3"],
        ["P1", "post_vs_baseline", "ring_3_6"],
    ]
    dropped = dropped_features(info)
    assert set(dropped["delta"]) == {"post_vs_baseline"} and len(dropped) == 3


def plain_delta(table: pd.DataFrame, pair: DeltaPair) -> dict:
    """The change per (patient, region, reader) by a loop over rows: the reference."""
    exams = {(r.patient_id, r.timepoint, r.region, r.reader): r for r in table.itertuples(index=False)}
    out = {}
    for (p, tp, region, reader), row in exams.items():
        after = exams.get((p, pair.after, region, reader))
        if tp != pair.before or after is None:
            continue
        out[p, region, reader] = {
            f: (getattr(after, f) - getattr(row, f)) / getattr(row, f)
            if pair.form == "relative"
            else getattr(after, f) - getattr(row, f)
            for f in ("f0", "f1", "f2")
        }
    return out


@pytest.mark.parametrize("form", ["relative", "difference"])
def test_values_equal_a_plain_loop_over_rows(form):
    rng = np.random.default_rng(5)
    rows = []
    for i in range(40):
        for tp in DESIGN.timepoints:
            for region in DESIGN.region_names:
                for reader in (1, 2):
                    if (reader == 2 and i % 3) or (tp == "post" and i % 7 == 0):
                        continue
                    rows.append((f"P{i:03d}", tp, region, reader, *rng.lognormal(2, 0.5, 3)))
    table = pd.DataFrame(rows, columns=["patient_id", "timepoint", "region", "reader", "f0", "f1", "f2"])
    table = table.sample(frac=1, random_state=1).reset_index(drop=True)  # any row order
    design = Design(
        timepoints=DESIGN.timepoints,
        regions=DESIGN.regions,
        deltas=(DeltaPair("baseline", "early", form), DeltaPair("early", "post", form)),
    )
    delta, info = compute_delta(table, design)
    for pair in design.deltas:
        expected = plain_delta(table, pair)
        got = delta[delta["delta"] == pair.name].set_index(["patient_id", "region", "reader"])
        assert len(got) == len(expected)
        for key, values in expected.items():
            for f, v in values.items():
                assert got.loc[key, f] == v  # exactly: the same arithmetic
    assert info["deltas"]["post_vs_early"]["incomplete_patients"] == [f"P{i:03d}" for i in range(0, 40, 7)]


def test_the_feature_table_holds_the_designs_names():
    table = long_table({("P1", "week6", "intratumoral", 1): (1.0, 2.0)})
    with pytest.raises(DeltaradError, match=r"timepoint must be one of \['baseline', 'early', 'post'\], got 'week6'"):
        check_feature_table(table, design=DESIGN)
    table = long_table({("P1", "post", "peritumoral", 1): (1.0, 2.0)})
    with pytest.raises(DeltaradError, match=r"region must be one of \['intratumoral', 'ring_0_3', 'ring_3_6'\]"):
        compute_delta(table, DESIGN)


def test_a_pair_without_patients_is_named():
    rows = {("P1", "baseline", "intratumoral", 1): (1.0, 2.0), ("P1", "early", "intratumoral", 1): (2.0, 2.0)}
    with pytest.raises(
        DeltaradError, match=r"no patient has both exams of the delta post_vs_baseline \(baseline and post\)"
    ):
        compute_delta(long_table(rows), DESIGN)
