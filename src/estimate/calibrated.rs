//! Variances of a calibrated design: the kernel's co-moments of the influence totals are
//! replaced by those of their calibration residuals ([`crate::weight::calibrate`] gives the
//! formula and its R counterpart).
//!
//! Every cell's influence is `a·A + b·B` with row contributions `A_i = w_i·y_i` and
//! `B_i = w_i·x_i` in the domain (0 outside), and the residualisation is linear, so the
//! residuals of `A` and `B` are taken separately:
//!
//! ```text
//! Ã_i = A_i − w̃_i·x_iᵀβ_A,    β_A = G⁻ Σ_{i in domain} x_i·A_i/g_i     (B alike)
//! ```
//!
//! `β` needs one pass over the domain's rows (sums per calibration category). The residuals are
//! not zero outside the domain, so the co-moments need every row: they are computed by the
//! kernel on the residual columns, one column per cell, `rows × cells` work in all.

use super::kernel::{self, Column, Layout, LonelyStratum, Stats};
use crate::weight::Calibration;

/// Residual columns held at once, in values (bounds memory to 2 × 8 × this many bytes).
const BATCH_VALUES: usize = 1 << 24;

/// Replaces `v_aa`, `v_ab`, `v_bb` of every (column, domain) cell of `stats` (index
/// `column * n_domains + domain`, as [`kernel::accumulate`] returns them) by the co-moments of
/// the calibration residuals. The columns' values are centred by each cell's `shift` first,
/// as the kernel does.
pub fn residualise(
    layout: &Layout,
    calibration: &Calibration,
    segments: &[u32],
    n_domains: usize,
    columns: &[Column],
    stats: &mut [Stats],
) -> Result<(), LonelyStratum> {
    let width = calibration.width;
    let rows = segments.len();
    let cells = columns.len() * n_domains;
    // Σ x·A/g and Σ x·B/g per cell.
    let mut sums_a = vec![0.0; cells * width];
    let mut sums_b = vec![0.0; cells * width];
    for (k, column) in columns.iter().enumerate() {
        for (i, (&d, &y)) in segments.iter().zip(column.y).enumerate() {
            if d == u32::MAX || y.is_nan() {
                continue;
            }
            let cell = k * n_domains + d as usize;
            let x = column.x.map_or(1.0, |x| x[i]);
            let y = y - stats[cell].shift * x;
            let scale = layout.weights[i] * calibration.inverse_g[i];
            let range = cell * width..(cell + 1) * width;
            calibration.add_row(i, scale * y, &mut sums_a[range.clone()]);
            calibration.add_row(i, scale * x, &mut sums_b[range]);
        }
    }

    let batch = (BATCH_VALUES / rows.max(1)).clamp(1, cells.max(1));
    let all_rows = vec![0u32; rows];
    for first in (0..cells).step_by(batch) {
        let last = (first + batch).min(cells);
        let mut residuals: Vec<(Vec<f64>, Vec<f64>)> = Vec::with_capacity(last - first);
        for cell in first..last {
            let (k, d) = (cell / n_domains, (cell % n_domains) as u32);
            let column = &columns[k];
            let beta_a = calibration
                .gram
                .solve(&sums_a[cell * width..(cell + 1) * width]);
            let beta_b = calibration
                .gram
                .solve(&sums_b[cell * width..(cell + 1) * width]);
            let shift = stats[cell].shift;
            let mut a = Vec::with_capacity(rows);
            let mut b = Vec::with_capacity(rows);
            for i in 0..rows {
                let ratio = calibration.untrimmed_ratio[i];
                let (mut ya, mut xb) = (
                    -ratio * calibration.fitted(i, &beta_a),
                    -ratio * calibration.fitted(i, &beta_b),
                );
                let y = column.y[i];
                if segments[i] == d && !y.is_nan() {
                    let x = column.x.map_or(1.0, |x| x[i]);
                    ya += y - shift * x;
                    xb += x;
                }
                a.push(ya);
                b.push(xb);
            }
            residuals.push((a, b));
        }
        let residual_columns: Vec<Column> = residuals
            .iter()
            .map(|(a, b)| Column {
                y: a,
                x: Some(b),
                centre: false,
            })
            .collect();
        let shifts = vec![0.0; residual_columns.len()];
        let moments = kernel::accumulate(layout, &all_rows, 1, &residual_columns, &shifts)
            .map_err(|e| {
                let cell = first + e.column;
                LonelyStratum {
                    stratum: e.stratum,
                    column: cell / n_domains,
                    domain: (cell % n_domains) as u32,
                }
            })?;
        for (cell, m) in (first..last).zip(moments) {
            let s = &mut stats[cell];
            s.v_aa = m.v_aa;
            s.v_ab = m.v_ab;
            s.v_bb = m.v_bb;
        }
    }
    Ok(())
}
