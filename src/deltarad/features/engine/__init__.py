"""deltarad's feature engine: PyRadiomics' feature classes with their hot computations re-implemented
exactly (same matrices, settings, names and enabling logic; see each module), and the two
extractor steps that run a class per image, with an optional per-class timer.

`imaging.feature_engine: pyradiomics` in the study file runs PyRadiomics'
untouched classes through the same steps. Nothing here patches PyRadiomics: the classes are
passed explicitly.
"""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import MutableMapping
from typing import Literal

from threadpoolctl import ThreadpoolController

from deltarad.features.engine.glcm import GLCM
from deltarad.features.pyradiomics import RadiomicsFeatureExtractor, imageoperations, radiomics

Engine = Literal["deltarad", "pyradiomics"]
ENGINES: tuple[str, ...] = ("deltarad", "pyradiomics")
#: feature class name -> deltarad's exact re-implementation
FASTER = {"glcm": GLCM}


def feature_classes(engine: Engine = "deltarad") -> dict[str, type]:
    """PyRadiomics' feature classes by name, with deltarad's in their place for engine 'deltarad'."""
    if engine not in ENGINES:
        raise ValueError(f"unknown feature engine {engine!r}; expected one of {', '.join(ENGINES)}")
    classes = dict(radiomics.getFeatureClasses())
    if engine == "deltarad":
        classes.update(FASTER)
    return classes


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's BLAS libraries, found once: threadpool_limits looks for them anew on every
    call (~2 ms, 36 times an exam). Those the feature classes use (numpy's, scipy's) are loaded
    before the first features are computed."""
    return ThreadpoolController()


def _run(cls: type, image, mask, names, kwargs: dict, timings: MutableMapping[str, float] | None, key: str) -> dict:
    start = time.perf_counter()
    instance = cls(image, mask, **kwargs)
    if names is not None:
        for name in names:
            instance.enableFeatureByName(name)
    values = instance.execute()
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start
    return values


def compute_shape(
    extractor: RadiomicsFeatureExtractor,
    classes: dict[str, type],
    image,
    mask,
    bbox,
    timings: MutableMapping[str, float] | None = None,
    **kwargs,
) -> dict:
    """RadiomicsFeatureExtractor.computeShape with the given classes (3D shape; a parameter file that
    enables shape2D runs PyRadiomics' own computeShape, whose 2D rules stay PyRadiomics')."""
    enabled = extractor.enabledFeatures
    if "shape2D" in enabled or "shape" not in enabled or mask.GetDimension() != 3:
        return dict(extractor.computeShape(image, mask, bbox, **kwargs))
    cropped_image, cropped_mask = imageoperations.cropToTumorMask(image, mask, bbox)
    values = _run(classes["shape"], cropped_image, cropped_mask, enabled["shape"], kwargs, timings, "shape")
    return {f"original_shape_{name}": value for name, value in values.items()}


def compute_features(
    extractor: RadiomicsFeatureExtractor,
    classes: dict[str, type],
    image,
    mask,
    image_type: str,
    timings: MutableMapping[str, float] | None = None,
    **kwargs,
) -> dict:
    """RadiomicsFeatureExtractor.computeFeatures (every enabled class but shape on one cropped,
    filtered image) with the given classes; `timings` adds each class's seconds under its name."""
    out = collections.OrderedDict()
    # The matrices are small: BLAS threads only wait for each other (100x slower on a busy machine)
    with _blas().limit(limits=1, user_api="blas"):
        for class_name, names in extractor.enabledFeatures.items():
            if class_name.startswith("shape") or class_name not in classes:
                continue
            values = _run(classes[class_name], image, mask, names, kwargs, timings, class_name)
            for name, value in values.items():
                out[f"{image_type}_{class_name}_{name}"] = value
    return out
