"""The study file's `kinetics:` key: phase times, the choice of phases and FTV's thresholds.

Kinetics run when the study file has the key (`kinetics: {}` for the defaults, I-SPY's).
The published defaults live here, so that the study file (deltarad.config, the ground floor)
can hold these settings: this module imports nothing of deltarad.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

EARLY_TARGET_S = 150.0
"""I-SPY's early phase: 2 min 30 s after injection."""
LATE_TARGET_S = 450.0
"""I-SPY's late phase: 7 min 30 s after injection."""
MAP_NAMES: tuple[str, ...] = ("pe", "ser", "wash_in", "wash_out", "subtraction_early", "subtraction_late")
"""The names of the kinetic maps (deltarad.kinetics.maps; the study file's `design.image: {map: <name>}`)."""
CURVE_THRESHOLD_PERCENT = 10.0
"""BI-RADS curve types: a delayed change beyond +- this (%) is persistent / washout."""


class KineticsSettings(BaseModel):
    """FTV, kinetic maps and curve types (deltarad.kinetics); defaults from the published I-SPY method."""

    model_config = ConfigDict(extra="forbid")

    times_s: list[float] | None = Field(
        None,
        description="each phase's acquisition start (s; e.g. [0, 90, 180, ...]) for exams whose files carry no "
        "times (4-D NIfTI/NRRD, one file per phase); DICOM exams take them from their headers",
    )
    temporal_resolution_s: float | None = Field(
        None, gt=0, description="each phase's acquisition time (s); None = the spacing of the post-contrast phases"
    )
    pre: int = Field(0, ge=0, description="the pre-contrast phase (S0)")
    early: int | None = Field(
        None, ge=0, description="the early phase (S1); None = nearest early_target_s after injection"
    )
    late: int | None = Field(
        None, ge=0, description="the late phase (S2); None = nearest late_target_s after injection"
    )
    early_target_s: float = Field(EARLY_TARGET_S, gt=0, description="early phase: this long after injection (s)")
    late_target_s: float = Field(LATE_TARGET_S, gt=0, description="late phase: this long after injection (s)")
    s0_fraction: float = Field(
        0.6, ge=0, le=1, description="FTV voxels: S0 >= this x the s0_percentile of S0 in the region"
    )
    s0_percentile: float = Field(95.0, gt=0, le=100)
    pe_min: float = Field(70.0, description="FTV voxels: percent enhancement >= this (%)")
    ser_min: float = Field(0.0, description="FTV voxels: signal enhancement ratio >= this")
    neighbours_min: int = Field(
        4, ge=0, le=26, description="FTV voxels: at least this many of the 26 neighbours pass the S0 and PE tests"
    )
    margin_mm: float = Field(0.0, ge=0, description="analysis region: the tumour mask dilated by this (mm)")
    curve_threshold_percent: float = Field(
        CURVE_THRESHOLD_PERCENT,
        gt=0,
        description="BI-RADS curve types: delayed change beyond +- this (%) is persistent / washout, within it plateau",
    )

    @model_validator(mode="after")
    def _consistent(self) -> KineticsSettings:
        if self.times_s is not None:
            steps = [b - a for a, b in zip(self.times_s, self.times_s[1:])]
            if len(self.times_s) < 3 or min(steps) <= 0:
                raise ValueError(f"times_s must list at least 3 increasing phase times (s), got {self.times_s}")
        named = [(k, v) for k, v in (("pre", self.pre), ("early", self.early), ("late", self.late)) if v is not None]
        values = [v for _, v in named]
        if values != sorted(values) or len(set(values)) != len(values):
            raise ValueError(
                "pre, early and late must be different phases in time order, got "
                + ", ".join(f"{k} {v}" for k, v in named)
            )
        if self.early_target_s >= self.late_target_s:
            raise ValueError("early_target_s must be before late_target_s")
        return self
