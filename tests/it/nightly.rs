//! The nightly benchmark's comparison (`benches/nightly/results.rs`) on recorded result files
//! (`tests/fixtures/bench/`): two real runs of `benches/nightly.sh` in a row, and the second
//! with every figure made 30% slower.

#[path = "../../benches/nightly/results.rs"]
mod results;

use std::path::PathBuf;

use results::{compare, rebased, regressed_sizes, report, Results, THRESHOLDS};

fn recorded(name: &str) -> Results {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bench")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_second_run_within_noise_is_no_regression() {
    let findings = compare(&recorded("run-1.json"), &recorded("run-2.json"), THRESHOLDS);
    // Every figure with a baseline and above the floor, and the peak RSS of each size.
    assert!(findings.len() >= 20, "{} figures", findings.len());
    assert!(findings.iter().any(|f| f.name == "e2e/10000000/wall"));
    assert!(findings
        .iter()
        .any(|f| f.name == "e2e/10000000" && f.unit == "MB"));
    assert!(
        findings.iter().all(|f| !f.regression),
        "{}",
        report(&findings)
    );
    assert!(report(&findings).contains("\nno regression ("));
}

#[test]
fn a_run_thirty_percent_slower_is_a_regression() {
    let findings = compare(
        &recorded("run-2.json"),
        &recorded("slower.json"),
        THRESHOLDS,
    );
    let times: Vec<_> = findings.iter().filter(|f| f.unit == "ratio").collect();
    assert!(times.len() >= 20, "{} figures", times.len());
    // Every time 30% up, memory unchanged.
    assert!(times.iter().all(|f| f.regression), "{}", report(&findings));
    assert!(findings
        .iter()
        .filter(|f| f.unit == "MB")
        .all(|f| !f.regression));
    assert!(report(&findings).contains(&format!("{} regression(s)", times.len())));
}

/// `results` with every time multiplied by `factor`: the baseline too (a slower machine) or not
/// (a slower peiling).
fn slowed(results: &Results, factor: f64, baseline_too: bool) -> Results {
    let mut slowed = results.clone();
    for (name, seconds) in slowed.seconds.iter_mut() {
        if baseline_too || name != "ingest/polars_bare_read" {
            *seconds *= factor;
        }
    }
    slowed
}

fn assert_no_regression(before: &Results, after: &Results) {
    let findings = compare(before, after, THRESHOLDS);
    assert!(
        findings.iter().all(|f| !f.regression),
        "{}",
        report(&findings)
    );
}

#[test]
fn ten_percent_slower_is_within_noise() {
    let before = recorded("run-2.json");
    assert_no_regression(&before, &slowed(&before, 1.1, false));
}

#[test]
fn a_slower_machine_is_not_a_regression() {
    // Everything, baselines included, 50% slower: the ratios do not move.
    let before = recorded("run-1.json");
    assert_no_regression(&before, &slowed(&before, 1.5, true));
}

#[test]
fn more_memory_is_a_regression() {
    let before = recorded("run-1.json");
    let mut after = before.clone();
    *after.peak_rss_mb.get_mut("e2e/1000000").unwrap() *= 1.2;
    let findings = compare(&before, &after, THRESHOLDS);
    let regressions: Vec<&str> = findings
        .iter()
        .filter(|f| f.regression)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(regressions, ["e2e/1000000"]);
}

#[test]
fn stages_of_a_few_milliseconds_are_not_compared() {
    let before = recorded("run-1.json");
    let mut after = before.clone();
    // `compile` takes about a millisecond: doubling it is noise, not a regression.
    *after.seconds.get_mut("e2e/1000000/compile").unwrap() *= 2.0;
    let findings = compare(&before, &after, THRESHOLDS);
    assert!(findings.iter().all(|f| f.name != "e2e/1000000/compile"));
}

#[test]
fn divan_tables_are_read_with_their_groups() {
    let table = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bench/divan-estimation.txt"),
    )
    .unwrap();
    let fastest = results::divan_fastest("estimation", &table);
    let names: Vec<&str> = fastest.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "estimation/one_share_by_municipality",
            "estimation/polars_bare_share",
            "estimation/table_book",
            "estimation/table_book_threads/1",
            "estimation/table_book_threads/2",
        ]
    );
    let close = |name: &str, seconds: f64| (fastest[name] / seconds - 1.0).abs() < 1e-12;
    assert!(close("estimation/one_share_by_municipality", 10.71e-3));
    assert!(close("estimation/table_book", 740.8e-3));
    assert!(close("estimation/table_book_threads/1", 1.207));
    assert!(close("estimation/table_book_threads/2", 679.7e-3));
}

#[test]
fn a_figure_against_another_baseline_is_not_compared() {
    // The end-to-end wall time measured against the read of its own file (timed beside the
    // runs) in the current run, against the ingest suite's read in the previous one: a ratio to
    // another yardstick, not a change of speed. Doubled, it is left out and named.
    let before = recorded("run-1.json");
    let mut after = before.clone();
    let wall = "e2e/1000000/wall";
    after
        .baselines
        .insert(wall.to_string(), "e2e/1000000/polars_bare_read".to_string());
    *after.seconds.get_mut(wall).unwrap() *= 2.0;
    let findings = compare(&before, &after, THRESHOLDS);
    assert!(findings.iter().all(|f| f.name != wall && !f.regression));
    assert_eq!(rebased(&before, &after), [wall]);
    assert!(rebased(&before, &before).is_empty());
    // With the same baseline in both runs it is compared, and regresses.
    let mut before_rebased = before.clone();
    before_rebased.baselines = after.baselines.clone();
    let findings = compare(&before_rebased, &after, THRESHOLDS);
    assert!(findings.iter().any(|f| f.name == wall && f.regression));
}

/// A size whose end-to-end figures regressed is measured again; those of a divan suite are not.
#[test]
fn regressed_end_to_end_sizes_are_named() {
    let before = recorded("run-1.json");
    let mut after = before.clone();
    *after.seconds.get_mut("e2e/10000000/wall").unwrap() *= 1.3;
    *after.peak_rss_mb.get_mut("e2e/1000000").unwrap() *= 1.2;
    let findings = compare(&before, &after, THRESHOLDS);
    assert_eq!(regressed_sizes(&findings), [1_000_000, 10_000_000]);

    let divan = before
        .seconds
        .keys()
        .find(|name| {
            !name.starts_with("e2e/")
                && before.ratio(name).is_some()
                && before.seconds[*name] > THRESHOLDS.floor_seconds
        })
        .unwrap()
        .clone();
    let mut after = before.clone();
    *after.seconds.get_mut(&divan).unwrap() *= 1.5;
    let findings = compare(&before, &after, THRESHOLDS);
    assert!(findings.iter().any(|f| f.regression && f.name == divan));
    assert!(regressed_sizes(&findings).is_empty());
}

/// A result with the end-to-end figures' chain of baselines: the wall time and the charts
/// against the read of the same file, that read against the ingest suite's.
fn chained(read: f64, wall: f64, charts: f64) -> Results {
    let mut results = recorded("run-1.json");
    results.seconds.clear();
    results.baselines.clear();
    let figures = [
        ("ingest/polars_bare_read", 0.1, None),
        (
            "e2e/1000000/polars_bare_read",
            read,
            Some("ingest/polars_bare_read"),
        ),
        (
            "e2e/1000000/wall",
            wall,
            Some("e2e/1000000/polars_bare_read"),
        ),
        (
            "e2e/1000000/output/charts",
            charts,
            Some("e2e/1000000/polars_bare_read"),
        ),
    ];
    for (name, seconds, baseline) in figures {
        results.seconds.insert(name.into(), seconds);
        if let Some(baseline) = baseline {
            results.baselines.insert(name.into(), baseline.into());
        }
    }
    results
}

/// The names of the figures `findings` count as regressed.
fn regressed(findings: &[results::Finding]) -> Vec<String> {
    findings
        .iter()
        .filter(|f| f.regression)
        .map(|f| f.name.clone())
        .collect()
}

/// A regression counts only if the second measurement of its size finds it too: a slow first
/// measurement the second does not repeat is not counted (and named), one it repeats is, and a
/// figure only the second measurement finds slower is not (run 34: the 10M GGD ratio +17% in
/// the second measurement, after the 10M report step in the first).
#[test]
fn a_regression_counts_when_a_second_measurement_confirms_it() {
    let (read, wall, charts) = (
        "e2e/1000000/polars_bare_read",
        "e2e/1000000/wall",
        "e2e/1000000/output/charts",
    );
    let before = chained(0.1, 1.8, 0.7);
    // A slow minute: the read 30% slower, the wall 50%; the charts 30% slower against the read.
    let first = chained(0.13, 2.7, 1.19);
    let mut findings = compare(&before, &first, THRESHOLDS);
    assert_eq!(regressed(&findings), [charts, read, wall]);
    // Once more (without the ingest suite's read): the read and the wall as before, the charts
    // 30% slower again, and the charts' own ratio ...
    let mut again = first.empty_like();
    assert!(again.seconds.is_empty() && again.peak_rss_mb.is_empty());
    assert_eq!((&again.date, &again.commit), (&first.date, &first.commit));
    for (name, seconds) in chained(0.1, 1.8, 0.91).seconds {
        if name != "ingest/polars_bare_read" {
            again.seconds.insert(name, seconds);
        }
    }
    again.baselines = first.baselines.clone();
    let mut merged = first.clone();
    merged.measured_again(&again);
    for (name, seconds) in &again.seconds {
        assert_eq!(merged.seconds[name], *seconds, "{name}");
    }
    assert_eq!(merged.seconds["ingest/polars_bare_read"], 0.1);
    // ... and the wall only in the second measurement 50% slower.
    let second = compare(&before, &merged, THRESHOLDS);
    let mut later = chained(0.1, 2.7, 0.91);
    later.seconds.remove("ingest/polars_bare_read");
    let mut only_second = before.clone();
    only_second.measured_again(&later);

    let unconfirmed = results::unconfirmed(&mut findings, &second, |_| true);
    assert_eq!(unconfirmed, [read, wall]);
    assert_eq!(regressed(&findings), [charts]);

    let mut quiet = compare(&before, &before, THRESHOLDS);
    let named = results::unconfirmed(
        &mut quiet,
        &compare(&before, &only_second, THRESHOLDS),
        |_| true,
    );
    assert!(named.is_empty());
    assert!(regressed(&quiet).is_empty());

    // A second measurement judges only what it measured again.
    let mut findings = compare(&before, &first, THRESHOLDS);
    let named = results::unconfirmed(&mut findings, &second, |name| name == wall);
    assert_eq!(named, [wall]);
    assert_eq!(regressed(&findings), [charts, read]);
}

/// A figure counts as regressed only if it is slower than the run before the previous too: a
/// previous run whose read of the wave beside its runs was slow (its other figures fast
/// against it) makes the next look slower, and a regression against both runs stays.
#[test]
fn a_regression_counts_against_the_run_before_the_previous_too() {
    let older = chained(0.1, 1.8, 0.7);
    // A slow read beside the previous run: every figure 25% faster against it.
    let previous = chained(0.125, 1.8, 0.7);
    let current = chained(0.1, 1.8, 0.72);
    let mut findings = compare(&previous, &current, THRESHOLDS);
    assert_eq!(
        regressed(&findings),
        ["e2e/1000000/output/charts", "e2e/1000000/wall"]
    );
    let cleared = results::against_older(&mut findings, &older, &current);
    assert_eq!(cleared, ["e2e/1000000/output/charts", "e2e/1000000/wall"]);
    assert!(regressed(&findings).is_empty());

    // The charts 30% slower against both.
    let slower = chained(0.1, 1.8, 0.91);
    let mut findings = compare(&previous, &slower, THRESHOLDS);
    let cleared = results::against_older(&mut findings, &older, &slower);
    assert_eq!(cleared, ["e2e/1000000/wall"]);
    assert_eq!(regressed(&findings), ["e2e/1000000/output/charts"]);
}

/// The divan figures' baseline is the fastest of the reads of the 1M wave: a slow ingest-suite
/// read (run 35: 0.152 s against 0.100 s beside the end-to-end runs) no longer makes every
/// divan figure look 35% faster, and the next run's 35% slower.
#[test]
fn the_baseline_is_the_fastest_read_of_the_wave() {
    let reads = ["ingest/polars_bare_read", "e2e/1000000/polars_bare_read"];
    let run = |ingest_read: f64, table_book: f64| {
        let mut results = chained(0.1, 1.8, 0.7);
        results.seconds.insert(reads[0].into(), ingest_read);
        results
            .seconds
            .insert("estimation/table_book".into(), table_book);
        results
            .baselines
            .insert("estimation/table_book".into(), reads[0].into());
        results::rebase_on_fastest(&mut results, reads[0], &reads[1..], "read_1m_fastest");
        results
    };
    let slow_read = run(0.152, 0.048);
    assert_eq!(slow_read.seconds["read_1m_fastest"], 0.1);
    assert_eq!(
        slow_read.baselines["estimation/table_book"],
        "read_1m_fastest"
    );
    assert_eq!(
        slow_read.baselines["e2e/1000000/polars_bare_read"],
        "read_1m_fastest"
    );
    assert_eq!(slow_read.baselines["e2e/1000000/wall"], reads[1]);
    assert!((slow_read.ratio("estimation/table_book").unwrap() - 0.48).abs() < 1e-12);
    let next = run(0.113, 0.048);
    assert_no_regression(&slow_read, &next);
    assert_no_regression(&next, &slow_read);
}
