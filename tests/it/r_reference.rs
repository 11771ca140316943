//! The estimation engine against R `survey` 4.5 on R's own `api` data and a synthetic
//! Gezondheidsmonitor wave: every design feature (weights, strata, clusters, fpc), estimator
//! (proportion, mean, total, ratio, quantile), interval method (logit, wilson, korn-graubard,
//! wald, t, Woodruff) and lonely-PSU policy (remove, certainty, adjust, average, with and without
//! `adjust_domain_lonely`), including empty and single-row domains and proportions of 0 and 1,
//! to 1e-9 relative; and calibrated designs (post-stratification, raking, linear calibration,
//! trimming), whose weights agree with R's to 1e-8. Reference values and the R script that made them:
//! `sample-data/reference/api/`.

use crate::common;

use std::collections::{BTreeSet, HashMap};

use common::{
    difference, difference_above, number, peiling_estimates, plan_and_design, read_reference, text,
};
use peiling::estimate::EstimateRow;

const DIR: &str = "sample-data/reference/api";

const DESIGNS: [&str; 25] = [
    "srs",
    "srs-nofpc",
    "strat",
    "strat-nofpc",
    "clus1",
    "clus1-nofpc",
    "county-remove",
    "county-certainty",
    "county-adjust",
    "county-adjust-domain",
    "county-average",
    "county-average-domain",
    "gm-remove",
    "gm-adjust-domain",
    "gm-average-domain",
    "clus1-poststratify",
    "clus1-rake",
    "clus1-linear",
    "strat-linear-trim",
    "gm-rake",
    "strat-const",
    "clus1-fpc-noweight",
    "strat-fpc-noweight",
    "strat-fraction-noweight",
    "strat-rake-shares",
];

/// Designs with `[weighting]`, whose calibrated weights R wrote to `weights.csv`.
const CALIBRATED: [&str; 6] = [
    "clus1-poststratify",
    "clus1-rake",
    "clus1-linear",
    "strat-linear-trim",
    "gm-rake",
    "strat-rake-shares",
];

type Key = (String, String, String);

fn estimates(design: &str) -> HashMap<Key, EstimateRow> {
    let (rows, _) = peiling_estimates(&format!("{DIR}/{design}.toml"), None);
    rows.into_iter()
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
        .collect()
}

fn flag(text: String) -> Option<String> {
    (!text.is_empty() && text != "NA").then_some(text)
}

#[test]
fn every_design_estimator_and_interval_matches_r_survey() {
    let reference = read_reference(&format!("{DIR}/reference.csv"));
    let mut checked = 0;
    let mut problems = Vec::new();
    for design in DESIGNS {
        let ours = estimates(design);
        let mut seen = BTreeSet::new();
        for i in 0..reference.height() {
            if text(&reference, "design", i) != design {
                continue;
            }
            let key = (
                text(&reference, "indicator", i),
                text(&reference, "segmentation", i),
                text(&reference, "segment", i),
            );
            let row = ours
                .get(&key)
                .unwrap_or_else(|| panic!("{design}: peiling has no estimate for {key:?}"));
            seen.insert(key.clone());
            let what = |column: &str| format!("{design} {key:?} {column}");
            let mut same = |column: &str, ours: String, r: String| {
                if ours != r {
                    problems.push(format!("{}: peiling {ours} vs R {r}", what(column)));
                }
            };
            same("n", row.n.to_string(), text(&reference, "n", i));
            same(
                "ci_method",
                row.ci_method.clone(),
                text(&reference, "ci_method", i),
            );
            same(
                "flag",
                format!("{:?}", row.flag),
                format!("{:?}", flag(text(&reference, "flag", i))),
            );
            // An SE of 0 is 0 up to the rounding of the estimate (R: 1e-13 for 700 ± 0).
            let floor = number(&reference, "estimate", i).map_or(0.0, |e| 1e-12 * e.abs());
            problems.extend(difference_above(
                &what("std_error"),
                row.std_error,
                number(&reference, "std_error", i),
                floor,
            ));
            for (column, value) in [
                ("estimate", row.estimate),
                ("ci_lower", row.ci_lower),
                ("ci_upper", row.ci_upper),
                ("df", row.df),
                ("deff", row.deff),
            ] {
                problems.extend(difference(
                    &what(column),
                    value,
                    number(&reference, column, i),
                ));
            }
            checked += 1;
        }
        assert_eq!(
            seen.len(),
            ours.len(),
            "{design}: peiling has domains the reference does not"
        );
    }
    assert!(
        problems.is_empty(),
        "{} differences from R, the first ones:\n{}",
        problems.len(),
        problems[..problems.len().min(400)].join("\n")
    );
    assert!(checked > 5000, "only {checked} reference rows checked");
}

/// The values Lumley (2010) and the survey documentation print for the api designs.
#[test]
fn published_api_values() {
    let rounded = |x: f64, digits: i32| (x * 10f64.powi(digits)).round() / 10f64.powi(digits);
    let total = |design: &str, indicator: &str| {
        let key = (
            indicator.to_string(),
            "total".to_string(),
            "total".to_string(),
        );
        estimates(design).remove(&key).unwrap()
    };
    let mean = total("strat", "api00_mean");
    assert_eq!(rounded(mean.estimate.unwrap(), 2), 662.29);
    assert_eq!(rounded(mean.std_error.unwrap(), 4), 9.4089);
    let enrolment = total("strat", "enroll_total");
    assert_eq!(enrolment.estimate.unwrap().round(), 3_687_178.0);
    assert_eq!(enrolment.std_error.unwrap().round(), 114_642.0);
    let clustered = total("clus1", "api00_mean");
    assert_eq!(rounded(clustered.estimate.unwrap(), 2), 644.17);
    assert_eq!(rounded(clustered.std_error.unwrap(), 3), 23.542);
}

/// Calibrated weights, respondent by respondent, against R's `weights(design)`.
#[test]
fn calibrated_weights_match_r() {
    let reference = read_reference(&format!("{DIR}/weights.csv"));
    for design in CALIBRATED {
        let (plan, ours, _) =
            plan_and_design(&common::root().join(format!("{DIR}/{design}.toml")), None);
        let id = &plan.schema.primary_key[0];
        let ids = ours
            .data
            .coded
            .column(id)
            .unwrap()
            .cast(&polars::prelude::DataType::String)
            .unwrap();
        let ids = ids.str().unwrap();
        let r: HashMap<String, f64> = (0..reference.height())
            .filter(|&i| text(&reference, "design", i) == design)
            .map(|i| {
                (
                    text(&reference, "id", i),
                    number(&reference, "weight", i).unwrap(),
                )
            })
            .collect();
        assert_eq!(r.len(), ours.rows(), "{design}: respondents");
        for (i, &w) in ours.weights.iter().enumerate() {
            let key = ids.get(i).unwrap();
            let expected = r[key];
            assert!(
                ((w - expected) / expected).abs() <= 1e-8,
                "{design} {key}: weight {w} against R's {expected}"
            );
        }
        let report = ours.calibration.as_ref().unwrap();
        assert!(
            report.report.max_residual <= 1e-9 || design.contains("trim"),
            "{design}: {:?}",
            report.report.max_residual
        );
    }
}

/// R's printed examples for calibrated api designs (`?postStratify`, `?rake`), as
/// `print(svymean(~api00, design))` shows them. peiling's raking SE is
/// `calibrate(calfun = "raking")`'s (23.7036169 in full); `rake()` approximates the same
/// projection by ten backfitting sweeps (23.7036412).
#[test]
fn published_calibrated_api_values() {
    for (design, mean, se) in [
        ("clus1-poststratify", 642.31, 23.921),
        ("clus1-rake", 641.23, 23.704),
    ] {
        let key = (
            "api00_mean".to_string(),
            "total".to_string(),
            "total".to_string(),
        );
        let row = estimates(design).remove(&key).unwrap();
        assert!(
            (row.estimate.unwrap() - mean).abs() < 0.005,
            "{design}: {row:?}"
        );
        assert!(
            (row.std_error.unwrap() - se).abs() < 0.001,
            "{design}: {row:?}"
        );
    }
}

/// The suites above take the path of `peiling run` (`peiling::prepare`), and on it every
/// reference input is read by the streaming CSV pass, as a real CSV run's is.
#[test]
fn reference_inputs_take_the_streaming_csv_pass() {
    let parity = [
        "pipelines/dementiemonitor.toml",
        "pipelines/dementiemonitor-gewogen.toml",
    ];
    let designs = DESIGNS.iter().map(|d| format!("{DIR}/{d}.toml"));
    for spec in parity.iter().map(|s| s.to_string()).chain(designs) {
        let plan = peiling::spec::compile(
            &common::root().join(&spec),
            &peiling::spec::Overrides::default(),
        )
        .unwrap();
        for input in &plan.inputs {
            let parsed = peiling::validate::stream::read(input, &plan.schema).unwrap();
            assert!(
                parsed.is_some(),
                "{spec}: {} is not read by the streaming pass",
                input.path.display()
            );
        }
    }
}
