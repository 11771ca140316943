//! Ingest end to end: every export format of the sample waves gives the same estimates, SPSS
//! files bring their labels and missing codes, and ragged or broken files become rejects or
//! clear errors, never a panic.

use crate::common;

use std::path::{Path, PathBuf};

use common::{in_scratch, peiling, read_parquet, root, run_in_scratch, sample_rows, MINIMAL_SPEC};
use peiling::ingest::{self, FileMissing, RawFrame};
use peiling::spec::{InputFormat, InputPlan};
use polars::prelude::*;

const WAVES: [i32; 3] = [2020, 2022, 2024];

fn sample_csv(wave: i32) -> PathBuf {
    root().join(format!("sample-data/dementiemonitor-{wave}.csv"))
}

/// The sample pipeline with each wave's `[[input]]` reading `input(wave)` (path, extra keys)
/// instead of the committed CSV, and every other relative path made absolute.
fn sample_spec(input: &dyn Fn(i32) -> (PathBuf, &'static str)) -> String {
    let mut spec = std::fs::read_to_string(root().join("pipelines/dementiemonitor.toml")).unwrap();
    for wave in WAVES {
        let (path, keys) = input(wave);
        let committed = format!(
            "path = \"../sample-data/dementiemonitor-{wave}.csv\"\nschema = \"../schemas/dementiemonitor.schema.toml\"\ndelimiter = \";\"\ndecimal = \",\"\n"
        );
        assert!(spec.contains(&committed), "the sample spec changed shape");
        let replacement = format!(
            "path = {:?}\nschema = \"../schemas/dementiemonitor.schema.toml\"\n{keys}",
            path.display().to_string()
        );
        spec = spec.replace(&committed, &replacement);
    }
    spec.replace("\"../", &format!("\"{}/", root().display()))
}

/// Runs a spec and returns its output folder.
fn run(spec: &str, scratch: &Path, name: &str) -> PathBuf {
    let spec_path = scratch.join(format!("{name}.toml"));
    std::fs::write(&spec_path, spec).unwrap();
    let out = scratch.join(name);
    peiling()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&spec_path)
        .assert()
        .success();
    out
}

/// The estimates table as Parquet bytes without the key-value metadata, which records the
/// manifest (input paths, formats and SHA-256, so it differs between formats by design).
fn estimates_table(out: &Path) -> Vec<u8> {
    let mut frame = read_parquet(&out.join("estimates.parquet"));
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    bytes
}

/// (wave, row, key, rule) of every reject.
fn rejected(out: &Path) -> Vec<(i32, i64, Option<String>, String)> {
    let frame = read_parquet(&out.join("private/rejects.parquet"));
    let wave = frame.column("wave").unwrap().i32().unwrap().clone();
    let row = frame.column("row").unwrap().i64().unwrap().clone();
    let key = frame.column("key").unwrap().str().unwrap().clone();
    let rule = frame.column("rule").unwrap().str().unwrap().clone();
    let mut rows: Vec<_> = (0..frame.height())
        .map(|i| {
            (
                wave.get(i).unwrap(),
                row.get(i).unwrap(),
                key.get(i).map(str::to_string),
                rule.get(i).unwrap().to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The committed wave re-exported as Excel on Windows writes it: Windows-1252, CRLF.
fn windows_1252_crlf(wave: i32) -> Vec<u8> {
    let text = std::fs::read_to_string(sample_csv(wave)).unwrap();
    let crlf = text.replace('\n', "\r\n");
    let (bytes, _, errors) = encoding_rs::WINDOWS_1252.encode(&crlf);
    assert!(!errors);
    bytes.into_owned()
}

/// The committed wave as `,`-separated UTF-8 with a BOM and decimal points.
fn comma_dot_bom(wave: i32) -> Vec<u8> {
    let text = std::fs::read_to_string(sample_csv(wave)).unwrap();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    for line in text.lines() {
        // The sample has no quoted fields, so `;` only separates and `,` only marks decimals.
        out.extend(line.replace(',', ".").replace(';', ",").bytes());
        out.push(b'\n');
    }
    out
}

/// The committed wave as typed Parquet: a column of whole numbers is Int64, of numbers
/// Float64, otherwise text (so the deliberate `54,5` in an integer column becomes 54.5).
fn typed_parquet(wave: i32) -> Vec<u8> {
    let raw = csv_raw(&sample_csv(wave));
    let columns: Vec<Column> = raw
        .frame
        .columns()
        .iter()
        .map(|column| {
            let text = column.str().unwrap();
            let numbers: Vec<Option<f64>> = text
                .iter()
                .map(|v| v.and_then(|s| s.replace(',', ".").parse::<f64>().ok()))
                .collect();
            let all_numbers = text
                .iter()
                .zip(&numbers)
                .all(|(t, n)| t.is_none() || n.is_some());
            let name = column.name().clone();
            if !all_numbers {
                column.clone()
            } else if numbers.iter().flatten().all(|v| v.fract() == 0.0) {
                let ints = numbers.iter().map(|v| v.map(|v| v as i64));
                Int64Chunked::from_iter_options(name, ints)
                    .into_series()
                    .into()
            } else {
                Float64Chunked::from_iter_options(name, numbers.into_iter())
                    .into_series()
                    .into()
            }
        })
        .collect();
    let mut frame = DataFrame::new(raw.rows(), columns).unwrap();
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes).finish(&mut frame).unwrap();
    bytes
}

fn csv_raw(path: &Path) -> RawFrame {
    read_input(path, InputFormat::Csv)
}

fn read_input(path: &Path, format: InputFormat) -> RawFrame {
    ingest::read(&InputPlan {
        wave: 2024.into(),
        path: path.to_path_buf(),
        format,
        csv: Default::default(),
    })
    .unwrap()
}

#[test]
fn every_export_format_of_the_sample_waves_gives_the_same_estimates() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let original = run(
        &sample_spec(&|w| (sample_csv(w), "delimiter = \";\"\ndecimal = \",\"\n")),
        dir,
        "csv",
    );
    let expected = estimates_table(&original);
    let expected_rejects = rejected(&original);
    assert!(
        !expected_rejects.is_empty(),
        "the sample waves have defects"
    );

    let write = |name: String, bytes: Vec<u8>| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    type Variant<'a> = (&'a str, Box<dyn Fn(i32) -> (PathBuf, &'static str) + 'a>);
    let variants: Vec<Variant> = vec![
        (
            "windows-1252",
            Box::new(|w| {
                let path = write(format!("{w}-1252.csv"), windows_1252_crlf(w));
                (path, "encoding = \"windows-1252\"\n")
            }),
        ),
        (
            "comma-dot-bom",
            // Nothing given: delimiter, decimal mark and encoding are detected.
            Box::new(|w| (write(format!("{w}-comma.csv"), comma_dot_bom(w)), "")),
        ),
        (
            "parquet",
            Box::new(|w| (write(format!("{w}.parquet"), typed_parquet(w)), "")),
        ),
        (
            "spss",
            // Written by pyreadstat (sample-data/sav/make_sav.py): 2024 is a zlib .zsav.
            Box::new(|w| {
                let extension = if w == 2024 { "zsav" } else { "sav" };
                let name = format!("sample-data/sav/dementiemonitor-{w}.{extension}");
                (root().join(name), "")
            }),
        ),
    ];
    for (name, input) in &variants {
        let out = run(&sample_spec(input.as_ref()), dir, name);
        assert!(
            estimates_table(&out) == expected,
            "{name}: estimates differ from the committed CSV's"
        );
        assert_eq!(
            rejected(&out),
            expected_rejects,
            "{name}: other rows rejected"
        );
    }
}

#[test]
fn the_microdata_of_a_run_reads_back_as_parquet_input() {
    let scratch = tempfile::tempdir().unwrap();
    let out = run(
        &sample_spec(&|w| (sample_csv(w), "delimiter = \";\"\ndecimal = \",\"\n")),
        scratch.path(),
        "csv",
    );
    let respondents = out.join("private/respondents.parquet");
    let raw = read_input(&respondents, InputFormat::Parquet);
    let plan_schema =
        peiling::spec::schema::load(&root().join("schemas/dementiemonitor.schema.toml")).unwrap();
    let (valid, rejects) = peiling::validate::apply(&raw, &plan_schema).unwrap();
    assert!(rejects.problems.is_empty(), "{:?}", &rejects.problems[..1]);
    assert_eq!(valid.report.rows_accepted, raw.rows());
    // Typed values survive the trip: the same as the accepted rows of the run.
    let typed = read_parquet(&respondents);
    for name in ["uren_pw", "gewicht", "belasting", "resp_id"] {
        assert!(
            valid
                .coded
                .column(name)
                .unwrap()
                .as_materialized_series()
                .equals_missing(typed.column(name).unwrap().as_materialized_series()),
            "{name} changed"
        );
    }
}

#[test]
fn spss_files_bring_values_labels_and_missing_codes() {
    let fixtures = root().join("tests/fixtures/sav");
    let sav = read_input(&fixtures.join("labels.sav"), InputFormat::Sav);
    let zsav = read_input(&fixtures.join("labels.zsav"), InputFormat::Sav);
    assert!(sav.frame.equals_missing(&zsav.frame));
    assert_eq!(sav.codebook, zsav.codebook);
    assert_eq!(sav.lines, None);

    let text = |name: &str| -> Vec<Option<String>> {
        let column = sav.frame.column(name).unwrap().str().unwrap().clone();
        column.iter().map(|v| v.map(str::to_string)).collect()
    };
    let some = |values: &[&str]| -> Vec<Option<String>> {
        values
            .iter()
            .map(|v| (!v.is_empty()).then(|| v.to_string()))
            .collect()
    };
    assert_eq!(text("belasting"), some(&["1", "3", "5", "9", "", "2"]));
    assert_eq!(
        text("uren_pw"),
        some(&["12.5", "0", "998", "999", "40.25", ""])
    );
    assert_eq!(
        text("gemeente"),
        some(&[
            "Súdwest-Fryslân",
            "Leeuwarden",
            "Noardeast-Fryslân",
            "Sittard-Geleen",
            "’s-Hertogenbosch",
            ""
        ])
    );
    assert_eq!(text("datum")[0].as_deref(), Some("2024-03-01"));
    assert_eq!(text("datum")[5], None);

    let belasting = &sav.codebook["belasting"];
    assert_eq!(belasting.label.as_deref(), Some("Belasting"));
    assert_eq!(belasting.missing, [FileMissing::Code("9".into())]);
    assert!(belasting
        .value_labels
        .contains(&("5".into(), "overbelast".into())));
    assert_eq!(
        sav.codebook["uren_pw"].missing,
        [FileMissing::Range {
            low: 998.0,
            high: 999.0
        }]
    );
}

/// A schema for the fixtures: `belasting` with the Dementiemonitor codebook, `uren_pw` with
/// only a range.
const FIXTURE_SCHEMA: &str = r#"name = "fixture"
primary_key = ["resp_id"]
missing_values = [""]

[[field]]
name = "resp_id"
type = "string"
required = true

[[field]]
name = "belasting"
type = "integer"
categories = { 1 = "niet of nauwelijks belast", 2 = "enigszins belast", 3 = "tamelijk zwaar belast", 4 = "zeer zwaar belast", 5 = "overbelast" }

[[field]]
name = "uren_pw"
type = "number"
minimum = 0
maximum = 168
"#;

fn fixture_spec(file: &str) -> String {
    MINIMAL_SPEC
        .replace("data.csv", file)
        .replace("schemas/dementiemonitor.schema.toml", "fixture.schema.toml")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(root().join("tests/fixtures/sav").join(name)).unwrap()
}

#[test]
fn the_missing_codes_of_an_spss_file_apply_to_its_values() {
    let spec = fixture_spec("labels.sav").replace(
        "[[indicator]]",
        "[disclosure]\nmin_n = 1\nmin_cell = 0\n\n[[indicator]]",
    );
    let (dir, output) = in_scratch(
        "run",
        &spec,
        &[
            ("labels.sav", fixture("labels.sav")),
            ("fixture.schema.toml", FIXTURE_SCHEMA.into()),
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // 998 and 999 are user-missing by the file's range, 9 by its discrete code: no value is
    // rejected although 998 > maximum and 9 is not a category of the schema.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("output/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["rows_rejected"], 0, "{manifest}");
    let respondents = read_parquet(&dir.path().join("output/private/respondents.parquet"));
    let uren = respondents
        .column("uren_pw")
        .unwrap()
        .f64()
        .unwrap()
        .clone();
    assert_eq!(
        uren.get(2),
        Some(998.0),
        "user-missing codes stay in the microdata"
    );
    // ...and are null in the analysis: of belasting 1, 3, 5, 9, -, 2 four answers count.
    let estimates = read_parquet(&dir.path().join("output/estimates.parquet"));
    assert_eq!(
        estimates.column("n").unwrap().i64().unwrap().get(0),
        Some(4)
    );
    assert_eq!(
        estimates.column("estimate").unwrap().f64().unwrap().get(0),
        Some(0.25)
    );
}

#[test]
fn labels_that_disagree_with_the_schema_are_named() {
    let (code, stderr) = run_in_scratch(
        &fixture_spec("conflict.sav"),
        &[
            ("conflict.sav", fixture("conflict.sav")),
            ("fixture.schema.toml", FIXTURE_SCHEMA.into()),
        ],
    );
    assert_eq!(code, 1);
    insta::assert_snapshot!("sav_conflict", stderr);
}

#[test]
fn a_ragged_record_is_a_reject_with_its_line() {
    let mut rows: Vec<String> = sample_rows(60).lines().map(str::to_string).collect();
    rows[10].push_str(";extra"); // line 11: one field too many
    let cut = rows[20].rfind(';').unwrap();
    rows[20].truncate(cut); // line 21: one field short
    rows.insert(30, String::new()); // a blank line (31) is not a record
    let csv = rows.join("\r\n") + "\r\n";
    let sha256 = peiling::spec::sha256_hex(csv.as_bytes());
    let (dir, output) = in_scratch("validate", MINIMAL_SPEC, &[("data.csv", csv)]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rejects = read_parquet(&dir.path().join("output/private/rejects.parquet"));
    let rule = rejects.column("rule").unwrap().str().unwrap().clone();
    let line = rejects.column("line").unwrap().i64().unwrap().clone();
    let ragged: Vec<i64> = (0..rejects.height())
        .filter(|&i| rule.get(i) == Some("field_count"))
        .map(|i| line.get(i).unwrap())
        .collect();
    assert_eq!(ragged, [11, 21]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("output/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["rows_read"], 60);
    let accepted = manifest["rows_accepted"].as_u64().unwrap();
    let rejected = manifest["rows_rejected"].as_u64().unwrap();
    assert_eq!(accepted + rejected, 60);
    // `peiling validate` takes the SHA-256 beside the pass: the file's.
    assert_eq!(
        manifest["inputs"][0]["sha256"].as_str(),
        Some(sha256.as_str())
    );
}

/// Broken inputs: each exits 1 with a message naming the file, and no output.
/// A Parquet file cut in half.
fn truncated_parquet() -> Vec<u8> {
    let mut frame =
        polars::df!("resp_id" => ["a", "b", "c"], "wave" => [2024i64, 2024, 2024]).unwrap();
    let mut bytes = Vec::new();
    polars::prelude::ParquetWriter::new(&mut bytes)
        .finish(&mut frame)
        .unwrap();
    bytes.truncate(bytes.len() / 2);
    bytes
}

#[test]
fn broken_files_are_clear_errors() {
    let header = sample_rows(0);
    let mut long_line = vec![b'x'; 100 * 1024 * 1024];
    long_line[0] = b'i';
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("empty_csv", "data.csv", Vec::new()),
        ("header_only_csv", "data.csv", header.into_bytes()),
        ("binary_csv", "data.csv", fixture("labels.sav")),
        ("long_line_csv", "data.csv", long_line),
        ("empty_sav", "data.sav", fixture("empty.sav")),
        ("truncated_sav", "data.sav", fixture("truncated.sav")),
        ("csv_named_sav", "data.sav", sample_rows(5).into_bytes()),
        (
            "csv_named_parquet",
            "data.parquet",
            sample_rows(5).into_bytes(),
        ),
        ("truncated_parquet", "data.parquet", truncated_parquet()),
        (
            "not_utf8_csv",
            "data.csv",
            [sample_rows(3).as_bytes(), b"\xff\xfe;1\n"].concat(),
        ),
        (
            "unclosed_quote_csv",
            "data.csv",
            [sample_rows(0).as_bytes(), b"\"R0001;2024"].concat(),
        ),
    ];
    let mut report = String::new();
    for (name, file, bytes) in cases {
        let spec = MINIMAL_SPEC.replace("data.csv", file);
        let (code, stderr) = run_in_scratch(&spec, &[(file, bytes)]);
        assert_eq!(code, 1, "{name}: {stderr}");
        assert!(stderr.contains(file), "{name}: {stderr}");
        report.push_str(&format!("--- {name}\n{stderr}\n"));
    }
    insta::assert_snapshot!("broken_files", report);
}

#[test]
fn describe_shows_spss_labels_and_missing_codes() {
    let output = peiling()
        .arg("describe")
        .arg(root().join("tests/fixtures/sav/labels.sav"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stdout = stdout.replace(&root().display().to_string(), "<root>");
    insta::assert_snapshot!("describe_sav", stdout);
}
