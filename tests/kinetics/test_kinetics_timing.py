"""The choice of pre-contrast, early and late phases by I-SPY's timing rule."""

from __future__ import annotations

import pytest

from deltarad.errors import StageError
from deltarad.kinetics.timing import choose_phases


def test_phases_every_90_s_choose_the_phases_nearest_150_and_450_s_after_injection():
    # injection at the start of phase 1 (90 s); each phase counted at its start + 45 s:
    # phases 1..5 are 45, 135, 225, 315, 405 s after injection
    choice = choose_phases(6, [0, 90, 180, 270, 360, 450])
    assert (choice.pre, choice.early, choice.late) == (0, 2, 5)
    assert choice.after_injection_s == (None, 45.0, 135.0, 225.0, 315.0, 405.0)
    assert "temporal resolution 90 s" in choice.note and "phase 2" in choice.note


def test_a_tie_between_two_phases_is_refused_naming_both():
    # with a 7th phase, phases 5 (405 s) and 6 (495 s) are both 45 s from 450 s
    with pytest.raises(StageError, match=r"phase 5 \(405 s\) and phase 6 \(495 s\).*late"):
        choose_phases(7, [0, 90, 180, 270, 360, 450, 540], patient="P1")
    choice = choose_phases(7, [0, 90, 180, 270, 360, 450, 540], late=6)
    assert (choice.early, choice.late) == (2, 6)
    assert "late phase 6 named by the study file" in choice.note


def test_a_given_temporal_resolution_shifts_the_phase_times():
    # phases start 60 s apart but each is acquired in 30 s: 15, 75, 135, ... 435 s after injection
    choice = choose_phases(9, [0, 60, 120, 180, 240, 300, 360, 420, 480], resolution_s=30)
    assert choice.after_injection_s[1:] == (15.0, 75.0, 135.0, 195.0, 255.0, 315.0, 375.0, 435.0)
    assert (choice.early, choice.late) == (3, 8)


def test_missing_times_refused_unless_the_phases_are_named():
    with pytest.raises(StageError, match="phase times are unknown"):
        choose_phases(6, None)
    choice = choose_phases(6, None, pre=0, early=2, late=5)
    assert (choice.pre, choice.early, choice.late) == (0, 2, 5) and choice.after_injection_s is None


def test_uneven_spacing_without_a_resolution_is_refused():
    with pytest.raises(StageError, match="spaced 90, 120, 90 s apart"):
        choose_phases(5, [0, 90, 180, 300, 390])
    assert choose_phases(5, [0, 90, 180, 300, 390], resolution_s=90).late == 4
    jittered = choose_phases(6, [0, 90, 181, 270, 362, 450])  # spacings 91, 89, 92, 88 s: within 5 % of 90 s
    assert (
        jittered.late == 5
        and "temporal resolution 90 s (the median post-contrast phase spacing, 88-92 s)" in jittered.note
    )


def test_too_few_phases_or_early_equal_late_is_refused():
    with pytest.raises(StageError, match="two post-contrast phases"):
        choose_phases(2, [0, 60])
    with pytest.raises(StageError, match="follow one another"):
        choose_phases(4, [0, 60, 120, 180])  # 30, 90, 150 s: early = late = phase 3


def test_decreasing_times_and_out_of_range_phases_are_refused():
    with pytest.raises(StageError, match="must increase"):
        choose_phases(4, [0, 90, 80, 270])
    with pytest.raises(StageError, match="late phase 9 requested but the exam has 6 phases"):
        choose_phases(6, None, early=2, late=9)
