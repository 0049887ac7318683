"""Each phase's time, in seconds after phase 0, from the header pass already made (no file re-read).

A phase's time is the earliest time of its frames (the start of its acquisition; slices of one
phase may be stamped apart, e.g. 2-D multislice or simultaneous-multislice timing), read from
the first of these that increases strictly from phase to phase:

1. the clock: FrameAcquisitionDateTime of Enhanced MR frames, else AcquisitionDateTime,
   AcquisitionTime or ContentTime of classic files (the first present; with the date where
   given, so a series crossing midnight stays in order);
2. TriggerTime (ms), where the clock does not tell the phases apart (GE multiphase series
   stamp every phase with the series' start and time the phases by TriggerTime).

Where both increase and disagree by more than 1 s at some phase, the two readings are refused,
naming both. TemporalPositionIdentifier orders the phases (see grouping) but holds no seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from deltarad.errors import CaseError
from deltarad.imaging.dicom.grouping import Volume

AGREEMENT_S = 1.0
"""Clock and TriggerTime readings of the phase times are one reading within this."""


@dataclass(frozen=True)
class PhaseTimes:
    times_s: tuple[float, ...]
    """Per phase (time order), its start in seconds after phase 0's start."""
    field: str
    """The header field the times were read from."""
    spread_s: float
    """The largest spread of frame times within one phase (s)."""

    @property
    def note(self) -> str:
        spread = (
            f"; frames of one phase stamped up to {self.spread_s:.3g} s apart, the earliest taken"
            if self.spread_s
            else ""
        )
        return f"phase times [{_listed(self.times_s)}] s after phase 0, from {self.field}{spread}"


def phase_times(volumes: Sequence[Volume], *, patient: str | None = None, where=None) -> PhaseTimes:
    """The phase times of `volumes` (an exam's phases in time order) by the rules of this module;
    a CaseError where no header field tells the phases apart, or two fields disagree."""
    readings = {}
    clock_fields = sorted({f.time_field for v in volumes for f in v.frames if f.time_field})
    clock = _per_phase(volumes, lambda f: f.acquisition_s)
    if clock is not None:
        readings["/".join(clock_fields) or "AcquisitionTime"] = clock
    trigger = _per_phase(volumes, lambda f: None if f.trigger_time_ms is None else f.trigger_time_ms / 1000.0)
    if trigger is not None:
        readings["TriggerTime"] = trigger
    increasing = {name: r for name, r in readings.items() if len(volumes) > 1 and np.all(np.diff(r[0]) > 0)}
    if not increasing:
        found = "; ".join(f"{name} gives [{_listed(r[0] - r[0][0])}] s" for name, r in readings.items())
        raise CaseError(
            f"the DICOM headers do not time the {len(volumes)} phases apart ({found or 'no clock time and no TriggerTime'}); "
            "give kinetics.times_s or name the phases (kinetics: {pre: ..., early: ..., late: ...})",
            patient=patient,
            file=where,
        )
    (name, (starts, spread)), *others = increasing.items()
    relative = starts - starts[0]
    for other, (other_starts, _) in others:
        other_relative = other_starts - other_starts[0]
        if np.abs(relative - other_relative).max() > AGREEMENT_S:
            raise CaseError(
                f"two readings of the phase times: {name} gives [{_listed(relative)}] s, {other} "
                f"[{_listed(other_relative)}] s; give kinetics.times_s",
                patient=patient,
                file=where,
            )
    return PhaseTimes(tuple(float(t) for t in relative), name, float(spread))


def _per_phase(volumes: Sequence[Volume], time) -> tuple[np.ndarray, float] | None:
    """Each phase's earliest frame time and the largest spread within a phase, or None where a frame has none."""
    starts, spread = [], 0.0
    for v in volumes:
        values = [time(f) for f in v.frames]
        if any(t is None for t in values):
            return None
        starts.append(min(values))
        spread = max(spread, max(values) - min(values))
    return np.array(starts, dtype=float), spread


def _listed(times) -> str:
    return ", ".join(f"{t:.6g}" for t in times)
