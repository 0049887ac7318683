"""Tables as they come: CSV or text exports (any common delimiter, decimal comma, UTF-8 with or
without BOM, UTF-16, Latin-1/cp1252) and spreadsheets (XLSX, ODS), read to one DataFrame.

What is inferred is said in one INFO line per file (delimiter, decimal mark, encoding, sheet);
when two readings are possible the reader refuses and names them. Rows keep their number as the
user sees it (the CSV line, the spreadsheet row) for error messages. Cells are stripped of
surrounding whitespace and blank cells are missing; a column is numeric when every present value
is a number; id columns stay text exactly as written ("007" stays "007", a spreadsheet's 1001 is
"1001").
"""

from __future__ import annotations

import csv
import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.encoding import label, level_of
from deltarad.errors import StudyFileError

log = logging.getLogger(__name__)

DELIMITERS = (",", ";", "\t", "|")
SNIFF_CHARS = 1 << 16
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_COMMA_NUMBER = r"[+-]?\d*,\d+([eE][+-]?\d+)?"
_POINT_NUMBER = r"[+-]?\d*\.\d+([eE][+-]?\d+)?"


@dataclass
class Table:
    """A table read from a file: `frame` (a RangeIndex) and, per row, its number in the file."""

    frame: pd.DataFrame
    rows: np.ndarray
    path: Path
    row_word: str  # "line" (CSV) or "row" (spreadsheet)
    read_as: str = ""  # what was sniffed: "delimiter ';' (sniffed), encoding UTF-8, decimal ','"

    def where(self, positions) -> str:
        """'line 7' / 'rows 3, 9' for frame positions."""
        numbers = [str(self.rows[i]) for i in positions]
        return f"{self.row_word}{'s' if len(numbers) > 1 else ''} {', '.join(numbers)}"

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, what: str, *, text_columns: tuple[str, ...] = ()) -> Table:
        """A table given in memory (a DataFrame), named `what` in errors: rows numbered from 1,
        `text_columns` (ids) as text, as read_table_file keeps them."""
        frame = frame.reset_index(drop=True).copy()
        for col in text_columns:
            if col in frame.columns:
                frame[col] = [str(v).strip() if is_given(v) else None for v in frame[col]]
        return cls(frame, np.arange(1, len(frame) + 1), Path(what), "row", "a DataFrame")


def read_table_file(
    path: str | Path,
    what: str,
    *,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    text_columns: tuple[str, ...] = (),
) -> Table:
    """Read a CSV, XLSX or ODS table; `text_columns` (ids) are kept as text. Errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise StudyFileError(f"{what} not found", file=path)
    with path.open("rb") as f:
        head = f.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise StudyFileError(f"the {what} is an old Excel .xls workbook: save it as .xlsx or CSV", file=path)
    if head.startswith(b"PK\x03\x04"):
        cells, rows, how = _read_spreadsheet(path, what, sheet)
        frame, rows = _with_header(cells, rows, path, what)
        row_word = "row"
    else:
        if sheet is not None:
            raise StudyFileError(f"a sheet ({sheet!r}) is named but the {what} is not a spreadsheet", file=path)
        frame, rows, how, delimiter = _read_text(path, what, delimiter, set(text_columns))
        row_word = "line"
    frame, converted = _typed(frame, set(text_columns), decimal, comma_possible=row_word == "line" and delimiter != ",")
    if converted:
        how.append(f"decimal ',' (columns {', '.join(converted)})")
    elif row_word == "line":
        how.append("decimal '.'")
    log.info("%s %s: %s; %d rows", what, path.name, ", ".join(how), len(frame))
    return Table(frame, rows, path, row_word, ", ".join(how))


# ---------------------------------------------------------------- text files


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "UTF-8 with BOM"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252 (Windows Latin-1: not UTF-8)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "Latin-1 (not UTF-8)"


def _field_counts(sample: str, delimiter: str) -> list[int]:
    try:
        records = list(csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter))
    except csv.Error:
        return []
    return [len(r) for r in records if r and any(c.strip() for c in r)]


def sniff_delimiter(text: str) -> str | None:
    """The delimiter that splits the header into more than one column and every sampled line
    into as many; None when none does. Two such delimiters are an error naming both."""
    sample = text[:SNIFF_CHARS]
    if len(text) > SNIFF_CHARS:
        sample = sample[: sample.rfind("\n") + 1] or sample  # whole lines only
    consistent, best, best_score = [], None, 0.0
    for d in DELIMITERS:
        counts = _field_counts(sample, d)
        if not counts or counts[0] < 2:
            continue
        score = float(np.mean([c == counts[0] for c in counts]))
        if score == 1.0:
            consistent.append(d)
        if score > best_score:
            best, best_score = d, score
    if len(consistent) > 1:
        raise ValueError(" and ".join(_NAMES[d] for d in consistent))
    return consistent[0] if consistent else best


def _read_text(
    path: Path, what: str, delimiter: str | None, text_columns: set[str]
) -> tuple[pd.DataFrame, np.ndarray, list[str], str]:
    data = path.read_bytes()
    try:
        text, encoding = _decode(data)
    except UnicodeDecodeError as exc:
        raise StudyFileError(f"cannot decode the {what}: {exc}", file=path) from None
    skipped = len(text) - len(text.lstrip("\r\n"))
    blank_lines = text[:skipped].count("\n")
    text = text[skipped:]
    if not text.strip():
        raise StudyFileError(f"the {what} is empty", file=path)
    how = []
    sep_line = re.fullmatch(r"sep=([,;\t|])\r?", text.split("\n", 1)[0], flags=re.IGNORECASE)
    if sep_line:  # Excel's delimiter line
        text, blank_lines = (text.split("\n", 1) + [""])[1], blank_lines + 1
        if not text.strip():
            raise StudyFileError(f"the {what} is empty", file=path)
    if delimiter is not None:
        how.append(f"delimiter {_NAMES[delimiter]}")
    elif sep_line:
        delimiter = sep_line[1]
        how.append(f"delimiter {_NAMES[delimiter]} (Excel's sep= line)")
    else:
        try:
            delimiter = sniff_delimiter(text)
        except ValueError as exc:
            raise StudyFileError(
                f"the {what} reads as a table with either delimiter ({exc}): name one with "
                "`delimiter:` beside its path in the study file",
                file=path,
            ) from None
        how.append(f"delimiter {_NAMES[delimiter]} (sniffed)" if delimiter else "one column")
        delimiter = delimiter or ","
    how.append(f"encoding {encoding}")
    header = [h.strip() for h in next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))]
    _check_header(header, path, what, f"line {blank_lines + 1}")
    names = [h or _unnamed(j) for j, h in enumerate(header)]
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=0,
            names=names,
            keep_default_na=True,
            dtype={c: str for c in text_columns if c in header},
            skip_blank_lines=False,
            engine="c",
        )
    except (pd.errors.ParserError, ValueError) as exc:
        raise StudyFileError(
            f"cannot read the {what} as CSV with delimiter {_NAMES[delimiter]}: {exc}", file=path
        ) from None
    rows = _line_numbers(text, delimiter, len(frame) + 1)[1:] + blank_lines
    keep = frame.notna().any(axis=1).to_numpy()  # blank lines and Excel's ';;;' rows
    return _named(frame.loc[keep].reset_index(drop=True), path), rows[keep], how, delimiter


def _unnamed(j: int) -> str:
    return f"\0unnamed {j + 1}"


def _named(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Drop the empty columns without a header name; one with values is an error."""
    unnamed = [c for c in frame.columns if str(c).startswith("\0")]
    for c in unnamed:
        if frame[c].notna().any():
            raise StudyFileError(f"column {c.split()[-1]} has values but no name in the header", file=path)
    return frame.drop(columns=unnamed)


def _check_header(header: list[str], path: Path, what: str, where: str) -> None:
    twice = sorted({n for n in header if n and header.count(n) > 1})
    if twice:
        raise StudyFileError(
            f"column(s) {', '.join(map(repr, twice))} appear more than once in the header ({where})", file=path
        )


def _line_numbers(text: str, delimiter: str, n_records: int) -> np.ndarray:
    """The line each record starts on: the record's position + 1, unless quoted fields span lines."""
    n_lines = text.count("\n") + (0 if text.endswith("\n") else 1)
    if n_lines == n_records:
        return np.arange(1, n_records + 1)
    starts, reader, last = [], csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), 0
    for _ in reader:
        starts.append(last + 1)
        last = reader.line_num
    starts += range(last + 1, last + 1 + n_records - len(starts))
    return np.array(starts[:n_records])


# ---------------------------------------------------------------- spreadsheets


def _spreadsheet_engine(path: Path, what: str) -> tuple[str, str]:
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            mimetype = z.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError) as exc:
        raise StudyFileError(f"cannot read the {what}: {exc}", file=path) from None
    if "xl/workbook.xml" in names:
        return "openpyxl", "XLSX"
    if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
        return "odf", "ODS"
    raise StudyFileError(f"the {what} is a zip archive but neither an XLSX nor an ODS spreadsheet", file=path)


def _read_spreadsheet(path: Path, what: str, sheet: str | int | None) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    engine, kind = _spreadsheet_engine(path, what)
    try:
        sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=object, engine=engine)
    except Exception as exc:  # noqa: BLE001 - openpyxl/odfpy raise many types for damaged files
        raise StudyFileError(f"cannot read the {what} as {kind}: {exc}", file=path) from None
    names = list(sheets)
    with_data = [n for n in names if sheets[n].notna().any(axis=1).sum() > 1]  # a header and a row
    if sheet is None:
        if len(with_data) != 1:
            listed = ", ".join(repr(n) for n in (with_data or names))
            raise StudyFileError(
                f"the {what} has {len(with_data)} sheets with data ({listed}): name one with "
                "`sheet:` beside its path in the study file",
                file=path,
            )
        chosen, said = with_data[0], f"sheet {with_data[0]!r} (the only one with data)"
    elif str(sheet) in names:
        chosen, said = str(sheet), f"sheet {str(sheet)!r}"
    elif isinstance(sheet, int) and 1 <= sheet <= len(names):
        chosen, said = names[sheet - 1], f"sheet {sheet} ({names[sheet - 1]!r})"
    else:
        raise StudyFileError(f"no sheet {sheet!r} in the {what} (sheets: {', '.join(map(repr, names))})", file=path)
    cells = sheets[chosen]
    return cells, np.arange(1, len(cells) + 1), [kind, said]


# ---------------------------------------------------------------- header and types


def _with_header(cells: pd.DataFrame, rows: np.ndarray, path: Path, what: str) -> tuple[pd.DataFrame, np.ndarray]:
    """A sheet's first row with any value is the header; rows without any value are dropped."""
    cells = pd.DataFrame([[_cell(v) for v in row] for row in cells.to_numpy(object)], dtype=object)
    filled = cells.notna().any(axis=1).to_numpy()
    if not filled.any():
        raise StudyFileError(f"the {what} is empty", file=path)
    first = int(np.argmax(filled))
    header = ["" if v is None else (v if isinstance(v, str) else label(level_of(v))) for v in cells.iloc[first]]
    _check_header(header, path, what, f"row {rows[first]}")
    body = cells.iloc[first + 1 :]
    keep = body.notna().any(axis=1).to_numpy()
    frame = pd.DataFrame(body.to_numpy(object)[keep], columns=[h or _unnamed(j) for j, h in enumerate(header)])
    return _named(frame, path), rows[first + 1 :][keep]


def is_given(value: object) -> bool:
    """A cell with a value: not missing (None, NaN, NA) and not blank text."""
    return _cell(value) is not None


def _cell(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return None if value == "" else value
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    return value


def _typed(frame: pd.DataFrame, text_columns: set[str], decimal: str | None, comma_possible: bool):
    """Id columns as text; numeric columns (every present value a number) as numbers, with a
    decimal comma read where the file can have one (not comma-delimited) and no number of the
    column has a decimal point; other text in such a column stays text (for the caller to name).
    Returns the frame and the columns read with a decimal comma."""
    converted = []
    for col in frame.columns:
        if (
            pd.api.types.is_numeric_dtype(frame[col])
            and not pd.api.types.is_bool_dtype(frame[col])
            and col not in text_columns
        ):
            continue
        values = pd.Series([_cell(v) for v in frame[col].to_numpy(object)], index=frame.index, dtype=object)
        if col in text_columns:
            values = values.map(lambda v: v if v is None or isinstance(v, str) else label(level_of(v)))
        frame[col] = values
        if col in text_columns:
            continue
        present = values.notna()
        if not present.any() or values[present].map(lambda v: isinstance(v, (bool, np.bool_, pd.Timestamp))).any():
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers[present].notna().all():
            frame[col] = numbers
            continue
        if decimal == "." or not (comma_possible or decimal == ","):
            continue
        text = values[present].astype(str)
        comma = text.str.fullmatch(_COMMA_NUMBER)
        if not comma.any() or text.str.fullmatch(_POINT_NUMBER).any():
            continue
        values = values.copy()
        values[comma.index[comma]] = pd.to_numeric(text[comma].str.replace(",", ".", regex=False)).to_numpy(object)
        numbers = pd.to_numeric(values, errors="coerce")
        frame[col] = numbers if numbers[present].notna().all() else values  # text left as text, named downstream
        converted.append(str(col))
    return frame, converted
