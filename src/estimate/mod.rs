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
//!
//! The variance is [`kernel::Stats::variance`] of that influence (Taylor linearisation,
//! Lumley 2010 §2.3, Wolter 2007 ch. 6); `df` is R's `degf()` of the domain (PSUs minus strata
//! with rows in it); `deff` is R's `deff = TRUE`: the variance over that of a simple random
//! sample without replacement of the same size, which needs weights that sum to more than the
//! sample (it is null otherwise, where R gives `Inf` or `NA`).
//!
//! Work is split by segmentation with rayon; each segmentation is one pass over the rows for
//! all indicators, so output does not depend on the thread count.

pub mod ci;
pub mod kernel;

use polars::prelude::*;
use rayon::prelude::*;

use crate::codes::{encode, Key};
use crate::diag::{Diagnostic, Failure};
use crate::spec::{CiMethod, IndicatorKind, IndicatorPlan, Plan, SchemaPlan, Segmentation};
use crate::weight::SurveyDesign;
use kernel::Stats;

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// One estimate: a row of `estimates.parquet` before disclosure control.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateRow {
    pub wave: i32,
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
    let mut rows = Vec::new();
    for design in designs {
        rows.extend(wave(design, plan)?);
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

/// An indicator evaluated on every row: NaN outside its population or where the value is null.
struct IndicatorColumn {
    values: Vec<f64>,
    /// Subtracted from the values before accumulation (see [`indicator_columns`]).
    shift: f64,
}

fn wave(design: &SurveyDesign, plan: &Plan) -> Result<Vec<EstimateRow>, Failure> {
    let columns = indicator_columns(design, &plan.indicators)?;
    let slices: Vec<&[f64]> = columns.iter().map(|c| c.values.as_slice()).collect();
    let segments = plan
        .segmentations
        .iter()
        .map(|s| segment_index(&design.data.analysis, s, &plan.schema))
        .collect::<Result<Vec<_>, _>>()?;

    let results: Vec<Result<Vec<EstimateRow>, Failure>> = segments
        .par_iter()
        .map(|segments| {
            let stats = kernel::accumulate(design, &segments.codes, segments.domains.len(), &slices).map_err(|lonely| {
                let (code, label) = &segments.domains[lonely.domain as usize];
                Failure::from(Diagnostic::error(
                    "E101",
                    format!(
                        "wave {}: stratum {} has only one PSU (lonely_psu = \"fail\"), met by indicator {:?} in segment {} = {} ({label}); \
                         set [design] lonely_psu to remove or certainty, or merge strata",
                        design.wave,
                        design.stratum_keys[lonely.stratum as usize],
                        plan.indicators[lonely.column].id,
                        segments.name,
                        code,
                    ),
                ))
            })?;
            let mut rows = Vec::with_capacity(stats.len());
            for (k, indicator) in plan.indicators.iter().enumerate() {
                for (d, (code, label)) in segments.domains.iter().enumerate() {
                    let s = &stats[k * segments.domains.len() + d];
                    rows.push(row(design.wave, indicator, columns[k].shift, s, &segments.name, code, label));
                }
            }
            Ok(rows)
        })
        .collect();
    let mut rows = Vec::new();
    for result in results {
        rows.extend(result?);
    }
    Ok(rows)
}

/// Evaluates populations and values of all indicators in one polars query.
///
/// Means are accumulated around the unweighted mean of their values (`shift`): the variance
/// form `a²S_AA + 2ab·S_AB + b²S_BB` then never differences large nearly equal terms.
fn indicator_columns(
    design: &SurveyDesign,
    indicators: &[IndicatorPlan],
) -> Result<Vec<IndicatorColumn>, Failure> {
    let mut exprs = Vec::with_capacity(2 * indicators.len());
    for (k, indicator) in indicators.iter().enumerate() {
        let population = indicator.population.clone().unwrap_or(lit(true));
        exprs.push(population.fill_null(lit(false)).alias(format!("p{k}")));
        exprs.push(
            indicator
                .value
                .clone()
                .cast(DataType::Float64)
                .alias(format!("v{k}")),
        );
    }
    let frame = design
        .data
        .analysis
        .clone()
        .lazy()
        .select(exprs)
        .collect()
        .map_err(|e| {
            Failure::from(
                Diagnostic::error(
                    "E001",
                    format!("wave {}: indicators could not be evaluated", design.wave),
                )
                .caused_by(e),
            )
        })?;
    let mut columns = Vec::with_capacity(indicators.len());
    for (k, indicator) in indicators.iter().enumerate() {
        let internal = |e: PolarsError| {
            Failure::internal(Diagnostic::error("E099", "indicator column").caused_by(e))
        };
        let population = frame
            .column(&format!("p{k}"))
            .and_then(|c| c.bool().cloned())
            .map_err(|e| {
                Failure::from(
                    Diagnostic::error(
                        "E002",
                        format!(
                            "indicator {:?}: population {:?} is not a condition",
                            indicator.id,
                            indicator.population_text.as_deref().unwrap_or("")
                        ),
                    )
                    .caused_by(e),
                )
            })?;
        let value = frame
            .column(&format!("v{k}"))
            .and_then(|c| c.f64().cloned())
            .map_err(internal)?;
        let mut values: Vec<f64> = population
            .iter()
            .zip(value.iter())
            .map(|(inside, v)| match (inside, v) {
                (Some(true), Some(v)) if v.is_finite() => v,
                _ => f64::NAN,
            })
            .collect();
        let shift = match indicator.kind {
            IndicatorKind::Mean => {
                if let Some(bad) = values.iter().find(|v| !v.is_nan() && !v.is_finite()) {
                    return Err(Diagnostic::error(
                        "E003",
                        format!("indicator {:?}: value {bad} is not finite", indicator.id),
                    )
                    .into());
                }
                let (sum, count) = values
                    .iter()
                    .filter(|v| !v.is_nan())
                    .fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
                if count > 0 {
                    sum / count as f64
                } else {
                    0.0
                }
            }
            IndicatorKind::Proportion => {
                if let Some(bad) = values
                    .iter()
                    .find(|v| !v.is_nan() && **v != 0.0 && **v != 1.0)
                {
                    return Err(Diagnostic::error(
                        "E004",
                        format!(
                            "indicator {:?}: the value of a proportion must be a condition or 0/1, but {:?} gives {bad}",
                            indicator.id, indicator.value_text
                        ),
                    )
                    .into());
                }
                0.0
            }
            _ => 0.0,
        };
        if shift != 0.0 {
            for v in values.iter_mut().filter(|v| !v.is_nan()) {
                *v -= shift;
            }
        }
        columns.push(IndicatorColumn { values, shift });
    }
    Ok(columns)
}

/// Segment of every row for one segmentation, with each segment's code and label.
struct SegmentIndex {
    name: String,
    codes: Vec<Option<u32>>,
    /// `(segment, segment_label)` per domain, in code order.
    domains: Vec<(String, String)>,
}

fn segment_index(
    frame: &DataFrame,
    segmentation: &Segmentation,
    schema: &SchemaPlan,
) -> Result<SegmentIndex, Failure> {
    let name = segmentation.name();
    if segmentation.is_total() {
        return Ok(SegmentIndex {
            name,
            codes: vec![Some(0); frame.height()],
            domains: vec![("total".to_string(), "Totaal".to_string())],
        });
    }
    let mut per_variable = Vec::with_capacity(segmentation.variables.len());
    for variable in &segmentation.variables {
        let column = frame.column(variable).map_err(|e| {
            Failure::from(
                Diagnostic::error("E005", format!("segment variable {variable:?} not found"))
                    .caused_by(e),
            )
        })?;
        let coded = encode(column).map_err(|e| {
            Failure::internal(
                Diagnostic::error("E099", format!("segment variable {variable:?}")).caused_by(e),
            )
        })?;
        per_variable.push((variable.as_str(), coded));
    }
    // Crossed segments: observed combinations only, in the order of the variables' keys.
    let combined: Vec<Option<Vec<u32>>> = (0..frame.height())
        .map(|row| {
            per_variable
                .iter()
                .map(|(_, coded)| coded.codes[row])
                .collect()
        })
        .collect();
    let mut observed: Vec<Vec<u32>> = combined.iter().flatten().cloned().collect();
    observed.sort();
    observed.dedup();
    let codes = combined
        .iter()
        .map(|c| {
            c.as_ref().map(|c| {
                observed
                    .binary_search(c)
                    .map(|i| i as u32)
                    .unwrap_or(u32::MAX)
            })
        })
        .collect();
    let domains = observed
        .iter()
        .map(|combination| {
            let keys: Vec<(&str, &Key)> = combination
                .iter()
                .zip(&per_variable)
                .map(|(&code, (variable, coded))| (*variable, &coded.keys[code as usize]))
                .collect();
            let segment = keys
                .iter()
                .map(|(_, key)| key.to_string())
                .collect::<Vec<_>>()
                .join("|");
            let label = keys
                .iter()
                .map(|(variable, key)| {
                    schema
                        .field(variable)
                        .and_then(|f| f.label_of(&key.code()))
                        .map_or_else(|| key.to_string(), str::to_string)
                })
                .collect::<Vec<_>>()
                .join(" | ");
            (segment, label)
        })
        .collect();
    Ok(SegmentIndex {
        name,
        codes,
        domains,
    })
}

/// Turns one domain's statistics into an estimate row.
fn row(
    wave: i32,
    indicator: &IndicatorPlan,
    shift: f64,
    s: &Stats,
    segmentation: &str,
    segment: &str,
    label: &str,
) -> EstimateRow {
    let ci_method = match indicator.kind {
        IndicatorKind::Proportion => indicator.ci.as_str(),
        _ => "t",
    };
    let mut out = EstimateRow {
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
        flag: None,
    };
    if s.n == 0 {
        out.flag = Some("empty_domain".to_string());
        return out;
    }
    let df = s.psus as f64 - s.strata as f64;
    let w = s.sum_w;
    let n = s.n as f64;
    let (estimate, variance, srs_variance) = match indicator.kind {
        IndicatorKind::Proportion | IndicatorKind::Mean => {
            let centred = s.sum_wy / w;
            let variance = s.variance(1.0 / w, -centred / w);
            // svyvar: weighted variance with divisor n - 1, then without-replacement SRS.
            let population_variance = (s.sum_wyy / w - centred * centred) * n / (n - 1.0);
            (
                centred + shift,
                variance,
                population_variance * (w - n) / (w * n),
            )
        }
        IndicatorKind::Total => {
            let mean = s.sum_wy / w;
            let population_variance = (s.sum_wyy / w - mean * mean) * n / (n - 1.0);
            (
                s.sum_wy + shift * w,
                s.variance(1.0, 0.0),
                population_variance * w * w * (w - n) / (w * n),
            )
        }
        IndicatorKind::Ratio | IndicatorKind::Quantile => unreachable!("rejected by spec::compile"),
    };
    let se = variance.sqrt();
    out.estimate = Some(estimate);
    out.std_error = Some(se);
    out.df = Some(df);
    out.rse = (estimate != 0.0).then(|| se / estimate.abs());
    out.deff = (s.n > 1 && w > n && srs_variance > 0.0).then(|| variance / srs_variance);
    let interval = match (indicator.kind, indicator.ci) {
        (IndicatorKind::Proportion, CiMethod::Logit) => ci::logit(estimate, se, df, LEVEL),
        _ => ci::t_interval(estimate, se, df, LEVEL),
    };
    match interval {
        Some((lower, upper)) => {
            out.ci_lower = Some(lower);
            out.ci_upper = Some(upper);
        }
        None => out.flag = Some("no_interval".to_string()),
    }
    out
}
