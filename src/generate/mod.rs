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

mod defects;
mod dementiemonitor;
mod draw;
mod gezondheidsmonitor;
mod tables;

pub use defects::defects;
pub use tables::GEMEENTEN;

use defects::*;
use dementiemonitor::*;
use draw::*;
use gezondheidsmonitor::*;
use tables::*;

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
