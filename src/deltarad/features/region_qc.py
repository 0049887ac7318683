"""Stage (features): region QC of one exam, drawn at extraction time from what PyRadiomics saw (the analysed phase
after N4 and resampling, and every reader's regions), so the report never re-reads an image.

Per exam, beside the region masks (written by deltarad.runfolder.write_exam_qc; the report reads
them in deltarad.report.qc): regions/<patient>/qc_<timepoint>.png (axial slice through the
tumour's largest cross-section and the coronal plane through it, tumour and ring outlines of each
reader) and qc_<timepoint>.json (the numbers the report flags on):

- tumour_ml, ring_ml per reader;
- ring_lost_share: share of the geometric ring_mm shell (voxels outside the tumour within
  ring_mm of it, on the analysed grid) that is not in the peritumoral region: air, skin and chest
  wall together; and air_share / skin_share / chest_wall_share when the extraction reports them;
- fov_edge_mm: distance (mm) from the tumour to the analysed image's border; fov_edge is true when
  it is below ring_mm, i.e. the ring is cut by the field of view;
- dice and hd95_mm between readers 1 and 2 (deltarad.stats.agreement) when both read the exam.

The ring numbers are those of the design's first peritumoral band (the study's ring); a design
of several bands adds, per reader, `bands` {band: ring_ml, ring_lost_share and the shares} and,
at the top, `bands_mm` {band: [inner, outer]}; fov_edge then compares with the outermost band.

Drawn with an explicit Figure and Agg canvas: no pyplot, no global backend.
"""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deltarad.design import INTRATUMORAL, PERITUMORAL, Design
from deltarad.imaging.regions import band
from deltarad.stats.agreement import dice, hausdorff_mm

OUTLINE_COLOURS = {
    (INTRATUMORAL, 1): (1.0, 0.23, 0.19),
    (PERITUMORAL, 1): (0.0, 0.8, 1.0),
    (INTRATUMORAL, 2): (1.0, 0.85, 0.0),
    (PERITUMORAL, 2): (0.25, 0.35, 1.0),
}
#: outlines of the 2nd, 3rd, ... band (reader 1, reader 2); the first band keeps the ring's colours
FURTHER_BAND_COLOURS = (
    ((0.2, 0.9, 0.3), (0.1, 0.55, 0.2)),
    ((1.0, 0.5, 0.9), (0.7, 0.3, 0.8)),
    ((1.0, 0.6, 0.1), (0.7, 0.4, 0.1)),
)
PANEL_PX = 200  # upscaled panel size: outlines one pixel thin
RING_STATS_SHARES = ("air_share", "skin_share", "chest_wall_share")
DPI = 100

log = logging.getLogger(__name__)


def _design_of(ring_mm: float, design: Design | None) -> tuple[str, dict[str, tuple[float, float]]]:
    """(tumour region name, {band: (inner, outer) mm}) of `design`; None: the study's regions with
    a ring_mm ring."""
    if design is None:
        return INTRATUMORAL, {PERITUMORAL: (0.0, ring_mm)}
    return design.tumour.name, dict(zip((r.name for r in design.bands), design.band_limits_mm))


def _band_numbers(tumour: sitk.Image, kept_mask: sitk.Image, band_mm: tuple[float, float], stats: dict) -> dict:
    voxel_ml = float(np.prod(tumour.GetSpacing())) / 1000.0
    kept = sitk.GetArrayViewFromImage(kept_mask) != 0
    shell = stats.get("ring_voxels_geometric")  # the extraction counted it: no second distance map
    if shell is None:
        shell = int(
            np.count_nonzero(sitk.GetArrayFromImage(band(tumour, *band_mm)))
        )  # a copy: the image is a temporary
    numbers = {
        "ring_ml": float(kept.sum()) * voxel_ml,
        "ring_lost_share": 1.0 - float(kept.sum()) / shell if shell else math.nan,
    }
    numbers.update({key: float(stats[key]) for key in RING_STATS_SHARES if key in stats})
    return numbers


def exam_numbers(
    regions: dict[tuple[str, int], sitk.Image],
    ring_mm: float,
    ring_stats: dict[int, dict[str, float]] | None = None,
    *,
    design: Design | None = None,
    band_stats: dict[tuple[str, int], dict[str, float]] | None = None,
) -> dict:
    """The QC numbers of one exam (module docstring) from its region masks on the analysed grid;
    `design` names the regions (None: the study's, with a ring_mm ring), `band_stats` (band,
    reader) and `ring_stats` (reader, the first band) carry what the extraction counted."""
    tumour_name, bands = _design_of(ring_mm, design)
    out: dict = {"readers": {}}
    readers = sorted({r for _, r in regions})
    for reader in readers:
        tumour = regions[tumour_name, reader]
        voxel_ml = float(np.prod(tumour.GetSpacing())) / 1000.0
        t = sitk.GetArrayViewFromImage(tumour) != 0
        numbers: dict = {"tumour_ml": float(t.sum()) * voxel_ml}
        per_band = {}
        for i, (name, limits) in enumerate(bands.items()):
            stats = (band_stats or {}).get((name, reader)) or ((ring_stats or {}).get(reader, {}) if i == 0 else {})
            per_band[name] = _band_numbers(tumour, regions[name, reader], limits, stats)
        if bands:
            numbers.update(per_band[next(iter(bands))])
        if len(bands) > 1:
            numbers["bands"] = per_band
        out["readers"][str(reader)] = numbers
    if len(bands) > 1:
        out["bands_mm"] = {name: list(limits) for name, limits in bands.items()}
    out["fov_edge_mm"] = min(_border_mm(regions[tumour_name, r]) for r in readers)
    out["fov_edge"] = bool(out["fov_edge_mm"] < max((outer for _, outer in bands.values()), default=ring_mm))
    if 1 in readers and 2 in readers:
        out["dice"] = dice(regions[tumour_name, 1], regions[tumour_name, 2])
        out["hd95_mm"] = hausdorff_mm(regions[tumour_name, 1], regions[tumour_name, 2])
    return out


def _border_mm(mask: sitk.Image) -> float:
    """Smallest distance (mm) from the mask to the image's border, along the grid axes."""
    idx = np.argwhere(sitk.GetArrayViewFromImage(mask) != 0)  # z, y, x
    shape = np.array(sitk.GetArrayViewFromImage(mask).shape)
    spacing = np.array(mask.GetSpacing())[::-1]
    gaps = np.minimum(idx.min(axis=0), shape - 1 - idx.max(axis=0))
    return float((gaps * spacing).min())


def _outline_colours(tumour_name: str, bands: dict[str, tuple[float, float]]) -> dict[tuple[str, int], tuple]:
    """(region, reader) -> RGB: the tumour and first band in the study's colours, further bands
    in FURTHER_BAND_COLOURS (cycled)."""
    colours = {}
    for reader in (1, 2):
        colours[tumour_name, reader] = OUTLINE_COLOURS[INTRATUMORAL, reader]
        for i, name in enumerate(bands):
            colours[name, reader] = (
                OUTLINE_COLOURS[PERITUMORAL, reader]
                if i == 0
                else FURTHER_BAND_COLOURS[(i - 1) % len(FURTHER_BAND_COLOURS)][reader - 1]
            )
    return colours


def render(
    image: sitk.Image,
    regions: dict[tuple[str, int], sitk.Image],
    title: str,
    design: Design | None = None,
    ftv: sitk.Image | None = None,
) -> bytes:
    """PNG: axial slice through the reader-1 tumour's largest cross-section and the coronal plane
    through its largest row, with each reader's tumour and ring outlines drawn into the pixels
    (reader 1 red / cyan, reader 2 yellow / blue; the report's caption says so: a legend costs as
    much as the rest of the drawing): no contour tracing. `ftv`: reader 1's FTV voxels on the
    image's grid (deltarad.kinetics), shaded magenta under the outlines."""
    tumour_name, bands = _design_of(0.0, design)
    colours = _outline_colours(tumour_name, bands)
    img = sitk.GetArrayViewFromImage(image)  # z, y, x
    t1 = sitk.GetArrayViewFromImage(regions[tumour_name, 1]) != 0
    z = int(np.argmax(t1.sum(axis=(1, 2))))
    y = int(np.argmax(t1.sum(axis=(0, 2))))
    sx, sy, sz = image.GetSpacing()
    low, high = np.percentile(img[z], [1, 99.5])
    planes = [("axial", lambda a: a[z], (sy, sx)), ("coronal", lambda a: a[::-1, y, :], (sz, sx))]
    fig = Figure(figsize=(4.4, 2.5), dpi=DPI)
    FigureCanvasAgg(fig)
    for i, (name, cut, spacing) in enumerate(planes):
        ax = fig.add_axes((0.01 + 0.5 * i, 0.01, 0.48, 0.86))
        grey = np.clip((cut(img).astype(float) - low) / max(high - low, 1e-9), 0, 1)
        scale = max(1, int(PANEL_PX / max(grey.shape)))
        rgb = np.repeat(_upscale(grey, scale)[..., None], 3, axis=2)
        if ftv is not None:
            shaded = _upscale(cut(sitk.GetArrayViewFromImage(ftv)) != 0, scale)
            rgb[shaded] = 0.5 * rgb[shaded] + 0.5 * np.array(FTV_COLOUR)
        for (region, reader), mask in sorted(regions.items(), key=lambda kv: kv[0][0] == tumour_name):
            outline = _outline(_upscale(cut(sitk.GetArrayViewFromImage(mask)) != 0, scale))
            rgb[outline] = colours[region, min(reader, 2)]
        ax.imshow(rgb, aspect=spacing[0] / spacing[1], interpolation="nearest")
        ax.set_axis_off()
        ax.text(0.02, 0.97, name, transform=ax.transAxes, color="white", fontsize=7, va="top")
    fig.text(0.01, 0.985, title, fontsize=7, va="top", weight="bold")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
    return buf.getvalue()


FTV_COLOUR = (1.0, 0.0, 1.0)
"""The FTV voxels' shade (magenta, half over the image)."""


def _upscale(a: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with a 4-neighbour outside it."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


@dataclass(frozen=True)
class ExamQC:
    """One exam's QC: the PNG (bytes) and its numbers (module docstring), written by
    deltarad.runfolder.write_exam_qc."""

    patient_id: str
    timepoint: str
    png: bytes
    numbers: dict


def exam_qc(
    image: sitk.Image,
    regions: dict[tuple[str, int], sitk.Image],
    patient_id: str,
    timepoint: str,
    ring_mm: float,
    ring_stats: dict[int, dict[str, float]] | None = None,
    *,
    design: Design | None = None,
    band_stats: dict[tuple[str, int], dict[str, float]] | None = None,
    ftv: sitk.Image | None = None,
) -> ExamQC | None:
    """Draw one exam's QC image and compute its numbers (`exam_numbers`). A QC that cannot be
    drawn is logged and costs the exam nothing (None: the report says the image is missing)."""
    try:
        return _exam_qc(image, regions, str(patient_id), timepoint, ring_mm, ring_stats, design, band_stats, ftv)
    except Exception as exc:  # the features of the exam do not depend on its picture
        log.warning("patient %s %s: region QC not drawn (%s: %s)", patient_id, timepoint, type(exc).__name__, exc)
        return None


def _exam_qc(image, regions, patient_id, timepoint, ring_mm, ring_stats, design, band_stats, ftv=None) -> ExamQC:
    start = time.perf_counter()
    numbers = {
        "patient_id": patient_id,
        "timepoint": timepoint,
        "ring_mm": ring_mm,
        **exam_numbers(regions, ring_mm, ring_stats, design=design, band_stats=band_stats),
    }
    r1 = numbers["readers"]["1"]
    title = f"{timepoint}: tumour {r1['tumour_ml']:.2f} mL" + (
        f", ring lost {r1['ring_lost_share']:.0%}" if "ring_lost_share" in r1 else ""
    )
    if ftv is not None:
        ftv = sitk.Resample(ftv, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        title += ", FTV shaded"
    png = render(image, regions, title, design, ftv)
    numbers["qc_seconds"] = time.perf_counter() - start
    return ExamQC(patient_id, timepoint, png, numbers)
