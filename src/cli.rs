//! Command line: argument parsing (clap), progress display and the exit status.
//! Results go to stdout; diagnostics and progress to stderr.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use peiling::diag::{self, catalog, Diagnostic, ExitStatus, Failure, LogFormat};
use peiling::output::folder;
use peiling::spec::Overrides;
use peiling::{generate, Outcome, Progress};

#[derive(Debug, Parser)]
#[command(
    name = "peiling",
    version,
    about = "Survey monitor pipeline: validate, weight, estimate with design-based SEs, protect, publish"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KindArg {
    Dementiemonitor,
    Gezondheidsmonitor,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole pipeline of a spec.
    Run {
        /// Pipeline file (pipelines/*.toml).
        spec: PathBuf,
        /// Output folder (default: [output] dir of the spec).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// No progress or summary on stderr.
        #[arg(long)]
        quiet: bool,
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormatArg,
    },
    /// Ingest and validate only; writes private/rejects.parquet and manifest.json.
    Validate {
        spec: PathBuf,
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        quiet: bool,
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormatArg,
    },
    /// Check a pipeline file, its schema, margins and SQL without reading the data: every
    /// problem at once, exit 1 on any.
    Check {
        /// Pipeline file (pipelines/*.toml).
        spec: PathBuf,
        /// Output folder to check as `run` would (default: [output] dir of the spec).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        log_format: LogFormatArg,
    },
    /// Draft a schema and a pipeline from an export (.sav/.zsav, CSV or Parquet).
    Init {
        /// The export.
        file: PathBuf,
        /// The survey's name, for schemas/NAME.schema.toml and pipelines/NAME.toml (default:
        /// from the file name).
        #[arg(long)]
        name: Option<String>,
        /// Folder to write schemas/ and pipelines/ into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Replace the files if they exist (otherwise an existing file stops the command).
        #[arg(long)]
        force: bool,
    },
    /// Profile an export: columns, types, code frequencies, missingness.
    Describe {
        file: PathBuf,
        /// Schema whose value labels to show.
        #[arg(long)]
        schema: Option<PathBuf>,
    },
    /// Write a deterministic synthetic wave.
    Generate {
        #[arg(long, value_enum)]
        kind: KindArg,
        /// Rows (default: the published sample size of the wave).
        #[arg(long)]
        rows: Option<usize>,
        /// Random seed (default: the wave).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        wave: i32,
        /// CSV file to write.
        #[arg(long)]
        out: PathBuf,
        /// Leave out the deliberate defects that exercise the validator.
        #[arg(long)]
        no_defects: bool,
        /// Also write illustrative raking margins to this file.
        #[arg(long)]
        margins: Option<PathBuf>,
        /// Replace the files if they exist (otherwise an existing file stops the command).
        #[arg(long)]
        force: bool,
    },
}

/// The run's progress on a terminal: a spinner with the stage's name and elapsed time, and for
/// stages of countable steps a bar with the steps done and the time left. Silent with `--quiet` or
/// when stderr is not a terminal.
struct Spinner(Option<ProgressBar>);

const SPINNER: &str = "{spinner} {elapsed:>4} {msg}";
const BAR: &str = "{spinner} {elapsed:>4} {msg} [{bar:30}] {pos}/{len}, {eta} left";

impl Spinner {
    fn new(quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Spinner(None);
        }
        let bar = ProgressBar::new_spinner();
        bar.set_style(style(SPINNER));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(Some(bar))
    }

    fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .progress_chars("=> ")
}

impl Progress for Spinner {
    fn stage(&self, name: &str) {
        if let Some(bar) = &self.0 {
            bar.set_style(style(SPINNER));
            bar.set_message(name.to_string());
        }
    }

    fn steps(&self, unit: &str, total: u64) {
        if let Some(bar) = &self.0 {
            bar.set_style(style(BAR));
            bar.set_length(total);
            bar.set_position(0);
            bar.reset_eta();
            bar.set_message(unit.to_string());
        }
    }

    fn step(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (status, diagnostics, format) = match execute(cli) {
        Ok(format) => (ExitStatus::Success, Vec::new(), format),
        Err((failure, format)) => (failure.status, failure.diagnostics, format),
    };
    diag::emit(&diagnostics, format);
    ExitCode::from(status as u8)
}

fn log_format(arg: LogFormatArg) -> LogFormat {
    match arg {
        LogFormatArg::Human => LogFormat::Human,
        LogFormatArg::Json => LogFormat::Json,
    }
}

type CliResult = Result<LogFormat, (Failure, LogFormat)>;

fn execute(cli: Cli) -> CliResult {
    match cli.command {
        Command::Run {
            spec,
            out,
            threads,
            quiet,
            log_format: format,
        } => {
            let format = log_format(format);
            if let Some(threads) = threads {
                set_threads(threads).map_err(|f| (f, format))?;
            }
            let spinner = Spinner::new(quiet);
            let result = peiling::run(&spec, &Overrides { out }, &spinner);
            spinner.finish();
            report(result, format, quiet)
        }
        Command::Validate {
            spec,
            out,
            quiet,
            log_format: format,
        } => {
            let format = log_format(format);
            let spinner = Spinner::new(quiet);
            let result = peiling::validate(&spec, &Overrides { out }, &spinner);
            spinner.finish();
            report(result, format, quiet)
        }
        Command::Check {
            spec,
            out,
            log_format: format,
        } => {
            let format = log_format(format);
            let plan =
                peiling::spec::compile(&spec, &Overrides { out }).map_err(|f| (f, format))?;
            print!("{}", check_summary(&plan));
            Ok(format)
        }
        Command::Init {
            file,
            name,
            out,
            force,
        } => {
            let options = peiling::init::Options {
                file,
                name,
                out,
                force,
            };
            let drafted = peiling::init::draft(&options).map_err(|f| (f, LogFormat::Human))?;
            println!(
                "peiling init: drafted from {} ({} rows, {} columns)\n  {}\n  {}\nNext: read the comments in both, then `peiling validate {}`",
                options.file.display(),
                drafted.rows,
                drafted.columns,
                drafted.schema.display(),
                drafted.pipeline.display(),
                drafted.pipeline.display()
            );
            Ok(LogFormat::Human)
        }
        Command::Describe { file, schema } => describe(&file, schema.as_deref())
            .map(|_| LogFormat::Human)
            .map_err(|f| (f, LogFormat::Human)),
        Command::Generate {
            kind,
            rows,
            seed,
            wave,
            out,
            no_defects,
            margins,
            force,
        } => {
            let options = generate::Options {
                kind: match kind {
                    KindArg::Dementiemonitor => generate::Kind::Dementiemonitor,
                    KindArg::Gezondheidsmonitor => generate::Kind::Gezondheidsmonitor,
                },
                rows: rows.unwrap_or_else(|| generate::default_rows(wave)),
                seed: seed.unwrap_or_else(|| generate::default_seed(wave)),
                wave,
                defects: !no_defects,
            };
            generate_wave(&options, &out, margins.as_deref(), force)
                .map(|_| LogFormat::Human)
                .map_err(|f| (f, LogFormat::Human))
        }
    }
}

/// Sizes rayon's pool and polars' (which reads POLARS_MAX_THREADS when it first starts).
fn set_threads(threads: usize) -> Result<(), Failure> {
    if threads == 0 {
        return Err(Diagnostic::error(catalog::C001, "--threads must be at least 1").into());
    }
    std::env::set_var("POLARS_MAX_THREADS", threads.to_string());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| {
            Failure::internal(
                Diagnostic::error(catalog::C002, "cannot size the thread pool").caused_by(e),
            )
        })
}

/// Prints warnings and the run summary; the summary is the result, so it goes to stdout.
fn report(result: Result<Outcome, Failure>, format: LogFormat, quiet: bool) -> CliResult {
    let outcome = result.map_err(|f| (f, format))?;
    if !quiet {
        diag::emit(&outcome.diagnostics, format);
    }
    let m = &outcome.manifest;
    println!("peiling {}: pipeline {}", m.peiling_version, m.pipeline);
    for input in &m.inputs {
        println!(
            "  wave {}: {} rows read, {} accepted, {} rejected",
            input.wave, input.rows_read, input.rows_accepted, input.rows_rejected
        );
    }
    if m.estimates > 0 {
        println!(
            "  {} indicators, {} estimates ({} suppressed)",
            m.indicators, m.estimates, m.suppressed
        );
    }
    if m.models > 0 {
        println!(
            "  {} model(s), {} coefficients ({} suppressed)",
            m.models, m.coefficients, m.coefficients_suppressed
        );
    }
    println!("  output: {}", outcome.out_dir.display());
    Ok(format)
}

/// What `peiling check` found in a pipeline that compiles: what a run would read and do.
fn check_summary(plan: &peiling::spec::Plan) -> String {
    let schema = &plan.schema;
    let waves: Vec<String> = plan.inputs.iter().map(|i| i.wave.to_string()).collect();
    let mut out = format!(
        "peiling check: pipeline {} is ready to run\n  schema {}: {} fields, {} rules",
        plan.name,
        schema.name,
        schema.fields.len(),
        schema.rules.len()
    );
    if !schema.primary_key.is_empty() {
        out.push_str(&format!(", primary key {}", schema.primary_key.join(" + ")));
    }
    out.push_str(&format!(
        "\n  {} input{} (wave {}), every file present\n  {} derived column{}, {} indicator{}, {} segmentation{}\n",
        plan.inputs.len(),
        plural(plan.inputs.len()),
        waves.join(", "),
        plan.derive.len(),
        plural(plan.derive.len()),
        plan.indicators.len(),
        plural(plan.indicators.len()),
        plan.segmentations.len(),
        plural(plan.segmentations.len()),
    ));
    if !plan.models.is_empty() {
        let models: Vec<String> = plan
            .models
            .iter()
            .map(|m| format!("{} ({}, {} terms)", m.id, m.family.as_str(), m.terms.len()))
            .collect();
        out.push_str(&format!("  models: {}\n", models.join(", ")));
    }
    let design = &plan.design;
    let parts: Vec<String> = [
        ("weight", &design.weight),
        ("strata", &design.strata),
        ("psu", &design.psu),
        ("fpc", &design.fpc),
    ]
    .into_iter()
    .filter_map(|(key, column)| column.as_ref().map(|c| format!("{key} {c}")))
    .collect();
    let design = match parts.is_empty() {
        true => "every row weighs 1, each its own PSU".to_string(),
        false => parts.join(", "),
    };
    out.push_str(&format!("  design: {design}\n"));
    if let Some(weighting) = &plan.weighting {
        let variables: BTreeSet<&str> = weighting
            .margins
            .iter()
            .flat_map(|(_, m)| m.variables.iter().map(|v| v.name.as_str()))
            .collect();
        out.push_str(&format!(
            "  weighting: {} to {}\n",
            weighting.method.as_str(),
            variables.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    out.push_str(&format!("  output: {}\n", plan.output.dir.display()));
    out
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}

fn describe(file: &std::path::Path, schema: Option<&std::path::Path>) -> Result<(), Failure> {
    let schema = schema.map(peiling::spec::schema::load).transpose()?;
    let (raw, _) = peiling::ingest::read_file(file)?;
    print!("{}", peiling::ingest::describe(&raw, schema.as_ref()));
    Ok(())
}

/// Writes a synthetic wave (and its margins); existing files only with `--force`.
fn generate_wave(
    options: &generate::Options,
    out: &std::path::Path,
    margins: Option<&std::path::Path>,
    force: bool,
) -> Result<(), Failure> {
    // Both files are checked before either is written.
    for path in std::iter::once(out).chain(margins) {
        folder::refuse_existing(path, force)?;
    }
    folder::write_file(out, |file| generate::write_csv(options, file))?;
    if let Some(path) = margins {
        folder::write_file(path, |file| generate::write_margins(options.wave, file))?;
    }
    Ok(())
}
