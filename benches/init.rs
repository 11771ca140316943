//! `peiling init` on a wide SPSS export (issue 19): 500 columns × 100,000 rows, written once by
//! `ambers` into `target/bench-data/` with a variable label per column, value labels and a
//! user-missing code on the 5-point items, and a missing range on the numeric ones.
//!
//! * `read_sav_as_text`: `ingest::read` of the file, every column as text: the baseline, what
//!   any look at the file costs;
//! * `init_draft`: the whole of `peiling init`: the read, the profile of every column and the
//!   two files written.
//!
//! The goal is under 5 s for `init_draft`. Run with `cargo bench --bench init`; figures in
//! `benches/README.md`.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use ambers::{Compression, MissingSpec, SpssMetadata, Value};
use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use common::bench_dir;
use indexmap::IndexMap;
use peiling::spec::{InputFormat, InputPlan};

const ROWS: usize = 100_000;
const COLUMNS: usize = 500;

fn main() {
    divan::main();
}

/// The wide export, written once (aside, then renamed).
fn wide_sav() -> PathBuf {
    let path = bench_dir().join(format!("wide-{COLUMNS}x{ROWS}.sav"));
    if path.exists() {
        return path;
    }
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |range: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % range
    };
    let mut fields = vec![Field::new("respnr", DataType::Utf8, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(
        (0..ROWS).map(|i| format!("R{i:07}")),
    ))];
    let mut metadata = SpssMetadata::default();
    metadata.variable_names.push("respnr".into());
    for c in 1..COLUMNS {
        let name = format!("v{c:03}");
        let numeric = c % 10 == 0;
        let values: Float64Array = (0..ROWS)
            .map(|_| match (numeric, next(100)) {
                (_, 0) => None,
                (true, 1) => Some(999.0),
                (true, _) => Some(18.0 + next(73) as f64),
                (false, 1) => Some(9.0),
                (false, _) => Some(1.0 + next(5) as f64),
            })
            .collect();
        fields.push(Field::new(&name, DataType::Float64, true));
        arrays.push(Arc::new(values));
        metadata.variable_names.push(name.clone());
        metadata
            .variable_labels
            .insert(name.clone(), format!("Vraag {c}"));
        if numeric {
            metadata.variable_missing_values.insert(
                name,
                vec![MissingSpec::Range {
                    lo: 997.0,
                    hi: 999.0,
                }],
            );
        } else {
            let labels: IndexMap<Value, String> = [
                (1.0, "helemaal oneens"),
                (2.0, "oneens"),
                (3.0, "neutraal"),
                (4.0, "eens"),
                (5.0, "helemaal eens"),
                (9.0, "geen antwoord"),
            ]
            .into_iter()
            .map(|(code, label)| (Value::Numeric(code), label.to_string()))
            .collect();
            metadata.variable_value_labels.insert(name.clone(), labels);
            metadata
                .variable_missing_values
                .insert(name, vec![MissingSpec::Value(9.0)]);
        }
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let partial = path.with_extension("partial");
    ambers::write_sav(&partial, &batch, &metadata, Compression::Bytecode, None).unwrap();
    std::fs::rename(&partial, &path).unwrap();
    path
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn read_sav_as_text(bencher: divan::Bencher) {
    let input = InputPlan {
        wave: 0.into(),
        path: wide_sav(),
        format: InputFormat::Sav,
        csv: Default::default(),
    };
    bencher.bench(|| peiling::ingest::read(&input).unwrap());
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn init_draft(bencher: divan::Bencher) {
    let out = tempfile::tempdir().unwrap();
    let options = peiling::init::Options {
        file: wide_sav(),
        name: Some("wide".into()),
        out: out.path().to_path_buf(),
        force: true,
    };
    bencher.bench(|| peiling::init::draft(&options).unwrap());
}
