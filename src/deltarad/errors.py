"""Errors a user can act on: each names the patient, the file and the problem."""
from __future__ import annotations

from pathlib import Path

#: The failure stage of a patient whose tumour mask is empty at the early exam (complete early
#: response): counted apart in the cohort flow, left out of the radiomics models.
EARLY_RESPONSE_STAGE = "early response"


class DeltaradError(Exception):
    """An error that the CLI prints as one line (no traceback unless --debug)."""

    def __init__(self, problem: str, *, patient: str | None = None, file: str | Path | None = None):
        self.problem = problem
        self.patient = patient
        self.file = str(file) if file is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.patient is not None:
            where.append(f"patient {self.patient}")
        if self.file is not None:
            where.append(f"file {self.file}")
        return (", ".join(where) + ": " if where else "") + self.problem


class StudyFileError(DeltaradError):
    """The study file (YAML) or a table it points to is invalid."""


class CaseError(DeltaradError):
    """One case (patient) cannot be processed; a cohort run records it and goes on."""
