"""The study file's `design:` section: its defaults are the study's, the issue's example parses,
and a design that cannot be run is refused in words naming the key."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from deltarad.cohort import read_cohort
from deltarad.config import Study, load_study
from deltarad.design import DeltaPair, Design, ImageSpec, Reference, Region
from deltarad.errors import StudyFileError
from deltarad.features.extract import STUDY_PARAMS
from deltarad.features.store import settings_fingerprint
from deltarad.tablefile import Table


def test_no_design_section_is_the_study_design():
    assert Study.from_settings(None).design == Design()


def test_defaults_follow_the_study_files_own_keys():
    study = Study.from_settings({"delta": "log_ratio", "imaging": {"phase": 2, "ring_mm": 5}, "ultrasound": "us_read"})
    design = study.design
    assert design.deltas == (DeltaPair("baseline", "early", "log_ratio"),)
    assert design.image == ImageSpec(phase=2)
    assert design.regions == (Region("intratumoral"), Region("peritumoral", (0.0, 5.0)))
    assert design.references == (Reference("us", "Ultrasound", ("us_read",)),)
    assert [r.name for r in design.radscores] == ["radscore_dir", "radscore_dpr"]


def test_the_issues_example_parses(tmp_path):
    (tmp_path / "study.yaml").write_text(
        textwrap.dedent("""\
        cohort: cohort.csv
        delta: difference
        design:
          timepoints: [baseline, early, post]
          deltas: [[baseline, early], {pair: [baseline, post], form: log_ratio}]
          image: {subtract: [1, 0]}
          regions:
            intratumoral: tumour
            ring_0_3: {band_mm: [0, 3]}
            ring_3_6: {band_mm: [3, 6]}
          references: [ultrasound, {name: clinical, label: Clinical, columns: [er, her2, ki67]}]
        """)
    )
    design = load_study(tmp_path / "study.yaml").design
    assert design.timepoints == ("baseline", "early", "post")
    assert design.deltas == (DeltaPair("baseline", "early", "difference"), DeltaPair("baseline", "post", "log_ratio"))
    assert design.delta_names == ("early_vs_baseline", "post_vs_baseline")
    assert design.image == ImageSpec(subtract=(1, 0)) and design.image.phases == (1, 0)
    assert design.region_names == ("intratumoral", "ring_0_3", "ring_3_6")
    assert [b.band_mm for b in design.bands] == [(0.0, 3.0), (3.0, 6.0)]
    assert design.references == (
        Reference("us", "Ultrasound", ("ultrasound",)),
        Reference("clinical", "Clinical", ("er", "her2", "ki67")),
    )
    assert len(design.radscores) == 6  # one per region and delta


def test_radscores_pool_regions_per_delta():
    study = Study.from_settings(
        {
            "design": {
                "timepoints": ["baseline", "early", "post"],
                "deltas": [["baseline", "early"], ["baseline", "post"]],
                "radscores": [
                    {"name": "radscore_all", "label": "All", "regions": ["intratumoral", "peritumoral"]},
                    {"name": "radscore_t", "regions": ["intratumoral"], "delta": "post_vs_baseline"},
                ],
            }
        }
    )
    assert [(r.name, r.label, r.regions, r.delta) for r in study.design.radscores] == [
        ("radscore_all_early", "All (early)", ("intratumoral", "peritumoral"), "early_vs_baseline"),
        ("radscore_all_post", "All (post)", ("intratumoral", "peritumoral"), "post_vs_baseline"),
        ("radscore_t", "radscore_t", ("intratumoral",), "post_vs_baseline"),
    ]


@pytest.mark.parametrize(
    "settings, words",
    [
        ({"design": {"timepoints": ["baseline"]}}, "design.timepoints: at least 2 are needed"),
        ({"design": {"timepoints": ["baseline", "week 6"]}}, "design.timepoint 'week 6': use letters, digits and _"),
        ({"design": {"deltas": [["baseline", "late"]]}}, "design.deltas: 'late' is not a declared timepoint"),
        ({"design": {"deltas": [{"pair": ["baseline", "early"], "form": "ratio"}]}}, "design.deltas.0"),
        (
            {"design": {"regions": {"t": "tumour", "a": {"band_mm": [0, 4]}, "b": {"band_mm": [3, 6]}}}},
            "design.regions: bands a [0, 4] and b [3, 6] mm overlap",
        ),
        (
            {"design": {"regions": {"a": {"band_mm": [0, 3]}}}},
            "design.regions: exactly one region is the tumour, got 0",
        ),
        ({"design": {"regions": {"t": "tumour", "a": {"band_mm": [3, 3]}}}}, "0 <= inner < outer"),
        ({"design": {"image": {"subtract": [1, 1]}}}, "design.image: subtract takes two different phases"),
        ({"design": {"image": {"phase": 3, "subtract": [1, 0]}}}, "design.image: give one of phase, subtract or map"),
        ({"design": {"image": {"map": "pe"}}}, "design.image: {map: pe} needs the study file's `kinetics:` key"),
        (
            {"kinetics": {}, "design": {"image": {"map": "adc"}}},
            "design.image: {map: adc} is not a kinetic map; use one of pe, ser",
        ),
        (
            {"design": {"references": [{"name": "us", "columns": ["a"]}, "us"]}},
            "design.references: a model is named twice",
        ),
        ({"design": {"references": ["HR status"]}}, "design.references: the reference model 'HR status': use letters"),
        ({"design": {"radscores": [{"name": "r", "regions": ["ring_9"]}]}}, "radscores: r names region 'ring_9'"),
        ({"design": {"bands": []}}, "unknown key 'design.bands'"),
        (
            {"imaging": {"ring_mm": 5}, "design": {"regions": {"t": "tumour", "p": {"band_mm": [0, 3]}}}},
            "imaging.ring_mm (5 mm) and design.regions (bands [0, 3]) both set the peritumoral band",
        ),
        (
            {"imaging": {"phase": 2}, "design": {"image": {"subtract": [1, 0]}}},
            "imaging.phase (2) and design.image both",
        ),
        ({"ultrasound": "us_read", "design": {"references": ["ki67"]}}, "ultrasound names the column 'us_read'"),
    ],
)
def test_bad_designs_are_refused_in_words(settings, words):
    with pytest.raises(StudyFileError) as err:
        Study.from_settings(settings)
    assert words in str(err.value)


def test_the_same_value_given_twice_is_accepted():
    study = Study.from_settings(
        {
            "imaging": {"ring_mm": 3, "phase": 3},
            "ultrasound": "ultrasound",
            "design": {
                "regions": {"intratumoral": "tumour", "peritumoral": {"band_mm": [0, 3]}},
                "image": {"phase": 3},
                "references": ["ultrasound"],
            },
        }
    )
    assert study.design == Design()


def test_a_study_file_names_the_file_and_the_key(tmp_path):
    (tmp_path / "study.yaml").write_text("cohort: c.csv\ndesign:\n  deltas: [[baseline, mid]]\n")
    with pytest.raises(StudyFileError, match=r"study.yaml: design.deltas: 'mid' is not a declared timepoint"):
        load_study(tmp_path / "study.yaml")


def test_the_store_keys_of_the_study_design_are_unchanged():
    """Stored exams stay valid: the design adds to the key only what differs from imaging settings."""
    study = Study.from_settings(None)
    assert settings_fingerprint(study.imaging, STUDY_PARAMS, study.design) == settings_fingerprint(
        study.imaging, STUDY_PARAMS
    )
    bands = Study.from_settings(
        {
            "design": {
                "regions": {
                    "intratumoral": "tumour",
                    "peritumoral": {"band_mm": [0, 3]},
                    "ring_3_6": {"band_mm": [3, 6]},
                }
            }
        }
    )
    key = settings_fingerprint(bands.imaging, STUDY_PARAMS, bands.design)
    assert key["design"]["regions"]["ring_3_6"] == {"band_mm": [3.0, 6.0]}
    subtraction = Study.from_settings({"design": {"image": {"subtract": [1, 0]}}})
    assert settings_fingerprint(subtraction.imaging, STUDY_PARAMS, subtraction.design)["design"]["image"] == {
        "subtract": [1, 0]
    }


def test_a_clinical_reference_needs_no_ultrasound_column():
    study = Study.from_settings({"design": {"references": [{"name": "clinical", "columns": ["ki67", "age"]}]}})
    frame = pd.DataFrame(
        {
            "patient_id": ["A", "B", "C", "D"],
            "outcome": [1, 1, 0, 0],
            "ki67": [30, "high", 12.5, 8],
            "age": [50, 61, None, 70],
        }
    )
    cohort = read_cohort(study, table=Table.of_frame(frame, "cohort"))
    # a reference model scores every patient it is compared on: B's value is not a number, C's is blank
    assert list(cohort.cases["patient_id"]) == ["A", "D"]
    errors = dict(zip(cohort.failures["patient_id"], cohort.failures["error"]))
    assert "column 'ki67' (a reference model's) must be a number, got 'high'" in errors["B"]
    assert "column 'age' is blank" in errors["C"]


def test_a_kinetic_map_image_and_the_kinetics_key():
    study = Study.from_settings({"kinetics": {}, "design": {"image": {"map": "pe"}}})
    assert study.design.image.map == "pe" and study.design.image.phase is None
    assert study.kinetics is not None and study.kinetics.pe_min == 70
    assert Study.from_settings(None).kinetics is None
