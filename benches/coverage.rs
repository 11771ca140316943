//! Coverage of the 95% intervals peiling publishes, by simulation.
//!
//! `cargo bench --profile dev --bench coverage` prints a markdown table (progress goes to
//! stderr). `COVERAGE_REPLICATES` sets the number of replicates (default 10,000, about a minute).
//!
//! **Population.** A synthetic finite population, made once from a fixed ChaCha seed:
//! 10 strata of 100 clusters (the PSUs) each. Cluster sizes are lognormal around a mean that
//! grows from 120 persons in stratum 1 to 264 in stratum 10 (at least 15, at most 1,500), about
//! 190,000 persons in all. Every person has
//! - `groep`, one of 12 categories with population shares from 32% down to 1% (so that a
//!   sample of 1,200 gives domains of about 380 down to 12 respondents); each cluster has its
//!   own mix of the groups (the shares times `exp(0.5·z)`, normalised), so group membership
//!   clusters too;
//! - a binary `y` with `logit P(y = 1) = logit(p_g) + a_h + u_c`: a group level `p_g` (three
//!   groups, of 9%, 4.5% and 2% of the population, have `p_g = 0.05`), a stratum effect `a_h`
//!   from −0.3 to 0.3 and a cluster effect `u_c ~ N(0, 0.5²)` (intra-cluster correlation);
//! - a skewed continuous `x` (hours a week, say): `exp(ln 8 + b_g + c_h + v_c + 0.9·e)` with a
//!   group effect `b_g`, a stratum effect `c_h` from −0.3 to 0.3, a cluster effect
//!   `v_c ~ N(0, 0.3²)` and `e ~ N(0, 1)`.
//!
//! The true values are computed from the whole population, per group and overall: the share
//! with `y = 1`, the mean and the total of `x`, and the median of `x` as peiling defines a
//! quantile: the lowest value whose cumulative population share is at least 0.5.
//!
//! **Sample.** Each replicate draws a stratified two-stage sample: 8 of the 100 clusters of each
//! stratum by simple random sampling without replacement, then 15 persons in each selected
//! cluster without replacement: 1,200 persons. The weight is the inverse inclusion probability,
//! `(100 / 8)·(M_c / 15)`. Replicate `r` draws from ChaCha stream `r`.
//!
//! **Estimation.** peiling's own library estimates every replicate with the design `strata +
//! PSU + weights` and no fpc: the ultimate-cluster variance with replacement at the first stage,
//! which every published peiling run with `psu` and without `fpc` uses. (The first-stage
//! sampling fraction is 8%, so this variance is slightly conservative.) The pipeline and schema
//! files are written once to a temporary folder and compiled with `spec::compile`; each
//! replicate's polars frame then goes through `weight::apply` and `estimate::all`, as `peiling
//! run` does, and the rows are read before disclosure control. The indicators: the share of
//! `y = 1` four times (`ci` = logit, wilson, korn-graubard, wald), the mean, the total and the
//! median of `x`, for the whole population and by `groep`; and, as a control, the mean of `ln x`
//! (symmetric, with the same clustering and weights as `x`), which separates what the skewness of
//! `x` does to a t interval from what the design does.
//!
//! **Counting.** For every indicator and domain size (the domain's sample n in that replicate:
//! n < 30, 30–100, > 100; the whole population separately), the intervals given and those that
//! hold the true value (limits included), and the domains without an interval. A share of
//! exactly 0 or 1 gets the NCHS Korn–Graubard interval (`ci_method = "korn-graubard"`) under
//! every method but wald; it is counted under its indicator's method, as published, and also
//! shown apart. A group without any respondent in a replicate has no row and is counted apart.

use std::time::Instant;

use peiling::derive::DerivedFrame;
use peiling::estimate::{self, EstimateRow};
use peiling::spec::{self, Plan};
use peiling::weight;
use polars::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

const SEED: u64 = 20_240_601;
const STRATA: usize = 10;
const CLUSTERS_PER_STRATUM: usize = 100;
const SAMPLED_CLUSTERS: usize = 8;
const PERSONS_PER_CLUSTER: usize = 15;
const DEFAULT_REPLICATES: usize = 10_000;

/// Population share and level of `y` of each group.
const GROUPS: [(f64, f64); 12] = [
    (0.32, 0.30),
    (0.18, 0.45),
    (0.12, 0.20),
    (0.09, 0.05),
    (0.07, 0.60),
    (0.055, 0.12),
    (0.045, 0.05),
    (0.035, 0.35),
    (0.03, 0.15),
    (0.025, 0.25),
    (0.02, 0.05),
    (0.01, 0.40),
];
/// Group effect on log `x`.
const X_GROUP: [f64; 12] = [
    -0.2, 0.0, 0.3, -0.4, 0.1, 0.5, -0.1, 0.2, 0.6, -0.3, 0.0, 0.4,
];

/// The indicators, in table order: id, the method the table names, what it estimates.
const METHODS: [(&str, &str, Target); 8] = [
    ("p_logit", "proportion, logit", Target::Share),
    ("p_wilson", "proportion, wilson", Target::Share),
    (
        "p_korn_graubard",
        "proportion, korn-graubard",
        Target::Share,
    ),
    ("p_wald", "proportion, wald", Target::Share),
    ("x_mean", "mean, t", Target::Mean),
    ("x_total", "total, t", Target::Total),
    ("x_median", "median, Woodruff", Target::Median),
    ("ln_x_mean", "mean of ln x, t (control)", Target::LogMean),
];

/// Domain size classes: groups by their sample n, and the whole population.
const BUCKETS: [&str; 4] = ["n < 30", "n 30–100", "n > 100", "whole population"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Share,
    Mean,
    Total,
    Median,
    LogMean,
}

/// ChaCha8 with the draws this simulation needs.
struct Rng(ChaCha8Rng);

impl Rng {
    fn new(stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED);
        rng.set_stream(stream);
        Rng(rng)
    }

    /// Uniform on [0, 1), 53 bits.
    fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, one value per pair of uniforms).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform(); // (0, 1]
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// Uniform integer in 0..n (Lemire's multiply-shift; the bias is below 2^-32 here).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.0.next_u64()) * n as u128) >> 64) as usize
    }

    /// `k` of `0..n` by simple random sampling without replacement (partial Fisher–Yates).
    fn choose(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut items: Vec<usize> = (0..n).collect();
        for i in 0..k {
            let j = i + self.below(n - i);
            items.swap(i, j);
        }
        items.truncate(k);
        items
    }
}

fn expit(eta: f64) -> f64 {
    1.0 / (1.0 + (-eta).exp())
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

/// The finite population: persons stored cluster by cluster.
struct Population {
    /// Per stratum, per cluster: the range of its persons.
    clusters: Vec<Vec<std::ops::Range<usize>>>,
    /// Group, 1-based.
    groep: Vec<u8>,
    y: Vec<u8>,
    x: Vec<f64>,
}

impl Population {
    fn generate() -> Self {
        let mut rng = Rng::new(u64::MAX);
        let shares: Vec<f64> = GROUPS.iter().map(|g| g.0).collect();
        let mut population = Population {
            clusters: Vec::with_capacity(STRATA),
            groep: Vec::new(),
            y: Vec::new(),
            x: Vec::new(),
        };
        for h in 0..STRATA {
            let position = h as f64 / (STRATA - 1) as f64 - 0.5; // −0.5 .. 0.5
            let mean_size = 200.0 * (0.6 + 0.08 * h as f64);
            let (a_h, c_h) = (0.6 * position, 0.6 * position);
            let mut clusters = Vec::with_capacity(CLUSTERS_PER_STRATUM);
            for _ in 0..CLUSTERS_PER_STRATUM {
                let size = (mean_size * (0.5 * rng.normal() - 0.125).exp())
                    .round()
                    .clamp(PERSONS_PER_CLUSTER as f64, 1_500.0) as usize;
                let u_c = 0.5 * rng.normal();
                let v_c = 0.3 * rng.normal();
                // The cluster's own mix of the groups, as cumulative shares.
                let mix: Vec<f64> = shares
                    .iter()
                    .map(|s| s * (0.5 * rng.normal()).exp())
                    .collect();
                let sum: f64 = mix.iter().sum();
                let cumulative: Vec<f64> = mix
                    .iter()
                    .scan(0.0, |c, m| {
                        *c += m / sum;
                        Some(*c)
                    })
                    .collect();
                let start = population.groep.len();
                for _ in 0..size {
                    let draw = rng.uniform();
                    let g = cumulative
                        .iter()
                        .position(|&c| draw < c)
                        .unwrap_or(GROUPS.len() - 1);
                    let p = expit(logit(GROUPS[g].1) + a_h + u_c);
                    let y = u8::from(rng.uniform() < p);
                    let x = (8f64.ln() + X_GROUP[g] + c_h + v_c + 0.9 * rng.normal()).exp();
                    population.groep.push(g as u8 + 1);
                    population.y.push(y);
                    population.x.push(x);
                }
                clusters.push(start..population.groep.len());
            }
            population.clusters.push(clusters);
        }
        population
    }

    fn size(&self) -> usize {
        self.groep.len()
    }

    /// One stratified two-stage sample as a frame with the design columns.
    fn sample(&self, replicate: usize) -> DataFrame {
        let mut rng = Rng::new(replicate as u64);
        let rows = STRATA * SAMPLED_CLUSTERS * PERSONS_PER_CLUSTER;
        let (mut stratum, mut psu, mut w) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        let (mut groep, mut y, mut x) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for (h, clusters) in self.clusters.iter().enumerate() {
            for c in rng.choose(clusters.len(), SAMPLED_CLUSTERS) {
                let persons = clusters[c].clone();
                let size = persons.len();
                let weight = (clusters.len() as f64 / SAMPLED_CLUSTERS as f64)
                    * (size as f64 / PERSONS_PER_CLUSTER as f64);
                for i in rng.choose(size, PERSONS_PER_CLUSTER) {
                    let person = persons.start + i;
                    stratum.push(h as i64 + 1);
                    psu.push(c as i64 + 1);
                    w.push(weight);
                    groep.push(i64::from(self.groep[person]));
                    y.push(i64::from(self.y[person]));
                    x.push(self.x[person]);
                }
            }
        }
        df!(
            "stratum" => stratum,
            "psu" => psu,
            "w" => w,
            "groep" => groep,
            "y" => y,
            "x" => x,
        )
        .expect("sample frame")
    }
}

/// The true values of one domain.
#[derive(Debug, Clone, Copy, Default)]
struct Truth {
    size: usize,
    share: f64,
    mean: f64,
    total: f64,
    median: f64,
    log_mean: f64,
}

impl Truth {
    fn of(target: Target, truth: &Truth) -> f64 {
        match target {
            Target::Share => truth.share,
            Target::Mean => truth.mean,
            Target::Total => truth.total,
            Target::Median => truth.median,
            Target::LogMean => truth.log_mean,
        }
    }
}

/// True values: index 0 the whole population, `g` group `g`.
fn truths(population: &Population) -> Vec<Truth> {
    (0..=GROUPS.len())
        .map(|d| {
            let members: Vec<usize> = (0..population.size())
                .filter(|&i| d == 0 || usize::from(population.groep[i]) == d)
                .collect();
            let size = members.len();
            let yes: usize = members.iter().map(|&i| usize::from(population.y[i])).sum();
            let mut x: Vec<f64> = members.iter().map(|&i| population.x[i]).collect();
            let total: f64 = x.iter().sum();
            let log_mean = x.iter().map(|x| x.ln()).sum::<f64>() / size as f64;
            x.sort_by(f64::total_cmp);
            // The lowest value whose cumulative share is at least 0.5: the ceil(N/2)-th.
            let median = x[size.div_ceil(2) - 1];
            Truth {
                size,
                share: yes as f64 / size as f64,
                mean: total / size as f64,
                total,
                median,
                log_mean,
            }
        })
        .collect()
}

const SCHEMA: &str = r#"name = "coverage"

[[field]]
name = "stratum"
type = "integer"
required = true

[[field]]
name = "psu"
type = "integer"
required = true

[[field]]
name = "w"
type = "number"
required = true

[[field]]
name = "groep"
type = "integer"
label = "Groep"
required = true
categories = { 1 = "groep 1", 2 = "groep 2", 3 = "groep 3", 4 = "groep 4", 5 = "groep 5", 6 = "groep 6", 7 = "groep 7", 8 = "groep 8", 9 = "groep 9", 10 = "groep 10", 11 = "groep 11", 12 = "groep 12" }

[[field]]
name = "y"
type = "integer"
required = true
categories = { 0 = "nee", 1 = "ja" }

[[field]]
name = "x"
type = "number"
required = true
"#;

const PIPELINE: &str = r#"[pipeline]
name = "coverage"

[[input]]
wave = 2024
path = "placeholder.csv"
schema = "coverage.schema.toml"
delimiter = ","
decimal = "."

[design]
weight = "w"
strata = "stratum"
psu = "psu"
lonely_psu = "fail"

[disclosure]
min_n = 0
min_cell = 0

[[indicator]]
id = "p_logit"
label = "y, logit"
kind = "proportion"
value = "y = 1"
ci = "logit"

[[indicator]]
id = "p_wilson"
label = "y, wilson"
kind = "proportion"
value = "y = 1"
ci = "wilson"

[[indicator]]
id = "p_korn_graubard"
label = "y, korn-graubard"
kind = "proportion"
value = "y = 1"
ci = "korn-graubard"

[[indicator]]
id = "p_wald"
label = "y, wald"
kind = "proportion"
value = "y = 1"
ci = "wald"

[[indicator]]
id = "x_mean"
label = "x, mean"
kind = "mean"
value = "x"

[[indicator]]
id = "x_total"
label = "x, total"
kind = "total"
value = "x"

[[indicator]]
id = "x_median"
label = "x, median"
kind = "quantile"
value = "x"
probability = 0.5

[[indicator]]
id = "ln_x_mean"
label = "ln x, mean"
kind = "mean"
value = "ln(x)"

[segments]
total = true
by = [["groep"]]

[output]
charts = false
report = false
"#;

/// Compiles the pipeline from a temporary folder (`[[input]]` must name an existing file; the
/// replicates never read it).
fn compile_plan() -> Plan {
    let dir = tempfile::tempdir().expect("temporary folder");
    std::fs::write(dir.path().join("coverage.schema.toml"), SCHEMA).unwrap();
    std::fs::write(
        dir.path().join("placeholder.csv"),
        "stratum,psu,w,groep,y,x\n1,1,1.0,1,0,1.0\n",
    )
    .unwrap();
    let spec_path = dir.path().join("coverage.toml");
    std::fs::write(&spec_path, PIPELINE).unwrap();
    spec::compile(&spec_path, &Default::default()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// One interval of one replicate.
struct Observation {
    method: usize,
    /// 0 the whole population, `g` group `g`.
    domain: usize,
    n: i64,
    /// `None`: no interval.
    covered: Option<bool>,
    /// A share of exactly 0 or 1 (the NCHS interval, except under wald).
    degenerate: bool,
    /// Published as the NCHS interval (`ci_method = "korn-graubard"`, flag `ci_korn_graubard`).
    nchs: bool,
    /// The interval lies wholly below the true value.
    too_low: bool,
    estimate: Option<f64>,
    std_error: Option<f64>,
    df: Option<f64>,
}

fn replicate(population: &Population, plan: &Plan, truths: &[Truth], r: usize) -> Vec<Observation> {
    let frame = population.sample(r);
    let derived = DerivedFrame {
        wave: 2024.into(),
        coded: frame.clone(),
        analysis: frame,
    };
    let design = weight::of_plan(derived, plan).unwrap_or_else(|e| panic!("replicate {r}: {e:?}"));
    let table = estimate::all(&[design], plan).unwrap_or_else(|e| panic!("replicate {r}: {e:?}"));
    table
        .rows
        .iter()
        .map(|row: &EstimateRow| {
            let method = METHODS
                .iter()
                .position(|m| m.0 == row.indicator)
                .expect("indicator");
            let domain = if row.segmentation == "total" {
                0
            } else {
                row.segment.parse().expect("groep code")
            };
            let truth = Truth::of(METHODS[method].2, &truths[domain]);
            let covered = match (row.ci_lower, row.ci_upper) {
                (Some(lower), Some(upper)) => Some(lower <= truth && truth <= upper),
                _ => None,
            };
            Observation {
                method,
                domain,
                n: row.n,
                covered,
                degenerate: METHODS[method].2 == Target::Share
                    && matches!(row.estimate, Some(p) if p == 0.0 || p == 1.0),
                nchs: row.ci_method == "korn-graubard"
                    && row
                        .flag
                        .as_deref()
                        .is_some_and(|f| f.split(';').any(|f| f == "ci_korn_graubard")),
                too_low: row.ci_upper.is_some_and(|upper| upper < truth),
                estimate: row.estimate,
                std_error: row.std_error,
                df: row.df,
            }
        })
        .collect()
}

/// A markdown table: one row per interval method, one cell per sample-size bucket.
fn bucket_table(by_bucket: &[[Count; 4]], cell: impl Fn(&Count) -> String) {
    println!(
        "| method | {} | {} | {} | {} |",
        BUCKETS[0], BUCKETS[1], BUCKETS[2], BUCKETS[3]
    );
    println!("|---|---|---|---|---|");
    for (m, counts) in by_bucket.iter().enumerate() {
        let cells: Vec<String> = counts.iter().map(&cell).collect();
        println!("| {} | {} |", METHODS[m].1, cells.join(" | "));
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Count {
    /// Domains with a row (n >= 1).
    domains: usize,
    intervals: usize,
    covered: usize,
    degenerate: usize,
    degenerate_covered: usize,
    /// Misses with the interval wholly below the true value.
    too_low: usize,
}

impl Count {
    fn add(&mut self, o: &Observation) {
        self.domains += 1;
        if let Some(covered) = o.covered {
            self.intervals += 1;
            self.covered += usize::from(covered);
            self.too_low += usize::from(o.too_low);
            if o.degenerate {
                self.degenerate += 1;
                self.degenerate_covered += usize::from(covered);
            }
        }
    }

    fn coverage(&self) -> Option<f64> {
        (self.intervals > 0).then(|| 100.0 * self.covered as f64 / self.intervals as f64)
    }

    /// Coverage, its Monte Carlo SE (at the observed coverage) and the intervals.
    fn cell(&self) -> String {
        match self.coverage() {
            None => "–".to_string(),
            Some(c) => {
                let p = c / 100.0;
                let se = 100.0 * (p * (1.0 - p) / self.intervals as f64).sqrt();
                format!("{c:.1} ±{se:.1} ({})", thousands(self.intervals))
            }
        }
    }
}

/// Sums over the replicates of one indicator in one domain.
#[derive(Debug, Clone, Copy, Default)]
struct Moments {
    estimates: usize,
    sum: f64,
    sum_squares: f64,
    errors: usize,
    sum_variances: f64,
}

impl Moments {
    fn add(&mut self, o: &Observation) {
        if let Some(e) = o.estimate {
            self.estimates += 1;
            self.sum += e;
            self.sum_squares += e * e;
        }
        if let Some(se) = o.std_error {
            self.errors += 1;
            self.sum_variances += se * se;
        }
    }

    /// (bias / SD, √mean(SE²) / SD).
    fn summary(&self, truth: f64) -> (f64, f64) {
        let k = self.estimates as f64;
        let mean = self.sum / k;
        let sd = ((self.sum_squares - k * mean * mean) / (k - 1.0)).sqrt();
        let se = (self.sum_variances / self.errors as f64).sqrt();
        ((mean - truth) / sd, se / sd)
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bucket(o: &Observation) -> usize {
    match (o.domain, o.n) {
        (0, _) => 3,
        (_, n) if n < 30 => 0,
        (_, n) if n <= 100 => 1,
        _ => 2,
    }
}

fn main() {
    let start = Instant::now();
    let replicates: usize = std::env::var("COVERAGE_REPLICATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_REPLICATES);
    let population = Population::generate();
    let truths = truths(&population);
    let plan = compile_plan();
    eprintln!(
        "coverage: population of {} persons, {replicates} replicates ({:.1} s)",
        population.size(),
        start.elapsed().as_secs_f64()
    );

    // One replicate after the other: peiling spreads each over rayon's pool itself (replicates
    // run in that pool too would nest, and a worker that steals while it waits grows its stack
    // without bound).
    let results: Vec<Vec<Observation>> = (0..replicates)
        .map(|r| {
            let observations = replicate(&population, &plan, &truths, r);
            let finished = r + 1;
            if finished % 500 == 0 || finished == replicates {
                eprintln!(
                    "coverage: {finished} / {replicates} replicates ({:.0} s)",
                    start.elapsed().as_secs_f64()
                );
            }
            observations
        })
        .collect();

    let mut by_bucket = [[Count::default(); 4]; METHODS.len()];
    let mut by_group = vec![[Count::default(); GROUPS.len() + 1]; METHODS.len()];
    let mut group_n = vec![0i64; GROUPS.len() + 1];
    let mut group_present = vec![0usize; GROUPS.len() + 1];
    let mut group_small = vec![[0usize; 3]; GROUPS.len() + 1];
    for observations in &results {
        for o in observations {
            by_bucket[o.method][bucket(o)].add(o);
            by_group[o.method][o.domain].add(o);
            if o.method == 0 {
                group_n[o.domain] += o.n;
                group_present[o.domain] += 1;
                if o.domain > 0 {
                    group_small[o.domain][bucket(o)] += 1;
                }
            }
        }
    }
    let absent: usize = (1..=GROUPS.len())
        .map(|g| replicates - group_present[g])
        .sum();
    let seconds = start.elapsed().as_secs_f64();

    let n = STRATA * SAMPLED_CLUSTERS * PERSONS_PER_CLUSTER;
    println!("## Coverage of the 95% intervals\n");
    println!(
        "Population of {} persons, {STRATA} strata × {CLUSTERS_PER_STRATUM} clusters; {} \
         replicates of {SAMPLED_CLUSTERS} clusters per stratum × {PERSONS_PER_CLUSTER} persons \
         = {} respondents; design strata + PSU + weights, no fpc. Seed {SEED}; {seconds:.0} s.\n",
        thousands(population.size()),
        thousands(replicates),
        thousands(n)
    );
    println!(
        "Coverage in % ± its Monte Carlo SE (intervals given). Groups are classed by their \
         sample n in each replicate.\n"
    );
    bucket_table(&by_bucket, Count::cell);
    let mc_se = |k: usize| 100.0 * (0.95 * 0.05 / k as f64).sqrt();
    let counts: Vec<usize> = by_bucket
        .iter()
        .flatten()
        .map(|c| c.intervals)
        .filter(|&k| k > 0)
        .collect();
    let (fewest, most) = (
        counts.iter().copied().min().unwrap_or(1),
        counts.iter().copied().max().unwrap_or(1),
    );
    println!(
        "\nMonte Carlo SE of a coverage of 95%, √(0.95·0.05/k): {:.2} points at k = {} intervals, \
         {:.2} at k = {}.\n",
        mc_se(fewest),
        thousands(fewest),
        mc_se(most),
        thousands(most)
    );
    println!("Domains without an interval, of the domains with respondents:\n");
    bucket_table(&by_bucket, |c| {
        format!(
            "{} of {}",
            thousands(c.domains - c.intervals),
            thousands(c.domains)
        )
    });
    // Why the linear estimates (all but the median) of a domain can lack an interval.
    let (mut missing, mut df_zero, mut single) = (0usize, 0usize, 0usize);
    for o in results.iter().flatten() {
        if o.method == 0 && o.covered.is_none() {
            missing += 1;
            df_zero += usize::from(o.df == Some(0.0));
            single += usize::from(o.n == 1);
        }
    }
    println!(
        "\nOf the {missing} domains without an interval for the share (logit), \
         {df_zero} have df = 0 (every stratum with respondents of the domain has them in one PSU \
         only); {single} of them with n = 1. The median has no interval where a limit of the Woodruff \
         interval falls outside the data."
    );
    println!(
        "\nGroup domains with no respondent in a replicate (no row, not counted above): {absent} \
         of {}.\n",
        thousands(replicates * GROUPS.len())
    );

    println!(
        "Shares of exactly 0 or 1 (included above): coverage % (intervals). Logit, wilson and \
         korn-graubard publish the NCHS Korn–Graubard interval there (flag `ci_korn_graubard`); \
         wald publishes [p, p].\n"
    );
    bucket_table(&by_bucket[..4], |c| {
        if c.degenerate == 0 {
            "–".to_string()
        } else {
            format!(
                "{:.1} ({})",
                100.0 * c.degenerate_covered as f64 / c.degenerate as f64,
                thousands(c.degenerate)
            )
        }
    });

    // Every share of 0 or 1 with an interval must carry the NCHS interval, except under wald.
    let nchs = |m: usize| {
        results
            .iter()
            .flatten()
            .filter(|o| o.method == m && o.covered.is_some())
            .fold((0usize, 0usize), |(d, f), o| {
                (d + usize::from(o.degenerate), f + usize::from(o.nchs))
            })
    };
    let published: Vec<String> = (0..4)
        .map(|m| {
            let (degenerate, flagged) = nchs(m);
            format!(
                "{}: {} of {}",
                METHODS[m].1,
                thousands(flagged),
                thousands(degenerate)
            )
        })
        .collect();
    println!(
        "\nIntervals of shares of 0 or 1 published with `ci_method = \"korn-graubard\"` and flag \
         `ci_korn_graubard`: {}.",
        published.join("; ")
    );

    println!(
        "\nMisses by side, in % of the intervals: interval wholly below the true value / wholly \
         above it.\n"
    );
    bucket_table(&by_bucket, |c| {
        if c.intervals == 0 {
            return "–".to_string();
        }
        let k = c.intervals as f64;
        let high = c.intervals - c.covered - c.too_low;
        format!(
            "{:.1} / {:.1}",
            100.0 * c.too_low as f64 / k,
            100.0 * high as f64 / k
        )
    });

    println!("\nBy group, coverage % over all replicates in which the group has respondents:\n");
    print!("| domain | population share | N | true p | mean n | n < 30 / 30–100 / > 100 |");
    for method in METHODS {
        print!(" {} |", method.1);
    }
    println!();
    println!("|---|---|---|---|---|---|{}", "---|".repeat(METHODS.len()));
    for d in 0..=GROUPS.len() {
        let name = if d == 0 {
            "whole population".to_string()
        } else {
            format!("groep {d}")
        };
        let truth = &truths[d];
        let classes = if d == 0 {
            "–".to_string()
        } else {
            format!(
                "{} / {} / {}",
                thousands(group_small[d][0]),
                thousands(group_small[d][1]),
                thousands(group_small[d][2])
            )
        };
        print!(
            "| {name} | {:.1}% | {} | {:.3} | {:.1} | {classes} |",
            100.0 * truth.size as f64 / population.size() as f64,
            thousands(truth.size),
            truth.share,
            group_n[d] as f64 / group_present[d].max(1) as f64,
        );
        for counts in &by_group {
            match counts[d].coverage() {
                Some(c) => print!(" {c:.1} |"),
                None => print!(" – |"),
            }
        }
        println!();
    }

    // Bias and standard errors per domain: the bias over the standard deviation of the
    // estimates across replicates, and the root mean square of the SEs over that SD.
    let diagnosed = [0usize, 4, 5, 6, 7];
    let mut moments = vec![[Moments::default(); 5]; GROUPS.len() + 1];
    for o in results.iter().flatten() {
        if let Some(j) = diagnosed.iter().position(|&m| m == o.method) {
            moments[o.domain][j].add(o);
        }
    }
    println!(
        "\nBias and standard errors by domain, over the replicates: (mean estimate − true value) / \
         SD of the estimates, and √mean(SE²) / SD (the median's SE is its interval width / 2·t).\n"
    );
    print!("| domain |");
    for &m in &diagnosed {
        print!(
            " {}: bias / SD | SE / SD |",
            METHODS[m].1.split(',').next().unwrap()
        );
    }
    println!();
    println!("|---|{}", "---|---|".repeat(diagnosed.len()));
    for (d, row) in moments.iter().enumerate() {
        let name = if d == 0 {
            "whole population".to_string()
        } else {
            format!("groep {d}")
        };
        print!("| {name} |");
        for (j, &m) in diagnosed.iter().enumerate() {
            let truth = Truth::of(METHODS[m].2, &truths[d]);
            let (bias, ratio) = row[j].summary(truth);
            print!(" {bias:+.2} | {ratio:.2} |");
        }
        println!();
    }
    eprintln!("coverage: done in {seconds:.0} s");
}
