//! Estimation benchmarks on a generated Gezondheidsmonitor-like wave of 1,000,000 rows
//! (strata = 342 municipalities, weights), as issue 3 and DESIGN.md §9 ask:
//!
//! * `one_share_by_municipality`: one proportion × 342 municipalities with SE, df, deff and
//!   logit interval, beside `polars_bare_share`, polars' weighted `group_by` of the same share
//!   (point estimates only), measured in the same run;
//! * `table_book`: 50 indicators × 6 segmentations with SEs and intervals;
//! * `table_book_threads`: the same on a rayon pool of 1 and of 2 threads.
//!
//! Run with `cargo bench --bench estimation`; figures and ratios are in `benches/README.md`.
//! The wave is written once to `target/bench-data/` and read back before timing starts; set
//! `PEILING_BENCH_ROWS` for another size.

mod common;

use std::sync::OnceLock;

use common::{prepare, SHARE};
use peiling::estimate;
use peiling::spec::Plan;
use peiling::weight::SurveyDesign;
use polars::prelude::*;

fn main() {
    divan::main();
}

fn one_share() -> &'static (Plan, SurveyDesign) {
    static CELL: OnceLock<(Plan, SurveyDesign)> = OnceLock::new();
    CELL.get_or_init(|| prepare(SHARE, "total = false\nby = [[\"gemeente\"]]"))
}

/// 50 indicators: proportions, means, totals, ratios over the care items, in several
/// populations (quantiles have their own, sorting pass and are not part of the budget).
fn fifty_indicators() -> String {
    let mut out = String::new();
    let mut push = |id: String, kind: &str, population: Option<String>, value: String| {
        out.push_str(&format!(
            "[[indicator]]\nid = \"{id}\"\nlabel = \"{id}\"\nkind = \"{kind}\"\n"
        ));
        if let Some(p) = population {
            out.push_str(&format!("population = \"{p}\"\n"));
        }
        if kind == "ratio" {
            out.push_str(&format!(
                "numerator = \"{value}\"\ndenominator = \"uren_pw\"\n\n"
            ));
        } else {
            out.push_str(&format!("value = \"{value}\"\n\n"));
        }
    };
    push(
        "mantelzorger".into(),
        "proportion",
        None,
        "mantelzorger = 1".into(),
    );
    push("mantelzorgers".into(), "total", None, "mantelzorger".into());
    for level in 2..=5 {
        push(
            format!("belasting_{level}"),
            "proportion",
            Some("belasting IS NOT NULL".into()),
            format!("belasting >= {level}"),
        );
    }
    for hours in [2, 4, 8, 12, 16, 20, 24, 32, 40, 60] {
        push(
            format!("uren_{hours}"),
            "proportion",
            Some("mantelzorger = 1".into()),
            format!("uren_pw >= {hours}"),
        );
    }
    for age in 1..=6 {
        push(
            format!("uren_mean_{age}"),
            "mean",
            Some(format!("mantelzorger = 1 AND leeftijd_cat = {age}")),
            "uren_pw".into(),
        );
        push(
            format!("respijt_{age}"),
            "proportion",
            Some(format!("respijt IS NOT NULL AND leeftijd_cat = {age}")),
            "respijt = 1".into(),
        );
        push(
            format!("mantelzorger_{age}"),
            "proportion",
            Some(format!("leeftijd_cat = {age}")),
            "mantelzorger = 1".into(),
        );
    }
    for sex in 1..=2 {
        push(
            format!("overbelast_{sex}"),
            "proportion",
            Some(format!("belasting IS NOT NULL AND geslacht = {sex}")),
            "belasting >= 4".into(),
        );
        push(
            format!("uren_total_{sex}"),
            "total",
            Some(format!("mantelzorger = 1 AND geslacht = {sex}")),
            "uren_pw".into(),
        );
    }
    for level in 1..=5 {
        push(
            format!("respijt_belasting_{level}"),
            "proportion",
            Some(format!("respijt IS NOT NULL AND belasting = {level}")),
            "respijt = 1".into(),
        );
        push(
            format!("uren_belasting_{level}"),
            "mean",
            Some(format!("belasting = {level}")),
            "uren_pw".into(),
        );
    }
    push(
        "respijt_per_uur".into(),
        "ratio",
        Some("mantelzorger = 1".into()),
        "respijt".into(),
    );
    push(
        "belasting_per_uur".into(),
        "ratio",
        Some("mantelzorger = 1".into()),
        "belasting".into(),
    );
    let count = out.matches("[[indicator]]").count();
    assert_eq!(count, 50, "{count} indicators");
    out
}

const SIX_SEGMENTATIONS: &str = r#"total = true
by = [["gemeente"], ["ggd_regio"], ["provincie"], ["leeftijd_cat"], ["geslacht", "leeftijd_cat"]]"#;

fn table_book_input() -> &'static (Plan, SurveyDesign) {
    static CELL: OnceLock<(Plan, SurveyDesign)> = OnceLock::new();
    CELL.get_or_init(|| prepare(&fifty_indicators(), SIX_SEGMENTATIONS))
}

#[divan::bench(sample_count = 20)]
fn one_share_by_municipality(bencher: divan::Bencher) {
    let (plan, design) = one_share();
    bencher.bench(|| estimate::all(std::slice::from_ref(design), plan).unwrap());
}

#[divan::bench(sample_count = 20)]
fn polars_bare_share(bencher: divan::Bencher) {
    let (_, design) = one_share();
    let frame = design.data.analysis.clone();
    bencher.bench(|| {
        frame
            .clone()
            .lazy()
            .group_by([col("gemeente")])
            .agg([
                ((col("mantelzorger").eq(lit(1)).cast(DataType::Float64) * col("gewicht")).sum()
                    / col("gewicht").sum())
                .alias("share"),
            ])
            .collect()
            .unwrap()
    });
}

#[divan::bench(sample_count = 10)]
fn table_book(bencher: divan::Bencher) {
    let (plan, design) = table_book_input();
    bencher.bench(|| estimate::all(std::slice::from_ref(design), plan).unwrap());
}

#[divan::bench(args = [1, 2], sample_count = 10)]
fn table_book_threads(bencher: divan::Bencher, threads: usize) {
    let (plan, design) = table_book_input();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    bencher.bench(|| pool.install(|| estimate::all(std::slice::from_ref(design), plan).unwrap()));
}
