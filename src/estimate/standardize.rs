//! Direct standardisation of a proportion or mean: R's `svystandardize(design, by = ~c,
//! over = ~segment, population = shares)` followed by `svymean` per segment.
//!
//! In segment *d*, with `W_cd`, `m_cd` the weighted count and mean of the indicator's domain rows
//! of category *c* of `by`, and `s_c` the standard's shares, the standardised estimate is
//!
//! ```text
//! θ_d = Σ_c (s_c / S_d) · m_cd,        S_d = Σ_{c with rows in d} s_c
//! ```
//!
//! (categories without rows in the segment are left out and the others' shares renormalised, as
//! R's `postStratify(partial = TRUE)` does). R post-stratifies the design to `s_c · W_d` per cell
//! and linearises the mean; the post-stratification residual of its influence is
//!
//! ```text
//! r_i = (s_c / S_d) · w_i · (y_i − m_cd) / W_cd        (i in cell c of segment d)
//! ```
//!
//! whose variance the kernel gives. In a calibrated design R takes the calibration's residual
//! of the influence first and the post-stratification's of that: the direct path below
//! materialises both for every row, per segment.

use rayon::prelude::*;

use super::kernel::{self, Column, Layout, LonelyStratum, Stats};
use crate::weight::Calibration;

/// A standardised estimate of one segment.
pub struct Standardized {
    /// The domain's rows and PSUs (as the crude estimate's, less rows without a category).
    pub stats: Stats,
    pub estimate: f64,
    pub variance: f64,
    /// Categories of the standard without rows in the segment (their share was left out).
    pub missing_categories: usize,
    /// Rows with a value other than 0 (a proportion's yes answers).
    pub positive: u64,
}

/// Standardised estimates of every segment: `values` is the indicator in design order (NaN
/// outside its domain), `categories` the standard's category of each row (`u32::MAX`: none),
/// `segments` the segment of each row.
pub fn estimate(
    layout: &Layout,
    segments: &[u32],
    n_domains: usize,
    values: &[f64],
    categories: &[u32],
    shares: &[f64],
    calibration: Option<&Calibration>,
) -> Result<Vec<Standardized>, LonelyStratum> {
    let width = shares.len();
    let in_domain =
        |i: usize| !values[i].is_nan() && segments[i] != u32::MAX && categories[i] != u32::MAX;
    // Weighted counts and sums per (segment, category).
    let mut w = vec![0.0; n_domains * width];
    let mut wy = vec![0.0; n_domains * width];
    let mut positive = vec![0u64; n_domains];
    for i in (0..values.len()).filter(|&i| in_domain(i)) {
        positive[segments[i] as usize] += u64::from(values[i] != 0.0);
        let cell = segments[i] as usize * width + categories[i] as usize;
        w[cell] += layout.weights[i];
        wy[cell] += layout.weights[i] * values[i];
    }
    // Per segment: S_d, the estimate, and each cell's coefficient s_c / (S_d · W_cd).
    let mut estimates = vec![0.0; n_domains];
    let mut missing = vec![0usize; n_domains];
    let mut coefficient = vec![0.0; n_domains * width];
    for d in 0..n_domains {
        let cells = d * width..(d + 1) * width;
        let present = |c: usize| w[d * width + c] > 0.0;
        let total: f64 = (0..width).filter(|&c| present(c)).map(|c| shares[c]).sum();
        missing[d] = (0..width)
            .filter(|&c| !present(c) && shares[c] > 0.0)
            .count();
        if total > 0.0 {
            estimates[d] = (0..width)
                .filter(|&c| present(c))
                .map(|c| shares[c] / total * wy[d * width + c] / w[d * width + c])
                .sum();
        }
        for (c, k) in cells.enumerate() {
            if present(c) && total > 0.0 {
                coefficient[k] = shares[c] / (total * w[k]);
            }
        }
    }
    let mean = |cell: usize| wy[cell] / w[cell];
    // r_i / w_i: the post-stratification residual of the influence, per unit weight.
    let residual: Vec<f64> = (0..values.len())
        .into_par_iter()
        .map(|i| {
            if !in_domain(i) {
                return f64::NAN;
            }
            let cell = segments[i] as usize * width + categories[i] as usize;
            coefficient[cell] * (values[i] - mean(cell))
        })
        .collect();
    let column = Column {
        y: (&residual).into(),
        x: None,
        centre: false,
    };
    let stats = kernel::accumulate(
        layout,
        segments,
        n_domains,
        &[column],
        &vec![0.0; n_domains],
    )?;
    let mut variances: Vec<f64> = stats.iter().map(|s| s.variance(1.0, 0.0)).collect();
    if let Some(calibration) = calibration {
        variances = calibrated_variances(
            layout,
            calibration,
            segments,
            n_domains,
            values,
            categories,
            &estimates,
            &coefficient,
            width,
        )?;
    }
    Ok(stats
        .into_iter()
        .enumerate()
        .map(|(d, stats)| Standardized {
            stats,
            estimate: estimates[d],
            variance: variances[d],
            missing_categories: missing[d],
            positive: positive[d],
        })
        .collect())
}

/// Residual columns held at once, in values.
const BATCH_VALUES: usize = 1 << 24;

/// The variance of every segment's estimate in a calibrated design, as R's `svyrecvar` with the
/// calibration before the standardisation: the influence per unit weight
/// `u_i = s_c·(y_i − θ_d)/(S_d·W_cd)` in the segment, its calibration residual
/// `e_i = u_i − (w̃_i/w_i)·x_iᵀβ` over every row (`β = G⁻ Σ x·w·u/g`), then that residual's
/// post-stratification residual `e_i − Σ_cell w·e / W_cd` in every cell of every segment.
#[allow(clippy::too_many_arguments)]
fn calibrated_variances(
    layout: &Layout,
    calibration: &Calibration,
    segments: &[u32],
    n_domains: usize,
    values: &[f64],
    categories: &[u32],
    estimates: &[f64],
    coefficient: &[f64],
    width: usize,
) -> Result<Vec<f64>, LonelyStratum> {
    let rows = values.len();
    let cell_of = |i: usize| {
        (!values[i].is_nan() && segments[i] != u32::MAX && categories[i] != u32::MAX)
            .then(|| (segments[i] as usize, categories[i] as usize))
    };
    let everyone = vec![0u32; rows];
    let batch = (BATCH_VALUES / rows.max(1)).clamp(1, n_domains.max(1));
    let mut variances = Vec::with_capacity(n_domains);
    let domains: Vec<usize> = (0..n_domains).collect();
    for group in domains.chunks(batch) {
        let residuals: Vec<Vec<f64>> = group
            .par_iter()
            .map(|&d| {
                let u = |i: usize| match cell_of(i) {
                    Some((e, c)) if e == d => {
                        coefficient[d * width + c] * (values[i] - estimates[d])
                    }
                    _ => 0.0,
                };
                let mut sums = vec![0.0; calibration.width];
                for i in 0..rows {
                    let ui = u(i);
                    if ui != 0.0 {
                        calibration.add_row(
                            i,
                            layout.weights[i] * calibration.inverse_g[i] * ui,
                            &mut sums,
                        );
                    }
                }
                let beta = calibration.gram.solve(&sums);
                let mut e: Vec<f64> = (0..rows)
                    .map(|i| u(i) - calibration.untrimmed_ratio[i] * calibration.fitted(i, &beta))
                    .collect();
                // The calibration residual is not 0 outside the segment: every cell of the
                // post-stratification (every segment's) takes its own mean out.
                let mut cell_sums = vec![0.0; n_domains * width];
                let mut cell_weights = vec![0.0; n_domains * width];
                for (i, &ei) in e.iter().enumerate() {
                    if let Some((s, c)) = cell_of(i) {
                        cell_sums[s * width + c] += layout.weights[i] * ei;
                        cell_weights[s * width + c] += layout.weights[i];
                    }
                }
                for (i, ei) in e.iter_mut().enumerate() {
                    if let Some((s, c)) = cell_of(i) {
                        *ei -= cell_sums[s * width + c] / cell_weights[s * width + c];
                    }
                }
                e
            })
            .collect();
        let columns: Vec<Column> = residuals
            .iter()
            .map(|y| Column {
                y: y.into(),
                x: None,
                centre: false,
            })
            .collect();
        let stats = kernel::accumulate(layout, &everyone, 1, &columns, &vec![0.0; columns.len()])
            .map_err(|e| LonelyStratum {
            domain: group[e.column] as u32,
            column: 0,
            ..e
        })?;
        variances.extend(stats.iter().map(|s| s.variance(1.0, 0.0)));
    }
    Ok(variances)
}
