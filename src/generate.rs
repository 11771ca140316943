//! Deterministic synthetic survey waves (`peiling generate`).
//!
//! No real microdata may be shared, so the sample waves are generated: a Dementiemonitor-like
//! wave of informal carers, tuned to the published headlines (about 1 in 7 carers very heavily
//! burdened or overloaded, some 53% at least fairly heavily burdened, ~37–40 hours of care a
//! week, a quarter of the people with dementia in an institution), and a Gezondheidsmonitor-
//! like general-population wave with 342 municipalities as strata for benchmarks.
//!
//! Burden comes from one latent score per respondent that rises with hours, partner carers,
//! living together, late-stage dementia and the big cities, and falls when the person lives in
//! an institution; the burden item, the nine EDIZ items, how long the carer can keep it up and
//! respite use are all driven by it. Output is byte-stable across platforms and crate versions:
//! the only randomness is `ChaCha8Rng::next_u64`, turned into uniforms, normals and categorical
//! draws here, and numbers are printed with a fixed number of decimals. Rows are streamed, so
//! any number of rows fits in constant memory.

use std::io::{self, BufWriter, Write};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dementiemonitor,
    Gezondheidsmonitor,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub kind: Kind,
    pub rows: usize,
    pub seed: u64,
    pub wave: i32,
    /// Add a small share of deliberate defects that the validator must catch.
    pub defects: bool,
}

/// Usable responses of the published waves.
pub fn default_rows(wave: i32) -> usize {
    match wave {
        2020 => 3577,
        2022 => 4500,
        2024 => 9600,
        _ => 5000,
    }
}

pub fn default_seed(wave: i32) -> u64 {
    wave as u64
}

/// CBS province codes with weights roughly proportional to their 65+ population.
const PROVINCES: [(i64, f64); 12] = [
    (20, 3.6),
    (21, 4.0),
    (22, 3.3),
    (23, 6.6),
    (24, 2.4),
    (25, 12.4),
    (26, 7.0),
    (27, 15.0),
    (28, 19.2),
    (29, 2.8),
    (30, 15.6),
    (31, 8.1),
];

/// Municipalities used in the sample: (CBS code, name, province).
pub const GEMEENTEN: &[(&str, &str, i64)] = &[
    ("GM0014", "Groningen", 20),
    ("GM1966", "Het Hogeland", 20),
    ("GM0037", "Stadskanaal", 20),
    ("GM0080", "Leeuwarden", 21),
    ("GM1900", "Súdwest-Fryslân", 21),
    ("GM0090", "Smallingerland", 21),
    ("GM0106", "Assen", 22),
    ("GM0114", "Emmen", 22),
    ("GM0119", "Meppel", 22),
    ("GM0153", "Enschede", 23),
    ("GM0193", "Zwolle", 23),
    ("GM0150", "Deventer", 23),
    ("GM0034", "Almere", 24),
    ("GM0995", "Lelystad", 24),
    ("GM0171", "Noordoostpolder", 24),
    ("GM0200", "Apeldoorn", 25),
    ("GM0202", "Arnhem", 25),
    ("GM0268", "Nijmegen", 25),
    ("GM0344", "Utrecht", 26),
    ("GM0307", "Amersfoort", 26),
    ("GM0345", "Veenendaal", 26),
    ("GM0363", "Amsterdam", 27),
    ("GM0392", "Haarlem", 27),
    ("GM0361", "Alkmaar", 27),
    ("GM0599", "Rotterdam", 28),
    ("GM0518", "'s-Gravenhage", 28),
    ("GM0546", "Leiden", 28),
    ("GM0687", "Middelburg", 29),
    ("GM0718", "Vlissingen", 29),
    ("GM0654", "Borsele", 29),
    ("GM0772", "Eindhoven", 30),
    ("GM0855", "Tilburg", 30),
    ("GM0796", "'s-Hertogenbosch", 30),
    ("GM0935", "Maastricht", 31),
    ("GM0917", "Heerlen", 31),
    ("GM0983", "Venlo", 31),
];

/// Extra latent burden in the big cities (Amsterdam and Rotterdam ~17%, Eindhoven ~21%
/// very heavily burdened against ~13% nationally in 2024).
fn city_effect(gemeente: &str) -> f64 {
    match gemeente {
        "GM0363" | "GM0599" => 0.25,
        "GM0772" => 0.45,
        _ => 0.0,
    }
}

/// Uniforms, normals and categorical draws from one ChaCha8 stream.
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64) -> Self {
        Draw(ChaCha8Rng::seed_from_u64(seed))
    }

    /// Uniform on [0, 1).
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
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Index drawn with the given relative weights.
    fn pick(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut u = self.uniform() * total;
        for (i, w) in weights.iter().enumerate() {
            if u < *w {
                return i;
            }
            u -= w;
        }
        weights.len() - 1
    }
}

/// `12,5`: fixed decimals with a decimal comma.
fn comma(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}").replace('.', ",")
}

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

/// Level 1..=n from a score and ascending cut points.
fn level(score: f64, cuts: &[f64]) -> i64 {
    cuts.iter().filter(|&&c| score >= c).count() as i64 + 1
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn write_csv<W: Write>(opts: &Options, out: W) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    match opts.kind {
        Kind::Dementiemonitor => dementiemonitor(opts, &mut out)?,
        Kind::Gezondheidsmonitor => gezondheidsmonitor(opts, &mut out)?,
    }
    out.flush()
}

const DEMENTIEMONITOR_HEADER: &str = "resp_id;wave;mode;provincie;gemeente;mz_geslacht;mz_leeftijd;mz_leeftijd_cat;relatie;woonsituatie_naaste;fase_dementie;duur_mz;zorgfrequentie;uren_pw;belasting;ediz_01;ediz_02;ediz_03;ediz_04;ediz_05;ediz_06;ediz_07;ediz_08;ediz_09;volhoudtijd;resp_dagbesteding;resp_logeeropvang;resp_thuis;werk;combineren_problemen;gewicht";

/// A deliberate defect for the validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    HoursAbove168,
    RespiteInInstitution,
    AgeBandMismatch,
    DuplicateId,
    DecimalAge,
    StrayCode,
}

const DEFECTS: [Defect; 6] = [
    Defect::HoursAbove168,
    Defect::RespiteInInstitution,
    Defect::AgeBandMismatch,
    Defect::DuplicateId,
    Defect::DecimalAge,
    Defect::StrayCode,
];

fn dementiemonitor<W: Write>(opts: &Options, out: &mut W) -> io::Result<()> {
    let mut draw = Draw::new(opts.seed);
    let yy = opts.wave.rem_euclid(100);
    // Hours of care drift down between waves (40, 39, 37 in 2020, 2022, 2024).
    let wave_hours = match opts.wave {
        ..=2020 => 0.93,
        2021..=2022 => 0.91,
        _ => 0.865,
    };
    let wave_burden = if opts.wave >= 2024 { -0.04 } else { 0.0 };
    writeln!(out, "{DEMENTIEMONITOR_HEADER}")?;
    for n in 1..=opts.rows {
        let defect = (opts.defects && draw.chance(0.012)).then(|| DEFECTS[draw.pick(&[1.0; 6])]);
        let id_number = if defect == Some(Defect::DuplicateId) && n > 3 {
            n - 3
        } else {
            n
        };
        let mode = if draw.chance(0.75) { 1 } else { 2 };
        let provincie = PROVINCES[draw.pick(&PROVINCES.map(|p| p.1))].0;
        let gemeenten: Vec<&(&str, &str, i64)> =
            GEMEENTEN.iter().filter(|g| g.2 == provincie).collect();
        let gemeente = gemeenten[draw.pick(&[2.0, 1.0, 1.0][..gemeenten.len().min(3)])].0;

        let relatie = draw.pick(&[38.0, 52.0, 5.0, 3.0, 2.0]) as i64 + 1;
        let age = match relatie {
            1 => 74.0 + 8.0 * draw.normal(),
            2 => 56.0 + 8.0 * draw.normal(),
            _ => 52.0 + 15.0 * draw.normal(),
        }
        .round()
        .clamp(if relatie == 1 { 40.0 } else { 16.0 }, 95.0) as i64;
        let female_share = if relatie == 1 { 0.62 } else { 0.78 };
        let geslacht = if draw.chance(0.005) {
            3
        } else if draw.chance(female_share) {
            2
        } else {
            1
        };
        let woonsituatie = match relatie {
            1 => draw.pick(&[72.0, 3.0, 23.0, 2.0]),
            _ => draw.pick(&[10.0, 57.0, 28.0, 5.0]),
        } as i64
            + 1;
        let institution = woonsituatie == 3;
        let fase = [1, 2, 3, 8][draw.pick(&[30.0, 40.0, 25.0, 5.0])];
        let duur = draw.pick(&[10.0, 20.0, 35.0, 25.0, 10.0]) as i64 + 1;
        let zorgfrequentie = match woonsituatie {
            1 => draw.pick(&[42.0, 44.0, 10.0, 3.0, 1.0]),
            2 => draw.pick(&[4.0, 41.0, 38.0, 13.0, 4.0]),
            3 => draw.pick(&[2.0, 20.0, 45.0, 28.0, 5.0]),
            _ => draw.pick(&[10.0, 40.0, 30.0, 15.0, 5.0]),
        } as i64
            + 1;
        let hours = match zorgfrequentie {
            1 => 95.0,
            2 => 42.0,
            3 => 18.0,
            4 => 8.0,
            _ => 4.0,
        } * wave_hours
            * (0.45 * draw.normal()).exp();
        let hours = if zorgfrequentie == 1 {
            hours.max(20.0)
        } else {
            hours
        }
        .clamp(0.5, 168.0);

        let latent = draw.normal()
            + 0.35 * (relatie == 1) as i64 as f64
            + 0.25 * (woonsituatie == 1) as i64 as f64
            + 0.30 * (fase == 3) as i64 as f64
            - 0.35 * institution as i64 as f64
            + 0.006 * (hours - 37.0)
            + city_effect(gemeente)
            + wave_burden;
        let belasting = level(latent, &[-0.95, 0.14, 1.46, 2.2]);
        let ediz: Vec<i64> = (0..9)
            .map(|item| {
                level(
                    latent + 0.8 * draw.normal() + 0.1 * (item as f64 - 4.0),
                    &[-1.3, -0.5, 0.25, 1.05],
                )
            })
            .collect();
        // Short (codes 1-3, at most a year) with high burden.
        let volhoudtijd = level(-0.8 * latent + draw.normal(), &[-1.65, -1.2, -0.82, 0.1]);
        let respite = |draw: &mut Draw, base: f64| -> i64 {
            if institution {
                7
            } else if draw.chance(0.02) {
                8
            } else {
                draw.chance(logistic(base + 0.45 * latent)) as i64
            }
        };
        let dagbesteding = respite(&mut draw, -0.85);
        let logeeropvang = respite(&mut draw, -2.45);
        let thuis = respite(&mut draw, -1.65);
        let werk = match age {
            ..=25 => [6, 1, 2, 7][draw.pick(&[45.0, 35.0, 15.0, 5.0])],
            26..=66 => [1, 2, 3, 4, 5, 7][draw.pick(&[
                55.0,
                10.0,
                if age >= 60 { 20.0 } else { 1.0 },
                8.0,
                12.0,
                4.0,
            ])],
            _ => [3, 1, 2, 5, 7][draw.pick(&[88.0, 2.0, 3.0, 5.0, 2.0])],
        };
        let combineren = if draw.chance(0.03) {
            8
        } else {
            draw.chance(logistic(0.98 + 0.6 * latent)) as i64
        };
        let gewicht = (if geslacht == 1 { 1.35 } else { 0.88 })
            * (if mode == 2 { 1.25 } else { 0.93 })
            * (1.0 + 0.04 * (provincie - 25) as f64)
            * (0.18 * draw.normal()).exp();

        let mut row = Row {
            id: format!("DM{yy:02}-{id_number:06}"),
            age: age.to_string(),
            band: age_band(age),
            woonsituatie,
            dagbesteding,
            hours: if draw.chance(0.04) {
                if draw.chance(0.5) { "999" } else { "998" }.to_string()
            } else {
                comma(hours, 1)
            },
            belasting: if draw.chance(0.015) { 9 } else { belasting },
        };
        match defect {
            Some(Defect::HoursAbove168) => row.hours = comma(170.0 + 230.0 * draw.uniform(), 1),
            Some(Defect::RespiteInInstitution) => {
                row.woonsituatie = 3;
                row.dagbesteding = 1;
            }
            Some(Defect::AgeBandMismatch) => row.band = row.band % 7 + 1,
            Some(Defect::DecimalAge) => row.age = format!("{age},5"),
            Some(Defect::StrayCode) => row.belasting = 6,
            Some(Defect::DuplicateId) | None => {}
        }
        let (logeeropvang, thuis) = if defect == Some(Defect::RespiteInInstitution) {
            (7, 7)
        } else {
            (logeeropvang, thuis)
        };
        let ediz: Vec<String> = ediz
            .iter()
            .map(|&e| if draw.chance(0.02) { 9 } else { e }.to_string())
            .collect();
        let volhoudtijd = if draw.chance(0.08) { 8 } else { volhoudtijd };
        writeln!(
            out,
            "{};{};{mode};{provincie};{gemeente};{geslacht};{};{};{relatie};{};{fase};{duur};{};{};{};{};{volhoudtijd};{};{logeeropvang};{thuis};{werk};{combineren};{}",
            row.id,
            opts.wave,
            row.age,
            row.band,
            row.woonsituatie,
            if draw.chance(0.01) { 9 } else { zorgfrequentie },
            row.hours,
            row.belasting,
            ediz.join(";"),
            row.dagbesteding,
            comma(gewicht, 4),
        )?;
    }
    Ok(())
}

/// The fields a defect may change.
struct Row {
    id: String,
    age: String,
    band: i64,
    woonsituatie: i64,
    dagbesteding: i64,
    hours: String,
    belasting: i64,
}

/// Illustrative raking margins: province shares and sex × age band of the carer, as shares.
pub fn write_margins<W: Write>(wave: i32, out: W) -> io::Result<()> {
    let mut out = BufWriter::new(out);
    writeln!(out, "variable,category,target")?;
    let total: f64 = PROVINCES.iter().map(|p| p.1).sum();
    write_shares(
        &mut out,
        "provincie",
        &PROVINCES.map(|(code, w)| (code.to_string(), w / total)),
    )?;
    // Carers of people with dementia: mostly women, daughters (45-64) and partners (65+).
    let men = [1.5, 3.0, 5.5, 7.0, 6.5, 5.0, 1.5];
    let women = [3.0, 6.5, 14.0, 18.0, 12.5, 7.5, 1.0];
    let shift = if wave >= 2024 { 0.5 } else { 0.0 };
    let mut cells = Vec::new();
    let sum: f64 = men.iter().chain(&women).sum::<f64>() + 2.0 * shift;
    for (sex, shares) in [(1, men), (2, women)] {
        for (band, share) in shares.iter().enumerate() {
            let share = if band == 3 { share + shift } else { *share };
            cells.push((format!("{sex}|{}", band + 1), share / sum));
        }
    }
    write_shares(&mut out, "mz_geslacht*mz_leeftijd_cat", &cells)?;
    out.flush()
}

/// Shares with 6 decimals; the last absorbs rounding so they sum to exactly 1.
fn write_shares<W: Write>(out: &mut W, variable: &str, shares: &[(String, f64)]) -> io::Result<()> {
    let mut micros: Vec<i64> = shares
        .iter()
        .map(|(_, s)| (s * 1e6).round() as i64)
        .collect();
    let rest = 1_000_000 - micros.iter().sum::<i64>();
    if let Some(last) = micros.last_mut() {
        *last += rest;
    }
    for ((category, _), micro) in shares.iter().zip(micros) {
        writeln!(
            out,
            "{variable},{category},{}.{:06}",
            micro / 1_000_000,
            micro % 1_000_000
        )?;
    }
    Ok(())
}

/// General population, 342 municipalities as strata in 25 GGD regions and 12 provinces.
fn gezondheidsmonitor<W: Write>(opts: &Options, out: &mut W) -> io::Result<()> {
    let mut draw = Draw::new(opts.seed);
    let yy = opts.wave.rem_euclid(100);
    // Unequal municipality sizes: a few large cities, many small towns.
    let sizes: Vec<f64> = (0..342)
        .map(|m| 1.0 + 40.0 / (1.0 + m as f64).powf(0.9))
        .collect();
    writeln!(out, "resp_id;wave;gemeente;ggd_regio;provincie;geslacht;leeftijd_cat;mantelzorger;belasting;uren_pw;respijt;gewicht")?;
    for n in 1..=opts.rows {
        let m = draw.pick(&sizes);
        let ggd_regio = m % 25 + 1;
        let provincie = 20 + (ggd_regio - 1) * 12 / 25;
        let geslacht = draw.pick(&[49.0, 51.0]) + 1;
        let leeftijd_cat = draw.pick(&[27.0, 16.0, 17.0, 17.0, 15.0, 8.0]) + 1;
        let carer = draw.chance(0.10 + 0.02 * (leeftijd_cat as f64 - 1.0).min(3.0));
        let (belasting, uren, respijt) = if carer {
            let latent = draw.normal() + 0.1 * (geslacht as f64 - 1.5);
            (
                level(latent, &[-0.5, 0.88, 1.6, 2.2]).to_string(),
                comma(12.0 * (0.8 * draw.normal()).exp() / 1.377, 1),
                (draw.chance(logistic(-2.0 + 0.5 * latent)) as i64).to_string(),
            )
        } else {
            (String::new(), String::new(), String::new())
        };
        let gewicht = 1000.0 * sizes[m] / 40.0
            * (if geslacht == 1 { 1.1 } else { 0.92 })
            * (0.25 * draw.normal()).exp();
        writeln!(
            out,
            "GM{yy:02}-{n:08};{};GM{:04};{ggd_regio};{provincie};{geslacht};{leeftijd_cat};{};{belasting};{uren};{respijt};{}",
            opts.wave,
            m + 1,
            carer as i64,
            comma(gewicht, 4)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(rows: usize, seed: u64, defects: bool) -> String {
        let options = Options {
            kind: Kind::Dementiemonitor,
            rows,
            seed,
            wave: 2024,
            defects,
        };
        let mut bytes = Vec::new();
        write_csv(&options, &mut bytes).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(wave(200, 7, true), wave(200, 7, true));
        assert_ne!(wave(200, 7, true), wave(200, 8, true));
        assert!(wave(1, 1, false).starts_with(DEMENTIEMONITOR_HEADER));
    }

    #[test]
    fn clean_waves_keep_the_routing() {
        let text = wave(3000, 11, false);
        let mut ids = std::collections::HashSet::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(';').collect();
            assert!(ids.insert(f[0].to_string()), "duplicate id {}", f[0]);
            let age: i64 = f[6].parse().unwrap();
            assert_eq!(f[7].parse::<i64>().unwrap(), age_band(age));
            let institution = f[9] == "3";
            for respite in &f[25..28] {
                assert_eq!(*respite == "7", institution, "{line}");
            }
            let hours: f64 = f[13].replace(',', ".").parse().unwrap();
            assert!(hours <= 168.0 || hours == 998.0 || hours == 999.0);
            if f[12] == "1" && hours < 997.0 {
                assert!(hours >= 20.0);
            }
        }
    }

    #[test]
    fn margins_sum_to_one_per_variable() {
        let mut bytes = Vec::new();
        write_margins(2024, &mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let mut sums = std::collections::BTreeMap::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            *sums.entry(f[0].to_string()).or_insert(0.0) += f[2].parse::<f64>().unwrap();
        }
        assert_eq!(sums.len(), 2);
        for sum in sums.values() {
            assert!((sum - 1.0).abs() < 1e-9);
        }
    }
}
