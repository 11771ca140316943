//! peiling against R `survey` on the 2024 sample wave: every indicator × segment, unweighted and
//! weighted with strata, to 1e-9 relative. The reference values and the R script that made them
//! are in `sample-data/reference/`.

mod common;

use std::collections::HashMap;

use common::root;
use peiling::estimate::EstimateRow;
use peiling::spec::{self, Overrides};
use peiling::{derive, estimate, ingest, schema, weight};
use polars::prelude::*;

const TOLERANCE: f64 = 1e-9;

/// The unpublished estimates of one wave of a pipeline, and the number of accepted rows.
fn peiling_estimates(spec_file: &str, wave: i32) -> (Vec<EstimateRow>, usize) {
    let mut plan = spec::compile(&root().join(spec_file), &Overrides::default()).unwrap();
    plan.inputs.retain(|input| input.wave == wave);
    let raw = ingest::read(&plan.inputs[0]).unwrap();
    let (valid, _) = schema::validate(&raw, &plan.schema).unwrap();
    let accepted = valid.report.rows_accepted;
    let derived = derive::apply(valid, &plan.derive).unwrap();
    let design = weight::apply(derived, &plan.design, &plan.schema).unwrap();
    (estimate::all(&[design], &plan).unwrap().rows, accepted)
}

fn read_reference(name: &str) -> DataFrame {
    let path = root().join("sample-data/reference").join(name);
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path))
        .unwrap()
        .finish()
        .unwrap()
}

fn text(frame: &DataFrame, column: &str, row: usize) -> String {
    frame
        .column(column)
        .unwrap()
        .str()
        .unwrap()
        .get(row)
        .unwrap_or("NA")
        .to_string()
}

/// R writes non-finite values (an interval R cannot give, `deff` of unscaled weights) as NA.
fn number(frame: &DataFrame, column: &str, row: usize) -> Option<f64> {
    text(frame, column, row).parse::<f64>().ok()
}

fn assert_close(what: &str, ours: Option<f64>, r: Option<f64>) {
    match (ours, r) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            let scale = a.abs().max(b.abs());
            assert!(
                (a - b).abs() <= TOLERANCE * scale || (a - b).abs() < 1e-14,
                "{what}: peiling {a:.17e} vs R {b:.17e}"
            );
        }
        _ => panic!("{what}: peiling {ours:?} vs R {r:?}"),
    }
}

fn compare(spec_file: &str, reference: &str) {
    let (ours, accepted) = peiling_estimates(spec_file, 2024);
    let meta = read_reference("dementiemonitor-2024-meta.csv");
    assert_eq!(
        accepted.to_string(),
        text(&meta, "rows_accepted", 0),
        "accepted rows differ from the R cleaning"
    );

    let by_key: HashMap<(String, String, String), &EstimateRow> = ours
        .iter()
        .map(|r| {
            (
                (
                    r.indicator.clone(),
                    r.segmentation.clone(),
                    r.segment.clone(),
                ),
                r,
            )
        })
        .collect();
    let r = read_reference(reference);
    assert!(r.height() > 300, "reference has only {} rows", r.height());
    for i in 0..r.height() {
        let key = (
            text(&r, "indicator", i),
            text(&r, "segmentation", i),
            text(&r, "segment", i),
        );
        let row = by_key
            .get(&key)
            .unwrap_or_else(|| panic!("peiling has no estimate for {key:?}"));
        let what = |column: &str| format!("{reference} {key:?} {column}");
        assert_eq!(
            row.ci_method,
            text(&r, "ci_method", i),
            "{}",
            what("ci_method")
        );
        assert_eq!(row.n.to_string(), text(&r, "n", i), "{}", what("n"));
        assert_close(&what("estimate"), row.estimate, number(&r, "estimate", i));
        assert_close(
            &what("std_error"),
            row.std_error,
            number(&r, "std_error", i),
        );
        assert_close(&what("ci_lower"), row.ci_lower, number(&r, "ci_lower", i));
        assert_close(&what("ci_upper"), row.ci_upper, number(&r, "ci_upper", i));
        assert_close(&what("df"), row.df, number(&r, "df", i));
        assert_close(
            &what("n_weighted"),
            Some(row.n_weighted),
            number(&r, "n_weighted", i),
        );
        assert_close(&what("deff"), row.deff, number(&r, "deff", i));
    }
    // Every non-empty domain of peiling is in the reference, and the empty ones are flagged.
    let non_empty = ours.iter().filter(|row| row.n > 0).count();
    assert_eq!(non_empty, r.height(), "peiling has domains R does not");
    for row in ours.iter().filter(|row| row.n == 0) {
        assert_eq!(
            (row.estimate, row.flag.as_deref()),
            (None, Some("empty_domain"))
        );
    }
}

#[test]
fn unweighted_design_matches_r_survey() {
    compare(
        "pipelines/dementiemonitor.toml",
        "dementiemonitor-2024-unweighted.csv",
    );
}

#[test]
fn weighted_stratified_design_matches_r_survey() {
    compare(
        "pipelines/dementiemonitor-gewogen.toml",
        "dementiemonitor-2024-weighted.csv",
    );
}
