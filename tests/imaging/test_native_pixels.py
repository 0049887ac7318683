"""The quick read of one uncompressed frame (quickparse.native_plane) gives exactly pydicom's
pixel_array: on every real vendor file it takes, and on written files whose bits above BitsStored
hold junk (unsigned and signed), which pydicom corrects by a shift."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage, generate_uid

from deltarad.imaging.dicom.quickparse import native_plane


def test_every_real_file_it_reads_equals_pydicom(shared_data):
    read = left_to_pydicom = 0
    for file in sorted((shared_data / "dicom-vendors").rglob("*")):
        try:
            ds = pydicom.dcmread(file)
        except (pydicom.errors.InvalidDicomError, IsADirectoryError):
            continue
        if "PixelData" not in ds:
            continue
        plane = native_plane(file)
        if plane is None:
            left_to_pydicom += 1  # another transfer syntax (compressed, implicit VR, big endian) or several frames
            assert ds.file_meta.TransferSyntaxUID != ExplicitVRLittleEndian or int(ds.get("NumberOfFrames", 1)) > 1, (
                file
            )
            continue
        read += 1
        reference = ds.pixel_array
        assert plane.dtype == reference.dtype and np.array_equal(plane, reference), file
    assert read > 400 and left_to_pydicom > 0  # 487 and 13 when written


def write_plane(path: Path, stored: np.ndarray, *, bits_stored: int, signed: bool, syntax=ExplicitVRLittleEndian):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = MRImageStorage, meta.MediaStorageSOPInstanceUID, "MR"
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.PixelData = stored.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_bits_above_bits_stored_are_corrected_as_pydicom_does(tmp_path, signed):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 4096, (5, 7)).astype(np.uint16)  # 12 bits stored
    junk = rng.integers(0, 16, (5, 7)).astype(np.uint16) << 12  # whatever the unused 4 bits hold
    write_plane(tmp_path / "a.dcm", values | junk, bits_stored=12, signed=signed)
    plane = native_plane(tmp_path / "a.dcm")
    reference = pydicom.dcmread(tmp_path / "a.dcm").pixel_array
    assert plane is not None and plane.dtype == reference.dtype
    assert np.array_equal(plane, reference)
    expected = values.astype(np.int16) - 4096 * (values >= 2048) if signed else values
    assert np.array_equal(plane, expected)


def test_other_encodings_are_left_to_pydicom(tmp_path):
    write_plane(
        tmp_path / "implicit.dcm",
        np.ones((4, 4), np.uint16),
        bits_stored=16,
        signed=False,
        syntax=ImplicitVRLittleEndian,
    )
    assert native_plane(tmp_path / "implicit.dcm") is None
    (tmp_path / "not_dicom.dcm").write_bytes(b"\0" * 300)
    assert native_plane(tmp_path / "not_dicom.dcm") is None
