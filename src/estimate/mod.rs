//! Design-based estimates of every indicator in every segment, with R `survey` semantics.
//!
//! A segment, and an indicator's population, is a **domain** of the full design: rows outside
//! it stay in the design with zero contribution (R `subset()` / `svyby`), and rows whose value
//! is null are outside (R `na.rm = TRUE`). Estimators and the R calls they match:
//!
//! | kind       | estimate          | influence `z_j`             | R                                   |
//! |------------|-------------------|-----------------------------|-------------------------------------|
//! | proportion | `Σwy / Σw`, y∈{0,1} | `(A_j - p·B_j) / W`       | `svyciprop(~I(...), method = ...)`  |
//! | mean       | `Σwy / Σw`        | `(A_j - ȳ·B_j) / W`         | `svymean(~y, na.rm = TRUE)`         |
//! | total      | `Σwy`             | `A_j`                       | `svytotal(~y, na.rm = TRUE)`        |
//! | ratio      | `Σwy / Σwx`       | `(A_j - R·B_j) / X`, B = Σwx | `svyratio(~y, ~x, na.rm = TRUE)`   |
//! | quantile   | see `quantile`    | of the share `y <= q̂`       | `svyquantile(qrule = "math")`       |
//!
//! The variance is [`kernel::Stats::variance`] of that influence (Taylor linearisation,
//! Lumley 2010 §2.3, Wolter 2007 ch. 6), of its calibration residuals in a calibrated design
//! ([`calibrated`]); `df` is R's `degf()` of the domain (PSUs minus strata
//! with rows in it); `deff` is R's `deff = "replace"`: the variance over that of a simple
//! random sample of the same size drawn with replacement (`svyvar / n`). Unlike R's
//! `deff = TRUE` (without replacement, with N̂ = Σw), it does not change when every weight is
//! multiplied by a constant, so weights raked to shares (Σw ≈ n) get a meaningful one.
//!
//! Each segmentation is one call of [`kernel::accumulate`] for all indicators (quantiles take
//! another, for their interval); the kernel splits rows into chunks for rayon and merges them
//! in a fixed order, so output does not depend on the thread count.
//!
//! Intervals ([`ci`]): proportions by their `ci` method; where R gives none for a proportion of
//! exactly 0 or 1, the Clopper–Pearson interval at n* = n adjusted for the design's degrees of
//! freedom (NCHS 2017, [`ci::exact_degenerate`]), with `ci_method = "korn-graubard"` and flag
//! `ci_korn_graubard`. Means, totals and ratios: `estimate ± t(df)·SE`.

pub mod calibrated;
pub mod ci;
pub mod evaluate;
pub mod kernel;
pub mod model;
pub mod quantile;
pub mod standardize;

use crate::diag::{catalog, Diagnostic, Failure, Progress};
use crate::spec::Wave;
use crate::spec::{CiMethod, IndicatorKind, IndicatorPlan, Plan};
use crate::weight::SurveyDesign;
use kernel::Stats;

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// One estimate: a row of `estimates.parquet` before disclosure control.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateRow {
    pub wave: Wave,
    pub indicator: String,
    pub kind: IndicatorKind,
    pub segmentation: String,
    pub segment: String,
    pub segment_label: String,
    pub estimate: Option<f64>,
    pub std_error: Option<f64>,
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
    pub ci_method: String,
    pub df: Option<f64>,
    pub n: i64,
    pub n_weighted: f64,
    pub deff: Option<f64>,
    pub rse: Option<f64>,
    /// Proportions: unweighted count of yes answers (for disclosure control; not published).
    pub n_yes: Option<i64>,
    pub flag: Option<String>,
}

/// All estimates of a run, sorted by indicator, segmentation, segment and wave.
#[derive(Debug, Clone, Default)]
pub struct EstimateTable {
    pub rows: Vec<EstimateRow>,
}

/// Estimates every indicator × segmentation × wave.
pub fn all(designs: &[SurveyDesign], plan: &Plan) -> Result<EstimateTable, Failure> {
    all_with_progress(designs, plan, &())
}

/// [`all`], reporting a step per wave × segmentation done.
pub fn all_with_progress(
    designs: &[SurveyDesign],
    plan: &Plan,
    progress: &dyn Progress,
) -> Result<EstimateTable, Failure> {
    estimate_all(designs, plan, progress, evaluate::SLICE_ROWS)
}

/// [`all`] with the indicators evaluated in slices of `slice_rows` rows (see
/// [`evaluate::SLICE_ROWS`]); the estimates do not depend on it.
pub fn all_in_slices(
    designs: &[SurveyDesign],
    plan: &Plan,
    slice_rows: usize,
) -> Result<EstimateTable, Failure> {
    estimate_all(designs, plan, &(), slice_rows)
}

fn estimate_all(
    designs: &[SurveyDesign],
    plan: &Plan,
    progress: &dyn Progress,
    slice_rows: usize,
) -> Result<EstimateTable, Failure> {
    let steps: usize = designs.iter().map(|d| d.segments.len()).sum();
    progress.steps("segmentations", steps as u64);
    let mut rows = Vec::new();
    for design in designs {
        rows.extend(wave(design, plan, progress, slice_rows)?);
    }
    rows.sort_by(|a, b| {
        (&a.indicator, &a.segmentation, &a.segment, a.wave).cmp(&(
            &b.indicator,
            &b.segmentation,
            &b.segment,
            b.wave,
        ))
    });
    Ok(EstimateTable { rows })
}

fn wave(
    design: &SurveyDesign,
    plan: &Plan,
    progress: &dyn Progress,
    slice_rows: usize,
) -> Result<Vec<EstimateRow>, Failure> {
    let columns = evaluate::indicator_columns(design, plan, slice_rows)?;
    // Quantiles take a pass of their own (below); the rest share one pass per segmentation.
    let linear: Vec<usize> = (0..plan.indicators.len())
        .filter(|&k| {
            plan.indicators[k].kind != IndicatorKind::Quantile
                && plan.indicators[k].standardize.is_none()
        })
        .collect();
    let categories = standard_categories(design, plan)?;
    let kernel_columns: Vec<kernel::Column> = linear
        .iter()
        .map(|&k| kernel::Column {
            y: columns[k].values.view(),
            x: columns[k].denominators.as_deref(),
            centre: plan.indicators[k].kind != IndicatorKind::Total,
        })
        .collect();
    let layout = kernel::Layout::of(design);
    let segmentations: Vec<(&[u32], usize)> = design
        .segments
        .iter()
        .map(|s| (s.codes.as_slice(), s.domains.len()))
        .collect();
    let shifts = kernel::centres(&layout, &segmentations, &kernel_columns);
    let projection = design
        .calibration
        .as_ref()
        .and_then(|c| calibrated::Projection::new(&layout, c));
    let calibration = design
        .calibration
        .as_ref()
        .map(|c| (c, projection.as_ref()));

    // Quantiles and standardised indicators read their values as plain numbers.
    let plain: Vec<Vec<f64>> = plan
        .indicators
        .iter()
        .zip(&columns)
        .map(|(indicator, column)| {
            if indicator.kind == IndicatorKind::Quantile || indicator.standardize.is_some() {
                column.values.view().to_vec()
            } else {
                Vec::new()
            }
        })
        .collect();

    let mut rows = Vec::new();
    for (segments, shift) in design.segments.iter().zip(&shifts) {
        let n_domains = segments.domains.len();
        let lonely = |lonely: kernel::LonelyStratum, indicator: &str| {
            let (code, label) = &segments.domains[lonely.domain as usize];
            Failure::from(Diagnostic::error(
                catalog::E101,
                format!(
                    "wave {}: stratum {} has only one PSU (lonely_psu = \"fail\"), met by indicator {indicator:?} in segment {} = {code} ({label}); \
                     set [design] lonely_psu to remove, adjust, average or certainty, or merge strata",
                    design.wave,
                    design.stratum_keys[lonely.stratum as usize],
                    segments.name,
                ),
            ))
        };
        let named = |e: kernel::LonelyStratum| {
            let id = &plan.indicators[linear[e.column]].id;
            lonely(e, id)
        };
        let mut stats =
            kernel::accumulate(&layout, &segments.codes, n_domains, &kernel_columns, shift)
                .map_err(named)?;
        if let Some((calibration, projection)) = calibration {
            calibrated::residualise(
                &layout,
                calibration,
                projection,
                &segments.codes,
                n_domains,
                &kernel_columns,
                &mut stats,
            )
            .map_err(named)?;
        }
        for (j, &k) in linear.iter().enumerate() {
            let indicator = &plan.indicators[k];
            for (d, (code, label)) in segments.domains.iter().enumerate() {
                let s = &stats[j * n_domains + d];
                let mut out = row(design.wave, indicator, &segments.name, code, label, s);
                linear_estimate(&mut out, indicator, s);
                rows.push(out);
            }
        }
        for (k, indicator) in plan.indicators.iter().enumerate() {
            if indicator.kind != IndicatorKind::Quantile {
                continue;
            }
            let estimates = quantile::estimate(
                &layout,
                &segments.codes,
                n_domains,
                &plain[k],
                indicator.probability.unwrap_or(0.5),
                calibration,
            )
            .map_err(|e| lonely(e, &indicator.id))?;
            for (d, (code, label)) in segments.domains.iter().enumerate() {
                let q = &estimates[d];
                let mut out = row(
                    design.wave,
                    indicator,
                    &segments.name,
                    code,
                    label,
                    &q.stats,
                );
                quantile_estimate(&mut out, q);
                rows.push(out);
            }
        }
        for (k, indicator) in plan.indicators.iter().enumerate() {
            let Some(standardize) = &indicator.standardize else {
                continue;
            };
            let shares: Vec<f64> = standardize.shares.iter().map(|(_, s)| *s).collect();
            let estimates = standardize::estimate(
                &layout,
                &segments.codes,
                n_domains,
                &plain[k],
                &categories[&standardize.by],
                &shares,
                design.calibration.as_ref(),
            )
            .map_err(|e| lonely(e, &indicator.id))?;
            for (d, (code, label)) in segments.domains.iter().enumerate() {
                let e = &estimates[d];
                let mut out = row(
                    design.wave,
                    indicator,
                    &segments.name,
                    code,
                    label,
                    &e.stats,
                );
                if indicator.kind == IndicatorKind::Proportion {
                    out.n_yes = Some(e.positive as i64);
                }
                if e.missing_categories > 0 && e.stats.n > 0 {
                    push_flag(&mut out, "standardized_partial");
                }
                if e.stats.n > 0 {
                    let (df, n) = (degf(&e.stats), e.stats.n as f64);
                    publish(&mut out, indicator, e.estimate, e.variance, None, df, n);
                }
                rows.push(out);
            }
        }
        progress.step();
    }
    Ok(rows)
}

/// The category of the standard population of every row (design order), per `by` column of a
/// standardised indicator; [`NULL`](crate::levels::NULL) where the column is null.
fn standard_categories(
    design: &SurveyDesign,
    plan: &Plan,
) -> Result<std::collections::HashMap<String, Vec<u32>>, Failure> {
    let mut out = std::collections::HashMap::new();
    for standardize in plan
        .indicators
        .iter()
        .filter_map(|i| i.standardize.as_ref())
    {
        if out.contains_key(&standardize.by) {
            continue;
        }
        let column = design.data.analysis.column(&standardize.by).map_err(|e| {
            Failure::internal(
                Diagnostic::error(
                    catalog::E099,
                    format!(
                        "internal: column {:?} is not in the analysis data",
                        standardize.by
                    ),
                )
                .caused_by(e),
            )
        })?;
        let coded = crate::levels::encode(column).map_err(|e| {
            Failure::internal(
                Diagnostic::error(
                    catalog::E099,
                    format!("internal: column {:?} could not be coded", standardize.by),
                )
                .caused_by(e),
            )
        })?;
        let mut lookup = Vec::with_capacity(coded.keys.len());
        for key in &coded.keys {
            let name = key.to_string();
            let Some(c) = standardize.shares.iter().position(|(c, _)| *c == name) else {
                return Err(Diagnostic::error(
                    catalog::E005,
                    format!(
                        "wave {}: category {name} of {:?} has no share in the standard population {}",
                        design.wave,
                        standardize.by,
                        standardize.path.display()
                    ),
                )
                .into());
            };
            lookup.push(c as u32);
        }
        let categories = coded
            .codes
            .iter()
            .map(|&c| {
                if c == crate::levels::NULL {
                    c
                } else {
                    lookup[c as usize]
                }
            })
            .collect();
        out.insert(standardize.by.clone(), categories);
    }
    Ok(out)
}

/// The row of one domain, before its estimate: identity, sizes and the empty-domain flag.
fn row(
    wave: Wave,
    indicator: &IndicatorPlan,
    segmentation: &str,
    segment: &str,
    label: &str,
    s: &Stats,
) -> EstimateRow {
    let ci_method = match indicator.kind {
        IndicatorKind::Proportion => indicator.ci.as_str(),
        IndicatorKind::Quantile => "woodruff",
        _ => "t",
    };
    EstimateRow {
        wave,
        indicator: indicator.id.clone(),
        kind: indicator.kind,
        segmentation: segmentation.to_string(),
        segment: segment.to_string(),
        segment_label: label.to_string(),
        estimate: None,
        std_error: None,
        ci_lower: None,
        ci_upper: None,
        ci_method: ci_method.to_string(),
        df: None,
        n: s.n as i64,
        n_weighted: s.sum_w,
        deff: None,
        rse: None,
        n_yes: (indicator.kind == IndicatorKind::Proportion).then_some(s.n_positive as i64),
        flag: (s.n == 0).then(|| "empty_domain".to_string()),
    }
}

/// Domain degrees of freedom, R's `degf()` of the subset design.
fn degf(s: &Stats) -> f64 {
    s.psus as f64 - s.strata as f64
}

/// Proportion, mean, total and ratio: estimate, SE, interval and deff from the statistics.
fn linear_estimate(out: &mut EstimateRow, indicator: &IndicatorPlan, s: &Stats) {
    if s.n == 0 {
        return;
    }
    let df = degf(s);
    let w = s.sum_w;
    let n = s.n as f64;
    // svyvar: the weighted variance with divisor n - 1 ...
    let svyvar = |sum_square: f64, mean: f64| (sum_square / w - mean * mean) * n / (n - 1.0);
    // ... over n: the variance of a simple random sample with replacement (R's
    // `deff = "replace"`), which does not depend on how the weights are scaled.
    let srs = 1.0 / n;
    let (estimate, variance, srs_variance) = match indicator.kind {
        IndicatorKind::Proportion | IndicatorKind::Mean => {
            let centred = s.sum_wy / w;
            (
                centred + s.shift,
                s.variance(1.0 / w, -centred / w),
                svyvar(s.sum_wyy, centred) * srs,
            )
        }
        IndicatorKind::Total => (
            s.sum_wy,
            s.variance(1.0, 0.0),
            svyvar(s.sum_wyy, s.sum_wy / w) * w * w * srs,
        ),
        IndicatorKind::Ratio => {
            // svyratio: R = Y/X, influence (y - R·x)/X; deff as svytotal of that influence.
            // All in centred values y - K·x, whose ratio is R - K.
            let x = s.sum_wx;
            let ratio = s.sum_wy / x;
            let residual_square =
                (s.sum_wyy - 2.0 * ratio * s.sum_wxy + ratio * ratio * s.sum_wxx) / (x * x);
            let residual_mean = (s.sum_wy - ratio * x) / x / w;
            (
                ratio + s.shift,
                s.variance(1.0 / x, -ratio / x),
                svyvar(residual_square, residual_mean) * w * w * srs,
            )
        }
        IndicatorKind::Quantile => unreachable!("quantiles are estimated in estimate::quantile"),
    };
    let srs_variance = (s.n > 1 && !s.values.constant()).then_some(srs_variance);
    publish(out, indicator, estimate, variance, srs_variance, df, n);
}

/// Fills in an estimate with its variance: SE, rse, deff (over `srs_variance`, where there is
/// one) and the interval of the indicator's method.
fn publish(
    out: &mut EstimateRow,
    indicator: &IndicatorPlan,
    estimate: f64,
    variance: f64,
    srs_variance: Option<f64>,
    df: f64,
    n: f64,
) {
    let se = variance.sqrt();
    out.estimate = Some(estimate);
    out.df = Some(df);
    // A constant value has no deff (0/0), however its sums of squares round.
    out.deff = srs_variance
        .filter(|&srs| srs > 0.0 && variance.is_finite())
        .map(|srs| variance / srs);
    if !se.is_finite() {
        push_flag(out, "no_variance");
        return;
    }
    out.std_error = Some(se);
    out.rse = (estimate != 0.0).then(|| se / estimate.abs());
    let interval = match (indicator.kind, indicator.ci) {
        (IndicatorKind::Proportion, CiMethod::Logit) => ci::logit(estimate, se, df, LEVEL),
        (IndicatorKind::Proportion, CiMethod::KornGraubard) => {
            ci::korn_graubard(estimate, se, n, df, LEVEL)
        }
        (IndicatorKind::Proportion, CiMethod::Wilson) => ci::wilson(estimate, se, df, LEVEL),
        _ => ci::t_interval(estimate, se, df, LEVEL),
    };
    // Where R gives no interval for a proportion of exactly 0 or 1, give the exact one.
    let interval = match interval {
        None if indicator.kind == IndicatorKind::Proportion && indicator.ci != CiMethod::Wald => {
            ci::exact_degenerate(estimate, n, df, LEVEL).inspect(|_| {
                out.ci_method = CiMethod::KornGraubard.as_str().to_string();
                push_flag(out, "ci_korn_graubard");
            })
        }
        other => other,
    };
    set_interval(out, interval);
}

fn set_interval(out: &mut EstimateRow, interval: Option<ci::Interval>) {
    match interval {
        Some((lower, upper)) if lower.is_finite() && upper.is_finite() => {
            out.ci_lower = Some(lower);
            out.ci_upper = Some(upper);
        }
        _ => push_flag(out, "no_interval"),
    }
}

fn push_flag(out: &mut EstimateRow, flag: &str) {
    out.flag = Some(match out.flag.take() {
        Some(flags) => format!("{flags};{flag}"),
        None => flag.to_string(),
    });
}

/// A quantile: R's `svyquantile(qrule = "math", interval.type = "mean")`.
fn quantile_estimate(out: &mut EstimateRow, q: &quantile::Estimate) {
    let Some(estimate) = q.estimate else {
        return;
    };
    out.estimate = Some(estimate);
    out.df = Some(degf(&q.stats));
    match (q.ci_lower, q.ci_upper, q.std_error) {
        (Some(lower), Some(upper), Some(se)) => {
            out.ci_lower = Some(lower);
            out.ci_upper = Some(upper);
            out.std_error = Some(se);
            out.rse = (estimate != 0.0).then(|| se / estimate.abs());
        }
        _ => push_flag(out, "no_interval"),
    }
}
