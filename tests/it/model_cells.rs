//! Models whose terms are all categorical are fitted on the cells of their level combinations
//! (`model::Fitting::Cells`); they must give what the row-by-row fit gives (which `r_models`
//! holds to R), under every lonely-PSU rule, with and without strata, fpc, a domain, `by` and a
//! chosen reference level, for the three families.

use crate::common;

use common::{difference, plan_and_design, root};
use peiling::estimate::model::{self, Fitting, ModelRow};

const DIR: &str = "sample-data/reference/api";

/// The Gezondheidsmonitor-like wave (6,000 rows, strata = 289 municipalities, several with one
/// respondent) under the design `design`, with the all-categorical models below.
fn gm_spec(design: &str) -> String {
    let dir = root().join(DIR);
    format!(
        r#"[pipeline]
name = "cells"

[[input]]
wave = 2022
path = "{data}"
schema = "{schema}"
delimiter = ";"
decimal = ","

[design]
weight = "gewicht"
{design}

[[indicator]]
id = "mantelzorger"
label = "Geeft mantelzorg"
kind = "proportion"
value = "mantelzorger = 1"

[[model]]
id = "mz_interaction"
label = "Geeft mantelzorg, naar geslacht en leeftijd"
family = "logistic"
outcome = "mantelzorger = 1"
terms = ["geslacht", "leeftijd_cat", "geslacht:leeftijd_cat"]

[[model]]
id = "mz_by_region"
label = "Geeft mantelzorg (35 jaar en ouder), per regio"
family = "logistic"
population = "leeftijd_cat >= 2"
outcome = "mantelzorger = 1"
terms = ["geslacht"]
by = ["ggd_regio"]

[[model]]
id = "burden_linear"
label = "Belasting"
family = "linear"
population = "mantelzorger = 1"
outcome = "belasting"
terms = ["leeftijd_cat", "geslacht"]
reference = {{ leeftijd_cat = 3 }}

[[model]]
id = "burden_poisson"
label = "Belasting, per provincie"
family = "poisson"
outcome = "belasting"
terms = ["geslacht"]
by = ["provincie"]
"#,
        data = dir.join("gezondheidsmonitor-2022.csv").display(),
        schema = root()
            .join("schemas/gezondheidsmonitor.schema.toml")
            .display(),
    )
}

/// apistrat (strata = school type, fpc, every PSU one school) with categorical models.
fn strat_spec() -> String {
    let dir = root().join(DIR);
    format!(
        r#"[pipeline]
name = "cells-strat"

[[input]]
wave = 2000
path = "{data}"
schema = "{schema}"
delimiter = ","
decimal = "."

[design]
weight = "pw"
strata = "stype"
fpc = "fpc"
lonely_psu = "fail"

[[indicator]]
id = "api00_mean"
label = "API 2000, mean"
kind = "mean"
value = "api00"

[[model]]
id = "api_high"
label = "API of 700 or more"
family = "logistic"
outcome = "api00 >= 700"
terms = ["stype", "awards", "stype:awards"]

[[model]]
id = "api_high_linear"
label = "API of 700 or more, per school type"
family = "linear"
outcome = "api00 >= 700"
terms = ["awards"]
population = "api99 >= 500"
by = ["stype"]
"#,
        data = dir.join("apistrat.csv").display(),
        schema = dir.join("api.schema.toml").display(),
    )
}

/// The model rows of `spec` fitted as `fitting`.
fn fitted(spec: &str, fitting: Fitting) -> Result<Vec<ModelRow>, String> {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("cells.toml");
    std::fs::write(&path, spec).unwrap();
    let (plan, design, _) = plan_and_design(&path, None);
    model::all_with(&[design], &plan, fitting)
        .map(|table| table.rows)
        .map_err(|e| format!("{e:?}"))
}

/// Every coefficient of the two fits, compared; at least `minimum` have a standard error.
fn assert_cells_agree_with_rows(what: &str, spec: &str, minimum: usize) {
    let cells = fitted(spec, Fitting::Cells).unwrap_or_else(|e| panic!("{what}: {e}"));
    let rows = fitted(spec, Fitting::Rows).unwrap();
    assert_eq!(cells.len(), rows.len(), "{what}");
    let mut problems = Vec::new();
    for (c, r) in cells.iter().zip(&rows) {
        let key = format!("{what} {} {} {}", c.model, c.segment, c.coefficient);
        assert_eq!(
            (&c.model, &c.segment, &c.coefficient, &c.level, &c.flag),
            (&r.model, &r.segment, &r.coefficient, &r.level, &r.flag),
            "{key}"
        );
        assert_eq!(
            (c.n, c.n_level, c.events, c.events_level, c.iterations),
            (r.n, r.n_level, r.events, r.events_level, r.iterations),
            "{key}"
        );
        for (column, ours, theirs) in [
            ("estimate", c.estimate, r.estimate),
            ("std_error", c.std_error, r.std_error),
            ("statistic", c.statistic, r.statistic),
            ("p_value", c.p_value, r.p_value),
            ("df", c.df, r.df),
            ("ci_lower", c.ci_lower, r.ci_lower),
            ("ci_upper", c.ci_upper, r.ci_upper),
            ("n_weighted", Some(c.n_weighted), Some(r.n_weighted)),
        ] {
            problems.extend(difference(&format!("{key} {column}"), ours, theirs));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        cells.iter().filter(|r| r.std_error.is_some()).count() >= minimum,
        "{what}: too few coefficients with a standard error"
    );
}

#[test]
fn cells_agree_with_rows_under_every_lonely_psu_rule() {
    for design in [
        "strata = \"gemeente\"\nlonely_psu = \"remove\"",
        "strata = \"gemeente\"\nlonely_psu = \"certainty\"",
        "strata = \"gemeente\"\nlonely_psu = \"adjust\"",
        "strata = \"gemeente\"\nlonely_psu = \"adjust\"\nadjust_domain_lonely = true",
        "strata = \"gemeente\"\nlonely_psu = \"average\"\nadjust_domain_lonely = true",
        "strata = \"provincie\"\nlonely_psu = \"fail\"",
        "",
    ] {
        assert_cells_agree_with_rows(design, &gm_spec(design), 50);
    }
}

#[test]
fn cells_agree_with_rows_with_fpc_a_domain_and_by() {
    assert_cells_agree_with_rows("apistrat", &strat_spec(), 12);
}

#[test]
fn a_numeric_term_is_fitted_by_rows() {
    let spec = gm_spec("strata = \"gemeente\"\nlonely_psu = \"remove\"").replace(
        "terms = [\"geslacht\"]\nby = [\"provincie\"]",
        "terms = [\"geslacht\", \"uren_pw\"]\nby = [\"provincie\"]",
    );
    assert!(fitted(&spec, Fitting::Cells)
        .unwrap_err()
        .contains("cannot be fitted on cells"));
    assert!(fitted(&spec, Fitting::Auto).is_ok());
}
