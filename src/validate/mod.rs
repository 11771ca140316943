//! Validation of a [`RawFrame`] against its schema: every input row ends up accepted or
//! rejected with its reasons.
//!
//! Each value is parsed by its field's type, then checked against the field's codebook, range
//! and pattern (one function per check in [`rules`]); the primary key must be unique; the
//! schema's routing rules are SQL conditions over the typed values (user-missing codes still
//! visible, so a rule can say "7 = n.v.t. when ..."). A row with any problem is rejected, and
//! each problem is one row of the rejects table, so `read = accepted + rejected` always holds.

pub mod codebook;
pub mod parse;
pub mod rules;
pub mod stream;

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rayon::prelude::*;

use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::ingest::hash::Sha256;
use crate::ingest::RawFrame;
use crate::spec::Wave;
use crate::spec::{FieldPlan, FieldType, SchemaPlan};
pub use rules::Problem;

/// Rows that passed validation, typed.
#[derive(Debug, Clone)]
pub struct ValidFrame {
    pub wave: Wave,
    /// Typed values as answered: user-missing codes kept (the private microdata).
    pub coded: DataFrame,
    /// Typed values for analysis: user-missing codes are null.
    pub analysis: DataFrame,
    pub report: ValidationReport,
}

/// Counts for the manifest and the summary.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ValidationReport {
    pub wave: Wave,
    pub file: String,
    pub sha256: Sha256,
    pub dialect: Option<crate::ingest::Dialect>,
    pub rows_read: usize,
    pub rows_accepted: usize,
    pub rows_rejected: usize,
    /// Problems per rule id (a rejected row may have several).
    pub problems_by_rule: BTreeMap<String, usize>,
    /// Columns in the file that the schema does not describe (ignored).
    pub extra_columns: Vec<String>,
}

/// The rejects of one wave: one row per problem.
#[derive(Debug, Clone)]
pub struct Rejects {
    pub wave: Wave,
    pub file: String,
    pub problems: Vec<Problem>,
}

/// Validates one raw frame against `schema` with the file's own codebook merged in (see
/// [`codebook`]). Structural problems (a schema column missing from the file, a dictionary that
/// disagrees with the schema) fail the run; value problems reject rows.
pub fn apply(raw: &RawFrame, schema: &SchemaPlan) -> Result<(ValidFrame, Rejects), Failure> {
    // What the file says of its own columns (SPSS) applies to its values.
    let merged = codebook::merge(schema, raw)?;
    let schema = &merged;
    let file = raw.path.display().to_string();
    let extra_columns = check_columns(raw, schema)?;
    let decimal_comma = match raw.dialect.as_ref().map(|d| d.decimal_comma) {
        Some(Some(given)) => given,
        Some(None) => detect_decimal_comma(raw, schema),
        // Typed formats write numbers with a decimal point.
        None => false,
    };
    let height = raw.rows();
    // Fields are parsed in parallel, each with its own problems, joined in field order; the
    // primary key check needs only the text, so it runs beside them.
    let (parsed, key_problems) = rayon::join(
        || {
            schema
                .fields
                .par_iter()
                .enumerate()
                .map(|(order, field)| {
                    let text = raw
                        .frame
                        .column(&field.name)
                        .and_then(|c| c.str().cloned())
                        .map_err(|e| internal(&file, e))?;
                    let mut problems = Vec::new();
                    let typed = parse::parse_column(
                        field,
                        order,
                        &text,
                        &schema.missing_values,
                        decimal_comma,
                        &mut problems,
                    );
                    Ok((typed, problems))
                })
                .collect::<Result<Vec<(rules::TypedColumn, Vec<Problem>)>, Failure>>()
        },
        || {
            let mut problems = Vec::new();
            rules::primary_key(raw, schema, &mut problems).map(|()| problems)
        },
    );
    let parsed = parsed?;
    let key_problems = key_problems.map_err(|e| internal(&file, e))?;
    let mut problems: Vec<Problem> = Vec::new();
    let mut coded = Vec::with_capacity(schema.fields.len());
    let mut analysis = Vec::with_capacity(schema.fields.len());
    for (typed, found) in parsed {
        coded.push(typed.coded);
        analysis.push(typed.analysis);
        problems.extend(found);
    }
    let coded = DataFrame::new(height, coded).map_err(|e| internal(&file, e))?;
    let analysis = DataFrame::new(height, analysis).map_err(|e| internal(&file, e))?;

    problems.extend(key_problems);
    for rule in &schema.rules {
        rules::routing(raw, &coded, rule, &mut problems)
            .map_err(|e| rules::rule_error(schema, rule, e))?;
    }
    ragged_rows(&raw.ragged, &mut problems);
    problems.sort_by(|a, b| a.row.cmp(&b.row).then_with(|| a.order.cmp(&b.order)));
    for problem in &mut problems {
        problem.key = key_of(raw, schema, problem.row);
    }
    accept(
        Checked {
            wave: raw.wave,
            file,
            sha256: Sha256::known(raw.sha256.clone()),
            dialect: raw.dialect.clone().map(|dialect| crate::ingest::Dialect {
                decimal_comma: Some(decimal_comma),
                ..dialect
            }),
            coded,
            analysis,
            problems,
            extra_columns,
        },
        height,
    )
}

/// Every read row typed, with the problems found in it (sorted, keys filled in).
struct Checked {
    wave: Wave,
    file: String,
    sha256: Sha256,
    dialect: Option<crate::ingest::Dialect>,
    coded: DataFrame,
    analysis: DataFrame,
    problems: Vec<Problem>,
    extra_columns: Vec<String>,
}

/// Splits checked rows into the accepted rows and the rejects, and counts them.
fn accept(checked: Checked, height: usize) -> Result<(ValidFrame, Rejects), Failure> {
    let Checked {
        wave,
        file,
        sha256,
        dialect,
        coded,
        analysis,
        problems,
        extra_columns,
    } = checked;
    let mut rejected = vec![false; height];
    let mut problems_by_rule = BTreeMap::new();
    for problem in &problems {
        rejected[problem.row] = true;
        *problems_by_rule.entry(problem.rule.clone()).or_insert(0) += 1;
    }
    let rows_rejected = rejected.iter().filter(|&&r| r).count();
    // Without rejects the columns stay as they are, not copied.
    let (coded, analysis) = if rows_rejected == 0 {
        (coded, analysis)
    } else {
        let keep: BooleanChunked = rejected.iter().map(|&r| !r).collect();
        (
            coded.filter(&keep).map_err(|e| internal(&file, e))?,
            analysis.filter(&keep).map_err(|e| internal(&file, e))?,
        )
    };
    let report = ValidationReport {
        wave,
        file: file.clone(),
        sha256,
        dialect,
        rows_read: height,
        rows_accepted: height - rows_rejected,
        rows_rejected,
        problems_by_rule,
        extra_columns,
    };
    Ok((
        ValidFrame {
            wave,
            coded,
            analysis,
            report,
        },
        Rejects {
            wave,
            file,
            problems,
        },
    ))
}

/// A CSV record with the wrong number of fields is rejected as a whole (`V017`): its values
/// may sit in the wrong columns, so the problems found in them are dropped.
fn ragged_rows(ragged: &[crate::ingest::RaggedRow], problems: &mut Vec<Problem>) {
    if ragged.is_empty() {
        return;
    }
    let rows: std::collections::HashSet<usize> = ragged.iter().map(|r| r.row).collect();
    problems.retain(|p| !rows.contains(&p.row));
    for row in ragged {
        problems.push(Problem {
            row: row.row,
            order: 0,
            key: None,
            column: String::new(),
            value: Some(format!("{} fields", row.fields)),
            rule: "field_count".into(),
            code: catalog::V017,
            message: format!(
                "the record has {} field(s), the header {}: a missing or extra delimiter, or an unclosed quote",
                row.fields, row.expected
            ),
        });
    }
}

fn internal(file: &str, error: impl std::fmt::Display) -> Failure {
    Failure::internal(
        Diagnostic::error(catalog::V099, format!("validation of {file} failed")).caused_by(error),
    )
}

/// Every schema field must be a column of the file. Returns the file's extra columns.
fn check_columns(raw: &RawFrame, schema: &SchemaPlan) -> Result<Vec<String>, Failure> {
    let header: Vec<String> = raw
        .frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let missing: Vec<&FieldPlan> = schema
        .fields
        .iter()
        .filter(|f| !header.contains(&f.name))
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|f| f.name.as_str()).collect();
        let mut diagnostic = Diagnostic::error(
            catalog::V001,
            format!(
                "{} column(s) of schema {:?} missing from the file: {}",
                names.len(),
                schema.name,
                names.join(", ")
            ),
        )
        .at(Place::header(raw.path.display()));
        if let (true, Some(dialect)) = (header.len() == 1 && schema.fields.len() > 1, &raw.dialect)
        {
            diagnostic = diagnostic.caused_by(format!(
                "the header was read as one column {:?} with delimiter {:?}: set `delimiter` in the [[input]]",
                truncate(&header[0], 60),
                dialect.delimiter
            ));
        }
        return Err(diagnostic.into());
    }
    Ok(header
        .into_iter()
        .filter(|name| schema.field(name).is_none())
        .collect())
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// Decimal comma when some value of a `number` field has a comma and none has a point.
fn detect_decimal_comma(raw: &RawFrame, schema: &SchemaPlan) -> bool {
    let (mut commas, mut points) = (0usize, 0usize);
    for field in schema
        .fields
        .iter()
        .filter(|f| f.field_type == FieldType::Number)
    {
        if let Ok(text) = raw.frame.column(&field.name).and_then(|c| c.str().cloned()) {
            for value in text.iter().flatten() {
                commas += value.contains(',') as usize;
                points += value.contains('.') as usize;
            }
        }
    }
    commas > 0 && points == 0
}

/// Primary key of a row as `a|b`, for the rejects file.
fn key_of(raw: &RawFrame, schema: &SchemaPlan, row: usize) -> Option<String> {
    if schema.primary_key.is_empty() {
        return None;
    }
    let mut parts = Vec::with_capacity(schema.primary_key.len());
    for name in &schema.primary_key {
        let value = raw.frame.column(name).ok()?.str().ok()?.get(row)?;
        parts.push(value.to_string());
    }
    Some(parts.join("|"))
}

/// Counts of problems per rule with the first examples, for messages.
pub fn summarize(
    rejects: &[Rejects],
    raw_lines: &HashMap<Wave, Option<Vec<u32>>>,
    examples: usize,
) -> Vec<String> {
    let mut by_rule: BTreeMap<&str, Vec<(&Rejects, &Problem)>> = BTreeMap::new();
    for wave in rejects {
        for problem in &wave.problems {
            by_rule
                .entry(problem.rule.as_str())
                .or_default()
                .push((wave, problem));
        }
    }
    let mut lines = Vec::new();
    for (rule, found) in by_rule {
        lines.push(format!("{rule}: {} problem(s)", found.len()));
        for (wave, problem) in found.iter().take(examples) {
            let line = raw_lines
                .get(&wave.wave)
                .and_then(|l| l.as_ref())
                .map(|l| format!("line {}", l[problem.row]))
                .unwrap_or_else(|| format!("row {}", problem.row + 1));
            let column = match problem.column.as_str() {
                "" => String::new(),
                name => format!(", column {name}"),
            };
            lines.push(format!(
                "  {}, {line}{column}: {}",
                wave.file, problem.message
            ));
        }
    }
    lines
}
