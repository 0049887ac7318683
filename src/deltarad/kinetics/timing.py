"""Which phases are the pre-contrast, early and late phases of a DCE exam, from its phase times.

The I-SPY / ACRIN 6657 rule (Hylton et al., Radiology 2012), stated exactly as computed here:

- `times_s[k]` is the start of phase k's acquisition, in seconds (any zero; only differences
  count). A phase's time is counted at half its temporal resolution: its effective time is
  ``times_s[k] + resolution_s / 2`` (the middle of its acquisition, where a linear k-space
  ordering samples the centre of k-space).
- Contrast is taken as injected at the start of the first post-contrast phase (phase pre + 1),
  so a post-contrast phase's time after injection is
  ``after_k = times_s[k] + resolution_s / 2 - times_s[pre + 1]``.
- The early phase is the post-contrast phase whose `after_k` is nearest 150 s, the late phase
  the one nearest 450 s (targets configurable). Two phases equally near a target (within 1 ms)
  are a tie: refused, naming both, never broken silently. Early and late must differ.
- `resolution_s`, where not given, is the median spacing of successive post-contrast phases,
  which must agree within max(1 s, 5 % of it) (otherwise refused, naming the spacings).

An explicit choice ({pre, early, late}, e.g. from the study file) overrides the rule, wholly or
for the phases it names. Every choice comes with a note that says what was chosen and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deltarad.errors import StageError
from deltarad.kinetics.settings import EARLY_TARGET_S, LATE_TARGET_S

KINETICS_STAGE = "kinetics"
SPACING_TOLERANCE_S = 1.0
SPACING_TOLERANCE_FRACTION = 0.05
"""Post-contrast phase spacings give one temporal resolution (their median) where they differ by at
most max(SPACING_TOLERANCE_S, SPACING_TOLERANCE_FRACTION x the median)."""
TIE_TOLERANCE_S = 1e-3


@dataclass(frozen=True)
class PhaseChoice:
    """The phases FTV, maps and curve types are computed from, and how they were chosen."""

    pre: int
    early: int
    late: int
    after_injection_s: tuple[float | None, ...] | None
    """Per phase, its effective time after injection (s; None for pre-contrast phases), where
    the phase times are known; None where the phases were named without times."""
    note: str


def choose_phases(
    n_phases: int,
    times_s: Sequence[float] | None = None,
    *,
    resolution_s: float | None = None,
    pre: int | None = None,
    early: int | None = None,
    late: int | None = None,
    early_target_s: float = EARLY_TARGET_S,
    late_target_s: float = LATE_TARGET_S,
    patient: str | None = None,
    file: str | Path | None = None,
) -> PhaseChoice:
    """Choose the pre-contrast (S0), early (S1) and late (S2) phases of an exam of `n_phases`
    phases by the rule of this module; `pre`, `early`, `late` name phases explicitly (pre
    defaults to phase 0). A StageError names the candidates where the rule cannot decide."""

    def refuse(problem: str) -> StageError:
        return StageError(problem, stage=KINETICS_STAGE, patient=patient, file=file)

    pre = 0 if pre is None else pre
    for name, value in (("pre", pre), ("early", early), ("late", late)):
        if value is not None and not 0 <= value < n_phases:
            raise refuse(
                f"kinetics: {name} phase {value} requested but the exam has {n_phases} phases (0..{n_phases - 1})"
            )
    if n_phases - pre < 3:
        raise refuse(
            f"kinetics: {n_phases} phases with the pre-contrast phase {pre}: FTV needs a pre-contrast "
            "and two post-contrast phases (early, late)"
        )
    after = None
    how = []
    if times_s is not None:
        after, resolution_how = _after_injection(n_phases, times_s, resolution_s, pre, refuse)
        how.append(resolution_how)
    if (early is None or late is None) and after is None:
        raise refuse(
            "kinetics: the phase times are unknown (no times in the headers and no kinetics.times_s), so "
            "the early and late phases cannot be chosen; give kinetics.times_s or name the phases "
            "(kinetics: {pre: 0, early: ..., late: ...})"
        )
    post = list(range(pre + 1, n_phases))
    chosen = {}
    for name, given, target in (("early", early, early_target_s), ("late", late, late_target_s)):
        if given is not None:
            chosen[name] = given
            how.append(f"{name} phase {given} named by the study file")
            continue
        assert after is not None  # refused above where the times are needed
        distance = np.array([abs(after[k] - target) for k in post])
        nearest = [post[i] for i in np.flatnonzero(distance <= distance.min() + TIE_TOLERANCE_S)]
        if len(nearest) > 1:
            listed = " and ".join(f"phase {k} ({after[k]:g} s)" for k in nearest)
            raise refuse(
                f"kinetics: {listed} after injection are equally near the {name} target of {target:g} s; "
                f"name the {name} phase (kinetics: {{{name}: ...}})"
            )
        chosen[name] = nearest[0]
        how.append(f"{name} phase {nearest[0]} ({after[nearest[0]]:g} s after injection, nearest {target:g} s)")
    if not pre < chosen["early"] < chosen["late"]:
        raise refuse(
            f"kinetics: pre {pre}, early {chosen['early']} and late {chosen['late']} phases must follow "
            f"one another in time ({'; '.join(how)})"
        )
    after_tuple = tuple(None if k <= pre else float(after[k]) for k in range(n_phases)) if after is not None else None
    note = f"kinetics: pre-contrast phase {pre}; " + "; ".join(how)
    return PhaseChoice(pre, chosen["early"], chosen["late"], after_tuple, note)


def _after_injection(n_phases, times_s, resolution_s, pre, refuse) -> tuple[dict[int, float], str]:
    times = np.asarray(times_s, dtype=float)
    if times.shape != (n_phases,):
        raise refuse(f"kinetics: {len(times)} phase times for {n_phases} phases")
    if not np.all(np.isfinite(times)):
        missing = [k for k in range(n_phases) if not np.isfinite(times[k])]
        raise refuse(f"kinetics: phase(s) {missing} have no time")
    steps = np.diff(times)
    if np.any(steps <= 0):
        k = int(np.flatnonzero(steps <= 0)[0])
        raise refuse(
            f"kinetics: phase times must increase, but phase {k} is at {times[k]:g} s and phase {k + 1} "
            f"at {times[k + 1]:g} s"
        )
    if resolution_s is None:
        spacing = steps[pre + 1 :]
        resolution_s = float(np.median(spacing))
        if spacing.max() - spacing.min() > max(SPACING_TOLERANCE_S, SPACING_TOLERANCE_FRACTION * resolution_s):
            raise refuse(
                f"kinetics: the post-contrast phases are spaced {', '.join(f'{s:g}' for s in spacing)} s apart, "
                "so their temporal resolution is not one number; give kinetics.temporal_resolution_s"
            )
        spread = f", {spacing.min():g}-{spacing.max():g} s" if spacing.max() > spacing.min() else ""
        how = f"temporal resolution {resolution_s:g} s (the median post-contrast phase spacing{spread})"
    else:
        how = f"temporal resolution {resolution_s:g} s (given)"
    how += f"; each phase timed at its start + {resolution_s / 2:g} s, after injection at the start of phase {pre + 1}"
    start = times[pre + 1]
    return {k: float(times[k] + resolution_s / 2 - start) for k in range(pre + 1, n_phases)}, how
