"""One exam given at two timepoints of a patient (a copy-paste slip under two file names, or
one export saved twice): every delta would be 0. Each exam's analysed image is fingerprinted
where it is read (a SHA-256 of its voxel array, type and shape: the same voxels whatever the
file or its header say) and a patient two of whose timepoints share a fingerprint is refused,
naming the timepoints and the files. Every pair of timepoints is compared."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np
import SimpleITK as sitk

#: The record key carrying an exam's fingerprint from the work unit to the cohort (not a feature).
IMAGE_DIGEST = "image_sha256"


def image_digest(image: sitk.Image) -> str:
    """SHA-256 of the voxel array (with its type and shape): equal only for the same voxels."""
    array = np.ascontiguousarray(sitk.GetArrayViewFromImage(image))
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.data.cast("B"))
    return digest.hexdigest()


def same_pixel_problems(units: Sequence[tuple[Mapping, str]], records: Mapping[int, list[dict]]) -> dict[str, str]:
    """patient_id -> problem for every patient two of whose exams hold the same voxels.
    `units`: (cohort row, timepoint) per work unit; `records`: unit index -> its feature records
    (their IMAGE_DIGEST; units without one, e.g. stored by an older version, are not compared)."""
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    problems: dict[str, str] = {}
    for i in sorted(records):
        digests = {r.get(IMAGE_DIGEST) for r in records[i]} - {None, ""}
        if not digests:
            continue
        row, timepoint = units[i]
        patient, file = str(row["patient_id"]), str(row.get(f"{timepoint}_image"))
        key = (patient, str(digests.pop()))  # a hex string, as image_digest wrote it
        if key in seen:
            other, other_file = seen[key]
            files = f"{other_file} and {file}" if other_file != file else file
            problems.setdefault(
                patient,
                f"the {other} and {timepoint} images hold the same voxels ({files}): one exam "
                "given twice? every delta would be 0",
            )
        else:
            seen[key] = (timepoint, file)
    return problems
