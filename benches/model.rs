//! Model benchmarks (issue 21) on the generated Gezondheidsmonitor-like wave of 1,000,000 rows
//! of `estimation` (strata = 342 municipalities, weights):
//!
//! * `logistic_12_coefficients`: `estimate::model::all` for one logistic model of
//!   `mantelzorger = 1` on sex, age band and their interaction (12 coefficients): the whole
//!   fit, every IRLS iteration and the design-based variance, as a run does it (its terms are
//!   categorical, so on cells);
//! * `logistic_12_coefficients_by_rows`: the same model fitted row by row, as a model with a
//!   numeric term is (`model::Fitting::Rows`);
//! * `polars_weighted_group_by`: polars' weighted `group_by` of the same outcome by
//!   municipality, the baseline of one pass over the data;
//! * `logistic_threads`: the model on a rayon pool of 1 and of 2 threads.
//!
//! The budget: the model at most 2× the baseline per IRLS iteration. The iterations are
//! printed before timing starts. Run with `cargo bench --bench model`; figures are in
//! `benches/README.md`.

mod common;

use std::sync::OnceLock;

use common::{baseline_frame, polars_share_by_municipality, prepare};
use peiling::estimate::model::{self, Fitting};
use peiling::spec::Plan;
use peiling::weight::SurveyDesign;

fn main() {
    let (plan, design) = input();
    let rows = model::all(std::slice::from_ref(design), plan).unwrap().rows;
    eprintln!(
        "logistic model: {} coefficients, {} IRLS iterations, {} rows",
        rows.len(),
        rows[0].iterations,
        rows[0].n
    );
    divan::main();
}

const MODEL: &str = r#"[[indicator]]
id = "mantelzorger"
label = "Geeft mantelzorg"
kind = "proportion"
value = "mantelzorger = 1"

[[model]]
id = "mantelzorg"
label = "Geeft mantelzorg, naar geslacht en leeftijd"
family = "logistic"
outcome = "mantelzorger = 1"
terms = ["geslacht", "leeftijd_cat", "geslacht:leeftijd_cat"]
"#;

fn input() -> &'static (Plan, SurveyDesign) {
    static CELL: OnceLock<(Plan, SurveyDesign)> = OnceLock::new();
    CELL.get_or_init(|| prepare(MODEL, "total = false\nby = [[\"gemeente\"]]"))
}

#[divan::bench(sample_count = 10)]
fn logistic_12_coefficients(bencher: divan::Bencher) {
    let (plan, design) = input();
    bencher.bench(|| model::all(std::slice::from_ref(design), plan).unwrap());
}

#[divan::bench(sample_count = 10)]
fn logistic_12_coefficients_by_rows(bencher: divan::Bencher) {
    let (plan, design) = input();
    bencher.bench(|| model::all_with(std::slice::from_ref(design), plan, Fitting::Rows).unwrap());
}

#[divan::bench(sample_count = 20)]
fn polars_weighted_group_by(bencher: divan::Bencher) {
    let (_, design) = input();
    let frame = baseline_frame(design);
    bencher.bench(|| polars_share_by_municipality(&frame));
}

#[divan::bench(args = [1, 2], sample_count = 10)]
fn logistic_threads(bencher: divan::Bencher, threads: usize) {
    let (plan, design) = input();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    bencher.bench(|| pool.install(|| model::all(std::slice::from_ref(design), plan).unwrap()));
}
