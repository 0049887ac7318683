"""PyRadiomics as deltarad imports it: without the process-wide settings its import makes.

PyRadiomics' import sets the `radiomics` logger to INFO and gives it a stderr handler, and the
modules it loads (ruamel.yaml, scipy's Cython modules, numpy's RankWarning) add warning filters.
Those are the application's to decide: `pyradiomics_import_kept` puts the logger's level, handlers,
propagation and the warning filters back as they were. Every deltarad module takes PyRadiomics'
names from here, so whichever imports it first imports it this way.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def pyradiomics_import_kept() -> Iterator[None]:
    """Run imports, then restore the `radiomics` logger and the warning filters as they were."""
    logger = logging.getLogger("radiomics")
    level, handlers, propagate, disabled = logger.level, list(logger.handlers), logger.propagate, logger.disabled
    try:
        with warnings.catch_warnings():  # restores warnings.filters and showwarning on exit
            yield
    finally:
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate, logger.disabled = propagate, disabled


with pyradiomics_import_kept():
    import radiomics
    from radiomics import cMatrices, imageoperations
    from radiomics.featureextractor import RadiomicsFeatureExtractor
    from radiomics.glcm import RadiomicsGLCM

__all__ = [
    "RadiomicsFeatureExtractor",
    "RadiomicsGLCM",
    "cMatrices",
    "imageoperations",
    "pyradiomics_import_kept",
    "radiomics",
]
