"""Stage floor: the kinetics of a DCE exam, the breast field's own response biomarker.

timing: which phases are pre-contrast, early and late (I-SPY's rule); maps: PE, SER, wash-in,
wash-out and subtraction maps; ftv: functional tumour volume (ACRIN 6657 / I-SPY); curves:
BI-RADS curve types and the lesion's peak enhancement; exam: one exam's kinetics row, its maps
as images and ΔFTV between timepoints; settings: the study file's `kinetics:` key.
Imports only the ground floor (design, errors).
"""

from deltarad.kinetics.exam import (
    DELTA_FTV_COLUMNS,
    DELTA_FTV_PREFIX,
    KINETICS_COLUMNS,
    VOLUME_CHANGE_PREFIX,
    ExamKinetics,
    delta_ftv,
    exam_kinetics,
    exam_times,
    kinetic_map_image,
    kinetic_variables,
    phases_of_study,
)
from deltarad.kinetics.ftv import FTVResult, FTVThresholds, functional_tumour_volume
from deltarad.kinetics.maps import MAP_NAMES, kinetic_map
from deltarad.kinetics.settings import KineticsSettings
from deltarad.kinetics.timing import KINETICS_STAGE, PhaseChoice, choose_phases

__all__ = [
    "DELTA_FTV_COLUMNS",
    "DELTA_FTV_PREFIX",
    "KINETICS_COLUMNS",
    "VOLUME_CHANGE_PREFIX",
    "kinetic_variables",
    "KINETICS_STAGE",
    "MAP_NAMES",
    "ExamKinetics",
    "FTVResult",
    "FTVThresholds",
    "KineticsSettings",
    "PhaseChoice",
    "choose_phases",
    "delta_ftv",
    "exam_kinetics",
    "exam_times",
    "functional_tumour_volume",
    "kinetic_map",
    "kinetic_map_image",
    "phases_of_study",
]
