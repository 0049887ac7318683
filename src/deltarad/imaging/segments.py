"""One segment among a segmentation file's several (3D Slicer .seg.nrrd, DICOM-SEG, RTSTRUCT ROIs)."""

from __future__ import annotations

from pathlib import Path

from deltarad.errors import CaseError


def choose_segment(segments: list[dict], label: int | str | None, patient: str | None, path: Path) -> dict:
    """The segment of a SEG, .seg.nrrd or RTSTRUCT that `label` names (a value or a name,
    case-insensitive), or the only one; refused in words when none or several match."""
    names = ", ".join(f"{s['name']!r} (label {s['value']})" for s in segments)
    if label is None:
        if len(segments) > 1:
            raise CaseError(
                f"several segments [{names}] and no choice: set imaging.mask_label", patient=patient, file=path
            )
        return segments[0]
    if isinstance(label, str):
        hits = [s for s in segments if s["name"].strip().lower() == label.strip().lower()]
    else:
        hits = [s for s in segments if s["value"] == label]
    if not hits:
        raise CaseError(f"no segment {label!r}; segments: [{names}]", patient=patient, file=path)
    if len(hits) > 1:
        which = ", ".join(f"{s['name']!r} (layer {s['layer']})" for s in hits)
        raise CaseError(
            f"{len(hits)} segments match {label!r}: {which}; choose one by name in imaging.mask_label",
            patient=patient,
            file=path,
        )
    return hits[0]
