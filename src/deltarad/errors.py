"""Errors a user can act on: each names the patient, the file and the problem."""

from __future__ import annotations

from pathlib import Path

#: The failure stage of a patient whose tumour mask is empty at the early exam (complete early
#: response): counted apart in the cohort flow, left out of the radiomics models.
EARLY_RESPONSE_STAGE = "early response"
#: The columns of every table of patients left out (failures.csv and the stages' failure frames).
FAILURE_COLUMNS = ["patient_id", "stage", "error"]


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


class StageError(CaseError):
    """A work unit failed at one stage (read, regions, preprocess, features)."""

    def __init__(self, problem: str, *, stage: str, patient: str | None = None, file: str | Path | None = None):
        self.stage = stage
        super().__init__(problem, patient=patient, file=file)


class CompleteEarlyResponse(StageError):
    """The reader-1 tumour mask is empty at the early exam: no delta features exist, so the
    patient is counted as a complete early response and left out of the radiomics models."""

    def __init__(self, *, patient: str, file: str | Path):
        super().__init__(
            "complete early response: the early tumour mask (reader 1) is empty; delta features "
            "are undefined, so the patient is left out of the radiomics models",
            stage=EARLY_RESPONSE_STAGE,
            patient=patient,
            file=file,
        )


def library_message(exc: BaseException) -> str:
    """The telling line of a library's exception (ITK's and pydicom's put it last, after a
    location), for an error in words."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[-1] if lines else type(exc).__name__
