"""Tumour segmentations as two radiologists draw them, written as NRRD label maps.

A reader outlines the lesion slice by slice: the drawn boundary follows the true one with a
personal bias (a slightly generous or tight outline, mm) and an in-plane wobble that is smooth
within a slice and independent between slices (mm). Reader 1 is careful; reader 2 is a second
radiologist whose outline differs from reader 1's by about a voxel.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from deltarad.atomic import atomic_path
from deltarad.synthetic.grid import Grid
from deltarad.synthetic.noise import smooth_field

WOBBLE_CORRELATION_MM = 3.0
"""In-plane correlation length of a reader's boundary wobble (mm)."""


@dataclass(frozen=True)
class Reader:
    bias_sd_voxels: float
    """SD of the reader's per-lesion outline bias (> 0 = generous), in in-plane voxels."""
    wobble_sd_voxels: float
    """SD of the boundary wobble, in in-plane voxels."""


READER_1 = Reader(bias_sd_voxels=0.2, wobble_sd_voxels=0.3)
READER_2 = Reader(bias_sd_voxels=0.4, wobble_sd_voxels=0.7)


def draw_mask(
    distance_mm: np.ndarray, allowed: np.ndarray, grid: Grid, reader: Reader, rng: np.random.Generator
) -> np.ndarray:
    """The reader's tumour mask (bool): the largest connected outline inside `allowed`, never empty.

    `distance_mm` is the signed distance to the true boundary (mm, > 0 outside).
    """
    voxel_mm = min(grid.spacing_mm[:2])
    sigma = WOBBLE_CORRELATION_MM / voxel_mm
    wobble = smooth_field(rng, grid.shape, (0.0, sigma, sigma))
    offset_mm = voxel_mm * (rng.normal(0, reader.bias_sd_voxels) + reader.wobble_sd_voxels * wobble)
    mask = (distance_mm < offset_mm) & allowed
    labels, n = ndimage.label(mask)
    if n > 1:
        sizes = np.bincount(labels.ravel())[1:]
        mask = labels == 1 + int(np.argmax(sizes))
    if not mask.any():
        mask.flat[int(np.argmin(distance_mm))] = True
    return mask


def write_label_nrrd(path: Path, mask: np.ndarray, grid: Grid) -> Path:
    """A gzip NRRD label map (uint8, tumour = 1) on the exam's DICOM grid."""
    image = sitk.GetImageFromArray(mask.astype(np.uint8))
    image.SetSpacing(grid.spacing_mm)
    image.SetOrigin(grid.origin_mm)
    writer = sitk.ImageFileWriter()
    writer.SetImageIO("NrrdImageIO")  # the temporary name has no .nrrd extension
    writer.UseCompressionOn()
    with atomic_path(path) as tmp:
        writer.SetFileName(str(tmp))
        writer.Execute(image)
    return path
