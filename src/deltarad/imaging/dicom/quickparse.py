"""A quick header parse for the common case: a Part 10 file whose dataset is explicit VR little
endian (uncompressed or encapsulated). Only the wanted top-level elements are kept, as pydicom
RawDataElements; sequences are skipped (defined or undefined length). Anything else (implicit
VR, big endian, deflate, an undefined length outside a sequence, a functional-groups sequence,
an unknown VR) returns None and pydicom parses the file.

pydicom reads a header element by element through file calls (~1 ms per file); slicing one
buffer is about ten times faster, which is the header pass of a 1,280-file exam. The same parse
reads the pixels of the commonest file of all, one uncompressed grayscale frame (`native_plane`),
as pydicom's pixel_array gives them, without pydicom's decoder machinery (~1.5 ms per file).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

_LONG = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_SHORT = {
    b"AE",
    b"AS",
    b"AT",
    b"CS",
    b"DA",
    b"DS",
    b"DT",
    b"FL",
    b"FD",
    b"IS",
    b"LO",
    b"LT",
    b"PN",
    b"SH",
    b"SL",
    b"SS",
    b"ST",
    b"SV",
    b"TM",
    b"UI",
    b"UL",
    b"US",
    b"UV",
}
_IMPLICIT, _BIG_ENDIAN, _DEFLATED = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"
_EXPLICIT_LITTLE = "1.2.840.10008.1.2.1"
_SAMPLES, _FRAMES, _ROWS, _COLUMNS = 0x00280002, 0x00280008, 0x00280010, 0x00280011
_ALLOCATED, _STORED, _REPRESENTATION = 0x00280100, 0x00280101, 0x00280103
_PIXEL_MODULE = frozenset({_SAMPLES, _FRAMES, _ROWS, _COLUMNS, _ALLOCATED, _STORED, _REPRESENTATION})
_PIXEL_DATA = 0x7FE00010
_FUNCTIONAL_GROUPS = {0x52009229, 0x52009230}
_CHUNK = 65536
_UNDEFINED = 0xFFFFFFFF


def quick_dataset(file: Path, wanted: frozenset[int]) -> Dataset | None:
    """The `wanted` elements of `file` (raw), or None where pydicom must parse it."""
    with open(file, "rb") as fh:
        data = fh.read(_CHUNK)
        if data[128:132] != b"DICM":
            return None
        try:
            return _parse(data, wanted)[0]
        except _Unusual:
            return None
        except (_Short, struct.error):  # the header goes on past the first chunk
            data += fh.read()
    try:
        return _parse(data, wanted)[0]
    except (_Unusual, _Short, struct.error, UnicodeDecodeError):
        return None


def native_plane(file: Path) -> np.ndarray | None:
    """The pixels of `file` where it is one uncompressed grayscale frame (explicit VR little
    endian, 8 or 16 bits allocated, one sample per pixel), exactly as pydicom's pixel_array gives
    them: uint or int by PixelRepresentation, the bits above BitsStored corrected by a left then
    right shift as pydicom does (PS3.5 8.1.1: their values cannot be assumed); None for any
    other file, which pydicom decodes."""
    data = file.read_bytes()
    if data[128:132] != b"DICM":
        return None
    try:
        ds, syntax, pixel_pos = _parse(data, _PIXEL_MODULE)
        if syntax != _EXPLICIT_LITTLE or not {_SAMPLES, _ROWS, _COLUMNS, _ALLOCATED, _STORED} <= set(ds.keys()):
            return None
        samples, rows, columns, allocated, stored = (
            _unsigned_short(ds, tag) for tag in (_SAMPLES, _ROWS, _COLUMNS, _ALLOCATED, _STORED)
        )
        signed = _REPRESENTATION in ds and _unsigned_short(ds, _REPRESENTATION) == 1
        frames = _raw(ds, _FRAMES).decode("ascii").strip("\0 ") if _FRAMES in ds else "1"
        vr, length, start = _element(data, pixel_pos)
    except (_Unusual, _Short, struct.error, UnicodeDecodeError):
        return None
    size = rows * columns * allocated // 8
    if samples != 1 or allocated not in (8, 16) or not 0 < stored <= allocated or frames not in ("", "1"):
        return None
    if vr not in (b"OW", b"OB") or length not in (size, size + 1) or start + size > len(data):
        return None
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    plane = np.frombuffer(data, dtype, count=rows * columns, offset=start).reshape(rows, columns)
    if stored == allocated:
        return plane
    plane = plane.copy()
    np.left_shift(plane, allocated - stored, out=plane)
    np.right_shift(plane, allocated - stored, out=plane)
    return plane


def _unsigned_short(ds: Dataset, tag: int) -> int:
    return int(struct.unpack_from("<H", _raw(ds, tag))[0])


def _raw(ds: Dataset, tag: int) -> bytes:
    """An element's value bytes as the file holds them (get_item: not converted by pydicom)."""
    return bytes(ds.get_item(tag).value)


class _Unusual(Exception):
    """Not the common case: pydicom parses the file."""


class _Short(Exception):
    """The buffer ends before the pixel data."""


def _parse(data: bytes, wanted: frozenset[int]) -> tuple[Dataset, str | None, int]:
    """The wanted elements, the transfer syntax and the offset of the pixel data element."""
    pos, syntax = 132, None
    elements: dict = {}
    while True:
        group, element = struct.unpack_from("<HH", data, pos)
        tag = group << 16 | element
        if tag == _PIXEL_DATA:
            return Dataset(elements), syntax, pos
        if group != 0x0002 and syntax in (None, _IMPLICIT, _BIG_ENDIAN, _DEFLATED):
            raise _Unusual
        vr, length, start = _element(data, pos)
        if tag in _FUNCTIONAL_GROUPS:
            raise _Unusual
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _Unusual
            pos = _skip_sequence(data, start)
            continue
        if start + length > len(data):
            raise _Short
        if tag == 0x00020010:
            syntax = data[start : start + length].decode("ascii").strip("\0 ")
        elif tag in wanted:
            elements[BaseTag(tag)] = RawDataElement(
                BaseTag(tag), vr.decode("ascii"), length, data[start : start + length], start, False, True
            )
        pos = start + length


def _element(data: bytes, pos: int) -> tuple[bytes, int, int]:
    """(VR, value length, value offset) of the explicit-VR element at `pos`."""
    vr = data[pos + 4 : pos + 6]
    if vr in _LONG:
        return vr, struct.unpack_from("<I", data, pos + 8)[0], pos + 12
    if vr in _SHORT:
        return vr, struct.unpack_from("<H", data, pos + 6)[0], pos + 8
    raise _Short if len(data) < pos + 6 else _Unusual


def _skip_sequence(data: bytes, pos: int) -> int:
    """The offset after an undefined-length sequence whose items start at `pos`."""
    while True:
        group, element, length = struct.unpack_from("<HHI", data, pos)
        pos += 8
        if (group, element) == (0xFFFE, 0xE0DD):  # sequence delimitation item
            return pos
        if (group, element) != (0xFFFE, 0xE000):
            raise _Unusual
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # the item's elements, up to its delimitation item
            group, element = struct.unpack_from("<HH", data, pos)
            if (group, element) == (0xFFFE, 0xE00D):
                pos += 8
                break
            vr, length, start = _element(data, pos)
            if length == _UNDEFINED:
                if vr != b"SQ":
                    raise _Unusual
                pos = _skip_sequence(data, start)
            else:
                pos = start + length
