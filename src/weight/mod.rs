//! The survey design: weights, strata, PSUs and finite population corrections, resolved into
//! dense arrays once per wave.
//!
//! Matches R `svydesign(ids = ~psu or ~1, strata = ~strata, weights = ~weight, fpc = ~fpc,
//! nest = TRUE)`: PSU identifiers are unique within a stratum (`nest`), an absent PSU makes
//! every row its own PSU, and an `fpc` value at most 1 is a sampling fraction `f_h` while a
//! larger one is the population number of PSUs `N_h` in the stratum (`f_h = n_h / N_h`). An
//! absent weight is `N_h / n_h` with an fpc (as R derives the weights from it) and 1 without.
//! Calibration to population margins ([`calibrate`]) replaces the weights and leaves its record
//! in the design for the variance. `segments` codes the segment of every row (and each margin
//! variable's category) once; `report` describes the weights for `weights.json`.

pub mod calibrate;
mod order;
mod report;
mod segments;

pub use report::{SegmentWeights, WeightSummary, WeightsReport};

use order::DesignOrder;
use segments::{code_margins, ColumnCodes};
pub use segments::{segment_index, SegmentIndex};

use polars::prelude::*;
use rayon::prelude::*;

use crate::derive::DerivedFrame;
use crate::diag::{catalog, Diagnostic, Failure};
use crate::levels::{Coded, Key, NULL};
use crate::spec::Wave;
use crate::spec::{DesignPlan, LonelyPsu, Plan, SchemaPlan, Segmentation, WeightingPlan};
pub use calibrate::Calibration;

/// One wave's data with its design, ready for estimation.
#[derive(Debug, Clone)]
pub struct SurveyDesign {
    pub wave: Wave,
    pub data: DerivedFrame,
    pub weights: Vec<f64>,
    /// Dense stratum per row (all 0 without strata).
    pub strata: Vec<u32>,
    pub stratum_keys: Vec<Key>,
    /// Number of PSUs per stratum in the full design (`n_h`).
    pub psus_per_stratum: Vec<u32>,
    /// `1 - f_h` per stratum (1 without fpc).
    pub fpc_factor: Vec<f64>,
    /// Rows ordered by stratum, then PSU: every PSU is a contiguous run.
    pub order: Vec<u32>,
    /// Start of each PSU run in `order`, plus `order.len()` at the end.
    pub psu_starts: Vec<u32>,
    /// Stratum of each PSU run.
    pub psu_stratum: Vec<u32>,
    pub lonely_psu: LonelyPsu,
    /// R's `survey.adjust.domain.lonely`.
    pub adjust_domain_lonely: bool,
    /// Weights in design order (`weights[order[i]]`); `data.analysis` is in design order too
    /// and holds only the columns indicators and models read ([`Plan::estimated_columns`]),
    /// `data.coded` (every column) and `weights` are in the order of the accepted rows.
    pub ordered_weights: Vec<f64>,
    /// The PSU runs cut into chunks for the parallel kernel.
    pub chunks: Vec<(usize, usize)>,
    /// Every segmentation of the plan, coded once per wave.
    pub segments: Vec<SegmentIndex>,
    pub description: String,
    /// The design weights before calibration, in the order of the accepted rows; `None`
    /// without calibration, where they are `weights` ([`SurveyDesign::design_weights`]).
    pub uncalibrated: Option<Vec<f64>>,
    /// Calibration to population margins, if the pipeline asks for it.
    pub calibration: Option<Calibration>,
}

impl SurveyDesign {
    pub fn rows(&self) -> usize {
        self.weights.len()
    }

    /// The design weights before calibration, in the order of the accepted rows.
    pub fn design_weights(&self) -> &[f64] {
        self.uncalibrated.as_deref().unwrap_or(&self.weights)
    }

    pub fn psus(&self) -> usize {
        self.psu_stratum.len()
    }
}

/// Names accepted row `row` (0-based, in the order of the accepted rows) of `frame` for a
/// diagnostic: by its primary key, or by its number where the schema has none.
pub fn describe_row(frame: &DataFrame, schema: &SchemaPlan, row: usize) -> String {
    let key: Vec<String> = schema
        .primary_key
        .iter()
        .filter_map(|k| {
            frame
                .column(k)
                .ok()?
                .get(row)
                .ok()
                .map(|v| v.str_value().to_string())
        })
        .collect();
    if key.is_empty() {
        format!("accepted row {}", row + 1)
    } else {
        format!("respondent {}", key.join("|"))
    }
}

/// Builds the design of one wave as the pipeline declares it: its design, weighting, schema
/// (to name respondents in errors) and segmentations.
pub fn of_plan(data: DerivedFrame, plan: &Plan) -> Result<SurveyDesign, Failure> {
    apply(
        data,
        &plan.design,
        plan.weighting.as_ref(),
        &plan.schema,
        &plan.segmentations,
        &plan.estimated_columns(),
    )
}

/// Builds the design of one wave.
pub fn apply(
    data: DerivedFrame,
    plan: &DesignPlan,
    weighting: Option<&WeightingPlan>,
    schema: &SchemaPlan,
    segmentations: &[Segmentation],
    estimated: &std::collections::BTreeSet<String>,
) -> Result<SurveyDesign, Failure> {
    let frame = &data.analysis;
    let rows = frame.height();
    let describe_row = |row: usize| describe_row(frame, schema, row);

    // Every column the design codes, once each: strata, PSUs, segment and margin variables.
    let margins = weighting.and_then(|w| w.margins(data.wave));
    let coded_names = [&plan.strata, &plan.psu]
        .into_iter()
        .flatten()
        .chain(segmentations.iter().flat_map(|s| &s.variables))
        .chain(
            margins
                .iter()
                .flat_map(|m| &m.variables)
                .flat_map(|v| &v.columns),
        )
        .map(String::as_str);
    // The weights are read and checked beside the coding (a design of one stratum column and
    // one segmentation codes one column: one thread's work).
    let (weights, mut codes) = rayon::join(
        || sampling_weights(frame, schema, plan.weight.as_deref()),
        || ColumnCodes::of(frame, coded_names),
    );
    let weights = weights?;

    // Dense codes of a design column; a missing value is an error naming the respondent.
    let required_codes =
        |name: &str, code: catalog::Entry, what: &str| -> Result<&Coded, Failure> {
            design_column(frame, name)?;
            let coded = codes.get(name).map_err(|e| {
                Failure::internal(
                    Diagnostic::error(
                        catalog::W099,
                        format!("internal: the {what} column {name:?} could not be coded"),
                    )
                    .caused_by(e),
                )
            })?;
            if let Some(row) = coded.codes.iter().position(|&c| c == NULL) {
                return Err(Failure::from(Diagnostic::error(
                    code,
                    format!("{what} {name:?} of {} is missing", describe_row(row)),
                )));
            }
            Ok(coded)
        };

    // The strata's codes are borrowed from the coded columns (and moved out of them at the
    // end), not copied.
    let mut no_strata = Vec::new();
    let (strata, stratum_keys): (&[u32], Vec<Key>) = match &plan.strata {
        None => {
            no_strata = vec![0u32; rows];
            (&no_strata, vec![Key::Str("all".into())])
        }
        Some(name) => {
            let coded = required_codes(name, catalog::W003, "stratum")?;
            (&coded.codes, coded.keys.clone())
        }
    };

    // PSUs nested in strata: the pair (stratum, psu) identifies a PSU; without a PSU column,
    // every row is one.
    let psu_codes: Option<&[u32]> = match &plan.psu {
        None => None,
        Some(name) => Some(&required_codes(name, catalog::W004, "PSU")?.codes),
    };
    let design_order = DesignOrder::new(strata, psu_codes);
    let order = &design_order.order;
    // Given the design order, its runs (with the fpc and the weights in design order), the
    // analysis frame, and the segments are independent: built beside each other.
    let runs = || {
        Runs::of(
            frame,
            plan,
            &design_order,
            strata,
            &stratum_keys,
            psu_codes,
            weights,
        )
    };
    let analysis = || analysis_frame(frame, estimated, &design_order);
    // Each segmentation in parallel.
    let segments = || -> Vec<Result<SegmentIndex, Failure>> {
        segmentations
            .par_iter()
            .map(|s| codes.segments(s, schema, Some(&design_order)))
            .collect()
    };
    let (runs, (analysis, segments)) = rayon::join(runs, || rayon::join(analysis, segments));
    // The first error as if built one after the other: the runs' (fpc), the analysis frame's,
    // then the segmentations' in spec order.
    let Runs {
        psu_starts,
        psu_stratum,
        psus_per_stratum,
        chunks,
        fpc_factor,
        mut weights,
        mut ordered_weights,
    } = runs?;
    let analysis = analysis?;
    let segments = segments.into_iter().collect::<Result<_, _>>()?;
    let description = describe(plan);
    let mut calibration = None;
    let mut uncalibrated = None;
    if let Some(margins) = margins {
        let weighting = weighting.expect("margins come from the weighting plan");
        let coded = code_margins(&codes, &design_order, margins, schema, data.wave)?;
        let (calibrated, record) =
            calibrate::calibrate(weighting, data.wave, &coded, &ordered_weights)?;
        uncalibrated = Some(weights.clone());
        for (&row, &w) in order.iter().zip(&calibrated) {
            weights[row as usize] = w;
        }
        ordered_weights = calibrated;
        calibration = Some(record);
    }
    let strata = match &plan.strata {
        None => no_strata,
        Some(name) => codes.take(name).map_err(|e| {
            Failure::internal(
                Diagnostic::error(
                    catalog::W099,
                    format!("internal: the stratum column {name:?} was not coded"),
                )
                .caused_by(e),
            )
        })?,
    };
    drop(codes);
    let mut data = data;
    data.analysis = analysis;
    Ok(SurveyDesign {
        wave: data.wave,
        data,
        weights,
        strata,
        stratum_keys,
        psus_per_stratum,
        fpc_factor,
        order: design_order.order,
        psu_starts,
        psu_stratum,
        lonely_psu: plan.lonely_psu,
        adjust_domain_lonely: plan.adjust_domain_lonely,
        ordered_weights,
        chunks,
        segments,
        description,
        uncalibrated,
        calibration,
    })
}

/// The analysis frame in design order, once: indicators evaluated on it come out ready for the
/// kernel, without a gather per indicator. Only the columns the estimates and the models read
/// (`estimated`); segments and margins are coded in the rows' order and their codes put in
/// design order.
fn analysis_frame(
    frame: &DataFrame,
    estimated: &std::collections::BTreeSet<String>,
    order: &DesignOrder,
) -> Result<DataFrame, Failure> {
    let names: Vec<PlSmallStr> = frame
        .get_column_names()
        .into_iter()
        .filter(|name| estimated.contains(name.as_str()))
        .cloned()
        .collect();
    frame
        .select(names)
        .and_then(|frame| order.frame(&frame))
        .map_err(|e| {
            Failure::internal(
                Diagnostic::error(
                    catalog::W099,
                    "internal: the data could not be sorted into design order",
                )
                .caused_by(e),
            )
        })
}

/// A design's PSU runs in design order with their strata, the fpc, and the weights in the rows'
/// order and in design order: all the kernel reads of the design besides the data.
struct Runs {
    psu_starts: Vec<u32>,
    psu_stratum: Vec<u32>,
    psus_per_stratum: Vec<u32>,
    chunks: Vec<(usize, usize)>,
    fpc_factor: Vec<f64>,
    weights: Vec<f64>,
    ordered_weights: Vec<f64>,
}

impl Runs {
    /// The runs of the rows in design `order`, their dense `strata` and `psus` (none: every
    /// row a PSU) and their sampling `weights` (replaced by the fpc's `N_h / n_h` without a
    /// weight column).
    fn of(
        frame: &DataFrame,
        plan: &DesignPlan,
        order: &DesignOrder,
        strata: &[u32],
        stratum_keys: &[Key],
        psus: Option<&[u32]>,
        mut weights: Vec<f64>,
    ) -> Result<Runs, Failure> {
        let rows = strata.len();
        let (psu_starts, psu_stratum) = match psus {
            Some(psus) => {
                let mut psu_starts = Vec::new();
                let mut psu_stratum = Vec::new();
                let mut previous = None;
                for (position, &row) in order.order.iter().enumerate() {
                    let id = (strata[row as usize], psus[row as usize]);
                    if previous != Some(id) {
                        psu_starts.push(position as u32);
                        psu_stratum.push(id.0);
                        previous = Some(id);
                    }
                }
                psu_starts.push(rows as u32);
                (psu_starts, psu_stratum)
            }
            // A run per row, the strata in ascending order: from their sizes, without looking the
            // rows up in design order (at 10M rows, 0.2 s of cache misses).
            None => {
                let mut sizes = vec![0usize; stratum_keys.len()];
                for &h in strata {
                    sizes[h as usize] += 1;
                }
                let mut psu_stratum = vec![0u32; rows];
                let mut start = 0;
                for (h, &size) in sizes.iter().enumerate() {
                    psu_stratum[start..start + size].fill(h as u32);
                    start += size;
                }
                ((0..=rows as u32).collect(), psu_stratum)
            }
        };
        let mut psus_per_stratum = vec![0u32; stratum_keys.len()];
        for &h in &psu_stratum {
            psus_per_stratum[h as usize] += 1;
        }

        let populations = match &plan.fpc {
            None => None,
            Some(name) => Some(populations(
                design_column(frame, name)?,
                name,
                strata,
                &psus_per_stratum,
                stratum_keys,
            )?),
        };
        let fpc_factor: Vec<f64> = match &populations {
            None => vec![1.0; stratum_keys.len()],
            Some(populations) => populations
                .iter()
                .zip(&psus_per_stratum)
                .map(|(&big_n, &n)| 1.0 - f64::from(n) / big_n)
                .collect(),
        };
        // Without a weight column, R's svydesign() takes the sampling weights from the fpc:
        // N_h / n_h, by way of probs = 1 / (N_h / n_h) and weights = 1 / probs. The round trip is
        // R's rounding, kept so that a quantile on a knife edge (a cumulative weight share of
        // exactly p, as with equal weights) falls on the same side as in R.
        if let (None, Some(populations)) = (&plan.weight, &populations) {
            for (w, &h) in weights.iter_mut().zip(strata) {
                let h = h as usize;
                *w = 1.0 / (1.0 / (populations[h] / f64::from(psus_per_stratum[h])));
            }
        }
        let ordered_weights = order.scatter_slice(&weights);
        let chunks = chunks(&psu_starts);
        Ok(Runs {
            psu_starts,
            psu_stratum,
            psus_per_stratum,
            chunks,
            fpc_factor,
            weights,
            ordered_weights,
        })
    }
}

/// Column `name` of the analysis data, which the plan made sure holds every design column.
fn design_column<'a>(frame: &'a DataFrame, name: &str) -> Result<&'a Column, Failure> {
    frame.column(name).map_err(|e| {
        Failure::internal(
            Diagnostic::error(
                catalog::W099,
                format!("internal: design column {name:?} is not in the analysis data"),
            )
            .caused_by(e),
        )
    })
}

/// The sampling weights of the rows from the weight column `name` (all 1 without one): a
/// missing, zero, negative or infinite weight is an error naming the first such respondent.
fn sampling_weights(
    frame: &DataFrame,
    schema: &SchemaPlan,
    name: Option<&str>,
) -> Result<Vec<f64>, Failure> {
    let rows = frame.height();
    let describe_row = |row: usize| describe_row(frame, schema, row);
    Ok(match name {
        None => vec![1.0; rows],
        Some(name) => {
            let values = design_column(frame, name)?
                .cast(&DataType::Float64)
                .map_err(|e| {
                    Failure::from(
                        Diagnostic::error(
                            catalog::W001,
                            format!("weight column {name:?} is not numeric"),
                        )
                        .caused_by(e),
                    )
                })?;
            let values = values.f64().map_err(|e| {
                Failure::internal(
                    Diagnostic::error(
                        catalog::W099,
                        "internal: the weight column could not be read as numbers",
                    )
                    .caused_by(e),
                )
            })?;
            let invalid = |row: usize, value: Option<f64>| {
                Failure::from(Diagnostic::error(
                    catalog::W002,
                    format!(
                        "weight {name:?} of {} is {}: weights must be positive numbers",
                        describe_row(row),
                        value.map_or("missing".to_string(), |w| w.to_string())
                    ),
                ))
            };
            if values.null_count() > 0 {
                let row = values.iter().position(|w| w.is_none());
                let first = values
                    .iter()
                    .position(|w| w.is_some_and(|w| !(w > 0.0 && w.is_finite())));
                let row = row.into_iter().chain(first).min().expect("a null");
                return Err(invalid(row, values.get(row)));
            }
            // Chunk by chunk, not through polars' row iterator (a dynamic call a row).
            let mut weights = Vec::with_capacity(rows);
            for array in values.downcast_iter() {
                weights.extend_from_slice(array.values());
            }
            if let Some(row) = weights.iter().position(|&w| !(w > 0.0 && w.is_finite())) {
                return Err(invalid(row, Some(weights[row])));
            }
            weights
        }
    })
}

/// Rows per chunk of the estimation kernel: a function of the row count only, so chunks, and
/// results, do not depend on the number of threads.
pub fn chunk_target(rows: usize) -> usize {
    (rows / 16).max(1 << 14)
}

/// Cuts the PSU runs (`psu_starts` as in [`Layout`](crate::estimate::kernel::Layout)) into chunks of about `chunk_target`
/// rows: `(first_run, end_run)` pairs. Computed once per design.
pub fn chunks(psu_starts: &[u32]) -> Vec<(usize, usize)> {
    let runs = psu_starts.len().saturating_sub(1);
    let rows = *psu_starts.last().unwrap_or(&0) as usize;
    let target = chunk_target(rows);
    let mut out = Vec::new();
    let mut start = 0;
    while start < runs {
        let begin = psu_starts[start] as usize;
        let mut end = start + 1;
        while end < runs && (psu_starts[end] as usize) - begin < target {
            end += 1;
        }
        out.push((start, end));
        start = end;
    }
    out
}

/// The population number of PSUs `N_h` of each stratum from the fpc column, which must be
/// constant within a stratum: a value above 1 is `N_h`, a value at most 1 the sampling fraction
/// `f_h`, whence `N_h = n_h / f_h` (as R's `as.fpc()`).
fn populations(
    column: &Column,
    name: &str,
    strata: &[u32],
    n_psu: &[u32],
    keys: &[Key],
) -> Result<Vec<f64>, Failure> {
    let values = column
        .cast(&DataType::Float64)
        .and_then(|c| c.f64().cloned())
        .map_err(|e| {
            Failure::from(
                Diagnostic::error(catalog::W005, format!("fpc column {name:?} is not numeric"))
                    .caused_by(e),
            )
        })?;
    let mut per_stratum: Vec<Option<f64>> = vec![None; n_psu.len()];
    for (row, value) in values.iter().enumerate() {
        let h = strata[row] as usize;
        let Some(value) = value.filter(|v| *v > 0.0) else {
            return Err(Diagnostic::error(
                catalog::W005,
                format!(
                    "fpc {name:?} is missing or not positive in stratum {}",
                    keys[h]
                ),
            )
            .into());
        };
        match per_stratum[h] {
            None => per_stratum[h] = Some(value),
            Some(seen) if seen != value => {
                return Err(Diagnostic::error(
                    catalog::W006,
                    format!(
                        "fpc {name:?} differs within stratum {} ({seen} and {value})",
                        keys[h]
                    ),
                )
                .into())
            }
            Some(_) => {}
        }
    }
    let mut populations = Vec::with_capacity(n_psu.len());
    for (h, value) in per_stratum.into_iter().enumerate() {
        let n = f64::from(n_psu[h]);
        let value = value.unwrap_or(1.0);
        let population = if value <= 1.0 { n / value } else { value };
        if n > population {
            return Err(Diagnostic::error(
                catalog::W007,
                format!("fpc {name:?} in stratum {}: population {value} is smaller than the sample's {} PSUs", keys[h], n_psu[h]),
            )
            .into());
        }
        populations.push(population);
    }
    Ok(populations)
}

/// `svydesign(...)`-like one-line description for the manifest and the report.
fn describe(plan: &DesignPlan) -> String {
    let ids = plan
        .psu
        .as_deref()
        .map_or("~1".to_string(), |p| format!("~{p}"));
    let mut parts = vec![format!("ids = {ids}")];
    if let Some(s) = &plan.strata {
        parts.push(format!("strata = ~{s}"));
    }
    if let Some(w) = &plan.weight {
        parts.push(format!("weights = ~{w}"));
    }
    if let Some(f) = &plan.fpc {
        parts.push(format!("fpc = ~{f}"));
    }
    format!("svydesign({}, nest = TRUE)", parts.join(", "))
}
