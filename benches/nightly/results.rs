//! The nightly benchmark's result file (`output/bench/<date>.json`), the parsing of divan's
//! tables into it, and the comparison of two result files.
//!
//! Times are compared as **ratios against a baseline measured in the same run** (polars' bare
//! CSV read; for the end-to-end figures the read of the same file timed beside them): a busy
//! or slower machine slows the baseline as much as the figure, and the ratio stays put. A figure regresses when its ratio grows by more than
//! [`Thresholds::time`]; peak memory (which machine load does not change) when it grows by more
//! than [`Thresholds::memory`]. Shared by `benches/nightly.rs` and `tests/it/nightly.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One nightly run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// When it ran, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub date: String,
    pub commit: String,
    pub machine: Machine,
    /// Seconds per timed figure, by name (`ingest/polars_bare_read`, `e2e/1000000/wall`, ...).
    pub seconds: BTreeMap<String, f64>,
    /// Each figure's baseline: the name of a figure in `seconds`. Baselines have none.
    pub baselines: BTreeMap<String, String>,
    /// Peak resident memory of the end-to-end runs, MB, by name (`e2e/1000000`).
    pub peak_rss_mb: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu: String,
    pub memory_gb: f64,
}

impl Results {
    /// A figure's time relative to its baseline in the same run.
    pub fn ratio(&self, name: &str) -> Option<f64> {
        let baseline = self.baselines.get(name)?;
        Some(self.seconds.get(name)? / self.seconds.get(baseline)?)
    }
}

impl Results {
    /// A result of the same run (date, commit, machine) without figures, for a second
    /// measurement of some of them.
    pub fn empty_like(&self) -> Results {
        Results {
            seconds: BTreeMap::new(),
            baselines: BTreeMap::new(),
            peak_rss_mb: BTreeMap::new(),
            ..self.clone()
        }
    }

    /// Puts a second measurement of some figures (`again`: the divan suites' second run, or one
    /// size's end-to-end figures measured again, by the same code in the same session) in place
    /// of the first: its times, baselines and peak RSS as measured, each figure's ratio that of
    /// one measurement.
    pub fn measured_again(&mut self, again: &Results) {
        self.seconds
            .extend(again.seconds.iter().map(|(k, v)| (k.clone(), *v)));
        self.baselines
            .extend(again.baselines.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.peak_rss_mb
            .extend(again.peak_rss_mb.iter().map(|(k, v)| (k.clone(), *v)));
    }
}

/// Adds the figure `name`, the fastest of `read` and `same` (timings of one operation, such as
/// polars' read of the 1M wave in the ingest suite and beside the end-to-end runs), and
/// measures against it every figure measured against `read`. One timing of a baseline can be a
/// slow minute's: in run 35 the ingest suite's read took 0.152 s, the reads of the same file
/// beside the end-to-end runs 0.100 s, and every divan figure looked 35% faster than it was
/// (and 35% slower in run 36).
pub fn rebase_on_fastest(results: &mut Results, read: &str, same: &[&str], name: &str) {
    let Some(fastest) = std::iter::once(read)
        .chain(same.iter().copied())
        .filter_map(|timing| results.seconds.get(timing).copied())
        .reduce(f64::min)
    else {
        return;
    };
    results.seconds.insert(name.to_string(), fastest);
    for baseline in results.baselines.values_mut() {
        if baseline == read {
            *baseline = name.to_string();
        }
    }
}

/// Counts a regression of `findings` only where `second` (the same comparison with some figures
/// measured again) finds it too, and names those it no longer counts. A figure that only one
/// measurement finds slower is this machine's noise (runs 26-30 flagged 1 to 12 figures on
/// untouched code); taking the better of two measurements per figure is not the same: run 33's
/// GGD ratio came out 0.92x from a measurement in which DuckDB took 0.34 s instead of 0.27 s.
/// Only figures `measured_again` names are judged by `second`.
pub fn unconfirmed(
    findings: &mut [Finding],
    second: &[Finding],
    measured_again: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut names = Vec::new();
    for finding in findings
        .iter_mut()
        .filter(|f| f.regression && measured_again(&f.name))
    {
        let again = second
            .iter()
            .find(|f| f.name == finding.name && f.unit == finding.unit);
        if again.is_some_and(|f| !f.regression) {
            finding.regression = false;
            names.push(finding.name.clone());
        }
    }
    names
}

/// Counts a regression of `findings` (against the previous run) only where `current` regressed
/// against `older`, the run before that, too, and names those it no longer counts. A figure
/// the previous run measured in a slow minute of its own looks regressed in the next run, and
/// a second measurement of the next run repeats that: run 43's table book step +20% against run
/// 42, whose read of the 1M wave beside it had taken 0.115 s against 0.099–0.102 s in the
/// runs around it (the step itself took 0.158–0.176 s in all six runs). A real regression is
/// one against both. A figure `older` does not have, or has against another baseline, counts
/// as found.
pub fn against_older(findings: &mut [Finding], older: &Results, current: &Results) -> Vec<String> {
    unconfirmed(findings, &compare(older, current, THRESHOLDS), |_| true)
}

/// The row counts of the end-to-end figures (`e2e/<rows>/...`, and the peak RSS `e2e/<rows>`)
/// among `findings` that regressed, in order.
pub fn regressed_sizes(findings: &[Finding]) -> Vec<usize> {
    let mut sizes: Vec<usize> = findings
        .iter()
        .filter(|f| f.regression)
        .filter_map(|f| f.name.strip_prefix("e2e/"))
        .filter_map(|rest| rest.split('/').next()?.parse().ok())
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// How much worse than the previous run counts as a regression rather than noise.
#[derive(Debug, Clone, Copy)]
pub struct Thresholds {
    /// Relative growth of a time ratio.
    pub time: f64,
    /// Relative growth of a peak RSS.
    pub memory: f64,
    /// Figures shorter than this in both runs are not compared: a few milliseconds move by
    /// more than any threshold from one run to the next.
    pub floor_seconds: f64,
}

/// The default noise thresholds: between runs on the same 2-core machine the ratios moved by
/// up to the figures in `benches/README.md` ("Nightly"); 15% leaves room for that and catches
/// a 30% slowdown.
pub const THRESHOLDS: Thresholds = Thresholds {
    time: 0.15,
    memory: 0.10,
    floor_seconds: 0.05,
};

/// One figure of two runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub name: String,
    /// `ratio` (time against its baseline) or `MB` (peak RSS).
    pub unit: &'static str,
    pub previous: f64,
    pub current: f64,
    pub regression: bool,
}

impl Finding {
    /// Relative change, `current / previous - 1`.
    pub fn change(&self) -> f64 {
        self.current / self.previous - 1.0
    }
}

/// Every figure both runs have against the same baseline, previous against current, in name
/// order (a ratio to another baseline is another measure: see [`rebased`]).
pub fn compare(previous: &Results, current: &Results, thresholds: Thresholds) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, baseline) in &current.baselines {
        if rebased_figure(previous, name, baseline) {
            continue;
        }
        let short = |r: &Results| {
            r.seconds
                .get(name)
                .is_none_or(|&s| s < thresholds.floor_seconds)
        };
        if short(previous) && short(current) {
            continue;
        }
        if let (Some(before), Some(now)) = (previous.ratio(name), current.ratio(name)) {
            findings.push(Finding {
                name: name.clone(),
                unit: "ratio",
                previous: before,
                current: now,
                regression: now > before * (1.0 + thresholds.time),
            });
        }
    }
    for (name, &now) in &current.peak_rss_mb {
        if let Some(&before) = previous.peak_rss_mb.get(name) {
            findings.push(Finding {
                name: name.clone(),
                unit: "MB",
                previous: before,
                current: now,
                regression: now > before * (1.0 + thresholds.memory),
            });
        }
    }
    findings
}

/// The figures both runs have whose baseline changed between them, which [`compare`] leaves out.
pub fn rebased(previous: &Results, current: &Results) -> Vec<String> {
    current
        .baselines
        .iter()
        .filter(|(name, baseline)| rebased_figure(previous, name, baseline))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Whether `previous` measured the figure `name` against another baseline than `baseline`.
fn rebased_figure(previous: &Results, name: &str, baseline: &str) -> bool {
    previous.baselines.get(name).is_some_and(|b| b != baseline)
}

/// A readable table of the findings, one line each, and the verdict.
pub fn report(findings: &[Finding]) -> String {
    let mut lines: Vec<String> = findings
        .iter()
        .map(|f| {
            format!(
                "{:<44} {:>10.3} -> {:>10.3} {:<5} {:>+7.1}%{}",
                f.name,
                f.previous,
                f.current,
                f.unit,
                100.0 * f.change(),
                if f.regression { "  REGRESSION" } else { "" }
            )
        })
        .collect();
    let regressions = findings.iter().filter(|f| f.regression).count();
    lines.push(if regressions == 0 {
        format!("no regression ({} figures compared)", findings.len())
    } else {
        format!("{regressions} regression(s) of {} figures", findings.len())
    });
    lines.join("\n")
}

/// The fastest sample of every bench of a divan table, in seconds, by `<target>/<bench>` (and
/// `/<arg>` for benches with arguments). The fastest sample is the least disturbed by whatever
/// else the machine does: on a 2-core machine the medians of short benches moved by up to 40%
/// between two runs, their minima by 5%. Lines without times (group headers) name the group
/// of the lines below.
pub fn divan_fastest(target: &str, table: &str) -> BTreeMap<String, f64> {
    let mut fastest_times = BTreeMap::new();
    // The group names by depth of the tree drawing.
    let mut groups: Vec<String> = Vec::new();
    for line in table.lines().skip_while(|l| !l.starts_with(target)).skip(1) {
        let Some(start) = line.find(|c: char| c.is_ascii_alphanumeric() || c == '_') else {
            continue;
        };
        // `├─ `, `   ╰─ `: three display columns per level of the tree.
        let depth = line[..start].chars().count() / 3;
        let rest = &line[start..];
        let first = rest.split('│').next().unwrap_or_default().trim();
        let (name, fastest) = match first.split_once(char::is_whitespace) {
            Some((name, value)) => (name, value.trim()),
            None => (first, ""),
        };
        groups.truncate(depth.saturating_sub(1));
        if fastest.is_empty() {
            groups.push(name.to_string());
            continue;
        }
        // name fastest │ slowest │ median │ mean │ samples │ iters
        let Some(seconds) = duration_seconds(fastest) else {
            continue;
        };
        let mut path = vec![target.to_string()];
        path.extend(groups.iter().cloned());
        path.push(name.to_string());
        fastest_times.insert(path.join("/"), seconds);
    }
    fastest_times
}

/// `86.9 ms`, `1.2 s`, `512 µs`, `40 ns` in seconds.
fn duration_seconds(text: &str) -> Option<f64> {
    let (value, unit) = text.trim().split_once(char::is_whitespace)?;
    let value: f64 = value.parse().ok()?;
    let scale = match unit.trim() {
        "s" => 1.0,
        "ms" => 1e-3,
        "µs" | "us" => 1e-6,
        "ns" => 1e-9,
        "ps" => 1e-12,
        _ => return None,
    };
    Some(value * scale)
}
