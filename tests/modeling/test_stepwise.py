"""Stepwise AIC against MASS::stepAIC's saved example output (birthwt) and statsmodels' AIC."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from deltarad.encoding import Encoding, encodings_for
from deltarad.modeling.stepwise import Term, all_pairwise, main_effects, step_aic
from deltarad.stats.logit import fit_logit

VARS = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui", "ftv"]


@pytest.fixture(scope="module")
def birthwt(shared_data):
    df = pd.read_csv(shared_data / "stats" / "birthwt_bwt_MASS_example.csv")
    design, terms = main_effects(df, encodings_for(df, VARS, ["race", "ftv"]))
    return df, design, terms


def _path(result):
    return [(p["step"], p["term"], round(p["deviance"], 4), round(p["aic"], 4), p["df_resid"]) for p in result.path]


def test_backward_without_scope_matches_mass(birthwt):
    df, design, terms = birthwt
    result = step_aic(design, df["low"].to_numpy(), terms)
    assert _path(result) == [
        ("start", "", 195.4755, 217.4755, 178),
        ("-", "ftv", 196.8337, 214.8337, 180),
        ("-", "age", 197.8516, 213.8516, 181),
    ]


def test_both_directions_with_interaction_scope_matches_mass(birthwt):
    df, design, terms = birthwt
    design, pairs = all_pairwise(design, terms)
    extra = []
    for v in ("sage2", "slwt2"):
        design = pd.concat([design, Encoding(v).encode(df[v])], axis=1)
        extra.append(Term(v, frozenset([v]), (v,)))
    result = step_aic(design, df["low"].to_numpy(), terms, scope=terms + pairs + extra)
    assert _path(result) == [
        ("start", "", 195.4755, 217.4755, 178),
        ("+", "age:ftv", 183.0006, 209.0006, 176),
        ("+", "smoke:ui", 179.9438, 207.9438, 175),
        ("-", "race", 183.0734, 207.0734, 177),
    ]


def test_aic_is_deviance_plus_2k_as_statsmodels(birthwt):
    df, design, terms = birthwt
    fit = fit_logit(design, df["low"].to_numpy())
    ref = sm.GLM(
        df["low"].to_numpy(float), sm.add_constant(design.to_numpy(float)), family=sm.families.Binomial()
    ).fit()
    assert fit.aic == pytest.approx(ref.aic, rel=1e-10)
    assert fit.k == design.shape[1] + 1


def test_marginality_keeps_main_effect_while_interaction_is_in(birthwt):
    df, design, terms = birthwt
    design, pairs = all_pairwise(design, terms)
    age_ftv = next(t for t in pairs if t.name == "age:ftv")
    result = step_aic(design, df["low"].to_numpy(), terms + [age_ftv], scope=terms + [age_ftv], direction="backward")
    names = [t.name for t in result.terms]
    assert "age:ftv" not in names or ("age" in names and "ftv" in names)


def test_two_by_two_beta_is_log_odds_ratio():
    # closed form: a 2x2 table's logistic beta is log(ad/bc), SE sqrt(1/a + 1/b + 1/c + 1/d)
    a, b, c, d = 20, 10, 8, 25  # exposed: 20 events / 10 non; unexposed: 8 / 25
    x = np.r_[np.ones(a + b), np.zeros(c + d)]
    y = np.r_[np.ones(a), np.zeros(b), np.ones(c), np.zeros(d)]
    fit = fit_logit(pd.DataFrame({"x": x}), y)
    assert fit.coefficients["x"] == pytest.approx(np.log(a * d / (b * c)), rel=1e-8)
