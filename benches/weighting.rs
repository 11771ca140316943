//! Weighting benchmarks on the generated 1,000,000-row Gezondheidsmonitor-like wave (issue 5):
//!
//! * `rake_three_margins`: the design with raking to 12 provinces, 14 sex × age cells and
//!   25 GGD regions (IPF to a tolerance of 1e-7, R's default), from the derived frame;
//! * `design_only`: the same design without `[weighting]`, measured in the same run, so that
//!   the cost of calibration is the difference;
//! * `share_by_municipality_raked`: one proportion × 342 municipalities with calibrated SEs
//!   (every cell's residuals cover all rows), beside `share_by_municipality` on the same
//!   design uncalibrated.
//!
//! Run with `cargo bench --bench weighting`; figures are in `benches/README.md`. The margins
//! are written to `target/bench-data/` from the wave's design-weighted counts, perturbed.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::OnceLock;

use common::{bench_dir, data_file, derived, pipeline, SHARE};
use peiling::derive::DerivedFrame;
use peiling::spec::Plan;
use peiling::weight::{self, SurveyDesign};
use peiling::{estimate, levels};

fn main() {
    divan::main();
}

/// Population margins near the sample's weighted counts: each category's count times
/// `1 + 0.1·sin(k)`, rescaled to one total. GGD regions lie within provinces, so their targets
/// are each province's target shared in proportion to the perturbed region counts (independent
/// perturbations would contradict each other, and raking would rightly fail).
fn write_margins(frame: &DerivedFrame, weights: &[f64]) -> std::path::PathBuf {
    let total: f64 = weights.iter().sum();
    let key_of = |variables: &[&str]| -> Vec<String> {
        let coded: Vec<levels::Coded> = variables
            .iter()
            // The coded frame keeps every column (the analysis frame only the plan's), in the
            // order of the accepted rows, as `weights` is.
            .map(|v| levels::encode(frame.coded.column(v).unwrap()).unwrap())
            .collect();
        (0..weights.len())
            .map(|row| {
                coded
                    .iter()
                    .map(|c| {
                        // `levels::NULL` (a missing value) has no key; margins have no row
                        // without a category, and the generated wave has none.
                        let key = c.keys.get(c.codes[row] as usize);
                        key.expect("margin variables have no missing value")
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .collect()
    };
    let perturbed = |keys: &[String]| -> BTreeMap<String, f64> {
        let mut counts = BTreeMap::<String, f64>::new();
        for (key, &w) in keys.iter().zip(weights) {
            *counts.entry(key.clone()).or_default() += w;
        }
        let mut out: BTreeMap<String, f64> = counts
            .into_iter()
            .enumerate()
            .map(|(k, (key, count))| (key, count * (1.0 + 0.1 * (k as f64 + 1.0).sin())))
            .collect();
        let sum: f64 = out.values().sum();
        out.values_mut().for_each(|c| *c *= total / sum);
        out
    };
    let provinces = key_of(&["provincie"]);
    let regions = key_of(&["ggd_regio"]);
    let province_targets = perturbed(&provinces);
    let mut region_targets = perturbed(&regions);
    let province_of: BTreeMap<&String, &String> = regions.iter().zip(&provinces).collect();
    let mut per_province = BTreeMap::<&String, f64>::new();
    for (region, target) in &region_targets {
        *per_province.entry(province_of[region]).or_default() += target;
    }
    for (region, target) in region_targets.iter_mut() {
        let province = province_of[region];
        *target *= province_targets[province] / per_province[province];
    }
    let mut text = String::from("variable,category,target\n");
    let mut write = |name: &str, targets: &BTreeMap<String, f64>| {
        for (key, target) in targets {
            let _ = writeln!(text, "{name},{key},{target}");
        }
    };
    write("provincie", &province_targets);
    write(
        "geslacht*leeftijd_cat",
        &perturbed(&key_of(&["geslacht", "leeftijd_cat"])),
    );
    write("ggd_regio", &region_targets);
    let path = bench_dir().join("margins-rake-three.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// Two plans over the wave, without and with raking, each with its derived wave (the analysis
/// frame keeps only the columns its plan reads: the margins' only with raking).
type Input = ((Plan, DerivedFrame), (Plan, DerivedFrame));

fn input() -> &'static Input {
    static CELL: OnceLock<Input> = OnceLock::new();
    CELL.get_or_init(|| {
        let segments = "total = false\nby = [[\"gemeente\"]]";
        let plain = pipeline(SHARE, segments, &data_file());
        let (plan, frame) = derived(&plain);
        let design = weight::apply(
            frame.clone(),
            &plan.design,
            None,
            &plan.schema,
            &[],
            &plan.estimated_columns(),
        )
        .unwrap();
        let margins = write_margins(&frame, &design.weights);
        let raked = plain.replace(
            "[segments]",
            &format!(
                "[weighting]\nmethod = \"rake\"\nmargins = \"{}\"\n\n[segments]",
                margins.display()
            ),
        );
        ((plan, frame), derived(&raked))
    })
}

fn build(plan: &Plan, frame: &DerivedFrame) -> SurveyDesign {
    weight::of_plan(frame.clone(), plan).unwrap()
}

#[divan::bench(sample_count = 10)]
fn rake_three_margins(bencher: divan::Bencher) {
    let (_, (raked, frame)) = input();
    bencher.bench(|| build(raked, frame));
}

#[divan::bench(sample_count = 10)]
fn design_only(bencher: divan::Bencher) {
    let ((plain, frame), _) = input();
    bencher.bench(|| build(plain, frame));
}

fn designs() -> &'static (SurveyDesign, SurveyDesign) {
    static CELL: OnceLock<(SurveyDesign, SurveyDesign)> = OnceLock::new();
    CELL.get_or_init(|| {
        let ((plain, frame), (raked, raked_frame)) = input();
        (build(plain, frame), build(raked, raked_frame))
    })
}

#[divan::bench(sample_count = 5)]
fn share_by_municipality(bencher: divan::Bencher) {
    let ((plain, _), _) = input();
    let design = &designs().0;
    bencher.bench(|| estimate::all(std::slice::from_ref(design), plain).unwrap());
}

#[divan::bench(sample_count = 5)]
fn share_by_municipality_raked(bencher: divan::Bencher) {
    let (_, (raked, _)) = input();
    let design = &designs().1;
    bencher.bench(|| estimate::all(std::slice::from_ref(design), raked).unwrap());
}
