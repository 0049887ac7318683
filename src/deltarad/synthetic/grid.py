"""The voxel grid of one synthetic exam, in DICOM patient coordinates (LPS, millimetres).

Axial slices with identity orientation: column index i runs to the patient's left (+x),
row index j posteriorly (+y), slice index k superiorly (+z). Arrays are indexed
``[k, j, i]`` (numpy / SimpleITK ``GetArrayFromImage`` order); sizes and spacings are given
in SimpleITK order ``(x, y, z)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Grid:
    size: tuple[int, int, int]
    """(columns, rows, slices) in voxels."""
    spacing_mm: tuple[float, float, float]
    """(column spacing, row spacing, slice spacing) in mm."""
    origin_mm: tuple[float, float, float]
    """Patient position (LPS, mm) of the centre of voxel [0, 0, 0]."""

    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape (slices, rows, columns)."""
        return self.size[2], self.size[1], self.size[0]

    @property
    def extent_mm(self) -> tuple[float, float, float]:
        """Field of view (x, y, z) in mm."""
        return tuple(n * s for n, s in zip(self.size, self.spacing_mm))  # type: ignore[return-value]

    @property
    def spacing_zyx(self) -> tuple[float, float, float]:
        """Spacing in array order, for scipy.ndimage's `sampling`."""
        return self.spacing_mm[2], self.spacing_mm[1], self.spacing_mm[0]

    @cached_property
    def axes_mm(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Broadcastable (z, y, x) coordinates of voxel centres, in mm from voxel [0, 0, 0]."""
        z = (np.arange(self.size[2]) * self.spacing_mm[2])[:, None, None]
        y = (np.arange(self.size[1]) * self.spacing_mm[1])[None, :, None]
        x = (np.arange(self.size[0]) * self.spacing_mm[0])[None, None, :]
        return z, y, x

    def slice_position(self, k: int) -> tuple[float, float, float]:
        """ImagePositionPatient of slice k (mm)."""
        ox, oy, oz = self.origin_mm
        return ox, oy, oz + k * self.spacing_mm[2]
