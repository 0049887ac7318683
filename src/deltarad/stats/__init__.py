"""Statistics of the study, as plain arrays in and tidy tables out, checked against R.

roc (AUC, DeLong CI and test, Youden cut-off), metrics (confusion metrics at a cut-off),
reclassification (IDI, NRI), dca (decision curves), calibration (curves, slope/intercept,
Hosmer-Lemeshow, Brier), exact (Fisher's exact test for r x c tables, chi-square), logistic
(Wald logistic regression with a separation check), bootstrap (percentile CIs), pooling
(Rubin's rules), agreement (Dice, HD95, ICC per feature class), volume (Spearman of a feature's
change with the tumour's) and tables (Tables 1-3 as tidy tables).
"""
