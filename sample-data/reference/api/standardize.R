# Reference values for peiling's direct standardisation of indicators (an indicator's
# `standardize = { by = "<column>", population = "<file.csv>" }`; R survey's svystandardize):
# the api data (apistrat, apiclus1) and the synthetic Gezondheidsmonitor wave, under stratified,
# clustered, lonely-PSU and calibrated designs, for means and proportions, with and without a
# domain (population).
#
# Run from the repository root, after api.R:   Rscript sample-data/reference/api/standardize.R
# Made with R 4.2.2 (R version 4.2.2 Patched (2022-11-10 r83330)) and survey 4.5, from
# /opt/rlib as api.R says; the versions are printed when this runs.
#
# Reads, next to this script, what api.R wrote (and rewrites none of it): apistrat.csv,
# apiclus1.csv, gezondheidsmonitor-2022.csv, margins-gm-rake.csv (and weights.csv, to check that
# the calibrated weights rebuilt here are api.R's).
# Writes, next to this script:
#   standard-stype.csv      the standard population of api's stype (category,share; shares)
#   standard-leeftijd.csv   the standard population of the Gezondheidsmonitor's leeftijd_cat
#                           (category,share; counts, roughly the Dutch adult population by age
#                           group around 2022, made up to the thousand, not CBS's figures: they
#                           exercise the normalisation to shares)
#   standardize.csv         one row per design x indicator x segmentation x segment: design,
#                           indicator, segmentation (total, a column, or `a*b` for a crossing),
#                           segment (total, the value, or the values joined by `|`), estimate,
#                           std_error, ci_lower, ci_upper, df, n, partial; numbers with 17
#                           significant digits, NA as "NA".
# The pipelines std-<design>.toml next to this script hold the same indicators and segments
# (`indicators` and `segmentations` below mirror them).
#
# The designs are api.R's, built the same way (svydesign(..., nest = TRUE), the lonely-PSU
# options, and for gm-rake calibrate(calfun = "raking", epsilon = 1e-13, maxit = 500) on the
# whole sample from the margins file): strat, clus1, county-adjust, gm-remove, gm-rake.
#
# What is computed, per design x indicator:
# * the indicator's domain d0 = subset(design, <population> & !is.na(<value>)) (what
#   svystandardize(excluding.missing = ~value) does for the missing values); the full design when
#   there is neither a population nor a missing value. gm-rake (calibrated: a subset would keep
#   every row with weight 0) only has an indicator without population or missing values;
# * the standard population file's shares (counts normalised to shares) in the order of the
#   levels of `by`, sorted (numerically for integer codes, bytewise for strings); every level
#   of `by` must occur in d0 and in the file, and the file must have no other categories;
# * per segmentation (one svystandardize per segmentation, as peiling standardises within the
#   segments of each segmentation; segmentations containing `by` get no standardised estimate):
#   std = svystandardize(d0, by = ~by, over = ~1 (total) or ~a (+ b), population = shares),
#   i.e. postStratify(d0, ~by + a (+ b), share_c x N-hat_s, partial = TRUE): every cell
#   (c, s) gets the weight total share_c x N-hat_s, N-hat_s the segment's d0 weight total;
# * per segment s: sd = subset(std, segment == s) (std itself for total), a calibrated design
#   that keeps every row with weight 0 outside the segment; estimate and std_error
#   svymean(~value, sd) (for a proportion the 0/1 value of the condition); df = degf(sd) (PSUs of
#   nonzero weight minus strata of nonzero weight); a mean's interval est -/+ qt(0.975, df) SE;
#   a proportion's svyciprop(~condition, sd, method = "xlogit"), whose default df is degf(sd)
#   (checked against svyby(..., svyciprop) on std, which passes the same subsets). As in
#   api.R, a proportion of exactly 0 or 1 in the segment (all its d0 values 0, or all 1: R gives
#   no xlogit interval) gets the NCHS interval, Clopper-Pearson at
#   n* = min(n, n (qt(0.975, n - 1) / qt(0.975, df))^2) (peiling's flag "ci_korn_graubard");
#   that happens for sch_wide_std in the segment awards = Yes (an award implies sch_wide Yes);
# * n: the rows of d0 in the segment (checked: the rows of nonzero weight in sd);
# * partial: TRUE when some level of `by` has no d0 row in the segment. postStratify(partial =
#   TRUE) then drops that cell (with the warning "Some strata absent from sample: ignored"), and
#   the segment's estimate is sum_c share_c ybar_cs / sum_c share_c over the levels present
#   (checked below: the standardised mean is recomputed by hand for every row).
# Things to know when comparing:
# * hours_std in gm-remove, segment geslacht*provincie 1|20 (5 rows, one per age group present):
#   the SE is 0 in exact arithmetic, R gives 8.9e-16 (compare SEs with an absolute tolerance);
# * segmentations: api total and awards; Gezondheidsmonitor total, provincie, geslacht and
#   geslacht*provincie (ggd_regio x leeftijd_cat is too sparse among the caregivers with hours);
#   19 rows are partial: hours_std provincie 20, 22, 24, 31 and 13 geslacht*provincie segments,
#   mz_std geslacht*provincie 2|24 (gm-remove and gm-rake: no woman aged 75-84 in Flevoland);
# * a calibrated design with a population (not computed here): subset() keeps every row with
#   weight 0, and when a (by level, segment) cell holds only such rows postStratify(partial =
#   TRUE) drops it and gives those rows an NA weight, so svymean() fails (tried: hours_std on
#   gm-rake by provincie; over = ~1, without empty cells, works).
# Checks (stopifnot, with the differences printed):
# * every estimate equals sum_c a_c ybar_cs computed by hand from d0's weights, a_c the shares
#   renormalised over the levels present in the segment;
# * for the uncalibrated designs every std_error equals the SE of svycontrast(a_c) of the crude
#   cell means svyby(~value, ~by (+ segment), d0, svymean, covmat = TRUE): postStratify's
#   linearisation treats share_c x N-hat_s as fixed, which is exactly the linearisation of
#   sum_c a_c ybar_cs. For gm-rake the two differ (R applies the raking's residuals and then the
#   post-stratification's; the contrast only the raking's): the difference is printed.

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

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "NA")

# --- standard populations -------------------------------------------------------------------
standard <- list(
  "standard-stype.csv" = data.frame(category = c("E", "H", "M"), share = c(0.5, 0.2, 0.3)),
  "standard-leeftijd.csv" = data.frame(
    category = c("1", "2", "3", "4", "5", "6"),  # 18-34, 35-49, 50-64, 65-74, 75-84, 85+
    share = c(3834000, 3354000, 3786000, 2020000, 1158000, 403000)))
for (f in names(standard))
  write.csv(standard[[f]], file.path(here, f), row.names = FALSE, quote = FALSE)
read_standard <- function(f)
  read.csv(file.path(here, f), colClasses = c(category = "character", share = "numeric"))

# --- calibration, as api.R / models.R: gm-rake ------------------------------------------------
read_margins <- function(design)
  read.csv(file.path(here, paste0("margins-", design, ".csv")),
           colClasses = c(variable = "character", category = "character", target = "numeric"))
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

# --- indicators, as the [[indicator]] blocks of std-<design>.toml: kind, value (a function of
#     the data: the number, or the condition of a proportion; NA where missing), population (a
#     function of the data, or NULL), standardize by and population file ---------------------
indicator <- function(kind, value, by, file, population = NULL)
  list(kind = kind, value = value, by = by, file = file, population = population)
api_indicators <- list(
  api00_std = indicator("mean", function(d) d$api00, "stype", "standard-stype.csv"),
  sch_wide_std = indicator("proportion", function(d) d$sch_wide == "Yes", "stype",
                           "standard-stype.csv"),
  ell_std_domain = indicator("mean", function(d) d$ell, "stype", "standard-stype.csv",
                             population = function(d) d$api99 >= 600))
gm_indicators <- list(
  mz_std = indicator("proportion", function(d) d$mantelzorger == 1, "leeftijd_cat",
                     "standard-leeftijd.csv"),
  hours_std = indicator("mean", function(d) d$uren_pw, "leeftijd_cat", "standard-leeftijd.csv",
                        population = function(d) d$mantelzorger == 1))
# Segmentations ([segments] of the TOMLs; total = true): api by awards. For the
# Gezondheidsmonitor ggd_regio is too sparse for hours_std (15 of its 25 regions lack some age
# group among the caregivers with hours): provincie (4 of 12 partial for hours_std), geslacht
# (none partial) and their crossing geslacht x provincie instead.
api_segmentations <- list("awards")
gm_segmentations <- list("provincie", "geslacht", c("geslacht", "provincie"))

# --- designs: name, data, ids, strata, fpc, survey.lonely.psu, survey.adjust.domain.lonely,
#     the indicators, optionally calibration ----------------------------------------------------
designs <- list(
  list("strat", "apistrat", ~1, ~stype, ~fpc, "fail", FALSE, names(api_indicators)),
  list("clus1", "apiclus1", ~dnum, NULL, ~fpc, "fail", FALSE, names(api_indicators)),
  list("county-adjust", "apistrat", ~dnum, ~cname, NULL, "adjust", FALSE, names(api_indicators)),
  list("gm-remove", "gm", ~1, ~gemeente, NULL, "remove", FALSE, names(gm_indicators)),
  list("gm-rake", "gm", ~1, ~gemeente, NULL, "remove", FALSE, "mz_std", calibration = gm_rake))

sorted_levels <- function(x) {
  u <- unique(x[!is.na(x)])
  if (is.numeric(u)) sort(u) else sort(u, method = "radix")
}
# api.R's interval of a proportion of exactly 0 or 1 (NCHS Data Presentation Standards for
# Proportions, 2017): Clopper-Pearson at n* = min(n, n * (t(n - 1) / t(df))^2); NA where that
# is undefined (n <= 1 or df <= 0).
exact_degenerate <- function(all_one, n, df) {
  if (n <= 1 || df <= 0) return(c(NA, NA))
  n_star <- min(n, n * (qt(0.975, n - 1) / qt(0.975, df))^2)
  if (all_one) c(qbeta(0.025, n_star, 1), 1) else c(0, qbeta(0.975, 1, n_star))
}
text <- function(x) if (is.numeric(x)) format(x, scientific = FALSE, trim = TRUE) else as.character(x)

rows <- list()
checks <- list()
for (spec in designs) {
  name <- spec[[1]]
  source <- spec[[2]]
  d <- data_sets[[source]]
  options(survey.lonely.psu = spec[[6]], survey.adjust.domain.lonely = spec[[7]])
  design <- svydesign(ids = spec[[3]], strata = spec[[4]], fpc = spec[[5]],
                      weights = if (source == "gm") ~gewicht else ~pw, data = d, nest = TRUE)
  calibrated <- !is.null(spec$calibration)
  if (calibrated) {
    design <- spec$calibration(design)
    ref <- read.csv(file.path(here, "weights.csv"), colClasses = c(id = "character"))
    ref <- ref[ref$design == name, ]
    id <- if (source == "gm") d$resp_id else d$cds
    w_ref <- ref$weight[match(id, ref$id)]
    diff <- max(abs(weights(design) - w_ref) / w_ref)
    cat(sprintf("%s: calibrated weights against weights.csv, max relative difference %.3g\n", name, diff))
    stopifnot(diff < 1e-12)
  }
  all_indicators <- if (source == "gm") gm_indicators else api_indicators
  segmentations <- if (source == "gm") gm_segmentations else api_segmentations
  for (ind_id in spec[[8]]) {
    ind <- all_indicators[[ind_id]]
    v <- d
    value <- ind$value(v)
    inside <- !is.na(value)
    if (!is.null(ind$population)) {
      p <- ind$population(v)
      inside <- inside & !is.na(p) & p
    }
    # The standard population, in the order of the by levels present in d0.
    levels <- sorted_levels(v[[ind$by]][inside])
    stopifnot(!anyNA(v[[ind$by]][inside]), levels == sorted_levels(v[[ind$by]]))
    pop <- read_standard(ind$file)
    stopifnot(setequal(pop$category, text(levels)), !anyDuplicated(pop$category))
    shares <- pop$share[match(text(levels), pop$category)] / sum(pop$share)
    names(shares) <- text(levels)
    vars <- design$variables
    vars$.y <- as.numeric(ifelse(inside, value, 0))  # outside d0 only for the subset below
    vars$.by <- factor(v[[ind$by]], levels = levels)
    vars$.inside <- inside
    design_i <- design
    design_i$variables <- vars
    d0 <- if (all(inside)) design_i else {
      stopifnot(!calibrated)
      subset(design_i, .inside)
    }
    stopifnot(all(table(d0$variables$.by[weights(d0) != 0]) > 0))
    for (seg in c(list(character()), segmentations)) {
      stopifnot(!(ind$by %in% seg))
      seg_name <- if (length(seg)) paste(seg, collapse = "*") else "total"
      dv <- d0$variables
      # The segment key of every row (text, values joined by |) and its segments, sorted by the
      # first variable's value, then the second's.
      if (length(seg)) {
        key <- do.call(paste, c(lapply(seg, function(s) text(dv[[s]])), sep = "|"))
        combos <- unique(dv[, seg, drop = FALSE])
        combos <- combos[do.call(order, unname(as.list(combos))), , drop = FALSE]
        keys <- do.call(paste, c(lapply(seg, function(s) text(combos[[s]])), sep = "|"))
      } else {
        key <- rep("total", nrow(dv))
        keys <- "total"
      }
      d0s <- d0
      d0s$variables$.seg <- factor(key, levels = keys)
      over <- if (length(seg)) reformulate(seg) else ~1
      warnings <- character()
      std <- withCallingHandlers(
        svystandardize(d0s, by = ~.by, over = over, population = shares),
        warning = function(w) {
          warnings <<- c(warnings, conditionMessage(w))
          invokeRestart("muffleWarning")
        })
      if (length(warnings))
        cat(sprintf("note %s %s %s: %s\n", name, ind_id, seg_name, paste(unique(warnings), collapse = "; ")))
      # The crude cell means of d0 (for the SE check): svyby over by x segment.
      cells <- svyby(~.y, ~.by + .seg, d0s, svymean, covmat = TRUE, keep.var = TRUE,
                     drop.empty.groups = TRUE)
      cell_names <- paste(cells$.by, cells$.seg, sep = ".")
      inside0 <- weights(d0s) != 0
      for (s in keys) {
        in_s <- d0s$variables$.seg == s
        sd <- if (s == "total") std else {
          .s <- s
          subset(std, .seg == .s)
        }
        n <- sum(in_s & inside0)
        stopifnot(n == sum(weights(sd) != 0))
        present <- table(d0s$variables$.by[in_s & inside0]) > 0
        partial <- !all(present)
        m <- svymean(~.y, sd)
        est <- coef(m)[[1]]
        se <- SE(m)[[1]]
        df <- degf(sd)
        if (ind$kind == "mean") {
          ci <- est + c(-1, 1) * qt(0.975, df) * se
        } else {
          p <- svyciprop(~I(.y == 1), sd, method = "xlogit")
          stopifnot(all.equal(coef(p)[[1]], est, tolerance = 1e-14),
                    all.equal(sqrt(attr(p, "var")[1]), se, tolerance = 1e-14))
          ci <- as.vector(attr(p, "ci"))
          y <- d0s$variables$.y[in_s & inside0]
          if (all(y == 0) || all(y == 1)) {
            # api.R's convention for a proportion of exactly 0 or 1 (R: no xlogit interval).
            ci <- exact_degenerate(all(y == 1), n, df)
            cat(sprintf("note %s %s %s %s: proportion exactly %d, NCHS interval [%.17g, %.17g]\n",
                        name, ind_id, seg_name, s, as.integer(all(y == 1)), ci[1], ci[2]))
          } else if (identical(se, 0)) {
            ci <- c(est, est)
          } else {
            stopifnot(all.equal(ci, as.vector(plogis(qlogis(est) + c(-1, 1) * qt(0.975, df) *
                                                     se / (est * (1 - est)))), tolerance = 1e-12))
          }
        }
        # Check: the standardised mean by hand, sum_c a_c ybar_cs over the levels present.
        w0 <- weights(d0s)
        a <- shares[present] / sum(shares[present])
        ybar <- vapply(names(a), function(c) {
          r <- in_s & inside0 & as.character(d0s$variables$.by) == c
          sum(w0[r] * d0s$variables$.y[r]) / sum(w0[r])
        }, 0)
        by_hand <- sum(a * ybar)
        # Check: the SE of the contrast sum_c a_c ybar_cs of the crude cell means.
        coefs <- setNames(rep(0, nrow(cells)), cell_names)
        coefs[paste(names(a), s, sep = ".")] <- a
        stopifnot(!anyNA(match(paste(names(a), s, sep = "."), cell_names)))
        contrast <- svycontrast(cells, unname(coefs))
        checks[[length(checks) + 1]] <- data.frame(
          design = name, indicator = ind_id, segment = s, calibrated = calibrated,
          est_diff = abs(est - by_hand) / abs(by_hand),
          contrast_est_diff = abs(est - coef(contrast)[[1]]) / abs(by_hand),
          # relative to the SE, or to the estimate where the SE is 0 up to rounding (hours_std
          # 1|20 in gm-remove: one row per age group present, R's SE 8.9e-16)
          se_diff = abs(se - SE(contrast)[[1]]) / if (se > 1e-12 * abs(est)) se else abs(est))
        rows[[length(rows) + 1]] <- data.frame(
          design = name, indicator = ind_id, segmentation = seg_name, segment = s,
          estimate = num(est), std_error = num(se), ci_lower = num(ci[1]), ci_upper = num(ci[2]),
          df = num(df), n = n, partial = partial)
        cat(sprintf("%-13s %-14s %-18s %-8s n %4d df %4d est %.6g se %.4g%s\n", name, ind_id,
                    seg_name, s, n, df, est, se, if (partial) " PARTIAL" else ""))
      }
      # svyby on std passes the same per-segment subsets (calibrated: weight 0 outside), so the
      # same estimates, SEs and, for svyciprop, degf and intervals.
      if (length(seg)) {
        ours <- do.call(rbind, rows[(length(rows) - length(keys) + 1):length(rows)])
        ours[] <- lapply(ours, function(x) if (is.character(x)) type.convert(x, as.is = TRUE, na.strings = "NA") else x)
        if (ind$kind == "mean") {
          b <- svyby(~.y, ~.seg, std, svymean)
          stopifnot(all.equal(unname(coef(b)), ours$estimate, tolerance = 1e-13),
                    all.equal(unname(SE(b)), ours$std_error, tolerance = 1e-12))
        } else {
          b <- svyby(~I(.y == 1), ~.seg, std, svyciprop, method = "xlogit", vartype = c("se", "ci"))
          ok <- ours$std_error > 1e-10  # not the degenerate rows (p exactly 0 or 1)
          stopifnot(all.equal(unname(coef(b)), ours$estimate, tolerance = 1e-13),
                    all.equal(unname(SE(b)), ours$std_error, tolerance = 1e-12),
                    all.equal(unname(b$ci_l)[ok], ours$ci_lower[ok], tolerance = 1e-12),
                    all.equal(unname(b$ci_u)[ok], ours$ci_upper[ok], tolerance = 1e-12))
        }
      }
    }
  }
}
out <- do.call(rbind, rows)
write.csv(out, file.path(here, "standardize.csv"), row.names = FALSE, quote = TRUE)
checks <- do.call(rbind, checks)
report <- function(x, label) cat(sprintf("%-58s max %.3g\n", label, max(x)))
report(checks$est_diff, "estimate vs sum_c a_c ybar_c by hand (relative)")
report(checks$contrast_est_diff, "estimate vs svycontrast of crude cell means (relative)")
report(checks$se_diff[!checks$calibrated], "SE vs svycontrast SE, uncalibrated designs (relative)")
report(checks$se_diff[checks$calibrated], "SE vs svycontrast SE, gm-rake (relative; not expected 0)")
report(checks$est_diff[checks$calibrated], "gm-rake: estimate vs by hand (relative)")
stopifnot(max(checks$est_diff) < 1e-12, max(checks$contrast_est_diff) < 1e-12,
          max(checks$se_diff[!checks$calibrated]) < 1e-10)
cat("wrote", nrow(out), "rows,", sum(out$partial), "partial;", R.version.string, "/ survey",
    as.character(packageVersion("survey")), "\n")
