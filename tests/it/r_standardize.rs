//! Direct standardisation against R `survey` 4.5's `svystandardize`: standardised means and
//! proportions (logit intervals) in every segment, with and without a domain, on stratified,
//! clustered, lonely-PSU and calibrated (raked) designs, with segments missing a category of
//! the standard. Estimates, SEs, intervals, df and n agree to 1e-9 relative. Reference values
//! and the R script that made them: `sample-data/reference/api/standardize.R`,
//! `standardize.csv`; the pipelines `std-<design>.toml`.

use crate::common;

use std::collections::HashMap;

use common::{difference_above, number, peiling_estimates, read_reference, text};

const DIR: &str = "sample-data/reference/api";

const DESIGNS: [&str; 5] = ["strat", "clus1", "county-adjust", "gm-remove", "gm-rake"];

#[test]
fn every_standardized_estimate_matches_r_svystandardize() {
    let reference = read_reference(&format!("{DIR}/standardize.csv"));
    let mut problems = Vec::new();
    let mut checked = 0;
    for design in DESIGNS {
        let (rows, _) = peiling_estimates(&format!("{DIR}/std-{design}.toml"), None);
        let ours: HashMap<(String, String, String), _> = rows
            .into_iter()
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
        for i in 0..reference.height() {
            if text(&reference, "design", i) != design {
                continue;
            }
            // peiling publishes indicator `x` standardised as `x_std`.
            let key = (
                format!("{}_std", text(&reference, "indicator", i)),
                text(&reference, "segmentation", i),
                text(&reference, "segment", i),
            );
            let Some(row) = ours.get(&key) else {
                problems.push(format!("{design}: peiling has no estimate {key:?}"));
                continue;
            };
            let what = |column: &str| format!("{design} {key:?} {column}");
            // An SE of 0 is 0 up to the rounding of the estimate (R: 9e-16 where peiling 5e-16).
            let floor = number(&reference, "estimate", i).map_or(0.0, |e| 1e-12 * e.abs());
            for (column, value) in [
                ("estimate", row.estimate),
                ("std_error", row.std_error),
                ("ci_lower", row.ci_lower),
                ("ci_upper", row.ci_upper),
                ("df", row.df),
                ("n", Some(row.n as f64)),
            ] {
                problems.extend(difference_above(
                    &what(column),
                    value,
                    number(&reference, column, i),
                    if column == "std_error" { floor } else { 0.0 },
                ));
            }
            let partial = text(&reference, "partial", i) == "TRUE";
            let flagged = row
                .flag
                .as_deref()
                .is_some_and(|f| f.split(';').any(|f| f == "standardized_partial"));
            if partial != flagged {
                problems.push(format!(
                    "{}: R partial {partial}, flag {:?}",
                    what("flag"),
                    row.flag
                ));
            }
            checked += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 140, "only {checked} estimates checked");
}
