//! The Gezondheidsmonitor kind: a general population over 342 municipalities (the strata), 25
//! GGD regions and 12 provinces, the shape the performance budgets are measured on.

use super::*;

pub(super) const GEZONDHEIDSMONITOR_HEADER: &str =
    "resp_id;wave;gemeente;ggd_regio;provincie;geslacht;\
leeftijd_cat;mantelzorger;belasting;uren_pw;respijt;gewicht";

/// Province of each of the 25 GGD regions.
pub(super) const REGION_PROVINCE: [i64; 25] = [
    20, 21, 22, 23, 23, 24, 25, 25, 25, 26, 27, 27, 27, 27, 27, 28, 28, 28, 28, 29, 30, 30, 30, 31,
    31,
];

/// Number of municipalities in each GGD region; 342 in all.
pub(super) const REGION_MUNICIPALITIES: [usize; 25] = [
    10, 18, 12, 11, 14, 6, 22, 15, 14, 26, 17, 7, 6, 6, 8, 9, 16, 13, 10, 13, 16, 21, 21, 15, 16,
];

/// Adults (18+) in the Netherlands, the sum of the municipality sizes.
pub(super) const ADULTS: f64 = 14_600_000.0;

/// Age bands 18–34, 35–49, 50–64, 65–74, 75–84, 85+: share in the population and in the sample
/// (older people respond more).
pub(super) const AGE_POPULATION: [f64; 6] = [27.0, 22.5, 25.0, 15.0, 8.0, 2.5];
pub(super) const AGE_SAMPLE: [f64; 6] = [19.0, 20.0, 27.0, 20.0, 11.0, 3.0];
/// Men and women in the population and in the sample.
pub(super) const SEX_POPULATION: [f64; 2] = [49.5, 50.5];
pub(super) const SEX_SAMPLE: [f64; 2] = [45.5, 54.5];
/// Chance of giving informal care by age band; women a quarter more, men a quarter less.
pub(super) const CARER_BY_AGE: [f64; 6] = [0.075, 0.13, 0.19, 0.16, 0.12, 0.07];
/// Cut points of the burden item for carers (levels 3–5 about 19%).
pub(super) const GM_BELASTING_CUTS: [f64; 4] = [-0.15, 0.96, 1.8, 2.5];

/// One municipality (stratum) of the Gezondheidsmonitor.
pub(super) struct Municipality {
    pub(super) region: i64,
    pub(super) provincie: i64,
    /// Weight of one respondent before the sex × age adjustment, for the requested row count.
    pub(super) base_weight: f64,
}

/// 342 municipalities of unequal size; the first of each region is its central city. CBS
/// samples relatively more in small municipalities, so the sample share grows with size^0.45
/// and the weights are population / expected respondents. Returns the table and the sampling
/// distribution over it.
pub(super) fn municipalities(seed: u64, rows: usize) -> (Vec<Municipality>, Categorical) {
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

pub(super) fn write_gezondheidsmonitor<W: Write>(opts: &Options, out: &mut W) -> io::Result<()> {
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
pub(super) fn write_gm_care<W: Write>(
    draw: &mut Draw,
    out: &mut W,
    sex: usize,
    age: usize,
) -> io::Result<()> {
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
pub(super) fn sex_age_adjustment(sex: usize, age: usize) -> f64 {
    SEX_POPULATION[sex] / SEX_SAMPLE[sex] * AGE_POPULATION[age] / AGE_SAMPLE[age]
}
