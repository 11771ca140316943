//! The `peiling` binary end to end on the committed sample waves.

use crate::common;

use std::path::Path;

use common::{peiling, read_parquet, root, run_in_scratch, sample_rows, MINIMAL_SPEC};
use peiling::output::parquet::ESTIMATE_COLUMNS;

fn run_sample(out: &Path, threads: &str) {
    peiling()
        .current_dir(root())
        .args([
            "run",
            "pipelines/dementiemonitor.toml",
            "--quiet",
            "--threads",
            threads,
            "--out",
        ])
        .arg(out)
        .assert()
        .success();
}

#[test]
fn the_sample_pipeline_writes_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let assert = peiling()
        .current_dir(root())
        .args(["run", "pipelines/dementiemonitor.toml", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(stdout.contains("wave 2024: 9600 rows read"), "{stdout}");
    assert!(stdout.contains("10 indicators"), "{stdout}");
    assert!(stdout.contains("1 model(s), 42 coefficients"), "{stdout}");
    // Carers of sex 3 are outside the sex x age margin: said, not hidden.
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(
        stderr.contains("warning[W013]: wave 2024: 40 respondents are in no category of margin mz_geslacht*mz_leeftijd_cat"),
        "{stderr}"
    );

    for file in [
        "estimates.parquet",
        "manifest.json",
        "weights.json",
        "report.html",
        "private/respondents.parquet",
        "private/rejects.parquet",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let charts: Vec<_> = std::fs::read_dir(out.join("charts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let png = charts
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .expect("a PNG chart");
    assert!(std::fs::read(png)
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(charts
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "svg")));
    // No half-written staging folder is left next to the output.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["out"]);

    let estimates = read_parquet(&out.join("estimates.parquet"));
    let names: Vec<String> = estimates
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(names, ESTIMATE_COLUMNS);
    assert_eq!(
        estimates.column("wave").unwrap().dtype(),
        &polars::prelude::DataType::Int32
    );

    // Rows are sorted by indicator, segmentation, segment.
    let key = |i: usize| {
        ["indicator", "segmentation", "segment"].map(|c| {
            estimates
                .column(c)
                .unwrap()
                .str()
                .unwrap()
                .get(i)
                .unwrap()
                .to_string()
        })
    };
    for i in 1..estimates.height() {
        assert!(key(i - 1) <= key(i), "rows {} and {i} out of order", i - 1);
    }

    // Disclosure: nothing published below min_n but empty domains, which publish no estimate;
    // suppressed rows carry no numbers.
    let n = estimates.column("n").unwrap().i64().unwrap();
    let suppressed = estimates.column("suppressed").unwrap().bool().unwrap();
    let estimate = estimates.column("estimate").unwrap().f64().unwrap();
    let flag = estimates.column("flag").unwrap().str().unwrap();
    let mut empty = 0;
    for i in 0..estimates.height() {
        match (suppressed.get(i).unwrap(), n.get(i).unwrap_or(-1)) {
            (true, _) => assert_eq!((n.get(i), estimate.get(i)), (None, None)),
            (false, 0) => {
                assert_eq!((estimate.get(i), flag.get(i)), (None, Some("empty_domain")));
                empty += 1;
            }
            (false, n) => assert!(n >= 30),
        }
    }
    assert!(
        empty > 0,
        "the sample has domains outside an indicator's population"
    );
    assert!(
        suppressed.iter().any(|s| s == Some(true)),
        "the crossed segments should need suppression"
    );

    // Headline figure of 2024 is in the published range (synthetic data tuned to ~13%).
    let total_2024 = (0..estimates.height()).find(|&i| {
        key(i)
            == [
                "overbelast".to_string(),
                "total".to_string(),
                "total".to_string(),
            ]
            && estimates.column("wave").unwrap().i32().unwrap().get(i) == Some(2024)
    });
    let overbelast = estimate.get(total_2024.unwrap()).unwrap();
    assert!(
        (0.10..0.16).contains(&overbelast),
        "overbelast 2024 = {overbelast}"
    );

    // The waves are raked: weights.json shows converged margins, the respondents file carries
    // both weights, and the report shows the weighting.
    let weights: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("weights.json")).unwrap()).unwrap();
    let waves = weights["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 3);
    assert!(
        waves[0]["calibration"]["margins"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["sample_rows"].is_null()),
        "the 2020 wave has sex x age cells of fewer than 30 carers"
    );
    for wave in waves {
        let calibration = &wave["calibration"];
        assert_eq!(calibration["method"], "rake", "{wave}");
        assert!(
            calibration["max_residual"].as_f64().unwrap() <= 1e-10,
            "{wave}"
        );
        let margins = calibration["margins"].as_array().unwrap();
        assert_eq!(margins.len(), 12 + 14);
        // weights.json is published: no category count below min_n.
        for margin in margins {
            match margin["sample_rows"].as_u64() {
                Some(rows) => assert!(rows >= 30, "{margin}"),
                None => assert!(margin["before"].is_null(), "{margin}"),
            }
        }
        let kish = wave["weights"]["kish_deff"].as_f64().unwrap();
        assert!(kish > 1.0 && kish < 3.0, "{wave}");
        assert_eq!(wave["design_weights"]["kish_deff"].as_f64().unwrap(), 1.0);
        // Per segment: Kish's deff and effective n, never for fewer than min_n respondents.
        let segments = wave["segments"].as_array().unwrap();
        assert!(segments.iter().any(|s| s["segmentation"] == "provincie"));
        for segment in segments {
            let rows = segment["rows"].as_f64().unwrap();
            assert!(rows >= 30.0, "{segment}");
            let n_eff = segment["effective_n"].as_f64().unwrap();
            assert!(n_eff > 0.0 && n_eff <= rows + 1e-9, "{segment}");
        }
    }
    let respondents = read_parquet(&out.join("private/respondents.parquet"));
    let calibrated = respondents
        .column("calibrated_weight")
        .unwrap()
        .f64()
        .unwrap();
    let design = respondents.column("design_weight").unwrap().f64().unwrap();
    assert!(design.iter().all(|w| w == Some(1.0)));
    assert!(calibrated.iter().all(|w| w.is_some_and(|w| w > 0.0)));
    let sum: f64 = calibrated.iter().flatten().sum();
    assert!((sum - respondents.height() as f64).abs() < 1e-6, "{sum}");
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<h2 id=\"weging\">Weging</h2>"));

    // The model: a section of the report with its coefficients and forest plot, the plot in
    // charts/, and its coefficients on the table book's sheet "modellen".
    assert!(report.contains("<section id=\"model-overbelast_model\">"));
    assert!(report.contains("<li>model: <a href=\"#model-overbelast_model\">"));
    assert!(report.contains("<th class=\"num\">odds ratio</th>"));
    let section = &report[report
        .find("<section id=\"model-overbelast_model\">")
        .unwrap()..];
    assert!(
        section[..section.find("</section>").unwrap()].contains("<figure class=\"chart\">\n<svg")
    );
    let forest = std::fs::read_to_string(out.join("charts/model-overbelast_model.svg")).unwrap();
    assert!(
        forest.contains("odds ratio (logaritmische schaal)"),
        "{forest}"
    );
    assert!(std::fs::read(out.join("charts/model-overbelast_model.png"))
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n"));
    let sheets = {
        use std::io::Read;
        let book = std::fs::File::open(out.join("tabellenboek.xlsx")).unwrap();
        let mut archive = ::zip::ZipArchive::new(book).unwrap();
        let mut workbook = String::new();
        archive
            .by_name("xl/workbook.xml")
            .unwrap()
            .read_to_string(&mut workbook)
            .unwrap();
        let names = regex::Regex::new(r#"<sheet name="([^"]+)""#).unwrap();
        names
            .captures_iter(&workbook)
            .map(|c| c[1].to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(sheets.first().map(String::as_str), Some("Toelichting"));
    assert_eq!(
        sheets.last().map(String::as_str),
        Some("modellen"),
        "{sheets:?}"
    );

    // Nothing outside private/ names a respondent.
    for file in ["manifest.json", "weights.json", "report.html"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(!text.contains("DM24-0"), "{file} contains a respondent id");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let read = manifest["rows_read"].as_u64().unwrap();
    assert_eq!(read, 3577 + 4500 + 9600);
    assert_eq!(
        read,
        manifest["rows_accepted"].as_u64().unwrap() + manifest["rows_rejected"].as_u64().unwrap()
    );
    // Each input's SHA-256 is its file's (taken after the streaming pass: `ingest::hash`).
    let inputs = manifest["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), 3);
    for input in inputs {
        let file = Path::new(input["file"].as_str().unwrap());
        let bytes = std::fs::read(root().join(file)).unwrap();
        let sha256 = peiling::spec::sha256_hex(&bytes);
        assert_eq!(input["sha256"].as_str(), Some(sha256.as_str()), "{file:?}");
    }
    // Every stage is timed, the output too, its steps adding up to it.
    let timings = manifest["timings_seconds"].as_object().unwrap();
    let seconds = |name: &str| {
        timings
            .get(name)
            .and_then(|v| v.as_f64())
            .unwrap_or_else(|| panic!("no timing {name:?}: {timings:?}"))
    };
    for stage in [
        "ingest", "validate", "weight", "estimate", "models", "output",
    ] {
        assert!(seconds(stage) >= 0.0);
    }
    // The tables beside the microdata, then the charts (their SVGs, then their PNGs) beside
    // the table book and the report: the output took the longer of the first two and the
    // longest of the last three, at the least, and not more than all of them (and the
    // millisecond of handing them to the thread pool).
    let step = |name: &str| seconds(&format!("output/{name}"));
    let first = [step("tables"), step("microdata")];
    let beside = [step("charts"), step("tabellenboek"), step("report")];
    let output = seconds("output");
    let longest = |steps: &[f64]| steps.iter().copied().fold(0.0, f64::max);
    assert!(first.iter().chain(&beside).all(|&s| s > 0.0), "{timings:?}");
    assert!(
        longest(&first) + longest(&beside) <= output + 1e-6
            && output <= first.iter().chain(&beside).sum::<f64>() + 1e-3,
        "{timings:?}"
    );
}

#[test]
fn estimates_are_byte_identical_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    run_sample(&dir.path().join("one"), "1");
    run_sample(&dir.path().join("two"), "2");
    for file in [
        "estimates.parquet",
        "models.parquet",
        "tabellenboek.xlsx",
        "report.html",
        "charts/model-overbelast_model.svg",
        "charts/model-overbelast_model.png",
    ] {
        let one = std::fs::read(dir.path().join("one").join(file)).unwrap();
        let two = std::fs::read(dir.path().join("two").join(file)).unwrap();
        assert!(one == two, "{file} differs between --threads 1 and 2");
    }
}

#[test]
fn every_rejected_row_is_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    peiling()
        .current_dir(root())
        .args([
            "validate",
            "pipelines/dementiemonitor.toml",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let rejects = read_parquet(&out.join("private/rejects.parquet"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    for input in manifest["inputs"].as_array().unwrap() {
        let wave = input["wave"].as_i64().unwrap() as i32;
        let rows: std::collections::BTreeSet<i64> = (0..rejects.height())
            .filter(|&i| rejects.column("wave").unwrap().i32().unwrap().get(i) == Some(wave))
            .map(|i| {
                rejects
                    .column("row")
                    .unwrap()
                    .i64()
                    .unwrap()
                    .get(i)
                    .unwrap()
            })
            .collect();
        assert_eq!(
            rows.len() as u64,
            input["rows_rejected"].as_u64().unwrap(),
            "wave {wave}"
        );
    }
    // Each deliberate defect of the generator is rejected by its rule at its line, and no
    // other row is rejected.
    let column = |name: &str| rejects.column(name).unwrap().clone();
    let (waves, rows, lines, rules) = (
        column("wave"),
        column("row"),
        column("line"),
        column("rule"),
    );
    let (waves, rows, lines, rules) = (
        waves.i32().unwrap(),
        rows.i64().unwrap(),
        lines.i64().unwrap(),
        rules.str().unwrap(),
    );
    for wave in [2020, 2022, 2024] {
        let options = peiling::generate::Options {
            kind: peiling::generate::Kind::Dementiemonitor,
            rows: peiling::generate::default_rows(wave),
            seed: peiling::generate::default_seed(wave),
            wave,
            defects: true,
        };
        let defects = peiling::generate::defects(&options);
        let mut rejected: std::collections::BTreeMap<i64, Vec<(i64, &str)>> = Default::default();
        for i in (0..rejects.height()).filter(|&i| waves.get(i) == Some(wave)) {
            let entry = rejected.entry(rows.get(i).unwrap()).or_default();
            entry.push((lines.get(i).unwrap(), rules.get(i).unwrap()));
        }
        let defect_rows: Vec<i64> = defects.iter().map(|(index, _)| *index as i64 + 1).collect();
        assert_eq!(
            rejected.keys().copied().collect::<Vec<_>>(),
            defect_rows,
            "wave {wave}: the rejected rows are the defective ones"
        );
        for (index, defect) in defects {
            let rule = match defect {
                "hours_above_168" => "maximum",
                "respite_in_institution" => "respijt_nvt_in_instelling",
                "age_band_mismatch" => "leeftijdsgroep_past_bij_leeftijd",
                "duplicate_id" => "primary_key",
                "decimal_age" => "type",
                "stray_code" => "category",
                other => panic!("unknown defect {other}"),
            };
            let line = index as i64 + 2; // after the header, one line per record
            let found = &rejected[&(index as i64 + 1)];
            assert!(
                found.contains(&(line, rule)),
                "wave {wave}, line {line}: {defect} should be rule {rule}, found {found:?}"
            );
        }
    }
}

#[test]
fn an_unknown_key_in_the_spec_is_reported_with_its_line() {
    let spec = MINIMAL_SPEC.replace(
        "kind = \"proportion\"",
        "kind = \"proportion\"\nwaarde = \"x\"",
    );
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(50))]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("unknown_key", stderr);
}

#[test]
fn bad_sql_and_unknown_columns_are_all_reported_at_once() {
    let spec = MINIMAL_SPEC.replace("value = \"belasting >= 4\"", "value = \"belasting >=\"")
        + "\n[segments]\nby = [[\"regio\"]]\n";
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(50))]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("bad_sql_and_unknown_column", stderr);
}

/// With `--log-format json` every diagnostic is one JSON object per line, its place with the
/// numbers apart.
#[test]
fn json_diagnostics_carry_file_line_and_column_as_numbers() {
    let spec = MINIMAL_SPEC.replace("value = \"belasting >= 4\"", "value = \"belasting >=\"");
    let (_dir, output) = common::in_scratch_with(
        "run",
        &["--log-format", "json"],
        &spec,
        &[("data.csv", sample_rows(50))],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect();
    let error = lines.iter().find(|d| d["code"] == "S017").expect("S017");
    let place = &error["location"];
    assert_eq!(place["file"], "spec.toml");
    assert_eq!(
        (place["line"].as_u64(), place["column"].as_u64()),
        (Some(13), Some(9))
    );
    assert_eq!(place["text"], "spec.toml:13:9");
}

#[test]
fn a_wrong_delimiter_names_the_file_and_the_likely_delimiter() {
    let spec = MINIMAL_SPEC.replace("schema = ", "delimiter = \",\"\nschema = ");
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(50))]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("wrong_delimiter", stderr);
}

#[test]
fn text_in_a_numeric_column_names_file_line_and_column() {
    let rows: String = sample_rows(60)
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let mut fields: Vec<&str> = line.split(';').collect();
            if i > 0 && i % 2 == 0 {
                fields[13] = "veel"; // uren_pw
            }
            fields.join(";") + "\n"
        })
        .collect();
    let (code, stderr) = run_in_scratch(MINIMAL_SPEC, &[("data.csv", rows)]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("text_in_numeric_column", stderr);
}

#[test]
fn a_binary_file_is_a_user_error() {
    let (code, stderr) = run_in_scratch(
        MINIMAL_SPEC,
        &[("data.csv", "\u{0}\u{1}PK\u{3}".to_string())],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error[I003]") && stderr.contains("data.csv"),
        "{stderr}"
    );
}

#[test]
fn a_lonely_psu_under_fail_names_the_stratum_indicator_and_segment() {
    let spec = MINIMAL_SPEC.replace(
        "[[indicator]]",
        "[design]\nstrata = \"gemeente\"\nlonely_psu = \"fail\"\n\n[segments]\nby = [[\"provincie\"]]\n\n[[indicator]]",
    );
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(300))]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("lonely_psu_fail", stderr);
}

#[test]
fn zero_weights_are_a_diagnostic_not_a_panic() {
    let spec = MINIMAL_SPEC.replace(
        "[[indicator]]",
        "[[derive]]\nname = \"w0\"\nexpr = \"0.0 * gewicht\"\n\n[design]\nweight = \"w0\"\n\n[[indicator]]",
    );
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(300))]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("zero_weights", stderr);
}

#[test]
fn a_division_by_zero_in_an_indicator_names_the_row() {
    let spec = MINIMAL_SPEC.replace(
        "value = \"belasting >= 4\"",
        "value = \"belasting >= 4\"\n\n[[indicator]]\nid = \"uren_per_nul\"\nlabel = \"x\"\nkind = \"mean\"\nvalue = \"uren_pw / 0\"",
    );
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(300))]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("division_by_zero", stderr);
}

#[test]
fn a_population_that_is_not_a_condition_is_named() {
    let spec = MINIMAL_SPEC.replace(
        "value = \"belasting >= 4\"",
        "value = \"belasting >= 4\"\npopulation = \"uren_pw + 1\"",
    );
    let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(300))]);
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("population_not_a_condition", stderr);
}

/// `MINIMAL_SPEC` raked to `margins.csv`.
fn raked_spec(extra: &str) -> String {
    MINIMAL_SPEC.replace(
        "[[indicator]]",
        &format!(
            "[weighting]\nmethod = \"rake\"\nmargins = \"margins.csv\"\n{extra}\n[[indicator]]"
        ),
    )
}

#[test]
fn raking_that_does_not_converge_names_the_margin() {
    // The same variable twice, with contradicting targets: IPF swings between them.
    let margins =
        "variable,category,target\nmode,1,100\nmode,2,200\nmode*mode,1|1,200\nmode*mode,2|2,100\n";
    let (code, stderr) = run_in_scratch(
        &raked_spec("max_iterations = 20"),
        &[
            ("data.csv", sample_rows(300)),
            ("margins.csv", margins.into()),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("raking_not_converged", stderr);
}

#[test]
fn a_margin_category_without_respondents_is_named() {
    let margins = "variable,category,target\nmode,1,0.5\nmode,3,0.5\n";
    let (code, stderr) = run_in_scratch(
        &raked_spec(""),
        &[
            ("data.csv", sample_rows(300)),
            ("margins.csv", margins.into()),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("margin_category_empty", stderr);
}

#[test]
fn a_zero_target_and_an_unknown_margin_column_are_named() {
    let margins = "variable,category,target\nmode,1,0\nmode,2,300\nregio,1,300\n";
    let (code, stderr) = run_in_scratch(
        &raked_spec(""),
        &[
            ("data.csv", sample_rows(300)),
            ("margins.csv", margins.into()),
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    insta::assert_snapshot!("margin_zero_target", stderr);
}

#[test]
fn schema_problems_are_all_reported_with_their_lines() {
    let schema = r#"name = "kapot"
primary_key = ["respondent"]

[[field]]
name = "resp_id"
type = "string"
pattern = "DM[0-9"

[[field]]
name = "belasting"
type = "integer"
categories = { 1 = "laag", een = "hoog" }

[[field]]
name = "uren_pw"
type = "number"
minimum = 168
maximum = 0
"#;
    let spec = MINIMAL_SPEC.replace("schemas/dementiemonitor.schema.toml", "kapot.schema.toml");
    let (code, stderr) = run_in_scratch(
        &spec,
        &[
            ("data.csv", sample_rows(5)),
            ("kapot.schema.toml", schema.to_string()),
        ],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("schema_problems", stderr);
}

#[test]
fn validate_summarizes_the_rejects_by_rule_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    let output = peiling()
        .current_dir(root())
        .args(["validate", "pipelines/dementiemonitor.toml", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("validate_summary", String::from_utf8_lossy(&output.stderr));
}

fn check_in(dir: &Path, spec: &str) -> std::process::Output {
    peiling()
        .current_dir(dir)
        .args(["check", spec])
        .output()
        .unwrap()
}

#[test]
fn check_summarises_a_pipeline_without_reading_its_data() {
    let output = check_in(&root(), "pipelines/dementiemonitor.toml");
    assert!(output.status.success());
    insta::assert_snapshot!("check_sample", String::from_utf8_lossy(&output.stdout));

    // The data are not read: a binary file where the export should be passes the check.
    let spec = MINIMAL_SPEC.replace("data.csv", "kapot.csv");
    let (dir, output) = common::in_scratch("validate", &spec, &[("kapot.csv", [0u8, 1, 2, 3])]);
    assert_eq!(output.status.code(), Some(1), "validate reads it");
    let output = check_in(dir.path(), "spec.toml");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!dir.path().join("output").exists(), "check writes nothing");
}

#[test]
fn check_reports_every_problem_at_once() {
    let spec = r#"[pipeline]
name = "t"

[[input]]
wave = 2024
path = "ontbreekt.csv"
schema = "schemas/dementiemonitor.schema.toml"

[[indicator]]
id = "uren"
label = "Uren"
kind = "mean"
value = "uren_pw +"
ci = "wilson"

[segments]
by = [["provincie"], ["gemeente_code"]]

[disclosure]
max_rse = 0
"#;
    let (dir, _) = common::in_scratch("validate", spec, &[] as &[(&str, &str)]);
    let output = check_in(dir.path(), "spec.toml");
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!("check_problems", String::from_utf8_lossy(&output.stderr));

    // A schema that cannot be read is reported with the pipeline's own problems.
    let broken =
        "name = \"kapot\"\n\n[[field]]\nname = \"id\"\ntype = \"string\"\npattern = \"[0-9\"\n";
    let spec = spec.replace("schemas/dementiemonitor.schema.toml", "kapot.schema.toml");
    let (dir, _) = common::in_scratch("validate", &spec, &[("kapot.schema.toml", broken)]);
    let output = check_in(dir.path(), "spec.toml");
    assert_eq!(output.status.code(), Some(1));
    insta::assert_snapshot!(
        "check_problems_with_a_broken_schema",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn waves_with_names_keep_the_order_of_the_inputs() {
    // Named waves in an order that is not alphabetical: the later input is the latest wave.
    let spec = MINIMAL_SPEC.replace(
        "[[input]]\nwave = 2024\npath = \"data.csv\"",
        "[[input]]\nwave = \"2023-najaar\"\npath = \"eerst.csv\"\n\
         schema = \"schemas/dementiemonitor.schema.toml\"\n\n\
         [[input]]\nwave = \"2023-lente\"\npath = \"data.csv\"",
    );
    let (dir, output) = common::in_scratch(
        "run",
        &spec,
        &[
            ("eerst.csv", sample_rows(300)),
            ("data.csv", sample_rows(400)),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let estimates = read_parquet(&dir.path().join("output/estimates.parquet"));
    let waves: Vec<String> = (0..estimates.height())
        .map(|row| common::text(&estimates, "wave", row))
        .collect();
    assert!(waves.contains(&"2023-najaar".to_string()), "{waves:?}");
    assert!(waves.contains(&"2023-lente".to_string()), "{waves:?}");
    let changes = read_parquet(&dir.path().join("output/changes.parquet"));
    assert!(changes.height() > 0);
    for row in 0..changes.height() {
        assert_eq!(common::text(&changes, "wave", row), "2023-lente");
        assert_eq!(common::text(&changes, "base_wave", row), "2023-najaar");
    }
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("output/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["inputs"][0]["wave"], "2023-najaar", "{manifest}");
    // Integer waves keep their Int32 column.
    let (dir, output) = common::in_scratch("run", MINIMAL_SPEC, &[("data.csv", sample_rows(300))]);
    assert!(output.status.success());
    let estimates = read_parquet(&dir.path().join("output/estimates.parquet"));
    assert_eq!(
        estimates.column("wave").unwrap().dtype(),
        &polars::prelude::DataType::Int32
    );
}

/// A value that is there but not a finite number (0/0 is NaN, 1/0 infinite) stops the run
/// naming the first respondent it meets; a null (an empty uren_pw) is only outside the domain.
#[test]
fn an_indicator_that_is_not_a_finite_number_names_the_respondent() {
    for value in [
        "(uren_pw - uren_pw) / (uren_pw - uren_pw)",
        "1 / (uren_pw - uren_pw)",
    ] {
        let spec = MINIMAL_SPEC
            .replace("kind = \"proportion\"", "kind = \"mean\"")
            .replace(
                "value = \"belasting >= 4\"",
                &format!("value = \"{value}\""),
            );
        let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(50))]);
        assert_eq!(code, 1, "{value}: {stderr}");
        assert!(
            stderr.contains("E003")
                && stderr.contains("not a finite number")
                && stderr.contains("DM24-000001"),
            "{value}: {stderr}"
        );
    }
}

/// A weight that is missing or not positive stops the run at the first such respondent in the
/// file, naming it and the value.
#[test]
fn a_missing_or_non_positive_weight_names_the_first_such_respondent() {
    let spec = MINIMAL_SPEC.to_string() + "\n[design]\nweight = \"uren_pw\"\n";
    let rows = |changes: &[(usize, &str)]| -> String {
        sample_rows(20)
            .lines()
            .enumerate()
            .map(|(i, line)| {
                let mut fields: Vec<&str> = line.split(';').collect();
                if let Some((_, value)) = changes.iter().find(|(row, _)| *row == i) {
                    fields[13] = value; // uren_pw
                }
                fields.join(";") + "\n"
            })
            .collect()
    };
    for (changes, expected) in [
        (&[(3, "0"), (5, "")][..], "DM24-000003 is 0:"),
        (&[(3, ""), (5, "0")][..], "DM24-000003 is missing:"),
        (&[(12, "")][..], "DM24-000012 is missing:"),
        (&[(9, "0,0")][..], "DM24-000009 is 0:"),
        // The sample's own first respondent without hours.
        (&[][..], "DM24-000013 is missing:"),
    ] {
        let (code, stderr) = run_in_scratch(&spec, &[("data.csv", rows(changes))]);
        assert_eq!(code, 1, "{stderr}");
        assert!(
            stderr.contains(&format!(
                "error[W002]: weight \"uren_pw\" of respondent {expected} weights must be positive numbers"
            )),
            "{changes:?}: {stderr}"
        );
    }
}

/// A design column that is missing for a respondent, or an fpc that is missing, varies within
/// a stratum or is smaller than the stratum's sample, stops the run with its own code, naming
/// the respondent or the stratum.
#[test]
fn a_design_column_with_a_hole_or_a_wrong_fpc_stops_the_run() {
    // In the sample's first 20 respondents, DM24-000013 is the first without hours.
    for (design, expected) in [
        (
            "strata = \"uren_pw\"",
            "error[W003]: stratum \"uren_pw\" of respondent DM24-000013",
        ),
        (
            "strata = \"provincie\"\npsu = \"uren_pw\"",
            "error[W004]: PSU \"uren_pw\" of respondent DM24-000013",
        ),
        // Each respondent a stratum: the fpc cannot differ within one before it is missing.
        (
            "strata = \"resp_id\"\nfpc = \"uren_pw\"",
            "error[W005]: fpc \"uren_pw\" is missing or not positive in stratum DM24-000013",
        ),
        (
            "strata = \"provincie\"\nfpc = \"mz_leeftijd\"",
            "error[W006]: fpc \"mz_leeftijd\" differs within stratum",
        ),
        // Sex 2 as a population of 2: fewer than the sample's women.
        (
            "strata = \"mz_geslacht\"\nfpc = \"mz_geslacht\"",
            "error[W007]: fpc \"mz_geslacht\" in stratum 2: population 2 is smaller than the sample's",
        ),
    ] {
        let spec = format!("{MINIMAL_SPEC}\n[design]\nweight = \"gewicht\"\n{design}\n");
        let (code, stderr) = run_in_scratch(&spec, &[("data.csv", sample_rows(20))]);
        assert_eq!(code, 1, "{design}: {stderr}");
        assert!(stderr.contains(expected), "{design}: {stderr}");
    }
}
