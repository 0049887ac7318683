"""Feature selection per region, fitted on the training set only (METHOD.md, Feature selection).

Each step is a scikit-learn transformer on a patients x features table: a DataFrame indexed by
patient_id (as the study uses them: the output is a DataFrame of the kept columns) or any array-like
(the output an array; columns named x0, x1, ... as scikit-learn names them). `fit` learns from the
X, y (and groups) it is given only, `transform` returns the kept columns, `get_feature_names_out`
names them, and `set_output(transform="pandas")` gives DataFrames for arrays too. `selection_pipeline` chains them in a `sklearn.pipeline.Pipeline`
whose last step, the LASSO, is also the radscore classifier, so the pipeline runs under
`cross_validate`; `select_features` (the study fit and every resample of the internal validation)
fits that same pipeline and reads the region's selection from its fitted steps.

ICC (reader 1 vs reader 2, ICC(2,1) >= icc_min) -> z-score (training mean and SD) -> two-sample
t-test (p < ttest_p) -> |Pearson r| > corr_max pruning (keep the smaller p) -> LASSO logistic with
the penalty chosen by stratified cross-validation.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.utils import ClassifierTags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

try:  # scikit-learn's private liblinear entry points; the estimator is used where they are gone
    from sklearn.svm import _liblinear
    from sklearn.svm._base import _fit_liblinear, _get_liblinear_solver_type
except ImportError:  # pragma: no cover
    _fit_liblinear = _liblinear = None

from deltarad.config import SelectionSettings
from deltarad.stats.icc import icc_2_1
from deltarad.stats.logit import LogitFit

log = logging.getLogger(__name__)

if _liblinear is not None:
    _L1_LOGISTIC = _get_liblinear_solver_type("ovr", "l1", "logistic_regression", False)
    _LIBLINEAR_SEED = int(np.random.RandomState(0).randint(np.iinfo("i").max))  # check_random_state(0)'s draw
    _UNIT_WEIGHTS = np.ones(2)

ICC_SKIPPED = "skipped: fewer than 2 training patients have a second reader"


class _Filter(TransformerMixin, BaseEstimator):
    """A selection step: keeps the columns in `features_` (set by fit, with the input's columns).

    The steps compute on a DataFrame: a DataFrame X is used as it is (its index names the patients),
    an array-like is validated by scikit-learn's `validate_data` and framed with the column names
    the step was fitted with (x0, x1, ... for arrays); `transform` answers in the input's kind.
    """

    features_: list[str]
    _needs_y = False  # the outcome-driven steps (t-test, correlation, LASSO) need y

    def _fit_frame(self, X, y=None, *, target: bool = False) -> tuple[pd.DataFrame, np.ndarray | None]:
        """(X as a DataFrame, y as an array or None); sets n_features_in_ (and feature_names_in_ for
        a DataFrame with string column names, as every scikit-learn estimator does)."""
        if target:
            array, y = validate_data(self, _checkable(X), y, reset=True, ensure_min_features=0)
        else:
            array = validate_data(self, _checkable(X), reset=True, ensure_min_features=0)
        return self._framed(X, array), y

    def _frame(self, X) -> pd.DataFrame:
        """X to transform (or score), checked against the fit's features, as a DataFrame."""
        check_is_fitted(self)
        return self._framed(X, validate_data(self, _checkable(X), reset=False, ensure_min_features=0))

    def _framed(self, X, array: np.ndarray) -> pd.DataFrame:
        if (
            isinstance(X, pd.DataFrame)
            and hasattr(self, "feature_names_in_")
            and X.columns.equals(pd.Index(self.feature_names_in_))
        ):
            return X  # the study's path: the DataFrame itself, bit for bit as before
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(array, columns=_check_feature_names_in(self), index=index)

    @staticmethod
    def _answer(X, out: pd.DataFrame):
        """`out` in the kind of the input X: a DataFrame for a DataFrame, else an array."""
        return out if isinstance(X, pd.DataFrame) else out.to_numpy()

    def transform(self, X):
        return self._answer(X, self._frame(X)[self.features_])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self._needs_y:  # y is the binary outcome (a class label), as a binary classifier's
            tags.target_tags.required = True
            tags.classifier_tags = tags.classifier_tags or ClassifierTags(multi_class=False)
        return tags

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The kept features, in input order (named by `input_features` when given)."""
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        kept = set(self.features_)
        fitted = _check_feature_names_in(self)
        return np.asarray([n for n, f in zip(names, fitted) if f in kept], dtype=object)


def _checkable(X):
    """X as validate_data can take it: a DataFrame without columns (a step before kept no feature;
    the LASSO then gives the intercept-only radscore) as the empty array it is."""
    return np.empty((len(X), 0)) if isinstance(X, pd.DataFrame) and X.shape[1] == 0 else X


class IccFilter(_Filter):
    """Keep features whose inter-reader ICC(2,1) >= icc_min on patients read by both readers.

    `reader2` holds the second reader's values (patients x features, indexed by patient_id);
    only the patients of the X being fitted that are in both tables are used, and per feature only
    those whose values are finite in both (a reader-2 delta left undefined by a zero baseline is NaN).
    Without a second reader (None) or with fewer than 2 such patients every feature passes and
    `skipped_` is True.
    """

    def __init__(self, reader2: pd.DataFrame | None = None, icc_min: float = 0.8):
        self.reader2 = reader2
        self.icc_min = icc_min

    def fit(self, X, y=None) -> IccFilter:
        if self.reader2 is not None and not isinstance(X, pd.DataFrame):
            raise ValueError(
                "IccFilter pairs X's patients with reader2's by the index: fit it on a DataFrame "
                "indexed by patient_id, as reader2 is"
            )
        X, _ = self._fit_frame(X)
        both = X.index.intersection(self.reader2.index) if self.reader2 is not None else X.index[:0]
        self.n_patients_ = len(both)
        self.skipped_ = len(both) < 2
        if self.skipped_:
            self.icc_ = pd.Series(np.nan, index=X.columns)
            self.features_ = list(X.columns)
            return self
        assert self.reader2 is not None  # two patients in both tables: there is a second reader's
        ratings = np.stack([X.loc[both].to_numpy(float), self.reader2.loc[both, X.columns].to_numpy(float)], axis=1)
        finite = np.isfinite(ratings).all(axis=1)
        icc = np.full(X.shape[1], np.nan)
        complete = finite.all(axis=0)
        icc[complete] = icc_2_1(ratings[:, :, complete])
        for j in np.flatnonzero(~complete & (finite.sum(axis=0) >= 2)):
            icc[j] = icc_2_1(ratings[finite[:, j], :, j])
        self.icc_ = pd.Series(icc, index=X.columns)
        self.features_ = list(X.columns[icc >= self.icc_min])  # NaN (no ICC) compares False
        return self


class ZScore(_Filter):
    """Standardise with the training mean and SD (n - 1, as R's scale()); constant features are dropped."""

    def fit(self, X, y=None) -> ZScore:
        X, _ = self._fit_frame(X)
        sd = X.std(axis=0, ddof=1)
        keep = sd > 0
        self.features_ = list(X.columns[keep])
        self.mean_ = X.mean(axis=0)[keep]
        self.sd_ = sd[keep]
        return self

    def transform(self, X):
        frame = self._frame(X)
        return self._answer(X, (frame[self.features_] - self.mean_) / self.sd_)


class TTestFilter(_Filter):
    """Keep features whose two-sample t-test (pCR vs non-pCR) has p < alpha.

    Welch's test by default: delta features often differ in spread between responders and
    non-responders, and Welch is R's t.test default; Student's pooled test is an option.
    """

    _needs_y = True

    def __init__(self, alpha: float = 0.05, welch: bool = True):
        self.alpha = alpha
        self.welch = welch

    def fit(self, X, y) -> TTestFilter:
        X, y = self._fit_frame(X, y, target=True)
        self.p_ = t_test_p(X, y, self.welch)
        self.features_ = list(X.columns[self.p_.to_numpy() < self.alpha])
        return self


def t_test_p(X: pd.DataFrame, y: np.ndarray, welch: bool) -> pd.Series:
    """Two-sided two-sample t-test p per feature, pCR (y == 1) vs non-pCR: Welch's or Student's.
    y's two classes may be any two labels (the larger is taken as pCR; a two-sided p is the same)."""
    y = np.asarray(y)
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(
            f"a two-sample t-test needs y of 2 classes (the outcomes); got {len(classes)} "
            f"class{'' if len(classes) == 1 else 'es'}"
        )
    x = X.to_numpy(float)
    _, p = stats.ttest_ind(x[y == classes[1]], x[y == classes[0]], axis=0, equal_var=not welch)
    return pd.Series(p, index=X.columns)


class CorrelationFilter(_Filter):
    """Among pairs with |Pearson r| > corr_max keep one: the feature with the smaller p-value.

    Greedy in order of increasing p: a feature is kept unless it correlates above the limit
    with a feature already kept. The p-values are its own t-test's on the X, y it is fitted on
    (`t_test_p`, as TTestFilter's: the same bits on the same columns).
    """

    _needs_y = True

    def __init__(self, corr_max: float = 0.9, welch: bool = True):
        self.corr_max = corr_max
        self.welch = welch

    def fit(self, X, y) -> CorrelationFilter:
        X, y = self._fit_frame(X, y, target=True)
        self.p_ = t_test_p(X, y, self.welch)
        order = sorted(X.columns, key=lambda f: (self.p_[f], f))
        if not order:
            self.features_ = []
            return self
        r = np.abs(np.corrcoef(X[order].to_numpy(float), rowvar=False).reshape(len(order), len(order)))
        kept: list[int] = []
        for i in range(len(order)):
            if all(r[i, j] <= self.corr_max for j in kept):
                kept.append(i)
        kept_names = {order[i] for i in kept}
        self.features_ = [f for f in X.columns if f in kept_names]
        return self


def inner_folds(
    y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold (train, test) row positions for an inner cross-validation.

    `groups` names the patient behind each row: in a bootstrap resample one patient can be
    several rows, and they must fall in the same fold, or the held-out fold holds copies of
    training rows and the CV error is optimistic. With repeated groups the folds are
    StratifiedGroupKFold's; without (every row its own patient) StratifiedKFold's, so a fit on
    distinct patients gets the same folds either way. `folds` is capped at the number of
    patients of the rarer outcome; fewer than 2 is an error.
    """
    y = np.asarray(y).astype(int)
    key = (y.tobytes(), None if groups is None else tuple(np.asarray(groups).tolist()), folds, seed)
    if _last_folds.get("key") != key:  # both regions of a fit ask for the same folds
        _last_folds.update(key=key, splits=_inner_folds(y, folds, seed, groups))
    return _last_folds["splits"]


_last_folds: dict = {}  # the latest inner_folds answer: (train, test) arrays, read, never changed


def _inner_folds(
    y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    repeated = groups is not None and len(pd.unique(np.asarray(groups))) < len(y)
    per_class: list[int] | np.ndarray  # patients per outcome (0, 1)
    if repeated:
        per_class = [len(pd.unique(np.asarray(groups)[y == c])) for c in (0, 1)]
    else:
        per_class = np.bincount(y, minlength=2)
    folds = min(folds, int(min(per_class)))
    if folds < 2:
        raise ValueError("LASSO cross-validation needs at least 2 patients of each outcome")
    rows = np.zeros(len(y))
    if repeated:
        return list(StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, y, groups))
    return list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, y))


class LassoSelector(ClassifierMixin, _Filter):
    """L1-penalised logistic regression, penalty chosen by stratified k-fold CV of the deviance.

    The penalty path runs like glmnet's: n_lambdas values from lambda_max (every coefficient
    zero) down to lambda_max * lambda_min_ratio, log-spaced. scikit-learn's C is 1 / (n * lambda)
    for its summed loss. rule "min" takes the CV minimum (lambda.min), "1se" the largest lambda
    within one standard error of it (lambda.1se). Features with a non-zero coefficient are kept.
    `groups` (fit) keeps the rows of one patient in one inner fold (`inner_folds`).

    As a transformer it keeps the selected features; as a classifier (y 0/1, 1 = pCR) it is the
    region's radscore: `decision_function` is the linear predictor, `predict_proba` its expit
    (through `radscore_fit`, the LogitFit the model file scores with).
    """

    _needs_y = True

    def __init__(
        self, folds: int = 10, rule: str = "min", seed: int = 0, n_lambdas: int = 40, lambda_min_ratio: float = 1e-3
    ):
        self.folds = folds
        self.rule = rule
        self.seed = seed
        self.n_lambdas = n_lambdas
        self.lambda_min_ratio = lambda_min_ratio

    # liblinear called without the estimator's per-call checks (a quarter of the path's time);
    # False runs LogisticRegression.fit, the reference the direct call is tested equal to, bit for bit.
    direct = _fit_liblinear is not None
    # the direct call goes one level further down, to liblinear's C wrapper with the arguments
    # _fit_liblinear would pass it (its label encoding, class weights and seed are the same on every
    # call: the other 45% of each call); False stops at _fit_liblinear. Tested bit-identical.
    raw = _liblinear is not None

    @staticmethod
    def _train_l1(X: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, float]:
        """liblinear's L1 logistic fit as _fit_liblinear(X, y, C, True, 100.0, None, "l1", False, 0,
        1000, 1e-6, 0) makes it: `X` C-contiguous float64, `y` 0/1 (liblinear's labels are the
        LabelEncoder's 0/1 as float64), unit class and sample weights, the seed RandomState(0) draws."""
        if y.min() == y.max():
            raise ValueError("This solver needs samples of at least 2 classes in the data")
        raw_coef, _ = _liblinear.train_wrap(
            X,
            y.astype(np.float64),
            False,
            _L1_LOGISTIC,
            1e-6,
            100.0,
            C,
            _UNIT_WEIGHTS,
            1000,
            _LIBLINEAR_SEED,
            0.1,
            np.ones(len(y)),
        )
        return raw_coef[0, :-1], 100.0 * float(raw_coef[0, -1])

    @classmethod
    def _path(cls, X: np.ndarray, y: np.ndarray, lambdas: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(coefficients, intercept) at each lambda.

        liblinear's primal L1 solver: on 130 patients x 40 features it reproduces a tight
        reference path to 2e-3 in 0.08 s, where saga (tol 1e-5) took 1.2 s and erred by 0.6.
        liblinear penalises the intercept as a feature of value intercept_scaling; at 100 that
        penalty is |intercept| / 100, negligible.
        """
        n = len(y)
        fits = []
        model = LogisticRegression(
            l1_ratio=1.0, solver="liblinear", intercept_scaling=100.0, tol=1e-6, max_iter=1000, random_state=0
        )
        X = np.ascontiguousarray(X, dtype=float)
        if cls.direct and cls.raw:
            _liblinear.set_verbosity_wrap(0)  # what _fit_liblinear sets before each fit (liblinear prints otherwise)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for lam in lambdas:
                C = 1.0 / (n * lam)
                if cls.direct and cls.raw:
                    coef, b0 = cls._train_l1(X, y, C)
                elif cls.direct:
                    coef, intercept, _ = _fit_liblinear(X, y, C, True, 100.0, None, "l1", False, 0, 1000, 1e-6, 0)
                    b0 = float(intercept[0])
                else:
                    coef, b0 = model.set_params(C=C).fit(X, y).coef_, float(model.intercept_[0])
                fits.append((coef.ravel().copy(), b0))
        return fits

    def fit(self, X, y, groups: np.ndarray | None = None) -> LassoSelector:
        X, y = self._fit_frame(X, y, target=True)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                f"Only binary classification is supported: the LASSO logistic radscore needs y of 2 classes (pCR and non-pCR); got "
                f"{len(self.classes_)} class{'' if len(self.classes_) == 1 else 'es'}"
            )
        y = (y == self.classes_[1]).astype(int)  # 0/1 as given: the same y
        x = X.to_numpy(float)
        self.features_ = []
        self.coef_ = pd.Series(dtype=float)
        self.intercept_ = float(np.log(y.mean() / (1 - y.mean())))
        if x.shape[1] == 0:
            return self
        n = len(y)
        lambda_max = np.max(np.abs(x.T @ (y - y.mean()))) / n
        self.lambdas_ = lambda_max * np.logspace(0, np.log10(self.lambda_min_ratio), self.n_lambdas)
        splits = inner_folds(y, self.folds, self.seed, groups)
        folds = len(splits)
        deviance = np.zeros((folds, self.n_lambdas))
        for k, (tr, te) in enumerate(splits):
            for j, (coef, b0) in enumerate(self._path(x[tr], y[tr], self.lambdas_)):
                p = np.clip(1 / (1 + np.exp(-(x[te] @ coef + b0))), 1e-15, 1 - 1e-15)
                deviance[k, j] = -2 * np.mean(y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p))
        mean, se = deviance.mean(axis=0), deviance.std(axis=0, ddof=1) / np.sqrt(folds)
        best = int(np.argmin(mean))
        if self.rule == "1se":
            best = int(np.flatnonzero(mean <= mean[best] + se[best])[0])  # lambdas run large -> small
        self.lambda_ = float(self.lambdas_[best])
        self.cv_deviance_ = mean
        # liblinear has no warm start: the chosen penalty alone gives the fit the whole path would end on
        coef, self.intercept_ = self._path(x, y, self.lambdas_[best : best + 1])[0]
        self.coef_ = pd.Series(coef, index=X.columns)
        self.features_ = [f for f in X.columns if coef[X.columns.get_loc(f)] != 0]
        return self

    def radscore_fit(self) -> LogitFit:
        """The fitted LASSO as the radscore's logistic model on the selected (z-scored) features."""
        check_is_fitted(self)
        return LogitFit(float(self.intercept_), {f: float(self.coef_[f]) for f in self.features_})

    def decision_function(self, X) -> np.ndarray:
        """The linear predictor (log-odds of pCR) per patient on the selected (z-scored) features."""
        return self.radscore_fit().linear_predictor(self._frame(X))

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2): P(non-pCR), P(pCR) per patient: the radscore, as the model file scores it."""
        p = self.radscore_fit().predict(self._frame(X))
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # a binary outcome: pCR or not
        return tags


@dataclass
class RegionSelection:
    """The fitted selection of one region: step counts, the final features, their training mean
    and SD, and the LASSO logistic model on them (coefficients per z-scored feature)."""

    region: str
    steps: list[dict] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    mean: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    sd: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    coefficients: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    intercept: float = 0.0
    notes: list[str] = field(default_factory=list)

    def record(self, step: str, n: int, note: str = "") -> None:
        self.steps.append({"region": self.region, "step": step, "n_features": n, "note": note})
        log.info("selection %s: %s -> %d features%s", self.region, step, n, f" ({note})" if note else "")
        if note:
            self.notes.append(f"{step}: {note}")


def selection_pipeline(settings: SelectionSettings, reader2: pd.DataFrame | None = None) -> Pipeline:
    """The study's selection as a scikit-learn Pipeline: steps icc, zscore, ttest, correlation, lasso.

    Fit it with `pipe.fit(X, y, lasso__groups=groups)`; under `cross_validate` pass
    `params={"lasso__groups": groups}` to keep a patient's bootstrap copies in one inner fold.
    """
    welch = settings.ttest == "welch"
    return Pipeline(
        [
            ("icc", IccFilter(reader2, settings.icc_min)),
            ("zscore", ZScore()),
            ("ttest", TTestFilter(settings.ttest_p, welch=welch)),
            ("correlation", CorrelationFilter(settings.corr_max, welch=welch)),
            ("lasso", LassoSelector(settings.lasso_folds, settings.lasso_rule, settings.lasso_seed)),
        ]
    )


def select_features(
    region: str,
    X: pd.DataFrame,
    y: np.ndarray,
    settings: SelectionSettings,
    reader2: pd.DataFrame | None = None,
    n_before_delta: int | None = None,
    groups: np.ndarray | None = None,
    delta_note: str = "",
) -> RegionSelection:
    """Fit `selection_pipeline` on training data `X` (patients x delta features) and outcome `y`
    and read the region's selection from its steps; `groups` (the original patient of each row of a
    bootstrap resample) groups the LASSO's folds."""
    pipe = selection_pipeline(settings, reader2).fit(X, y, lasso__groups=groups)
    icc, zscore, ttest, correlation, lasso = (
        pipe.named_steps[s] for s in ("icc", "zscore", "ttest", "correlation", "lasso")
    )
    sel = RegionSelection(region)
    if n_before_delta is not None:
        sel.record("features", n_before_delta)
    sel.record("delta", X.shape[1], delta_note)
    sel.record(
        "icc",
        len(icc.features_),
        ICC_SKIPPED if icc.skipped_ else f"ICC(2,1) on {icc.n_patients_} training patients read twice",
    )
    sel.record("ttest", len(ttest.features_), f"{settings.ttest} t-test p < {settings.ttest_p}")
    sel.record("correlation", len(correlation.features_))
    sel.features = lasso.features_
    sel.record(
        "lasso",
        len(sel.features),
        "" if sel.features else "no feature survived: the radscore is the intercept-only model",
    )
    sel.mean = zscore.mean_[sel.features]
    sel.sd = zscore.sd_[sel.features]
    sel.coefficients = lasso.coef_[sel.features]
    sel.intercept = lasso.intercept_
    return sel
