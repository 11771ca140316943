//! Ingest and validation throughput (issue 4) on the generated 1,000,000-row
//! Gezondheidsmonitor-like wave (`;`, decimal comma, about 40 columns):
//!
//! * `polars_bare_read`: polars' CSV reader on the file with its own type inference, the
//!   baseline measured in the same run;
//! * `polars_text_read`: the same reader with every column as text;
//! * `ingest_only`: `ingest::read` alone;
//! * `ingest_and_validate`: `ingest::read` (dialect, record scan, every column as text) and
//!   `schema::validate` (types, codebooks, ranges, primary key, routing rules) of the same file.
//!
//! The budget (DESIGN §9) is ingest + validate at ≥ 80% of the baseline's throughput, i.e. a
//! time ratio of at most 1.25. Run with `cargo bench --bench ingest`; figures in
//! `benches/README.md`.

mod common;

use common::{bench_dir, data_file, pipeline, SHARE};
use peiling::spec::{self, Overrides};
use peiling::{ingest, schema};
use polars::prelude::*;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn polars_bare_read(bencher: divan::Bencher) {
    let path = data_file();
    bencher.bench(|| {
        CsvReadOptions::default()
            .with_has_header(true)
            .map_parse_options(|p| p.with_separator(b';').with_decimal_comma(true))
            .try_into_reader_with_file_path(Some(path.clone()))
            .unwrap()
            .finish()
            .unwrap()
    });
}

/// polars' reader with every column as text, as `ingest::read` asks it: what reading the text
/// first costs against the typed baseline.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn polars_text_read(bencher: divan::Bencher) {
    let path = data_file();
    bencher.bench(|| {
        CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .map_parse_options(|p| p.with_separator(b';'))
            .try_into_reader_with_file_path(Some(path.clone()))
            .unwrap()
            .finish()
            .unwrap()
    });
}

#[divan::bench(sample_count = 5, sample_size = 1)]
fn ingest_and_validate(bencher: divan::Bencher) {
    let spec_path = bench_dir().join("bench-ingest.toml");
    std::fs::write(&spec_path, pipeline(SHARE, "total = true", &data_file())).unwrap();
    let plan = spec::compile(&spec_path, &Overrides::default()).unwrap();
    bencher.bench(|| {
        let raw = ingest::read(&plan.inputs[0]).unwrap();
        let (valid, rejects) = schema::validate(&raw, &plan.schema).unwrap();
        assert!(rejects.problems.is_empty());
        valid
    });
}

/// `ingest::read` alone: reading and decoding, the record scan, every column as text.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn ingest_only(bencher: divan::Bencher) {
    let spec_path = bench_dir().join("bench-ingest.toml");
    std::fs::write(&spec_path, pipeline(SHARE, "total = true", &data_file())).unwrap();
    let plan = spec::compile(&spec_path, &Overrides::default()).unwrap();
    bencher.bench(|| ingest::read(&plan.inputs[0]).unwrap());
}
