"""Enhanced MR (multi-frame): one Frame per stored frame, from the per-frame functional groups.

Each frame's geometry is its PlanePositionSequence / PlaneOrientationSequence and
PixelMeasuresSequence, its values its PixelValueTransformationSequence (rescale), its time its
FrameContentSequence (TemporalPositionIndex, FrameAcquisitionDateTime), its image type its
MRImageFrameTypeSequence FrameType and ComplexImageComponent; where a group is not given per
frame, the shared functional groups give it (as the standard says).
"""

from __future__ import annotations

from pathlib import Path

import pydicom

from deltarad.errors import CaseError
from deltarad.imaging.dicom.headers import (
    PHILIPS_LABEL_TYPE,
    PHILIPS_SCALE_SLOPE,
    Frame,
    as_float,
    as_int,
    as_list,
    element_value,
    seconds,
)

_PHILIPS_PRIVATE_GROUP = 0x2005140F


def enhanced_frames(ds: pydicom.Dataset, file: Path, base: dict, patient: str | None) -> list[Frame]:
    date, file_time = base.pop("_date"), base.pop("_time")
    per_frame = list(ds.PerFrameFunctionalGroupsSequence)
    shared = ds.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in ds else pydicom.Dataset()
    n = as_int(ds.get("NumberOfFrames")) or len(per_frame)
    if len(per_frame) != n:
        raise CaseError(
            f"Enhanced MR file has {n} frames but {len(per_frame)} per-frame functional groups",
            patient=patient,
            file=file,
        )
    frames = []
    for index, groups in enumerate(per_frame):

        def group(keyword: str, groups=groups):  # this frame's groups, else the shared ones
            seq = groups.get(keyword) or shared.get(keyword)
            return seq[0] if seq else pydicom.Dataset()

        position = group("PlanePositionSequence").get("ImagePositionPatient")
        orientation = group("PlaneOrientationSequence").get("ImageOrientationPatient")
        if position is None or orientation is None:
            raise CaseError(
                f"Enhanced MR frame {index + 1} has no plane position/orientation", patient=patient, file=file
            )
        measures = group("PixelMeasuresSequence")
        spacing = as_list(measures.get("PixelSpacing")) or [1.0, 1.0]
        transform = group("PixelValueTransformationSequence")
        content = group("FrameContentSequence")
        frame_type = group("MRImageFrameTypeSequence")
        image_type = tuple(str(v) for v in as_list(frame_type.get("FrameType"))) or base["image_type"]
        kind = [("FrameType", "\\".join(image_type))]
        if frame_type.get("ComplexImageComponent"):
            kind.append(("ComplexImageComponent", str(frame_type.ComplexImageComponent)))
        private = groups.get(_PHILIPS_PRIVATE_GROUP)
        private = private.value[0] if private is not None and private.VR == "SQ" and len(private.value) else {}
        if PHILIPS_LABEL_TYPE in private:
            kind.append(("Philips label type (2005,1429)", str(element_value(private[PHILIPS_LABEL_TYPE])).strip()))
        scale = (
            as_float(element_value(private[PHILIPS_SCALE_SLOPE]))
            if PHILIPS_SCALE_SLOPE in private
            else base["philips_scale"]
        )
        diffusion = group("MRDiffusionSequence")
        time = content.get("FrameAcquisitionDateTime") or file_time
        time_field = "FrameAcquisitionDateTime" if content.get("FrameAcquisitionDateTime") else base["time_field"]
        frames.append(
            Frame(
                frame=index,
                form="enhanced",
                position=tuple(float(v) for v in position),
                orientation=tuple(float(v) for v in orientation),
                rows=int(ds.Rows),
                columns=int(ds.Columns),
                pixel_spacing=(float(spacing[0]), float(spacing[1])),
                slope=as_float(transform.get("RescaleSlope")) or 1.0,
                intercept=as_float(transform.get("RescaleIntercept")) or 0.0,
                kind=tuple(kind),
                temporal_index=as_int(content.get("TemporalPositionIndex")),
                trigger_time_ms=as_float(group("CardiacSynchronizationSequence").get("NominalCardiacTriggerDelayTime")),
                acquisition_s=seconds(date, time),
                diffusion_b=as_float(diffusion.get("DiffusionBValue")),
                **{**base, "image_type": image_type, "philips_scale": scale, "time_field": time_field},
            )
        )
    return frames
