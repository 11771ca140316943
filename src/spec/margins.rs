//! Population margins for calibration (`[weighting] margins`): a CSV file with the header
//! `variable,category,target`, comma-separated, dot decimals.
//!
//! * `variable` is a column, or columns crossed with `*` (`mz_geslacht*mz_leeftijd_cat`);
//! * `category` is the value as text, for a crossing the values joined by `|` (`2|5`) — the
//!   same text as the `segment` column of `estimates.parquet`;
//! * `target` is a population count, or a share: a variable whose targets sum to 1 is read as
//!   shares of the design-weighted total of the rows its categories cover.
//!
//! Everything that can be checked without the data is checked here, with the file and line:
//! the header, numbers, positive targets, duplicate categories, known columns, and that the
//! variables are all shares or all counts summing to one total. Whether every category occurs
//! in the sample is checked when weighting ([`crate::weight::calibrate`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::diag::{catalog, Place};

/// Shares of a variable sum to 1 within this.
const SHARE_TOLERANCE: f64 = 1e-6;
/// Count totals of the variables agree within this, relatively.
const TOTAL_TOLERANCE: f64 = 1e-9;

/// A margins file, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Margins {
    pub path: PathBuf,
    /// Variables in the order of their first line.
    pub variables: Vec<MarginVariable>,
    /// Targets are shares (each variable sums to 1) rather than counts.
    pub shares: bool,
}

/// One calibration variable (a column or a crossing) with its categories.
#[derive(Debug, Clone, PartialEq)]
pub struct MarginVariable {
    /// As written: `provincie`, `mz_geslacht*mz_leeftijd_cat`.
    pub name: String,
    pub columns: Vec<String>,
    pub categories: Vec<MarginCategory>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MarginCategory {
    pub category: String,
    pub target: f64,
    /// Line in the margins file (1-based), for messages.
    pub line: usize,
}

impl Margins {
    /// Where a category is, for messages.
    pub fn at(&self, category: &MarginCategory) -> Place {
        Place::line(self.path.display(), category.line)
    }
}

/// Reads and checks a margins file; `known` says which columns a margin may use.
pub fn load(path: &Path, known: &dyn Fn(&str) -> bool) -> Result<Margins, Vec<Diagnostic>> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        vec![
            Diagnostic::error(catalog::S040, format!("cannot read margins file {file}"))
                .caused_by(e),
        ]
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes));
    let header_ok = reader
        .headers()
        .map(|h| h.iter().eq(["variable", "category", "target"]))
        .unwrap_or(false);
    if !header_ok {
        return Err(vec![Diagnostic::error(
            catalog::S041,
            "a margins file starts with the header line variable,category,target",
        )
        .at(Place::line(&file, 1))]);
    }

    let mut problems = Vec::new();
    let mut variables: Vec<MarginVariable> = Vec::new();
    let mut seen = BTreeSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                problems.push(
                    Diagnostic::error(catalog::S041, "unreadable margins line")
                        .at(Place::line(&file, line))
                        .caused_by(e),
                );
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line() as usize);
        let at = Place::line(&file, line);
        if record.len() != 3 {
            problems.push(
                Diagnostic::error(
                    catalog::S041,
                    format!(
                        "a margins line has 3 fields (variable, category, target), this one {}",
                        record.len()
                    ),
                )
                .at(at),
            );
            continue;
        }
        let (variable, category, target) = (&record[0], &record[1], &record[2]);
        let Ok(target) = target.parse::<f64>() else {
            problems.push(
                Diagnostic::error(
                    catalog::S041,
                    format!("margin {variable} = {category}: target {target:?} is not a number (use a dot for decimals)"),
                )
                .at(at),
            );
            continue;
        };
        if !(target.is_finite() && target > 0.0) {
            problems.push(
                Diagnostic::error(
                    catalog::S042,
                    format!(
                        "margin {variable} = {category}: target {target} must be a positive number; \
                         merge the category with another, or leave it out (its respondents then keep \
                         their weight for {variable})"
                    ),
                )
                .at(at),
            );
            continue;
        }
        if !seen.insert((variable.to_string(), category.to_string())) {
            problems.push(
                Diagnostic::error(
                    catalog::S044,
                    format!("margin {variable} = {category} appears twice"),
                )
                .at(at),
            );
            continue;
        }
        let entry = MarginCategory {
            category: category.to_string(),
            target,
            line,
        };
        match variables.iter_mut().find(|v| v.name == variable) {
            Some(v) => v.categories.push(entry),
            None => {
                let names: Vec<String> =
                    variable.split('*').map(|c| c.trim().to_string()).collect();
                for column in &names {
                    if !known(column) {
                        problems.push(
                            Diagnostic::error(
                                catalog::S043,
                                format!("margin variable {variable}: unknown column {column:?}"),
                            )
                            .at(at.clone()),
                        );
                    }
                }
                variables.push(MarginVariable {
                    name: variable.to_string(),
                    columns: names,
                    categories: vec![entry],
                });
            }
        }
    }
    if variables.is_empty() && problems.is_empty() {
        problems.push(
            Diagnostic::error(catalog::S045, "the margins file has no margins")
                .at(Place::file(&file)),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    // All shares or all counts with one total.
    let totals: BTreeMap<&str, f64> = variables
        .iter()
        .map(|v| (v.name.as_str(), v.categories.iter().map(|c| c.target).sum()))
        .collect();
    let is_share = |total: f64| (total - 1.0).abs() <= SHARE_TOLERANCE;
    let shares = totals.values().all(|&t| is_share(t));
    if !shares {
        let first = variables[0].name.as_str();
        let reference = totals[first];
        for (name, &total) in &totals {
            if (total - reference).abs() > TOTAL_TOLERANCE * reference {
                problems.push(
                    Diagnostic::error(
                        catalog::S046,
                        format!(
                            "margin {name}: targets sum to {total}, margin {first} to {reference}; \
                             counts of every variable must sum to the same population total \
                             (or give every variable as shares summing to 1)"
                        ),
                    )
                    .at(Place::file(&file)),
                );
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Margins {
        path: path.to_path_buf(),
        variables,
        shares,
    })
}

/// Reads a standard population for `standardize`: a CSV with columns `category` and `share`
/// (or `count`), one row per category; the values are made shares (divided by their sum).
pub fn load_standard(path: &Path) -> Result<Vec<(String, f64)>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| {
            format!(
                "cannot read the standard population {}: {e}",
                path.display()
            )
        })?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let find = |name: &str| headers.iter().position(|h| h == name);
    let (Some(category), Some(value)) = (find("category"), find("share").or_else(|| find("count")))
    else {
        return Err(format!(
            "{} needs the columns `category` and `share` (or `count`), has {:?}",
            path.display(),
            headers.iter().collect::<Vec<_>>()
        ));
    };
    let mut shares: Vec<(String, f64)> = Vec::new();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = line + 2;
        let name = record.get(category).unwrap_or("").to_string();
        let text = record.get(value).unwrap_or("");
        let number: f64 = text
            .parse()
            .ok()
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                format!(
                    "{} line {line}: {text:?} is not a number of 0 or more",
                    path.display()
                )
            })?;
        if name.is_empty() || shares.iter().any(|(c, _)| *c == name) {
            return Err(format!(
                "{} line {line}: category {name:?} is empty or listed twice",
                path.display()
            ));
        }
        shares.push((name, number));
    }
    let total: f64 = shares.iter().map(|(_, v)| v).sum();
    if total <= 0.0 || total.is_nan() {
        return Err(format!(
            "{} has no category with a positive share",
            path.display()
        ));
    }
    Ok(shares.into_iter().map(|(c, v)| (c, v / total)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Margins, Vec<Diagnostic>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("margins.csv");
        std::fs::write(&path, text).unwrap();
        load(&path, &|column| ["sex", "age", "region"].contains(&column))
    }

    fn codes(result: Result<Margins, Vec<Diagnostic>>) -> Vec<(&'static str, String)> {
        result
            .unwrap_err()
            .into_iter()
            .map(|d| {
                (
                    d.code,
                    d.location.map(|p| p.to_string()).unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn reads_counts_and_crossings() {
        let m = load_text(
            "variable,category,target\nregion,1,60\nregion,2,40\nsex*age,1|1,30\nsex*age,2|1,70\n",
        )
        .unwrap();
        assert!(!m.shares);
        assert_eq!(m.variables.len(), 2);
        assert_eq!(m.variables[1].columns, ["sex", "age"]);
        assert_eq!(m.variables[1].categories[1].category, "2|1");
        assert_eq!(m.variables[1].categories[1].line, 5);
    }

    #[test]
    fn shares_sum_to_one_per_variable() {
        let m =
            load_text("variable,category,target\nsex,1,0.25\nsex,2,0.75\nregion,1,1\n").unwrap();
        assert!(m.shares);
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let found = codes(load_text(
            "variable,category,target\nsex,1,0\nsex,2,abc\nsex,3,5\nsex,3,5\nplace,1,5\n",
        ));
        let codes: Vec<&str> = found.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes, ["S042", "S041", "S044", "S043"]);
        assert!(found[0].1.ends_with("margins.csv:2"), "{found:?}");
        assert!(found[3].1.ends_with("margins.csv:6"), "{found:?}");
    }

    #[test]
    fn count_totals_must_agree() {
        let found = codes(load_text(
            "variable,category,target\nsex,1,50\nsex,2,50\nregion,1,99\n",
        ));
        assert_eq!(found[0].0, "S046");
    }

    #[test]
    fn header_and_emptiness() {
        assert_eq!(codes(load_text("a,b,c\n"))[0].0, "S041");
        assert_eq!(codes(load_text("variable,category,target\n"))[0].0, "S045");
    }
}
