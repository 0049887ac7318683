# Harrell's optimism bootstrap of a fixed logistic model by rms::validate, with its Monte Carlo
# error, on pROC's aSAH data (../shared/data/stats/aSAH.csv). Run once from the repository root
# (`make references`); tests/validation/test_optimism.py reads the JSON and never needs R.
suppressPackageStartupMessages({library(rms); library(jsonlite)})
stats_data <- Sys.getenv("DELTARAD_STATS_DATA", "../shared/data/stats")
asah <- read.csv(file.path(stats_data, "aSAH.csv"))
formula <- poor ~ age + wfns + s100b + ndka
B <- 4000
fit <- lrm(formula, data = asah, x = TRUE, y = TRUE)
set.seed(20240607)
v <- rms::validate(fit, method = "boot", B = B)

# rms::validate keeps no resample's numbers, so its Monte Carlo error comes from the same bootstrap
# written out: refit on a resample, measure on it and on the original data (Dxy of the linear
# predictor, calibration slope and Brier score, as validate.lrm measures them).
measure <- function(lp, y) {
  c(Dxy = unname(somers2(lp, y)["Dxy"]), Slope = unname(coef(lrm.fit(lp, y))[2]),
    B = mean((plogis(lp) - y)^2))
}
X <- fit$x
y <- asah$poor
optimism <- t(replicate(B, {
  i <- sample.int(nrow(X), replace = TRUE)
  f <- lrm.fit(X[i, ], y[i])
  lp_train <- f$linear.predictors
  lp_test <- drop(cbind(1, X) %*% coef(f))
  measure(lp_train, y[i]) - measure(lp_test, y)
}))

rows <- c("Dxy", "Slope", "B")
out <- list(
  software = list(R = R.version.string, rms = as.character(packageVersion("rms"))),
  data = "aSAH.csv", model = deparse(formula), n = nrow(asah), events = sum(asah$poor),
  resamples = B,
  validate = lapply(setNames(rows, rows), function(r) list(
    apparent = v[r, "index.orig"], optimism = v[r, "optimism"], corrected = v[r, "index.corrected"],
    resamples = v[r, "n"])),
  loop = lapply(setNames(rows, rows), function(r) list(
    optimism = mean(optimism[, r]), sd = sd(optimism[, r]), resamples = B)))
write_json(out, "tests/references/optimism_asah.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
