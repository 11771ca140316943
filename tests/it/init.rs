//! `peiling init` drafts a schema and pipeline that validate and run the export they were
//! drafted from, unedited.

use std::path::Path;

use polars::prelude::DataType;

use crate::common::{peiling, read_parquet, root, text};

fn init(file: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    peiling()
        .arg("init")
        .arg(file)
        .args(["--name", "t", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap()
}

#[test]
fn a_draft_from_an_spss_file_written_by_readstat_runs_unedited() {
    // Written by pyreadstat (ReadStat), with value labels, user-missing codes and defects:
    // sample-data/sav/make_sav.py.
    let sav = root().join("sample-data/sav/dementiemonitor-2022.sav");
    let dir = tempfile::tempdir().unwrap();
    let output = init(&sav, dir.path(), &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let schema = std::fs::read_to_string(dir.path().join("schemas/t.schema.toml")).unwrap();
    let pipeline = std::fs::read_to_string(dir.path().join("pipelines/t.toml")).unwrap();
    // The file's dictionary became the schema's.
    // The ids repeat (a defect of the sample), so none is the key; their shape is the pattern.
    assert!(!schema.contains("primary_key"), "{schema}");
    assert!(
        schema.contains("pattern = 'DM[0-9]{2}\\-[0-9]{6}'"),
        "{schema}"
    );
    assert!(
        schema.contains("label = \"Alles bij elkaar genomen, hoe belast voelt u zich momenteel?\""),
        "{schema}"
    );
    assert!(
        schema.contains("name = \"mode\"\ntype = \"integer\"\nlabel = \"Wijze van invullen\"\ncategories = { 1 = \"online\", 2 = \"papier\" }"),
        "{schema}"
    );
    // belasting = 6 is a defect of the sample: the labels cannot restrict, and it says so.
    assert!(
        schema.contains("but the data hold 1 unlabelled value (such as 6)"),
        "{schema}"
    );
    assert!(
        schema.contains("missing = { 9 = \"geen antwoord\" }"),
        "{schema}"
    );
    assert!(pipeline.contains("wave = 2022"), "{pipeline}");

    // Every row is accepted, as drafted.
    let out = dir.path().join("out");
    let spec = dir.path().join("pipelines/t.toml");
    let run = peiling()
        .arg("run")
        .arg(&spec)
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let manifest = manifest(&out);
    assert_eq!(manifest["rows_rejected"], 0, "{manifest}");
    assert_eq!(manifest["rows_read"], 4500);

    // Value labels and user-missing codes reach the microdata intact.
    let microdata = read_parquet(&out.join("private/respondents.parquet"));
    let codes = microdata
        .column("belasting")
        .unwrap()
        .cast(&DataType::Int64)
        .unwrap();
    let codes = codes.i64().unwrap();
    let mut seen_missing = false;
    for row in 0..microdata.height() {
        let code = codes.get(row);
        let label = text(&microdata, "belasting_label", row);
        let expected = match code {
            Some(1) => "niet of nauwelijks belast",
            Some(5) => "overbelast",
            Some(9) => {
                seen_missing = true;
                "geen antwoord"
            }
            _ => continue,
        };
        assert_eq!(label, expected, "row {row}");
    }
    assert!(seen_missing, "user-missing 9 is kept as answered");
}

#[test]
fn a_draft_is_deterministic_and_never_overwrites_without_force() {
    let csv = root().join("sample-data/dementiemonitor-2024.csv");
    let dir = tempfile::tempdir().unwrap();
    assert!(init(&csv, dir.path(), &[]).status.success());
    let first = std::fs::read(dir.path().join("schemas/t.schema.toml")).unwrap();
    std::fs::write(dir.path().join("pipelines/t.toml"), "mine").unwrap();

    let again = init(&csv, dir.path(), &[]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("error[G002]"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pipelines/t.toml")).unwrap(),
        "mine",
        "nothing is written when one file exists"
    );

    assert!(init(&csv, dir.path(), &["--force"]).status.success());
    assert_eq!(
        std::fs::read(dir.path().join("schemas/t.schema.toml")).unwrap(),
        first
    );

    // The CSV's dialect is written out, and its defects (duplicate ids, 54,5 as an age) pass.
    let pipeline = std::fs::read_to_string(dir.path().join("pipelines/t.toml")).unwrap();
    assert!(
        pipeline.contains("delimiter = \";\"\ndecimal = \",\""),
        "{pipeline}"
    );
    let validate = peiling()
        .arg("validate")
        .arg(dir.path().join("pipelines/t.toml"))
        .args(["--quiet", "--out"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "{}",
        String::from_utf8_lossy(&validate.stderr)
    );
    assert_eq!(manifest(&dir.path().join("out"))["rows_rejected"], 0);
}

#[test]
fn the_draft_of_a_small_export() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("gezondheid 2023.csv");
    std::fs::write(
        &csv,
        "respnr;gemeente;leeftijd;gewicht;roken;datum;actief;opmerking\n\
         A-001;GM0363;34;1,25;1;2023-10-01;true;\n\
         A-002;GM0518;71;0,8;2;2023-10-02;false;te lang\n\
         A-003;GM0363;;1,1;1;2023-10-02;true;\n\
         A-004;GM0599;55;0,95;9;2023-10-03;false;\"a;b\"\n\
         A-005;GM0363;40;1;1;2023-10-04;true;\n\
         A-006;GM0363;41;1;2;2023-10-04;true;\n\
         A-007;GM0518;42;1;1;2023-10-04;true;\n\
         A-008;GM0518;43;1;2;2023-10-05;true;\n\
         A-009;GM0599;44;1;1;2023-10-05;true;\n\
         A-010;GM0599;45;1;1;2023-10-05;false;\n\
         A-011;GM0363;46;1;2;2023-10-06;false;\n\
         A-012;GM0363;47;1;1;2023-10-06;false;\n\
         A-013;GM0518;48;1;1;2023-10-07;true;\n\
         A-014;GM0518;49;1;2;2023-10-07;true;\n\
         A-015;GM0599;50;1;1;2023-10-08;true;\n",
    )
    .unwrap();
    let output = init(&csv, dir.path(), &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let drafted = |path: &str| std::fs::read_to_string(dir.path().join(path)).unwrap();
    insta::assert_snapshot!("init_schema", drafted("schemas/t.schema.toml"));
    insta::assert_snapshot!("init_pipeline", drafted("pipelines/t.toml"));
    // `peiling check` accepts the draft as written.
    let check = peiling()
        .arg("check")
        .arg(dir.path().join("pipelines/t.toml"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
