//! The user documentation matches the code: the JSON Schemas are the types' own, the committed
//! pipelines and schemas pass them, every key and output column is documented, every diagnostic
//! code named exists, and every link points at a file (and heading) of the repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use peiling::diag::catalog;
use peiling::output::parquet::{changes_frame, ESTIMATE_COLUMNS, MODEL_COLUMNS};
use peiling::spec::json_schema;
use regex::Regex;
use serde_json::Value;

use crate::common::root;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The markdown files a user reads: the README and `docs/`.
fn user_docs() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The committed file at `relative` equals `rendered`; `PEILING_UPDATE_DOCS=1` rewrites it.
fn committed(relative: &str, rendered: &str) {
    let path = root().join(relative);
    if std::env::var_os("PEILING_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rendered).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        written == rendered,
        "{relative} is not what the code generates: run `PEILING_UPDATE_DOCS=1 cargo test` and commit it"
    );
}

#[test]
fn the_generated_pages_are_the_code_s() {
    committed("docs/diagnostics.md", &catalog::reference());
    committed(json_schema::PIPELINE_PATH, &json_schema::pipeline());
    committed(json_schema::SCHEMA_PATH, &json_schema::schema_file());
}

/// A validator of one committed JSON Schema.
fn validator(relative: &str) -> (boon::Schemas, boon::SchemaIndex) {
    let schema: Value = serde_json::from_str(&read(&root().join(relative))).unwrap();
    let url = format!("file:///{relative}");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource(&url, schema).unwrap();
    let index = compiler.compile(&url, &mut schemas).unwrap();
    (schemas, index)
}

fn toml_as_json(text: &str) -> Value {
    toml::from_str(text).unwrap()
}

#[test]
fn the_committed_files_pass_their_json_schemas_and_mistakes_do_not() {
    let (pipelines, pipeline) = validator(json_schema::PIPELINE_PATH);
    let (schemas, schema) = validator(json_schema::SCHEMA_PATH);
    let mut checked = 0;
    for (folder, suffix) in [("pipelines", ".toml"), ("schemas", ".schema.toml")] {
        for entry in std::fs::read_dir(root().join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(suffix) {
                continue;
            }
            let text = read(&path);
            let (validators, index, directive) = match folder {
                "pipelines" => (
                    &pipelines,
                    pipeline,
                    "../docs/json-schema/pipeline.schema.json",
                ),
                _ => (&schemas, schema, "../docs/json-schema/schema.schema.json"),
            };
            if let Err(error) = validators.validate(&toml_as_json(&text), index) {
                panic!("{name} does not pass its JSON Schema: {error}");
            }
            // The file points its editor at the schema.
            assert_eq!(
                text.lines().next(),
                Some(format!("#:schema {directive}").as_str()),
                "{name}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} files checked");

    // What the editor flags: an unknown key, a wrong type, an unknown value.
    let spec = read(&root().join("pipelines/dementiemonitor.toml"));
    for (mistake, from, to) in [
        ("unknown key", "[pipeline]\n", "[pipeline]\ntitel = \"x\"\n"),
        ("wave as a fraction", "wave = 2024", "wave = 2024.5"),
        ("unknown method", "method = \"rake\"", "method = \"raking\""),
        (
            "unknown ci",
            "kind = \"proportion\"",
            "kind = \"proportion\"\nci = \"exact\"",
        ),
    ] {
        let broken = spec.replacen(from, to, 1);
        assert_ne!(broken, spec, "{mistake}");
        assert!(
            pipelines
                .validate(&toml_as_json(&broken), pipeline)
                .is_err(),
            "{mistake} passes"
        );
    }
    let text = read(&root().join("schemas/dementiemonitor.schema.toml"));
    let broken = text.replacen("type = \"string\"", "type = \"text\"", 1);
    assert!(schemas.validate(&toml_as_json(&broken), schema).is_err());
}

/// Every property name anywhere in a JSON Schema.
fn properties(schema: &Value, found: &mut BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::Object(properties)) = map.get("properties") {
                found.extend(properties.keys().cloned());
            }
            for value in map.values() {
                properties(value, found);
            }
        }
        Value::Array(values) => values.iter().for_each(|v| properties(v, found)),
        _ => {}
    }
}

#[test]
fn every_key_is_documented() {
    for (schema, doc) in [
        (json_schema::pipeline(), "docs/pipeline.md"),
        (json_schema::schema_file(), "docs/schema.md"),
    ] {
        let mut keys = BTreeSet::new();
        properties(&serde_json::from_str(&schema).unwrap(), &mut keys);
        assert!(keys.len() > 10, "{keys:?}");
        let text = read(&root().join(doc));
        // A key is a row of a table of keys, or a table's heading (`## `[design]``).
        let documented = |key: &str| {
            text.contains(&format!("| `{key}` |"))
                || text.contains(&format!("## `[{key}]`"))
                || text.contains(&format!("## `[[{key}]]`"))
        };
        let missing: Vec<&String> = keys.iter().filter(|key| !documented(key)).collect();
        assert!(
            missing.is_empty(),
            "{doc} has no row for the keys {missing:?}"
        );
    }
}

#[test]
fn every_output_column_is_documented() {
    let text = read(&root().join("docs/outputs.md"));
    let changes = changes_frame("p", &[]).unwrap();
    let changes: Vec<String> = changes
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let columns = ESTIMATE_COLUMNS
        .iter()
        .chain(&MODEL_COLUMNS)
        .map(|c| c.to_string())
        .chain(changes);
    let missing: Vec<String> = columns
        .filter(|column| !text.contains(&format!("| `{column}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/outputs.md has no row for {missing:?}"
    );
}

#[test]
fn every_code_the_docs_name_exists() {
    let known: BTreeSet<&str> = catalog::ALL.iter().map(|e| e.id).collect();
    let code = Regex::new(r"`([SVIWEOGC][0-9]{3})`").unwrap();
    for path in user_docs() {
        let text = read(&path);
        for found in code.captures_iter(&text) {
            assert!(
                known.contains(&found[1]),
                "{} names {}, which is no diagnostic code",
                path.display(),
                &found[1]
            );
        }
    }
}

/// A heading's anchor as GitHub makes it.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix('#'))
        .map(|heading| anchor(heading.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_points_into_the_repository() {
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    assert_eq!(anchor("`[[input]]`"), "input");
    assert_eq!(
        anchor("Where peiling deliberately differs from R"),
        "where-peiling-deliberately-differs-from-r"
    );
    for path in user_docs() {
        let text = read(&path);
        for found in link.captures_iter(&text) {
            let target = &found[1];
            if target.starts_with("https://") || target.starts_with("http://") {
                continue;
            }
            let (file, heading) = target.split_once('#').unwrap_or((target, ""));
            let file = match file {
                "" => path.clone(),
                file => path.parent().unwrap().join(file),
            };
            assert!(
                file.exists(),
                "{} links to {target}, which does not exist",
                path.display()
            );
            if !heading.is_empty() {
                assert!(
                    anchors(&read(&file)).contains(heading),
                    "{} links to {target}: no such heading",
                    path.display()
                );
            }
        }
    }
}
