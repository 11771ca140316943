//! The estimation engine on data large enough to be cut into many chunks: results do not
//! depend on the number of threads, bit for bit.

mod common;

use peiling::estimate;
use peiling::generate::{self, Kind, Options};

const SPEC: &str = r#"[pipeline]
name = "threads"

[[input]]
wave = 2022
path = "data.csv"
schema = "gezondheidsmonitor.schema.toml"

[design]
weight = "gewicht"
strata = "ggd_regio"
lonely_psu = "adjust"
adjust_domain_lonely = true

[[indicator]]
id = "mantelzorger"
label = "Mantelzorger"
kind = "proportion"
value = "mantelzorger = 1"
ci = "korn-graubard"

[[indicator]]
id = "uren"
label = "Uren"
kind = "mean"
population = "mantelzorger = 1"
value = "uren_pw"

[[indicator]]
id = "uren_totaal"
label = "Uren totaal"
kind = "total"
population = "mantelzorger = 1"
value = "uren_pw"

[[indicator]]
id = "respijt_per_uur"
label = "Respijt per uur"
kind = "ratio"
population = "mantelzorger = 1"
numerator = "respijt"
denominator = "uren_pw"

[[indicator]]
id = "uren_mediaan"
label = "Uren, mediaan"
kind = "quantile"
population = "mantelzorger = 1"
value = "uren_pw"
probability = 0.5

[segments]
total = true
by = [["gemeente"], ["geslacht", "leeftijd_cat"]]
"#;

#[test]
fn estimates_are_bit_identical_for_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options {
        kind: Kind::Gezondheidsmonitor,
        rows: 80_000,
        seed: 5,
        wave: 2022,
        defects: false,
    };
    let file = std::fs::File::create(dir.path().join("data.csv")).unwrap();
    generate::write_csv(&options, std::io::BufWriter::new(file)).unwrap();
    std::fs::copy(
        common::root().join("schemas/gezondheidsmonitor.schema.toml"),
        dir.path().join("gezondheidsmonitor.schema.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("spec.toml"), SPEC).unwrap();

    let (plan, design, _) = common::plan_and_design(&dir.path().join("spec.toml"), None);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| estimate::all(std::slice::from_ref(&design), &plan).unwrap())
    };
    let (one, two) = (run(1), run(2));
    assert!(one.rows.len() > 1700, "{} rows", one.rows.len());
    for (a, b) in one.rows.iter().zip(&two.rows) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }
    assert_eq!(one.rows.len(), two.rows.len());
}

/// What a run reports while it estimates: a step per wave × segmentation, counted from the
/// threads that do the work.
#[derive(Default)]
struct Recorder {
    total: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
}

impl peiling::Progress for Recorder {
    fn stage(&self, _name: &str) {}
    fn steps(&self, _unit: &str, total: u64) {
        self.total.store(total, std::sync::atomic::Ordering::SeqCst);
    }
    fn step(&self) {
        self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn estimation_reports_a_step_per_segmentation() {
    let spec = common::root().join("pipelines/dementiemonitor.toml");
    let (plan, design, _) = common::plan_and_design(&spec, Some(2024));
    let recorder = Recorder::default();
    let table =
        estimate::all_with_progress(std::slice::from_ref(&design), &plan, &recorder).unwrap();
    assert!(!table.rows.is_empty());
    let total = recorder.total.into_inner();
    assert_eq!(total, plan.segmentations.len() as u64);
    assert!(total > 1);
    assert_eq!(recorder.done.into_inner(), total);
}

/// A wave's analysis frame keeps the columns the pipeline reads, and nothing else.
#[test]
fn the_analysis_frame_keeps_the_columns_the_pipeline_reads() {
    let plan = peiling::spec::compile(
        &common::root().join("pipelines/dementiemonitor.toml"),
        &Default::default(),
    )
    .unwrap();
    let columns = plan.analysis_columns();
    let expected = [
        // primary key, indicators (derived ones included), segmentations, raking margins
        "resp_id",
        "belasting",
        "ediz_som",
        "woonsituatie_naaste",
        "respijt_gebruik",
        "uren_pw",
        "zorgfrequentie",
        "werk",
        "combineren_problemen",
        "volhoudtijd",
        "provincie",
        "mz_geslacht",
        "mz_leeftijd_cat",
        "relatie",
    ];
    for name in expected {
        assert!(columns.contains(name), "{name} missing from {columns:?}");
    }
    // The items of the EDIZ score, the mode and the municipality are read by nothing after derive.
    for name in ["ediz_01", "ediz_09", "mode", "gemeente", "fase_dementie"] {
        assert!(!columns.contains(name), "{name} kept");
    }
}
