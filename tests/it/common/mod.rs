//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use peiling::estimate;
use peiling::estimate::EstimateRow;
use peiling::spec::{self, Overrides, Plan};
use peiling::weight::SurveyDesign;
use polars::prelude::*;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads a Parquet file into a frame.
pub fn read_parquet(path: &Path) -> DataFrame {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    ParquetReader::new(file).finish().unwrap()
}

pub const TOLERANCE: f64 = 1e-9;

/// The plan of a pipeline file and the design of its first input (or of `wave`), with the
/// number of accepted rows.
pub fn plan_and_design(spec: &Path, wave: Option<i32>) -> (Plan, SurveyDesign, usize) {
    plan_and_design_with(spec, wave, |_| ())
}

/// As [`plan_and_design`], with the plan changed by `adjust` first.
pub fn plan_and_design_with(
    spec: &Path,
    wave: Option<i32>,
    adjust: impl FnOnce(&mut Plan),
) -> (Plan, SurveyDesign, usize) {
    let mut plan = spec::compile(spec, &Overrides::default()).unwrap();
    adjust(&mut plan);
    // One input: the first, or `wave`'s.
    match wave {
        Some(wave) => plan.inputs.retain(|input| input.wave == wave.into()),
        None => plan.inputs.truncate(1),
    }
    let prepared = peiling::prepare(&mut plan, &()).unwrap_or_else(|e| panic!("{e:?}"));
    let accepted = prepared.rows_accepted();
    let design = prepared.designs.into_iter().next().unwrap();
    (plan, design, accepted)
}

/// The unpublished estimates of one wave of a pipeline, and the number of accepted rows.
pub fn peiling_estimates(spec_file: &str, wave: Option<i32>) -> (Vec<EstimateRow>, usize) {
    peiling_estimates_with(spec_file, wave, |_| ())
}

/// As [`peiling_estimates`], with the plan changed by `adjust` first.
pub fn peiling_estimates_with(
    spec_file: &str,
    wave: Option<i32>,
    adjust: impl FnOnce(&mut Plan),
) -> (Vec<EstimateRow>, usize) {
    let (plan, design, accepted) = plan_and_design_with(&root().join(spec_file), wave, adjust);
    (estimate::all(&[design], &plan).unwrap().rows, accepted)
}

/// A reference CSV (path from the repository root) with every column as text.
pub fn read_reference(name: &str) -> DataFrame {
    let path = root().join(name);
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path))
        .unwrap()
        .finish()
        .unwrap()
}

pub fn text(frame: &DataFrame, column: &str, row: usize) -> String {
    frame
        .column(column)
        .unwrap()
        .str()
        .unwrap()
        .get(row)
        .unwrap_or("NA")
        .to_string()
}

/// R writes non-finite values (an interval R cannot give, `deff` of unscaled weights) as NA.
pub fn number(frame: &DataFrame, column: &str, row: usize) -> Option<f64> {
    text(frame, column, row).parse::<f64>().ok()
}

pub fn assert_close(what: &str, ours: Option<f64>, r: Option<f64>) {
    if let Some(problem) = difference(what, ours, r) {
        panic!("{problem}");
    }
}

/// `None` when peiling and R agree to [`TOLERANCE`] relative (or 1e-14 absolute, for values
/// that are 0 up to rounding); otherwise what differs.
pub fn difference(what: &str, ours: Option<f64>, r: Option<f64>) -> Option<String> {
    difference_above(what, ours, r, 1e-14)
}

/// As [`difference`], with values closer than `floor` agreeing: an SE that is 0 up to the
/// rounding of its estimate (R gives 1e-13 where the exact value is 0).
pub fn difference_above(
    what: &str,
    ours: Option<f64>,
    r: Option<f64>,
    floor: f64,
) -> Option<String> {
    match (ours, r) {
        (None, None) => None,
        (Some(a), Some(b)) => {
            let scale = a.abs().max(b.abs());
            let close = (a - b).abs() <= TOLERANCE * scale || (a - b).abs() < floor.max(1e-14);
            (!close).then(|| format!("{what}: peiling {a:.17e} vs R {b:.17e}"))
        }
        _ => Some(format!("{what}: peiling {ours:?} vs R {r:?}")),
    }
}

/// The `peiling` binary.
pub fn peiling() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("peiling").unwrap()
}

/// Runs `peiling <args> spec.toml --quiet` in a scratch folder holding a copy of the
/// Dementiemonitor schema (`schemas/dementiemonitor.schema.toml`), the spec and the given
/// files. Returns the folder (so outputs can be read) and the process output.
pub fn in_scratch<T: AsRef<[u8]>>(
    command: &str,
    spec: &str,
    files: &[(&str, T)],
) -> (tempfile::TempDir, std::process::Output) {
    in_scratch_with(command, &[], spec, files)
}

/// [`in_scratch`] with more arguments after `--quiet`.
pub fn in_scratch_with<T: AsRef<[u8]>>(
    command: &str,
    arguments: &[&str],
    spec: &str,
    files: &[(&str, T)],
) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("schemas")).unwrap();
    std::fs::copy(
        root().join("schemas/dementiemonitor.schema.toml"),
        dir.path().join("schemas/dementiemonitor.schema.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("spec.toml"), spec).unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let output = peiling()
        .current_dir(dir.path())
        .args([command, "spec.toml", "--quiet"])
        .args(arguments)
        .output()
        .unwrap();
    (dir, output)
}

/// [`in_scratch`] for a run that must fail: returns (exit code, stderr) after checking that
/// no output folder was left.
pub fn run_in_scratch<T: AsRef<[u8]>>(spec: &str, files: &[(&str, T)]) -> (i32, String) {
    let (dir, output) = in_scratch("run", spec, files);
    assert!(
        !dir.path().join("output").exists(),
        "a failed run must not leave output"
    );
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

/// A one-indicator spec over `data.csv` with the Dementiemonitor schema, for [`in_scratch`].
pub const MINIMAL_SPEC: &str = r#"[pipeline]
name = "t"

[[input]]
wave = 2024
path = "data.csv"
schema = "schemas/dementiemonitor.schema.toml"

[[indicator]]
id = "overbelast"
label = "Overbelast"
kind = "proportion"
value = "belasting >= 4"
"#;

/// The first rows of the committed 2024 wave.
pub fn sample_rows(n: usize) -> String {
    let text =
        std::fs::read_to_string(root().join("sample-data/dementiemonitor-2024.csv")).unwrap();
    text.lines().take(n + 1).map(|l| format!("{l}\n")).collect()
}
