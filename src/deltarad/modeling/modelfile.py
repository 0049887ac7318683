"""The frozen model: plain JSON with a schema version, everything needed to score a new patient.

Loading a model file only parses JSON and checks its schema; it never executes code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from deltarad.design import BASELINE, COMBINED, EARLY, ULTRASOUND_COLUMN, ULTRASOUND_LABEL, DeltaPair, Design, Reference
from deltarad.encoding import Encoding, design_columns
from deltarad.errors import FAILURE_COLUMNS, DeltaradError
from deltarad.features.delta import DeltaMatrices, features_by_region, with_delta_column
from deltarad.harmonize import apply_harmonization
from deltarad.modeling.mice import pooled_probability
from deltarad.modeling.missing import combined_variables, complete_cases
from deltarad.modeling.models import Radscore
from deltarad.runfolder import write_model_file
from deltarad.stats.logit import LogitFit

SCHEMA = "deltarad.model"
SCHEMA_VERSION = 3
#: Versions this deltarad scores: 1 (deltarad 0.1: category levels stored as text, relative delta),
#: 2 (levels as JSON values, the delta form, missing-value policy) and 3 (the study's design:
#: any radscores, reference models). deltarad 0.1 refuses 2; 1 and 2 imply the study's design.
READABLE_SCHEMA_VERSIONS = (1, 2, 3)
_LOGIT = {"intercept": None, "coefficients": None}
_RADSCORE = {"region": None, "features": None, "mean": None, "sd": None, **_LOGIT}
PARTS = {
    "outcome": None,
    "design": None,
    "radscores": None,
    "references": None,
    COMBINED: {"terms": None, "variables": None, **_LOGIT},
}
"""What scoring reads from a model file (a key: None, or the keys inside it)."""
#: what schemas 1 and 2 hold instead of the design: the study's two radscores and the ultrasound model
LEGACY_PARTS = {
    "outcome": None,
    "ultrasound": None,
    "radscores": {name: _RADSCORE for name in ("radscore_dir", "radscore_dpr")},
    "ultrasound_model": _LOGIT,
    COMBINED: {"terms": None, "variables": None, **_LOGIT},
}


def with_design(data: dict) -> dict:
    """A model file's data with its `design` and `references`: a schema-1 or -2 file implies the
    study's design, with its ultrasound model as the reference `us` (the stored column)."""
    if "design" in data or "ultrasound_model" not in data:  # a design file, or a part of one (tests, encode)
        return data
    column = data.get("ultrasound") or "ultrasound"
    stored = data.get("delta")
    form = stored.get("kind", "relative") if isinstance(stored, dict) else "relative"
    design = Design(
        deltas=(DeltaPair(BASELINE, EARLY, form),),
        references=(Reference(ULTRASOUND_COLUMN, ULTRASOUND_LABEL, (column,)),),
    )
    return {
        **data,
        "design": design.to_dict(),
        "references": {ULTRASOUND_COLUMN: {"label": ULTRASOUND_LABEL, "columns": [column], **data["ultrasound_model"]}},
    }


def _lacking(data: object, parts: dict, prefix: str = "") -> list[str]:
    """The dotted names of the `parts` that `data` lacks."""
    out = []
    for key, inner in parts.items():
        if not isinstance(data, dict) or key not in data:
            out.append(prefix + key)
        elif inner is not None:
            out += _lacking(data[key], inner, f"{prefix}{key}.")
    return out


def model_design(data: dict) -> Design:
    """The design a model file's data was fitted under (a schema-1 or -2 file: the study's)."""
    data = with_design(data)
    return Design.from_dict(data["design"]) if "design" in data else Design()


def combined_probability(model: dict, data: pd.DataFrame, encode) -> np.ndarray:
    """The combined model's probability for `data` (indexed by patient; `encode` makes its design
    columns): under mice the mean over the imputations, else NaN for a patient with a blank in
    one of its variables (complete case)."""
    part = model["combined"]
    if "imputation" in part:
        return pooled_probability(model, data, encode)
    probability = LogitFit.from_dict(part).predict(encode(data))
    blank = ~complete_cases(data, [v for v in combined_variables(model) if v in data.columns])
    return np.where(blank, np.nan, probability)


@dataclass
class DeltaradModel:
    """A fitted deltarad model: the design's radscores, its reference models and the combined
    model, with the Youden cut-offs of the training set, held as the plain JSON data of its model
    file (a schema-1 or -2 file's with the design it implies, `with_design`)."""

    data: dict

    def __post_init__(self) -> None:
        self.data = with_design(self.data)

    def to_json(self, path: str | Path) -> Path:
        """Write the model file (plain JSON, written whole or not at all)."""
        return write_model_file(Path(path), self.data)

    @classmethod
    def from_json(cls, path: str | Path) -> DeltaradModel:
        """Read a model file; parses JSON and checks the schema, never executes code."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DeltaradError(f"cannot read model file: {exc}", file=path) from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise DeltaradError(f"not a deltarad model file (schema must be '{SCHEMA}')", file=path)
        if data.get("schema_version") not in READABLE_SCHEMA_VERSIONS:
            raise DeltaradError(
                f"model schema version {data.get('schema_version')!r} is not supported (this deltarad reads "
                f"{', '.join(map(str, READABLE_SCHEMA_VERSIONS))})",
                file=path,
            )
        lacking = _lacking(data, PARTS if data["schema_version"] >= 3 else LEGACY_PARTS)
        if not lacking and data["schema_version"] >= 3:
            parts = data["radscores"] if isinstance(data["radscores"], dict) else {"": None}
            lacking = [f"radscores.{name}.{key}" for name, part in parts.items() for key in _lacking(part, _RADSCORE)]
            lacking += [] if isinstance(data["references"], dict) else ["references.<name>"]
        if lacking:
            raise DeltaradError(
                f"the model file lacks {lacking[0]}: damaged, or not written by deltarad run", file=path
            )
        return cls(data)

    @property
    def outcome(self) -> str:
        return self.data["outcome"]

    @property
    def design(self) -> Design:
        """The design the model was fitted under."""
        return model_design(self.data)

    @property
    def delta_kind(self) -> str:
        """The delta the model was fitted on (deltarad.features.delta.DELTA_KINDS); model files
        from before the field stored a description of the relative change."""
        delta = self.data.get("delta")
        return delta.get("kind", "relative") if isinstance(delta, dict) else "relative"

    def _delta_of(self, part: dict) -> str:
        """A radscore's delta pair (a schema-2 radscore's: the design's single pair)."""
        return part.get("delta") or self.design.deltas[0].name

    def delta_matrices(self, delta: pd.DataFrame) -> DeltaMatrices:
        """Reader 1's matrices of the features the radscores use, from the long delta table."""
        features: dict[tuple[str, str], list[str]] = {}
        for part in self.data["radscores"].values():
            regions = part.get("regions") or [part["region"]]
            for region, feats in features_by_region(regions, part["features"]).items():
                known = features.setdefault((self._delta_of(part), region), [])
                known += [f for f in feats if f not in known]
        return DeltaMatrices.from_table(with_delta_column(delta, self.design), features, readers=(1,))

    def _radscore_matrix(self, part: dict, delta: DeltaMatrices) -> pd.DataFrame:
        return delta.radscore(self._delta_of(part), part.get("regions") or [part["region"]], 1)

    def radscore(self, name: str, delta: DeltaMatrices, patients: list[str]) -> np.ndarray:
        """Radscore (probability) of reader-1 delta features for `patients`, in that order
        (checked by `score` through check_delta and unscorable)."""
        part = self.data["radscores"][name]
        return Radscore.from_dict(part).predict(self._radscore_matrix(part, delta).reindex(patients))

    def encode(self, data: pd.DataFrame) -> pd.DataFrame:
        """The combined model's design columns from raw variables (categoricals as stored dummies)."""
        variables = self.data["combined"]["variables"]
        lacking = [var for var in variables if var not in data.columns]
        if lacking:
            raise DeltaradError(f"the combined model needs column '{lacking[0]}', which the cohort lacks")
        return design_columns(data, [Encoding.from_dict(var, enc) for var, enc in variables.items()])

    def predict_proba(self, delta: pd.DataFrame, clinical: pd.DataFrame) -> pd.DataFrame:
        """patient_id and one probability per model of the design (its model_columns: the
        radscores, the reference models, combined) for every row of `clinical` (one per patient:
        patient_id, the references' columns, the clinical variables), in its order (delta features
        harmonised first when the model stores a ComBat transform). A patient the model cannot
        score is an error naming the patient; `unscorable` lists them all beforehand."""
        self.check_delta(delta)
        matrices = self.delta_matrices(delta)
        problems = self._unscorable(matrices, clinical)
        if len(problems):
            first = problems.iloc[0]
            raise DeltaradError(first["error"], patient=first["patient_id"])
        patients = list(clinical["patient_id"])
        matrices = apply_harmonization(self.data.get("harmonization"), clinical, matrices)
        out = pd.DataFrame({"patient_id": pd.Series(patients, dtype=str)})
        for name in self.data["radscores"]:
            out[name] = self.radscore(name, matrices, patients)
        data = clinical.set_index("patient_id").copy()
        for name, part in self.data["references"].items():
            out[name] = self.reference(part, data)
        for name in self.data["radscores"]:
            data[name] = out[name].to_numpy()
        out[COMBINED] = combined_probability(self.data, data, self.encode)
        return out

    @staticmethod
    def reference(part: dict, data: pd.DataFrame) -> np.ndarray:
        """A reference model's probability for `data` (indexed by patient); a blank or non-number
        in one of its columns is an error naming the patient."""
        lacking = [c for c in part["columns"] if c not in data.columns]
        if lacking:
            raise DeltaradError(f"the {part['label']} model needs column '{lacking[0]}', which the cohort lacks")
        values = data[part["columns"]].apply(pd.to_numeric, errors="coerce")
        blank = values.isna().any(axis=1)
        if blank.any():
            column = next(c for c in part["columns"] if pd.isna(values.loc[blank.idxmax(), c]))
            raise DeltaradError(f"missing {part['label']} value '{column}'", patient=str(blank.idxmax()))
        return LogitFit.from_dict(part).predict(values.reset_index(drop=True))

    def unscorable(self, delta: pd.DataFrame, cohort: pd.DataFrame) -> pd.DataFrame:
        """Patients the model cannot score (patient_id, stage, error): a selected delta feature
        missing or not finite (e.g. a zero baseline value) or a category not seen in training. A
        blank clinical value only costs the combined model (deltarad.modeling.missing). Call
        check_delta first for problems of the whole table."""
        return self._unscorable(self.delta_matrices(delta), cohort)

    def _unscorable(self, matrices: DeltaMatrices, cohort: pd.DataFrame) -> pd.DataFrame:
        problems: dict[str, str] = {}
        patients = list(cohort["patient_id"])
        for part in self.data["radscores"].values():
            feats, region = part["features"], part["region"]
            X = self._radscore_matrix(part, matrices)[feats].reindex(patients)
            finite = np.isfinite(X.to_numpy(float))
            for i in np.flatnonzero(~finite.all(axis=1)):
                j = int(np.flatnonzero(~finite[i])[0])
                problems.setdefault(patients[i], f"delta feature {feats[j]} ({region}) is missing or not finite")
        data = cohort.set_index("patient_id")
        for var, enc in self.data["combined"]["variables"].items():
            if var in self.data["radscores"] or var not in data.columns:
                continue
            values = data[var]  # a blank is not a problem here: see deltarad.modeling.missing
            encoding = Encoding.from_dict(var, enc)
            for p in values.index[encoding.unseen(values).to_numpy()]:
                problems.setdefault(p, encoding.unseen_message(values[p]))
        imputation = self.data["combined"].get("imputation")
        if imputation:  # a patient with a blank to impute needs every imputation predictor encodable
            targets = [v for v in imputation["targets"] if v in data.columns]
            to_impute = data[targets].isna().any(axis=1).to_numpy()
            for var, spec in imputation["variables"].items():
                if spec["type"] == "categorical" and var in data.columns:
                    encoding = Encoding.from_dict(var, spec)
                    for p in data.index[encoding.unseen(data[var]).to_numpy() & to_impute]:
                        problems.setdefault(p, encoding.unseen_message(data[var][p]) + ", needed to impute a blank")
        return pd.DataFrame(
            [{"patient_id": p, "stage": "model", "error": e} for p, e in problems.items()], columns=FAILURE_COLUMNS
        )

    def check_delta(self, delta: pd.DataFrame) -> None:
        """Fail early when the cohort's features do not match the model's."""
        for name, part in self.data["radscores"].items():
            regions = part.get("regions") or [part["region"]]
            missing = [
                f
                for feats in features_by_region(regions, part["features"]).values()
                for f in feats
                if f not in delta.columns
            ]
            if missing:
                raise DeltaradError(
                    f"{name}: the model uses {len(part['features'])} {part['region']} features; "
                    f"{len(missing)} are not in the cohort's feature table (e.g. {missing[0]})"
                )
