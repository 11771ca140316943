//! Randomness and formatting: ChaCha8 streams turned into uniforms, normals and categorical
//! draws by code of our own (so the waves stay byte-stable), and fixed-decimal printing.

use super::*;

/// ChaCha8 stream of the answers.
pub(super) const ANSWER_STREAM: u64 = 0;
/// ChaCha8 stream that places and shapes the deliberate defects, so that switching them on
/// changes only the defective rows.
pub(super) const DEFECT_STREAM: u64 = 1;
/// ChaCha8 stream of the Gezondheidsmonitor municipality table.
pub(super) const TABLE_STREAM: u64 = 2;

/// Uniforms, normals and categorical draws from one ChaCha8 stream, with our own algorithms so
/// that the output never changes with a dependency upgrade.
pub(super) struct Draw(ChaCha8Rng);

impl Draw {
    pub(super) fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw(rng)
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub(super) fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal (Box–Muller, one value per two uniforms).
    pub(super) fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal factor with mean 1 and log-scale standard deviation `sd`.
    pub(super) fn spread(&mut self, sd: f64) -> f64 {
        (sd * self.normal() - 0.5 * sd * sd).exp()
    }

    /// Index drawn with the given relative weights.
    pub(super) fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.uniform() * total;
        for (i, weight) in weights.iter().enumerate() {
            if u < *weight {
                return i;
            }
            u -= weight;
        }
        weights.len() - 1
    }

    /// Code drawn from (code, relative weight) pairs.
    pub(super) fn code(&mut self, table: &[(i64, f64)]) -> i64 {
        let mut u = self.uniform() * table.iter().map(|c| c.1).sum::<f64>();
        for &(code, weight) in table {
            if u < weight {
                return code;
            }
            u -= weight;
        }
        table[table.len() - 1].0
    }

    /// Whole number in `low..=high`.
    pub(super) fn between(&mut self, low: usize, high: usize) -> usize {
        low + ((self.uniform() * (high - low + 1) as f64) as usize).min(high - low)
    }
}

/// A categorical distribution over many categories: cumulative weights, binary search.
pub(super) struct Categorical(Vec<f64>);

impl Categorical {
    pub(super) fn new(weights: impl IntoIterator<Item = f64>) -> Self {
        let mut total = 0.0;
        Categorical(
            weights
                .into_iter()
                .map(|w| {
                    total += w;
                    total
                })
                .collect(),
        )
    }

    pub(super) fn sample(&self, draw: &mut Draw) -> usize {
        let total = self.0.last().copied().unwrap_or(0.0);
        let u = draw.uniform() * total;
        self.0.partition_point(|&c| c <= u).min(self.0.len() - 1)
    }
}

/// Level 1..=n+1 of a score against n ascending cut points.
pub(super) fn level(score: f64, cuts: &[f64]) -> i64 {
    cuts.iter().filter(|&&cut| score >= cut).count() as i64 + 1
}

pub(super) fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Rounds to one decimal, the precision the hours are printed with.
pub(super) fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// A number printed with fixed decimals and a decimal comma (`12,5`), without allocating.
pub(super) struct Decimal(pub(super) f64, pub(super) usize);

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Forwards text, turning the decimal point into a comma.
        struct CommaPoint<'a, 'b>(&'a mut fmt::Formatter<'b>);

        impl fmt::Write for CommaPoint<'_, '_> {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                let mut pieces = text.split('.');
                if let Some(first) = pieces.next() {
                    self.0.write_str(first)?;
                }
                for piece in pieces {
                    self.0.write_str(",")?;
                    self.0.write_str(piece)?;
                }
                Ok(())
            }
        }

        fmt::Write::write_fmt(&mut CommaPoint(f), format_args!("{:.*}", self.1, self.0))
    }
}

/// Shares with 6 decimals; the last category absorbs the rounding so that the printed shares
/// sum to exactly 1. Weights need not be normalised.
pub(super) fn write_shares<W: Write>(
    out: &mut W,
    variable: &str,
    weights: &[(String, f64)],
) -> io::Result<()> {
    let total: f64 = weights.iter().map(|w| w.1).sum();
    let mut micros: Vec<i64> = weights
        .iter()
        .map(|(_, weight)| (weight / total * 1e6).round() as i64)
        .collect();
    let rest = 1_000_000 - micros.iter().sum::<i64>();
    if let Some(last) = micros.last_mut() {
        *last += rest;
    }
    for ((category, _), micro) in weights.iter().zip(micros) {
        writeln!(
            out,
            "{variable},{category},{}.{:06}",
            micro / 1_000_000,
            micro % 1_000_000
        )?;
    }
    Ok(())
}
