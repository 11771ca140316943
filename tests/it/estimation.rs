//! The estimation engine on data large enough to be cut into many chunks: results do not
//! depend on the number of threads, bit for bit.

use crate::common;

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
    let spec = generated_wave_with(dir.path(), 80_000, 5, SPEC);
    let (plan, design, _) = common::plan_and_design(&spec, None);
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

/// A generated Gezondheidsmonitor wave of `rows` rows with the `SPEC` pipeline, in `dir`.
fn generated_wave(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    generated_wave_with(dir, rows, 7, SPEC)
}

/// A generated Gezondheidsmonitor wave (`data.csv`, seed `seed`) with its schema and the
/// pipeline `spec`, in `dir`; the pipeline file's path.
fn generated_wave_with(
    dir: &std::path::Path,
    rows: usize,
    seed: u64,
    spec: &str,
) -> std::path::PathBuf {
    let options = Options {
        kind: Kind::Gezondheidsmonitor,
        rows,
        seed,
        wave: 2022,
        defects: false,
    };
    let file = std::fs::File::create(dir.join("data.csv")).unwrap();
    generate::write_csv(&options, std::io::BufWriter::new(file)).unwrap();
    std::fs::copy(
        common::root().join("schemas/gezondheidsmonitor.schema.toml"),
        dir.join("gezondheidsmonitor.schema.toml"),
    )
    .unwrap();
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    dir.join("spec.toml")
}

fn close(what: &str, ours: Option<f64>, expected: Option<f64>) -> Result<(), String> {
    match (ours, expected) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) if (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) => Ok(()),
        _ => Err(format!("{what}: {ours:?} vs {expected:?}")),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

    /// Multiplying every weight by a constant changes totals by that constant and nothing else:
    /// not the estimate, SE, interval, df or design effect of a mean, proportion, ratio or
    /// quantile, and not the published flags (`low_effective_n` follows from the deff).
    #[test]
    fn scaling_the_weights_changes_only_totals(exponent in -6.0f64..6.0) {
        static DESIGN: std::sync::OnceLock<(tempfile::TempDir, peiling::spec::Plan, peiling::weight::SurveyDesign)> =
            std::sync::OnceLock::new();
        let (_, plan, design) = DESIGN.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let spec = generated_wave(dir.path(), 4_000);
            let (plan, design, _) = common::plan_and_design(&spec, None);
            (dir, plan, design)
        });
        let scale = 10f64.powf(exponent);
        let mut scaled = design.clone();
        for w in scaled
            .weights
            .iter_mut()
            .chain(scaled.ordered_weights.iter_mut())
            .chain(scaled.uncalibrated.iter_mut().flatten())
        {
            *w *= scale;
        }
        let base = estimate::all(std::slice::from_ref(design), plan).unwrap();
        let other = estimate::all(std::slice::from_ref(&scaled), plan).unwrap();
        let published = |table: estimate::EstimateTable| {
            peiling::disclosure::apply(table, &plan.disclosure).rows
        };
        let (base_released, other_released) = (published(base.clone()), published(other.clone()));
        proptest::prop_assert_eq!(base.rows.len(), other.rows.len());
        let mut deffs = 0;
        for (a, b) in base.rows.iter().zip(&other.rows) {
            let by = if a.kind == peiling::spec::IndicatorKind::Total { scale } else { 1.0 };
            let times = |v: Option<f64>| v.map(|v| v * by);
            let at = format!("{} {} {}", a.indicator, a.segmentation, a.segment);
            for (what, ours, expected) in [
                ("estimate", b.estimate, times(a.estimate)),
                ("std_error", b.std_error, times(a.std_error)),
                ("ci_lower", b.ci_lower, times(a.ci_lower)),
                ("ci_upper", b.ci_upper, times(a.ci_upper)),
                ("df", b.df, a.df),
                ("deff", b.deff, a.deff),
                ("rse", b.rse, a.rse),
                ("n_weighted", Some(b.n_weighted), Some(a.n_weighted * scale)),
            ] {
                close(what, ours, expected).map_err(|e| {
                    proptest::test_runner::TestCaseError::fail(format!("{at}: {e}"))
                })?;
            }
            deffs += usize::from(a.deff.is_some());
            proptest::prop_assert_eq!(&a.flag, &b.flag, "{}", at);
        }
        proptest::prop_assert!(deffs > 100, "{} design effects", deffs);
        for (a, b) in base_released.iter().zip(&other_released) {
            proptest::prop_assert_eq!(&a.flag, &b.flag, "{} {} {}", a.indicator, a.segmentation, a.segment);
            proptest::prop_assert_eq!(a.suppressed, b.suppressed);
        }
    }
}

/// The estimates of a pipeline over `data.csv` in `dir`, by indicator, segmentation, segment.
fn estimates_of(
    spec: &std::path::Path,
) -> std::collections::BTreeMap<(String, String, String), estimate::EstimateRow> {
    let (plan, design, _) = common::plan_and_design(spec, None);
    estimate::all(std::slice::from_ref(&design), &plan)
        .unwrap()
        .rows
        .into_iter()
        .map(|r| {
            let key = (
                r.indicator.clone(),
                r.segmentation.clone(),
                r.segment.clone(),
            );
            (key, r)
        })
        .collect()
}

fn agree(a: &estimate::EstimateRow, b: &estimate::EstimateRow) -> Result<(), String> {
    let at = format!("{} {} {}", a.indicator, a.segmentation, a.segment);
    for (what, x, y) in [
        ("estimate", a.estimate, b.estimate),
        ("std_error", a.std_error, b.std_error),
        ("ci_lower", a.ci_lower, b.ci_lower),
        ("ci_upper", a.ci_upper, b.ci_upper),
        ("df", a.df, b.df),
        ("deff", a.deff, b.deff),
        ("n_weighted", Some(a.n_weighted), Some(b.n_weighted)),
    ] {
        close(what, x, y).map_err(|e| format!("{at}: {e}"))?;
    }
    if (a.n, &a.flag) != (b.n, &b.flag) {
        return Err(format!(
            "{at}: n or flag {:?} vs {:?}",
            (a.n, &a.flag),
            (b.n, &b.flag)
        ));
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 4, ..Default::default() })]

    /// The order of the rows in the file changes no estimate (beyond rounding).
    #[test]
    fn row_order_does_not_matter(seed in proptest::prelude::any::<u64>()) {
        use rand_core::{RngCore, SeedableRng};
        let dir = tempfile::tempdir().unwrap();
        let spec = generated_wave(dir.path(), 3_000);
        let base = estimates_of(&spec);
        let text = std::fs::read_to_string(dir.path().join("data.csv")).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for i in (2..lines.len()).rev() {
            let j = 1 + (rng.next_u64() % i as u64) as usize;
            lines.swap(i, j);
        }
        std::fs::write(dir.path().join("data.csv"), lines.join("\n") + "\n").unwrap();
        let shuffled = estimates_of(&spec);
        proptest::prop_assert_eq!(base.len(), shuffled.len());
        for (key, a) in &base {
            agree(a, &shuffled[key]).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }
}

/// The segments of a segmentation every row falls in add up to the total: counts, weighted
/// counts and totals.
#[test]
fn segment_totals_add_up_to_the_overall_total() {
    let dir = tempfile::tempdir().unwrap();
    let estimates = estimates_of(&generated_wave(dir.path(), 4_000));
    for indicator in ["uren_totaal", "mantelzorger"] {
        let total = &estimates[&(indicator.into(), "total".into(), "total".into())];
        let segments: Vec<_> = estimates
            .values()
            .filter(|r| r.indicator == indicator && r.segmentation == "gemeente")
            .collect();
        assert!(segments.len() > 20);
        assert_eq!(segments.iter().map(|r| r.n).sum::<i64>(), total.n);
        let weighted: f64 = segments.iter().map(|r| r.n_weighted).sum();
        close("n_weighted", Some(weighted), Some(total.n_weighted)).unwrap();
        if indicator == "uren_totaal" {
            let sum: f64 = segments.iter().filter_map(|r| r.estimate).sum();
            close("total", Some(sum), total.estimate).unwrap();
        }
    }
}

/// A segment is a domain of the full design, as R's `subset()`: the same estimate, SE and
/// interval as the indicator with the segment added to its population, over the whole design.
#[test]
fn a_segment_equals_its_domain_as_a_population() {
    let dir = tempfile::tempdir().unwrap();
    let spec = generated_wave(dir.path(), 4_000);
    let estimates = estimates_of(&spec);
    let segment = estimates
        .values()
        .filter(|r| r.indicator == "uren" && r.segmentation == "gemeente" && r.n >= 5)
        .max_by_key(|r| r.n)
        .unwrap()
        .clone();
    let text = std::fs::read_to_string(&spec).unwrap();
    let domain = text.replace(
        "population = \"mantelzorger = 1\"",
        &format!(
            "population = \"mantelzorger = 1 AND gemeente = '{}'\"",
            segment.segment
        ),
    );
    let domain =
        domain[..domain.find("[segments]").unwrap()].to_string() + "[segments]\ntotal = true\n";
    std::fs::write(dir.path().join("domain.toml"), domain).unwrap();
    let domains = estimates_of(&dir.path().join("domain.toml"));
    let mut compared = 0;
    for (key, row) in &estimates {
        if key.1 != "gemeente" || key.2 != segment.segment || key.0 == "mantelzorger" {
            continue;
        }
        let as_population = &domains[&(key.0.clone(), "total".into(), "total".into())];
        let renamed = estimate::EstimateRow {
            segmentation: "total".into(),
            segment: "total".into(),
            segment_label: as_population.segment_label.clone(),
            ..row.clone()
        };
        agree(&renamed, as_population).unwrap();
        compared += 1;
    }
    assert_eq!(
        compared, 4,
        "mean, total, ratio and quantile of the segment"
    );
}

/// Indicators are evaluated in slices of rows: the estimates are the same, bit for bit, in
/// any slices, for shares, means, totals, ratios and quantiles, values with few and with many
/// distinct numbers (`gewicht`), and an expression that reads every row (`AVG`), which is not
/// cut into slices.
#[test]
fn estimates_do_not_depend_on_the_slices_indicators_are_evaluated_in() {
    let more = r#"
[[indicator]]
id = "gewicht"
label = "Gewicht"
kind = "mean"
value = "gewicht"

[[indicator]]
id = "boven_gemiddeld"
label = "Meer uren dan gemiddeld"
kind = "proportion"
population = "mantelzorger = 1"
value = "uren_pw > AVG(uren_pw)"

[segments]"#;
    let dir = tempfile::tempdir().unwrap();
    let spec = SPEC.replacen("\n[segments]", more, 1);
    let spec = generated_wave_with(dir.path(), 12_000, 11, &spec);
    let (plan, design, _) = common::plan_and_design(&spec, None);
    let design = std::slice::from_ref(&design);
    let whole = estimate::all_in_slices(design, &plan, usize::MAX).unwrap();
    assert!(whole.rows.len() > 100, "{} rows", whole.rows.len());
    for slice_rows in [777, 4096] {
        let sliced = estimate::all_in_slices(design, &plan, slice_rows).unwrap();
        assert_eq!(sliced.rows.len(), whole.rows.len());
        for (a, b) in sliced.rows.iter().zip(&whole.rows) {
            assert_eq!(
                format!("{a:?}"),
                format!("{b:?}"),
                "slices of {slice_rows} rows"
            );
        }
    }
    // The default is one of them.
    let default = estimate::all(design, &plan).unwrap();
    assert_eq!(format!("{:?}", default.rows), format!("{:?}", whole.rows));
}

/// An indicator that reads no column (`value = "1"`) holds for every row, also when it is the
/// only one (polars then evaluates it to a single value): its total is the sum of the weights.
#[test]
fn a_constant_indicator_holds_for_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let (head, _) = SPEC.split_once("[[indicator]]").unwrap();
    let (_, segments) = SPEC.split_once("[segments]").unwrap();
    let spec = format!(
        "{head}[[indicator]]\nid = \"een\"\nlabel = \"Een\"\nkind = \"total\"\nvalue = \"1\"\n\n[segments]{segments}"
    );
    let spec = generated_wave_with(dir.path(), 3_000, 3, &spec);
    let (plan, design, accepted) = common::plan_and_design(&spec, None);
    let sum: f64 = design.weights.iter().sum();
    for slice_rows in [usize::MAX, 1_000] {
        let table = estimate::all_in_slices(std::slice::from_ref(&design), &plan, slice_rows)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let total = table
            .rows
            .iter()
            .find(|r| r.segmentation == "total")
            .unwrap();
        assert_eq!(total.n as usize, accepted, "slices of {slice_rows} rows");
        let estimate = total.estimate.unwrap();
        assert!((estimate - sum).abs() <= 1e-9 * sum, "{estimate} vs {sum}");
    }
}
