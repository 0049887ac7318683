# Multiple imputation by chained equations (mice) and Rubin's rules (mice::pool) on pROC's aSAH
# data (../shared/data/stats/aSAH.csv) with blanks made here at random (MAR: s100b more often blank
# in older patients, ndka in higher WFNS grades). Run once from the repository root (`make
# references`, about 10 minutes); tests/modeling/test_mice.py reads the JSON (the blank rows and
# R's pooled estimates) and never needs R.
#
# Two predictive-mean-matching methods, both type-1 matching with 5 donors (mice's matchindex):
# - "pmm", mice's default: the regression parameters of each draw from their posterior (.norm.draw);
# - "pmm.boot", deltarad's (deltarad.modeling.mice): from an OLS fit on a bootstrap sample of the
#   observed patients, as mice's *.boot methods draw them; written here on mice's own pieces.
# They agree in expectation only approximately: with this skewed s100b the pooled multivariate
# s100b coefficient is about 2.40 by "pmm" and 2.7 by "pmm.boot". deltarad is held to the second.
suppressPackageStartupMessages({library(mice); library(jsonlite)})
stats_data <- Sys.getenv("DELTARAD_STATS_DATA", "../shared/data/stats")
asah <- read.csv(file.path(stats_data, "aSAH.csv"))
data <- asah[, c("age", "wfns", "s100b", "ndka", "poor")]
set.seed(2022)
blank_s100b <- runif(nrow(data)) < plogis(-1.5 + 0.05 * (data$age - 50))
blank_ndka <- runif(nrow(data)) < plogis(-1.8 + 0.4 * (data$wfns - 1))
data$s100b[blank_s100b] <- NA
data$ndka[blank_ndka] <- NA

mice.impute.pmm.boot <- function(y, ry, x, wy = NULL, donors = 5L, ...) {
  if (is.null(wy)) wy <- !ry
  x <- cbind(1, as.matrix(x))
  xo <- x[ry, , drop = FALSE]
  yo <- y[ry]
  beta_hat <- qr.coef(qr(xo), yo)
  i <- sample.int(sum(ry), replace = TRUE)
  beta_boot <- qr.coef(qr(xo[i, , drop = FALSE]), yo[i])
  yo[matchindex(drop(xo %*% beta_hat), drop(x[wy, , drop = FALSE] %*% beta_boot), donors)]
}

m <- 1000
iterations <- 10
variables <- c("age", "wfns", "s100b", "ndka")

pooled <- function(imp, formula) {
  fits <- with(imp, glm(as.formula(formula), family = binomial))
  q <- pool(fits)$pooled
  p <- summary(pool(fits))
  u <- sapply(fits$analyses, function(f) diag(vcov(f)))  # terms x imputations
  setNames(lapply(seq_len(nrow(q)), function(i) list(
    estimate = q$estimate[i], within = q$ubar[i], between = q$b[i], total = q$t[i],
    within_sd = sd(u[i, ]), df = q$df[i], fmi = q$fmi[i], se = p$std.error[i], p_value = p$p.value[i])),
    as.character(q$term))
}
by_method <- list()
for (name in c("pmm.boot", "pmm")) {
  method <- c(age = "", wfns = "", s100b = name, ndka = name, poor = "")  # every other column predicts
  imp <- mice(data, m = m, maxit = iterations, method = method, seed = 7, printFlag = FALSE)
  by_method[[name]] <- c(setNames(lapply(variables, function(v) pooled(imp, paste("poor ~", v))), variables),
                         list(multivariate = pooled(imp, "poor ~ age + wfns + s100b + ndka")))
}

write_json(list(
  software = list(R = R.version.string, mice = as.character(packageVersion("mice"))),
  data = "aSAH.csv", imputations = m, iterations = iterations,
  blank_rows = list(s100b = which(blank_s100b) - 1L, ndka = which(blank_ndka) - 1L),  # 0-based
  pooled = by_method), "tests/references/mice_asah.json", digits = NA, auto_unbox = TRUE, pretty = TRUE)
