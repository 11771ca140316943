# Reference values for peiling's estimation engine (tests/r_reference.rs): R's `api` data
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
#   apisrs.csv, apistrat.csv, apiclus1.csv   the data peiling reads (a subset of the columns)
#   reference.csv                            one row per design x indicator x segment
#   meta.csv                                 R and survey versions
# The Gezondheidsmonitor wave is sample-data/reference/api/gezondheidsmonitor-2022.csv, made by
# `peiling generate --kind gezondheidsmonitor --wave 2022 --rows 6000 --seed 11`.
#
# Conventions that peiling documents and this script follows:
# * a domain is subset(design, segment & population & value not missing); R drops the other
#   rows but keeps the full design's PSU counts, which peiling reproduces by padding;
# * df is degf() of that subset design; means, totals and ratios get est +/- qt(0.975, df) * SE;
# * quantiles: svyquantile(qrule = "math", interval.type = "mean"), SE = width / (2 t);
# * for a proportion of exactly 0 or 1, where R gives no interval (logit, wilson,
#   korn-graubard), peiling gives the Clopper-Pearson interval with n* = n, flagged
#   "ci_korn_graubard"; it is computed here by hand with qbeta().

.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages(library(survey))
stopifnot(packageVersion("survey") >= "4.5")
here <- "sample-data/reference/api"

data(api)
columns <- c("cds", "stype", "dnum", "cname", "pw", "fpc", "api00", "api99", "enroll", "meals",
             "ell", "sch.wide", "awards")
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

# --- designs: name, data, svydesign arguments, lonely-PSU options --------------------------
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
  list("gm-average-domain", "gm", ~1, ~gemeente, NULL, "average", TRUE))

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
api_segmentations <- list("total", "stype", "cname", c("stype", "awards"))
gm_segmentations <- list("total", "ggd_regio", c("geslacht", "leeftijd_cat"))

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "NA")
t975 <- function(df) qt(0.975, df)

# One domain: a subset design with the indicator's values in .y (and .x).
estimate_domain <- function(sub, ind) {
  kind <- ind[[1]]
  n <- nrow(sub)
  df <- degf(sub)
  out <- list(n = n, estimate = NA, std_error = NA, ci_lower = NA, ci_upper = NA, df = df,
              deff = NA, flag = NA, ci_method = switch(kind, proportion = ind$ci,
                                                        quantile = "woodruff", "t"))
  if (kind %in% c("mean", "total")) {
    m <- if (kind == "mean") svymean(~.y, sub, deff = TRUE) else svytotal(~.y, sub, deff = TRUE)
    est <- coef(m)[[1]]; se <- SE(m)[[1]]
    out[c("estimate", "std_error", "deff")] <- list(est, se, deff(m)[[1]])
    out[c("ci_lower", "ci_upper")] <- list(est - t975(df) * se, est + t975(df) * se)
  } else if (kind == "ratio") {
    r <- svyratio(~.y, ~.x, sub, deff = TRUE)
    est <- coef(r)[[1]]; se <- sqrt(r$var[1, 1])
    out[c("estimate", "std_error", "deff")] <- list(est, se, attr(r, "deff")[1, 1])
    out[c("ci_lower", "ci_upper")] <- list(est - t975(df) * se, est + t975(df) * se)
  } else if (kind == "proportion") {
    m <- svymean(~.y, sub, deff = TRUE)
    est <- coef(m)[[1]]; se <- SE(m)[[1]]
    out[c("estimate", "std_error", "deff")] <- list(est, se, deff(m)[[1]])
    method <- c(logit = "xlogit", wilson = "wilson", "korn-graubard" = "beta", wald = "mean")[[ind$ci]]
    ci <- suppressWarnings(as.vector(confint(svyciprop(~I(.y == 1), sub, method = method, df = df))))
    # All values 0 or all 1: the proportion is exactly 0 or 1, though R's weighted mean may
    # round to 1 - 1e-16 and then give the degenerate logit interval [p, p].
    y <- sub$variables$.y
    if (ind$ci != "wald" && is.finite(se) && (all(y == 0) || all(y == 1))) {
      ci <- if (all(y == 0)) c(0, qbeta(0.975, 1, n)) else c(qbeta(0.025, n, 1), 1)
      out$flag <- "ci_korn_graubard"
      out$ci_method <- "korn-graubard"
    }
    out[c("ci_lower", "ci_upper")] <- list(ci[1], ci[2])
  } else if (kind == "quantile") {
    q <- suppressWarnings(svyquantile(~.y, sub, quantiles = ind$p, qrule = "math",
                                      interval.type = "mean", ci = TRUE, df = df))[[1]]
    out[c("estimate", "ci_lower", "ci_upper", "std_error")] <- list(q[1, 1], q[1, 2], q[1, 3], q[1, 4])
  }
  # The deff of a constant is 0/0: peiling gives none, where R's rounding gives 0 or 1e31.
  if (kind != "quantile" && length(unique(sub$variables$.y)) == 1) out$deff <- NA
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

rows <- list()
for (spec in designs) {
  name <- spec[[1]]
  d <- if (spec[[2]] == "gm") gm else data_sets[[spec[[2]]]]
  options(survey.lonely.psu = spec[[6]], survey.adjust.domain.lonely = spec[[7]])
  design <- svydesign(ids = spec[[3]], strata = spec[[4]], weights = if (spec[[2]] == "gm") ~gewicht else ~pw,
                      fpc = spec[[5]], data = d, nest = TRUE)
  indicators <- if (spec[[2]] == "gm") gm_indicators(d) else api_indicators(d)
  segmentations <- if (spec[[2]] == "gm") gm_segmentations else api_segmentations
  for (id in names(indicators)) {
    ind <- indicators[[id]]
    population <- rep(ind[[2]], length.out = nrow(d))
    value <- as.numeric(ind[[3]])
    denominator <- if (is.null(ind$denominator)) rep(1, nrow(d)) else as.numeric(ind$denominator)
    inside <- !is.na(population) & population & !is.na(value) & !is.na(denominator)
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
          estimate_domain(subset(design, keep), ind)
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
write.csv(data.frame(r = R.version.string, survey = as.character(packageVersion("survey"))),
          file.path(here, "meta.csv"), row.names = FALSE)
cat("wrote", nrow(reference), "reference rows\n")
