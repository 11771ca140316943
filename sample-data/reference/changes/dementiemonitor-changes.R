# Reference values for peiling's changes.parquet (change between waves) on
# pipelines/dementiemonitor.toml, computed with R's `survey` package independently of peiling.
#
# Per wave (2020, 2022, 2024) this re-does what sample-data/reference/dementiemonitor-2024.R does
# for 2024 alone: the cleaning rules of schemas/dementiemonitor.schema.toml, the derivations
# (ediz_som, respijt_gebruik), the raking to sample-data/margins/dementiemonitor-{wave}.csv and
# every indicator x segmentation x segment: estimate, SE and df (R's degf() of the domain, as in
# that script and in peiling). The 2024 values are checked against
# sample-data/reference/dementiemonitor-2024-raked.csv (1e-12 relative) before anything is written.
#
# Then, for every indicator x segmentation x segment, the latest wave (2024) against each earlier
# wave b (2020, 2022), where both waves have a finite estimate and SE (independent samples):
#   difference = est_2024 - est_b
#   std_error  = sqrt(se_2024^2 + se_b^2)
#   df         = (se_2024^2 + se_b^2)^2 / (se_2024^4 / df_2024 + se_b^4 / df_b)
#                (Welch-Satterthwaite; a side with SE 0 adds nothing; NA when std_error is 0)
#   ci         = difference -/+ qt(0.975, df) * std_error
#   p_value    = 2 * pt(-|difference| / std_error, df)
# Every such row is written, including those peiling suppresses (disclosure control is not
# re-implemented here: compare only peiling's non-suppressed rows).
#
# Run from the repository root:  Rscript sample-data/reference/changes/dementiemonitor-changes.R
# Writes sample-data/reference/changes/dementiemonitor-changes.csv. An optional argument, a path,
# also writes the per-wave estimates there (for checking against peiling's estimates.parquet):
#   Rscript sample-data/reference/changes/dementiemonitor-changes.R /tmp/waves.csv
# Accepted rows per wave: 2020 3544, 2022 4458, 2024 9512 (printed when run).
# Made with R 4.2.2 Patched (2022-11-10 r83330) and survey 4.5 (from /opt/rlib).

.libPaths(c("/opt/rlib", .libPaths()))
suppressPackageStartupMessages(library(survey))
options(survey.lonely.psu = "fail")

waves <- c(2020, 2022, 2024)
latest <- max(waves)
out_dir <- "sample-data/reference/changes"
args <- commandArgs(trailingOnly = TRUE)
waves_out <- if (length(args) >= 1) args[[1]] else NA

# --- the schema's rules (as in dementiemonitor-2024.R) --------------------------------------
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
is_missing_code <- function(f, v) !is.null(missing_codes[[f]]) & v %in% missing_codes[[f]]
# Routing rules: broken when `when` is TRUE and `require` is not TRUE (SQL three-valued logic).
is_true <- function(x) !is.na(x) & x
rule_broken <- function(when, require) is_true(when) & !is_true(require)

# The accepted rows of one wave, user-missing codes set to NA, with the derived variables.
clean_wave <- function(wave) {
  raw <- read.csv(sprintf("sample-data/dementiemonitor-%d.csv", wave), sep = ";",
                  colClasses = "character", na.strings = c("", "NA"), check.names = FALSE,
                  encoding = "UTF-8")
  n_read <- nrow(raw)
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
  for (f in names(categories)) {
    v <- coded[[f]]
    bad <- bad | (!is.na(v) & !(v %in% categories[[f]]) & !is_missing_code(f, v))
  }
  for (f in names(ranges)) {
    v <- coded[[f]]
    bad <- bad | (!is.na(v) & !is_missing_code(f, v) & (v < ranges[[f]][1] | v > ranges[[f]][2]))
  }
  bad <- bad | is.na(raw$resp_id) | !grepl("^DM[0-9]{2}-[0-9]{6}$", raw$resp_id)
  bad <- bad | is.na(coded$wave) | is.na(coded$provincie)
  bad <- bad | (!is.na(raw$gemeente) & !grepl("^GM[0-9]{4}$", raw$gemeente))
  bad <- bad | (!is.na(raw$resp_id) & duplicated(raw$resp_id))
  band <- cut(coded$mz_leeftijd, c(-Inf, 35, 45, 55, 65, 75, 85, Inf), right = FALSE,
              labels = FALSE)
  bad <- bad | with(coded,
    rule_broken(woonsituatie_naaste == 3,
                resp_dagbesteding == 7 & resp_logeeropvang == 7 & resp_thuis == 7) |
    rule_broken(woonsituatie_naaste != 3,
                resp_dagbesteding != 7 & resp_logeeropvang != 7 & resp_thuis != 7) |
    rule_broken(!is.na(mz_leeftijd) & !is.na(mz_leeftijd_cat), mz_leeftijd_cat == band) |
    rule_broken(zorgfrequentie == 1 & uren_pw < 997, uren_pw >= 20))

  d <- coded[!bad, ]
  for (f in names(missing_codes)) d[[f]][d[[f]] %in% missing_codes[[f]]] <- NA

  # Derivations.
  items <- as.matrix(d[, sprintf("ediz_%02d", 1:9)])
  answered <- rowSums(!is.na(items))
  points <- rowSums(items >= 3, na.rm = TRUE)
  d$ediz_som <- ifelse(answered >= 8, points * 9 / answered, NA)
  any_used <- d$resp_dagbesteding %in% 1 | d$resp_logeeropvang %in% 1 | d$resp_thuis %in% 1
  none_used <- d$resp_dagbesteding %in% 0 & d$resp_logeeropvang %in% 0 & d$resp_thuis %in% 0
  d$respijt_gebruik <- ifelse(any_used, 1, ifelse(none_used, 0, NA))
  list(d = d, n_read = n_read)
}

# Raked as pipelines/dementiemonitor.toml: calibrate(calfun = "raking") to the wave's margins,
# each variable's shares taken of the rows its categories cover (the design weights are 1), so
# carers of sex 3, outside the sex x age margin, are raked to the province margin only.
raked_design <- function(d, wave) {
  margins <- read.csv(sprintf("sample-data/margins/dementiemonitor-%d.csv", wave),
                      colClasses = "character")
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
  raked <- calibrate(svydesign(ids = ~1, data = cbind(d, dummies), weights = rep(1, nrow(d))),
                     as.formula(paste("~ 0 +", paste(colnames(dummies), collapse = " + "))),
                     population = totals, calfun = "raking", epsilon = 1e-13, maxit = 500)
  stopifnot(max(abs(colSums(dummies * weights(raked)) - totals) / (1 + totals)) < 1e-10)
  raked
}

# Indicators: population (logical, NA = outside) and value.
indicators_of <- function(d) {
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
  indicators
}

segmentations <- list("total", "provincie", "relatie", "woonsituatie_naaste", "werk",
                      "mz_leeftijd_cat", "mz_geslacht", c("relatie", "woonsituatie_naaste"))

# Estimate, SE and df (degf of the domain) of every indicator x segment of one wave's design.
estimate_wave <- function(design, d, wave) {
  indicators <- indicators_of(d)
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
        keys <- "total"
        member <- list(rep(TRUE, nrow(d)))
      } else {
        combos <- unique(d[complete.cases(d[, seg, drop = FALSE]), seg, drop = FALSE])
        combos <- combos[do.call(order, combos), , drop = FALSE]
        keys <- apply(combos, 1, function(r) paste(as.integer(r), collapse = "|"))
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
        m <- svymean(~.value, sub)
        rows[[length(rows) + 1]] <- data.frame(
          indicator = id, kind = kind, segmentation = paste(seg, collapse = "*"),
          segment = unname(keys[i]), wave = wave, n = sum(keep),
          estimate = coef(m)[[1]], std_error = SE(m)[[1]], df = degf(sub))
      }
    }
  }
  do.call(rbind, rows)
}

num <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), "NA")

# --- per wave -------------------------------------------------------------------------------
per_wave <- list()
for (wave in waves) {
  cleaned <- clean_wave(wave)
  d <- cleaned$d
  cat(sprintf("wave %d: %d rows read, %d accepted\n", wave, cleaned$n_read, nrow(d)))
  per_wave[[as.character(wave)]] <- estimate_wave(raked_design(d, wave), d, wave)
}
estimates <- do.call(rbind, per_wave)
rownames(estimates) <- NULL

# --- self-check: 2024 against the existing reference ------------------------------------------
reference <- read.csv("sample-data/reference/dementiemonitor-2024-raked.csv",
                      colClasses = "character")
ours <- estimates[estimates$wave == 2024, ]
key <- function(x) paste(x$indicator, x$segmentation, x$segment, sep = "\r")
stopifnot(setequal(key(ours), key(reference)), nrow(ours) == nrow(reference))
ref <- reference[match(key(ours), key(reference)), ]
relative <- function(a, b) ifelse(a == b, 0, abs(a - b) / pmax(abs(a), abs(b)))
worst <- c(estimate = max(relative(ours$estimate, as.numeric(ref$estimate))),
           std_error = max(relative(ours$std_error, as.numeric(ref$std_error))),
           df = max(relative(ours$df, as.numeric(ref$df))))
cat("2024 against dementiemonitor-2024-raked.csv, max relative difference:\n")
print(worst)
stopifnot(all(worst <= 1e-12), all(ours$n == as.integer(ref$n)))

if (!is.na(waves_out)) {
  write.csv(data.frame(indicator = estimates$indicator, kind = estimates$kind,
                       segmentation = estimates$segmentation, segment = estimates$segment,
                       wave = estimates$wave, n = estimates$n,
                       estimate = num(estimates$estimate), std_error = num(estimates$std_error),
                       df = num(estimates$df)),
            waves_out, row.names = FALSE)
}

# --- changes: the latest wave against each earlier one -----------------------------------------
now <- estimates[estimates$wave == latest, ]
changes <- list()
for (base_wave in setdiff(waves, latest)) {
  base <- estimates[estimates$wave == base_wave, ]
  both <- merge(now, base, by = c("indicator", "segmentation", "segment"),
                suffixes = c("", "_base"))
  both <- both[is.finite(both$estimate) & is.finite(both$estimate_base) &
                 is.finite(both$std_error) & is.finite(both$std_error_base), ]
  v1 <- both$std_error^2
  v0 <- both$std_error_base^2
  se <- sqrt(v1 + v0)
  denominator <- ifelse(v1 > 0, v1^2 / both$df, 0) + ifelse(v0 > 0, v0^2 / both$df_base, 0)
  df <- ifelse(se > 0 & denominator > 0, (v1 + v0)^2 / denominator, NA)
  difference <- both$estimate - both$estimate_base
  t <- ifelse(se > 0, qt(0.975, df), NA)
  changes[[length(changes) + 1]] <- data.frame(
    indicator = both$indicator, segmentation = both$segmentation, segment = both$segment,
    wave = latest, base_wave = base_wave,
    estimate = both$estimate, base_estimate = both$estimate_base, difference = difference,
    std_error = se, df = df, ci_lower = difference - t * se, ci_upper = difference + t * se,
    p_value = ifelse(se > 0, 2 * pt(-abs(difference) / se, df), NA))
}
changes <- do.call(rbind, changes)
changes <- changes[order(changes$indicator, changes$segmentation, changes$segment,
                         changes$base_wave, method = "radix"), ]
for (column in c("estimate", "base_estimate", "difference", "std_error", "df", "ci_lower",
                 "ci_upper", "p_value")) {
  changes[[column]] <- num(changes[[column]])
}
write.csv(changes, file.path(out_dir, "dementiemonitor-changes.csv"), row.names = FALSE)
cat(sprintf("%d changes written to %s\n", nrow(changes),
            file.path(out_dir, "dementiemonitor-changes.csv")))
