//! The Dementiemonitor kind: informal carers of someone with dementia, one latent burden score
//! per respondent from which the answers follow.

use super::*;

pub(super) const DEMENTIEMONITOR_HEADER: &str = "resp_id;wave;mode;provincie;gemeente;mz_geslacht;\
mz_leeftijd;mz_leeftijd_cat;relatie;woonsituatie_naaste;fase_dementie;duur_mz;zorgfrequentie;\
uren_pw;belasting;ediz_01;ediz_02;ediz_03;ediz_04;ediz_05;ediz_06;ediz_07;ediz_08;ediz_09;\
volhoudtijd;resp_dagbesteding;resp_logeeropvang;resp_thuis;werk;combineren_problemen;gewicht";

pub(super) const ONLINE: i64 = 1;
pub(super) const PAPER: i64 = 2;
pub(super) const MAN: i64 = 1;
pub(super) const WOMAN: i64 = 2;
pub(super) const OTHER_SEX: i64 = 3;
pub(super) const PARTNER: i64 = 1;
pub(super) const CHILD: i64 = 2;
pub(super) const TOGETHER: i64 = 1;
pub(super) const INSTITUTION: i64 = 3;
pub(super) const LATE_STAGE: i64 = 3;
pub(super) const DAY_AND_NIGHT: i64 = 1;
pub(super) const NOT_APPLICABLE: i64 = 7;
pub(super) const DONT_KNOW: i64 = 8;
pub(super) const NO_ANSWER: i64 = 9;
pub(super) const HOURS_DONT_KNOW: i64 = 998;
pub(super) const HOURS_NO_ANSWER: i64 = 999;

pub(super) const RELATIE: [(i64, f64); 5] = [(1, 38.0), (2, 52.0), (3, 5.0), (4, 3.0), (5, 2.0)];

/// Share of carers answering `anders`, drawn before the split into men and women.
pub(super) const OTHER_SEX_SHARE: f64 = 0.005;

/// Share of women among partners, children and other carers.
pub(super) fn female_share(relatie: i64) -> f64 {
    match relatie {
        PARTNER => 0.62,
        CHILD => 0.80,
        _ => 0.72,
    }
}

/// Age bands of the carer: <35, 35–44, 45–54, 55–64, 65–74, 75–84, 85+.
pub(super) fn age_band(age: i64) -> i64 {
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
pub(super) struct WaveParams {
    /// Multiplies the hours of carers whose person lives at home.
    pub(super) hours: f64,
    /// Added to the two upper cut points of the burden item: fewer carers very heavily burdened
    /// or overloaded, as many at least fairly heavily burdened.
    pub(super) heavy: f64,
}

pub(super) fn wave_params(wave: i32) -> WaveParams {
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
pub(super) struct Carer {
    pub(super) mode: i64,
    pub(super) provincie: i64,
    pub(super) gemeente: &'static str,
    pub(super) geslacht: i64,
    pub(super) leeftijd: i64,
    pub(super) relatie: i64,
}

pub(super) fn draw_carer(draw: &mut Draw) -> Carer {
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
pub(super) fn draw_location(draw: &mut Draw) -> (i64, &'static str) {
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
pub(super) fn draw_age(draw: &mut Draw, relatie: i64) -> i64 {
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
pub(super) struct Care {
    pub(super) woonsituatie: i64,
    pub(super) fase: i64,
    pub(super) duur: i64,
    pub(super) zorgfrequentie: i64,
    pub(super) uren: f64,
}

pub(super) fn draw_care(draw: &mut Draw, carer: &Carer, params: &WaveParams) -> Care {
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
pub(super) fn draw_hours(
    draw: &mut Draw,
    zorgfrequentie: i64,
    woonsituatie: i64,
    params: &WaveParams,
) -> f64 {
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
pub(super) struct Burden {
    pub(super) latent: f64,
    pub(super) belasting: i64,
    pub(super) ediz: [i64; 9],
    pub(super) volhoudtijd: i64,
}

/// Cut points of the burden item on the latent scale.
pub(super) const BELASTING_CUTS: [f64; 4] = [-0.98, 0.21, 1.525, 2.32];
/// Cut points of the EDIZ items (Nee! / Nee / Min of meer / Ja / Ja!).
pub(super) const EDIZ_CUTS: [f64; 4] = [-1.2, -0.35, 0.35, 1.25];
/// Item difficulty: some statements are endorsed more easily than others.
pub(super) const EDIZ_OFFSETS: [f64; 9] = [0.2, -0.1, 0.3, 0.0, -0.3, 0.1, 0.25, -0.2, -0.05];
/// Cut points of how long the carer can keep it up (1 <1 month … 5 >2 years) on a score that
/// falls with burden.
pub(super) const VOLHOUDTIJD_CUTS: [f64; 4] = [-2.75, -1.7, -0.95, -0.05];

pub(super) fn draw_burden(
    draw: &mut Draw,
    carer: &Carer,
    care: &Care,
    params: &WaveParams,
) -> Burden {
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
pub(super) struct Support {
    pub(super) dagbesteding: i64,
    pub(super) logeeropvang: i64,
    pub(super) thuis: i64,
    pub(super) werk: i64,
    pub(super) combineren: i64,
}

pub(super) fn draw_support(
    draw: &mut Draw,
    carer: &Carer,
    care: &Care,
    burden: &Burden,
) -> Support {
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
pub(super) fn draw_respite(draw: &mut Draw, institution: bool, log_odds: f64) -> i64 {
    if institution {
        NOT_APPLICABLE
    } else if draw.chance(0.02) {
        DONT_KNOW
    } else {
        i64::from(draw.chance(logistic(log_odds)))
    }
}

/// Work status by age: students are young, the retired mostly 65+, paid work mostly < 67.
pub(super) fn draw_work(draw: &mut Draw, age: i64) -> i64 {
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

pub(super) const SEX_WEIGHT: [(i64, f64); 3] = [(MAN, 1.45), (WOMAN, 0.85), (OTHER_SEX, 1.0)];
pub(super) const MODE_WEIGHT: [(i64, f64); 2] = [(ONLINE, 0.92), (PAPER, 1.3)];
pub(super) const PROVINCE_WEIGHT: [(i64, f64); 12] = [
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

pub(super) fn factor(table: &[(i64, f64)], code: i64) -> f64 {
    table
        .iter()
        .find(|entry| entry.0 == code)
        .map_or(1.0, |entry| entry.1)
}

/// Expected product of the weight factors under the sampling model, so that weights average 1.
pub(super) fn weight_normaliser() -> f64 {
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
pub(super) fn design_weight(carer: &Carer, normaliser: f64) -> f64 {
    factor(&SEX_WEIGHT, carer.geslacht)
        * factor(&MODE_WEIGHT, carer.mode)
        * factor(&PROVINCE_WEIGHT, carer.provincie)
        / normaliser
}

/// Hours as printed: a number, or a missing code.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Hours {
    Value(f64),
    Code(i64),
}

/// One output row as printed, after item non-response and defects.
pub(super) struct Record {
    pub(super) id: usize,
    pub(super) mode: i64,
    pub(super) provincie: i64,
    pub(super) gemeente: &'static str,
    pub(super) geslacht: i64,
    pub(super) leeftijd: i64,
    /// Print the age as `54,5` (a defect).
    pub(super) leeftijd_half: bool,
    pub(super) leeftijd_cat: i64,
    pub(super) relatie: i64,
    pub(super) woonsituatie: i64,
    pub(super) fase: i64,
    pub(super) duur: i64,
    pub(super) zorgfrequentie: i64,
    pub(super) uren: Hours,
    pub(super) belasting: i64,
    pub(super) ediz: [i64; 9],
    pub(super) volhoudtijd: i64,
    pub(super) dagbesteding: i64,
    pub(super) logeeropvang: i64,
    pub(super) thuis: i64,
    pub(super) werk: i64,
    pub(super) combineren: i64,
    pub(super) gewicht: f64,
}

/// Generates row `id` (1-based) with item non-response applied.
pub(super) fn draw_record(
    draw: &mut Draw,
    id: usize,
    params: &WaveParams,
    normaliser: f64,
) -> Record {
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

pub(super) fn write_dementiemonitor<W: Write>(opts: &Options, out: &mut W) -> io::Result<()> {
    write_dementiemonitor_noting(opts, out, &mut |_, _| {})
}

pub(super) fn write_dementiemonitor_noting<W: Write>(
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

pub(super) fn write_record<W: Write>(out: &mut W, wave: i32, r: &Record) -> io::Result<()> {
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
pub(super) fn sex_age_margins(wave: i32) -> Vec<(String, f64)> {
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
