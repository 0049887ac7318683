"""Generated DICOM layouts read through read_exam: each rule of deltarad.imaging.dicom, and each
refusal in words."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_layouts import (
    AXIAL,
    SLICE_MM,
    SLICES,
    expected_geometry,
    position,
    series_per_dynamic_folder,
    series_per_dynamic_with_field_maps,
    volume,
    write_enhanced,
    write_series,
)
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from deltarad.errors import CaseError
from deltarad.imaging.io import read_exam


def pixels(image) -> np.ndarray:
    return sitk.GetArrayFromImage(image)


def test_phases_by_temporal_position_in_one_series(tmp_path):
    write_series(tmp_path, 3, per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1})
    image, notes = read_exam(tmp_path, phase=2, patient="P1")
    assert np.array_equal(pixels(image), volume(2))
    expected_geometry(image)
    assert "phase 2 of 3 read (TemporalPositionIdentifier/Index 3)" in notes


def test_per_slice_acquisition_times_without_temporal_position_group_by_geometry(tmp_path):
    """As some de-identifiers leave a dynamic series: every slice its own AcquisitionTime."""
    write_series(tmp_path, 3, per_slice=lambda p, k: {"AcquisitionTime": f"1016{10 * p + k:02d}.500000"})
    image, notes = read_exam(tmp_path, phase=1, patient="P1")
    assert np.array_equal(pixels(image), volume(1))
    assert image.GetSize() == (16, 12, SLICES)
    assert any(
        "3 dynamics told apart by geometry: no per-volume temporal tag, and in acquisition order the 6 slice "
        "positions repeat" in n
        for n in notes
    )


def test_one_slice_missing_is_refused(tmp_path):
    write_series(tmp_path, 1, per_slice=lambda p, k: {"skip": k == 3})
    with pytest.raises(
        CaseError,
        match=r"a slice is missing \(1 slice\(s\)\): 5.000 mm between the slices at "
        r"-7.00 and -2.00 mm .* spacing is 2.500 mm",
    ) as err:
        read_exam(tmp_path, patient="P2")
    assert "patient P2" in str(err.value)


def test_a_slice_missing_in_one_dynamic_only_is_refused(tmp_path):
    write_series(tmp_path, 3, per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1, "skip": (p, k) == (1, 5)})
    with pytest.raises(CaseError, match=r"slice positions hold different numbers of images \[2, 3\].*1 position"):
        read_exam(tmp_path, phase=0, patient="P2")


def test_duplicate_positions_are_refused(tmp_path):
    write_series(tmp_path, 1, per_slice=lambda p, k: {"pos": position(2 if k == 3 else k)})
    with pytest.raises(CaseError, match=r"slice positions hold different numbers of images \[1, 2\]"):
        read_exam(tmp_path, patient="P2")


def test_uneven_spacing_within_tolerance_is_a_note_beyond_it_an_error(tmp_path):
    write_series(tmp_path / "slight", 1, per_slice=lambda p, k: {"pos": position(k + (0.006 if k == 5 else 0))})
    image, notes = read_exam(tmp_path / "slight", patient="P3")
    assert any("slice steps differ by up to 0.015" in n and "within the 0.025 mm tolerance" in n for n in notes)
    write_series(tmp_path / "uneven", 1, per_slice=lambda p, k: {"pos": position(k + (0.2 if k == 5 else 0))})
    with pytest.raises(CaseError, match="uneven slice spacing: 3.000 mm between"):
        read_exam(tmp_path / "uneven", patient="P3")


def test_mixed_orientations_are_refused(tmp_path):
    tilted = (1.0, 0.0, 0.0, 0.0, 0.995, 0.0998)
    write_series(tmp_path, 1, per_slice=lambda p, k: {"orientation": tilted if k == 4 else AXIAL})
    with pytest.raises(CaseError, match="slices of 2 different orientations"):
        read_exam(tmp_path, patient="P4")


def test_series_per_dynamic_with_subtraction_and_field_map(tmp_path):
    series_per_dynamic_folder(tmp_path)
    for p in range(3):
        image, notes = read_exam(tmp_path, phase=p, patient="P5")
        assert np.array_equal(pixels(image), volume(p))
        expected_geometry(image)
    assert (
        "3 series on one grid and protocol ordered by acquisition time: series 7 't1_dyn_0' -> phase 0, "
        "series 8 't1_dyn_1' -> phase 1, series 9 't1_dyn_2' -> phase 2"
    ) in notes
    assert "left out series 20 't1_dyn_SUB': ImageType DERIVED/SUBTRACTION" in notes
    assert (
        "left out series 3 'gre_field_mapping': field map: a single acquisition, not dynamics; not the DCE series' "
        "grid and protocol (ProtocolName 'gre_field_mapping'/'t1_fl3d_dyn', RepetitionTime 600/4.5, EchoTime 4.9/1.8 "
        "against series 7 't1_dyn_0')"
    ) in notes


def test_two_dynamic_candidates_need_a_choice(tmp_path):
    series_per_dynamic_folder(tmp_path, other_dce=True)
    with pytest.raises(
        CaseError,
        match=r"DICOM series and no choice of series: .*series 7 't1_dyn_0'.*"
        r"series 30 't1_vibe_dyn'.*set imaging.series",
    ) as err:
        read_exam(tmp_path, phase=1, patient="P6")
    assert "patient P6" in str(err.value)
    image, notes = read_exam(tmp_path, phase=1, series="t1_vibe*", patient="P6")
    assert np.array_equal(pixels(image), volume(8))
    assert "2 of 7 series chosen by 't1_vibe*'" in notes
    image, _ = read_exam(tmp_path, phase=0, series="8", patient="P6")  # a SeriesNumber, as in a cohort column
    assert np.array_equal(pixels(image), volume(1))
    with pytest.raises(CaseError, match="no DICOM series matches 'T2'"):
        read_exam(tmp_path, series="T2", patient="P6")


def test_classic_and_enhanced_copies_read_the_enhanced_copy(tmp_path):
    uid = generate_uid()
    write_series(tmp_path, 2, series_uid=uid, per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1})
    write_enhanced(tmp_path / "enhanced.dcm", 2, series_uid=uid)
    image, notes = read_exam(tmp_path, phase=1, patient="P7")
    assert np.array_equal(pixels(image), volume(1))
    expected_geometry(image)
    assert any("as classic and as Enhanced MR: the enhanced copy is read" in n for n in notes)


def test_enhanced_rescale_is_applied_per_frame(tmp_path):
    write_enhanced(tmp_path / "e.dcm", 3, series_uid=generate_uid(), slope=0.5, intercept=3.0)
    image, notes = read_exam(tmp_path, phase=2, patient="P7")
    assert image.GetPixelID() == sitk.sitkFloat32
    assert np.array_equal(pixels(image), volume(2) * np.float32(0.5) + np.float32(3.0))
    assert "value scale: RescaleSlope/RescaleIntercept 0.5/3 applied" in notes
    write_enhanced(tmp_path / "whole" / "e.dcm", 3, series_uid=generate_uid(), slope=2.0, intercept=-10.0)
    image, _ = read_exam(tmp_path / "whole", phase=1, patient="P7")
    assert image.GetPixelID() == sitk.sitkInt16  # whole slope and intercept: integers stay integers
    assert np.array_equal(pixels(image), 2 * volume(1) - 10)


def test_files_found_by_content_not_name(tmp_path):
    """No extension, UID names, and bare datasets without preamble or file meta."""
    uid = "1.2.826.0.1.3680043.10.99"
    names = [lambda p, k: f"{uid}.{p}.{k}", lambda p, k: f"IM{p}{k}"]
    write_series(
        tmp_path,
        2,
        name=lambda p, k: names[k % 2](p, k),
        per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1, "preamble": k != 1},
    )
    (tmp_path / "notes.txt").write_text("not DICOM")
    raw = next(tmp_path.glob("IM*"))
    assert not raw.suffix and raw.read_bytes()[128:132] == b"DICM"
    bare = tmp_path / "IM01"
    assert bare.read_bytes()[:2] == b"\x08\x00"
    image, _ = read_exam(tmp_path, phase=1, patient="P8")
    assert np.array_equal(pixels(image), volume(1))


def test_dicomdir_tree(tmp_path):
    source = tmp_path / "source"
    write_series(source, 2, per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1})
    fs = FileSet()
    for file in sorted(source.iterdir()):
        fs.add(pydicom.dcmread(file))
    fs.write(tmp_path / "export")
    assert (tmp_path / "export" / "DICOMDIR").is_file()
    image, notes = read_exam(tmp_path / "export", phase=1, patient="P9")
    assert np.array_equal(pixels(image), volume(1))
    assert "left out 1 DICOM file(s): DICOMDIR" in notes


def test_one_volume_is_read_whatever_the_phase_and_says_so(tmp_path):
    write_series(tmp_path, 1)
    image, notes = read_exam(tmp_path, phase=3, patient="P10")
    assert np.array_equal(pixels(image), volume(0))
    assert "the DICOM exam holds one volume: it is read as phase 3" in notes


def test_notes_carry_no_identifiers(tmp_path):
    series_per_dynamic_folder(tmp_path)
    _, notes = read_exam(tmp_path, phase=1, patient="P11")
    text = " ".join(notes)
    assert "SECRET-ID-123" not in text and "Doe" not in text and "20240115" not in text and "1.2.826" not in text
    assert SLICE_MM == 2.5


def test_copies_of_one_acquisition_under_new_uids_are_refused(tmp_path):
    """A converter's classic copy with a new SeriesInstanceUID beside the enhanced original:
    same grid, same protocol, same acquisition times; never taken as more dynamics."""
    write_series(
        tmp_path,
        2,
        per_slice=lambda p, k: {
            "TemporalPositionIdentifier": p + 1,
            "AcquisitionDateTime": f"20240115101{5 + p}00.000000",
        },
    )
    write_enhanced(tmp_path / "enhanced.dcm", 2, series_uid=generate_uid())
    with pytest.raises(CaseError, match="hold volumes of the same acquisition time: copies of one acquisition"):
        read_exam(tmp_path, phase=1, patient="P12")


def test_a_header_without_rows_is_an_error_in_words(tmp_path):
    write_series(tmp_path, 1)
    victim = next(tmp_path.iterdir())
    ds = pydicom.dcmread(victim)
    del ds.Rows
    ds.save_as(victim)
    with pytest.raises(CaseError, match=r"DICOM header not understood \(TypeError") as err:
        read_exam(tmp_path, patient="P13")
    assert victim.name in str(err.value)


def test_quick_header_parse_gives_the_frames_pydicom_gives(shared_data, tmp_path, monkeypatch):
    """The quick parse (explicit VR little endian, defined lengths) against pydicom's own parse,
    on every vendor file and on a generated exam; and it does take the common files."""
    from deltarad.imaging.dicom import frames, headers
    from deltarad.imaging.dicom.finding import dicom_files
    from deltarad.imaging.dicom.quickparse import quick_dataset

    write_series(
        tmp_path,
        2,
        per_slice=lambda p, k: {"TemporalPositionIdentifier": p + 1, "RescaleSlope": 1.5, "RescaleIntercept": -2},
    )
    files = dicom_files(shared_data / "dicom-vendors") + dicom_files(tmp_path)
    quick = sum(quick_dataset(f, headers.WANTED_TAGS) is not None for f in files)
    assert quick > len(files) / 2
    fast, _ = frames.read_frames(files, patient=None)
    monkeypatch.setattr(frames, "quick_dataset", lambda file, wanted: None)
    slow, _ = frames.read_frames(files, patient=None)
    assert fast == slow


@pytest.mark.parametrize("echoes_as_series", [True, False])
def test_series_per_dynamic_with_a_field_map_of_two_echoes_and_a_phase_difference(tmp_path, echoes_as_series):
    """The field map's two magnitude echoes were acquired at one time: one acquisition, not two
    dynamics; its phase difference is a phase image. The five dynamics are the exam."""
    series_per_dynamic_with_field_maps(tmp_path, echoes_as_series=echoes_as_series)
    for p in range(5):
        image, notes = read_exam(tmp_path, phase=p, patient="P8")
        assert np.array_equal(pixels(image), volume(p))
    assert (
        "5 series on one grid and protocol ordered by acquisition time: "
        + ", ".join(f"series {10 + p} 't1_fl3d_dynaVIEWS' -> phase {p}" for p in range(5))
    ) in notes
    assert "left out series 6 'gre_field_mapping': ImageType P (phase image)" in notes
    left = [n for n in notes if n.startswith(("left out series 4", "left out series 5"))]
    if echoes_as_series:
        assert left == [
            (
                "left out series 4 'gre_field_mapping': field map: acquired at one time with series 5 'gre_field_mapping' "
                "(differing in EchoTime 4.92/7.38, EchoNumbers '1'/'2'): one acquisition, not dynamics; not the DCE "
                "series' grid and protocol (ProtocolName 'gre_field_mapping'/'t1_fl3d_dynaVIEWS', SequenceName "
                "'*fm2d2r'/'*fl3d1', RepetitionTime 488/4.5, EchoTime 4.92/1.8, FlipAngle 60/12 against series 10 "
                "'t1_fl3d_dynaVIEWS')"
            ),
            (
                "left out series 5 'gre_field_mapping': field map: acquired at one time with series 4 'gre_field_mapping' "
                "(differing in EchoTime 7.38/4.92, EchoNumbers '2'/'1'): one acquisition, not dynamics; not the DCE "
                "series' grid and protocol (ProtocolName 'gre_field_mapping'/'t1_fl3d_dynaVIEWS', SequenceName "
                "'*fm2d2r'/'*fl3d1', RepetitionTime 488/4.5, EchoTime 7.38/1.8, FlipAngle 60/12 against series 10 "
                "'t1_fl3d_dynaVIEWS')"
            ),
        ]
    else:
        assert left == [
            (
                "left out series 4 'gre_field_mapping': field map: 2 echoes (EchoNumbers 1, 2) at each slice "
                "position acquired at one time: one multi-echo acquisition, not a dynamic series"
            )
        ]


def test_the_index_of_a_series_per_dynamic_folder_with_a_field_map_says_why_each_series_is_left_out(tmp_path):
    from deltarad.imaging.dicom.index import index_tree
    from deltarad.imaging.dicom.pseudonyms import Pseudonyms

    series_per_dynamic_with_field_maps(tmp_path / "tree" / "exam")
    cohort, index = index_tree(tmp_path / "tree", pseudonyms=Pseudonyms(b"k" * 32))
    assert cohort.loc[0, "baseline_image"] == str(tmp_path / "tree" / "exam")
    roles = dict(zip(index["series_number"], index["role"]))
    assert roles == {4: "left out", 5: "left out", 6: "left out", **{n: "DCE" for n in range(10, 15)}}
    why = dict(zip(index["series_number"], index["why"]))
    assert (
        why[4].startswith("field map: acquired at one time with series 5") and "one acquisition, not dynamics" in why[4]
    )
    assert why[6] == "ImageType P (phase image)"


def test_two_reconstructions_per_dynamic_need_an_image_kind(tmp_path):
    """Each dynamic exported twice, as acquired (ND) and distortion-corrected (DIS2D): one
    acquisition per time in two reconstructions, not six dynamics; imaging.image_kind picks."""
    study = "1.2.826.0.1.3680043.10.9"
    for p in range(3):
        for offset, recon in ((0, "ND"), (10, "DIS2D")):
            write_series(
                tmp_path / f"S{7 + p + offset}",
                1,
                study_uid=study,
                SeriesNumber=7 + p + offset,
                SeriesDescription="t1_fl3d_dyn",
                ImageType=["ORIGINAL", "PRIMARY", "M", recon],
                AcquisitionTime=f"10{20 + p}00",
                values=lambda _, p=p, o=offset: volume(p + o),
            )
    with pytest.raises(CaseError) as err:
        read_exam(tmp_path, phase=1, patient="P13")
    assert (
        "series 7 't1_fl3d_dyn' and series 17 't1_fl3d_dyn' hold volumes of the same acquisition time in two image "
        "types or reconstructions (ImageType 'ORIGINAL\\PRIMARY\\M\\ND'/'ORIGINAL\\PRIMARY\\M\\DIS2D'): one "
        "acquisition, not two dynamics; set imaging.image_kind to the one to read"
    ) in str(err.value)
    for p in range(3):
        image, notes = read_exam(tmp_path, phase=p, image_kind="ORIGINAL\\PRIMARY\\M\\DIS2D", patient="P13")
        assert np.array_equal(pixels(image), volume(p + 10))
    assert "3 of 6 series hold images of kind 'ORIGINAL\\PRIMARY\\M\\DIS2D' (imaging.image_kind)" in notes
    assert (
        "left out series 7 't1_fl3d_dyn': no images of kind 'ORIGINAL\\PRIMARY\\M\\DIS2D' (imaging.image_kind)" in notes
    )
