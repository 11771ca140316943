//! Deterministic synthetic survey waves (`peiling generate`).
//!
//! No real microdata may be shared, so the sample waves are generated. The Dementiemonitor kind
//! produces informal carers of someone with dementia, tuned to the published headlines (about
//! 1 in 7 carers very heavily burdened or overloaded, 13% in 2024; some 53% at least fairly
//! heavily burdened; 40 / 39 / 37 hours of care a week; a quarter of the people with dementia in
//! an institution). One latent burden score per respondent rises with hours, partner carers,
//! living together, late-stage dementia and the big cities; the burden item, the nine EDIZ items,
//! how long the carer can keep it up, respite use and trouble combining care with other
//! activities all follow from it. On request a small, RNG-chosen share of rows carries
//! deliberate defects for the validator. The Gezondheidsmonitor kind produces a general
//! population with 342 municipalities as strata, 25 GGD regions and 12 provinces, the shape on
//! which the performance budgets are measured.
//!
//! The output is a pure function of the options and stays byte-stable across dependency
//! upgrades: the only source of randomness is `ChaCha8Rng::next_u64` from the seed (one stream
//! for the answers, separate streams for the defects and the municipality table, so switching
//! the defects on changes only the defective rows), turned into uniforms, normals and
//! categorical draws by the code below rather than by a library whose algorithms may change,
//! and every number is printed with a fixed number of decimals. Apart from IEEE arithmetic the
//! maths uses `ln`, `exp`, `cos` and `powf`, whose last-bit differences between platforms would
//! practically never move a printed digit. Rows are streamed one at a time, so any number of
//! rows is generated in constant memory.

use std::fmt;
use std::io::{self, BufWriter, Write};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// Which survey to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Dementiemonitor Mantelzorg: carers of someone with dementia.
    Dementiemonitor,
    /// Gezondheidsmonitor Volwassenen en Ouderen: the general adult population.
    Gezondheidsmonitor,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub kind: Kind,
    pub rows: usize,
    pub seed: u64,
    pub wave: i32,
    /// Add a small share of deliberate defects that the validator must catch (Dementiemonitor
    /// only; the Gezondheidsmonitor kind is always clean).
    pub defects: bool,
}

/// Usable responses of the published Dementiemonitor waves.
pub fn default_rows(wave: i32) -> usize {
    match wave {
        2020 => 3577,
        2022 => 4500,
        2024 => 9600,
        _ => 5000,
    }
}

/// The seed of a wave's sample file: the wave year.
pub fn default_seed(wave: i32) -> u64 {
    wave as u64
}

/// Writes a `;`-separated CSV with a header line, `\n` line ends, decimal commas, system-missing
/// as empty field. Streams row by row (never holds all rows) so 10,000,000 rows work in constant
/// memory; `out` is wrapped in a `BufWriter` here.
pub fn write_csv<W: Write>(opts: &Options, out: W) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    match opts.kind {
        Kind::Dementiemonitor => write_dementiemonitor(opts, &mut out)?,
        Kind::Gezondheidsmonitor => write_gezondheidsmonitor(opts, &mut out)?,
    }
    out.flush()
}

/// Illustrative raking margins for a Dementiemonitor wave: CSV with header
/// `variable,category,target` (comma-separated, dot decimals, targets are shares summing to 1
/// per variable, printed with 6 decimals and the last category of each variable adjusted so the
/// printed shares sum to exactly 1.000000). Variables: `provincie` (12 CBS codes, roughly
/// proportional to the 65+ population) and `mz_geslacht*mz_leeftijd_cat` with categories like
/// `2|5` (sex code | age band code), for sexes 1 and 2 only: 3 "anders" is too rare to rake and
/// is left out of the margins.
pub fn write_margins<W: Write>(wave: i32, out: W) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    writeln!(out, "variable,category,target")?;
    let provinces: Vec<(String, f64)> = PROVINCES
        .iter()
        .map(|&(code, weight)| (code.to_string(), weight))
        .collect();
    write_shares(&mut out, "provincie", &provinces)?;
    write_shares(
        &mut out,
        "mz_geslacht*mz_leeftijd_cat",
        &sex_age_margins(wave),
    )?;
    out.flush()
}

// ---------------------------------------------------------------------------------------------
// Code tables
// ---------------------------------------------------------------------------------------------

/// CBS province codes with sampling weights (percent) roughly proportional to the 65+
/// population; the small provinces are lifted to at least 2.5% so that each has some 90
/// respondents even in the smallest wave.
const PROVINCES: [(i64, f64); 12] = [
    (20, 3.5),
    (21, 4.1),
    (22, 3.6),
    (23, 6.9),
    (24, 2.5),
    (25, 12.6),
    (26, 6.8),
    (27, 15.3),
    (28, 19.2),
    (29, 2.8),
    (30, 15.4),
    (31, 7.3),
];

const GEMEENTE_TABLE: [(&str, &str, i64); 51] = [
    ("GM0014", "Groningen", 20),
    ("GM1966", "Het Hogeland", 20),
    ("GM0037", "Stadskanaal", 20),
    ("GM1952", "Midden-Groningen", 20),
    ("GM0080", "Leeuwarden", 21),
    ("GM1900", "Súdwest-Fryslân", 21),
    ("GM0090", "Smallingerland", 21),
    ("GM0074", "Heerenveen", 21),
    ("GM0106", "Assen", 22),
    ("GM0114", "Emmen", 22),
    ("GM0119", "Meppel", 22),
    ("GM0118", "Hoogeveen", 22),
    ("GM0153", "Enschede", 23),
    ("GM0193", "Zwolle", 23),
    ("GM0150", "Deventer", 23),
    ("GM0164", "Hengelo", 23),
    ("GM0141", "Almelo", 23),
    ("GM0034", "Almere", 24),
    ("GM0995", "Lelystad", 24),
    ("GM0171", "Noordoostpolder", 24),
    ("GM0200", "Apeldoorn", 25),
    ("GM0202", "Arnhem", 25),
    ("GM0268", "Nijmegen", 25),
    ("GM0228", "Ede", 25),
    ("GM0344", "Utrecht", 26),
    ("GM0307", "Amersfoort", 26),
    ("GM0345", "Veenendaal", 26),
    ("GM0356", "Nieuwegein", 26),
    ("GM0363", "Amsterdam", 27),
    ("GM0392", "Haarlem", 27),
    ("GM0361", "Alkmaar", 27),
    ("GM0479", "Zaanstad", 27),
    ("GM0402", "Hilversum", 27),
    ("GM0599", "Rotterdam", 28),
    ("GM0518", "'s-Gravenhage", 28),
    ("GM0546", "Leiden", 28),
    ("GM0505", "Dordrecht", 28),
    ("GM0637", "Zoetermeer", 28),
    ("GM0687", "Middelburg", 29),
    ("GM0718", "Vlissingen", 29),
    ("GM0654", "Borsele", 29),
    ("GM0715", "Terneuzen", 29),
    ("GM0772", "Eindhoven", 30),
    ("GM0855", "Tilburg", 30),
    ("GM0796", "'s-Hertogenbosch", 30),
    ("GM0758", "Breda", 30),
    ("GM0794", "Helmond", 30),
    ("GM0935", "Maastricht", 31),
    ("GM0917", "Heerlen", 31),
    ("GM0983", "Venlo", 31),
    ("GM1883", "Sittard-Geleen", 31),
];

/// Municipalities in the Dementiemonitor sample: (CBS code, name, province code).
pub const GEMEENTEN: &[(&str, &str, i64)] = &GEMEENTE_TABLE;

/// Relative weight of each municipality of [`GEMEENTE_TABLE`] within its province; the big
/// cities are over-represented so that each has a few hundred respondents in 2024.
const GEMEENTE_WEIGHTS: [f64; 51] = [
    3.0, 1.2, 1.0, 1.2, // Groningen
    2.0, 2.0, 1.2, 1.1, // Fryslân
    1.2, 2.0, 0.7, 1.0, // Drenthe
    2.0, 2.0, 1.5, 1.2, 1.0, // Overijssel
    2.5, 1.2, 0.8, // Flevoland
    2.5, 2.2, 2.2, 1.6, // Gelderland
    3.0, 2.0, 0.8, 1.0, // Utrecht
    3.5, 2.5, 2.5, 2.5, 2.0, // Noord-Holland
    3.5, 3.5, 2.0, 2.0, 2.0, // Zuid-Holland
    1.0, 1.0, 0.8, 1.2, // Zeeland
    3.0, 3.0, 2.5, 2.5, 1.5, // Noord-Brabant
    2.0, 1.5, 1.8, 1.6, // Limburg
];

const AMSTERDAM: &str = "GM0363";
const ROTTERDAM: &str = "GM0599";
const EINDHOVEN: &str = "GM0772";

/// Extra latent burden in the big cities (2024: Amsterdam and Rotterdam 17%, Eindhoven 21%
/// very heavily burdened or overloaded against 13% nationally).
fn city_effect(gemeente: &str) -> f64 {
    match gemeente {
        AMSTERDAM => 0.21,
        ROTTERDAM => 0.245,
        EINDHOVEN => 0.41,
        _ => 0.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness and formatting
// ---------------------------------------------------------------------------------------------

/// ChaCha8 stream of the answers.
const ANSWER_STREAM: u64 = 0;
/// ChaCha8 stream that places and shapes the deliberate defects, so that switching them on
/// changes only the defective rows.
const DEFECT_STREAM: u64 = 1;
/// ChaCha8 stream of the Gezondheidsmonitor municipality table.
const TABLE_STREAM: u64 = 2;

/// Uniforms, normals and categorical draws from one ChaCha8 stream, with our own algorithms so
/// that the output never changes with a dependency upgrade.
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64, stream: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw(rng)
    }

    /// Uniform on [0, 1) with 53 random bits.
    fn uniform(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// Standard normal (Box–Muller, one value per two uniforms).
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal factor with mean 1 and log-scale standard deviation `sd`.
    fn spread(&mut self, sd: f64) -> f64 {
        (sd * self.normal() - 0.5 * sd * sd).exp()
    }

    /// Index drawn with the given relative weights.
    fn pick(&mut self, weights: &[f64]) -> usize {
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
    fn code(&mut self, table: &[(i64, f64)]) -> i64 {
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
    fn between(&mut self, low: usize, high: usize) -> usize {
        low + ((self.uniform() * (high - low + 1) as f64) as usize).min(high - low)
    }
}

/// A categorical distribution over many categories: cumulative weights, binary search.
struct Categorical(Vec<f64>);

impl Categorical {
    fn new(weights: impl IntoIterator<Item = f64>) -> Self {
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

    fn sample(&self, draw: &mut Draw) -> usize {
        let total = self.0.last().copied().unwrap_or(0.0);
        let u = draw.uniform() * total;
        self.0.partition_point(|&c| c <= u).min(self.0.len() - 1)
    }
}

/// Level 1..=n+1 of a score against n ascending cut points.
fn level(score: f64, cuts: &[f64]) -> i64 {
    cuts.iter().filter(|&&cut| score >= cut).count() as i64 + 1
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Rounds to one decimal, the precision the hours are printed with.
fn tenths(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// A number printed with fixed decimals and a decimal comma (`12,5`), without allocating.
struct Decimal(f64, usize);

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
fn write_shares<W: Write>(
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

// ---------------------------------------------------------------------------------------------
// Dementiemonitor
// ---------------------------------------------------------------------------------------------

const DEMENTIEMONITOR_HEADER: &str = "resp_id;wave;mode;provincie;gemeente;mz_geslacht;\
mz_leeftijd;mz_leeftijd_cat;relatie;woonsituatie_naaste;fase_dementie;duur_mz;zorgfrequentie;\
uren_pw;belasting;ediz_01;ediz_02;ediz_03;ediz_04;ediz_05;ediz_06;ediz_07;ediz_08;ediz_09;\
volhoudtijd;resp_dagbesteding;resp_logeeropvang;resp_thuis;werk;combineren_problemen;gewicht";

const ONLINE: i64 = 1;
const PAPER: i64 = 2;
const MAN: i64 = 1;
const WOMAN: i64 = 2;
const OTHER_SEX: i64 = 3;
const PARTNER: i64 = 1;
const CHILD: i64 = 2;
const TOGETHER: i64 = 1;
const INSTITUTION: i64 = 3;
const LATE_STAGE: i64 = 3;
const DAY_AND_NIGHT: i64 = 1;
const NOT_APPLICABLE: i64 = 7;
const DONT_KNOW: i64 = 8;
const NO_ANSWER: i64 = 9;
const HOURS_DONT_KNOW: i64 = 998;
const HOURS_NO_ANSWER: i64 = 999;

const RELATIE: [(i64, f64); 5] = [(1, 38.0), (2, 52.0), (3, 5.0), (4, 3.0), (5, 2.0)];

/// Share of carers answering `anders`, drawn before the split into men and women.
const OTHER_SEX_SHARE: f64 = 0.005;

/// Share of women among partners, children and other carers.
fn female_share(relatie: i64) -> f64 {
    match relatie {
        PARTNER => 0.62,
        CHILD => 0.80,
        _ => 0.72,
    }
}

/// Age bands of the carer: <35, 35–44, 45–54, 55–64, 65–74, 75–84, 85+.
fn age_band(age: i64) -> i64 {
    match age {
        ..=34 => 1,
        35..=44 => 2,
        45..=54 => 3,
        55..=64 => 4,
        65..=74 => 5,
        75..=84 => 6,
        _ => 7,
    }
}

/// What changes between waves: fewer hours of care, fewer carers very heavily burdened in 2024.
struct WaveParams {
    /// Multiplies the hours of carers whose person lives at home.
    hours: f64,
    /// Added to the two upper cut points of the burden item: fewer carers very heavily burdened
    /// or overloaded, as many at least fairly heavily burdened.
    heavy: f64,
}

fn wave_params(wave: i32) -> WaveParams {
    match wave {
        ..=2020 => WaveParams {
            hours: 1.05,
            heavy: 0.0,
        },
        2021..=2022 => WaveParams {
            hours: 1.02,
            heavy: 0.0,
        },
        _ => WaveParams {
            hours: 0.96,
            heavy: 0.03,
        },
    }
}

/// Who answered, and where.
struct Carer {
    mode: i64,
    provincie: i64,
    gemeente: &'static str,
    geslacht: i64,
    leeftijd: i64,
    relatie: i64,
}

fn draw_carer(draw: &mut Draw) -> Carer {
    let mode = if draw.chance(0.75) { ONLINE } else { PAPER };
    let (provincie, gemeente) = draw_location(draw);
    let relatie = draw.code(&RELATIE);
    let leeftijd = draw_age(draw, relatie);
    let geslacht = if draw.chance(OTHER_SEX_SHARE) {
        OTHER_SEX
    } else if draw.chance(female_share(relatie)) {
        WOMAN
    } else {
        MAN
    };
    Carer {
        mode,
        provincie,
        gemeente,
        geslacht,
        leeftijd,
        relatie,
    }
}

/// Province, then a municipality within it.
fn draw_location(draw: &mut Draw) -> (i64, &'static str) {
    let provincie = draw.code(&PROVINCES);
    let first = GEMEENTE_TABLE
        .iter()
        .position(|g| g.2 == provincie)
        .unwrap_or(0);
    let count = GEMEENTE_TABLE[first..]
        .iter()
        .take_while(|g| g.2 == provincie)
        .count();
    let index = first + draw.pick(&GEMEENTE_WEIGHTS[first..first + count]);
    (provincie, GEMEENTE_TABLE[index].0)
}

/// Partners are mostly 65+, children mostly 40–70, others spread widely.
fn draw_age(draw: &mut Draw, relatie: i64) -> i64 {
    let (mean, sd, youngest) = match relatie {
        PARTNER => (74.0, 8.0, 40.0),
        CHILD => (56.0, 8.0, 18.0),
        3 => (52.0, 15.0, 16.0),
        4 => (62.0, 12.0, 18.0),
        _ => (50.0, 15.0, 16.0),
    };
    (mean + sd * draw.normal()).round().clamp(youngest, 95.0) as i64
}

/// The person with dementia and the care given.
struct Care {
    woonsituatie: i64,
    fase: i64,
    duur: i64,
    zorgfrequentie: i64,
    uren: f64,
}

fn draw_care(draw: &mut Draw, carer: &Carer, params: &WaveParams) -> Care {
    let woonsituatie = match carer.relatie {
        PARTNER => draw.pick(&[74.0, 2.0, 22.0, 2.0]),
        CHILD => draw.pick(&[8.0, 60.0, 27.0, 5.0]),
        _ => draw.pick(&[5.0, 55.0, 32.0, 8.0]),
    } as i64
        + 1;
    let fase = if woonsituatie == INSTITUTION {
        draw.code(&[(1, 10.0), (2, 40.0), (3, 45.0), (DONT_KNOW, 5.0)])
    } else {
        draw.code(&[(1, 35.0), (2, 42.0), (3, 18.0), (DONT_KNOW, 5.0)])
    };
    let duur = match fase {
        1 => draw.pick(&[20.0, 35.0, 35.0, 8.0, 2.0]),
        2 => draw.pick(&[8.0, 20.0, 42.0, 23.0, 7.0]),
        3 => draw.pick(&[4.0, 12.0, 38.0, 32.0, 14.0]),
        _ => draw.pick(&[12.0, 25.0, 38.0, 18.0, 7.0]),
    } as i64
        + 1;
    let zorgfrequentie = match woonsituatie {
        TOGETHER => draw.pick(&[45.0, 43.0, 9.0, 2.0, 1.0]),
        2 => draw.pick(&[5.0, 40.0, 38.0, 13.0, 4.0]),
        INSTITUTION => draw.pick(&[2.0, 16.0, 46.0, 29.0, 7.0]),
        _ => draw.pick(&[10.0, 38.0, 32.0, 15.0, 5.0]),
    } as i64
        + 1;
    let uren = draw_hours(draw, zorgfrequentie, woonsituatie, params);
    Care {
        woonsituatie,
        fase,
        duur,
        zorgfrequentie,
        uren,
    }
}

/// Hours a week, log-normal around a median per care frequency; day-and-night care is at least
/// 20 hours; carers of someone in an institution give fewer hours (about 16 on average).
fn draw_hours(draw: &mut Draw, zorgfrequentie: i64, woonsituatie: i64, params: &WaveParams) -> f64 {
    let (median, sd) = match zorgfrequentie {
        DAY_AND_NIGHT => (95.0, 0.35),
        2 => (38.0, 0.5),
        3 => (16.0, 0.5),
        4 => (7.0, 0.6),
        _ => (3.0, 0.6),
    };
    let setting = if woonsituatie == INSTITUTION {
        0.82
    } else {
        params.hours
    };
    let floor = if zorgfrequentie == DAY_AND_NIGHT {
        20.0
    } else {
        0.5
    };
    tenths((median * setting * (sd * draw.normal()).exp()).clamp(floor, 168.0))
}

/// The latent burden and the answers driven by it.
struct Burden {
    latent: f64,
    belasting: i64,
    ediz: [i64; 9],
    volhoudtijd: i64,
}

/// Cut points of the burden item on the latent scale.
const BELASTING_CUTS: [f64; 4] = [-0.98, 0.21, 1.525, 2.32];
/// Cut points of the EDIZ items (Nee! / Nee / Min of meer / Ja / Ja!).
const EDIZ_CUTS: [f64; 4] = [-1.2, -0.35, 0.35, 1.25];
/// Item difficulty: some statements are endorsed more easily than others.
const EDIZ_OFFSETS: [f64; 9] = [0.2, -0.1, 0.3, 0.0, -0.3, 0.1, 0.25, -0.2, -0.05];
/// Cut points of how long the carer can keep it up (1 <1 month … 5 >2 years) on a score that
/// falls with burden.
const VOLHOUDTIJD_CUTS: [f64; 4] = [-2.75, -1.7, -0.95, -0.05];

fn draw_burden(draw: &mut Draw, carer: &Carer, care: &Care, params: &WaveParams) -> Burden {
    let latent = draw.normal()
        + 0.30 * f64::from(carer.relatie == PARTNER)
        + 0.25 * f64::from(care.woonsituatie == TOGETHER)
        + 0.35 * f64::from(care.fase == LATE_STAGE)
        - 0.15 * f64::from(care.woonsituatie == INSTITUTION)
        + 0.008 * (care.uren - 35.0)
        + city_effect(carer.gemeente);
    let [low, fair, very, over] = BELASTING_CUTS;
    let belasting = level(
        latent,
        &[low, fair, very + params.heavy, over + params.heavy],
    );
    let ediz = EDIZ_OFFSETS.map(|offset| level(latent + offset + 0.75 * draw.normal(), &EDIZ_CUTS));
    let volhoudtijd = level(-0.8 * latent + draw.normal(), &VOLHOUDTIJD_CUTS);
    Burden {
        latent,
        belasting,
        ediz,
        volhoudtijd,
    }
}

/// Respite care, work and combining care with other activities.
struct Support {
    dagbesteding: i64,
    logeeropvang: i64,
    thuis: i64,
    werk: i64,
    combineren: i64,
}

fn draw_support(draw: &mut Draw, carer: &Carer, care: &Care, burden: &Burden) -> Support {
    let institution = care.woonsituatie == INSTITUTION;
    let dagbesteding = draw_respite(draw, institution, -0.78 + 0.4 * burden.latent);
    let logeeropvang = draw_respite(draw, institution, -2.35 + 0.4 * burden.latent);
    let thuis = draw_respite(draw, institution, -1.55 + 0.4 * burden.latent);
    let werk = draw_work(draw, carer.leeftijd);
    let working = f64::from(werk == 1 || werk == 2);
    let combineren = if draw.chance(0.03) {
        DONT_KNOW
    } else {
        i64::from(draw.chance(logistic(0.93 + 0.3 * working + 0.7 * burden.latent)))
    };
    Support {
        dagbesteding,
        logeeropvang,
        thuis,
        werk,
        combineren,
    }
}

/// One respite form: n.v.t. in an institution, otherwise yes with the given log-odds.
fn draw_respite(draw: &mut Draw, institution: bool, log_odds: f64) -> i64 {
    if institution {
        NOT_APPLICABLE
    } else if draw.chance(0.02) {
        DONT_KNOW
    } else {
        i64::from(draw.chance(logistic(log_odds)))
    }
}

/// Work status by age: students are young, the retired mostly 65+, paid work mostly < 67.
fn draw_work(draw: &mut Draw, age: i64) -> i64 {
    let weights: [(i64, f64); 7] = match age {
        ..=29 => [
            (1, 35.0),
            (2, 12.0),
            (3, 0.0),
            (4, 5.0),
            (5, 3.0),
            (6, 40.0),
            (7, 5.0),
        ],
        30..=59 => [
            (1, 58.0),
            (2, 12.0),
            (3, if age >= 55 { 8.0 } else { 1.0 }),
            (4, 8.0),
            (5, 12.0),
            (6, 1.0),
            (7, 6.0),
        ],
        60..=66 => [
            (1, 38.0),
            (2, 10.0),
            (3, 30.0),
            (4, 9.0),
            (5, 9.0),
            (6, 0.0),
            (7, 4.0),
        ],
        _ => [
            (1, 2.0),
            (2, 3.0),
            (3, 88.0),
            (4, 0.0),
            (5, 5.0),
            (6, 0.0),
            (7, 2.0),
        ],
    };
    draw.code(&weights)
}

const SEX_WEIGHT: [(i64, f64); 3] = [(MAN, 1.45), (WOMAN, 0.85), (OTHER_SEX, 1.0)];
const MODE_WEIGHT: [(i64, f64); 2] = [(ONLINE, 0.92), (PAPER, 1.3)];
const PROVINCE_WEIGHT: [(i64, f64); 12] = [
    (20, 1.10),
    (21, 0.85),
    (22, 0.90),
    (23, 0.95),
    (24, 1.35),
    (25, 0.95),
    (26, 1.05),
    (27, 1.15),
    (28, 1.10),
    (29, 0.80),
    (30, 0.95),
    (31, 0.90),
];

fn factor(table: &[(i64, f64)], code: i64) -> f64 {
    table
        .iter()
        .find(|entry| entry.0 == code)
        .map_or(1.0, |entry| entry.1)
}

/// Expected product of the weight factors under the sampling model, so that weights average 1.
fn weight_normaliser() -> f64 {
    let relatie_total: f64 = RELATIE.iter().map(|r| r.1).sum();
    let women: f64 = RELATIE
        .iter()
        .map(|&(code, weight)| weight / relatie_total * female_share(code))
        .sum();
    let sex = OTHER_SEX_SHARE * factor(&SEX_WEIGHT, OTHER_SEX)
        + (1.0 - OTHER_SEX_SHARE)
            * (women * factor(&SEX_WEIGHT, WOMAN) + (1.0 - women) * factor(&SEX_WEIGHT, MAN));
    let mode = 0.75 * factor(&MODE_WEIGHT, ONLINE) + 0.25 * factor(&MODE_WEIGHT, PAPER);
    let province_total: f64 = PROVINCES.iter().map(|p| p.1).sum();
    let province: f64 = PROVINCES
        .iter()
        .map(|&(code, weight)| weight / province_total * factor(&PROVINCE_WEIGHT, code))
        .sum();
    sex * mode * province
}

/// Design weight of a non-response adjustment by sex × mode × province.
fn design_weight(carer: &Carer, normaliser: f64) -> f64 {
    factor(&SEX_WEIGHT, carer.geslacht)
        * factor(&MODE_WEIGHT, carer.mode)
        * factor(&PROVINCE_WEIGHT, carer.provincie)
        / normaliser
}

/// Hours as printed: a number, or a missing code.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hours {
    Value(f64),
    Code(i64),
}

/// One output row as printed, after item non-response and defects.
struct Record {
    id: usize,
    mode: i64,
    provincie: i64,
    gemeente: &'static str,
    geslacht: i64,
    leeftijd: i64,
    /// Print the age as `54,5` (a defect).
    leeftijd_half: bool,
    leeftijd_cat: i64,
    relatie: i64,
    woonsituatie: i64,
    fase: i64,
    duur: i64,
    zorgfrequentie: i64,
    uren: Hours,
    belasting: i64,
    ediz: [i64; 9],
    volhoudtijd: i64,
    dagbesteding: i64,
    logeeropvang: i64,
    thuis: i64,
    werk: i64,
    combineren: i64,
    gewicht: f64,
}

/// Generates row `id` (1-based) with item non-response applied.
fn draw_record(draw: &mut Draw, id: usize, params: &WaveParams, normaliser: f64) -> Record {
    let carer = draw_carer(draw);
    let care = draw_care(draw, &carer, params);
    let burden = draw_burden(draw, &carer, &care, params);
    let support = draw_support(draw, &carer, &care, &burden);
    let zorgfrequentie = if draw.chance(0.01) {
        NO_ANSWER
    } else {
        care.zorgfrequentie
    };
    let uren = match draw.uniform() {
        u if u < 0.02 => Hours::Code(HOURS_NO_ANSWER),
        u if u < 0.04 => Hours::Code(HOURS_DONT_KNOW),
        _ => Hours::Value(care.uren),
    };
    let belasting = if draw.chance(0.015) {
        NO_ANSWER
    } else {
        burden.belasting
    };
    let ediz = burden
        .ediz
        .map(|answer| if draw.chance(0.02) { NO_ANSWER } else { answer });
    let volhoudtijd = if draw.chance(0.08) {
        DONT_KNOW
    } else {
        burden.volhoudtijd
    };
    Record {
        id,
        mode: carer.mode,
        provincie: carer.provincie,
        gemeente: carer.gemeente,
        geslacht: carer.geslacht,
        leeftijd: carer.leeftijd,
        leeftijd_half: false,
        leeftijd_cat: age_band(carer.leeftijd),
        relatie: carer.relatie,
        woonsituatie: care.woonsituatie,
        fase: care.fase,
        duur: care.duur,
        zorgfrequentie,
        uren,
        belasting,
        ediz,
        volhoudtijd,
        dagbesteding: support.dagbesteding,
        logeeropvang: support.logeeropvang,
        thuis: support.thuis,
        werk: support.werk,
        combineren: support.combineren,
        gewicht: design_weight(&carer, normaliser),
    }
}

/// A deliberate defect for the validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Defect {
    /// `uren_pw` above 168.
    HoursAbove168,
    /// Respite answered although the person lives in an institution.
    RespiteInInstitution,
    /// `mz_leeftijd_cat` disagrees with `mz_leeftijd`.
    AgeBandMismatch,
    /// The id of an earlier row.
    DuplicateId,
    /// `mz_leeftijd` written with a decimal.
    DecimalAge,
    /// `belasting` 6 or an EDIZ item 7: codes not in the codebook.
    StrayCode,
}

impl Defect {
    fn name(self) -> &'static str {
        match self {
            Defect::HoursAbove168 => "hours_above_168",
            Defect::RespiteInInstitution => "respite_in_institution",
            Defect::AgeBandMismatch => "age_band_mismatch",
            Defect::DuplicateId => "duplicate_id",
            Defect::DecimalAge => "decimal_age",
            Defect::StrayCode => "stray_code",
        }
    }
}

const DEFECTS: [Defect; 6] = [
    Defect::HoursAbove168,
    Defect::RespiteInInstitution,
    Defect::AgeBandMismatch,
    Defect::DuplicateId,
    Defect::DecimalAge,
    Defect::StrayCode,
];

/// Each defect kind occurs once in every block of this many rows (about 0.15% of rows each).
const DEFECT_BLOCK: usize = 650;

/// Places the defects: in each block of [`DEFECT_BLOCK`] rows, one row per kind at distinct
/// random offsets (never the first row, so a duplicate id always has an earlier row to copy).
struct DefectPlan {
    draw: Draw,
    offsets: [usize; 6],
}

impl DefectPlan {
    fn new(seed: u64) -> Self {
        DefectPlan {
            draw: Draw::new(seed, DEFECT_STREAM),
            offsets: [0; 6],
        }
    }

    /// The defect of row `index` (0-based), if any.
    fn defect_at(&mut self, index: usize) -> Option<Defect> {
        let offset = index % DEFECT_BLOCK;
        if offset == 0 {
            self.plan_block();
        }
        DEFECTS
            .iter()
            .zip(self.offsets)
            .find(|&(_, at)| at == offset)
            .map(|(&defect, _)| defect)
    }

    fn plan_block(&mut self) {
        for kind in 0..DEFECTS.len() {
            self.offsets[kind] = loop {
                let offset = self.draw.between(1, DEFECT_BLOCK - 1);
                if !self.offsets[..kind].contains(&offset) {
                    break offset;
                }
            };
        }
    }

    /// Spoils `record` with `defect`.
    fn apply(&mut self, defect: Defect, record: &mut Record) {
        let draw = &mut self.draw;
        match defect {
            Defect::HoursAbove168 => {
                record.uren = Hours::Value(tenths(170.0 + 230.0 * draw.uniform()));
            }
            Defect::RespiteInInstitution => {
                record.woonsituatie = INSTITUTION;
                record.dagbesteding = i64::from(draw.chance(0.5));
                record.logeeropvang = NOT_APPLICABLE;
                record.thuis = NOT_APPLICABLE;
            }
            Defect::AgeBandMismatch => record.leeftijd_cat = record.leeftijd_cat % 7 + 1,
            Defect::DuplicateId => {
                record.id -= draw.between(1, (record.id - 1).clamp(1, 200));
            }
            Defect::DecimalAge => record.leeftijd_half = true,
            Defect::StrayCode => {
                if draw.chance(0.5) {
                    record.belasting = 6;
                } else {
                    record.ediz[draw.between(0, 8)] = 7;
                }
            }
        }
    }
}

/// The deliberate defects of a Dementiemonitor wave, as `write_csv` places them: (0-based data
/// row, defect name), in row order. Names: `hours_above_168`, `respite_in_institution`,
/// `age_band_mismatch`, `duplicate_id`, `decimal_age`, `stray_code`.
pub fn defects(opts: &Options) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    if opts.kind == Kind::Dementiemonitor {
        let mut note = |index: usize, defect: Defect| found.push((index, defect.name()));
        write_dementiemonitor_noting(opts, &mut io::sink(), &mut note)
            .expect("writing to a sink cannot fail");
    }
    found
}

fn write_dementiemonitor<W: Write>(opts: &Options, out: &mut W) -> io::Result<()> {
    write_dementiemonitor_noting(opts, out, &mut |_, _| {})
}

fn write_dementiemonitor_noting<W: Write>(
    opts: &Options,
    out: &mut W,
    note: &mut dyn FnMut(usize, Defect),
) -> io::Result<()> {
    let mut draw = Draw::new(opts.seed, ANSWER_STREAM);
    let mut defects = opts.defects.then(|| DefectPlan::new(opts.seed));
    let params = wave_params(opts.wave);
    let normaliser = weight_normaliser();
    writeln!(out, "{DEMENTIEMONITOR_HEADER}")?;
    for index in 0..opts.rows {
        let mut record = draw_record(&mut draw, index + 1, &params, normaliser);
        if let Some(plan) = defects.as_mut() {
            if let Some(defect) = plan.defect_at(index) {
                plan.apply(defect, &mut record);
                note(index, defect);
            }
        }
        write_record(out, opts.wave, &record)?;
    }
    Ok(())
}

fn write_record<W: Write>(out: &mut W, wave: i32, r: &Record) -> io::Result<()> {
    let yy = wave.rem_euclid(100);
    write!(
        out,
        "DM{yy:02}-{:06};{wave};{};{};{};{};{}{};{};{};{};{};{};{};",
        r.id,
        r.mode,
        r.provincie,
        r.gemeente,
        r.geslacht,
        r.leeftijd,
        if r.leeftijd_half { ",5" } else { "" },
        r.leeftijd_cat,
        r.relatie,
        r.woonsituatie,
        r.fase,
        r.duur,
        r.zorgfrequentie,
    )?;
    match r.uren {
        Hours::Value(hours) => write!(out, "{}", Decimal(hours, 1))?,
        Hours::Code(code) => write!(out, "{code}")?,
    }
    write!(out, ";{}", r.belasting)?;
    for answer in r.ediz {
        write!(out, ";{answer}")?;
    }
    writeln!(
        out,
        ";{};{};{};{};{};{};{}",
        r.volhoudtijd,
        r.dagbesteding,
        r.logeeropvang,
        r.thuis,
        r.werk,
        r.combineren,
        Decimal(r.gewicht, 4),
    )
}

/// Illustrative population of dementia carers by sex × age band (percent): mostly women,
/// daughters of 45–64 and partners of 65+; men are under-represented among respondents, so
/// the margins hold more of them than the sample. Later waves shift slightly towards older
/// carers as the population ages.
fn sex_age_margins(wave: i32) -> Vec<(String, f64)> {
    const MEN: [f64; 7] = [0.6, 1.5, 5.0, 8.0, 8.5, 6.5, 1.5];
    const WOMEN: [f64; 7] = [1.2, 4.0, 15.0, 21.0, 15.0, 9.0, 2.0];
    let ageing = 0.002 * f64::from((wave - 2020).clamp(0, 20));
    let mut cells = Vec::with_capacity(14);
    for (sex, shares) in [(MAN, MEN), (WOMAN, WOMEN)] {
        for (band, share) in (1..).zip(shares) {
            let trend = if band >= 5 {
                1.0 + ageing
            } else {
                1.0 - ageing
            };
            cells.push((format!("{sex}|{band}"), share * trend));
        }
    }
    cells
}

// ---------------------------------------------------------------------------------------------
// Gezondheidsmonitor
// ---------------------------------------------------------------------------------------------

const GEZONDHEIDSMONITOR_HEADER: &str = "resp_id;wave;gemeente;ggd_regio;provincie;geslacht;\
leeftijd_cat;mantelzorger;belasting;uren_pw;respijt;gewicht";

/// Province of each of the 25 GGD regions.
const REGION_PROVINCE: [i64; 25] = [
    20, 21, 22, 23, 23, 24, 25, 25, 25, 26, 27, 27, 27, 27, 27, 28, 28, 28, 28, 29, 30, 30, 30, 31,
    31,
];

/// Number of municipalities in each GGD region; 342 in all.
const REGION_MUNICIPALITIES: [usize; 25] = [
    10, 18, 12, 11, 14, 6, 22, 15, 14, 26, 17, 7, 6, 6, 8, 9, 16, 13, 10, 13, 16, 21, 21, 15, 16,
];

/// Adults (18+) in the Netherlands, the sum of the municipality sizes.
const ADULTS: f64 = 14_600_000.0;

/// Age bands 18–34, 35–49, 50–64, 65–74, 75–84, 85+: share in the population and in the sample
/// (older people respond more).
const AGE_POPULATION: [f64; 6] = [27.0, 22.5, 25.0, 15.0, 8.0, 2.5];
const AGE_SAMPLE: [f64; 6] = [19.0, 20.0, 27.0, 20.0, 11.0, 3.0];
/// Men and women in the population and in the sample.
const SEX_POPULATION: [f64; 2] = [49.5, 50.5];
const SEX_SAMPLE: [f64; 2] = [45.5, 54.5];
/// Chance of giving informal care by age band; women a quarter more, men a quarter less.
const CARER_BY_AGE: [f64; 6] = [0.075, 0.13, 0.19, 0.16, 0.12, 0.07];
/// Cut points of the burden item for carers (levels 3–5 about 19%).
const GM_BELASTING_CUTS: [f64; 4] = [-0.15, 0.96, 1.8, 2.5];

/// One municipality (stratum) of the Gezondheidsmonitor.
struct Municipality {
    region: i64,
    provincie: i64,
    /// Weight of one respondent before the sex × age adjustment, for the requested row count.
    base_weight: f64,
}

/// 342 municipalities of unequal size; the first of each region is its central city. CBS
/// samples relatively more in small municipalities, so the sample share grows with size^0.45
/// and the weights are population / expected respondents. Returns the table and the sampling
/// distribution over it.
fn municipalities(seed: u64, rows: usize) -> (Vec<Municipality>, Categorical) {
    let mut draw = Draw::new(seed, TABLE_STREAM);
    let mut regions = Vec::with_capacity(342);
    let mut sizes = Vec::with_capacity(342);
    for (region, &count) in (1..).zip(&REGION_MUNICIPALITIES) {
        for m in 0..count {
            let city = if m == 0 { 6.0 } else { 1.0 };
            regions.push(region);
            sizes.push(city * (0.8 * draw.normal()).exp());
        }
    }
    let shares: Vec<f64> = sizes.iter().map(|size| size.powf(0.45)).collect();
    let size_total: f64 = sizes.iter().sum();
    let share_total: f64 = shares.iter().sum();
    let expected_rows = rows.max(1) as f64;
    let mut table = Vec::with_capacity(342);
    for ((region, size), share) in regions.into_iter().zip(sizes).zip(&shares) {
        let adults = ADULTS * size / size_total;
        let respondents = expected_rows * share / share_total;
        table.push(Municipality {
            region,
            provincie: REGION_PROVINCE[(region - 1) as usize],
            base_weight: adults / respondents,
        });
    }
    (table, Categorical::new(shares))
}

fn write_gezondheidsmonitor<W: Write>(opts: &Options, out: &mut W) -> io::Result<()> {
    let (table, pick_municipality) = municipalities(opts.seed, opts.rows);
    let mut draw = Draw::new(opts.seed, ANSWER_STREAM);
    let yy = opts.wave.rem_euclid(100);
    writeln!(out, "{GEZONDHEIDSMONITOR_HEADER}")?;
    for n in 1..=opts.rows {
        let m = pick_municipality.sample(&mut draw);
        let municipality = &table[m];
        let sex = draw.pick(&SEX_SAMPLE);
        let age = draw.pick(&AGE_SAMPLE);
        write!(
            out,
            "GM{yy:02}-{n:08};{};GM{:04};{};{};{};{};",
            opts.wave,
            m + 1,
            municipality.region,
            municipality.provincie,
            sex + 1,
            age + 1,
        )?;
        write_gm_care(&mut draw, out, sex, age)?;
        let weight = municipality.base_weight * sex_age_adjustment(sex, age) * draw.spread(0.15);
        writeln!(out, ";{}", Decimal(weight, 4))?;
    }
    Ok(())
}

/// `mantelzorger;belasting;uren_pw;respijt` for one respondent (sex and age as 0-based
/// indices); the last three are empty for non-carers.
fn write_gm_care<W: Write>(draw: &mut Draw, out: &mut W, sex: usize, age: usize) -> io::Result<()> {
    let carer_chance = CARER_BY_AGE[age] * if sex == 0 { 0.75 } else { 1.25 };
    if !draw.chance(carer_chance) {
        return write!(out, "0;;;");
    }
    let hours = tenths((12.0 * draw.spread(0.9)).clamp(0.5, 168.0));
    let latent = draw.normal() + 0.012 * (hours - 12.0) + 0.1 * sex as f64;
    let belasting = level(latent, &GM_BELASTING_CUTS);
    let respijt = i64::from(draw.chance(logistic(-3.0 + 0.5 * latent)));
    write!(out, "1;{belasting};{};{respijt}", Decimal(hours, 1))
}

/// Post-stratification factor: population share / sample share of the sex and the age band.
fn sex_age_adjustment(sex: usize, age: usize) -> f64 {
    SEX_POPULATION[sex] / SEX_SAMPLE[sex] * AGE_POPULATION[age] / AGE_SAMPLE[age]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn generate(kind: Kind, wave: i32, rows: usize, seed: u64, defects: bool) -> String {
        let options = Options {
            kind,
            rows,
            seed,
            wave,
            defects,
        };
        let mut bytes = Vec::new();
        write_csv(&options, &mut bytes).expect("writing to a Vec cannot fail");
        String::from_utf8(bytes).expect("the generator writes UTF-8")
    }

    fn dementiemonitor(rows: usize, seed: u64, defects: bool) -> String {
        generate(Kind::Dementiemonitor, 2020, rows, seed, defects)
    }

    fn fields(line: &str) -> Vec<&str> {
        line.split(';').collect()
    }

    fn number(field: &str) -> f64 {
        field.replace(',', ".").parse().expect("a number")
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        for kind in [Kind::Dementiemonitor, Kind::Gezondheidsmonitor] {
            let a = generate(kind, 2024, 500, 7, true);
            assert_eq!(a, generate(kind, 2024, 500, 7, true));
            assert_ne!(a, generate(kind, 2024, 500, 8, true));
        }
    }

    #[test]
    fn headers_are_exact() {
        let dm = dementiemonitor(3, 1, false);
        assert_eq!(
            dm.lines().next(),
            Some(
                "resp_id;wave;mode;provincie;gemeente;mz_geslacht;mz_leeftijd;mz_leeftijd_cat;\
                 relatie;woonsituatie_naaste;fase_dementie;duur_mz;zorgfrequentie;uren_pw;\
                 belasting;ediz_01;ediz_02;ediz_03;ediz_04;ediz_05;ediz_06;ediz_07;ediz_08;\
                 ediz_09;volhoudtijd;resp_dagbesteding;resp_logeeropvang;resp_thuis;werk;\
                 combineren_problemen;gewicht"
            )
        );
        let gm = generate(Kind::Gezondheidsmonitor, 2022, 3, 1, false);
        assert_eq!(
            gm.lines().next(),
            Some(
                "resp_id;wave;gemeente;ggd_regio;provincie;geslacht;leeftijd_cat;mantelzorger;\
                 belasting;uren_pw;respijt;gewicht"
            )
        );
        assert!(dm.ends_with('\n') && !dm.contains('\r'));
    }

    #[test]
    fn clean_waves_follow_the_codebook_and_routing() {
        let text = dementiemonitor(4000, 11, false);
        let allowed: [(usize, &[i64]); 17] = [
            (2, &[1, 2]),
            (5, &[1, 2, 3]),
            (8, &[1, 2, 3, 4, 5]),
            (9, &[1, 2, 3, 4]),
            (10, &[1, 2, 3, 8]),
            (11, &[1, 2, 3, 4, 5]),
            (12, &[1, 2, 3, 4, 5, 9]),
            (14, &[1, 2, 3, 4, 5, 9]),
            (15, &[1, 2, 3, 4, 5, 9]),
            (19, &[1, 2, 3, 4, 5, 9]),
            (23, &[1, 2, 3, 4, 5, 9]),
            (24, &[1, 2, 3, 4, 5, 8]),
            (25, &[0, 1, 7, 8]),
            (26, &[0, 1, 7, 8]),
            (27, &[0, 1, 7, 8]),
            (28, &[1, 2, 3, 4, 5, 6, 7]),
            (29, &[0, 1, 8]),
        ];
        let mut ids = HashSet::new();
        for (n, line) in (1..).zip(text.lines().skip(1)) {
            let f = fields(line);
            assert_eq!(f.len(), 31, "{line}");
            assert_eq!(f[0], format!("DM20-{n:06}"));
            assert!(ids.insert(f[0].to_string()), "duplicate id {}", f[0]);
            for (column, codes) in allowed {
                let code: i64 = f[column].parse().expect("an integer code");
                assert!(codes.contains(&code), "column {column}: {line}");
            }
            let age: i64 = f[6].parse().expect("an integer age");
            assert!((16..=95).contains(&age));
            assert_eq!(f[7].parse::<i64>().ok(), Some(age_band(age)), "{line}");
            let gemeente = GEMEENTEN.iter().find(|g| g.0 == f[4]).expect("known");
            assert_eq!(gemeente.2.to_string(), f[3]);
            let institution = f[9] == "3";
            for respite in &f[25..28] {
                assert_eq!(*respite == "7", institution, "{line}");
            }
            let hours = number(f[13]);
            assert!(
                (0.0..=168.0).contains(&hours) || hours == 998.0 || hours == 999.0,
                "{line}"
            );
            if f[12] == "1" && hours < 997.0 {
                assert!(hours >= 20.0, "{line}");
            }
            let weight = number(f[30]);
            assert!((0.3..=3.5).contains(&weight), "{line}");
        }
    }

    #[test]
    fn every_province_is_large_enough() {
        let text = dementiemonitor(default_rows(2020), default_seed(2020), false);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for line in text.lines().skip(1) {
            *counts.entry(fields(line)[3]).or_default() += 1;
        }
        assert_eq!(counts.len(), 12);
        assert!(counts.values().all(|&n| n >= 60), "{counts:?}");
    }

    /// Which defect kinds a row shows.
    fn defects_of(f: &[&str], seen_ids: &mut HashSet<String>) -> Vec<Defect> {
        let mut found = Vec::new();
        if !seen_ids.insert(f[0].to_string()) {
            found.push(Defect::DuplicateId);
        }
        if f[6].contains(',') {
            found.push(Defect::DecimalAge);
        } else if f[6].parse().map(age_band).ok() != f[7].parse().ok() {
            found.push(Defect::AgeBandMismatch);
        }
        let hours = number(f[13]);
        if hours > 168.0 && hours < 997.0 {
            found.push(Defect::HoursAbove168);
        }
        if f[9] == "3" && f[25] != "7" {
            found.push(Defect::RespiteInInstitution);
        }
        if f[14] == "6" || f[15..24].contains(&"7") {
            found.push(Defect::StrayCode);
        }
        found
    }

    #[test]
    fn defects_occur_and_touch_only_their_rows() {
        let rows = default_rows(2020);
        let clean = dementiemonitor(rows, default_seed(2020), false);
        let spoiled = dementiemonitor(rows, default_seed(2020), true);
        let mut counts: HashMap<Defect, usize> = HashMap::new();
        let mut seen_ids = HashSet::new();
        let mut changed = 0;
        for (clean_line, line) in clean.lines().zip(spoiled.lines()).skip(1) {
            let found = defects_of(&fields(line), &mut seen_ids);
            if clean_line != line {
                changed += 1;
                assert_eq!(found.len(), 1, "{line}");
            } else {
                assert!(found.is_empty(), "{line}");
            }
            for defect in found {
                *counts.entry(defect).or_default() += 1;
            }
        }
        for defect in DEFECTS {
            let n = counts.get(&defect).copied().unwrap_or(0);
            assert!((3..=8).contains(&n), "{defect:?}: {n}");
        }
        assert!(changed * 100 < rows * 2, "{changed} changed rows");
    }

    #[test]
    fn decimals_use_a_comma() {
        assert_eq!(Decimal(12.5, 1).to_string(), "12,5");
        assert_eq!(Decimal(1.03424, 4).to_string(), "1,0342");
        assert_eq!(Decimal(7.0, 0).to_string(), "7");
        assert_eq!(Decimal(-0.25, 2).to_string(), "-0,25");
    }

    #[test]
    fn margins_sum_to_exactly_one_per_variable() {
        let mut bytes = Vec::new();
        write_margins(2024, &mut bytes).expect("writing to a Vec cannot fail");
        let text = String::from_utf8(bytes).expect("UTF-8");
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("variable,category,target"));
        let mut micros: HashMap<String, (usize, i64)> = HashMap::new();
        for line in lines {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 3, "{line}");
            let (whole, fraction) = f[2].split_once('.').expect("a decimal point");
            assert_eq!(fraction.len(), 6);
            let value = whole.parse::<i64>().expect("digits") * 1_000_000
                + fraction.parse::<i64>().expect("digits");
            let entry = micros.entry(f[0].to_string()).or_default();
            entry.0 += 1;
            entry.1 += value;
            if f[0] == "mz_geslacht*mz_leeftijd_cat" {
                assert!(!f[1].starts_with("3|"), "{line}");
            }
        }
        assert_eq!(micros["provincie"], (12, 1_000_000));
        assert_eq!(micros["mz_geslacht*mz_leeftijd_cat"], (14, 1_000_000));
    }

    #[test]
    fn gezondheidsmonitor_is_consistent() {
        let text = generate(Kind::Gezondheidsmonitor, 2022, 20_000, 3, false);
        let mut strata: HashMap<String, (String, String)> = HashMap::new();
        let mut carers = 0;
        for (n, line) in (1..).zip(text.lines().skip(1)) {
            let f = fields(line);
            assert_eq!(f.len(), 12, "{line}");
            assert_eq!(f[0], format!("GM22-{n:08}"));
            let region = (f[3].to_string(), f[4].to_string());
            assert_eq!(
                strata.entry(f[2].to_string()).or_insert(region.clone()),
                &region
            );
            let carer = f[7] == "1";
            carers += usize::from(carer);
            assert_eq!(!f[8].is_empty(), carer, "{line}");
            assert_eq!(!f[9].is_empty(), carer, "{line}");
            assert_eq!(!f[10].is_empty(), carer, "{line}");
            assert!(number(f[11]) > 0.0);
        }
        assert!(strata.len() > 300, "{} strata", strata.len());
        assert!((1500..3500).contains(&carers), "{carers} carers");
        assert_eq!(REGION_MUNICIPALITIES.iter().sum::<usize>(), 342);
    }
}
