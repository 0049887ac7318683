"""Kinetic maps, voxel by voxel, from the pre-contrast (S0), early (S1) and late (S2) signals.

- PE, percent enhancement: ``PE = 100 (S1 - S0) / S0`` (%).
- SER, signal enhancement ratio: ``SER = (S1 - S0) / (S2 - S0)``, Hylton's orientation:
  SER > 1 where the signal washes out after the early phase, < 1 where it keeps rising.
- Wash-in: the early enhancement per minute after injection,
  ``wash_in = PE / (t1 / 60)`` (%/min), t1 = the early phase's time after injection (s).
- Wash-out: the fall from the early to the late phase per minute, relative to the early signal,
  ``wash_out = 100 (S1 - S2) / S1 / ((t2 - t1) / 60)`` (%/min): positive where the signal washes
  out, negative where it keeps rising.
- Subtraction: ``S1 - S0`` (early) and ``S2 - S0`` (late), in the exam's signal units.

A ratio whose denominator is 0 is undefined: NaN, never infinity (S0 = 0 for PE and wash-in,
S2 = S0 for SER, S1 = 0 for wash-out).
"""

from __future__ import annotations

import numpy as np

from deltarad.kinetics.settings import MAP_NAMES  # the names of the maps below


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator (float64), NaN where the denominator is 0."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, np.float64), np.asarray(denominator, np.float64))
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def percent_enhancement(s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """PE = 100 (S1 - S0) / S0, in %; NaN where S0 = 0."""
    s0 = np.asarray(s0, np.float64)
    return safe_ratio(100.0 * (np.asarray(s1, np.float64) - s0), s0)


def signal_enhancement_ratio(s0: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """SER = (S1 - S0) / (S2 - S0) (Hylton's orientation: washout > 1); NaN where S2 = S0."""
    s0 = np.asarray(s0, np.float64)
    return safe_ratio(np.asarray(s1, np.float64) - s0, np.asarray(s2, np.float64) - s0)


def wash_in(s0: np.ndarray, s1: np.ndarray, early_after_injection_s: float) -> np.ndarray:
    """PE / (t1 / 60), in %/min, t1 = the early phase's time after injection (s)."""
    if early_after_injection_s <= 0:
        raise ValueError(f"wash-in needs the early phase after injection, got {early_after_injection_s:g} s")
    return percent_enhancement(s0, s1) * (60.0 / early_after_injection_s)


def wash_out(
    s1: np.ndarray, s2: np.ndarray, early_after_injection_s: float, late_after_injection_s: float
) -> np.ndarray:
    """100 (S1 - S2) / S1 / ((t2 - t1) / 60), in %/min; positive where the signal washes out."""
    minutes = (late_after_injection_s - early_after_injection_s) / 60.0
    if minutes <= 0:
        raise ValueError(
            f"wash-out needs the late phase after the early one, got t1 = {early_after_injection_s:g} s, "
            f"t2 = {late_after_injection_s:g} s"
        )
    s1 = np.asarray(s1, np.float64)
    return safe_ratio(100.0 * (s1 - np.asarray(s2, np.float64)), s1) / minutes


def subtraction(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a - b, voxel by voxel (float64)."""
    return np.asarray(a, np.float64) - np.asarray(b, np.float64)


def kinetic_map(
    name: str,
    s0: np.ndarray,
    s1: np.ndarray,
    s2: np.ndarray,
    *,
    early_after_injection_s: float | None = None,
    late_after_injection_s: float | None = None,
) -> np.ndarray:
    """The map `name` (one of MAP_NAMES) of the module docstring; wash-in and wash-out need the
    early (and late) phase's time after injection (s)."""
    if name not in MAP_NAMES:
        raise ValueError(f"kinetic map {name!r}: use one of {', '.join(MAP_NAMES)}")
    if name == "pe":
        return percent_enhancement(s0, s1)
    if name == "ser":
        return signal_enhancement_ratio(s0, s1, s2)
    if name in ("wash_in", "wash_out"):
        if early_after_injection_s is None or (name == "wash_out" and late_after_injection_s is None):
            raise ValueError(f"the {name} map needs the phase times (kinetics.times_s or the DICOM headers)")
        if name == "wash_in":
            return wash_in(s0, s1, early_after_injection_s)
        return wash_out(s1, s2, early_after_injection_s, late_after_injection_s)  # type: ignore[arg-type]
    if name == "subtraction_early":
        return subtraction(s1, s0)
    return subtraction(s2, s0)
