//! The one-pass accumulation behind every estimate.
//!
//! For a domain *d* and an indicator column *y*, each PSU *j* in stratum *h* contributes the
//! totals `A_j = Σ w·y` and `B_j = Σ w` over its rows in the domain. Every estimator peiling
//! offers has an influence total that is linear in those two, `z_j = a·A_j + b·B_j` (a mean:
//! `a = 1/W`, `b = -ȳ/W`; a total: `a = 1`, `b = 0`), so the with-replacement variance of R's
//! `svyrecvar` for one-stage designs,
//!
//! ```text
//! V = Σ_h (1 - f_h) · n_h/(n_h - 1) · Σ_j (z_hj - z̄_h)²      (j over all n_h PSUs of h)
//! ```
//!
//! needs only the stratum-scaled co-moments `Σ_h c_h·S_AA`, `S_AB`, `S_BB` of the PSU totals.
//! PSUs of the stratum without rows in the domain count as zeros, exactly as R pads them when it
//! subsets a design (`[.survey.design2` keeps `fpc$sampsize` of the full design). Co-moments are
//! accumulated with Welford/Chan updates, so no sum of squares is differenced.
//!
//! Rows are visited in (stratum, PSU) order from the design index, every column of a
//! segmentation in the same pass; sums are added in that fixed order, so results do not depend
//! on the thread count.

use crate::spec::LonelyPsu;
use crate::weight::SurveyDesign;

/// Sufficient statistics of one (indicator, domain).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Rows in the domain.
    pub n: u64,
    /// Rows with a non-zero value (the "yes" count of a proportion).
    pub n_positive: u64,
    pub sum_w: f64,
    pub sum_wy: f64,
    pub sum_wyy: f64,
    /// PSUs and strata with rows in the domain (R `degf` of the subset design is their
    /// difference).
    pub psus: u32,
    pub strata: u32,
    /// `Σ_h (1 - f_h)·n_h/(n_h-1)·Σ_j (X_j - X̄_h)(Y_j - Ȳ_h)` for X, Y in {A, B}.
    pub v_aa: f64,
    pub v_ab: f64,
    pub v_bb: f64,
}

impl Stats {
    /// Taylor variance of the linear influence total `a·A + b·B`.
    pub fn variance(&self, a: f64, b: f64) -> f64 {
        (a * a * self.v_aa + 2.0 * a * b * self.v_ab + b * b * self.v_bb).max(0.0)
    }
}

/// A stratum with a single PSU met by a domain under `lonely_psu = "fail"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LonelyStratum {
    pub stratum: u32,
    pub column: usize,
    pub domain: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct PsuSum {
    n: u64,
    n_positive: u64,
    a: f64,
    b: f64,
    wyy: f64,
}

/// Running means and co-moments of (A, B) over the PSUs of one stratum.
#[derive(Debug, Clone, Copy, Default)]
struct Welford {
    m: u32,
    mean_a: f64,
    mean_b: f64,
    m_aa: f64,
    m_ab: f64,
    m_bb: f64,
}

impl Welford {
    fn push(&mut self, a: f64, b: f64) {
        self.m += 1;
        let m = self.m as f64;
        let da = a - self.mean_a;
        let db = b - self.mean_b;
        self.mean_a += da / m;
        self.mean_b += db / m;
        self.m_aa += da * (a - self.mean_a);
        self.m_bb += db * (b - self.mean_b);
        self.m_ab += da * (b - self.mean_b);
    }

    /// Co-moments over all `n_h` PSUs of the stratum, the untouched ones being zero:
    /// `Σ xy - Σx·Σy/n_h = M_xy + m·x̄·ȳ·(1 - m/n_h)`.
    fn padded(&self, n_h: f64) -> (f64, f64, f64) {
        let m = self.m as f64;
        let keep = m * (1.0 - m / n_h);
        (
            self.m_aa + keep * self.mean_a * self.mean_a,
            self.m_ab + keep * self.mean_a * self.mean_b,
            self.m_bb + keep * self.mean_b * self.mean_b,
        )
    }
}

/// Accumulates [`Stats`] for every (column, domain): index `column * n_domains + domain`.
/// `columns[k][i]` is NaN where row `i` is outside indicator `k`'s domain; `segments[i]` is the
/// row's segment or `None`.
pub fn accumulate(
    design: &SurveyDesign,
    segments: &[Option<u32>],
    n_domains: usize,
    columns: &[&[f64]],
) -> Result<Vec<Stats>, LonelyStratum> {
    let cells = columns.len() * n_domains;
    let mut stats = vec![Stats::default(); cells];
    let mut psu = vec![PsuSum::default(); cells];
    let mut psu_touched: Vec<u32> = Vec::new();
    let mut stratum = vec![Welford::default(); cells];
    let mut stratum_touched: Vec<u32> = Vec::new();
    let runs = design.psus();

    for run in 0..runs {
        let h = design.psu_stratum[run];
        let rows = design.psu_starts[run] as usize..design.psu_starts[run + 1] as usize;
        for &row in &design.order[rows] {
            let row = row as usize;
            let Some(domain) = segments[row] else {
                continue;
            };
            let w = design.weights[row];
            for (k, column) in columns.iter().enumerate() {
                let y = column[row];
                if y.is_nan() {
                    continue;
                }
                let cell = k * n_domains + domain as usize;
                let sum = &mut psu[cell];
                if sum.n == 0 {
                    psu_touched.push(cell as u32);
                }
                sum.n += 1;
                sum.n_positive += (y != 0.0) as u64;
                sum.a += w * y;
                sum.b += w;
                sum.wyy += w * y * y;
            }
        }
        for &cell in &psu_touched {
            let cell = cell as usize;
            let sum = std::mem::take(&mut psu[cell]);
            let s = &mut stats[cell];
            s.n += sum.n;
            s.n_positive += sum.n_positive;
            s.sum_w += sum.b;
            s.sum_wy += sum.a;
            s.sum_wyy += sum.wyy;
            s.psus += 1;
            if stratum[cell].m == 0 {
                stratum_touched.push(cell as u32);
            }
            stratum[cell].push(sum.a, sum.b);
        }
        psu_touched.clear();

        let stratum_ends = run + 1 == runs || design.psu_stratum[run + 1] != h;
        if !stratum_ends {
            continue;
        }
        let n_h = design.psus_per_stratum[h as usize] as f64;
        for &cell in &stratum_touched {
            let cell = cell as usize;
            let moments = std::mem::take(&mut stratum[cell]);
            stats[cell].strata += 1;
            if n_h < 2.0 {
                match design.lonely_psu {
                    LonelyPsu::Fail => {
                        return Err(LonelyStratum {
                            stratum: h,
                            column: cell / n_domains,
                            domain: (cell % n_domains) as u32,
                        })
                    }
                    // One-stage: a certainty PSU and a removed stratum both add nothing.
                    LonelyPsu::Remove | LonelyPsu::Certainty => continue,
                    LonelyPsu::Adjust | LonelyPsu::Average => {
                        unreachable!("rejected by spec::compile until implemented")
                    }
                }
            }
            let scale = design.fpc_factor[h as usize] * n_h / (n_h - 1.0);
            let (aa, ab, bb) = moments.padded(n_h);
            let s = &mut stats[cell];
            s.v_aa += scale * aa;
            s.v_ab += scale * ab;
            s.v_bb += scale * bb;
        }
        stratum_touched.clear();
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_co_moments_equal_the_direct_formula() {
        // PSU totals (A, B) of a stratum with n_h = 5 PSUs, two of them outside the domain.
        let totals = [(3.0, 1.5), (7.0, 2.0), (1.0, 0.5)];
        let mut w = Welford::default();
        for (a, b) in totals {
            w.push(a, b);
        }
        let (aa, ab, bb) = w.padded(5.0);
        let all = [(3.0, 1.5), (7.0, 2.0), (1.0, 0.5), (0.0, 0.0), (0.0, 0.0)];
        let mean_a = all.iter().map(|t| t.0).sum::<f64>() / 5.0;
        let mean_b = all.iter().map(|t| t.1).sum::<f64>() / 5.0;
        let direct_aa: f64 = all.iter().map(|t| (t.0 - mean_a).powi(2)).sum();
        let direct_ab: f64 = all.iter().map(|t| (t.0 - mean_a) * (t.1 - mean_b)).sum();
        let direct_bb: f64 = all.iter().map(|t| (t.1 - mean_b).powi(2)).sum();
        assert!((aa - direct_aa).abs() < 1e-12);
        assert!((ab - direct_ab).abs() < 1e-12);
        assert!((bb - direct_bb).abs() < 1e-12);
    }
}
