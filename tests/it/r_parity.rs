//! peiling against R `survey` on the 2024 sample wave: every indicator × segment, unweighted,
//! weighted with strata, and raked to the sample margins, to 1e-9 relative. The reference values and the R script that made them
//! are in `sample-data/reference/`.

use crate::common;

use std::collections::HashMap;

use common::{assert_close, number, peiling_estimates_with, read_reference, text};
use peiling::estimate::EstimateRow;
use peiling::spec::Plan;

fn compare(spec_file: &str, reference: &str, adjust: impl FnOnce(&mut Plan)) {
    // The age-standardised indicator (`overbelast_std`) is `r_standardize`'s: on a domain of a
    // raked design R's svystandardize fails or post-stratifies rows of weight 0
    // (docs/statistics.md, the table of differences).
    let (ours, accepted) = peiling_estimates_with(spec_file, Some(2024), |plan| {
        plan.indicators.retain(|i| i.standardize.is_none());
        adjust(plan)
    });
    let meta = read_reference("sample-data/reference/dementiemonitor-2024-meta.csv");
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
    let r = read_reference(&format!("sample-data/reference/{reference}"));
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
        |plan| plan.weighting = None,
    );
}

#[test]
fn raked_design_matches_r_survey() {
    compare(
        "pipelines/dementiemonitor.toml",
        "dementiemonitor-2024-raked.csv",
        |plan| assert!(plan.weighting.is_some()),
    );
}

#[test]
fn weighted_stratified_design_matches_r_survey() {
    compare(
        "pipelines/dementiemonitor-gewogen.toml",
        "dementiemonitor-2024-weighted.csv",
        |_| (),
    );
}
