//! What the benchmarks share: a generated Gezondheidsmonitor-like wave in `target/bench-data/`
//! (1,000,000 rows unless `PEILING_BENCH_ROWS` says otherwise; strata = 342 municipalities,
//! weights) and pipelines over it.

// Each benchmark binary uses part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

use peiling::derive::DerivedFrame;
use peiling::generate::{self, Kind, Options};
use peiling::spec::{self, Overrides, Plan};
use peiling::weight::SurveyDesign;
use peiling::{derive, ingest, schema, weight};

pub fn rows() -> usize {
    std::env::var("PEILING_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// The pipeline of a benchmark: the Gezondheidsmonitor schema, weights and strata, the given
/// indicators and segmentations.
pub fn pipeline(indicators: &str, segments: &str, input: &std::path::Path) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    format!(
        r#"[pipeline]
name = "bench"

[[input]]
wave = 2022
path = "{input}"
schema = "{root}/schemas/gezondheidsmonitor.schema.toml"
delimiter = ";"
decimal = ","

[design]
weight = "gewicht"
strata = "gemeente"
lonely_psu = "remove"

{indicators}

[segments]
{segments}
"#,
        input = input.display()
    )
}

/// One proportion, the indicator of the single-indicator benchmarks.
pub const SHARE: &str = r#"[[indicator]]
id = "mantelzorger"
label = "Geeft mantelzorg"
kind = "proportion"
value = "mantelzorger = 1"
"#;

/// `target/bench-data/`: the generated wave and the benchmark pipelines.
pub fn bench_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn data_file() -> PathBuf {
    let path = bench_dir().join(format!("gezondheidsmonitor-{}.csv", rows()));
    if !path.exists() {
        let options = Options {
            kind: Kind::Gezondheidsmonitor,
            rows: rows(),
            seed: 2022,
            wave: 2022,
            defects: false,
        };
        let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        generate::write_csv(&options, file).unwrap();
    }
    path
}

/// Compiles a pipeline and builds its design (ingest, validate, derive, design: untimed).
pub fn prepare(indicators: &str, segments: &str) -> (Plan, SurveyDesign) {
    let (plan, derived) = derived(&pipeline(indicators, segments, &data_file()));
    let design = weight::apply(
        derived,
        &plan.design,
        plan.weighting.as_ref(),
        &plan.schema,
        &plan.segmentations,
    )
    .unwrap();
    (plan, design)
}

/// Compiles a pipeline text (written to `target/bench-data/`) and derives its first input.
pub fn derived(spec: &str) -> (Plan, DerivedFrame) {
    let spec_path = bench_dir().join(format!("bench-{:016x}.toml", fnv(spec)));
    std::fs::write(&spec_path, spec).unwrap();
    let plan = spec::compile(&spec_path, &Overrides::default()).unwrap_or_else(|e| panic!("{e:?}"));
    let raw = ingest::read(&plan.inputs[0]).unwrap();
    let (valid, _) = schema::validate(&raw, &plan.schema).unwrap();
    let derived = derive::apply(valid, &plan.derive).unwrap();
    (plan, derived)
}

/// A stable name for a pipeline text.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}
