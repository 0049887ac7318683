"""Reading a finished run folder for the report, defensively: every input may be missing or
malformed, and the section that needs it then says why instead of the report failing."""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path

import pandas as pd

from deltarad import runfolder
from deltarad.design import ULTRASOUND_COLUMN, ULTRASOUND_LABEL, Design, DesignError, Reference

SETS = ("training", "validation", "external")
OUTCOME_LABELS = {1: "pCR", 0: "non-pCR"}


def radscore_variable_labels(design: Design) -> dict[str, str]:
    """Radscore column -> its name as a table variable (Radscore_DIR, ...)."""
    labels = design.model_labels
    return {rs.name: f"Radscore_{labels[rs.name]}" for rs in design.radscores}


RADSCORE_LABELS = radscore_variable_labels(Design())  # the study's: Radscore_DIR, Radscore_DPR


class Unavailable(Exception):
    """A report input is missing or unusable; the message is shown to the reader."""


class RunFolder:
    """The files of one `deltarad run`, loaded on first use."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def csv(self, relative: str, required: tuple[str, ...] = ()) -> pd.DataFrame:
        path = self.path / relative
        if not path.is_file():
            raise Unavailable(f"{relative} not found in the run folder")
        try:
            df = pd.read_csv(path, dtype={"patient_id": str})
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise Unavailable(f"{relative} cannot be read as CSV ({exc})") from None
        missing = [c for c in required if c not in df.columns]
        if missing:
            raise Unavailable(f"{relative} lacks column(s) {', '.join(missing)}")
        if df.empty:
            raise Unavailable(f"{relative} has no rows")
        return df

    @cached_property
    def model(self) -> dict:
        path = self.path / runfolder.MODEL
        if not path.is_file():
            raise Unavailable("model.json not found in the run folder")
        try:
            model = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Unavailable(f"model.json is not valid JSON ({exc})") from None
        if not isinstance(model, dict):
            raise Unavailable("model.json does not hold a JSON object")
        return model

    @cached_property
    def outcome(self) -> str:
        """The outcome column: named in model.json, else the one unknown column of predictions.csv."""
        try:
            return str(self.model["outcome"])
        except (Unavailable, KeyError):
            pass
        known = {"patient_id", "set", *self.model_labels}
        cols = [c for c in self.csv(runfolder.PREDICTIONS).columns if c not in known]
        if len(cols) != 1:
            raise Unavailable("the outcome column is not named in model.json and cannot be inferred")
        return cols[0]

    @cached_property
    def predictions(self) -> pd.DataFrame:
        """predictions.csv with the outcome as 0/1 and only the model columns present."""
        df = self.csv(runfolder.PREDICTIONS, required=("patient_id", "set"))
        if self.outcome not in df.columns:
            raise Unavailable(f"predictions.csv lacks the outcome column '{self.outcome}'")
        values = pd.to_numeric(df[self.outcome], errors="coerce")
        if not values.isin([0, 1]).all():
            raise Unavailable(f"outcome column '{self.outcome}' of predictions.csv is not 0/1")
        df[self.outcome] = values.astype(int)
        if not any(m in df.columns for m in self.model_labels):
            raise Unavailable(f"predictions.csv has none of the model columns {', '.join(self.model_labels)}")
        return df

    @cached_property
    def model_labels(self) -> dict[str, str]:
        """Prediction column -> display label of the run's models, in the order the report shows
        them: model.json's `models`; a model file written before it carries none, and then its
        design's (the study's: the models every such file holds)."""
        try:
            labels = self.model.get("models")
        except Unavailable:
            labels = None
        if labels is None:
            return self.design.model_labels
        if not isinstance(labels, dict) or not labels or not all(isinstance(v, str) for v in labels.values()):
            raise Unavailable("model.json's models entry is not a {prediction column: label} object")
        return {str(k): v for k, v in labels.items()}

    @cached_property
    def design(self) -> Design:
        """The run's design: model.json's; a model file before schema 3 (or none) implies the
        study's, with the ultrasound reference on its stored column."""
        try:
            model = self.model
        except Unavailable:
            model = {}
        raw = model.get("design")
        if raw is None:
            if not model.get("ultrasound"):
                return Design()
            return Design(references=(Reference(ULTRASOUND_COLUMN, ULTRASOUND_LABEL, (str(model["ultrasound"]),)),))
        try:
            return Design.from_dict(raw)
        except (DesignError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise Unavailable(f"model.json's design cannot be read ({exc})") from None

    @property
    def radscores(self) -> list[str]:
        """The radscores' prediction columns, in the design's order."""
        return [rs.name for rs in self.design.radscores]

    @property
    def models(self) -> dict[str, str]:
        """Prediction column -> display label, for the models present in predictions.csv."""
        return {k: v for k, v in self.model_labels.items() if k in self.predictions.columns}

    def known_models(self, df: pd.DataFrame, source: str) -> pd.DataFrame:
        """`df` of the file `source`, whose `model` column holds prediction columns, once every name
        in it is a model of the run: another name is refused in words, never matched by likeness."""
        names = df["model"].astype(str)
        unknown = [m for m in dict.fromkeys(names) if m not in self.model_labels]
        if unknown:
            raise Unavailable(
                f"{source} names a model {unknown[0]!r} that is not one of the run's models "
                f"({', '.join(self.model_labels)})"
            )
        return df.assign(model=names)

    def sets(self) -> list[str]:
        present = list(dict.fromkeys(self.predictions["set"].astype(str)))
        return [s for s in SETS if s in present] + [s for s in present if s not in SETS]

    @cached_property
    def is_external(self) -> bool:
        """A folder of `deltarad validate`: a frozen model scored on a cohort it was not fitted on,
        so its predictions hold no training set."""
        try:
            return "training" not in self.sets()
        except Unavailable:
            return False

    def resamples(self) -> tuple[int | None, int | None]:
        """Bootstrap resamples and cross-validation folds that internal validation completed, from
        validation.csv (None where it does not say)."""
        try:
            v = self.csv(runfolder.VALIDATION)
        except Unavailable:
            return None, None
        count = {}
        for col in ("bootstrap_n", "cv_n"):
            n = pd.to_numeric(v.get(col, pd.Series(dtype=float)), errors="coerce").max()
            count[col] = int(n) if pd.notna(n) else None
        return count["bootstrap_n"], count["cv_n"]

    def coefficients(self) -> pd.DataFrame:
        """The radscores' features and coefficients [region, feature, coefficient]: from
        selected_features.csv, else from model.json (an external-validation folder has no
        selected_features.csv, but carries the model)."""
        try:
            return self.csv(runfolder.SELECTED_FEATURES, required=("region", "feature", "coefficient"))
        except Unavailable as missing:
            try:
                radscores = self.model["radscores"]
                rows = [
                    {"region": part["region"], "feature": f, "coefficient": float(beta)}
                    for part in radscores.values()
                    for f, beta in part["coefficients"].items()
                ]
            except (Unavailable, KeyError, AttributeError, TypeError, ValueError):
                raise missing from None
            if not rows:
                raise Unavailable("the model's radscores have no features") from None
            return pd.DataFrame(rows)

    @cached_property
    def table3(self) -> pd.DataFrame:
        return self.known_models(self.csv(runfolder.TABLE3, required=("set", "model", "auc")), runfolder.TABLE3)

    def thresholds(self) -> dict[str, float]:
        """Per model, the training-set (Youden) cut-off carried to every set: from Table 3, else
        from model.json's `thresholds`."""
        try:
            t3 = self.table3
            train = t3[t3["set"].astype(str) == "training"]
            if "threshold" in t3.columns and not train.empty:
                return dict(zip(train["model"], train["threshold"].astype(float)))
        except Unavailable:
            pass
        try:
            return {str(k): float(v) for k, v in self.model["thresholds"].items()}
        except (Unavailable, KeyError, AttributeError, TypeError, ValueError):
            raise Unavailable(
                f"no training-set cut-offs: neither {runfolder.TABLE3} nor {runfolder.MODEL} has them"
            ) from None
