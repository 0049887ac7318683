"""Patient pseudonyms for `deltarad index`: HMAC-SHA-256 of the PatientID under a secret study key.

An unkeyed hash of a PatientID is no pseudonym: whoever holds the hospital's range of IDs
(10^7 for a 7-digit MRN) recomputes every one in seconds. Keyed, the pseudonym "P" + the first
`PSEUDONYM_HEX` hex digits of HMAC-SHA-256(key, PatientID) can only be recomputed, or linked back
to the ID, by whoever holds the key. The key is 32 random bytes (`secrets.token_bytes`), created
on first use in a file of its own, mode 0600, outside every output: by default
`$XDG_CONFIG_HOME/deltarad/keys/<study>.key` (`~/.config/...`), or the file $DELTARAD_KEY_FILE
or `--key` names. The same key gives the same pseudonyms in every run of the study; another key
gives others. The link table (pseudonym -> PatientID) exists only where the user asks for it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from deltarad.errors import DeltaradError

log = logging.getLogger(__name__)

KEY_FILE_ENV = "DELTARAD_KEY_FILE"
KEY_BYTES = 32
#: 48 bits: two of 10^5 patients share a pseudonym with probability ~2e-5 (and `Pseudonyms` refuses it).
PSEUDONYM_HEX = 12
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def default_key_file(study: str = "default") -> Path:
    """$DELTARAD_KEY_FILE, else `<XDG_CONFIG_HOME or ~/.config>/deltarad/keys/<study>.key`."""
    if os.environ.get(KEY_FILE_ENV):
        return Path(os.environ[KEY_FILE_ENV]).expanduser()
    if not _STUDY_NAME.fullmatch(study):
        raise DeltaradError(f"study name {study!r} cannot name a key file: use letters, digits, '.', '_', '-'")
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "deltarad" / "keys" / f"{study}.key"


def study_key(path: Path) -> tuple[bytes, bool]:
    """(the study key in file `path`, whether it was created now). A missing file is created with
    a new key, mode 0600 (its folder 0700 when made here); the file holds the key as 64 hex digits."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another run created it meanwhile: use that one
            return _read_key(path), False
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_bytes(KEY_BYTES).hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        return _read_key(path), True
    return _read_key(path), False


def _read_key(path: Path) -> bytes:
    if not path.is_file():
        raise DeltaradError("the study key must be a file", file=path)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not re.fullmatch(f"[0-9a-fA-F]{{{2 * KEY_BYTES}}}", text):
        raise DeltaradError(f"not a deltarad study key (expected {2 * KEY_BYTES} hex digits)", file=path)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("the study key %s can be read by other users: chmod 600 it", path)
    return bytes.fromhex(text)


def check_outside(key_file: Path, folder: Path) -> None:
    """Refuse a key file inside `folder` (the outputs): the key must never travel with them."""
    key, folder = Path(key_file).resolve(), Path(folder).resolve()
    if key == folder or folder in key.parents:
        raise DeltaradError(
            f"the study key must be kept outside the output folder {folder}: "
            "whoever has it can recompute every pseudonym from PatientIDs",
            file=key_file,
        )


@dataclass
class Pseudonyms:
    """PatientID -> pseudonym under one study key, remembering what it gave (the link table)."""

    key: bytes = field(repr=False)
    given: dict[str, str] = field(default_factory=dict, repr=False)  # pseudonym -> PatientID

    def __call__(self, patient_id: str) -> str:
        digest = hmac.new(self.key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()
        shown = "P" + digest[:PSEUDONYM_HEX]
        if self.given.setdefault(shown, patient_id) != patient_id:
            raise DeltaradError(f"two PatientIDs share the pseudonym {shown}: run with another study key")
        return shown

    def link_table(self) -> pd.DataFrame:
        """pseudonym, patient_id: identifying; written only where the user asks for it."""
        rows = sorted(self.given.items())
        return pd.DataFrame(rows, columns=["pseudonym", "patient_id"])
