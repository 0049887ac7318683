"""Which files are DICOM: recognised by content, never by name.

A DICOM file is either a Part 10 file (128-byte preamble then b"DICM") or a bare dataset with
no preamble whose first element is a group 0002 or 0008 tag in little-endian order (what some
old exports and de-identifiers write). File names (no extension, GE's `i22.MRDC.1`, UID names)
play no part. DICOMDIR files are found here and left out later by their SOP class.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

_BARE_GROUPS = (b"\x02\x00", b"\x08\x00")


def looks_like_dicom(path: Path) -> bool:
    """True when the file starts like a DICOM file (Part 10 preamble or a bare dataset)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    if len(head) == 132 and head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and head[:2] in _BARE_GROUPS


def dicom_files(root: Path) -> list[Path]:
    """Every DICOM file at `root` (a file, or a folder searched recursively), sorted by path."""
    candidates: Iterable[Path] = [root] if root.is_file() else (p for p in root.rglob("*") if p.is_file())
    return sorted(p for p in candidates if not p.name.startswith(".") and looks_like_dicom(p))
