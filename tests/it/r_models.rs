//! Design-based regression models against R `survey` 4.5's `svyglm`: linear, logistic and
//! poisson models on designs with strata, PSUs and fpc together, with lonely PSUs (remove,
//! adjust, average, and lonely within a domain), calibrated (raked) designs, a domain
//! (`population`) and per segment (`by`), fitted on cells where the terms allow, with
//! numeric and categorical terms, a chosen reference level and interactions (numeric ×
//! categorical, categorical × categorical). Coefficients, SEs, t statistics, p-values, df,
//! intervals and the rows and weights used agree to 1e-9 relative. Reference values and the R
//! script that made them: `sample-data/reference/api/models.R`, `models.csv`.

use crate::common;

use std::collections::BTreeSet;

use common::{difference, number, plan_and_design, read_reference, root, text};
use peiling::estimate::model::{self, ModelRow};

const DIR: &str = "sample-data/reference/api";

/// The designs with `[[model]]`s that models.R fits.
const DESIGNS: [&str; 10] = [
    "strat",
    "clus1",
    "strat-clus-fpc",
    "county-adjust",
    "county-average",
    "clus1-rake",
    "gm-remove",
    "gm-rake",
    "gm-adjust-domain",
    "gm-average-domain",
];

fn models(design: &str) -> Vec<ModelRow> {
    let (plan, design, _) = plan_and_design(&root().join(format!("{DIR}/{design}.toml")), None);
    model::all(&[design], &plan).unwrap().rows
}

#[test]
fn every_model_coefficient_matches_r_svyglm() {
    let reference = read_reference(&format!("{DIR}/models.csv"));
    let mut problems = Vec::new();
    let mut checked = 0;
    for design in DESIGNS {
        let ours = models(design);
        let mut seen = BTreeSet::new();
        for i in 0..reference.height() {
            if text(&reference, "design", i) != design {
                continue;
            }
            let key = (
                text(&reference, "model", i),
                text(&reference, "segment", i),
                text(&reference, "coefficient", i),
            );
            let Some(row) = ours
                .iter()
                .find(|r| (&r.model, &r.segment, &r.coefficient) == (&key.0, &key.1, &key.2))
            else {
                problems.push(format!("{design}: peiling has no coefficient {key:?}"));
                continue;
            };
            seen.insert(key.clone());
            let what = |column: &str| format!("{design} {key:?} {column}");
            for (column, value) in [
                ("estimate", row.estimate),
                ("std_error", row.std_error),
                ("statistic", row.statistic),
                ("p_value", row.p_value),
                ("df", row.df),
                ("ci_lower", row.ci_lower),
                ("ci_upper", row.ci_upper),
                ("n", Some(row.n as f64)),
                ("n_weighted", Some(row.n_weighted)),
            ] {
                problems.extend(difference(
                    &what(column),
                    value,
                    number(&reference, column, i),
                ));
            }
            assert_eq!(row.flag, None, "{}", what("flag"));
            checked += 1;
        }
        let extra: Vec<_> = ours
            .iter()
            .map(|r| (r.model.clone(), r.segment.clone(), r.coefficient.clone()))
            .filter(|k| !seen.contains(k))
            .collect();
        assert!(
            extra.is_empty(),
            "{design}: peiling has coefficients R has not: {extra:?}"
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(checked >= 300, "only {checked} coefficients checked");
}
