"""PyRadiomics' refusals of a region, said in deltarad's words: what is wrong with which region,
never PyRadiomics' own advice (its "increase geometryTolerance" or "enable correctMask" would
compute on a mask it does not trust).

PyRadiomics raises a ValueError whose text is its only description (imageoperations.checkMask,
resegmentMask); the texts are matched here, and anything unknown is reported as a failure of
PyRadiomics on that region, its text kept for the log only.
"""

from __future__ import annotations

import logging
import re

import numpy as np
import SimpleITK as sitk

from deltarad.imaging.geometry import describe_grid

log = logging.getLogger(__name__)


def region_problem(
    exc: ValueError, region: str, reader: int, image: sitk.Image, mask: sitk.Image, settings: dict
) -> str:
    """Why PyRadiomics computed no features on (region, reader), from its ValueError `exc`."""
    text = str(exc)
    what = f"reader {reader}'s {region} region"
    voxels = int(np.count_nonzero(sitk.GetArrayViewFromImage(mask) == int(settings.get("label", 1))))
    if "geometry mismatch" in text or "datatype or size mismatch" in text or "bounding box" in text.lower():
        return (
            f"{what} is not on the preprocessed image's grid within ITK's tolerance (region: {describe_grid(mask)}; "
            f"image: {describe_grid(image)}): no features computed on it"
        )
    if "not present in mask" in text or "No labels found" in text:
        return f"{what} is empty after preprocessing: no features computed on it"
    if "1 segmented voxel" in text:
        return f"{what} holds a single voxel after preprocessing: no features computed on it"
    dims = re.search(r"number of dimensions (\d+), minimum required (\d+)", text)
    if dims:
        return (
            f"{what} is flat ({voxels} voxels spanning {dims[1]} dimension(s) of the "
            f"{dims[2]} the parameter file's minimumROIDimensions requires): no features computed on it"
        )
    if "ROI is too small" in text:
        return (
            f"{what} holds {voxels} voxels, no more than the parameter file's minimumROISize "
            f"({settings.get('minimumROISize')}): no features computed on it"
        )
    if "Resegmentation excluded too many voxels" in text:
        return (
            f"{what}: the parameter file's resegmentRange {settings.get('resegmentRange')} leaves too few of its "
            f"{voxels} voxels: no features computed on it"
        )
    log.warning("PyRadiomics on %s: %s", what, text)
    return f"PyRadiomics computed no features on {what} ({voxels} voxels); its message is in the log"
