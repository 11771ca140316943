//! The checks of validation, one function each.
//!
//! | rule id       | code | what it checks                                              |
//! |---------------|------|-------------------------------------------------------------|
//! | `type`        | V010 | the text parses as the field's type (decimal mark honoured) |
//! | `category`    | V011 | a code is in `categories` or `missing`                      |
//! | `minimum`     | V012 | a number is at least `minimum`                              |
//! | `maximum`     | V012 | a number is at most `maximum`                               |
//! | `pattern`     | V013 | a string matches `pattern`                                  |
//! | `required`    | V014 | a required value is present                                 |
//! | `primary_key` | V015 | the primary key is present and unique                       |
//! | *rule id*     | V016 | a routing rule of the schema holds                          |
//! | `field_count` | V017 | a CSV record has as many fields as the header               |
//!
//! Why it matters: a value that silently becomes null, or a code outside the codebook counted
//! as an answer, changes published percentages without anybody noticing. Every problem is a
//! row of `private/rejects.parquet` naming the row, column, raw value and rule.
//!
//! The checks of a single value (`Checker`) run inside [`super::parse::ColumnParser`], which
//! types each value first.

use std::borrow::Cow;
use std::collections::HashMap;

use polars::prelude::*;

use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::ingest::RawFrame;
use crate::spec::{Code, FieldPlan, RulePlan, SchemaPlan};

/// One problem with one value (or one row, for routing rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 0-based data row of the input file.
    pub row: usize,
    /// Sort key within a row: the field's position, then rules after all fields.
    pub order: usize,
    /// Primary key of the row, filled in by `validate`.
    pub key: Option<String>,
    pub column: String,
    pub value: Option<String>,
    pub rule: String,
    pub code: catalog::Entry,
    pub message: String,
}

/// A parsed column: as answered, and for analysis.
pub struct TypedColumn {
    pub coded: Column,
    pub analysis: Column,
}

/// The checks of one field's values, and the problems they found.
pub(super) struct Checker<'a> {
    pub(super) field: &'a FieldPlan,
    pub(super) pattern: Option<crate::spec::schema::Pattern>,
    pub(super) order: usize,
    pub(super) problems: Vec<Problem>,
}

impl Checker<'_> {
    /// Records a problem; returns `None` so callers can write `check.fail(...)` as the value.
    pub(super) fn fail<T>(
        &mut self,
        row: usize,
        raw: &str,
        rule: &str,
        code: catalog::Entry,
        message: String,
    ) -> Option<T> {
        self.problems.push(Problem {
            row,
            order: self.order,
            key: None,
            column: self.field.name.clone(),
            value: Some(raw.to_string()),
            rule: rule.to_string(),
            code,
            message,
        });
        None
    }

    /// A system-missing value: fine unless the field is required.
    pub(super) fn required<T>(&mut self, row: usize, raw: Option<&str>) -> Option<T> {
        if self.field.required {
            self.fail::<T>(
                row,
                raw.unwrap_or(""),
                "required",
                catalog::V014,
                "a value is required".to_string(),
            );
        }
        None
    }

    /// Checks a numeric category code; `Some(true)` when it is a user-missing code.
    pub(super) fn category(
        &mut self,
        row: usize,
        raw: &str,
        code: Code,
        value: f64,
    ) -> Option<bool> {
        let field = self.field;
        let in_range = |(low, high): &(f64, f64)| *low <= value && value <= *high;
        if field.missing.iter().any(|(c, _)| *c == code)
            || field.missing_ranges.iter().any(in_range)
        {
            return Some(true);
        }
        if !field.categories.is_empty() && !field.categories.iter().any(|(c, _)| *c == code) {
            return self.fail(
                row,
                raw,
                "category",
                catalog::V011,
                format!(
                    "code {code} is not in the codebook of {} ({})",
                    field.name,
                    codebook(field)
                ),
            );
        }
        if let Some(min) = field.minimum.filter(|&m| value < m) {
            return self.fail(
                row,
                raw,
                "minimum",
                catalog::V012,
                format!("{value} is below the minimum {min}"),
            );
        }
        if let Some(max) = field.maximum.filter(|&m| value > m) {
            return self.fail(
                row,
                raw,
                "maximum",
                catalog::V012,
                format!("{value} is above the maximum {max}"),
            );
        }
        Some(false)
    }

    pub(super) fn string(&mut self, row: usize, raw: &str) -> Option<bool> {
        let field = self.field;
        let is = |(code, _): &(Code, String)| matches!(code, Code::Str(s) if s == raw);
        if field.missing.iter().any(is) {
            return Some(true);
        }
        if !field.categories.is_empty() && !field.categories.iter().any(is) {
            return self.fail(
                row,
                raw,
                "category",
                catalog::V011,
                format!(
                    "{raw:?} is not in the codebook of {} ({})",
                    field.name,
                    codebook(field)
                ),
            );
        }
        if let Some(pattern) = &self.pattern {
            if !pattern.is_match(raw) {
                let message = format!("{raw:?} does not match the pattern {}", pattern.as_str());
                return self.fail(row, raw, "pattern", catalog::V013, message);
            }
        }
        Some(false)
    }
}

/// `valid: 1, 2, 3; missing: 9` for messages.
fn codebook(field: &FieldPlan) -> String {
    let join = |codes: &[(Code, String)]| {
        codes
            .iter()
            .map(|(c, _)| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if field.missing.is_empty() {
        format!("valid: {}", join(&field.categories))
    } else {
        format!(
            "valid: {}; missing: {}",
            join(&field.categories),
            join(&field.missing)
        )
    }
}

/// The primary key must be present and unique; later duplicates are rejected and name the row
/// of the first occurrence.
pub fn primary_key(
    raw: &RawFrame,
    schema: &SchemaPlan,
    problems: &mut Vec<Problem>,
) -> PolarsResult<()> {
    if schema.primary_key.is_empty() {
        return Ok(());
    }
    let columns = schema
        .primary_key
        .iter()
        .map(|name| raw.frame.column(name).and_then(|c| c.str().cloned()))
        .collect::<PolarsResult<Vec<_>>>()?;
    let column = schema.primary_key.join("|");
    // The usual case, one key column without gaps or duplicates, is settled by polars'
    // parallel distinct count; only otherwise is each duplicate found with its first row.
    if let [only] = columns.as_slice() {
        let complete =
            only.null_count() == 0 && only.iter().all(|v| v.is_some_and(|s| !s.is_empty()));
        if complete && only.n_unique()? == only.len() {
            return Ok(());
        }
    }
    // One key column (the usual case) is hashed as it is, without building a string per row.
    let keys: Box<dyn Iterator<Item = Option<Cow<str>>>> = match columns.as_slice() {
        [only] => Box::new(only.iter().map(|v| present(v).map(Cow::Borrowed))),
        _ => Box::new((0..raw.rows()).map(|row| {
            let parts: Option<Vec<&str>> = columns.iter().map(|c| present(c.get(row))).collect();
            parts.map(|parts| Cow::Owned(parts.join("|")))
        })),
    };
    let mut first_seen: HashMap<Cow<str>, usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(raw.rows(), Default::default());
    for (row, key) in keys.enumerate() {
        let Some(key) = key else {
            problems.push(missing_key(row, &column));
            continue;
        };
        if let Some(&first) = first_seen.get(&key) {
            let first = where_is(raw, first);
            problems.push(duplicate_key(row, &column, key.into_owned(), &first));
        } else {
            first_seen.insert(key, row);
        }
    }
    Ok(())
}

/// A key part: absent when null or empty.
fn present(value: Option<&str>) -> Option<&str> {
    value.filter(|s| !s.is_empty())
}

/// A row without (a complete) primary key.
pub(crate) fn missing_key(row: usize, column: &str) -> Problem {
    pk_problem(row, column, None, "the primary key is missing".into())
}

/// A row whose key `key` an earlier row had, at `first` (`line 14`, or `row 13`).
pub(crate) fn duplicate_key(row: usize, column: &str, key: String, first: &str) -> Problem {
    let message = format!("duplicate primary key {key:?}, first seen at {first}");
    pk_problem(row, column, Some(key), message)
}

fn pk_problem(row: usize, column: &str, value: Option<String>, message: String) -> Problem {
    Problem {
        row,
        order: usize::MAX - 1,
        key: None,
        column: column.to_string(),
        value,
        rule: "primary_key".to_string(),
        code: catalog::V015,
        message,
    }
}

fn where_is(raw: &RawFrame, row: usize) -> String {
    match raw.line(row) {
        Some(line) => format!("line {line}"),
        None => format!("row {}", row + 1),
    }
}

/// The failure of a rule that polars could not evaluate (a type mismatch the SQL did not show).
pub(crate) fn rule_error(schema: &SchemaPlan, rule: &RulePlan, error: PolarsError) -> Failure {
    Diagnostic::error(
        catalog::V020,
        format!("rule {:?} could not be evaluated", rule.id),
    )
    .at(Place::file(schema.path.display()))
    .caused_by(error)
    .into()
}

/// Evaluates a routing rule: a row breaks it when `when` is true and `require` is not true.
pub fn routing(
    raw: &RawFrame,
    coded: &DataFrame,
    rule: &RulePlan,
    problems: &mut Vec<Problem>,
) -> PolarsResult<()> {
    let (rows, columns) = broken_rows(coded, rule)?;
    for row in rows {
        let mut values = Vec::with_capacity(columns.len());
        for name in &columns {
            let text = raw.frame.column(name)?.str()?.get(row).unwrap_or("");
            values.push(format!("{name}={text}"));
        }
        problems.push(routing_problem(row, rule, &columns, values));
    }
    Ok(())
}

/// The rows that break `rule`, and the columns it reads (whose texts its problems quote).
pub fn broken_rows(coded: &DataFrame, rule: &RulePlan) -> PolarsResult<(Vec<usize>, Vec<String>)> {
    let broken = rule
        .when
        .clone()
        .fill_null(lit(false))
        .and(rule.require.clone().fill_null(lit(false)).not())
        .alias("broken");
    let result = coded.clone().lazy().select([broken]).collect()?;
    let broken = result.column("broken")?.bool()?.clone();
    let mut columns = crate::spec::expr_columns(&rule.when);
    for column in crate::spec::expr_columns(&rule.require) {
        if !columns.contains(&column) {
            columns.push(column);
        }
    }
    let rows = broken
        .iter()
        .enumerate()
        .filter(|(_, is_broken)| *is_broken == Some(true))
        .map(|(row, _)| row)
        .collect();
    Ok((rows, columns))
}

/// The problem of a row that breaks `rule`; `values` are `column=text` of its columns.
pub fn routing_problem(
    row: usize,
    rule: &RulePlan,
    columns: &[String],
    values: Vec<String>,
) -> Problem {
    Problem {
        row,
        order: usize::MAX,
        key: None,
        column: columns.join(","),
        value: Some(values.join("; ")),
        rule: rule.id.clone(),
        code: catalog::V016,
        message: rule.message.clone(),
    }
}
