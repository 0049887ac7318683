"""Masks drawn on an oblique exam as 3D Slicer reads it (SimpleITK's ImageSeriesReader): the two
readings of one DICOM series differ in the last digits of the grid, within ITK's tolerance, and
extraction takes the mask on the exam's grid with a note (it used to fail with PyRadiomics'
"Image/Mask geometry mismatch")."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import yaml

from deltarad.config import ImagingSettings
from deltarad.features.extract import extract_timepoint
from deltarad.imaging.geometry import same_grid
from deltarad.imaging.io import read_exam
from deltarad.imaging.phantom import breast_phantom

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "imaging"))
from dicom_layouts import oblique_direction, write_oblique_series

NOTE = "reader 1: mask grid within ITK's tolerance of the image grid"


def series_reader_grid(folder: Path) -> sitk.Image:
    """The exam as SimpleITK's ImageSeriesReader (3D Slicer's DICOM reading) gives it."""
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def on_grid(array: np.ndarray, grid: sitk.Image) -> sitk.Image:
    mask = sitk.GetImageFromArray(array.astype(np.uint8))
    mask.CopyInformation(grid)
    return mask


@pytest.fixture(scope="module")
def params(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("params") / "small.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "setting": {"binWidth": 25, "label": 1},
                "imageType": {"Original": {}},
                "featureClass": {"firstorder": None, "glcm": None},
            }
        )
    )
    return path


def differs_within_itk_tolerance(ours: sitk.Image, itk: sitk.Image) -> None:
    assert ours.GetSize() == itk.GetSize()
    difference = max(
        np.abs(np.subtract(ours.GetDirection(), itk.GetDirection())).max(),
        np.abs(np.subtract(ours.GetSpacing(), itk.GetSpacing())).max(),
    )
    assert difference > 0  # not the same digits...
    assert same_grid(ours, itk)  # ...but the same grid as ITK judges it


@pytest.mark.parametrize("spacing_mm", [(1.0, 1.0, 1.0), (0.8, 0.8, 2.0)])
def test_mask_on_the_series_readers_grid_of_an_oblique_exam_is_extracted(tmp_path, params, spacing_mm):
    """1 mm slices were the failing case: the exam's own lattice is the 1 mm output grid, so image
    and mask were cut out, not resampled, and kept their own last digits."""
    image, lesion = breast_phantom(size=(64, 64, 20), spacing_mm=spacing_mm, seed=1)
    image.SetOrigin((-31.2, -40.7, 18.3))
    folder = write_oblique_series(tmp_path / "exam", image, oblique_direction())
    ours, _ = read_exam(folder, phase=0)
    itk = series_reader_grid(folder)
    differs_within_itk_tolerance(ours, itk)
    sitk.WriteImage(on_grid(sitk.GetArrayFromImage(lesion), itk), str(tmp_path / "mask.nrrd"))
    row = {"patient_id": "P1", "baseline_image": str(folder), "baseline_mask": str(tmp_path / "mask.nrrd")}

    records = extract_timepoint(row, "baseline", ImagingSettings(params=params))

    assert [(r["region"], r["reader"]) for r in records] == [("intratumoral", 1), ("peritumoral", 1)]
    assert NOTE in records[0]["notes"]
    assert all(np.isfinite(r["original_firstorder_Mean"]) for r in records)
    # the same voxels drawn on deltarad's reading: the same features
    sitk.WriteImage(on_grid(sitk.GetArrayFromImage(lesion), ours), str(tmp_path / "own.nrrd"))
    own = extract_timepoint(
        {**row, "baseline_mask": str(tmp_path / "own.nrrd")}, "baseline", ImagingSettings(params=params)
    )
    assert [r["original_glcm_Contrast"] for r in records] == [r["original_glcm_Contrast"] for r in own]


def test_real_oblique_siemens_series_with_a_mask_on_the_series_readers_grid(shared_data, tmp_path, params):
    """A real oblique series (Siemens XA30, 6-decimal ImageOrientationPatient): the two readings
    differ by 7e-7 in direction and 2.5e-6 mm in spacing, within ITK's tolerance (3.4e-6 mm here)."""
    folder = shared_data / "dicom-vendors" / "siemens-xa30-series-per-phase" / "7001_func-bold_task-fa_run-1"
    ours, _ = read_exam(folder, phase=0)
    itk = series_reader_grid(folder)
    differs_within_itk_tolerance(ours, itk)
    lesion = np.zeros(sitk.GetArrayViewFromImage(itk).shape, np.uint8)
    lesion[14:19, 28:36, 28:36] = 1
    sitk.WriteImage(on_grid(lesion, itk), str(tmp_path / "mask.nrrd"))
    row = {"patient_id": "P2", "baseline_image": str(folder), "baseline_mask": str(tmp_path / "mask.nrrd")}
    records = extract_timepoint(row, "baseline", ImagingSettings(params=params, n4=False))
    assert NOTE in records[0]["notes"]
    assert records[0]["original_firstorder_Mean"] > 0


def test_pyradiomics_refusals_of_a_region_are_said_in_deltarads_words(tmp_path):
    """A flat lesion under minimumROIDimensions 3: the region and the setting named, none of
    PyRadiomics' own text (its advice to loosen the check)."""
    from deltarad.errors import StageError

    image, _ = breast_phantom(size=(48, 48, 12), seed=2)
    flat = np.zeros(sitk.GetArrayViewFromImage(image).shape, np.uint8)
    flat[6, 20:26, 20:26] = 1
    sitk.WriteImage(image, str(tmp_path / "image.nrrd"))
    sitk.WriteImage(on_grid(flat, image), str(tmp_path / "flat.nrrd"))
    (tmp_path / "p.yaml").write_text(
        yaml.safe_dump(
            {
                "setting": {"binWidth": 25, "minimumROIDimensions": 3},
                "imageType": {"Original": {}},
                "featureClass": {"firstorder": None},
            }
        )
    )
    row = {
        "patient_id": "F1",
        "baseline_image": str(tmp_path / "image.nrrd"),
        "baseline_mask": str(tmp_path / "flat.nrrd"),
    }
    with pytest.raises(StageError) as err:
        extract_timepoint(row, "baseline", ImagingSettings(params=tmp_path / "p.yaml", n4=False, resample_mm=None))
    assert err.value.stage == "baseline/features"
    assert str(err.value) == (
        "patient F1: reader 1's intratumoral region is flat (36 voxels "
        "spanning 2 dimension(s) of the 3 the parameter file's minimumROIDimensions requires): "
        "no features computed on it"
    )


def test_real_oblique_ge_slice_is_on_itks_grid_within_tolerance(shared_data):
    """GE's oblique `.MRDC.` files (a diffusion series: refused as a DCE exam, so one slice is read
    here): ImageOrientationPatient's row and column vectors are orthogonal to 8e-8 only; ITK
    orthogonalises them, deltarad takes them as written. Measured: 5.6e-8 apart, within ITK's 1e-6."""
    from deltarad.imaging.dicom.frames import read_frames
    from deltarad.imaging.dicom.grouping import Volume
    from deltarad.imaging.dicom.reading import read_volume

    file = sorted((shared_data / "dicom-vendors" / "ge-mrdc-names").rglob("*MRDC*"))[0]
    frames, _ = read_frames([file], None)
    ours = read_volume(Volume(frames, "", None, 1.0), None)
    itk = sitk.ReadImage(str(file))
    apart = np.abs(np.subtract(ours.GetDirection(), itk.GetDirection())).max()
    assert 0 < apart < 1e-6
    assert np.allclose(ours.GetOrigin(), itk.GetOrigin(), rtol=0, atol=1e-6 * ours.GetSpacing()[0])
    assert sitk.GetArrayViewFromImage(ours).shape[1:] == sitk.GetArrayViewFromImage(itk).shape[1:]
