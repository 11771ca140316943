# Reference values for peiling's R-parity tests (tests/it/r_parity.rs).
#
# Computes every indicator of pipelines/dementiemonitor.toml and
# pipelines/dementiemonitor-gewogen.toml on sample-data/dementiemonitor-2024.csv with R's
# `survey` package, independently of peiling: the cleaning rules of
# schemas/dementiemonitor.schema.toml are re-implemented here, so the number of accepted rows is
# checked too.
#
# Run from the repository root:  Rscript sample-data/reference/dementiemonitor-2024.R
# Writes sample-data/reference/dementiemonitor-2024-{unweighted,weighted,raked}.csv and
# dementiemonitor-2024-meta.csv. Made with R 4.2.2 and survey 4.5 (see sample-data/reference/api/
# api.R for how to install it; survey 4.1.1 of Debian gives the same values for these designs).
#
# Conventions (as sample-data/reference/api/api.R, which explains them in full):
# * deff is R's deff = "replace": the design's variance over that of a simple random sample of
#   the same n drawn with replacement (svyvar(y) / n for a mean; no factor 1 - n / N-hat);
# * a proportion of exactly 0 or 1, where R gives no interval, gets the interval of the NCHS
#   Data Presentation Standards for Proportions (2017): Clopper-Pearson at
#   n* = min(n, n * (qt(0.975, n - 1) / qt(0.975, df))^2), [0, qbeta(0.975, 1, n*)] for p = 0
#   and [qbeta(0.025, n*, 1), 1] for p = 1, ci_method "korn-graubard"; where that is undefined
#   (df <= 0 or n <= 1) none (ci NA, ci_method the indicator's own).

.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail")

raw <- read.csv("sample-data/dementiemonitor-2024.csv", sep = ";", colClasses = "character",
                na.strings = c("", "NA"), check.names = FALSE, encoding = "UTF-8")
n_read <- nrow(raw)

# --- validation: the schema's rules --------------------------------------------------------
integer_fields <- c("wave", "mode", "provincie", "mz_geslacht", "mz_leeftijd", "mz_leeftijd_cat",
                    "relatie", "woonsituatie_naaste", "fase_dementie", "duur_mz", "zorgfrequentie",
                    "belasting", sprintf("ediz_%02d", 1:9), "volhoudtijd", "resp_dagbesteding",
                    "resp_logeeropvang", "resp_thuis", "werk", "combineren_problemen")
number_fields <- c("uren_pw", "gewicht")
categories <- list(
  mode = 1:2, provincie = 20:31, mz_geslacht = 1:3, mz_leeftijd_cat = 1:7, relatie = 1:5,
  woonsituatie_naaste = 1:4, fase_dementie = 1:3, duur_mz = 1:5, zorgfrequentie = 1:5,
  belasting = 1:5, volhoudtijd = 1:5, resp_dagbesteding = 0:1, resp_logeeropvang = 0:1,
  resp_thuis = 0:1, werk = 1:7, combineren_problemen = 0:1)
for (i in 1:9) categories[[sprintf("ediz_%02d", i)]] <- 1:5
missing_codes <- list(
  fase_dementie = 8, zorgfrequentie = 9, uren_pw = c(997, 998, 999), belasting = 9,
  volhoudtijd = 8, resp_dagbesteding = 7:8, resp_logeeropvang = 7:8, resp_thuis = 7:8,
  combineren_problemen = 8)
for (i in 1:9) missing_codes[[sprintf("ediz_%02d", i)]] <- 9
ranges <- list(wave = c(2006, 2030), mz_leeftijd = c(12, 110), uren_pw = c(0, 168),
               gewicht = c(0.01, 100))

bad <- rep(FALSE, n_read)
coded <- raw
for (f in integer_fields) {
  x <- raw[[f]]
  ok <- is.na(x) | grepl("^-?[0-9]+$", trimws(x))
  bad <- bad | !ok
  coded[[f]] <- ifelse(ok, suppressWarnings(as.numeric(x)), NA)
}
for (f in number_fields) {
  x <- raw[[f]]
  ok <- is.na(x) | (!grepl("\\.", x) & !is.na(suppressWarnings(as.numeric(sub(",", ".", x)))))
  bad <- bad | !ok
  coded[[f]] <- ifelse(ok, suppressWarnings(as.numeric(sub(",", ".", x))), NA)
}
is_missing_code <- function(f, v) !is.null(missing_codes[[f]]) & v %in% missing_codes[[f]]
for (f in names(categories)) {
  v <- coded[[f]]
  bad <- bad | (!is.na(v) & !(v %in% categories[[f]]) & !is_missing_code(f, v))
}
for (f in names(ranges)) {
  v <- coded[[f]]
  out <- !is.na(v) & !is_missing_code(f, v) & (v < ranges[[f]][1] | v > ranges[[f]][2])
  bad <- bad | out
}
bad <- bad | is.na(raw$resp_id) | !grepl("^DM[0-9]{2}-[0-9]{6}$", raw$resp_id)
bad <- bad | is.na(coded$wave) | is.na(coded$provincie)
bad <- bad | (!is.na(raw$gemeente) & !grepl("^GM[0-9]{4}$", raw$gemeente))
bad <- bad | (!is.na(raw$resp_id) & duplicated(raw$resp_id))
# Routing rules: broken when `when` is TRUE and `require` is not TRUE (SQL three-valued logic).
is_true <- function(x) !is.na(x) & x
rule_broken <- function(when, require) is_true(when) & !is_true(require)
with(coded, {
  band <- cut(mz_leeftijd, c(-Inf, 35, 45, 55, 65, 75, 85, Inf), right = FALSE, labels = FALSE)
  bad <<- bad |
    rule_broken(woonsituatie_naaste == 3,
                resp_dagbesteding == 7 & resp_logeeropvang == 7 & resp_thuis == 7) |
    rule_broken(woonsituatie_naaste != 3,
                resp_dagbesteding != 7 & resp_logeeropvang != 7 & resp_thuis != 7) |
    rule_broken(!is.na(mz_leeftijd) & !is.na(mz_leeftijd_cat), mz_leeftijd_cat == band) |
    rule_broken(zorgfrequentie == 1 & uren_pw < 997, uren_pw >= 20)
})

d <- coded[!bad, ]
for (f in names(missing_codes)) d[[f]][d[[f]] %in% missing_codes[[f]]] <- NA

# --- derivations ---------------------------------------------------------------------------
items <- as.matrix(d[, sprintf("ediz_%02d", 1:9)])
answered <- rowSums(!is.na(items))
points <- rowSums(items >= 3, na.rm = TRUE)
d$ediz_som <- ifelse(answered >= 8, points * 9 / answered, NA)
any_used <- d$resp_dagbesteding %in% 1 | d$resp_logeeropvang %in% 1 | d$resp_thuis %in% 1
none_used <- d$resp_dagbesteding %in% 0 & d$resp_logeeropvang %in% 0 & d$resp_thuis %in% 0
d$respijt_gebruik <- ifelse(any_used, 1, ifelse(none_used, 0, NA))

# --- indicators: population (logical, NA = outside) and value -----------------------------
indicators <- list(
  zwaar_belast = list("proportion", d$belasting %in% 1:5, d$belasting >= 3),
  overbelast = list("proportion", d$belasting %in% 1:5, d$belasting >= 4),
  ediz_hoog = list("proportion", !is.na(d$ediz_som), d$ediz_som >= 7),
  respijt_gebruik = list("proportion", d$woonsituatie_naaste %in% 1:2, d$respijt_gebruik == 1),
  overbelast_onder_respijtgebruikers = list("proportion", d$respijt_gebruik %in% 1, d$belasting >= 4),
  uren_pw_gemiddeld = list("mean", rep(TRUE, nrow(d)), d$uren_pw),
  dagelijkse_zorg = list("proportion", rep(TRUE, nrow(d)), d$zorgfrequentie %in% 1:2 & !is.na(d$zorgfrequentie)),
  combineren_problemen_werkenden = list("proportion", d$werk %in% 1:2, d$combineren_problemen == 1),
  volhoudtijd_max_1_jaar = list("proportion", rep(TRUE, nrow(d)), d$volhoudtijd <= 3))
# SQL `zorgfrequentie IN (1, 2)` is null when zorgfrequentie is null:
indicators$dagelijkse_zorg[[3]][is.na(d$zorgfrequentie)] <- NA

segmentations <- list("total", "provincie", "relatie", "woonsituatie_naaste", "werk",
                      "mz_leeftijd_cat", "mz_geslacht", c("relatie", "woonsituatie_naaste"))

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "NA")

# The NCHS interval of a proportion of exactly 0 or 1 (see the header); NA where undefined.
exact_degenerate <- function(all_one, n, df) {
  if (n <= 1 || df <= 0) return(c(NA, NA))
  n_star <- min(n, n * (qt(0.975, n - 1) / qt(0.975, df))^2)
  if (all_one) c(qbeta(0.025, n_star, 1), 1) else c(0, qbeta(0.975, 1, n_star))
}

estimate_all <- function(design, label, ci_methods) {
  rows <- list()
  for (id in names(indicators)) {
    kind <- indicators[[id]][[1]]
    population <- indicators[[id]][[2]]
    value <- indicators[[id]][[3]]
    inside <- population & !is.na(value)
    # Rows outside the domain add nothing (a calibrated subset keeps them, weighted 0), but R
    # needs them finite.
    design$variables$.value <- ifelse(inside, as.numeric(value), 0)
    for (seg in segmentations) {
      if (identical(seg, "total")) {
        keys <- data.frame(segment = "total")
        member <- list(rep(TRUE, nrow(d)))
      } else {
        combos <- unique(d[complete.cases(d[, seg, drop = FALSE]), seg, drop = FALSE])
        combos <- combos[do.call(order, combos), , drop = FALSE]
        keys <- data.frame(segment = apply(combos, 1, function(r) paste(as.integer(r), collapse = "|")))
        member <- lapply(seq_len(nrow(combos)), function(i) {
          m <- rep(TRUE, nrow(d))
          for (v in seg) m <- m & d[[v]] %in% combos[i, v]
          m
        })
      }
      for (i in seq_along(member)) {
        keep <- member[[i]] & inside
        if (sum(keep) == 0) next
        sub <- subset(design, keep)
        df <- degf(sub)
        m <- svymean(~.value, sub, deff = "replace")
        est <- coef(m)[[1]]
        se <- SE(m)[[1]]
        if (kind == "proportion") {
          method <- ci_methods[[id]]
          if (is.null(method)) method <- "logit"
          r_method <- c(logit = "xlogit", wald = "mean")[[method]]
          ci <- suppressWarnings(confint(svyciprop(~I(.value == 1), sub, method = r_method, df = df)))
          # Where R gives no interval for a proportion of exactly 0 or 1, peiling gives the
          # NCHS interval (method "korn-graubard", flag "ci_korn_graubard"), or none where it is
          # undefined (df <= 0 or n <= 1: ci NA, the method as asked, flag "no_interval").
          # (All values equal: R's weighted mean may round to 1 - 1e-16 and then give [p, p].)
          # (A calibrated design keeps the rows outside a subset, with probability 0.)
          y <- sub$variables$.value[is.finite(sub$prob)]
          if (method != "wald" && (all(y == 0) || all(y == 1))) {
            ci <- exact_degenerate(all(y == 1), sum(keep), df)
            if (all(is.finite(ci))) method <- "korn-graubard"
          }
        } else {
          method <- "t"
          ci <- confint(m, df = df)
        }
        rows[[length(rows) + 1]] <- data.frame(
          design = label, indicator = id, kind = kind,
          segmentation = paste(seg, collapse = "*"), segment = keys$segment[i],
          ci_method = method, estimate = num(est), std_error = num(se),
          ci_lower = num(ci[1]), ci_upper = num(ci[2]), df = num(df), n = sum(keep),
          n_weighted = num(sum(weights(sub))), deff = num(deff(m)[[1]]))
      }
    }
  }
  do.call(rbind, rows)
}

unweighted <- svydesign(ids = ~1, data = d, weights = rep(1, nrow(d)))
weighted <- svydesign(ids = ~1, strata = ~provincie, weights = ~gewicht, data = d, nest = TRUE)

write.csv(estimate_all(unweighted, "unweighted", list()),
          "sample-data/reference/dementiemonitor-2024-unweighted.csv", row.names = FALSE)
write.csv(estimate_all(weighted, "weighted", list(dagelijkse_zorg = "wald")),
          "sample-data/reference/dementiemonitor-2024-weighted.csv", row.names = FALSE)
# Raked as pipelines/dementiemonitor.toml: calibrate(calfun = "raking") to the 2024 margins,
# each variable's shares taken of the rows its categories cover (the design weights are 1), so
# carers of sex 3, outside the sex x age margin, are raked to the province margin only.
margins <- read.csv("sample-data/margins/dementiemonitor-2024.csv", colClasses = "character")
dummies <- NULL
totals <- c()
for (v in unique(margins$variable)) {
  m <- margins[margins$variable == v, ]
  columns <- strsplit(v, "*", fixed = TRUE)[[1]]
  key <- do.call(paste, c(lapply(columns, function(c) as.integer(d[[c]])), sep = "|"))
  x <- sapply(m$category, function(category) as.numeric(!is.na(key) & key == category))
  dummies <- cbind(dummies, x)
  totals <- c(totals, as.numeric(m$target) * sum(x))
}
colnames(dummies) <- names(totals) <- paste0(".margin", seq_len(ncol(dummies)))
raked_data <- cbind(d, dummies)
raked <- calibrate(svydesign(ids = ~1, data = raked_data, weights = rep(1, nrow(d))),
                   as.formula(paste("~ 0 +", paste(colnames(dummies), collapse = " + "))),
                   population = totals, calfun = "raking", epsilon = 1e-13, maxit = 500)
stopifnot(max(abs(colSums(dummies * weights(raked)) - totals) / (1 + totals)) < 1e-10)
write.csv(estimate_all(raked, "raked", list()),
          "sample-data/reference/dementiemonitor-2024-raked.csv", row.names = FALSE)

write.csv(data.frame(rows_read = n_read, rows_accepted = nrow(d),
                     r_version = R.version.string,
                     survey_version = as.character(packageVersion("survey"))),
          "sample-data/reference/dementiemonitor-2024-meta.csv", row.names = FALSE)
