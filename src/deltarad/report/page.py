"""The pieces of the report page: a section and its items (figure, table, gallery, text), and the
builder that numbers figures and tables in order of appearance and writes their files beside the
report (figures/ as PNG + SVG, tables/ as XLSX, with the run's CSV)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure as MplFigure

from deltarad import outputs
from deltarad.report import figures
from deltarad.report.run import RunFolder
from deltarad.report.tables import xlsx_bytes


@dataclass
class _Item:
    """What every item of a section has: its label (Figure 2, Table S1), anchor, title and caption."""

    label: str
    anchor: str
    title: str
    caption: str


@dataclass
class FigureItem(_Item):
    png_base64: str
    width_px: int
    files: list[str]
    kind: str = "figure"


@dataclass
class TableItem(_Item):
    columns: list[str]
    rows: list[list[str]]
    files: list[str]
    kind: str = "table"


@dataclass
class GalleryItem(_Item):
    cards: list[dict] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    kind: str = "gallery"


@dataclass
class TextItem(_Item):
    paragraphs: list[str] = field(default_factory=list)
    kind: str = "text"


@dataclass
class Section:
    anchor: str
    title: str
    intro: str = ""
    items: list = field(default_factory=list)
    unavailable: str | None = None

    def add_to_intro(self, text: str) -> None:
        self.intro = f"{self.intro} {text}" if self.intro else text


class Builder:
    """Numbers figures and tables in order of appearance and writes their files (through
    deltarad.outputs) into the report's folder."""

    def __init__(self, run: RunFolder, out: Path):
        self.run = run
        self.out = out
        self.report_dir = out.parent
        self.n_figures = 0
        self.n_supplementary = 0
        self.n_supplementary_figures = 0

    def figure(self, name: str, fig: MplFigure, title: str, caption: str) -> FigureItem:
        self.n_figures += 1
        rendered = figures.render(fig)
        files = outputs.write_figure(self.report_dir, name, rendered.png, rendered.svg)
        return FigureItem(
            f"Figure {self.n_figures}",
            f"fig-{name}",
            title,
            caption,
            base64.b64encode(rendered.png).decode("ascii"),
            rendered.width_px,
            files,
        )

    def supplementary_figure_label(self) -> str:
        self.n_supplementary_figures += 1
        return f"Figure S{self.n_supplementary_figures}"

    def table(
        self,
        shown: pd.DataFrame,
        title: str,
        caption: str,
        *,
        label: str | None = None,
        source: pd.DataFrame | None = None,
        name: str | None = None,
    ) -> TableItem:
        """`shown` is the formatted table; `source` (the raw values) is saved as tables/`name`.xlsx
        (and .csv when the report is written outside the run folder)."""
        if label is None:
            self.n_supplementary += 1
            label = f"Table S{self.n_supplementary}"
        files = []
        if source is not None and name is not None:
            files.append(self.xlsx(name, source, title))
            csv = outputs.copy_run_table(self.run.path, self.report_dir, name)
            if csv is not None:
                files.insert(0, csv)
        anchor = "tab-" + label.split()[-1].lower()
        rows = shown.astype(str).values.tolist()
        return TableItem(label, anchor, title, caption, [str(c) for c in shown.columns], rows, files)

    def xlsx(self, name: str, df: pd.DataFrame, sheet: str) -> str:
        """Write tables/`name`.xlsx beside the report; returns its link."""
        return outputs.write_report_xlsx(self.report_dir, name, xlsx_bytes(df, sheet))
