//! The accumulation behind every estimate.
//!
//! For a domain *d* and an indicator column *y* (with denominator *x*: 1, or a ratio's
//! denominator), each PSU *j* in stratum *h* contributes the totals `A_j = Σ w·y` and
//! `B_j = Σ w·x` over its rows in the domain. Every estimator peiling offers has an influence
//! total that is linear in those two, `z_j = a·A_j + b·B_j` (a mean: `a = 1/W`, `b = -ȳ/W`; a
//! total: `a = 1`, `b = 0`; a ratio: `a = 1/X`, `b = -R/X`), so the with-replacement variance of
//! R's `svyrecvar` for one-stage designs,
//!
//! ```text
//! V = Σ_h (1 - f_h) · n_h/(n_h - 1) · Σ_j (z_hj - z̄_h)²      (j over all n_h PSUs of h)
//! ```
//!
//! needs only the stratum-scaled co-moments `Σ_h c_h·S_AA`, `S_AB`, `S_BB` of the PSU totals.
//! PSUs of the stratum without rows in the domain count as zeros, exactly as R pads them when it
//! subsets a design (`[.survey.design2` keeps `fpc$sampsize` of the full design). Within a
//! stratum the co-moments come from sums and products of the PSU totals about the domain's own
//! mean in that stratum; strata split between chunks are joined with Chan's formula. PSU totals
//! that are equal throughout a stratum give co-moments of exactly 0 and their mean exactly, so a
//! variance R gives as 0 is 0 here too, not a rounding residue.
//!
//! **Centring.** A column with `centre` (means, proportions, ratios) is accumulated as
//! `y - K·x`, with `K` the cell's own estimate (`Σwy / Σwx`) from a first, cheap pass of sums.
//! The influence of the estimator is unchanged (`b` absorbs `a·K`), but the variance's quadratic
//! form then has no large terms to cancel: a domain inside one PSU, a domain of one row or a
//! proportion of 0 or 1 gets a variance of 0 up to rounding, as in R.
//!
//! **Lonely PSUs** follow survey 4.5's `arma_onestage` (its default C++ variance code): a stratum whose
//! full sample has one PSU (and is not a certainty stratum under the fpc) is an error under
//! `fail`, adds nothing under `remove` and `certainty`, is left out and the sum scaled by
//! `H / (H - lonely)` under `average`, and is centred at the grand mean `Σ z / Σ_h n_h` under
//! `adjust`. With `adjust_domain_lonely` (R's `survey.adjust.domain.lonely`), a stratum with
//! one PSU *inside the domain* is treated the same way under `adjust` and `average`.
//!
//! **Parallelism.** Rows arrive in design order (stratum, then PSU). They are cut into chunks at
//! PSU boundaries whose size depends only on the number of rows, accumulated in parallel, and
//! merged in chunk order (Chan's formula joins a stratum that spans two chunks). Results are
//! therefore bit-identical for any number of threads.

use rayon::prelude::*;

use crate::spec::LonelyPsu;

/// Sufficient statistics of one (indicator, domain).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stats {
    /// Rows in the domain.
    pub n: u64,
    /// Rows with a non-zero value (the "yes" count of a proportion).
    pub n_positive: u64,
    /// Whether the domain's values differ (a constant has no design effect).
    pub values: Sameness,
    pub sum_w: f64,
    /// `Σ w·y` (A) and `Σ w·x` (B, equal to `sum_w` without a denominator).
    pub sum_wy: f64,
    pub sum_wx: f64,
    pub sum_wyy: f64,
    pub sum_wxy: f64,
    pub sum_wxx: f64,
    /// PSUs and strata with rows in the domain (R `degf` of the subset design is their
    /// difference).
    pub psus: u32,
    pub strata: u32,
    /// `Σ_h n_h` over the strata with rows in the domain (the divisor of `adjust`'s grand mean).
    pub design_psus: u64,
    /// Lonely strata left out under `average`.
    pub averaged: u32,
    /// `K`: the values were accumulated as `y - K·x` (0 for a column without `centre`).
    /// `sum_wy`, `sum_wyy`, `sum_wxy` and the co-moments are of the centred values.
    pub shift: f64,
    /// `Σ_h (1 - f_h)·n_h/(n_h-1)·Σ_j (X_j - X̄_h)(Y_j - Ȳ_h)` for X, Y in {A, B}.
    pub v_aa: f64,
    pub v_ab: f64,
    pub v_bb: f64,
}

impl Stats {
    /// Taylor variance of the linear influence total `a·A + b·B`; NaN where R's is (every
    /// stratum of the domain lonely under `average`).
    pub fn variance(&self, a: f64, b: f64) -> f64 {
        let v = a * a * self.v_aa + 2.0 * a * b * self.v_ab + b * b * self.v_bb;
        if v.is_nan() {
            v
        } else {
            v.max(0.0)
        }
    }

    fn add(&mut self, other: &Stats) {
        self.n += other.n;
        self.n_positive += other.n_positive;
        self.values.merge(&other.values);
        self.sum_w += other.sum_w;
        self.sum_wy += other.sum_wy;
        self.sum_wx += other.sum_wx;
        self.sum_wyy += other.sum_wyy;
        self.sum_wxy += other.sum_wxy;
        self.sum_wxx += other.sum_wxx;
        self.psus += other.psus;
    }
}

/// Whether a run of values are all the same, exactly: the first value seen and whether a later
/// one differs. Sums of squares cannot tell a constant (its spread is 0/0) from rounding.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sameness {
    first: f64,
    seen: bool,
    varies: bool,
}

impl Sameness {
    /// `self` followed by `other`.
    #[inline]
    fn merge(&mut self, other: &Sameness) {
        if !other.seen {
            return;
        }
        if self.seen {
            self.varies |= other.varies || other.first != self.first;
        } else {
            *self = *other;
        }
    }

    /// At least one value, and all equal.
    pub fn constant(&self) -> bool {
        self.seen && !self.varies
    }
}

/// A stratum with a single PSU met by a domain under `lonely_psu = "fail"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LonelyStratum {
    pub stratum: u32,
    pub column: usize,
    pub domain: u32,
}

/// The design, laid out for the kernel: rows in (stratum, PSU) order.
#[derive(Debug, Clone, Copy)]
pub struct Layout<'a> {
    /// Weight of each row, in design order.
    pub weights: &'a [f64],
    /// Start of each PSU run, plus the number of rows at the end.
    pub psu_starts: &'a [u32],
    /// Stratum of each PSU run.
    pub psu_stratum: &'a [u32],
    /// PSUs per stratum in the full sample (`n_h`).
    pub psus_per_stratum: &'a [u32],
    /// `1 - f_h` per stratum.
    pub fpc_factor: &'a [f64],
    pub lonely_psu: LonelyPsu,
    pub adjust_domain_lonely: bool,
    /// The PSU runs cut into chunks ([`crate::weight::chunks`]).
    pub chunks: &'a [(usize, usize)],
}

impl<'a> Layout<'a> {
    /// The layout of a wave's design.
    pub fn of(design: &'a crate::weight::SurveyDesign) -> Self {
        Layout {
            weights: &design.ordered_weights,
            psu_starts: &design.psu_starts,
            psu_stratum: &design.psu_stratum,
            psus_per_stratum: &design.psus_per_stratum,
            fpc_factor: &design.fpc_factor,
            lonely_psu: design.lonely_psu,
            adjust_domain_lonely: design.adjust_domain_lonely,
            chunks: &design.chunks,
        }
    }
}

/// A design owned by a unit test, laid out for the kernel: PSU runs starting at `psu_starts`
/// (plus the number of rows) in strata `psu_stratum`, lonely PSUs failing.
#[cfg(test)]
pub(crate) struct TestDesign {
    pub weights: Vec<f64>,
    pub psu_starts: Vec<u32>,
    pub psu_stratum: Vec<u32>,
    pub psus_per_stratum: Vec<u32>,
    pub fpc_factor: Vec<f64>,
    pub chunks: Vec<(usize, usize)>,
}

#[cfg(test)]
impl TestDesign {
    /// `fpc_factor` has one entry per stratum.
    pub fn new(
        weights: Vec<f64>,
        psu_starts: Vec<u32>,
        psu_stratum: Vec<u32>,
        fpc_factor: Vec<f64>,
    ) -> Self {
        let mut psus_per_stratum = vec![0u32; fpc_factor.len()];
        psu_stratum
            .iter()
            .for_each(|&h| psus_per_stratum[h as usize] += 1);
        TestDesign {
            chunks: crate::weight::chunks(&psu_starts),
            weights,
            psu_starts,
            psu_stratum,
            psus_per_stratum,
            fpc_factor,
        }
    }

    pub fn layout(&self) -> Layout<'_> {
        Layout {
            weights: &self.weights,
            psu_starts: &self.psu_starts,
            psu_stratum: &self.psu_stratum,
            psus_per_stratum: &self.psus_per_stratum,
            fpc_factor: &self.fpc_factor,
            lonely_psu: LonelyPsu::Fail,
            adjust_domain_lonely: false,
            chunks: &self.chunks,
        }
    }
}

/// An indicator's values in design order, NaN outside its domain: a number per row, or a code
/// per row into a table of numbers, a byte while there are at most 256 of them, two bytes up
/// to 65,536. Most indicators are shares, counts, coded answers or hours with few distinct
/// values; coded, they take an eighth or a quarter of the memory, and of the memory traffic of
/// the passes over them.
#[derive(Debug, Clone, Copy)]
pub enum Values<'a> {
    Plain(&'a [f64]),
    Coded8 {
        codes: &'a [u8],
        table: &'a [f64; 1 << 8],
    },
    Coded16 {
        codes: &'a [u16],
        table: &'a [f64; 1 << 16],
    },
}

impl<'a> Values<'a> {
    pub fn len(&self) -> usize {
        match self {
            Values::Plain(values) => values.len(),
            Values::Coded8 { codes, .. } => codes.len(),
            Values::Coded16 { codes, .. } => codes.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of row `i`.
    #[inline]
    pub fn get(&self, i: usize) -> f64 {
        match self {
            Values::Plain(values) => values[i],
            Values::Coded8 { codes, table } => table[codes[i] as usize],
            Values::Coded16 { codes, table } => table[codes[i] as usize],
        }
    }

    /// The values of `rows`: borrowed when plain, decoded into `scratch` when coded.
    pub fn rows<'s>(&'s self, rows: std::ops::Range<usize>, scratch: &'s mut Vec<f64>) -> &'s [f64]
    where
        'a: 's,
    {
        match self {
            Values::Plain(values) => &values[rows],
            Values::Coded8 { codes, table } => {
                scratch.clear();
                scratch.extend(codes[rows].iter().map(|&c| table[c as usize]));
                scratch
            }
            Values::Coded16 { codes, table } => {
                scratch.clear();
                scratch.extend(codes[rows].iter().map(|&c| table[c as usize]));
                scratch
            }
        }
    }

    /// Every value, decoded when coded.
    pub fn to_vec(&self) -> Vec<f64> {
        match self {
            Values::Plain(values) => values.to_vec(),
            Values::Coded8 { codes, table } => codes.iter().map(|&c| table[c as usize]).collect(),
            Values::Coded16 { codes, table } => codes.iter().map(|&c| table[c as usize]).collect(),
        }
    }
}

impl<'a> From<&'a [f64]> for Values<'a> {
    fn from(values: &'a [f64]) -> Self {
        Values::Plain(values)
    }
}

impl<'a> From<&'a Vec<f64>> for Values<'a> {
    fn from(values: &'a Vec<f64>) -> Self {
        Values::Plain(values)
    }
}

/// One indicator's values in design order: `y` is NaN outside the indicator's domain; `x`, a
/// ratio's denominator, is `None` for every other kind (x = 1).
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub y: Values<'a>,
    pub x: Option<&'a [f64]>,
    /// Accumulate around the cell's first value (estimators whose influence is centred).
    pub centre: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct PsuSum {
    n: u64,
    n_positive: u64,
    values: Sameness,
    a: f64,
    b: f64,
    w: f64,
    wyy: f64,
    wxy: f64,
    wxx: f64,
}

impl PsuSum {
    /// One row: weight `w`, value `y`, centred value `centred`, denominator `x` (ratios).
    #[inline]
    fn of_row(w: f64, y: f64, centred: f64, x: Option<f64>) -> Self {
        let mut sum = PsuSum {
            n: 1,
            n_positive: (y != 0.0) as u64,
            values: Sameness {
                first: y,
                seen: true,
                varies: false,
            },
            a: w * centred,
            b: w,
            w,
            wyy: w * centred * centred,
            wxy: 0.0,
            wxx: 0.0,
        };
        if let Some(x) = x {
            sum.b = w * x;
            sum.wxy = w * x * centred;
            sum.wxx = w * x * x;
        }
        sum
    }

    #[inline]
    fn add(&mut self, other: &PsuSum) {
        self.n += other.n;
        self.n_positive += other.n_positive;
        self.values.merge(&other.values);
        self.a += other.a;
        self.b += other.b;
        self.w += other.w;
        self.wyy += other.wyy;
        self.wxy += other.wxy;
        self.wxx += other.wxx;
    }
}

/// One domain's PSU totals in one stratum of a chunk: their sums and products, and the
/// row-level sums for the cell's [`Stats`].
#[derive(Debug, Clone, Copy, Default)]
struct StratumSums {
    m: u32,
    sum_a: f64,
    sum_b: f64,
    /// Row-level sums, added to the cell's [`Stats`] when the stratum ends.
    n: u64,
    n_positive: u64,
    w: f64,
    wyy: f64,
    wxy: f64,
    wxx: f64,
    sum_aa: f64,
    sum_ab: f64,
    sum_bb: f64,
    /// The first PSU's totals, and whether a later PSU's differ: PSU totals that are equal
    /// throughout the stratum have co-moments of exactly 0 (the sums of squares and products
    /// would leave a rounding residue of ~1e-16 relative, which R's two-pass variance does not).
    first_a: f64,
    first_b: f64,
    a_varies: bool,
    b_varies: bool,
    /// The same for the values: the first, and whether another differs (see [`Sameness`]).
    first_y: f64,
    y_varies: bool,
}

impl StratumSums {
    /// The row-level sums of the domain in the stratum, as a cell's [`Stats`] adds them.
    fn row_sums(&self) -> Stats {
        Stats {
            n: self.n,
            n_positive: self.n_positive,
            values: Sameness {
                first: self.first_y,
                seen: true,
                varies: self.y_varies,
            },
            sum_w: self.w,
            sum_wy: self.sum_a,
            sum_wx: self.sum_b,
            sum_wyy: self.wyy,
            sum_wxy: self.wxy,
            sum_wxx: self.wxx,
            psus: self.m,
            ..Stats::default()
        }
    }

    /// Starts the domain in the stratum at its first PSU (totals `A`, `B`, first value `y`),
    /// before that PSU's [`push`](Self::push); the hot loop then compares without a branch.
    #[inline]
    fn open(&mut self, a: f64, b: f64, y: f64) {
        (self.first_a, self.first_b, self.first_y) = (a, b, y);
    }

    /// Adds one PSU's totals `A` and `B` to the sums of squares and products.
    #[inline]
    fn push(&mut self, a: f64, b: f64) {
        self.a_varies |= a != self.first_a;
        self.b_varies |= b != self.first_b;
        self.m += 1;
        self.sum_a += a;
        self.sum_b += b;
        self.sum_aa += a * a;
        self.sum_ab += a * b;
        self.sum_bb += b * b;
    }

    /// Co-moments of the PSU totals about the domain's mean in the stratum.
    fn moments(&self) -> Welford {
        let m = self.m as f64;
        let mean_a = if self.a_varies {
            self.sum_a / m
        } else {
            self.first_a
        };
        let mean_b = if self.b_varies {
            self.sum_b / m
        } else {
            self.first_b
        };
        let both = self.a_varies && self.b_varies;
        Welford {
            m: self.m,
            mean_a,
            mean_b,
            m_aa: if self.a_varies {
                (self.sum_aa - self.sum_a * mean_a).max(0.0)
            } else {
                0.0
            },
            m_ab: if both {
                self.sum_ab - self.sum_a * mean_b
            } else {
                0.0
            },
            m_bb: if self.b_varies {
                (self.sum_bb - self.sum_b * mean_b).max(0.0)
            } else {
                0.0
            },
        }
    }
}

/// Calls `sink(domain, totals)` for every PSU of runs `runs.0..runs.1` with rows in a domain of
/// `column`, in order. A PSU of one row (no `psu` column: every row is its own) skips the
/// buffer.
#[allow(clippy::too_many_arguments)]
#[inline]
fn visit_psus(
    layout: &Layout,
    segments: &[u32],
    column: &Column,
    (y, offset): (&[f64], usize),
    shift: &[f64],
    runs: (usize, usize),
    psu: &mut [PsuSum],
    touched: &mut Vec<u32>,
    mut sink: impl FnMut(u32, &PsuSum),
) {
    for r in runs.0..runs.1 {
        let rows = layout.psu_starts[r] as usize..layout.psu_starts[r + 1] as usize;
        let single = rows.len() == 1;
        for i in rows {
            let d = segments[i];
            let y = y[i - offset];
            if d == u32::MAX || y.is_nan() {
                continue;
            }
            let x = column.x.map_or(1.0, |x| x[i]);
            let centred = y - shift[d as usize] * x;
            let one = PsuSum::of_row(layout.weights[i], y, centred, column.x.map(|_| x));
            if single {
                sink(d, &one);
                continue;
            }
            let sum = &mut psu[d as usize];
            if sum.n == 0 {
                touched.push(d);
            }
            sum.add(&one);
        }
        for &d in touched.iter() {
            let sum = std::mem::take(&mut psu[d as usize]);
            sink(d, &sum);
        }
        touched.clear();
    }
}

/// Running means and co-moments of (A, B) over the PSUs of one stratum inside one domain.
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
    /// Welford's update by one PSU (the kernel computes the same moments from sums and products).
    #[cfg(test)]
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

    /// Chan et al.'s pairwise update: `self` followed by `other`.
    fn merge(&mut self, other: &Welford) {
        if other.m == 0 {
            return;
        }
        if self.m == 0 {
            *self = *other;
            return;
        }
        let (m1, m2) = (self.m as f64, other.m as f64);
        let m = m1 + m2;
        let da = other.mean_a - self.mean_a;
        let db = other.mean_b - self.mean_b;
        let k = m1 * m2 / m;
        self.m_aa += other.m_aa + da * da * k;
        self.m_ab += other.m_ab + da * db * k;
        self.m_bb += other.m_bb + db * db * k;
        self.mean_a += da * m2 / m;
        self.mean_b += db * m2 / m;
        self.m += other.m;
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

/// A lonely stratum under `adjust`: its one PSU in the domain is centred at the grand mean,
/// known only once every stratum has been seen.
#[derive(Debug, Clone, Copy)]
struct Adjusted {
    cell: u32,
    scale: f64,
    /// `n_h - 1` zero PSUs beside the observed one.
    zeros: f64,
    a: f64,
    b: f64,
}

/// What one chunk of rows adds: statistics of the strata it holds whole, and the open first
/// and last strata, which may continue in the neighbouring chunks.
struct Partial {
    stats: Vec<Stats>,
    adjusted: Vec<Adjusted>,
    first: OpenStratum,
    /// `None` when the chunk holds a single stratum.
    last: Option<OpenStratum>,
}

struct OpenStratum {
    stratum: u32,
    moments: Vec<Welford>,
}

/// Accumulates [`Stats`] for every (column, domain): index `column * n_domains + domain`.
/// `segments[i]` is the segment of row `i` (design order), `u32::MAX` when it has none;
/// `shift` is the segmentation's [`centres`].
pub fn accumulate(
    layout: &Layout,
    segments: &[u32],
    n_domains: usize,
    columns: &[Column],
    shift: &[f64],
) -> Result<Vec<Stats>, LonelyStratum> {
    let cells = columns.len() * n_domains;
    let parts: Vec<Partial> = layout
        .chunks
        .par_iter()
        .map(|&(start, end)| chunk(layout, segments, n_domains, columns, shift, start, end))
        .collect::<Result<_, _>>()?;

    let mut totals = vec![Stats::default(); cells];
    let mut adjusted = Vec::new();
    let mut open: Option<OpenStratum> = None;
    for part in parts {
        match &mut open {
            Some(o) if o.stratum == part.first.stratum => {
                for (mine, theirs) in o.moments.iter_mut().zip(&part.first.moments) {
                    mine.merge(theirs);
                }
            }
            _ => {
                if let Some(o) = open.take() {
                    close(layout, &o, n_domains, &mut totals, &mut adjusted)?;
                }
                open = Some(part.first);
            }
        }
        for (total, s) in totals.iter_mut().zip(&part.stats) {
            total.add(s);
            total.strata += s.strata;
            total.design_psus += s.design_psus;
            total.averaged += s.averaged;
            total.v_aa += s.v_aa;
            total.v_ab += s.v_ab;
            total.v_bb += s.v_bb;
        }
        adjusted.extend(part.adjusted);
        if let Some(last) = part.last {
            if let Some(o) = open.take() {
                close(layout, &o, n_domains, &mut totals, &mut adjusted)?;
            }
            open = Some(last);
        }
    }
    if let Some(o) = open.take() {
        close(layout, &o, n_domains, &mut totals, &mut adjusted)?;
    }
    for (total, &k) in totals.iter_mut().zip(shift) {
        total.shift = k;
    }
    finish(layout, &mut totals, &adjusted);
    Ok(totals)
}

/// The PSU totals of one (column, domain) in one stratum, summed by the caller (the models'
/// cells, [`crate::estimate::model`]): `psus` PSUs with rows in the domain, `Σ A` and `Σ A²`.
#[derive(Debug, Clone, Copy)]
pub struct StratumTotals {
    pub stratum: u32,
    /// `column * n_domains + domain`, as [`accumulate`] indexes its result.
    pub cell: u32,
    pub psus: u32,
    pub sum: f64,
    pub sum_squares: f64,
    /// `Some(a)` when every one of those PSU totals is exactly `a` (their co-moment is then
    /// exactly 0, as [`accumulate`] makes it).
    pub constant: Option<f64>,
}

/// [`Stats`] of totals (`variance(1.0, 0.0)`) from their PSU totals' sums per stratum: the
/// padding with the stratum's other PSUs, the fpc and the lonely-PSU rules of [`accumulate`],
/// which this shares. One entry per (stratum, cell) with rows, in any order; `cells` is
/// `columns * n_domains`. `sum_wy` of a result is `Σ A` and `n` its PSUs.
pub fn from_stratum_totals(
    layout: &Layout,
    n_domains: usize,
    cells: usize,
    strata: &[StratumTotals],
) -> Result<Vec<Stats>, LonelyStratum> {
    let mut totals = vec![Stats::default(); cells];
    let mut adjusted = Vec::new();
    for s in strata {
        let m = f64::from(s.psus);
        let (mean_a, m_aa) = match s.constant {
            Some(a) => (a, 0.0),
            None => {
                let mean = s.sum / m;
                (mean, (s.sum_squares - s.sum * mean).max(0.0))
            }
        };
        let moments = Welford {
            m: s.psus,
            mean_a,
            m_aa,
            ..Welford::default()
        };
        let total = &mut totals[s.cell as usize];
        total.n += u64::from(s.psus);
        total.psus += s.psus;
        total.sum_wy += s.sum;
        close_cell(
            layout,
            s.stratum,
            s.cell as usize,
            n_domains,
            &moments,
            total,
            &mut adjusted,
        )?;
    }
    finish(layout, &mut totals, &adjusted);
    Ok(totals)
}

/// `K` of every cell of every segmentation (`(segment of each row, number of domains)`):
/// `Σwy / Σwx` for a column with `centre`, else 0. One pass over each column for all
/// segmentations; sums per chunk, added in chunk order.
pub fn centres(
    layout: &Layout,
    segmentations: &[(&[u32], usize)],
    columns: &[Column],
) -> Vec<Vec<f64>> {
    let sizes: Vec<usize> = segmentations
        .iter()
        .map(|&(_, n)| columns.len() * n)
        .collect();
    if !columns.iter().any(|c| c.centre) {
        return sizes.iter().map(|&cells| vec![0.0; cells]).collect();
    }
    let parts: Vec<Vec<Vec<(f64, f64)>>> = layout
        .chunks
        .par_iter()
        .map(|&(start, end)| {
            let chunk_rows = layout.psu_starts[start] as usize..layout.psu_starts[end] as usize;
            let mut sums: Vec<Vec<(f64, f64)>> =
                sizes.iter().map(|&cells| vec![(0.0, 0.0); cells]).collect();
            // Block by block, as in `chunk`: the block's weights and segments stay in cache
            // while each column passes over them; a cell still adds its rows in order.
            let block = (BLOCK_ROWS / segmentations.len().max(1)).max(1024);
            let mut scratch = Vec::new();
            for from in chunk_rows.clone().step_by(block) {
                let rows = from..(from + block).min(chunk_rows.end);
                let segments: Vec<&[u32]> = segmentations
                    .iter()
                    .map(|(codes, _)| &codes[rows.clone()])
                    .collect();
                let w = &layout.weights[rows.clone()];
                for (k, column) in columns.iter().enumerate().filter(|(_, c)| c.centre) {
                    let y = column.y.rows(rows.clone(), &mut scratch);
                    let x = column.x.map(|x| &x[rows.clone()]);
                    for (i, (&y, &w)) in y.iter().zip(w).enumerate() {
                        if y.is_nan() {
                            continue;
                        }
                        let (wy, wx) = (w * y, x.map_or(w, |x| w * x[i]));
                        for ((codes, sums), &(_, n)) in
                            segments.iter().zip(&mut sums).zip(segmentations)
                        {
                            let d = codes[i];
                            if d != u32::MAX {
                                let sum = &mut sums[k * n + d as usize];
                                sum.0 += wy;
                                sum.1 += wx;
                            }
                        }
                    }
                }
            }
            sums
        })
        .collect();
    let mut totals: Vec<Vec<(f64, f64)>> =
        sizes.iter().map(|&cells| vec![(0.0, 0.0); cells]).collect();
    for part in parts {
        for (total, part) in totals.iter_mut().zip(part) {
            for (t, s) in total.iter_mut().zip(part) {
                t.0 += s.0;
                t.1 += s.1;
            }
        }
    }
    totals
        .into_iter()
        .map(|total| {
            total
                .into_iter()
                .map(|(y, x)| y / x)
                .map(|k| if k.is_finite() { k } else { 0.0 })
                .collect()
        })
        .collect()
}

/// Rows of a block of strata that [`chunk`] passes over column by column: its weights and
/// segments (12 bytes a row) stay in a core's L2 cache.
const BLOCK_ROWS: usize = 16_384;

/// One chunk of PSU runs `start..end`.
fn chunk(
    layout: &Layout,
    segments: &[u32],
    n_domains: usize,
    columns: &[Column],
    shift: &[f64],
    start: usize,
    end: usize,
) -> Result<Partial, LonelyStratum> {
    let cells = columns.len() * n_domains;
    let mut stats = vec![Stats::default(); cells];
    let mut adjusted = Vec::new();
    let first_stratum = layout.psu_stratum[start];
    let last_stratum = layout.psu_stratum[end - 1];
    // The chunk's first and last strata stay open for the merge; the strata between are closed
    // here, one at a time.
    let mut first = vec![Welford::default(); cells];
    let mut last = if last_stratum != first_stratum {
        vec![Welford::default(); cells]
    } else {
        Vec::new()
    };
    // One pass over each stratum's rows: per domain, sums and products of the PSU totals,
    // turned into co-moments about the domain's mean in the stratum when it ends.
    let mut acc = vec![StratumSums::default(); n_domains];
    let mut in_stratum: Vec<u32> = Vec::new();
    let mut psu = vec![PsuSum::default(); n_domains];
    let mut touched: Vec<u32> = Vec::new();
    let mut scratch = Vec::new();

    // The chunk's strata (runs `run..stop` each), in blocks of whole strata of about
    // `BLOCK_ROWS` rows. Block by block, then column by column: each pass reads one value
    // column and the block's weights and segments, which stay in cache for the next column.
    // A cell sees its strata in the same order as in one pass over the chunk.
    let mut strata: Vec<(usize, usize)> = Vec::new();
    let mut run = start;
    while run < end {
        let h = layout.psu_stratum[run];
        let mut stop = run + 1;
        while stop < end && layout.psu_stratum[stop] == h {
            stop += 1;
        }
        strata.push((run, stop));
        run = stop;
    }
    let mut blocks: Vec<&[(usize, usize)]> = Vec::new();
    let mut rest = strata.as_slice();
    while !rest.is_empty() {
        let begin = layout.psu_starts[rest[0].0] as usize;
        let mut take = 1;
        while take < rest.len() && (layout.psu_starts[rest[take].0] as usize) - begin < BLOCK_ROWS {
            take += 1;
        }
        let (block, tail) = rest.split_at(take);
        blocks.push(block);
        rest = tail;
    }
    // Under `fail`, the lonely stratum of the first column that meets one (its first stratum),
    // as a pass column by column over the chunk would report it.
    let mut lonely: Option<LonelyStratum> = None;
    for block in blocks {
        for (k, column) in columns.iter().enumerate() {
            if lonely.as_ref().is_some_and(|l| l.column <= k) {
                break;
            }
            let base = k * n_domains;
            let shift = &shift[base..base + n_domains];
            let has_x = column.x.is_some();
            let block_start = layout.psu_starts[block[0].0] as usize;
            let block_rows = block_start..layout.psu_starts[block[block.len() - 1].1] as usize;
            // Every row its own PSU and no denominator (b = w): the common case, read straight
            // from the codes. Otherwise the block's values are decoded once for `visit_psus`.
            let single = |&(run, stop): &(usize, usize)| {
                !has_x && (layout.psu_starts[stop] - layout.psu_starts[run]) as usize == stop - run
            };
            let block_y: &[f64] = if block.iter().all(single) {
                &[]
            } else {
                column.y.rows(block_rows, &mut scratch)
            };
            for &(run, stop) in block {
                let h = layout.psu_stratum[run];
                let rows = (run, stop);
                let row_range = layout.psu_starts[run] as usize..layout.psu_starts[stop] as usize;
                if single(&(run, stop)) {
                    let (segments, w) = (
                        &segments[row_range.clone()],
                        &layout.weights[row_range.clone()],
                    );
                    let (acc, in_stratum) = (&mut acc, &mut in_stratum);
                    match column.y {
                        Values::Plain(values) => {
                            let y = values[row_range].iter().copied();
                            single_row_psus(segments, y, w, shift, acc, in_stratum)
                        }
                        Values::Coded8 { codes, table } => {
                            let y = codes[row_range].iter().map(|&c| table[c as usize]);
                            single_row_psus(segments, y, w, shift, acc, in_stratum)
                        }
                        Values::Coded16 { codes, table } => {
                            let y = codes[row_range].iter().map(|&c| table[c as usize]);
                            single_row_psus(segments, y, w, shift, acc, in_stratum)
                        }
                    }
                } else {
                    visit_psus(
                        layout,
                        segments,
                        column,
                        (block_y, block_start),
                        shift,
                        rows,
                        &mut psu,
                        &mut touched,
                        |d, sum| {
                            let a = &mut acc[d as usize];
                            if a.m == 0 {
                                in_stratum.push(d);
                                a.open(sum.a, sum.b, sum.values.first);
                            }
                            a.push(sum.a, sum.b);
                            a.n += sum.n;
                            a.n_positive += sum.n_positive;
                            a.y_varies |= sum.values.varies || sum.values.first != a.first_y;
                            a.w += sum.w;
                            a.wyy += sum.wyy;
                            if has_x {
                                a.wxy += sum.wxy;
                                a.wxx += sum.wxx;
                            }
                        },
                    );
                }
                for &d in &in_stratum {
                    let a = std::mem::take(&mut acc[d as usize]);
                    let s = &mut stats[base + d as usize];
                    s.add(&a.row_sums());
                    let moments = a.moments();
                    let cell = base + d as usize;
                    if h == first_stratum {
                        first[cell] = moments;
                    } else if h == last_stratum {
                        last[cell] = moments;
                    } else if let Err(e) = close_cell(
                        layout,
                        h,
                        cell,
                        n_domains,
                        &moments,
                        &mut stats[cell],
                        &mut adjusted,
                    ) {
                        if lonely.as_ref().is_none_or(|l| e.column < l.column) {
                            lonely = Some(e);
                        }
                    }
                }
                in_stratum.clear();
                if lonely.is_some() {
                    break;
                }
            }
        }
    }
    if let Some(e) = lonely {
        return Err(e);
    }
    Ok(Partial {
        stats,
        adjusted,
        first: OpenStratum {
            stratum: first_stratum,
            moments: first,
        },
        last: (last_stratum != first_stratum).then_some(OpenStratum {
            stratum: last_stratum,
            moments: last,
        }),
    })
}

/// One stratum's rows of one column where every row is its own PSU and there is no
/// denominator (b = w): each row a PSU total, straight into its domain's sums. `y` yields the
/// stratum's values in order, one per segment.
#[inline(always)]
fn single_row_psus(
    segments: &[u32],
    y: impl Iterator<Item = f64>,
    w: &[f64],
    shift: &[f64],
    acc: &mut [StratumSums],
    in_stratum: &mut Vec<u32>,
) {
    for ((&d, y), &w) in segments.iter().zip(y).zip(w) {
        if d == u32::MAX || y.is_nan() {
            continue;
        }
        let centred = y - shift[d as usize];
        let wc = w * centred;
        let a = &mut acc[d as usize];
        if a.m == 0 {
            in_stratum.push(d);
            a.open(wc, w, y);
        }
        a.push(wc, w);
        a.n_positive += (y != 0.0) as u64;
        a.y_varies |= y != a.first_y;
        a.wyy += wc * centred;
    }
    for &d in in_stratum.iter() {
        let a = &mut acc[d as usize];
        a.n = a.m as u64;
        a.w = a.sum_b;
    }
}

/// Closes one stratum for every cell.
fn close(
    layout: &Layout,
    open: &OpenStratum,
    n_domains: usize,
    totals: &mut [Stats],
    adjusted: &mut Vec<Adjusted>,
) -> Result<(), LonelyStratum> {
    for (cell, w) in open.moments.iter().enumerate() {
        if w.m > 0 {
            close_cell(
                layout,
                open.stratum,
                cell,
                n_domains,
                w,
                &mut totals[cell],
                adjusted,
            )?;
        }
    }
    Ok(())
}

/// Adds stratum `h`'s contribution to one cell, applying the lonely-PSU policy.
fn close_cell(
    layout: &Layout,
    h: u32,
    cell: usize,
    n_domains: usize,
    w: &Welford,
    s: &mut Stats,
    adjusted: &mut Vec<Adjusted>,
) -> Result<(), LonelyStratum> {
    let n_h = layout.psus_per_stratum[h as usize] as f64;
    let keep = layout.fpc_factor[h as usize];
    s.strata += 1;
    s.design_psus += n_h as u64;
    // A stratum of one PSU sampled with certainty (f = 1) is no lonely stratum: it adds 0.
    let lonely_in_sample = n_h < 2.0 && keep > 0.0;
    let lonely_in_domain = n_h >= 2.0 && w.m == 1 && layout.adjust_domain_lonely;
    let scale = if n_h > 1.0 {
        keep * n_h / (n_h - 1.0)
    } else {
        keep
    };
    if lonely_in_sample || lonely_in_domain {
        match layout.lonely_psu {
            LonelyPsu::Fail if lonely_in_sample => {
                return Err(LonelyStratum {
                    stratum: h,
                    column: cell / n_domains,
                    domain: (cell % n_domains) as u32,
                })
            }
            LonelyPsu::Remove | LonelyPsu::Certainty if lonely_in_sample => return Ok(()),
            LonelyPsu::Average => {
                s.averaged += 1;
                return Ok(());
            }
            LonelyPsu::Adjust => {
                adjusted.push(Adjusted {
                    cell: cell as u32,
                    scale,
                    zeros: n_h - 1.0,
                    a: w.mean_a,
                    b: w.mean_b,
                });
                return Ok(());
            }
            // A domain-lonely stratum under fail, remove or certainty: as any other.
            _ => {}
        }
    }
    let (aa, ab, bb) = w.padded(n_h);
    s.v_aa += scale * aa;
    s.v_ab += scale * ab;
    s.v_bb += scale * bb;
    Ok(())
}

/// Centres the `adjust` strata at the grand mean and scales the `average` sums.
fn finish(layout: &Layout, totals: &mut [Stats], adjusted: &[Adjusted]) {
    for adj in adjusted {
        let s = &mut totals[adj.cell as usize];
        let n = s.design_psus as f64;
        let (ga, gb) = (s.sum_wy / n, s.sum_wx / n);
        let (da, db) = (adj.a - ga, adj.b - gb);
        s.v_aa += adj.scale * (da * da + adj.zeros * ga * ga);
        s.v_ab += adj.scale * (da * db + adj.zeros * ga * gb);
        s.v_bb += adj.scale * (db * db + adj.zeros * gb * gb);
    }
    if layout.lonely_psu == LonelyPsu::Average {
        for s in totals.iter_mut().filter(|s| s.averaged > 0) {
            let factor = if s.strata > s.averaged {
                s.strata as f64 / (s.strata - s.averaged) as f64
            } else {
                f64::NAN
            };
            s.v_aa *= factor;
            s.v_ab *= factor;
            s.v_bb *= factor;
        }
    }
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

    #[test]
    fn merged_moments_equal_sequential_ones() {
        let values: Vec<(f64, f64)> = (0..40)
            .map(|i| ((i * 37 % 11) as f64 + 0.25, 1.0 + (i % 3) as f64))
            .collect();
        let mut whole = Welford::default();
        values.iter().for_each(|&(a, b)| whole.push(a, b));
        let (mut left, mut right) = (Welford::default(), Welford::default());
        values[..13].iter().for_each(|&(a, b)| left.push(a, b));
        values[13..].iter().for_each(|&(a, b)| right.push(a, b));
        left.merge(&right);
        assert_eq!(left.m, whole.m);
        for (x, y) in [
            (left.m_aa, whole.m_aa),
            (left.m_ab, whole.m_ab),
            (left.m_bb, whole.m_bb),
            (left.mean_a, whole.mean_a),
        ] {
            assert!((x - y).abs() <= 1e-12 * y.abs(), "{x} vs {y}");
        }
    }

    /// Coded values give the statistics plain ones give, bit for bit: over many blocks, strata
    /// larger and smaller than a block, PSUs of one row and of several, a ratio's denominator,
    /// rows outside every domain and values outside the indicator's.
    #[test]
    fn coded_values_accumulate_as_plain_ones() {
        let mut psu_starts = Vec::new();
        let mut psu_stratum = Vec::new();
        let mut row = 0u32;
        for h in 0..40u32 {
            // Stratum sizes from 50 rows to more than two blocks.
            let size = 50 + (h * 7919) % (2 * BLOCK_ROWS as u32 + 3000);
            let psu_rows = if h % 3 == 0 { 1 } else { 1 + h % 5 };
            let end = row + size;
            while row < end {
                psu_starts.push(row);
                psu_stratum.push(h);
                row = (row + psu_rows).min(end);
            }
        }
        let rows = row as usize;
        psu_starts.push(row);
        let numbers = [0.0, 1.0, 2.5, f64::NAN, 7.25];
        let code = |i: usize| ((i * 31 + i / 7) % numbers.len()) as u8;
        let codes: Vec<u8> = (0..rows).map(code).collect();
        let mut table = [f64::NAN; 256];
        table[..numbers.len()].copy_from_slice(&numbers);
        let plain: Vec<f64> = codes.iter().map(|&c| table[c as usize]).collect();
        let x: Vec<f64> = (0..rows).map(|i| 1.0 + (i % 3) as f64).collect();
        let segments: Vec<u32> = (0..rows)
            .map(|i| {
                if i % 11 == 0 {
                    u32::MAX
                } else {
                    (i % 3) as u32
                }
            })
            .collect();
        let weights = (0..rows).map(|i| 0.5 + (i % 13) as f64 / 4.0).collect();
        let design = TestDesign::new(weights, psu_starts, psu_stratum, vec![1.0; 40]);
        let layout = Layout {
            lonely_psu: LonelyPsu::Remove,
            ..design.layout()
        };
        for x in [None, Some(x.as_slice())] {
            let stats = |y: Values| {
                let columns = [true, false].map(|centre| Column { y, x, centre });
                let shift = centres(&layout, &[(&segments, 3)], &columns).remove(0);
                let stats = accumulate(&layout, &segments, 3, &columns, &shift).unwrap();
                format!("{shift:?} {stats:?}")
            };
            let coded = stats(Values::Coded8 {
                codes: &codes,
                table: &table,
            });
            let plain = stats(Values::Plain(&plain));
            assert_eq!(coded, plain, "with a denominator: {}", x.is_some());
        }
    }

    /// Many chunks, strata spanning chunk boundaries, PSUs of several rows, three domains:
    /// the kernel's co-moments equal the textbook formula computed directly.
    #[test]
    fn psu_totals_equal_within_every_stratum_have_a_variance_of_exactly_zero() {
        // A stratified sample, one row per PSU, weights and values constant within a stratum
        // but not between: the PSU totals are too, so R's variance is exactly 0. Strata are
        // long enough to be split between chunks, and the values are ones whose sums round.
        let per_stratum = crate::weight::chunk_target(0) + 777;
        let strata = 3usize;
        let rows = strata * per_stratum;
        let stratum = |i: usize| (i / per_stratum) as u32;
        let psu_stratum: Vec<u32> = (0..rows).map(stratum).collect();
        let weights: Vec<f64> = (0..rows)
            .map(|i| [0.1, 1.7, 33.3][stratum(i) as usize])
            .collect();
        let y: Vec<f64> = (0..rows)
            .map(|i| [0.3, 480.7, 1.0 / 3.0][stratum(i) as usize])
            .collect();
        let design = TestDesign::new(
            weights,
            (0..=rows as u32).collect(),
            psu_stratum.clone(),
            vec![0.9, 0.7, 0.95],
        );
        let layout = design.layout();
        assert!(layout.chunks.len() > strata, "strata span chunks");
        let segments = vec![0u32; rows];
        for centre in [false, true] {
            let column = Column {
                y: (&y).into(),
                x: None,
                centre,
            };
            let shift = centres(&layout, &[(&segments, 1)], &[column]).remove(0);
            let s = accumulate(&layout, &segments, 1, &[column], &shift).unwrap()[0];
            assert_eq!((s.v_aa, s.v_ab, s.v_bb), (0.0, 0.0, 0.0), "centre {centre}");
            let mean = (1.0 / s.sum_w, -(s.sum_wy / s.sum_w) / s.sum_w);
            assert_eq!(s.variance(mean.0, mean.1), 0.0);
            assert!(!s.values.constant(), "the values differ between strata");
        }
        // One domain per stratum: each constant, across the chunks that split it.
        let column = Column {
            y: (&y).into(),
            x: None,
            centre: true,
        };
        let shift = centres(&layout, &[(&psu_stratum, strata)], &[column]).remove(0);
        let stats = accumulate(&layout, &psu_stratum, strata, &[column], &shift).unwrap();
        assert!(stats.iter().all(|s| s.values.constant()), "{stats:?}");
    }

    #[test]
    fn chunked_accumulation_equals_the_direct_variance() {
        let rows = 3 * crate::weight::chunk_target(0) + 1234;
        let strata = 5u32;
        // Design order: stratum h holds rows [h·rows/5, (h+1)·rows/5), PSUs of 1–3 rows.
        let mut psu_starts = Vec::new();
        let mut psu_stratum = Vec::new();
        let mut i = 0usize;
        let mut k = 0usize;
        while i < rows {
            let h = (i * strata as usize / rows) as u32;
            psu_starts.push(i as u32);
            psu_stratum.push(h);
            let len = 1 + k % 3;
            let stratum_end = ((h as usize + 1) * rows).div_ceil(strata as usize);
            i = (i + len).min(stratum_end);
            k += 1;
        }
        psu_starts.push(rows as u32);
        let weights: Vec<f64> = (0..rows).map(|i| 1.0 + (i * 7 % 13) as f64 / 4.0).collect();
        let y: Vec<f64> = (0..rows)
            .map(|i| {
                if i % 17 == 0 {
                    f64::NAN
                } else {
                    (i * 31 % 29) as f64
                }
            })
            .collect();
        let segments: Vec<u32> = (0..rows).map(|i| (i * 5 % 3) as u32).collect();
        let design = TestDesign::new(
            weights.clone(),
            psu_starts.clone(),
            psu_stratum.clone(),
            vec![1.0; strata as usize],
        );
        let layout = design.layout();
        assert!(layout.chunks.len() >= 3);
        let column = Column {
            y: (&y).into(),
            x: None,
            centre: false,
        };
        // A second column constant in domains 0 and 1, and in 2 but for its last row.
        let last_of_2 = segments.iter().rposition(|&d| d == 2).unwrap();
        let level: Vec<f64> = (0..rows)
            .map(|i| [0.3, 480.7, 1.0 / 3.0][segments[i] as usize] + f64::from(i == last_of_2))
            .collect();
        let levels = Column {
            y: (&level).into(),
            x: None,
            centre: false,
        };
        let stats = accumulate(&layout, &segments, 3, &[column, levels], &[0.0; 6]).unwrap();
        let constant: Vec<bool> = stats.iter().map(|s| s.values.constant()).collect();
        assert_eq!(constant, [false, false, false, true, true, false]);

        for d in 0..3u32 {
            let mut v = [0.0f64; 3];
            for h in 0..strata {
                let runs: Vec<usize> = (0..psu_stratum.len())
                    .filter(|&r| psu_stratum[r] == h)
                    .collect();
                let totals: Vec<(f64, f64)> = runs
                    .iter()
                    .map(|&r| {
                        (psu_starts[r] as usize..psu_starts[r + 1] as usize)
                            .filter(|&i| segments[i] == d && !y[i].is_nan())
                            .fold((0.0, 0.0), |(a, b), i| {
                                (a + weights[i] * y[i], b + weights[i])
                            })
                    })
                    .collect();
                let n = totals.len() as f64;
                let (ma, mb) = (
                    totals.iter().map(|t| t.0).sum::<f64>() / n,
                    totals.iter().map(|t| t.1).sum::<f64>() / n,
                );
                let scale = n / (n - 1.0);
                for t in &totals {
                    v[0] += scale * (t.0 - ma) * (t.0 - ma);
                    v[1] += scale * (t.0 - ma) * (t.1 - mb);
                    v[2] += scale * (t.1 - mb) * (t.1 - mb);
                }
            }
            let s = &stats[d as usize];
            for (ours, direct) in [(s.v_aa, v[0]), (s.v_ab, v[1]), (s.v_bb, v[2])] {
                assert!(
                    (ours - direct).abs() <= 1e-10 * direct.abs(),
                    "{ours} vs {direct}"
                );
            }
            assert_eq!(s.strata, strata);
        }
    }

    #[test]
    fn stratum_totals_give_the_accumulated_variance_under_every_lonely_rule() {
        // Strata of 1, 2, 3, ... PSUs of 1-3 rows (stratum 0 lonely); three domains, one of
        // them alone in some strata; y with gaps; fpc in stratum 2.
        let (mut psu_starts, mut psu_stratum, mut rows) = (Vec::new(), Vec::new(), 0u32);
        for h in 0..7u32 {
            for j in 0..=h {
                psu_starts.push(rows);
                psu_stratum.push(h);
                rows += 1 + (h + j) % 3;
            }
        }
        psu_starts.push(rows);
        let n = rows as usize;
        let weights: Vec<f64> = (0..n).map(|i| 1.0 + (i * 7 % 11) as f64 / 3.0).collect();
        let y: Vec<f64> = (0..n)
            .map(|i| {
                if i % 13 == 5 {
                    f64::NAN
                } else {
                    (i * 31 % 17) as f64 - 4.5
                }
            })
            .collect();
        let segments: Vec<u32> = (0..n).map(|i| [0, 1, 0, 2][i % 4]).collect();
        let mut fpc = vec![1.0; 7];
        fpc[2] = 0.6;
        let design = TestDesign::new(
            weights.clone(),
            psu_starts.clone(),
            psu_stratum.clone(),
            fpc,
        );
        let column = Column {
            y: (&y).into(),
            x: None,
            centre: false,
        };
        // Per (stratum, domain): the PSU totals of w·y over the domain's rows.
        let mut strata = Vec::new();
        for h in 0..7u32 {
            for d in 0..3u32 {
                let totals: Vec<f64> = (0..psu_stratum.len())
                    .filter(|&r| psu_stratum[r] == h)
                    .filter_map(|r| {
                        let rows = psu_starts[r] as usize..psu_starts[r + 1] as usize;
                        let inside: Vec<usize> = rows
                            .filter(|&i| segments[i] == d && !y[i].is_nan())
                            .collect();
                        (!inside.is_empty())
                            .then(|| inside.iter().map(|&i| weights[i] * y[i]).sum::<f64>())
                    })
                    .collect();
                if totals.is_empty() {
                    continue;
                }
                strata.push(StratumTotals {
                    stratum: h,
                    cell: d,
                    psus: totals.len() as u32,
                    sum: totals.iter().sum(),
                    sum_squares: totals.iter().map(|t| t * t).sum(),
                    constant: totals.iter().all(|&t| t == totals[0]).then_some(totals[0]),
                });
            }
        }
        for lonely_psu in [
            LonelyPsu::Remove,
            LonelyPsu::Certainty,
            LonelyPsu::Adjust,
            LonelyPsu::Average,
        ] {
            for adjust_domain_lonely in [false, true] {
                let mut layout = design.layout();
                layout.lonely_psu = lonely_psu;
                layout.adjust_domain_lonely = adjust_domain_lonely;
                let accumulated = accumulate(&layout, &segments, 3, &[column], &[0.0; 3]).unwrap();
                let summed = from_stratum_totals(&layout, 3, 3, &strata).unwrap();
                for (a, s) in accumulated.iter().zip(&summed) {
                    let (va, vs) = (a.variance(1.0, 0.0), s.variance(1.0, 0.0));
                    assert!(
                        (va - vs).abs() <= 1e-12 * va.abs().max(vs.abs())
                            || va.is_nan() && vs.is_nan(),
                        "{lonely_psu:?} {adjust_domain_lonely}: {va} vs {vs}"
                    );
                    assert!(va > 0.0);
                    assert_eq!(
                        (a.psus, a.strata, a.averaged),
                        (s.psus, s.strata, s.averaged)
                    );
                }
            }
        }
        let mut layout = design.layout();
        layout.lonely_psu = LonelyPsu::Fail;
        assert_eq!(
            from_stratum_totals(&layout, 3, 3, &strata).unwrap_err(),
            accumulate(&layout, &segments, 3, &[column], &[0.0; 3]).unwrap_err()
        );
    }
}
