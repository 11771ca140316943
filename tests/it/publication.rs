//! What leaves a run, checked from the outside on the three sample waves: no public cell breaks
//! the disclosure rules, no suppressed cell can be recovered by subtraction, no public file
//! holds a respondent id, and the changes between waves agree with R `survey`.

use crate::common;

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use common::{
    difference, number, peiling, peiling_estimates, read_parquet, read_reference, root, text,
};
use polars::prelude::*;

/// The sample pipeline's output, written once for all tests of this file.
fn sample_output() -> &'static Path {
    static OUTPUT: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, out) = OUTPUT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        peiling()
            .current_dir(root())
            .args(["run", "pipelines/dementiemonitor.toml", "--quiet", "--out"])
            .arg(&out)
            .assert()
            .success();
        (dir, out)
    });
    out
}

/// One published cell: its segmentation's variables and its codes, and its n when published.
struct Cell {
    variables: Vec<String>,
    codes: Vec<String>,
    n: Option<i64>,
}

/// What an attacker with the published table learns by subtraction: every cell of one wave ×
/// indicator whose n follows from a margin and its other members, repeated until nothing more
/// follows. Returns the indices of the cells that were hidden and are now known.
fn recover_by_subtraction(cells: &[Cell]) -> Vec<usize> {
    let index: HashMap<(&[String], &[String]), usize> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| ((c.variables.as_slice(), c.codes.as_slice()), i))
        .collect();
    // margin = Σ members, for every variable of a segmentation left out in turn.
    let mut equations: HashMap<(Vec<String>, Vec<String>), Vec<usize>> = HashMap::new();
    for (i, cell) in cells.iter().enumerate() {
        for left_out in 0..cell.variables.len() {
            let mut variables = cell.variables.clone();
            let mut codes = cell.codes.clone();
            variables.remove(left_out);
            codes.remove(left_out);
            // Keep the left-out variable in the key, so `a*b` grouped by `a` and by `b` differ.
            variables.push(format!("~{}", cell.variables[left_out]));
            equations.entry((variables, codes)).or_default().push(i);
        }
    }
    let equations: Vec<(usize, Vec<usize>)> = equations
        .into_iter()
        .filter_map(|((mut variables, codes), members)| {
            variables.pop();
            let margin = index.get(&(variables.as_slice(), codes.as_slice()))?;
            Some((*margin, members))
        })
        .collect();
    let mut known: Vec<Option<i64>> = cells.iter().map(|c| c.n).collect();
    let mut recovered = Vec::new();
    loop {
        let mut progress = false;
        for (margin, members) in &equations {
            let unknown: Vec<usize> = std::iter::once(margin)
                .chain(members)
                .copied()
                .filter(|&i| known[i].is_none())
                .collect();
            if unknown.len() != 1 {
                continue;
            }
            let sum: i64 = members.iter().filter_map(|&i| known[i]).sum();
            let target = unknown[0];
            known[target] = Some(if target == *margin {
                sum
            } else {
                known[*margin].unwrap() - sum
            });
            recovered.push(target);
            progress = true;
        }
        if !progress {
            return recovered;
        }
    }
}

fn float(frame: &DataFrame, column: &str, row: usize) -> Option<f64> {
    frame.column(column).unwrap().f64().unwrap().get(row)
}

fn suppressed(frame: &DataFrame, row: usize) -> bool {
    frame.column("suppressed").unwrap().bool().unwrap().get(row) == Some(true)
}

/// The cells of `estimates.parquet` per wave × indicator, with whether each is suppressed.
fn published_cells(estimates: &DataFrame) -> HashMap<(i32, String), Vec<(Cell, bool)>> {
    let mut tables: HashMap<(i32, String), Vec<(Cell, bool)>> = HashMap::new();
    let waves = estimates.column("wave").unwrap().i32().unwrap();
    let n = estimates.column("n").unwrap().i64().unwrap();
    for row in 0..estimates.height() {
        let segmentation = text(estimates, "segmentation", row);
        let (variables, codes) = if segmentation == "total" {
            (Vec::new(), Vec::new())
        } else {
            (
                segmentation.split('*').map(String::from).collect(),
                text(estimates, "segment", row)
                    .split('|')
                    .map(String::from)
                    .collect(),
            )
        };
        let key = (waves.get(row).unwrap(), text(estimates, "indicator", row));
        let cell = Cell {
            variables,
            codes,
            n: n.get(row),
        };
        tables
            .entry(key)
            .or_default()
            .push((cell, suppressed(estimates, row)));
    }
    tables
}

#[test]
fn the_attacker_recovers_a_lone_suppressed_cell() {
    let cell = |variables: &[&str], codes: &[&str], n: Option<i64>| Cell {
        variables: variables.iter().map(|s| s.to_string()).collect(),
        codes: codes.iter().map(|s| s.to_string()).collect(),
        n,
    };
    // The total and two of three regions published: the third follows, and from it (with the
    // published other half) the hidden cell of a crossed table.
    let cells = vec![
        cell(&[], &[], Some(100)),
        cell(&["regio"], &["1"], Some(50)),
        cell(&["regio"], &["2"], Some(30)),
        cell(&["regio"], &["3"], None),
        cell(&["regio", "sekse"], &["3", "1"], Some(12)),
        cell(&["regio", "sekse"], &["3", "2"], None),
    ];
    assert_eq!(recover_by_subtraction(&cells), [3, 5]);
    // Two hidden regions: nothing follows.
    let mut safe = cells;
    safe[2].n = None;
    safe[4].n = None;
    assert!(recover_by_subtraction(&safe).is_empty());
}

#[test]
fn no_suppressed_cell_can_be_recovered_by_subtraction() {
    let estimates = read_parquet(&sample_output().join("estimates.parquet"));
    let flags = estimates.column("flag").unwrap().str().unwrap();
    let complementary = flags.iter().filter(|f| *f == Some("complementary")).count();
    // The sample run needs complementary suppression, or this test would prove nothing.
    assert!(complementary > 0);
    let mut hidden = 0;
    for ((wave, indicator), table) in published_cells(&estimates) {
        let (cells, suppressed): (Vec<Cell>, Vec<bool>) = table.into_iter().unzip();
        hidden += suppressed.iter().filter(|&&s| s).count();
        for (i, cell) in cells.iter().enumerate() {
            assert_eq!(cell.n.is_none(), suppressed[i], "n of a suppressed cell");
        }
        let recovered = recover_by_subtraction(&cells);
        assert!(
            recovered.is_empty(),
            "{wave} {indicator}: {:?} recovered",
            recovered
                .iter()
                .map(|&i| (&cells[i].variables, &cells[i].codes))
                .collect::<Vec<_>>()
        );
    }
    assert!(hidden > complementary);
}

#[test]
fn no_public_cell_breaks_the_disclosure_rules() {
    let estimates = read_parquet(&sample_output().join("estimates.parquet"));
    let published: HashMap<(i32, String, String, String), usize> = (0..estimates.height())
        .filter(|&row| !suppressed(&estimates, row))
        .map(|row| {
            let wave = estimates.column("wave").unwrap().i32().unwrap().get(row);
            (
                (
                    wave.unwrap(),
                    text(&estimates, "indicator", row),
                    text(&estimates, "segmentation", row),
                    text(&estimates, "segment", row),
                ),
                row,
            )
        })
        .collect();
    let mut checked = 0;
    for wave in [2020, 2022, 2024] {
        // The engine's own rows carry the yes-count that never leaves the run.
        let (rows, _) = peiling_estimates("pipelines/dementiemonitor.toml", Some(wave));
        for row in rows {
            let key = (
                wave,
                row.indicator.clone(),
                row.segmentation.clone(),
                row.segment.clone(),
            );
            let Some(&at) = published.get(&key) else {
                continue;
            };
            let n = estimates.column("n").unwrap().i64().unwrap().get(at);
            assert_eq!(n, Some(row.n), "{key:?}");
            if row.n == 0 {
                // An empty domain publishes no estimate, only that it is empty.
                assert_eq!(float(&estimates, "estimate", at), None, "{key:?}");
                assert_eq!(text(&estimates, "flag", at), "empty_domain", "{key:?}");
                checked += 1;
                continue;
            }
            assert!(row.n >= 30, "{key:?}: n = {}", row.n);
            if let Some(yes) = row.n_yes {
                assert!(yes >= 5 && row.n - yes >= 5, "{key:?}: {yes} of {}", row.n);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, published.len(), "every published cell checked");
    // A change is published only when both of its estimates are.
    let changes = read_parquet(&sample_output().join("changes.parquet"));
    for row in 0..changes.height() {
        if suppressed(&changes, row) {
            assert_eq!(float(&changes, "difference", row), None);
            continue;
        }
        for wave_column in ["wave", "base_wave"] {
            let wave = changes.column(wave_column).unwrap().i32().unwrap().get(row);
            let key = (
                wave.unwrap(),
                text(&changes, "indicator", row),
                text(&changes, "segmentation", row),
                text(&changes, "segment", row),
            );
            assert!(published.contains_key(&key), "{key:?}");
        }
    }
}

/// Every text a file shows: the string values of a Parquet file, the sheets of a workbook,
/// and the bytes of anything else.
fn visible_text(path: &Path) -> String {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => {
            let frame = read_parquet(path);
            let mut text = frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("\n");
            for column in frame.columns() {
                if let Ok(values) = column.str() {
                    for value in values.iter().flatten() {
                        text.push('\n');
                        text.push_str(value);
                    }
                }
            }
            text
        }
        Some("xlsx") => {
            let mut archive = ::zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
            let mut text = String::new();
            for i in 0..archive.len() {
                archive
                    .by_index(i)
                    .unwrap()
                    .read_to_string(&mut text)
                    .unwrap();
            }
            text
        }
        _ => String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned(),
    }
}

fn files_under(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, files);
        } else {
            files.push(path);
        }
    }
}

#[test]
fn no_public_file_holds_a_respondent_id() {
    let out = sample_output();
    let respondents = read_parquet(&out.join("private/respondents.parquet"));
    let ids: HashSet<&str> = respondents
        .column("resp_id")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert!(ids.len() > 10_000);
    // The schema's pattern of an id, without its anchors: every id matches it.
    let id = regex::Regex::new("DM[0-9]{2}-[0-9]{6}").unwrap();
    let mut files = Vec::new();
    files_under(out, &mut files);
    let public: Vec<&PathBuf> = files
        .iter()
        .filter(|p| !p.starts_with(out.join("private")))
        .collect();
    for extension in ["parquet", "xlsx", "html", "json", "svg", "png"] {
        assert!(
            public
                .iter()
                .any(|p| p.extension().is_some_and(|e| e == extension)),
            "no public .{extension} file to scan"
        );
    }
    // The model's outputs are among the files scanned: its coefficients, its forest plot, and
    // the table book's sheet "modellen".
    for file in [
        "models.parquet",
        "charts/model-overbelast_model.svg",
        "charts/model-overbelast_model.png",
        "tabellenboek.xlsx",
    ] {
        assert!(public.contains(&&out.join(file)), "{file} is not scanned");
    }
    assert!(visible_text(&out.join("tabellenboek.xlsx")).contains("<sheet name=\"modellen\""));
    for path in public {
        let text = visible_text(path);
        if let Some(found) = id.find_iter(&text).find(|m| ids.contains(m.as_str())) {
            panic!("{} holds respondent id {}", path.display(), found.as_str());
        }
    }
    // The same scan finds them where they belong.
    let private = visible_text(&out.join("private/respondents.parquet"));
    assert!(id.find_iter(&private).any(|m| ids.contains(m.as_str())));
}

/// `changes.parquet` against R `survey` (`sample-data/reference/changes/`): every published
/// change, to 1e-9 relative.
#[test]
fn changes_between_waves_match_r_survey() {
    let changes = read_parquet(&sample_output().join("changes.parquet"));
    let reference = read_reference("sample-data/reference/changes/dementiemonitor-changes.csv");
    let key = |frame: &DataFrame, row: usize, wave: i64| {
        (
            text(frame, "indicator", row),
            text(frame, "segmentation", row),
            text(frame, "segment", row),
            wave,
        )
    };
    let r_rows: HashMap<_, usize> = (0..reference.height())
        .map(|row| {
            let base = number(&reference, "base_wave", row).unwrap() as i64;
            (key(&reference, row, base), row)
        })
        .collect();
    // The age-standardised indicator's changes are the same formula over estimates that
    // `r_standardize` holds to R; R's change script has the crude indicators.
    let estimates = read_parquet(&sample_output().join("estimates.parquet"));
    let standardized: std::collections::HashSet<String> = (0..estimates.height())
        .filter(|&row| text(&estimates, "standardized_by", row) != "NA")
        .map(|row| text(&estimates, "indicator", row))
        .collect();
    assert!(
        !standardized.is_empty(),
        "the sample has a standardised indicator"
    );
    let mut compared = 0;
    let mut problems = Vec::new();
    for row in 0..changes.height() {
        if suppressed(&changes, row) || standardized.contains(&text(&changes, "indicator", row)) {
            continue;
        }
        // An empty domain on either side: a published row without a change (R has none).
        if text(&changes, "flag", row) == "no_estimate" {
            assert_eq!(float(&changes, "difference", row), None);
            continue;
        }
        let base = changes
            .column("base_wave")
            .unwrap()
            .i32()
            .unwrap()
            .get(row)
            .unwrap();
        let k = key(&changes, row, base as i64);
        let Some(&r) = r_rows.get(&k) else {
            problems.push(format!("{k:?}: not in R's changes"));
            continue;
        };
        for column in [
            "estimate",
            "base_estimate",
            "difference",
            "std_error",
            "df",
            "ci_lower",
            "ci_upper",
            "p_value",
        ] {
            problems.extend(difference(
                &format!("{k:?} {column}"),
                float(&changes, column, row),
                number(&reference, column, r),
            ));
        }
        compared += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(compared > 500, "{compared} changes compared");
}

/// `private/respondents.parquet` carries the label of every labelled code beside it.
#[test]
fn the_microdata_carries_value_labels() {
    let plan = peiling::spec::compile(
        &root().join("pipelines/dementiemonitor.toml"),
        &Default::default(),
    )
    .unwrap();
    let respondents = read_parquet(&sample_output().join("private/respondents.parquet"));
    let mut checked = 0;
    for field in plan
        .schema
        .fields
        .iter()
        .filter(|f| !f.categories.is_empty())
    {
        // Codes are Int32 where the codebook fits 32 bits (all of these), else Int64.
        let codes = respondents.column(&field.name).unwrap();
        assert_eq!(codes.dtype(), &DataType::Int32, "{}", field.name);
        let codes = codes.cast(&DataType::Int64).unwrap();
        let codes = codes.i64().unwrap();
        let labels = respondents
            .column(&format!("{}_label", field.name))
            .unwrap()
            .str()
            .unwrap();
        for (code, label) in codes.iter().zip(labels.iter()) {
            let want = code.and_then(|c| field.label_of(&peiling::spec::Code::Int(c)));
            assert_eq!(label, want, "{} = {code:?}", field.name);
        }
        checked += 1;
    }
    assert!(checked >= 20, "{checked} labelled fields");
}
