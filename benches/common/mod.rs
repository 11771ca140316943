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
use polars::prelude::*;

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
    data_file_of(rows())
}

/// The generated wave of `rows` rows (seed 2022, no defects), written once and reused: the file
/// name holds the rows and the seed.
pub fn data_file_of(rows: usize) -> PathBuf {
    const SEED: u64 = 2022;
    let path = bench_dir().join(format!("gezondheidsmonitor-{rows}-seed{SEED}.csv"));
    if !path.exists() {
        let options = Options {
            kind: Kind::Gezondheidsmonitor,
            rows,
            seed: SEED,
            wave: 2022,
            defects: false,
        };
        // Written aside and renamed, so that an interrupted run leaves no half file behind.
        let partial = path.with_extension("csv.partial");
        let file = std::io::BufWriter::new(std::fs::File::create(&partial).unwrap());
        generate::write_csv(&options, file).unwrap();
        std::fs::rename(&partial, &path).unwrap();
    }
    path
}

/// Compiles a pipeline and builds its design (ingest, validate, derive, design: untimed).
pub fn prepare(indicators: &str, segments: &str) -> (Plan, SurveyDesign) {
    let mut plan = compile(&pipeline(indicators, segments, &data_file()));
    let prepared = peiling::prepare(&mut plan, &()).unwrap_or_else(|e| panic!("{e:?}"));
    let design = prepared.designs.into_iter().next().unwrap();
    (plan, design)
}

/// Compiles a pipeline text, written to `target/bench-data/`.
fn compile(spec: &str) -> Plan {
    let spec_path = bench_dir().join(format!("bench-{:016x}.toml", fnv(spec)));
    std::fs::write(&spec_path, spec).unwrap();
    spec::compile(&spec_path, &Overrides::default()).unwrap_or_else(|e| panic!("{e:?}"))
}

/// Compiles a pipeline text (written to `target/bench-data/`) and derives its first input.
pub fn derived(spec: &str) -> (Plan, DerivedFrame) {
    let mut plan = compile(spec);
    let derived = peiling::derive_inputs(&mut plan, &()).unwrap_or_else(|e| panic!("{e:?}"));
    (plan, derived.into_iter().next().unwrap())
}

/// A stable name for a pipeline text.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// The table book of the estimation and nightly benchmarks: 50 indicators: proportions, means, totals, ratios over the care items, in several
/// populations (quantiles have their own, sorting pass and are not part of the budget).
pub fn fifty_indicators() -> String {
    let mut out = String::new();
    let mut push = |id: String, kind: &str, population: Option<String>, value: String| {
        out.push_str(&format!(
            "[[indicator]]\nid = \"{id}\"\nlabel = \"{id}\"\nkind = \"{kind}\"\n"
        ));
        if let Some(p) = population {
            out.push_str(&format!("population = \"{p}\"\n"));
        }
        if kind == "ratio" {
            out.push_str(&format!(
                "numerator = \"{value}\"\ndenominator = \"uren_pw\"\n\n"
            ));
        } else {
            out.push_str(&format!("value = \"{value}\"\n\n"));
        }
    };
    push(
        "mantelzorger".into(),
        "proportion",
        None,
        "mantelzorger = 1".into(),
    );
    push("mantelzorgers".into(), "total", None, "mantelzorger".into());
    for level in 2..=5 {
        push(
            format!("belasting_{level}"),
            "proportion",
            Some("belasting IS NOT NULL".into()),
            format!("belasting >= {level}"),
        );
    }
    for hours in [2, 4, 8, 12, 16, 20, 24, 32, 40, 60] {
        push(
            format!("uren_{hours}"),
            "proportion",
            Some("mantelzorger = 1".into()),
            format!("uren_pw >= {hours}"),
        );
    }
    for age in 1..=6 {
        push(
            format!("uren_mean_{age}"),
            "mean",
            Some(format!("mantelzorger = 1 AND leeftijd_cat = {age}")),
            "uren_pw".into(),
        );
        push(
            format!("respijt_{age}"),
            "proportion",
            Some(format!("respijt IS NOT NULL AND leeftijd_cat = {age}")),
            "respijt = 1".into(),
        );
        push(
            format!("mantelzorger_{age}"),
            "proportion",
            Some(format!("leeftijd_cat = {age}")),
            "mantelzorger = 1".into(),
        );
    }
    for sex in 1..=2 {
        push(
            format!("overbelast_{sex}"),
            "proportion",
            Some(format!("belasting IS NOT NULL AND geslacht = {sex}")),
            "belasting >= 4".into(),
        );
        push(
            format!("uren_total_{sex}"),
            "total",
            Some(format!("mantelzorger = 1 AND geslacht = {sex}")),
            "uren_pw".into(),
        );
    }
    for level in 1..=5 {
        push(
            format!("respijt_belasting_{level}"),
            "proportion",
            Some(format!("respijt IS NOT NULL AND belasting = {level}")),
            "respijt = 1".into(),
        );
        push(
            format!("uren_belasting_{level}"),
            "mean",
            Some(format!("belasting = {level}")),
            "uren_pw".into(),
        );
    }
    push(
        "respijt_per_uur".into(),
        "ratio",
        Some("mantelzorger = 1".into()),
        "respijt".into(),
    );
    push(
        "belasting_per_uur".into(),
        "ratio",
        Some("mantelzorger = 1".into()),
        "belasting".into(),
    );
    let count = out.matches("[[indicator]]").count();
    assert_eq!(count, 50, "{count} indicators");
    out
}

pub const SIX_SEGMENTATIONS: &str = r#"total = true
by = [["gemeente"], ["ggd_regio"], ["provincie"], ["leeftijd_cat"], ["geslacht", "leeftijd_cat"]]"#;

/// The columns [`polars_share_by_municipality`] reads, from a wave's data as validated (the
/// design's analysis frame keeps only the columns the estimates read).
pub fn baseline_frame(design: &peiling::weight::SurveyDesign) -> DataFrame {
    design
        .data
        .coded
        .select(["gemeente", "mantelzorger", "gewicht"])
        .unwrap()
}

/// The baseline of one pass over the data: polars' weighted `group_by(gemeente)` of the share
/// `mantelzorger = 1` (point estimates only).
pub fn polars_share_by_municipality(frame: &DataFrame) -> DataFrame {
    frame
        .clone()
        .lazy()
        .group_by([col("gemeente")])
        .agg([
            ((col("mantelzorger").eq(lit(1)).cast(DataType::Float64) * col("gewicht")).sum()
                / col("gewicht").sum())
            .alias("share"),
        ])
        .collect()
        .unwrap()
}
