# Reference values for IDI/NRI, calibration and decision curves, made by R and its packages
# (Hmisc::improveProb, rms::val.prob, stats::lowess, stats::glm, the net-benefit formula), on
# real data from ../shared/data/stats. Run once from the repository root (`make references`);
# the tests read the files written here and never need R.
suppressPackageStartupMessages({library(Hmisc); library(rms); library(jsonlite)})
stats_data <- Sys.getenv("DELTARAD_STATS_DATA", "../shared/data/stats")
out <- "tests/references"
digits <- 17

# --- IDI and continuous NRI: two nested logistic models fitted by glm, compared by improveProb ---
cancer <- read.csv(file.path(stats_data, "df_cancer_dx.csv"))
asah <- read.csv(file.path(stats_data, "aSAH.csv"))
cases <- list(
  cancer = list(data = cancer, y = "cancer", old = cancer ~ age + famhistory, new = cancer ~ age + famhistory + marker),
  asah = list(data = asah, y = "poor", old = poor ~ age + wfns, new = poor ~ age + wfns + s100b)
)
reclass <- list()
for (name in names(cases)) {
  k <- cases[[name]]
  p_old <- fitted(glm(k$old, family = binomial, data = k$data))
  p_new <- fitted(glm(k$new, family = binomial, data = k$data))
  y <- k$data[[k$y]]
  write.csv(data.frame(y = y, p_old = p_old, p_new = p_new),
            file.path(out, sprintf("reclassification_%s.csv", name)), row.names = FALSE)
  r <- improveProb(p_old, p_new, y)
  reclass[[name]] <- list(old = deparse(k$old), new = deparse(k$new),
    idi = r$idi, se_idi = r$se.idi, z_idi = r$z.idi, p_idi = 2 * pnorm(-abs(r$z.idi)),
    nri = r$nri, se_nri = r$se.nri, z_nri = r$z.nri, p_nri = 2 * pnorm(-abs(r$z.nri)),
    nri_events = r$nri.ev, nri_nonevents = r$nri.ne)
}

# --- Calibration by rms::val.prob: a model fitted on the odd patient ids, validated on the even ---
development <- cancer[cancer$patientid %% 2 == 1, ]
validation <- cancer[cancer$patientid %% 2 == 0, ]
fit <- glm(cancer ~ age + famhistory + marker, family = binomial, data = development)
p <- unname(predict(fit, newdata = validation, type = "response"))
y <- validation$cancer
write.csv(data.frame(patientid = validation$patientid, y = y, p = p),
          file.path(out, "calibration_cancer.csv"), row.names = FALSE)
v <- val.prob(p, y, pl = FALSE)
citl <- coef(glm(y ~ 1, offset = qlogis(p), family = binomial))[[1]]
smooth <- lowess(p, y, iter = 0)  # as val.prob draws and measures it
points <- seq(0.05, 0.60, by = 0.05)
calibration <- list(
  data = "df_cancer_dx.csv: glm(cancer ~ age + famhistory + marker) on odd patientid, validated on even",
  brier = v[["Brier"]], slope = v[["Slope"]], recalibration_intercept = v[["Intercept"]],
  calibration_in_the_large = citl, emax = v[["Emax"]], e90 = v[["E90"]], eavg = v[["Eavg"]],
  c_index = v[["C (ROC)"]],
  smooth_points = points, smooth_at_points = approx(smooth, xout = points, ties = mean)$y,
  smooth_x = smooth$x, smooth_y = smooth$y)

# --- Decision curve of a continuous predicted risk (the tutorial's cancerpredmarker, all 750):
# NB = TP/n - FP/n * pt / (1 - pt), positive when p >= pt ---
p <- cancer$cancerpredmarker
y <- cancer$cancer
thresholds <- seq(0, 0.99, by = 0.01)
n <- length(y)
nb <- sapply(thresholds, function(pt) {
  positive <- p >= pt
  sum(positive & y == 1) / n - sum(positive & y == 0) / n * pt / (1 - pt)
})
write.csv(data.frame(threshold = thresholds, net_benefit = nb),
          file.path(out, "decision_curve_cancerpredmarker.csv"), row.names = FALSE)

write_json(list(software = list(R = R.version.string, Hmisc = as.character(packageVersion("Hmisc")),
                                rms = as.character(packageVersion("rms"))),
                reclassification = reclass, calibration = calibration),
           file.path(out, "discrimination_calibration.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
