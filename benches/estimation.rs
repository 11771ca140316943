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

use common::{
    baseline_frame, fifty_indicators, polars_share_by_municipality, prepare, SHARE,
    SIX_SEGMENTATIONS,
};
use peiling::estimate;
use peiling::spec::Plan;
use peiling::weight::SurveyDesign;

fn main() {
    divan::main();
}

fn one_share() -> &'static (Plan, SurveyDesign) {
    static CELL: OnceLock<(Plan, SurveyDesign)> = OnceLock::new();
    CELL.get_or_init(|| prepare(SHARE, "total = false\nby = [[\"gemeente\"]]"))
}

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
    let frame = baseline_frame(design);
    bencher.bench(|| polars_share_by_municipality(&frame));
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
