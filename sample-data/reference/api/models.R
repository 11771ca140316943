# Reference values for peiling's design-based generalised linear models ([[model]] in a
# pipeline; R's svyglm): the api data (apistrat, apiclus1) and the synthetic Gezondheidsmonitor
# wave under stratified, clustered, stratified-and-clustered-with-fpc, lonely-PSU and calibrated
# designs, with linear, logistic and Poisson models, categorical terms and their interactions,
# an explicit reference level, a domain (population) and a `by` variable.
#
# Run from the repository root, after api.R:   Rscript sample-data/reference/api/models.R
# Made with R 4.2.2 (R version 4.2.2 Patched (2022-11-10 r83330)) and survey 4.5, from
# /opt/rlib as api.R says; the versions are printed when this runs.
#
# Reads, next to this script, what api.R wrote (and rewrites none of it): apistrat.csv,
# apiclus1.csv, gezondheidsmonitor-2022.csv, margins-clus1-rake.csv, margins-gm-rake.csv (and
# weights.csv, to check that the calibrated weights rebuilt here are api.R's).
# Writes, next to this script:
#   models.csv   one row per design x model x segment x coefficient: design, model, segment,
#                coefficient (R's name: (Intercept), ell, stypeH, meals:stypeH,
#                stypeH:awardsYes, ...), estimate, std_error, statistic, p_value, df, ci_lower,
#                ci_upper, n, n_weighted; numbers with 17 significant digits, NA as "NA".
# The designs are api.R's, built the same way (svydesign(..., nest = TRUE), the lonely-PSU
# options, and for the calibrated ones calibrate(calfun = "raking", epsilon = 1e-13,
# maxit = 500) on the whole sample from the margins file), plus one design api.R does not have:
#   strat-clus-fpc   svydesign(id = ~dnum, strata = ~stype, fpc = ~fpc, weights = ~pw,
#                    data = apistrat, nest = TRUE): strata, PSUs and an fpc together. Its fpc is
#                    apistrat's fpc column read as R reads it, the stratum's population number
#                    of PSUs N_h (peiling's `fpc = "fpc"`, as in strat.toml); no stratum has a
#                    single PSU (checked below), so lonely_psu = "fail".
# The models are the [[model]] blocks of the pipelines <design>.toml next to this script
# (`models` below mirrors them).
#
# Conventions that peiling documents and this script follows:
# * family: "linear" is gaussian(), "logistic" quasibinomial() with the outcome as a number 0/1
#   (as.numeric(<condition>)), "poisson" quasipoisson();
# * a categorical term (a string column, or a schema field with categories: geslacht,
#   leeftijd_cat) is a factor with its levels sorted (numerically for integer codes, bytewise
#   for strings) and treatment contrasts against the reference level: the model's `reference`,
#   else the first level; a numeric column enters as it is; "a:b" is the interaction, present
#   only with both main effects;
# * the domain is subset(design, <population> & <by variable> == <value>): just the population
#   without `by`, the full design without either. svyglm() is given that design and drops the
#   rows with a missing model variable itself (na.omit): it rescales the weights to their mean
#   over the domain design's rows first (for a calibrated design, whose subset keeps every row
#   with weight 0 outside the domain, that mean is over ALL rows, zeros included), which sets
#   the scale of the IRLS weights; no rows are removed here beforehand;
# * the fit is svyglm(formula, design = domain, family = ...) with R's default glm.control()
#   (epsilon 1e-8, maxit 25) and starting values. glm.fit stops when
#   |dev - dev_old| / (|dev| + 0.1) < epsilon; the coefficients are the last iterate's, but the
#   IRLS working weights m$weights and summary.glm's (X'WX)^-1 (svyglm's "bread") are those the
#   last iteration started from (the previous iterate's mu), while the working residuals are
#   the final mu's. So for the logistic and Poisson models R's SEs depend on the iteration path:
#   refitting everything below with epsilon = 1e-15 moves the estimates by at most 2.7e-7
#   (relative) but the SEs by up to 1.1e-4 (clus1 api_by_awards No) and the p-values by up to
#   1.8e-3; the linear models (identity link, constant weights) do not move at all;
# * estimate coef(m); std_error SE(m) = sqrt(diag(vcov(m))), the sandwich (linearisation)
#   variance under the design's lonely-PSU options; statistic and p_value from
#   summary(m)$coefficients (t value, Pr(>|t|) = 2 pt(-|t|, df)); df = m$df.residual =
#   degf(domain design without the NA rows) + 1 - (number of coefficients); ci_lower, ci_upper
#   confint(m): survey 4.5's Wald interval with the t quantile at df.residual,
#   estimate -/+ qt(0.975, df) * SE;
# * n: the rows in the domain with no missing model variable (the rows of nonzero weight in
#   m$survey.design; checked against a count made here from the data); n_weighted: the sum of
#   their (calibrated) sampling weights, sum(weights(m$survey.design));
# * `by`: one fit per sorted distinct non-missing value of the by-variable in the data, segment
#   = that value as text (integers without decimals); without `by` the segment is "total".

.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages(library(survey))
stopifnot(packageVersion("survey") >= "4.5")
here <- "sample-data/reference/api"
cat(R.version.string, "/ survey", as.character(packageVersion("survey")), "\n")

api_read <- function(name)
  read.csv(file.path(here, paste0(name, ".csv")), colClasses = c(cds = "character"))
data_sets <- list(
  apistrat = api_read("apistrat"),
  apiclus1 = api_read("apiclus1"),
  gm = read.csv(file.path(here, "gezondheidsmonitor-2022.csv"), sep = ";", dec = ",",
                colClasses = c(resp_id = "character", gemeente = "character")))
# The Gezondheidsmonitor schema has no user-missing codes (missing_values = ["", "NA"] only):
# read.csv's NA is peiling's missing value.

# Categorical columns: api's string columns; the Gezondheidsmonitor schema's fields with
# categories (ggd_regio has none: it is only a `by` variable here).
categorical <- list(
  api = c("stype", "cname", "sch_wide", "awards"),
  gm = c("provincie", "geslacht", "leeftijd_cat", "mantelzorger", "belasting", "respijt"))

read_margins <- function(design)
  read.csv(file.path(here, paste0("margins-", design, ".csv")),
           colClasses = c(variable = "character", category = "character", target = "numeric"))

# --- calibration, as api.R: raking on the whole sample --------------------------------------
# clus1-rake: ~stype + sch_wide with the intercept (the stype total) and treatment dummies.
clus1_rake <- function(design) {
  m <- read_margins("clus1-rake")
  target <- function(v, c) m$target[m$variable == v & m$category == c]
  population <- c(`(Intercept)` = sum(m$target[m$variable == "stype"]),
                  stypeH = target("stype", "H"), stypeM = target("stype", "M"),
                  sch_wideYes = target("sch_wide", "Yes"))
  stopifnot(population == c(6194, 755, 1018, 5122))
  calibrate(design, ~stype + sch_wide, population = population, calfun = "raking",
            epsilon = 1e-13, maxit = 500)
}
# gm-rake: api.R's gm_rake(), with its margins read back from margins-gm-rake.csv (written
# there with 17 significant digits, so exactly api.R's targets).
gm_rake <- function(design) {
  gm_margins <- read_margins("gm-rake")
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

# --- designs: name, data, ids, strata, fpc, survey.lonely.psu, survey.adjust.domain.lonely,
#     optionally calibration = (a step above) ---------------------------------------------------
designs <- list(
  list("strat", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE),
  list("clus1", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE),
  list("strat-clus-fpc", "apistrat", ~dnum, ~stype, ~fpc, "fail", FALSE),
  list("county-adjust", "apistrat", ~dnum, ~cname, NULL, "adjust", FALSE),
  list("county-average", "apistrat", ~dnum, ~cname, NULL, "average", FALSE),
  list("clus1-rake", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE, calibration = clus1_rake),
  list("gm-remove", "gm", ~1, ~gemeente, NULL, "remove", FALSE),
  list("gm-rake", "gm", ~1, ~gemeente, NULL, "remove", FALSE, calibration = gm_rake),
  list("gm-adjust-domain", "gm", ~1, ~gemeente, NULL, "adjust", TRUE),
  list("gm-average-domain", "gm", ~1, ~gemeente, NULL, "average", TRUE))

# strat-clus-fpc: every stratum (stype) has more than one PSU (dnum), and fewer than its fpc.
local({
  d <- data_sets$apistrat
  psus <- tapply(d$dnum, d$stype, function(x) length(unique(x)))
  fpc <- tapply(d$fpc, d$stype, unique)
  cat("strat-clus-fpc: PSUs per stratum", paste(names(psus), psus, collapse = ", "),
      "; fpc", paste(names(fpc), fpc, collapse = ", "), "\n")
  stopifnot(all(psus > 1), all(psus <= fpc))
})

# --- models, as the [[model]] blocks of the TOMLs: family, outcome (a function of the data,
#     as peiling's SQL expression), terms, reference, population (a function of the data), by --
model <- function(family, outcome, terms, reference = list(), population = NULL, by = NULL)
  list(family = family, outcome = outcome, terms = terms, reference = reference,
       population = population, by = by)
api_models <- list(
  sch_wide_logit = model("logistic", function(d) d$sch_wide == "Yes", c("ell", "meals", "stype")),
  api_linear = model("linear", function(d) d$api00, c("ell", "meals", "stype", "meals:stype")),
  enroll_poisson = model("poisson", function(d) d$enroll, c("meals", "stype"),
                         reference = list(stype = "H")),
  api_domain = model("linear", function(d) d$api00, c("ell", "meals"),
                     population = function(d) d$api99 >= 600),
  api_by_awards = model("logistic", function(d) d$api00 >= 700, c("ell", "meals"), by = "awards"),
  api_factor2 = model("linear", function(d) d$api00, c("stype", "awards", "stype:awards")))
gm_models <- list(
  mz_logit = model("logistic", function(d) d$mantelzorger == 1, c("geslacht", "leeftijd_cat")),
  overload_domain = model("logistic", function(d) d$belasting >= 4,
                          c("geslacht", "leeftijd_cat", "uren_pw"),
                          population = function(d) d$mantelzorger == 1),
  hours_poisson = model("poisson", function(d) d$uren_pw, c("leeftijd_cat"),
                        population = function(d) d$mantelzorger == 1),
  hours_by_region = model("linear", function(d) d$uren_pw, c("geslacht"),
                          population = function(d) d$mantelzorger == 1, by = "ggd_regio"),
  # No population: the non-carers' outcome is NA, so svyglm's na.omit drops them after it has
  # rescaled the weights by their mean over every row (the start of the IRLS depends on it).
  overload_all = model("logistic", function(d) d$belasting >= 4, c("geslacht", "leeftijd_cat")),
  # Categorical terms only: peiling fits these on cells where the design allows it (no PSUs,
  # no calibration), which must not change a digit that matters.
  mz_interaction = model("logistic", function(d) d$mantelzorger == 1,
                         c("geslacht", "leeftijd_cat", "geslacht:leeftijd_cat")),
  mz_by_region = model("logistic", function(d) d$mantelzorger == 1, c("geslacht"),
                       population = function(d) d$leeftijd_cat >= 2, by = "ggd_regio"),
  burden_linear = model("linear", function(d) d$belasting, c("leeftijd_cat", "geslacht"),
                        reference = list(leeftijd_cat = 3),
                        population = function(d) d$mantelzorger == 1))
families <- list(linear = gaussian(), logistic = quasibinomial(), poisson = quasipoisson())

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "NA")
segment_text <- function(x) if (is.numeric(x)) format(x, scientific = FALSE, trim = TRUE) else as.character(x)

# One fit: the design (variables already with the model's factors and .y), the domain mask
# (NULL: the full design), and the columns the model uses.
fit <- function(design, mask, formula, family, used_columns, label) {
  domain <- if (is.null(mask)) design else {
    .keep <- mask
    subset(design, .keep)
  }
  warnings <- character()
  m <- withCallingHandlers(
    svyglm(formula, design = domain, family = family),
    warning = function(w) {
      warnings <<- c(warnings, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (length(warnings))
    cat(sprintf("WARNING %s: %s\n", label, paste(unique(warnings), collapse = "; ")))
  if (!m$converged) cat(sprintf("WARNING %s: svyglm did not converge\n", label))
  # n: the rows in the domain with every model variable present, counted from the data too.
  v <- design$variables
  inside <- (if (is.null(mask)) TRUE else mask) & complete.cases(v[, used_columns, drop = FALSE])
  w <- weights(m$survey.design)
  n <- sum(w != 0)
  stopifnot(n == sum(inside), nrow(model.frame(m)) == if (is.null(design$postStrata)) n else nrow(v) - length(m$na.action))
  n_weighted <- sum(w)
  stopifnot(all.equal(n_weighted, sum(weights(design)[inside]), tolerance = 1e-12))
  list(m = m, n = n, n_weighted = n_weighted)
}

rows <- list()
for (spec in designs) {
  name <- spec[[1]]
  source <- spec[[2]]
  d <- data_sets[[source]]
  options(survey.lonely.psu = spec[[6]], survey.adjust.domain.lonely = spec[[7]])
  design <- svydesign(ids = spec[[3]], strata = spec[[4]], fpc = spec[[5]],
                      weights = if (source == "gm") ~gewicht else ~pw, data = d, nest = TRUE)
  if (!is.null(spec$calibration)) {
    design <- spec$calibration(design)
    # The calibrated weights are api.R's (weights.csv).
    ref <- read.csv(file.path(here, "weights.csv"), colClasses = c(id = "character"))
    ref <- ref[ref$design == name, ]
    id <- if (source == "gm") d$resp_id else d$cds
    diff <- max(abs(weights(design) - ref$weight[match(id, ref$id)]) / ref$weight[match(id, ref$id)])
    cat(sprintf("%s: calibrated weights against weights.csv, max relative difference %.3g\n", name, diff))
    stopifnot(diff < 1e-12)
  }
  kind <- if (source == "gm") "gm" else "api"
  models <- if (kind == "gm") gm_models else api_models
  for (id in names(models)) {
    # A logistic model on one region of a calibrated design diverges in R: the prior weights
    # are the weights over their mean across ALL rows (zeros outside the domain included), some
    # 50 times their mean inside a region, and glm.fit from mustart = (50y + 0.5)/51 overshoots
    # and "converges" at an intercept of -3e15. peiling refuses such a fit; it is no reference.
    if (!is.null(spec$calibration) && id == "mz_by_region") next
    mod <- models[[id]]
    mains <- unique(unlist(strsplit(mod$terms, ":", fixed = TRUE)))
    stopifnot(all(unlist(strsplit(mod$terms[grepl(":", mod$terms)], ":")) %in% mod$terms))
    md <- design
    v <- md$variables
    v$.y <- as.numeric(mod$outcome(v))
    for (t in intersect(mains, categorical[[kind]])) {
      x <- v[[t]]
      levels <- sort(unique(x[!is.na(x)]), method = "radix")
      ref <- if (is.null(mod$reference[[t]])) levels[[1]] else mod$reference[[t]]
      stopifnot(ref %in% levels)
      v[[t]] <- factor(x, levels = c(ref, setdiff(levels, ref)))
    }
    md$variables <- v
    formula <- reformulate(mod$terms, response = ".y")
    family <- families[[mod$family]]
    population <- if (is.null(mod$population)) NULL else {
      p <- mod$population(d)
      !is.na(p) & p
    }
    segments <- if (is.null(mod$by)) list(total = population) else {
      values <- sort(unique(d[[mod$by]][!is.na(d[[mod$by]])]), method = "radix")
      setNames(lapply(values, function(x) {
        m <- !is.na(d[[mod$by]]) & d[[mod$by]] == x
        if (is.null(population)) m else m & population
      }), vapply(values, segment_text, ""))
    }
    for (segment in names(segments)) {
      label <- sprintf("%s %s %s", name, id, segment)
      r <- fit(md, segments[[segment]], formula, family, c(".y", mains), label)
      m <- r$m
      cf <- coef(m)
      if (anyNA(cf)) cat(sprintf("WARNING %s: aliased (NA) coefficients %s\n", label,
                                 paste(names(cf)[is.na(cf)], collapse = ", ")))
      if (m$df.residual <= 0) cat(sprintf("WARNING %s: df.residual %g\n", label, m$df.residual))
      se <- SE(m)
      table <- summary(m)$coefficients
      ci <- confint(m)
      stopifnot(all.equal(unname(ci[, 1]), unname(cf - qt(0.975, m$df.residual) * se)))
      get <- function(x, column) unname(x[match(names(cf), rownames(x)), column])
      rows[[length(rows) + 1]] <- data.frame(
        design = name, model = id, segment = segment, coefficient = names(cf),
        estimate = num(cf), std_error = num(se[match(names(cf), names(se))]),
        statistic = num(get(table, "t value")), p_value = num(get(table, "Pr(>|t|)")),
        df = num(m$df.residual), ci_lower = num(get(ci, 1)), ci_upper = num(get(ci, 2)),
        n = r$n, n_weighted = num(r$n_weighted))
      cat(sprintf("%-15s %-16s %-8s n %4d  df %3g  iter %2d  %s\n", name, id, segment, r$n,
                  m$df.residual, m$iter,
                  paste(sprintf("%s=%.4g", names(cf), cf), collapse = " ")))
    }
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "models.csv"), row.names = FALSE, quote = TRUE)
cat("wrote", nrow(out), "model rows;", R.version.string, "/ survey",
    as.character(packageVersion("survey")), "\n")
