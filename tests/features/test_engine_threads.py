"""The feature classes run on one BLAS thread, with the BLAS libraries found once per process."""

from __future__ import annotations

from tests.features.test_engine import masks_of, textured_exam
from threadpoolctl import threadpool_info

from deltarad.features import engine
from deltarad.features.engine import compute_features, feature_classes
from deltarad.features.extract import filtered_images, load_extractor, mask_features


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


class Recorder:
    """A feature class that records the BLAS threads it runs on."""

    seen: list[set[int]] = []

    def __init__(self, image, mask, **kwargs):
        pass

    def enableFeatureByName(self, name):
        pass

    def execute(self):
        Recorder.seen.append(_blas_threads())
        return {"x": 1.0}


def test_feature_classes_run_on_one_blas_thread_and_the_limit_is_lifted_after():
    extractor = load_extractor(None)
    image = textured_exam(4)
    mask = masks_of(image)["ball"]
    before = _blas_threads()
    classes = {**feature_classes("deltarad"), "glcm": Recorder}
    out = compute_features(extractor, classes, image, mask, "original")
    assert out["original_glcm_x"] == 1.0 and Recorder.seen == [{1}]
    assert _blas_threads() == before


def test_every_blas_library_loaded_by_an_extraction_is_limited():
    extractor = load_extractor(None)
    image = textured_exam(4)
    mask = masks_of(image)["ball"]
    mask_features(extractor, image, mask, filtered_images(extractor, image, mask))
    loaded = {lib["filepath"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    found = {lib.filepath for lib in engine._blas().lib_controllers if lib.user_api == "blas"}
    assert loaded and loaded <= found
