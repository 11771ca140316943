# Reference values for peiling's estimation engine (tests/it/r_reference.rs): R's `api` data
# (apisrs, apistrat, apiclus1) and a synthetic Gezondheidsmonitor-like wave, under every design
# feature peiling supports, every estimator, every interval method and every lonely-PSU policy.
#
# Run from the repository root:   Rscript sample-data/reference/api/api.R
# Made with R 4.2.2 and survey 4.5 (CRAN's current release; built from its source with
# `R CMD INSTALL -l /opt/rlib survey`; this script puts /opt/rlib first on the library path).
# survey 4.5 is needed for svyciprop(method = "wilson") and for the lonely-PSU handling of its
# default C++ variance code (options(survey.use_rcpp = TRUE)).
#
# Writes, next to this script:
#   apisrs.csv, apistrat.csv, apiclus1.csv   the data peiling reads (a subset of the columns,
#                                            and two derived ones: grades, fpc_fraction)
#   reference.csv                            one row per design x indicator x segment
#   meta.csv                                 R and survey versions
#   margins-<design>.csv                     population margins of each calibrated design
#                                            (variable,category,target; a crossing is `a*b`
#                                            with categories `x|y`; targets are counts, or
#                                            shares summing to 1 per variable: strat-rake-shares)
#   weights.csv                              design,id,weight: the calibrated (and trimmed)
#                                            weights of every calibrated design, per respondent
# The pipelines <design>.toml next to this script are written by hand; a calibrated design's
# TOML has a [weighting] section pointing at its margins file.
# The Gezondheidsmonitor wave is sample-data/reference/api/gezondheidsmonitor-2022.csv, made by
# `peiling generate --kind gezondheidsmonitor --wave 2022 --rows 6000 --seed 11`.
#
# Conventions that peiling documents and this script follows:
# * a domain is subset(design, segment & population & value not missing); R drops the other
#   rows but keeps the full design's PSU counts, which peiling reproduces by padding;
# * df is degf() of that subset design; means, totals and ratios get est +/- qt(0.975, df) * SE;
# * quantiles: svyquantile(qrule = "math", interval.type = "mean"), SE = width / (2 t);
# * the design effect is R's deff = "replace" (svymean, svytotal, svyratio and the proportion's
#   svymean): the design's variance over that of a simple random sample of the same n drawn
#   WITH replacement, i.e. without the factor (1 - n / N-hat) that deff = TRUE puts in the SRS
#   variance. svymean: svyvar(y) / n; svytotal: svyvar(y) * (sum w)^2 / n; svyratio (its
#   survey.design2 method): the deff of svytotal(r, deff = "replace") of its linearisation
#   r = (y - R x) / X-hat, i.e. V(R-hat) / (svyvar(r) * (sum w)^2 / n); svyvar has the n - 1
#   divisor and n counts the rows of nonzero weight. A constant value has deff 0/0: none (NA).
#   (deff = TRUE multiplies the SRS variance by 1 - n / N-hat, which is 0 or negative where the
#   weights sum to n or less, as the Dementiemonitor's do: no deff, or a meaningless one.)
# * for a proportion of exactly 0 or 1, where R gives no interval (logit, wilson,
#   korn-graubard), peiling gives the interval of the NCHS Data Presentation Standards for
#   Proportions (Parker et al. 2017, Vital Health Stat 2(175)): the Clopper-Pearson
#   (Korn-Graubard) interval at the effective sample size, which is n when p is 0 or 1, adjusted
#   for the design's degrees of freedom, n* = min(n, n * (qt(0.975, n - 1) / qt(0.975, df))^2):
#   [0, qbeta(0.975, 1, n*)] for p = 0 and [qbeta(0.025, n*, 1), 1] for p = 1, flagged
#   "ci_korn_graubard" with ci_method "korn-graubard"; computed here by hand with qbeta(). Where
#   that is undefined (df <= 0 or n <= 1) there is no interval, as for any other estimate with
#   df <= 0: ci NA, flag "no_interval", ci_method the indicator's own;
# * a proportion with an SE of exactly 0 (and df > 0) has the interval [p, p] for every method,
#   the limit of each as SE -> 0 (R gives wilson NaN and korn-graubard [0.5, 0.5], n* = Inf).
#   It happens for a calibration variable over the whole sample (below) and for a value
#   constant within the strata of a stratified design (strat-const).
#
# Designs without a weight column (clus1-fpc-noweight, strat-fpc-noweight,
# strat-fraction-noweight): svydesign() with fpc and no weights derives the sampling weights from
# the fpc: N_h / n_h for population sizes N_h (n_h the sampled PSUs in stratum h), and for
# sampling fractions f_h <= 1 (column fpc_fraction) N_h = n_h / f_h, so 1 / f_h (up to rounding).
# The derived weights' sums are printed when this runs.
#
# Calibrated designs (the ones with a calibration step in `designs`): svydesign(), then
# calibrate() or postStratify() on the whole sample, then optionally trimWeights(); every
# domain is a subset of the calibrated design. So:
# * peiling's "rake" is calibrate(calfun = "raking") with its exact (Newton) solution and its
#   variance, the residuals of the weighted regression on the margin dummies (survey's rake()
#   gives the same weights but approximates that variance with 10 backfitting sweeps);
#   "linear" is calibrate() with the default linear calfun and no bounds (regcalibrate);
#   "poststratify" is postStratify();
# * trimming is trimWeights(lower = min * mean(w), upper = max * mean(w), strict = FALSE): one
#   pass that clips the weights and spreads the clipped amount equally (additively) over the
#   untrimmed weights; the variance keeps the calibration's regression (survey keeps the
#   design's postStrata as they were before trimming);
# * subset() of a calibrated design keeps every row and gives the rows outside the domain
#   weight 0, so the domain's n is counted here from the rows in the domain, values outside it
#   are set to 0 (they are multiplied by weight 0; an NA would spoil the sums), and the
#   all-0/all-1 and constant-value checks look only at the rows in the domain;
# * svyciprop(method = "beta") takes n from nrow(design) in t(n - 1), which for such a subset is
#   the whole sample: for calibrated designs the korn-graubard interval is computed here with
#   svyciprop's own formula and n = the rows in the domain, as R gives for the uncalibrated
#   designs, whose subsets drop the other rows (and as peiling does);
# * a proportion of a calibration variable over the whole sample has an SE of exactly 0, so its
#   intervals are [p, p] for every method (see above);
# * margins given as shares (strat-rake-shares): peiling reads a share as a share of the
#   design-weighted total of the rows its variable's categories cover, so the count R calibrates
#   to is share x sum(design weights of the covered rows), a constant computed here from the
#   sample. R treats that count as a fixed population total: the variance has no term for the
#   sampling error of the estimated total N-hat it is a share of (nor has peiling's).

.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages(library(survey))
stopifnot(packageVersion("survey") >= "4.5")
here <- "sample-data/reference/api"

data(api)
# Two derived columns:
# * grades: the grade levels of the school's type, E (K-5) 6, M (6-8) 3, H (9-12) 4 -- a value
#   constant within apistrat's strata (stype), for strat-const;
# * fpc_fraction: the first stage's sampling fraction n_h / fpc, n_h the PSUs (dnum for apiclus1,
#   schools otherwise) sampled in the school's stratum (stype for apistrat, none otherwise), for
#   strat-fraction-noweight. Written with write.csv's 15 digits; R reads it back like peiling.
derive <- function(frame, psu, stratum) {
  frame$grades <- c(E = 6, M = 3, H = 4)[as.character(frame$stype)]
  first <- !duplicated(paste(stratum, psu))
  frame$fpc_fraction <- ave(as.numeric(first), stratum, FUN = sum) / frame$fpc
  frame
}
apisrs <- derive(apisrs, apisrs$cds, 1)
apistrat <- derive(apistrat, apistrat$cds, apistrat$stype)
apiclus1 <- derive(apiclus1, apiclus1$dnum, 1)
columns <- c("cds", "stype", "dnum", "cname", "pw", "fpc", "api00", "api99", "enroll", "meals",
             "ell", "sch.wide", "awards", "grades", "fpc_fraction")
export <- function(frame, name) {
  out <- frame[, columns]
  names(out) <- sub(".", "_", names(out), fixed = TRUE)
  for (f in c("stype", "sch_wide", "awards")) out[[f]] <- as.character(out[[f]])
  write.csv(out, file.path(here, paste0(name, ".csv")), row.names = FALSE, na = "")
  read.csv(file.path(here, paste0(name, ".csv")), colClasses = c(cds = "character"))
}
data_sets <- list(apisrs = export(apisrs, "apisrs"), apistrat = export(apistrat, "apistrat"),
                  apiclus1 = export(apiclus1, "apiclus1"))

gm <- read.csv(file.path(here, "gezondheidsmonitor-2022.csv"), sep = ";", dec = ",",
               colClasses = c(resp_id = "character", gemeente = "character"))

# --- published check: survey's own raking and post-stratification example on apiclus1 ------
# (printed only; known values: rake 641.23 (SE 23.704), postStratify 642.31 (SE 23.921))
local({
  dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
  pop.types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
  pop.schwide <- data.frame(sch.wide = c("No", "Yes"), Freq = c(1072, 5122))
  show <- function(label, m) cat(sprintf("%-40s api00 mean %.6f  SE %.6f\n", label, coef(m)[[1]], SE(m)[[1]]))
  show("rake(dclus1, stype + sch.wide):", svymean(~api00, rake(dclus1, list(~stype, ~sch.wide),
                                                                list(pop.types, pop.schwide))))
  show("postStratify(dclus1, stype):", svymean(~api00, postStratify(dclus1, ~stype, pop.types)))
  show("calibrate(raking, stype + sch.wide):", svymean(~api00, calibrate(
    dclus1, ~stype + sch.wide, population = c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018,
                                              sch.wideYes = 5122),
    calfun = "raking", epsilon = 1e-13, maxit = 500)))
})

# --- calibration: margins and the step applied right after svydesign() --------------------
margin <- function(variable, category, target)
  data.frame(variable = variable, category = as.character(category), target = unname(target))
api_stype <- margin("stype", c("E", "H", "M"), c(4421, 755, 1018))
api_sch_wide <- margin("sch_wide", c("No", "Yes"), c(1072, 5122))
api_awards <- margin("awards", c("No", "Yes"), c(2400, 3794))
clus1_population <- c(`(Intercept)` = 6194, stypeH = 755, stypeM = 1018, sch_wideYes = 5122)
strat_population <- c(`(Intercept)` = 6194, awardsYes = 3794, sch_wideYes = 5122)
strat_margins <- rbind(api_awards, api_sch_wide)
# Shares for strat-rake-shares, away from the sample's design-weighted shares (awards Yes 0.639,
# sch_wide Yes 0.828).
strat_share_margins <- rbind(margin("awards", c("No", "Yes"), c(0.4, 0.6)),
                             margin("sch_wide", c("No", "Yes"), c(0.25, 0.75)))
trim_bounds <- c(min = 0.6, max = 1.4)  # relative to the mean calibrated weight

# Gezondheidsmonitor margins, made up: the design-weighted sample totals per category, each
# multiplied by 1 + 0.1 sin(1, 2, ...), each variable rescaled to the perturbed provinces' sum.
# ggd_regio is nested in provincie, so its targets cannot be made up independently (raking
# would have no solution): each province's target is split over its regions in proportion to
# their perturbed totals, which keeps the province margin consistent (and redundant).
gm_margins <- local({
  perturb <- function(x) x * (1 + 0.1 * sin(seq_along(x)))
  provinces <- sort(unique(gm$provincie))
  province <- perturb(tapply(gm$gewicht, factor(gm$provincie, levels = provinces), sum))
  total <- sum(province)
  cells <- unique(gm[, c("geslacht", "leeftijd_cat")])
  cells <- cells[order(cells$geslacht, cells$leeftijd_cat), ]
  cell_keys <- paste(cells$geslacht, cells$leeftijd_cat, sep = "|")
  sex_age <- perturb(tapply(gm$gewicht, factor(paste(gm$geslacht, gm$leeftijd_cat, sep = "|"),
                                               levels = cell_keys), sum))
  sex_age <- sex_age * (total / sum(sex_age))
  regions <- sort(unique(gm$ggd_regio))
  region <- perturb(tapply(gm$gewicht, factor(gm$ggd_regio, levels = regions), sum))
  region_province <- as.character(gm$provincie[match(regions, gm$ggd_regio)])
  stopifnot(all(tapply(gm$provincie, gm$ggd_regio, function(p) length(unique(p))) == 1))
  region <- province[region_province] * (region / ave(region, region_province, FUN = sum))
  rbind(margin("provincie", provinces, province),
        margin("geslacht*leeftijd_cat", cell_keys, sex_age),
        margin("ggd_regio", regions, region))
})

# Raking of the wave to gm_margins: one factor per margin variable, dummies for all levels of
# the first and treatment contrasts for the others; the province dummies are redundant with
# the region dummies, which calibrate() handles (grake() solves with MASS::ginv).
gm_rake <- function(design) {
  columns <- list(cal_provincie = "provincie", cal_sexe_leeftijd = "geslacht*leeftijd_cat",
                  cal_regio = "ggd_regio")
  v <- design$variables
  v$cal_provincie <- v$provincie
  v$cal_sexe_leeftijd <- paste(v$geslacht, v$leeftijd_cat, sep = "|")
  v$cal_regio <- v$ggd_regio
  for (f in names(columns)) {
    m <- gm_margins[gm_margins$variable == columns[[f]], ]
    v[[f]] <- factor(as.character(v[[f]]), levels = m$category)
    stopifnot(!anyNA(v[[f]]))
  }
  design$variables <- v
  formula <- ~0 + cal_provincie + cal_sexe_leeftijd + cal_regio
  dummies <- colnames(model.matrix(formula, v))
  targets <- setNames(gm_margins$target, paste0(names(columns)[match(gm_margins$variable, columns)],
                                                gm_margins$category))
  stopifnot(all(dummies %in% names(targets)))
  calibrate(design, formula, population = targets[dummies], calfun = "raking", epsilon = 1e-13,
            maxit = 500)
}

# Margins in shares as counts, as peiling reads them: each share times the design-weighted
# total of the rows its variable's categories cover (w: the design weights).
share_counts <- function(d, margins, w) {
  before <- achieved_margins(d, margins, w)
  margins$target * ave(before, margins$variable, FUN = sum)
}

calibrations <- list(
  "clus1-poststratify" = list(
    method = "poststratify", margins = api_stype,
    step = function(design) postStratify(design, ~stype, data.frame(
      stype = api_stype$category, Freq = api_stype$target))),
  "clus1-rake" = list(
    method = "rake", margins = rbind(api_stype, api_sch_wide),
    step = function(design) calibrate(design, ~stype + sch_wide, population = clus1_population,
                                      calfun = "raking", epsilon = 1e-13, maxit = 500)),
  "clus1-linear" = list(
    method = "linear", margins = rbind(api_stype, api_sch_wide),
    step = function(design) calibrate(design, ~stype + sch_wide, population = clus1_population)),
  "strat-linear-trim" = list(
    method = "linear", margins = strat_margins, trim = trim_bounds,
    step = function(design) {
      design <- calibrate(design, ~awards + sch_wide, population = strat_population)
      w <- weights(design)
      residual <- (achieved_margins(design$variables, strat_margins, w) - strat_margins$target) /
        strat_margins$target
      cat(sprintf("strat-linear-trim: before trimming max |achieved - target| / target = %.3g\n", max(abs(residual))))
      lower <- trim_bounds[["min"]] * mean(w)
      upper <- trim_bounds[["max"]] * mean(w)
      cat(sprintf("strat-linear-trim: trimWeights(lower = %.6f, upper = %.6f): %d weights below, %d above\n",
                  lower, upper, sum(w < lower), sum(w > upper)))
      trimmed <- trimWeights(design, lower = lower, upper = upper)
      tw <- weights(trimmed)
      cat(sprintf("strat-linear-trim: after trimming %d below, %d above, %d changed; sum %.10f -> %.10f\n",
                  sum(tw < lower), sum(tw > upper), sum(tw != w), sum(w), sum(tw)))
      trimmed
    }),
  "strat-rake-shares" = list(
    method = "rake", margins = strat_share_margins, shares = TRUE,
    step = function(design) {
      # awards and sch_wide cover every row, so both shares are of N-hat = sum(pw); the counts
      # are fixed population totals to calibrate() (no variance from N-hat).
      w <- weights(design)
      counts <- share_counts(design$variables, strat_share_margins, w)
      key <- paste(strat_share_margins$variable, strat_share_margins$category)
      stopifnot(!anyNA(design$variables$awards), !anyNA(design$variables$sch_wide))
      population <- c(`(Intercept)` = sum(w), awardsYes = counts[key == "awards Yes"],
                      sch_wideYes = counts[key == "sch_wide Yes"])
      cat(sprintf("strat-rake-shares: N-hat = sum(pw) = %.10f; counts %s\n", sum(w),
                  paste(sprintf("%s = %.10f", key, counts), collapse = ", ")))
      calibrate(design, ~awards + sch_wide, population = population, calfun = "raking",
                epsilon = 1e-13, maxit = 500)
    }),
  "gm-rake" = list(method = "rake", margins = gm_margins, step = gm_rake))

# --- designs: name, data, svydesign arguments, lonely-PSU options, and optionally
#     calibration = (a step above), weighted = FALSE (no weight column: svydesign() derives the
#     weights from the fpc), indicators = and segmentations = (other than the data's own) -----
designs <- list(
  list("srs", "apisrs", ~1, NULL, ~fpc, "fail", FALSE),
  list("srs-nofpc", "apisrs", ~1, NULL, NULL, "fail", FALSE),
  list("strat", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE),
  list("strat-nofpc", "apistrat", ~1, ~stype, NULL, "fail", FALSE),
  list("clus1", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE),
  list("clus1-nofpc", "apiclus1", ~dnum, NULL, NULL, "fail", FALSE),
  list("county-remove", "apistrat", ~dnum, ~cname, NULL, "remove", FALSE),
  list("county-certainty", "apistrat", ~dnum, ~cname, NULL, "certainty", FALSE),
  list("county-adjust", "apistrat", ~dnum, ~cname, NULL, "adjust", FALSE),
  list("county-adjust-domain", "apistrat", ~dnum, ~cname, NULL, "adjust", TRUE),
  list("county-average", "apistrat", ~dnum, ~cname, NULL, "average", FALSE),
  list("county-average-domain", "apistrat", ~dnum, ~cname, NULL, "average", TRUE),
  list("gm-remove", "gm", ~1, ~gemeente, NULL, "remove", FALSE),
  list("gm-adjust-domain", "gm", ~1, ~gemeente, NULL, "adjust", TRUE),
  list("gm-average-domain", "gm", ~1, ~gemeente, NULL, "average", TRUE),
  list("clus1-poststratify", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE,
       calibration = calibrations[["clus1-poststratify"]]),
  list("clus1-rake", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE,
       calibration = calibrations[["clus1-rake"]]),
  list("clus1-linear", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE,
       calibration = calibrations[["clus1-linear"]]),
  list("strat-linear-trim", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE,
       calibration = calibrations[["strat-linear-trim"]]),
  list("gm-rake", "gm", ~1, ~gemeente, NULL, "remove", FALSE,
       calibration = calibrations[["gm-rake"]]),
  # Values constant within strata (equal weights within strata, fpc): R's variance of the whole
  # sample's mean, total, proportion and quantile is exactly 0.
  list("strat-const", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE,
       indicators = function(d) strat_const_indicators(d),
       segmentations = list("total", "stype", "awards")),
  # No weight column: weights from the fpc (population sizes, or sampling fractions).
  list("clus1-fpc-noweight", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE, weighted = FALSE),
  list("strat-fpc-noweight", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE, weighted = FALSE),
  list("strat-fraction-noweight", "apistrat", ~1, ~stype, ~fpc_fraction, "fail", FALSE,
       weighted = FALSE),
  # Raked to margins in shares, from design weights pw (not 1).
  list("strat-rake-shares", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE,
       calibration = calibrations[["strat-rake-shares"]]))

# --- indicators: kind, population, value (numerator), denominator, probability, ci ---------
api_indicators <- function(d) list(
  api00_mean = list("mean", TRUE, d$api00),
  enroll_total = list("total", TRUE, d$enroll),
  ell_mean_elementary = list("mean", d$stype == "E", d$ell),
  meals_total_awarded = list("total", d$awards == "Yes", d$meals),
  sch_wide_logit = list("proportion", TRUE, d$sch_wide == "Yes", ci = "logit"),
  sch_wide_wilson = list("proportion", TRUE, d$sch_wide == "Yes", ci = "wilson"),
  sch_wide_korn_graubard = list("proportion", TRUE, d$sch_wide == "Yes", ci = "korn-graubard"),
  sch_wide_wald = list("proportion", TRUE, d$sch_wide == "Yes", ci = "wald"),
  api_high_logit = list("proportion", TRUE, d$api00 >= 800, ci = "logit"),
  api_high_wilson = list("proportion", TRUE, d$api00 >= 800, ci = "wilson"),
  api_high_korn_graubard = list("proportion", TRUE, d$api00 >= 800, ci = "korn-graubard"),
  api_ratio = list("ratio", TRUE, d$api00, denominator = d$api99),
  api00_median = list("quantile", TRUE, d$api00, p = 0.5),
  enroll_p90 = list("quantile", TRUE, d$enroll, p = 0.9))
gm_indicators <- function(d) {
  carer <- d$mantelzorger == 1
  list(
    mantelzorger_logit = list("proportion", TRUE, d$mantelzorger == 1, ci = "logit"),
    mantelzorger_wilson = list("proportion", TRUE, d$mantelzorger == 1, ci = "wilson"),
    mantelzorger_korn_graubard = list("proportion", TRUE, d$mantelzorger == 1, ci = "korn-graubard"),
    overbelast = list("proportion", carer & !is.na(d$belasting), d$belasting >= 4, ci = "logit"),
    uren_mean = list("mean", carer, d$uren_pw),
    mantelzorgers_total = list("total", TRUE, d$mantelzorger),
    uren_median = list("quantile", carer, d$uren_pw, p = 0.5),
    respijt_per_uur = list("ratio", carer, d$respijt, denominator = d$uren_pw))
}
# strat-const: values constant within apistrat's strata (stype); grades is derived above.
strat_const_indicators <- function(d) list(
  elementary_logit = list("proportion", TRUE, d$stype == "E", ci = "logit"),
  elementary_wilson = list("proportion", TRUE, d$stype == "E", ci = "wilson"),
  elementary_korn_graubard = list("proportion", TRUE, d$stype == "E", ci = "korn-graubard"),
  elementary_wald = list("proportion", TRUE, d$stype == "E", ci = "wald"),
  grades_mean = list("mean", TRUE, d$grades),
  grades_total = list("total", TRUE, d$grades),
  grades_median = list("quantile", TRUE, d$grades, p = 0.5))
api_segmentations <- list("total", "stype", "cname", c("stype", "awards"))
gm_segmentations <- list("total", "ggd_regio", c("geslacht", "leeftijd_cat"))

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "NA")
t975 <- function(df) qt(0.975, df)

# svyciprop(method = "beta")'s interval, with n (R: nrow(design)) the rows in the domain.
korn_graubard <- function(sub, n, level = 0.95) {
  m <- svymean(~as.numeric(I(.y == 1)), sub)
  n.eff <- coef(m) * (1 - coef(m))/vcov(m)
  rval <- coef(m)[1]
  alpha <- 1 - level
  n.eff <- n.eff * (qt(alpha/2, n - 1)/qt(alpha/2, degf(sub)))^2
  as.vector(c(qbeta(alpha/2, n.eff * rval, n.eff * (1 - rval) + 1),
              qbeta(1 - alpha/2, n.eff * rval + 1, n.eff * (1 - rval))))
}
kg_changed <- list()

# The interval of a proportion of exactly 0 or 1 (NCHS Data Presentation Standards for
# Proportions, 2017): Clopper-Pearson at n* = min(n, n * (t(n - 1) / t(df))^2); NA where that
# is undefined (n <= 1 or df <= 0).
exact_degenerate <- function(all_one, n, df) {
  if (n <= 1 || df <= 0) return(c(NA, NA))
  n_star <- min(n, n * (qt(0.975, n - 1) / qt(0.975, df))^2)
  if (all_one) c(qbeta(0.025, n_star, 1), 1) else c(0, qbeta(0.975, 1, n_star))
}

# One domain: a subset design with the indicator's values in .y (and .x); keep marks the
# domain's rows in the full data. A calibrated design's subset keeps every row (weight 0
# outside the domain), an uncalibrated one only the domain's rows.
estimate_domain <- function(sub, ind, keep) {
  kind <- ind[[1]]
  calibrated <- !is.null(sub$postStrata)
  inside <- if (calibrated) keep else TRUE
  n <- sum(keep)
  df <- degf(sub)
  out <- list(n = n, estimate = NA, std_error = NA, ci_lower = NA, ci_upper = NA, df = df,
              deff = NA, flag = NA, ci_method = switch(kind, proportion = ind$ci,
                                                        quantile = "woodruff", "t"))
  if (kind %in% c("mean", "total")) {
    m <- if (kind == "mean") svymean(~.y, sub, deff = "replace")
         else svytotal(~.y, sub, deff = "replace")
    est <- coef(m)[[1]]; se <- SE(m)[[1]]
    out[c("estimate", "std_error", "deff")] <- list(est, se, deff(m)[[1]])
    out[c("ci_lower", "ci_upper")] <- list(est - t975(df) * se, est + t975(df) * se)
  } else if (kind == "ratio") {
    r <- svyratio(~.y, ~.x, sub, deff = "replace")
    est <- coef(r)[[1]]; se <- sqrt(r$var[1, 1])
    out[c("estimate", "std_error", "deff")] <- list(est, se, attr(r, "deff")[1, 1])
    out[c("ci_lower", "ci_upper")] <- list(est - t975(df) * se, est + t975(df) * se)
  } else if (kind == "proportion") {
    m <- svymean(~.y, sub, deff = "replace")
    est <- coef(m)[[1]]; se <- SE(m)[[1]]
    out[c("estimate", "std_error", "deff")] <- list(est, se, deff(m)[[1]])
    method <- c(logit = "xlogit", wilson = "wilson", "korn-graubard" = "beta", wald = "mean")[[ind$ci]]
    ci <- suppressWarnings(as.vector(confint(svyciprop(~I(.y == 1), sub, method = method, df = df))))
    if (calibrated && ind$ci == "korn-graubard") {
      raw <- ci
      ci <- suppressWarnings(korn_graubard(sub, n))
      if (n == nrow(sub)) stopifnot(identical(ci, raw))
      else kg_changed[[length(kg_changed) + 1]] <<- abs(ci - raw)
    }
    # An SE of exactly 0 (a calibration variable over the whole sample, sch_wide in clus1-rake
    # and clus1-linear; a value constant within strata, strat-const); R then gives the wilson
    # interval NaN and the korn-graubard one [0.5, 0.5] (n* = Inf). The reference gives the
    # limit of every method, [p, p] (with df <= 0 there is no t, so no interval).
    if (identical(se, 0) && est > 0 && est < 1 && df > 0) ci <- c(est, est)
    # All values 0 or all 1: the proportion is exactly 0 or 1, though R's weighted mean may
    # round to 1 - 1e-16 and then give the degenerate logit interval [p, p]. The NCHS interval
    # (exact_degenerate); where it is undefined, none (flagged "no_interval" below).
    y <- sub$variables$.y[inside]
    if (ind$ci != "wald" && is.finite(se) && (all(y == 0) || all(y == 1))) {
      ci <- exact_degenerate(all(y == 1), n, df)
      if (all(is.finite(ci))) {
        out$flag <- "ci_korn_graubard"
        out$ci_method <- "korn-graubard"
      }
    }
    out[c("ci_lower", "ci_upper")] <- list(ci[1], ci[2])
  } else if (kind == "quantile") {
    q <- suppressWarnings(svyquantile(~.y, sub, quantiles = ind$p, qrule = "math",
                                      interval.type = "mean", ci = TRUE, df = df))[[1]]
    out[c("estimate", "ci_lower", "ci_upper", "std_error")] <- list(q[1, 1], q[1, 2], q[1, 3], q[1, 4])
  }
  # The deff of a constant is 0/0: peiling gives none, where R's rounding gives 0 or 1e31.
  if (kind != "quantile" && length(unique(sub$variables$.y[inside])) == 1) out$deff <- NA
  # peiling's flags: a variance R cannot give (NaN under "average"), an interval it cannot give.
  if (!is.finite(out$std_error) && kind != "quantile") {
    out$flag <- "no_variance"
    out[c("std_error", "ci_lower", "ci_upper")] <- list(NA, NA, NA)
  } else if (!is.finite(out$ci_lower) || !is.finite(out$ci_upper)) {
    out$flag <- "no_interval"
    out[c("ci_lower", "ci_upper")] <- list(NA, NA)
    if (kind == "quantile") out$std_error <- NA
  }
  out
}

# Achieved margins of weights w: for each margin row, the weighted count of its category.
achieved_margins <- function(d, margins, w) {
  sapply(seq_len(nrow(margins)), function(i) {
    columns <- strsplit(margins$variable[[i]], "*", fixed = TRUE)[[1]]
    key <- do.call(paste, c(lapply(columns, function(v) trimws(as.character(d[[v]]))), sep = "|"))
    sum(w[key == margins$category[[i]]])
  })
}
write_lines <- function(lines, file) {
  con <- file(file.path(here, file), "wb")
  writeLines(lines, con, sep = "\n")
  close(con)
}

rows <- list()
weight_rows <- "design,id,weight"
for (spec in designs) {
  name <- spec[[1]]
  d <- if (spec[[2]] == "gm") gm else data_sets[[spec[[2]]]]
  options(survey.lonely.psu = spec[[6]], survey.adjust.domain.lonely = spec[[7]])
  weight_column <- if (isFALSE(spec$weighted)) NULL else if (spec[[2]] == "gm") ~gewicht else ~pw
  design <- svydesign(ids = spec[[3]], strata = spec[[4]], weights = weight_column,
                      fpc = spec[[5]], data = d, nest = TRUE)
  if (is.null(weight_column)) {
    w <- weights(design)
    cat(sprintf("%s: weights from the fpc (%s): %s; sum %.10f\n", name, deparse(spec[[5]]),
                paste(sprintf("%.10g", sort(unique(w))), collapse = ", "), sum(w)))
  }
  calibration <- spec$calibration
  if (!is.null(calibration)) {
    margins <- calibration$margins
    # Shares as written (they print exactly at 15 digits); counts at full precision.
    target_text <- if (isTRUE(calibration$shares)) as.character(margins$target)
                   else sprintf("%.17g", margins$target)
    stopifnot(as.numeric(target_text) == margins$target)
    write_lines(c("variable,category,target",
                  paste(margins$variable, margins$category, target_text, sep = ",")),
                paste0("margins-", name, ".csv"))
    targets <- if (isTRUE(calibration$shares)) share_counts(d, margins, weights(design))
               else margins$target
    weighted <- calibration$step(design)
    w <- weights(weighted)
    stopifnot(length(w) == nrow(d), all(is.finite(w)), all(w > 0))
    residual <- (achieved_margins(d, margins, w) - targets) / targets
    cat(sprintf("%s: %s%s, %d margin categories, max |achieved - target| / target = %.3g; weights %.6g .. %.6g, sum %.10g\n",
                name, calibration$method, if (is.null(calibration$trim)) "" else " + trim",
                nrow(margins), max(abs(residual)), min(w), max(w), sum(w)))
    id <- if (spec[[2]] == "gm") d$resp_id else d$cds
    weight_rows <- c(weight_rows, paste(name, id, sprintf("%.17g", w), sep = ","))
    design <- weighted
  }
  calibrated <- !is.null(design$postStrata)
  indicators <- if (!is.null(spec$indicators)) spec$indicators(d)
                else if (spec[[2]] == "gm") gm_indicators(d) else api_indicators(d)
  segmentations <- if (!is.null(spec$segmentations)) spec$segmentations
                   else if (spec[[2]] == "gm") gm_segmentations else api_segmentations
  for (id in names(indicators)) {
    ind <- indicators[[id]]
    population <- rep(ind[[2]], length.out = nrow(d))
    value <- as.numeric(ind[[3]])
    denominator <- if (is.null(ind$denominator)) rep(1, nrow(d)) else as.numeric(ind$denominator)
    inside <- !is.na(population) & population & !is.na(value) & !is.na(denominator)
    if (calibrated) {
      # every row stays in a calibrated design's subsets, with weight 0 outside the domain
      value <- ifelse(inside, value, 0)
      denominator <- ifelse(inside, denominator, 0)
    }
    design$variables$.y <- value
    design$variables$.x <- denominator
    for (seg in segmentations) {
      if (identical(seg, "total")) {
        keys <- "total"
        member <- list(rep(TRUE, nrow(d)))
      } else {
        combos <- unique(d[complete.cases(d[, seg, drop = FALSE]), seg, drop = FALSE])
        combos <- combos[do.call(order, combos), , drop = FALSE]
        keys <- apply(combos, 1, function(r) paste(trimws(r), collapse = "|"))
        member <- lapply(seq_len(nrow(combos)), function(i) {
          m <- rep(TRUE, nrow(d))
          for (v in seg) m <- m & d[[v]] %in% combos[i, v]
          m
        })
      }
      for (i in seq_along(member)) {
        keep <- member[[i]] & inside
        r <- if (sum(keep) == 0) {
          list(n = 0, estimate = NA, std_error = NA, ci_lower = NA, ci_upper = NA, df = NA,
               deff = NA, flag = "empty_domain",
               ci_method = switch(ind[[1]], proportion = ind$ci, quantile = "woodruff", "t"))
        } else {
          estimate_domain(subset(design, keep), ind, keep)
        }
        rows[[length(rows) + 1]] <- data.frame(
          design = name, indicator = id, segmentation = paste(seg, collapse = "*"),
          segment = keys[[i]], n = r$n, estimate = num(r$estimate),
          std_error = num(r$std_error), ci_lower = num(r$ci_lower), ci_upper = num(r$ci_upper),
          ci_method = r$ci_method, df = num(r$df), deff = num(r$deff),
          flag = ifelse(is.na(r$flag), "", r$flag))
      }
    }
  }
}
reference <- do.call(rbind, rows)
write.csv(reference, file.path(here, "reference.csv"), row.names = FALSE, quote = TRUE)
write_lines(weight_rows, "weights.csv")
if (length(kg_changed)) {
  changed <- do.call(rbind, kg_changed)
  cat(sprintf("korn-graubard, calibrated domains: %d intervals use the domain's n instead of R's nrow(design); largest change of a bound %.3g\n",
              nrow(changed), max(changed, na.rm = TRUE)))
}
write.csv(data.frame(r = R.version.string, survey = as.character(packageVersion("survey"))),
          file.path(here, "meta.csv"), row.names = FALSE)
cat("wrote", nrow(reference), "reference rows and", length(weight_rows) - 1, "weights\n")
