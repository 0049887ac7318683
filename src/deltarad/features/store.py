"""A resumable feature store: one Parquet file per finished work unit (one exam), under
<out>/store/<key>.parquet.

The key is a SHA-256 of everything the unit's features depend on: the unit (patient, timepoint),
its input files (path, size and modification time of each file; every file of a DICOM folder),
the imaging settings, the design's image and regions where they are not those of the imaging
settings alone (so the study's keys are unchanged), the content of the PyRadiomics parameter
file, and the versions of
deltarad's extraction (EXTRACTION_VERSION), PyRadiomics and SimpleITK. A restarted run finds the units already done by key; a
changed input file or setting changes the key of exactly the units that read it. Entries are
written atomically (temporary name + rename), so a run killed at any moment leaves whole
entries only. Entries no longer reached by any key (other inputs or settings) stay on disk, as
a cache for going back, until `prune` (`deltarad extract --prune-store`) deletes them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from deltarad.atomic import atomic_path
from deltarad.config import ImagingSettings, imaging_design
from deltarad.design import Design

log = logging.getLogger("deltarad.store")

#: Cohort columns an exam reads, per timepoint ("{tp}": a timepoint of the design).
EXAM_INPUT_COLUMNS = ("{tp}_image", "{tp}_mask", "{tp}_mask_reader2", "{tp}_chest_wall")
KEY_METADATA = b"deltarad.key_inputs"
#: The deltarad release whose extraction made the stored features. Raise it (to the release's
#: version) with any change that moves a feature value (0.2.0: air from the field-of-view edge);
#: a release that leaves the features alone keeps it, so upgrading does not redo finished exams.
EXTRACTION_VERSION = "0.2.0"


def file_fingerprint(path: str | Path) -> list[list]:
    """[path, size in bytes, mtime in ns] of a file, or of every file under a folder (sorted)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    elif path.exists():
        files = [path]
    else:
        return [[str(path), None, None]]  # the unit will fail on it; a file appearing later changes the key
    out = []
    for f in files:
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


def settings_fingerprint(settings: ImagingSettings, params_file: Path, design: Design | None = None) -> dict:
    """What an exam's features depend on besides its files: settings, the design's image and
    regions (only where they differ from the settings' own: imaging.phase and the band [0,
    imaging.ring_mm], already in the settings), parameter file, versions."""
    import SimpleITK as sitk

    from deltarad.features.pyradiomics import radiomics

    extra = {}
    if design is not None:
        own = imaging_design(settings).to_dict()
        mine = design.to_dict()
        if (mine["image"], mine["regions"]) != (own["image"], own["regions"]):
            extra["design"] = {"image": mine["image"], "regions": mine["regions"]}
    return {
        **extra,
        "imaging": settings.model_dump(mode="json"),
        "params_sha256": hashlib.sha256(Path(params_file).read_bytes()).hexdigest(),
        "deltarad": EXTRACTION_VERSION,
        "pyradiomics": radiomics.__version__,
        "simpleitk": sitk.Version_VersionString(),
    }


def exam_key_inputs(case_row: Mapping, timepoint: str, settings_fp: dict) -> dict:
    """Everything the key of exam (patient, timepoint) hashes, as plain JSON-able data."""
    files = {}
    for pattern in EXAM_INPUT_COLUMNS:
        column = pattern.format(tp=timepoint)
        value = case_row.get(column)
        if value is not None and not (isinstance(value, float) and value != value) and str(value).strip():
            files[column] = file_fingerprint(value)
    inputs = {
        "patient_id": str(case_row["patient_id"]),
        "timepoint": timepoint,
        "files": files,
        "settings": settings_fp,
    }
    series = case_row.get(f"{timepoint}_series")  # the DICOM series the reader takes (only where the cohort says)
    if series is not None and not (isinstance(series, float) and series != series) and str(series).strip():
        inputs["series"] = str(series).strip()
    return inputs


def key_of(inputs: dict) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


class FeatureStore:
    """Finished units as Parquet files <root>/<key>.parquet."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.parquet"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def keys(self) -> set[str]:
        return {p.stem for p in self.root.glob("*.parquet")} if self.root.is_dir() else set()

    def save(self, key: str, records: list[dict], inputs: dict | None = None) -> Path:
        """Write one unit's records (one per region and reader) atomically."""
        table = pa.Table.from_pylist(records)  # not via pandas: 10x faster for ~850 columns
        if inputs is not None:
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), KEY_METADATA: json.dumps(inputs).encode()}
            )
        with atomic_path(self.path(key)) as tmp:
            pq.write_table(table, tmp)
        return self.path(key)

    def unused(self, keep: set[str]) -> tuple[int, int]:
        """(entries, bytes) of the store that are not among the keys `keep`."""
        paths = [self.path(k) for k in self.keys() - keep]
        return len(paths), sum(p.stat().st_size for p in paths)

    def prune(self, keep: set[str]) -> tuple[int, int]:
        """Delete every entry whose key is not in `keep`; returns (entries, bytes) deleted."""
        deleted = self.unused(keep)
        for key in self.keys() - keep:
            self.path(key).unlink(missing_ok=True)
        return deleted

    def load(self, key: str) -> list[dict] | None:
        """The unit's records, or None when absent or unreadable (then it is recomputed)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            log.warning("feature store: unreadable entry %s (%s); recomputing it", path.name, exc)
            os.unlink(path)
            return None
        return frame.to_dict("records")
