//! Models whose terms are all categorical, fitted on cells instead of respondents.
//!
//! The rows of such a model differ only in their level combination (their *pattern*) and
//! outcome: respondents with the same pattern and outcome have the same `η`, `μ` and working
//! residual at any coefficients. R's start is the exception (a logistic `mustart` depends on
//! the respondent's own prior weight), so one pass over the respondents sums the start's least
//! squares per cell (segment, pattern, outcome); every IRLS iteration after it runs on those
//! cells with their summed prior weights, a few dozen rows instead of a million, and stops where
//! the row-by-row fit stops, with its coefficients up to the order of summation.
//!
//! The variance needs, per stratum and segment, the sum and the sum of squares of the PSU
//! totals of each coefficient's influence. With every PSU one respondent, a respondent's
//! influence is its weight times its cell's, so the same pass keeps the cells' `Σ w` and `Σ w²`
//! per stratum, and [`kernel::from_stratum_totals`] applies the padding, fpc and lonely-PSU rules
//! of every estimate to them.
//!
//! Used when every term is categorical, each PSU is one respondent (no `psu`), the design is not
//! calibrated (its residuals are per respondent), the outcome takes at most [`MAX_OUTCOMES`]
//! values and the cells number at most [`MAX_CELLS`]. Otherwise, and for a logistic model whose
//! first least squares already converges (the working weights it keeps for the variance are then
//! the start's, per respondent), the model is fitted row by row ([`super::by_rows`]). Both
//! give the same numbers up to rounding (`tests/it/model_cells.rs`).

use std::borrow::Cow;

use rayon::prelude::*;

use super::{design_matrix, kernel, Factor, Failure, Family, Fitted, Job, Layout, Start, CHUNK};
use crate::spec::ModelFamily;

/// Distinct outcome values a model fitted on cells may have.
const MAX_OUTCOMES: usize = 64;

/// Cells (segments × patterns × outcome values) a model fitted on cells may have.
const MAX_CELLS: usize = 1 << 16;

/// The respondents of one cell in one stratum.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    count: u32,
    /// The first respondent's weight, and whether another's differs.
    first: f64,
    varies: bool,
    w: f64,
    ww: f64,
    start: Start,
}

/// A cell's respondents in one stratum: `cell` indexes the dense (segment, pattern, outcome)
/// cells.
#[derive(Debug, Clone, Copy)]
struct Detail {
    stratum: u32,
    cell: u32,
    sums: Sums,
}

/// The model fitted on cells, or `None` where it must be fitted row by row.
pub(super) fn fit<'a>(job: &Job<'a>) -> Result<Option<Fitted<'a>>, Failure> {
    let design = job.design;
    let n = job.outcome.len();
    if design.calibration.is_some() || design.psu_starts.len() != n + 1 {
        return Ok(None);
    }
    // The categorical columns, and a pattern's place value for each.
    let mut columns: Vec<&[u32]> = Vec::with_capacity(job.factors.len());
    let mut radices = Vec::with_capacity(job.factors.len());
    for (_, factor) in job.factors {
        match factor {
            Factor::Category { codes, keys, .. } => {
                columns.push(codes);
                radices.push(keys.len().max(1));
            }
            Factor::Number(_) => return Ok(None),
        }
    }
    let Some(outcomes) = outcome_values(job) else {
        return Ok(None);
    };
    let segments = job.domains.len();
    let Some(patterns) = radices
        .iter()
        .try_fold(1usize, |p, &r| p.checked_mul(r))
        .filter(|&p| {
            p.saturating_mul(outcomes.len().max(1))
                .saturating_mul(segments)
                <= MAX_CELLS
        })
    else {
        return Ok(None);
    };
    let dense = segments * patterns * outcomes.len();

    let details = detail(job, &columns, &radices, &outcomes, dense);

    // The cells of the fit: the strata's sums added up, the empty ones left out.
    let mut totals = vec![Sums::default(); dense];
    for detail in &details {
        let (t, s) = (&mut totals[detail.cell as usize], &detail.sums);
        t.count += s.count;
        t.w += s.w;
        t.start.w += s.start.w;
        t.start.wz += s.start.wz;
        t.start.deviance += s.start.deviance;
    }
    let dense_cells: Vec<u32> = (0..dense as u32)
        .filter(|&c| totals[c as usize].count > 0)
        .collect();
    if dense_cells.is_empty() {
        return Err(job.no_rows());
    }
    let mut local = vec![u32::MAX; dense];
    for (c, &cell) in dense_cells.iter().enumerate() {
        local[cell as usize] = c as u32;
    }

    // The cells as the rows of a design matrix: each categorical column's code in the cell's
    // pattern (its place value `stride`), the outcome and the segment.
    let per_segment = patterns * outcomes.len();
    let mut stride = 1;
    let factors: Vec<(&str, Factor)> = job
        .factors
        .iter()
        .zip(&radices)
        .map(|((name, factor), &radix)| {
            let Factor::Category {
                keys,
                labels,
                reference,
                ..
            } = factor
            else {
                unreachable!("every term is categorical")
            };
            let codes = dense_cells
                .iter()
                .map(|&cell| (cell as usize % per_segment / outcomes.len() / stride % radix) as u32)
                .collect();
            stride *= radix;
            let factor = Factor::Category {
                codes,
                keys: keys.clone(),
                labels: labels.clone(),
                reference: *reference,
            };
            (*name, factor)
        })
        .collect();
    let y: Vec<f64> = dense_cells
        .iter()
        .map(|&cell| outcomes[cell as usize % outcomes.len()])
        .collect();
    let segment_of: Vec<u32> = dense_cells
        .iter()
        .map(|&cell| (cell as usize / per_segment) as u32)
        .collect();
    let cells = dense_cells.len();
    let mut matrix = design_matrix(
        job.model,
        &factors,
        &y,
        &vec![true; cells],
        &segment_of,
        cells,
    );
    matrix.counts = dense_cells
        .iter()
        .map(|&cell| totals[cell as usize].count)
        .collect();
    let weights: Vec<f64> = dense_cells
        .iter()
        .map(|&cell| totals[cell as usize].w)
        .collect();
    let start: Vec<Start> = dense_cells
        .iter()
        .map(|&cell| totals[cell as usize].start)
        .collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); segments];
    for (c, &d) in segment_of.iter().enumerate() {
        members[d as usize].push(c);
    }

    let fits = job.fits(&matrix, &members, &weights, Some(start.as_slice()))?;
    // A logistic model that converged at the first least squares: the working weights that the
    // variance keeps are the start's, which differ between the respondents of a cell (R's
    // logistic `mustart` depends on the prior weight; the others' only on the outcome).
    if job.model.family == ModelFamily::Logistic && fits.iter().flatten().any(|f| f.iterations == 1)
    {
        return Ok(None);
    }

    // Each cell's influence on every coefficient: `factor · (A⁻¹x)_k` (per respondent, times
    // its weight).
    let width = matrix.coefficients.len();
    let mut influence = vec![0.0; cells * width];
    for (fit, rows) in fits.iter().zip(&members) {
        let Ok(fit) = fit else { continue };
        for (j, &c) in rows.iter().enumerate() {
            for (k, g) in influence[c * width..(c + 1) * width].iter_mut().enumerate() {
                *g = fit.influence(&matrix, c, j, k);
            }
        }
    }

    // The segment and cell (a row of `influence`) of a detail; `None` where the segment has no
    // fit.
    let place = |detail: &Detail| {
        let d = detail.cell as usize / per_segment;
        fits[d]
            .is_ok()
            .then(|| (d, local[detail.cell as usize] as usize))
    };
    let strata = stratum_totals(&details, place, &influence, width, segments);
    let layout = Layout::of(design);
    let stats = kernel::from_stratum_totals(&layout, segments, width * segments, &strata)
        .map_err(|e| job.lonely(e))?;
    let degrees = stats[..segments]
        .iter()
        .map(|s| f64::from(s.psus) - f64::from(s.strata))
        .collect();
    Ok(Some(Fitted {
        matrix,
        members,
        weights: Cow::Owned(weights),
        fits,
        variances: stats.iter().map(|s| s.variance(1.0, 0.0)).collect(),
        degrees,
    }))
}

/// Per stratum and segment, each coefficient's sum of the respondents' influence
/// (`w · influence` of their cell, a row of `width` in `influence`) and of its square, from the
/// details in stratum order; `place` gives a detail's segment and cell, or `None` to skip it.
fn stratum_totals(
    details: &[Detail],
    place: impl Fn(&Detail) -> Option<(usize, usize)>,
    influence: &[f64],
    width: usize,
    segments: usize,
) -> Vec<kernel::StratumTotals> {
    let mut strata = Vec::new();
    let mut psus = vec![0u32; segments];
    // While the segment's respondents in the stratum are in one cell with one weight: that
    // weight and cell (their totals are then equal).
    let mut constant: Vec<Option<(f64, usize)>> = vec![None; segments];
    let mut sum = vec![0.0; segments * width];
    let mut squares = vec![0.0; segments * width];
    let mut touched: Vec<usize> = Vec::new();
    for run in details.chunk_by(|a, b| a.stratum == b.stratum) {
        for detail in run {
            let Some((d, c)) = place(detail) else {
                continue;
            };
            let s = &detail.sums;
            if psus[d] == 0 {
                touched.push(d);
                constant[d] = (!s.varies).then_some((s.first, c));
            } else {
                constant[d] = None;
            }
            psus[d] += s.count;
            let g = &influence[c * width..(c + 1) * width];
            let sums = &mut sum[d * width..(d + 1) * width];
            let squares = &mut squares[d * width..(d + 1) * width];
            for ((&g, sum), squares) in g.iter().zip(sums).zip(squares) {
                *sum += s.w * g;
                *squares += s.ww * g * g;
            }
        }
        for &d in &touched {
            let sums = &mut sum[d * width..(d + 1) * width];
            let squares = &mut squares[d * width..(d + 1) * width];
            for (k, (sum, squares)) in sums.iter_mut().zip(squares).enumerate() {
                strata.push(kernel::StratumTotals {
                    stratum: run[0].stratum,
                    cell: (k * segments + d) as u32,
                    psus: psus[d],
                    sum: std::mem::take(sum),
                    sum_squares: std::mem::take(squares),
                    constant: constant[d].map(|(w, c)| w * influence[c * width + k]),
                });
            }
            psus[d] = 0;
        }
        touched.clear();
    }
    strata
}

/// The outcome's distinct values (sorted), or `None` with more than [`MAX_OUTCOMES`].
fn outcome_values(job: &Job) -> Option<Vec<f64>> {
    if job.model.family == ModelFamily::Logistic {
        return Some(vec![0.0, 1.0]);
    }
    let mut values: Vec<f64> = Vec::new();
    let mut last = f64::NAN;
    for &y in job.outcome {
        if y.is_nan() || y.to_bits() == last.to_bits() {
            continue;
        }
        last = y;
        if let Err(at) = values.binary_search_by(|v| v.total_cmp(&y)) {
            if values.len() == MAX_OUTCOMES {
                return None;
            }
            values.insert(at, y);
        }
    }
    Some(values)
}

/// One pass over the respondents (design order, in fixed chunks): each stratum's cells, with
/// R's start per respondent summed, in stratum order.
fn detail(
    job: &Job,
    columns: &[&[u32]],
    radices: &[usize],
    outcomes: &[f64],
    dense: usize,
) -> Vec<Detail> {
    let design = job.design;
    let n = job.outcome.len();
    let family = Family(job.model.family);
    let (weights, strata) = (&design.ordered_weights, &design.psu_stratum);
    let logistic = job.model.family == ModelFamily::Logistic;
    let patterns: usize = radices.iter().product();
    let parts: Vec<Vec<Detail>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map_init(
            || (vec![Sums::default(); dense], Vec::<u32>::new()),
            |(scratch, touched), c| {
                let mut details = Vec::new();
                let end = ((c + 1) * CHUNK).min(n);
                let mut run = c * CHUNK;
                while run < end {
                    let h = strata[run];
                    let mut stop = run + 1;
                    while stop < end && strata[stop] == h {
                        stop += 1;
                    }
                    'rows: for i in run..stop {
                        let (y, d) = (job.outcome[i], job.codes[i]);
                        // The outcome is NaN outside the population.
                        if y.is_nan() || d == u32::MAX {
                            continue;
                        }
                        let (mut pattern, mut place) = (0usize, 1usize);
                        for (codes, &radix) in columns.iter().zip(radices) {
                            let code = codes[i];
                            if code == u32::MAX {
                                continue 'rows;
                            }
                            pattern += code as usize * place;
                            place *= radix;
                        }
                        let outcome = if logistic {
                            y as usize
                        } else {
                            outcomes
                                .binary_search_by(|v| v.total_cmp(&y))
                                .expect("every outcome value is listed")
                        };
                        let cell = (d as usize * patterns + pattern) * outcomes.len() + outcome;
                        let w = weights[i];
                        let s = &mut scratch[cell];
                        if s.count == 0 {
                            touched.push(cell as u32);
                            s.first = w;
                        } else {
                            s.varies |= w != s.first;
                        }
                        s.count += 1;
                        s.w += w;
                        s.ww += w * w;
                        // R's start, as `Segment::pass` takes it for one respondent.
                        let prior = w / job.mean_weights[d as usize];
                        let eta = family.link(family.start(y, prior));
                        let (mu, slope) = family.mean(eta);
                        let working = prior * slope * slope / family.variance(mu);
                        s.start.deviance += family.deviance(y, mu, prior);
                        s.start.w += working;
                        s.start.wz += working * (eta + (y - mu) / slope);
                    }
                    for &cell in touched.iter() {
                        details.push(Detail {
                            stratum: h,
                            cell,
                            sums: std::mem::take(&mut scratch[cell as usize]),
                        });
                    }
                    touched.clear();
                    run = stop;
                }
                details
            },
        )
        .collect();
    parts.concat()
}
