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
//! not zero outside the domain, yet their co-moments need no pass over every row: with the PSU
//! totals `T_j = Σ w̃_i x_i` of the calibration dummies and `c_h = (1 − f_h)·n_h/(n_h − 1)`,
//!
//! ```text
//! Σ_h c_h Σ_j (Ã_j − mean)² = S_AA − 2 βᵀU_A + βᵀQβ,
//!   S_AA = the kernel's co-moment of A,   U_A = Σ_h c_h Σ_j (T_j − T̄_h)·A_j,
//!   Q    = Σ_h c_h Σ_j (T_j − T̄_h)(T_j − T̄_h)ᵀ   (one matrix per design)
//! ```
//!
//! and `U_A` only needs the PSUs the domain touches. This **projection** path is exact algebra
//! but subtracts: where the residual variance is under 1% of the terms it is computed from (a
//! quantity the calibration nearly fixes, such as the count of a calibration category), and
//! where a lonely stratum is adjusted or averaged, the cell takes the **direct** path: the
//! residuals of every row, materialised and given to the kernel.

use rayon::prelude::*;

use super::kernel::{self, Column, Layout, LonelyStratum, Stats};
use crate::spec::LonelyPsu;
use crate::weight::Calibration;

/// Residual columns held at once, in values (bounds memory to 2 × 8 × this many bytes).
const BATCH_VALUES: usize = 1 << 24;

/// The projection path is trusted when the variance is at least this share of its terms.
const CANCELLATION_LIMIT: f64 = 1e-2;

/// What the projection path needs of a design, computed once per wave.
pub struct Projection {
    width: usize,
    /// `c_h` per stratum (0 for a lonely stratum under `remove` or `certainty`).
    scale: Vec<f64>,
    /// `T_j` per PSU run, sparse: `(column, value)` in `entries[starts[j]..starts[j + 1]]`.
    starts: Vec<usize>,
    entries: Vec<(u32, f64)>,
    /// `T̄_h`, strata × width.
    means: Vec<f64>,
    /// `Q`, width × width.
    q: Vec<f64>,
}

impl Projection {
    /// `None` where the projection path does not apply: a lonely stratum under `fail`,
    /// `adjust` or `average`, or `adjust_domain_lonely`.
    pub fn new(layout: &Layout, calibration: &Calibration) -> Option<Self> {
        if layout.adjust_domain_lonely {
            return None;
        }
        let strata = layout.psus_per_stratum.len();
        let mut scale = Vec::with_capacity(strata);
        for (&n, &f) in layout.psus_per_stratum.iter().zip(layout.fpc_factor) {
            scale.push(if n >= 2 {
                f * n as f64 / (n as f64 - 1.0)
            } else if f == 0.0
                || matches!(layout.lonely_psu, LonelyPsu::Remove | LonelyPsu::Certainty)
            {
                0.0
            } else {
                return None;
            });
        }
        let width = calibration.width;
        let runs = layout.psu_stratum.len();
        let mut starts = Vec::with_capacity(runs + 1);
        let mut entries = Vec::new();
        let mut scratch = vec![0.0; width];
        let mut touched: Vec<u32> = Vec::new();
        let mut means = vec![0.0; strata * width];
        for j in 0..runs {
            starts.push(entries.len());
            for i in layout.psu_starts[j] as usize..layout.psu_starts[j + 1] as usize {
                let w = layout.weights[i] * calibration.untrimmed_ratio[i];
                for column in &calibration.columns {
                    let c = column[i];
                    if c != u32::MAX {
                        if scratch[c as usize] == 0.0 {
                            touched.push(c);
                        }
                        scratch[c as usize] += w;
                    }
                }
            }
            touched.sort_unstable();
            let h = layout.psu_stratum[j] as usize;
            for &c in &touched {
                let value = std::mem::take(&mut scratch[c as usize]);
                entries.push((c, value));
                means[h * width + c as usize] += value;
            }
            touched.clear();
        }
        starts.push(entries.len());
        for (h, &n) in layout.psus_per_stratum.iter().enumerate() {
            means[h * width..(h + 1) * width]
                .iter_mut()
                .for_each(|m| *m /= f64::from(n.max(1)));
        }
        // Q = Σ_h c_h (Σ_j T_j T_jᵀ − n_h T̄_h T̄_hᵀ).
        let mut q = vec![0.0; width * width];
        for j in 0..runs {
            let c_h = scale[layout.psu_stratum[j] as usize];
            if c_h == 0.0 {
                continue;
            }
            let t = &entries[starts[j]..starts[j + 1]];
            for &(a, va) in t {
                for &(b, vb) in t {
                    q[a as usize * width + b as usize] += c_h * va * vb;
                }
            }
        }
        for (h, &n) in layout.psus_per_stratum.iter().enumerate() {
            let c_h = scale[h];
            if c_h == 0.0 {
                continue;
            }
            let mean = &means[h * width..(h + 1) * width];
            for (a, &ma) in mean.iter().enumerate().filter(|(_, m)| **m != 0.0) {
                for (b, &mb) in mean.iter().enumerate().filter(|(_, m)| **m != 0.0) {
                    q[a * width + b] -= c_h * f64::from(n) * ma * mb;
                }
            }
        }
        Some(Projection {
            width,
            scale,
            starts,
            entries,
            means,
            q,
        })
    }

    /// `U_A` and `U_B` of every domain of one column, `(domains × width, domains × width)`.
    fn cross(
        &self,
        layout: &Layout,
        segments: &[u32],
        n_domains: usize,
        column: &Column,
        shifts: &[f64],
    ) -> (Vec<f64>, Vec<f64>) {
        let width = self.width;
        let mut u_a = vec![0.0; n_domains * width];
        let mut u_b = vec![0.0; n_domains * width];
        // PSU totals per domain, and their sums over the current stratum.
        let mut psu = vec![(0.0, 0.0); n_domains];
        let mut psu_touched: Vec<u32> = Vec::new();
        let mut stratum = vec![(0.0, 0.0); n_domains];
        let mut stratum_touched: Vec<u32> = Vec::new();
        let runs = layout.psu_stratum.len();
        let close_stratum = |h: usize,
                             stratum: &mut [(f64, f64)],
                             touched: &mut Vec<u32>,
                             u_a: &mut [f64],
                             u_b: &mut [f64]| {
            let c_h = self.scale[h];
            let mean = &self.means[h * width..(h + 1) * width];
            for &d in touched.iter() {
                let (a, b) = std::mem::take(&mut stratum[d as usize]);
                if c_h == 0.0 {
                    continue;
                }
                let range = d as usize * width..(d as usize + 1) * width;
                for ((ua, ub), &m) in u_a[range.clone()].iter_mut().zip(&mut u_b[range]).zip(mean) {
                    *ua -= c_h * a * m;
                    *ub -= c_h * b * m;
                }
            }
            touched.clear();
        };
        for j in 0..runs {
            let h = layout.psu_stratum[j] as usize;
            if j > 0 && layout.psu_stratum[j - 1] as usize != h {
                close_stratum(
                    layout.psu_stratum[j - 1] as usize,
                    &mut stratum,
                    &mut stratum_touched,
                    &mut u_a,
                    &mut u_b,
                );
            }
            for i in layout.psu_starts[j] as usize..layout.psu_starts[j + 1] as usize {
                let d = segments[i];
                let y = column.y.get(i);
                if d == u32::MAX || y.is_nan() {
                    continue;
                }
                let x = column.x.map_or(1.0, |x| x[i]);
                let w = layout.weights[i];
                let total = &mut psu[d as usize];
                if total.0 == 0.0 && total.1 == 0.0 {
                    psu_touched.push(d);
                }
                total.0 += w * (y - shifts[d as usize] * x);
                total.1 += w * x;
            }
            let c_h = self.scale[h];
            let t = &self.entries[self.starts[j]..self.starts[j + 1]];
            for &d in &psu_touched {
                let (a, b) = std::mem::take(&mut psu[d as usize]);
                let s = &mut stratum[d as usize];
                if s.0 == 0.0 && s.1 == 0.0 {
                    stratum_touched.push(d);
                }
                s.0 += a;
                s.1 += b;
                if c_h == 0.0 {
                    continue;
                }
                let base = d as usize * width;
                for &(c, v) in t {
                    u_a[base + c as usize] += c_h * a * v;
                    u_b[base + c as usize] += c_h * b * v;
                }
            }
            psu_touched.clear();
        }
        if runs > 0 {
            close_stratum(
                layout.psu_stratum[runs - 1] as usize,
                &mut stratum,
                &mut stratum_touched,
                &mut u_a,
                &mut u_b,
            );
        }
        (u_a, u_b)
    }

    /// `uᵀ Q v`.
    fn quadratic(&self, u: &[f64], v: &[f64]) -> f64 {
        let width = self.width;
        u.iter()
            .enumerate()
            .filter(|(_, a)| **a != 0.0)
            .map(|(a, &ua)| {
                let row = &self.q[a * width..(a + 1) * width];
                ua * row.iter().zip(v).map(|(q, v)| q * v).sum::<f64>()
            })
            .sum()
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// Replaces `v_aa`, `v_ab`, `v_bb` of every (column, domain) cell of `stats` (index
/// `column * n_domains + domain`, as [`kernel::accumulate`] returns them) by the co-moments of
/// the calibration residuals. The columns' values are centred by each cell's `shift` first,
/// as the kernel does.
pub fn residualise(
    layout: &Layout,
    calibration: &Calibration,
    projection: Option<&Projection>,
    segments: &[u32],
    n_domains: usize,
    columns: &[Column],
    stats: &mut [Stats],
) -> Result<(), LonelyStratum> {
    let width = calibration.width;
    let cells = columns.len() * n_domains;
    // β of every cell: G⁻ Σ x·A/g and G⁻ Σ x·B/g, one column at a time in parallel.
    let betas: Vec<Vec<(Vec<f64>, Vec<f64>)>> = columns
        .par_iter()
        .enumerate()
        .map(|(k, column)| {
            let mut sums_a = vec![0.0; n_domains * width];
            let mut sums_b = vec![0.0; n_domains * width];
            for (i, &d) in segments.iter().enumerate() {
                let y = column.y.get(i);
                if d == u32::MAX || y.is_nan() {
                    continue;
                }
                let x = column.x.map_or(1.0, |x| x[i]);
                let y = y - stats[k * n_domains + d as usize].shift * x;
                let scale = layout.weights[i] * calibration.inverse_g[i];
                let range = d as usize * width..(d as usize + 1) * width;
                calibration.add_row(i, scale * y, &mut sums_a[range.clone()]);
                calibration.add_row(i, scale * x, &mut sums_b[range]);
            }
            (0..n_domains)
                .map(|d| {
                    let range = d * width..(d + 1) * width;
                    (
                        calibration.gram.solve(&sums_a[range.clone()]),
                        calibration.gram.solve(&sums_b[range]),
                    )
                })
                .collect()
        })
        .collect();
    let beta = |cell: usize| &betas[cell / n_domains][cell % n_domains];

    // The projection path where it applies and does not cancel; the direct path for the rest.
    let mut direct: Vec<usize> = Vec::new();
    match projection {
        None => direct.extend(0..cells),
        Some(p) => {
            let crosses: Vec<(Vec<f64>, Vec<f64>)> = columns
                .par_iter()
                .enumerate()
                .map(|(k, column)| {
                    let shifts: Vec<f64> = (0..n_domains)
                        .map(|d| stats[k * n_domains + d].shift)
                        .collect();
                    p.cross(layout, segments, n_domains, column, &shifts)
                })
                .collect();
            for (cell, s) in stats.iter_mut().enumerate() {
                let (k, d) = (cell / n_domains, cell % n_domains);
                let (beta_a, beta_b) = beta(cell);
                let range = d * width..(d + 1) * width;
                let (u_a, u_b) = (&crosses[k].0[range.clone()], &crosses[k].1[range]);
                let (au, aqa) = (dot(beta_a, u_a), p.quadratic(beta_a, beta_a));
                let v_aa = s.v_aa - 2.0 * au + aqa;
                let gross = s.v_aa + 2.0 * au.abs() + aqa;
                let trusted = v_aa.is_finite() && v_aa >= CANCELLATION_LIMIT * gross;
                if !trusted {
                    direct.push(cell);
                    continue;
                }
                let v_ab =
                    s.v_ab - dot(beta_a, u_b) - dot(beta_b, u_a) + p.quadratic(beta_a, beta_b);
                let v_bb = s.v_bb - 2.0 * dot(beta_b, u_b) + p.quadratic(beta_b, beta_b);
                s.v_aa = v_aa;
                s.v_ab = v_ab;
                s.v_bb = v_bb.max(0.0);
            }
        }
    }
    if direct.is_empty() {
        return Ok(());
    }

    // Direct path: the residuals of every row, batched, through the kernel.
    let rows = segments.len();
    let batch = (BATCH_VALUES / rows.max(1)).clamp(1, direct.len());
    let all_rows = vec![0u32; rows];
    for group in direct.chunks(batch) {
        let residuals: Vec<(Vec<f64>, Vec<f64>)> = group
            .par_iter()
            .map(|&cell| {
                let (k, d) = (cell / n_domains, (cell % n_domains) as u32);
                let column = &columns[k];
                let (beta_a, beta_b) = beta(cell);
                let shift = stats[cell].shift;
                let mut a = Vec::with_capacity(rows);
                let mut b = Vec::with_capacity(rows);
                for i in 0..rows {
                    let ratio = calibration.untrimmed_ratio[i];
                    let (mut ya, mut xb) = (
                        -ratio * calibration.fitted(i, beta_a),
                        -ratio * calibration.fitted(i, beta_b),
                    );
                    let y = column.y.get(i);
                    if segments[i] == d && !y.is_nan() {
                        let x = column.x.map_or(1.0, |x| x[i]);
                        ya += y - shift * x;
                        xb += x;
                    }
                    a.push(ya);
                    b.push(xb);
                }
                (a, b)
            })
            .collect();
        let residual_columns: Vec<Column> = residuals
            .iter()
            .map(|(a, b)| Column {
                y: a.into(),
                x: Some(b),
                centre: false,
            })
            .collect();
        let shifts = vec![0.0; residual_columns.len()];
        let moments = kernel::accumulate(layout, &all_rows, 1, &residual_columns, &shifts)
            .map_err(|e| {
                let cell = group[e.column];
                LonelyStratum {
                    stratum: e.stratum,
                    column: cell / n_domains,
                    domain: (cell % n_domains) as u32,
                }
            })?;
        for (&cell, m) in group.iter().zip(moments) {
            let s = &mut stats[cell];
            s.v_aa = m.v_aa;
            s.v_ab = m.v_ab;
            s.v_bb = m.v_bb;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::kernel::TestDesign;
    use crate::spec::margins::{MarginCategory, MarginVariable, Margins};
    use crate::spec::{CalibrationMethod, Trim, WeightingPlan};
    use crate::weight::calibrate::{calibrate, MarginCodes};

    /// Deterministic pseudo-random numbers in [0, 1).
    fn uniform(i: usize, salt: u64) -> f64 {
        let mut x = (i as u64 ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 32;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A raked design of 3 strata with PSUs of 1 to 3 rows, two margins, a segmentation of 4
    /// domains and three columns (a share, a mean with a missing value, a ratio): the projection
    /// path must give the direct path's co-moments.
    #[test]
    fn projection_path_equals_direct_residuals() {
        let rows = 600;
        let strata: Vec<u32> = (0..rows).map(|i| (i * 3 / rows) as u32).collect();
        let mut psu_starts = vec![0u32];
        let mut psu_stratum = Vec::new();
        let mut i = 0;
        while i < rows {
            let size = 1 + (uniform(i, 1) * 3.0) as usize;
            let end = (i + size).min(rows);
            // A PSU stays inside its stratum.
            let end = (i + 1..=end)
                .take_while(|&e| e == i + 1 || strata[e - 1] == strata[i])
                .last()
                .unwrap();
            psu_stratum.push(strata[i]);
            psu_starts.push(end as u32);
            i = end;
        }
        let design_weights: Vec<f64> = (0..rows).map(|i| 1.0 + 4.0 * uniform(i, 2)).collect();
        let sex: Vec<u32> = (0..rows).map(|i| (uniform(i, 3) < 0.45) as u32).collect();
        let region: Vec<u32> = (0..rows).map(|i| (uniform(i, 4) * 3.0) as u32).collect();
        let category = |name: &str, target: f64| MarginCategory {
            category: name.into(),
            target,
            line: 0,
        };
        let margins = Margins {
            path: "m.csv".into(),
            variables: vec![
                MarginVariable {
                    name: "sex".into(),
                    columns: vec!["sex".into()],
                    categories: vec![category("0", 0.5), category("1", 0.5)],
                },
                MarginVariable {
                    name: "region".into(),
                    columns: vec!["region".into()],
                    categories: vec![category("0", 0.2), category("1", 0.3), category("2", 0.5)],
                },
            ],
            shares: true,
        };
        let plan = WeightingPlan {
            method: CalibrationMethod::Rake,
            max_iterations: 50,
            tolerance: 1e-12,
            trim: Some(Trim {
                min: Some(0.8),
                max: Some(1.25),
            }),
            margins: Vec::new(),
        };
        let coded = MarginCodes {
            margins: &margins,
            categories: vec![sex, region],
        };
        let (weights, calibration) =
            calibrate(&plan, 2024.into(), &coded, &design_weights).unwrap();
        assert!(calibration.report.trimmed_low + calibration.report.trimmed_high > 0);
        // The margins hold before trimming, and the report says where trimming left them.
        for m in &calibration.report.margins {
            assert!(m.residual.abs() < 1e-12, "{m:?}");
            assert!((m.after_trimming.unwrap() - m.target).abs() > 1e-9, "{m:?}");
        }
        let design = TestDesign::new(
            weights.clone(),
            psu_starts.clone(),
            psu_stratum.clone(),
            vec![1.0, 0.9, 1.0],
        );
        let layout = design.layout();
        let segments: Vec<u32> = (0..rows).map(|i| (uniform(i, 5) * 4.0) as u32).collect();
        let share: Vec<f64> = (0..rows)
            .map(|i| (uniform(i, 6) < 0.3) as u8 as f64)
            .collect();
        let mut mean: Vec<f64> = (0..rows).map(|i| 10.0 + 5.0 * uniform(i, 7)).collect();
        mean[17] = f64::NAN;
        let denominator: Vec<f64> = (0..rows).map(|i| 1.0 + uniform(i, 8)).collect();
        let columns = [
            Column {
                y: (&share).into(),
                x: None,
                centre: true,
            },
            Column {
                y: (&mean).into(),
                x: None,
                centre: false,
            },
            Column {
                y: (&mean).into(),
                x: Some(&denominator),
                centre: true,
            },
        ];
        let shift = kernel::centres(&layout, &[(&segments, 4)], &columns);
        let raw = kernel::accumulate(&layout, &segments, 4, &columns, &shift[0]).unwrap();
        let projection = Projection::new(&layout, &calibration).unwrap();
        let (mut fast, mut direct) = (raw.clone(), raw.clone());
        residualise(
            &layout,
            &calibration,
            Some(&projection),
            &segments,
            4,
            &columns,
            &mut fast,
        )
        .unwrap();
        residualise(
            &layout,
            &calibration,
            None,
            &segments,
            4,
            &columns,
            &mut direct,
        )
        .unwrap();
        for (cell, ((f, d), r)) in fast.iter().zip(&direct).zip(&raw).enumerate() {
            for (what, a, b) in [
                ("aa", f.v_aa, d.v_aa),
                ("ab", f.v_ab, d.v_ab),
                ("bb", f.v_bb, d.v_bb),
            ] {
                let scale = d.v_aa.abs().max(d.v_bb.abs()).max(1e-300);
                assert!(
                    (a - b).abs() <= 1e-9 * scale,
                    "cell {cell} v_{what}: {a} against {b}"
                );
            }
            // Calibration changed the variance.
            assert!((d.v_aa - r.v_aa).abs() > 1e-6 * r.v_aa, "cell {cell}");
        }
    }
}
