"""The study's four models, named once: prediction columns, display labels, radscore regions."""
from __future__ import annotations

#: radscore -> the region whose delta features it scores
RADSCORES: dict[str, str] = {"radscore_dir": "intratumoral", "radscore_dpr": "peritumoral"}
#: prediction columns, in fit order
MODEL_COLUMNS: list[str] = ["radscore_dir", "radscore_dpr", "us", "combined"]
#: prediction column -> display label, in the order tables and figures show the models
MODEL_LABELS: dict[str, str] = {"combined": "Combined", "radscore_dir": "DIR", "radscore_dpr": "DPR", "us": "Ultrasound"}
#: the combined model (stepwise AIC over the clinical variables, the ultrasound read and the radscores)
COMBINED = "combined"
#: the model every other is compared with (DeLong, IDI, NRI): the study's ultrasound model
REFERENCE_MODEL = "us"
