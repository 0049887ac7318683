"""deltarad's N4 (the default) gives the 851 features of SimpleITK's N4 (imaging.n4_implementation:
itk) within a stated tolerance, on a generated exam taken through the whole extraction."""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from deltarad.config import ImagingSettings
from deltarad.features.extract import extract_timepoint
from deltarad.imaging.phantom import breast_phantom


def test_deltarad_n4_features_agree_with_itk_n4(tmp_path):
    """The two fields differ by float32 rounding (~1e-6 in log units), which moves intensities by
    1e-6 relative; a feature changes only where that carries a voxel across a 25-unit bin edge.
    Measured on this exam: shape 0; all features median 0, 99th percentile 2.8e-6 / 1.7e-6, max 1.6e-4 /
    4.1e-3 (intratumoral / peritumoral, both a wavelet first-order median); required: shape exact, 99% of features within 1e-4, all within 2e-2 (ITK's own
    1 vs 2 thread results differ by up to 1e-2 in the same features)."""
    image, mask = breast_phantom(size=(128, 128, 32), spacing_mm=(0.8, 0.8, 1.5), tumour_radius_mm=10.0)
    sitk.WriteImage(image, str(tmp_path / "image.nii.gz"))
    sitk.WriteImage(mask, str(tmp_path / "mask.nrrd"))
    row = {
        "patient_id": "P001",
        "baseline_image": str(tmp_path / "image.nii.gz"),
        "baseline_mask": str(tmp_path / "mask.nrrd"),
    }
    records = {
        impl: extract_timepoint(row, "baseline", ImagingSettings(n4_implementation=impl))
        for impl in ("itk", "deltarad")
    }
    for itk, ours in zip(records["itk"], records["deltarad"]):
        names = [k for k in itk if k.startswith(("original_", "wavelet-"))]
        assert len(names) == 851
        a, b = np.array([itk[n] for n in names]), np.array([ours[n] for n in names])
        relative = np.abs(b - a) / np.maximum(np.abs(a), 1e-12)
        shape = np.array(["_shape_" in n for n in names])
        assert relative[shape].max() == 0.0
        assert np.percentile(relative, 99) < 1e-4
        assert relative.max() < 2e-2
