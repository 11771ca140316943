//! `[[model]]` as a researcher meets it: every mistake in a model stops the run with a message
//! naming the model and what is wrong, and writes nothing; a segment of `by` the model cannot
//! be fitted in is a warning and flagged rows; disclosure control hides small models and
//! levels. Agreement with R is `r_models`.

use crate::common;

use common::{in_scratch, read_parquet, run_in_scratch, sample_rows, MINIMAL_SPEC};

/// `MINIMAL_SPEC` with one model, `model` being its keys after `id` and `label`.
fn with_model(model: &str) -> String {
    format!(
        "{MINIMAL_SPEC}\n[[model]]\nid = \"m\"\nlabel = \"Overbelast\"\n{model}\n\n[disclosure]\nmin_n = 0\nmin_cell = 0\n"
    )
}

const LOGISTIC: &str = "family = \"logistic\"\noutcome = \"belasting >= 4\"\npopulation = \"belasting BETWEEN 1 AND 5\"";

/// Runs a spec that must fail; returns its stderr after checking exit 1 and that the message
/// names the model and `code`.
fn fails(spec: &str, code: &str) -> String {
    let (status, stderr) = run_in_scratch(spec, &[("data.csv", sample_rows(600))]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stderr.contains(code), "{code} expected:\n{stderr}");
    assert!(
        stderr.contains("model \"m\""),
        "the model is not named:\n{stderr}"
    );
    stderr
}

#[test]
fn an_unknown_term_is_named_with_its_line() {
    let stderr = fails(
        &with_model(&format!("{LOGISTIC}\nterms = [\"werk\", \"werkk\"]")),
        "S052",
    );
    insta::assert_snapshot!("model_unknown_term", stderr);
}

#[test]
fn an_id_that_cannot_name_a_file_is_refused() {
    let spec = with_model(&format!("{LOGISTIC}\nterms = [\"werk\"]"))
        .replace("id = \"m\"", "id = \"m/2024\"");
    let (status, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(50))]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("S058") && stderr.contains("m/2024"),
        "{stderr}"
    );
}

#[test]
fn a_logistic_outcome_that_is_not_0_or_1_is_named() {
    let stderr = fails(
        &with_model("family = \"logistic\"\noutcome = \"belasting\"\nterms = [\"werk\"]"),
        "E201",
    );
    insta::assert_snapshot!("model_outcome_not_binary", stderr);
}

#[test]
fn a_negative_poisson_outcome_and_a_text_outcome_are_named() {
    fails(
        &with_model("family = \"poisson\"\noutcome = \"uren_pw - 100\"\nterms = [\"werk\"]"),
        "E201",
    );
    fails(
        &with_model("family = \"linear\"\noutcome = \"'x'\"\nterms = [\"werk\"]"),
        "E201",
    );
}

#[test]
fn an_empty_domain_is_named() {
    let stderr = fails(
        &with_model(
            "family = \"linear\"\noutcome = \"uren_pw\"\npopulation = \"uren_pw > 1000\"\nterms = [\"werk\"]",
        ),
        "E202",
    );
    insta::assert_snapshot!("model_empty_domain", stderr);
}

#[test]
fn collinear_terms_are_named() {
    let spec = with_model("family = \"linear\"\noutcome = \"uren_pw\"\nterms = [\"mz_leeftijd\", \"leeftijd_maanden\"]")
        .replace(
            "[[indicator]]",
            "[[derive]]\nname = \"leeftijd_maanden\"\nexpr = \"12 * mz_leeftijd\"\n\n[[indicator]]",
        );
    let stderr = fails(&spec, "E204");
    assert!(stderr.contains("leeftijd_maanden"), "{stderr}");
}

#[test]
fn perfect_separation_is_named() {
    // The outcome is a term: fitted probabilities run to 0 and 1.
    let spec = with_model(&format!("{LOGISTIC}\nterms = [\"zwaar\"]")).replace(
        "[[indicator]]",
        "[[derive]]\nname = \"zwaar\"\nexpr = \"CASE WHEN belasting >= 4 THEN 1 ELSE 0 END\"\n\n[[indicator]]",
    );
    let (status, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(600))]);
    assert_eq!(status, 1, "{stderr}");
    assert!(
        stderr.contains("E205") || stderr.contains("E206"),
        "separation is E205 (or, where it never converges, E206):\n{stderr}"
    );
}

#[test]
fn a_fit_that_does_not_converge_is_named_with_its_iterations() {
    let stderr = fails(
        &with_model(&format!(
            "{LOGISTIC}\nterms = [\"werk\", \"uren_pw\"]\nmax_iterations = 2"
        )),
        "E206",
    );
    assert!(stderr.contains("2 iterations"), "{stderr}");
}

#[test]
fn a_term_with_one_level_or_an_absent_reference_is_named() {
    fails(
        &with_model(&format!("{LOGISTIC}\nterms = [\"werk\", \"uren_pw\"]")).replace(
            "population = \"belasting BETWEEN 1 AND 5\"",
            "population = \"werk = 3\"",
        ),
        "E203",
    );
    fails(
        &with_model(&format!(
            "{LOGISTIC}\nterms = [\"werk\"]\nreference = {{ werk = 99 }}"
        )),
        "E203",
    );
    fails(
        &with_model(&format!("{LOGISTIC}\nterms = [\"uren_pw:werk\"]")),
        "E203",
    );
}

#[test]
fn a_segment_the_model_cannot_be_fitted_in_is_a_warning_and_flagged() {
    // Per work status, `werk` has one level: no segment can be fitted.
    let spec = with_model(&format!(
        "{LOGISTIC}\nterms = [\"werk\", \"uren_pw\"]\nby = [\"werk\"]"
    ));
    let (dir, output) = in_scratch("run", &spec, &[("data.csv", sample_rows(600))]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let manifest = std::fs::read_to_string(dir.path().join("output/manifest.json")).unwrap();
    assert!(
        manifest.contains("E210"),
        "the warning is in the manifest: {manifest}"
    );
    let models = read_parquet(&dir.path().join("output/models.parquet"));
    let flags = models.column("flag").unwrap().str().unwrap();
    assert!(models.height() > 0);
    assert!(flags.iter().all(|f| f == Some("not_fitted")), "{models}");
    assert_eq!(
        models.column("estimate").unwrap().null_count(),
        models.height()
    );
}

#[test]
fn small_models_and_levels_are_suppressed() {
    let spec = with_model(&format!("{LOGISTIC}\nterms = [\"werk\", \"uren_pw\"]"));
    // Every level of `werk` but the largest has fewer than 150 of the 600 respondents here.
    let (dir, output) = in_scratch(
        "run",
        &spec.replace("min_n = 0", "min_n = 150"),
        &[("data.csv", sample_rows(600))],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let models = read_parquet(&dir.path().join("output/models.parquet"));
    let suppressed = models.column("suppressed").unwrap().bool().unwrap();
    let estimate = models.column("estimate").unwrap().f64().unwrap();
    let flag = models.column("flag").unwrap().str().unwrap();
    let term = models.column("term").unwrap().str().unwrap();
    assert!(suppressed.iter().any(|s| s == Some(true)), "{models}");
    for i in 0..models.height() {
        let hidden = suppressed.get(i) == Some(true);
        assert_eq!(hidden, estimate.get(i).is_none(), "{models}");
        if hidden {
            assert_eq!(flag.get(i), Some("n_below_min"));
            assert_eq!(term.get(i), Some("werk"), "only levels are small here");
        }
    }
    // A whole model below min_n: every number is hidden, n too.
    let (dir, output) = in_scratch(
        "run",
        &spec.replace("min_n = 0", "min_n = 100000"),
        &[("data.csv", sample_rows(600))],
    );
    assert!(output.status.success());
    let models = read_parquet(&dir.path().join("output/models.parquet"));
    for column in ["estimate", "std_error", "p_value", "n", "n_weighted"] {
        assert_eq!(
            models.column(column).unwrap().null_count(),
            models.height(),
            "{column}"
        );
    }
}

/// A logistic model on the regions of a raked design: R's prior weights there are some 50
/// times their mean, and from R's start the iteration runs off (R reports an intercept of
/// -3e15 as converged). The segments are named as diverged (E206), not as collinear terms.
#[test]
fn a_diverging_fit_is_named_as_such_not_as_collinear_terms() {
    let dir = common::root().join("sample-data/reference/api");
    let spec = std::fs::read_to_string(dir.join("gm-rake.toml"))
        .unwrap()
        .replace(
            "path = \"gezondheidsmonitor-2022.csv\"",
            &format!("path = {:?}", dir.join("gezondheidsmonitor-2022.csv")),
        )
        .replace(
            "schema = \"../../../schemas/",
            &format!("schema = \"{}/schemas/", common::root().display()),
        )
        .replace(
            "margins = \"margins-gm-rake.csv\"",
            &format!("margins = {:?}", dir.join("margins-gm-rake.csv")),
        )
        .replace(
            "[segments]",
            "[[model]]\nid = \"mz_by_region\"\nlabel = \"Geeft mantelzorg\"\nfamily = \"logistic\"\n\
             population = \"leeftijd_cat >= 2\"\noutcome = \"mantelzorger = 1\"\nterms = [\"geslacht\"]\n\
             by = [\"ggd_regio\"]\n\n[segments]",
        );
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("rake.toml");
    std::fs::write(&path, spec).unwrap();
    let (plan, design, _) = common::plan_and_design(&path, None);
    let table = peiling::estimate::model::all(&[design], &plan).unwrap();
    let ours: Vec<&String> = table
        .diagnostics
        .iter()
        .map(|d| &d.message)
        .filter(|m| m.contains("mz_by_region"))
        .collect();
    assert!(!ours.is_empty(), "no segment of mz_by_region failed");
    for message in ours {
        assert!(
            message.contains("(E206)") && message.contains("vanished"),
            "{message}"
        );
    }
}
