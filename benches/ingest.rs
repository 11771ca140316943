//! Ingest and validation throughput (issue 4) on the generated 1,000,000-row
//! Gezondheidsmonitor-like wave (`;`, decimal comma, about 40 columns):
//!
//! * `polars_bare_read`: polars' CSV reader on the file with its own type inference, the
//!   baseline measured in the same run;
//! * `polars_text_read`: the same reader with every column as text;
//! * `ingest_and_validate`: what `peiling run` does with a CSV file: the streaming pass
//!   (`validate::stream::read`: read with a checksum, split, parse and check every value) and
//!   `validate::stream::finish` (primary key, routing rules, accepted rows); the SHA-256 is
//!   taken after the pass, at idle priority, not timed here (`ingest::hash`);
//! * `text_ingest_and_validate`: the text path, taken by `.sav` and Parquet files and by CSV
//!   files the streaming pass declines: `ingest::read` (every column as text) and
//!   `validate::apply`;
//! * `ingest_only`: `ingest::read` alone.
//!
//! The budget (DESIGN §9) is ingest + validate at ≥ 80% of the baseline's throughput, i.e. a
//! time ratio of at most 1.25. Run with `cargo bench --bench ingest`; figures in
//! `benches/README.md`.

mod common;

use std::path::{Path, PathBuf};

use common::{bench_dir, data_file, pipeline, SHARE};
use peiling::spec::{self, Overrides, Plan};
use peiling::{ingest, validate};
use polars::prelude::*;

fn main() {
    divan::main();
}

/// polars' CSV reader on the wave with `options` (`;` separated, header line).
fn polars_read(options: CsvReadOptions) -> DataFrame {
    options
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(data_file()))
        .unwrap()
        .finish()
        .unwrap()
}

/// The plan of a one-indicator pipeline over the wave.
fn plan() -> Plan {
    plan_of(&data_file())
}

fn plan_of(data: &Path) -> Plan {
    let spec_path = bench_dir().join("bench-ingest.toml");
    std::fs::write(&spec_path, pipeline(SHARE, "total = true", data)).unwrap();
    spec::compile(&spec_path, &Overrides::default()).unwrap()
}

/// The wave with every non-empty field quoted, as some exports write it: every record then
/// goes through the quote-aware record scanner. Written once, next to the wave.
fn quoted_file() -> PathBuf {
    let plain = data_file();
    let path = plain.with_extension("quoted.csv");
    if !path.exists() {
        let text = std::fs::read_to_string(&plain).unwrap();
        let mut quoted = String::with_capacity(text.len() * 2);
        for line in text.lines() {
            for (i, field) in line.split(';').enumerate() {
                if i > 0 {
                    quoted.push(';');
                }
                if !field.is_empty() {
                    quoted.push('"');
                    quoted.push_str(field);
                    quoted.push('"');
                }
            }
            quoted.push('\n');
        }
        let partial = path.with_extension("partial");
        std::fs::write(&partial, quoted).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

// The baseline and the pipeline's path take 15 samples each: the first few of a bench in this
// process pay for fresh memory that later ones reuse, whichever bench runs first.
#[divan::bench(sample_count = 15, sample_size = 1)]
fn polars_bare_read(bencher: divan::Bencher) {
    data_file();
    bencher.bench(|| {
        polars_read(
            CsvReadOptions::default()
                .map_parse_options(|p| p.with_separator(b';').with_decimal_comma(true)),
        )
    });
}

/// polars' reader with every column as text, as `ingest::read` asks it: what reading the text
/// first costs against the typed baseline.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn polars_text_read(bencher: divan::Bencher) {
    data_file();
    bencher.bench(|| {
        polars_read(
            CsvReadOptions::default()
                .with_infer_schema_length(Some(0))
                .map_parse_options(|p| p.with_separator(b';')),
        )
    });
}

#[divan::bench(sample_count = 15, sample_size = 1)]
fn ingest_and_validate(bencher: divan::Bencher) {
    let plan = plan();
    bencher.bench(|| {
        let parsed = validate::stream::read(&plan.inputs[0], &plan.schema).unwrap();
        let parsed = parsed.expect("the generated wave is for the streaming pass");
        let (valid, rejects, _lines) = validate::stream::finish(parsed, &plan.schema).unwrap();
        assert!(rejects.problems.is_empty());
        valid
    });
}

/// [`ingest_and_validate`] on the wave with every value quoted.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn quoted_ingest_and_validate(bencher: divan::Bencher) {
    let plan = plan_of(&quoted_file());
    bencher.bench(|| {
        let parsed = validate::stream::read(&plan.inputs[0], &plan.schema).unwrap();
        let parsed = parsed.expect("the quoted wave is for the streaming pass");
        let (valid, rejects, _lines) = validate::stream::finish(parsed, &plan.schema).unwrap();
        assert!(rejects.problems.is_empty());
        valid
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn text_ingest_and_validate(bencher: divan::Bencher) {
    let plan = plan();
    bencher.bench(|| {
        let raw = ingest::read(&plan.inputs[0]).unwrap();
        let (valid, rejects) = validate::apply(&raw, &plan.schema).unwrap();
        assert!(rejects.problems.is_empty());
        valid
    });
}

/// `ingest::read` alone: reading and decoding, the record scan, every column as text.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn ingest_only(bencher: divan::Bencher) {
    let plan = plan();
    bencher.bench(|| ingest::read(&plan.inputs[0]).unwrap());
}
