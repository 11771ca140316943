//! `peiling init`: a draft schema and pipeline from an export, so that a new survey starts from
//! its own columns instead of copied examples.
//!
//! The export is read as `peiling describe` reads it (every column as text, an SPSS file's
//! dictionary beside it), and every column becomes a `[[field]]`:
//! - its type: `integer`, `number`, `boolean` or `date` when every value reads as one (with the
//!   parsers validation uses, so validation accepts what was inferred), else `string`;
//! - an SPSS variable label becomes its `label`, discrete user-missing codes its `missing`, and
//!   value labels its `categories` when every value in the file is labelled (otherwise the
//!   labels stay in the file, which merges them at every run, and a comment says why);
//! - numeric ranges from the data, commented for the researcher to confirm;
//! - a `pattern` for a text column of one fixed shape (`DM[0-9]{2}-[0-9]{6}`);
//! - a complete, unique column as the primary key.
//!
//! The pipeline reads the file with its detected dialect, proposes (commented) a design from
//! columns named like a weight, stratum, cluster or fpc, and estimates one indicator so that
//! `peiling run` runs as drafted. Every row of the export passes `peiling validate` against the
//! draft. The output is deterministic, and an existing file is replaced only with `--force`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use crate::diag::{catalog, Diagnostic, Failure};
use crate::ingest::{self, ColumnCodebook, FileMissing, RawFrame};
use crate::output::folder;
use crate::spec::{self, json_schema, FieldType, InputFormat};
use crate::validate::parse::{parse_integer, parse_number};

/// What to draft, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The export.
    pub file: PathBuf,
    /// The survey's name (default: from the file name).
    pub name: Option<String>,
    /// The folder that gets `schemas/NAME.schema.toml` and `pipelines/NAME.toml`.
    pub out: PathBuf,
    /// Replace existing files.
    pub force: bool,
}

/// The files written.
#[derive(Debug, Clone)]
pub struct Drafted {
    pub schema: PathBuf,
    pub pipeline: PathBuf,
    pub rows: usize,
    pub columns: usize,
}

/// Drafts the schema and pipeline of `options.file`; both or neither are written.
pub fn draft(options: &Options) -> Result<Drafted, Failure> {
    let file = &options.file;
    let (raw, format) = ingest::read_file(file)?;
    let name = options.name.clone().unwrap_or_else(|| name_of(file));
    let schema_path = options
        .out
        .join("schemas")
        .join(format!("{name}.schema.toml"));
    let pipeline_path = options.out.join("pipelines").join(format!("{name}.toml"));
    for path in [&schema_path, &pipeline_path] {
        folder::refuse_existing(path, options.force)?;
    }
    // The decimal mark of a CSV export's numbers, which both files follow.
    let comma = format == InputFormat::Csv && decimal_comma(&raw);
    let columns = profile(&raw, comma);
    let schema = schema_text(&name, &raw, &columns, &schema_path, &options.out);
    let csv = (format == InputFormat::Csv).then_some(comma);
    let paths = (schema_path.as_path(), pipeline_path.as_path());
    let pipeline = pipeline_text(&name, &raw, csv, &columns, paths, &options.out);
    for (path, text) in [(&schema_path, &schema), (&pipeline_path, &pipeline)] {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                Failure::from(
                    Diagnostic::error(catalog::G001, format!("cannot create {}", parent.display()))
                        .caused_by(e),
                )
            })?;
        }
        folder::write_file(path, |mut file| {
            std::io::Write::write_all(&mut file, text.as_bytes())
        })?;
    }
    Ok(Drafted {
        schema: schema_path,
        pipeline: pipeline_path,
        rows: raw.rows(),
        columns: columns.len(),
    })
}

/// A name from the file's: lower case, runs of other characters as one `-`.
fn name_of(file: &Path) -> String {
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("survey");
    let mut name = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.is_empty() && !name.ends_with('-') {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    if name.is_empty() {
        "survey".into()
    } else {
        name
    }
}

/// What the data say about one column.
struct Column {
    name: String,
    field_type: FieldType,
    /// Rows without a value.
    empty: usize,
    distinct: usize,
    /// Every row has a value, and no two the same.
    unique: bool,
    label: Option<String>,
    /// Value labels that may restrict the values (every value is labelled or missing).
    categories: Vec<(String, String)>,
    /// Value labels that describe without restricting, with the first unlabelled values.
    unrestricting: Option<(usize, Vec<String>)>,
    missing: Vec<(String, String)>,
    missing_ranges: Vec<(f64, f64)>,
    /// The smallest and largest value that is not user-missing.
    range: Option<(f64, f64)>,
    pattern: Option<String>,
    /// The codes of a column with few distinct values and no labels, for a comment.
    codes: Vec<String>,
}

/// The decimal mark of a CSV export's numbers: the one more columns read with.
fn decimal_comma(raw: &RawFrame) -> bool {
    let (mut comma, mut point) = (0, 0);
    for column in raw.frame.columns() {
        let Ok(text) = column.str() else { continue };
        let values: Vec<&str> = text.iter().flatten().collect();
        if values.is_empty() || values.iter().all(|v| parse_integer(v).is_some()) {
            continue;
        }
        comma += usize::from(values.iter().all(|v| parse_number(v, true).is_some()));
        point += usize::from(values.iter().all(|v| parse_number(v, false).is_some()));
    }
    comma > point
}

fn profile(raw: &RawFrame, comma: bool) -> Vec<Column> {
    let empty_codebook = ColumnCodebook::default();
    raw.frame
        .columns()
        .par_iter()
        .map(|column| {
            let name = column.name().to_string();
            let codebook = raw.codebook.get(&name).unwrap_or(&empty_codebook);
            let values: Vec<&str> = column
                .str()
                .map(|text| text.iter().flatten().collect())
                .unwrap_or_default();
            column_profile(name, &values, raw.rows(), codebook, comma)
        })
        .collect()
}

fn column_profile(
    name: String,
    values: &[&str],
    rows: usize,
    codebook: &ColumnCodebook,
    comma: bool,
) -> Column {
    // The distinct values, in order.
    let mut distinct: Vec<&str> = values
        .iter()
        .copied()
        .collect::<foldhash::HashSet<&str>>()
        .into_iter()
        .collect();
    distinct.sort_unstable();
    let field_type = if values.is_empty() {
        FieldType::String
    } else if values.iter().all(|v| parse_integer(v).is_some()) {
        FieldType::Integer
    } else if values.iter().all(|v| parse_number(v, comma).is_some()) {
        FieldType::Number
    } else if values
        .iter()
        .all(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "false"))
    {
        FieldType::Boolean
    } else if values
        .iter()
        .all(|v| chrono::NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").is_ok())
    {
        FieldType::Date
    } else {
        FieldType::String
    };
    let number = |v: &str| match field_type {
        FieldType::Integer => parse_integer(v).map(|v| v as f64),
        FieldType::Number => parse_number(v, comma),
        _ => None,
    };
    // A code of the file's dictionary, if it is a value of the field's type.
    let fits = |code: &str| match field_type {
        FieldType::Integer => parse_integer(code).is_some(),
        FieldType::Number => code.parse::<f64>().is_ok_and(f64::is_finite),
        FieldType::String | FieldType::Date => true,
        FieldType::Boolean => false,
    };
    let labels: BTreeMap<&str, &str> = codebook
        .value_labels
        .iter()
        .map(|(code, label)| (code.as_str(), label.as_str()))
        .collect();
    let mut missing = Vec::new();
    let mut missing_ranges = Vec::new();
    for declared in &codebook.missing {
        match declared {
            FileMissing::Code(code) if fits(code) => {
                let label = labels.get(code.as_str()).copied().unwrap_or("missing");
                missing.push((code.clone(), label.to_string()));
            }
            FileMissing::Code(_) => {}
            FileMissing::Range { low, high } => missing_ranges.push((*low, *high)),
        }
    }
    let is_missing = |v: &str| {
        missing.iter().any(|(code, _)| code == v)
            || number(v).is_some_and(|x| missing_ranges.iter().any(|(l, h)| *l <= x && x <= *h))
    };
    // Value labels restrict the values only when every value is labelled or missing.
    let labelled: Vec<(String, String)> = labels
        .iter()
        .filter(|(code, _)| fits(code) && !is_missing(code))
        .map(|(code, label)| (code.to_string(), label.to_string()))
        .collect();
    let unlabelled: Vec<String> = distinct
        .iter()
        .filter(|v| !is_missing(v) && !labelled.iter().any(|(code, _)| code == *v))
        .map(|v| v.to_string())
        .collect();
    let (categories, unrestricting) = match (labelled.is_empty(), unlabelled.is_empty()) {
        (true, _) => (Vec::new(), None),
        (false, true) => (labelled, None),
        (false, false) => (
            Vec::new(),
            Some((unlabelled.len(), unlabelled.into_iter().take(5).collect())),
        ),
    };
    let range = values
        .iter()
        .filter(|v| !is_missing(v))
        .filter_map(|v| number(v))
        .fold(None, |range: Option<(f64, f64)>, x| match range {
            None => Some((x, x)),
            Some((low, high)) => Some((low.min(x), high.max(x))),
        });
    let codes = match (field_type, categories.is_empty() && unrestricting.is_none()) {
        // A few values, each many times: codes rather than counts or ages.
        (FieldType::Integer, true)
            if (2..=12).contains(&distinct.len()) && values.len() >= 5 * distinct.len() =>
        {
            let mut codes = distinct.clone();
            codes.sort_by_key(|c| parse_integer(c));
            codes.into_iter().map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    Column {
        pattern: (field_type == FieldType::String)
            .then(|| shape(values))
            .flatten(),
        unique: values.len() == rows && distinct.len() == rows && rows > 1,
        name,
        field_type,
        empty: rows - values.len(),
        distinct: distinct.len(),
        label: codebook.label.clone(),
        categories,
        unrestricting,
        missing,
        missing_ranges,
        range: range.filter(|_| matches!(field_type, FieldType::Integer | FieldType::Number)),
        codes,
    }
}

/// The regular expression of text values of one fixed shape: every value as long, and at each
/// position a digit, the same character, or an upper-case or a lower-case letter throughout.
/// `None` when the values differ otherwise, or have no digit and no varying letter.
fn shape(values: &[&str]) -> Option<String> {
    let first: Vec<char> = values.first()?.chars().collect();
    if first.is_empty() || first.len() > 40 {
        return None;
    }
    #[derive(Clone, Copy, PartialEq)]
    enum Slot {
        Literal(char),
        Digit,
        Upper,
        Lower,
    }
    let class = |c: char| match c {
        '0'..='9' => Some(Slot::Digit),
        'A'..='Z' => Some(Slot::Upper),
        'a'..='z' => Some(Slot::Lower),
        _ => None,
    };
    // A digit is any digit (ids count up); a letter is itself until another letter of its case
    // takes its place.
    let mut slots: Vec<Slot> = first
        .iter()
        .map(|&c| match class(c) {
            Some(Slot::Digit) => Slot::Digit,
            _ => Slot::Literal(c),
        })
        .collect();
    for value in values {
        let mut chars = value.chars();
        for slot in slots.iter_mut() {
            let c = chars.next()?;
            *slot = match *slot {
                Slot::Literal(l) if l == c => Slot::Literal(l),
                Slot::Literal(l) if class(l).is_some() && class(l) == class(c) => class(c)?,
                other if class(c) == Some(other) => other,
                _ => return None,
            };
        }
        if chars.next().is_some() {
            return None;
        }
    }
    if slots.iter().all(|s| matches!(s, Slot::Literal(_))) {
        return None;
    }
    let mut pattern = String::new();
    let mut i = 0;
    while i < slots.len() {
        let run = slots[i..].iter().take_while(|s| **s == slots[i]).count();
        let (piece, repeatable) = match slots[i] {
            Slot::Literal(c) => (regex::escape(&c.to_string()), false),
            Slot::Digit => ("[0-9]".to_string(), true),
            Slot::Upper => ("[A-Z]".to_string(), true),
            Slot::Lower => ("[a-z]".to_string(), true),
        };
        match (repeatable, run) {
            (true, 1) | (false, _) => {
                pattern.push_str(&piece);
                i += 1;
            }
            (true, run) => {
                let _ = write!(pattern, "{piece}{{{run}}}");
                i += run;
            }
        }
    }
    Some(pattern)
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// A code as a TOML key: bare when it is plain digits, else quoted.
fn key(code: &str) -> String {
    if !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()) {
        code.to_string()
    } else {
        quoted(code)
    }
}

fn inline_table(codes: &[(String, String)]) -> String {
    let entries: Vec<String> = codes
        .iter()
        .map(|(code, label)| format!("{} = {}", key(code), quoted(label)))
        .collect();
    format!("{{ {} }}", entries.join(", "))
}

/// The primary key: the first complete, unique text or integer column, preferring one named
/// like an id.
fn primary_key(columns: &[Column]) -> Option<&Column> {
    let candidates = columns
        .iter()
        .filter(|c| c.unique && matches!(c.field_type, FieldType::String | FieldType::Integer));
    let named = |c: &&Column| {
        let name = c.name.to_ascii_lowercase();
        ["id", "nummer", "key", "respondent"]
            .iter()
            .any(|w| name.contains(w))
    };
    candidates
        .clone()
        .find(named)
        .or_else(|| candidates.clone().next())
}

/// `#:schema` for an editor, when the JSON Schema is where the repository keeps it.
fn schema_directive(file: &Path, out: &Path, json: &str) -> String {
    match out.join(json).is_file() {
        true => format!(
            "#:schema {}\n",
            relative(&out.join(json), file.parent().unwrap_or(out))
        ),
        false => String::new(),
    }
}

/// `target` as a path relative to the folder `from` (both resolved as the spec resolves its
/// paths), with `/`.
fn relative(target: &Path, from: &Path) -> String {
    let (target, from) = (spec::resolved(target), spec::resolved(from));
    let target_parts: Vec<Component> = target.components().collect();
    let from_parts: Vec<Component> = from.components().collect();
    let common = target_parts
        .iter()
        .zip(&from_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".to_string(); from_parts.len() - common];
    parts.extend(
        target_parts[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().to_string()),
    );
    parts.join("/")
}

fn schema_text(name: &str, raw: &RawFrame, columns: &[Column], path: &Path, out: &Path) -> String {
    let mut text = schema_directive(path, out, json_schema::SCHEMA_PATH);
    let file = raw
        .path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let _ = writeln!(
        text,
        "# Drafted by `peiling init` from {file} ({} rows, {} columns). Check every field:\n\
         # - the types were read from the values; a column of codes may deserve `categories`;\n\
         # - the commented ranges are the data's own: set the questionnaire's, or leave them out;\n\
         # - `required = true` rejects a row without a value.\n\
         # The keys are documented in docs/schema.md of peiling.",
        raw.rows(),
        columns.len()
    );
    let primary = primary_key(columns);
    let _ = writeln!(text, "name = {}", quoted(name));
    if let Some(primary) = primary {
        let _ = writeln!(
            text,
            "# Every value of {} is present and unique.\nprimary_key = [{}]",
            primary.name,
            quoted(&primary.name)
        );
    }
    for column in columns {
        text.push('\n');
        let _ = writeln!(
            text,
            "[[field]]\nname = {}\ntype = {}",
            quoted(&column.name),
            quoted(column.field_type.as_str())
        );
        if let Some(label) = &column.label {
            let _ = writeln!(text, "label = {}", quoted(label));
        }
        if primary.is_some_and(|k| k.name == column.name) {
            text.push_str("required = true\n");
        } else if column.empty > 0 {
            let _ = writeln!(
                text,
                "# {} row{} no value.",
                column.empty,
                if column.empty == 1 { " has" } else { "s have" }
            );
        }
        if column.empty == raw.rows() {
            text.push_str("# No row has a value: the type is a guess.\n");
        }
        if !column.categories.is_empty() {
            let _ = writeln!(text, "categories = {}", inline_table(&column.categories));
        }
        if let Some((count, first)) = &column.unrestricting {
            let _ = writeln!(
                text,
                "# The file labels its codes, but the data hold {count} unlabelled value{} (such as {}):\n\
                 # the labels are read from the file at every run, without restricting the values.",
                if *count == 1 { "" } else { "s" },
                first.join(", ")
            );
        }
        if !column.codes.is_empty() {
            let _ = writeln!(
                text,
                "# Codes in the data: {}. To label and restrict them:\n# categories = {{ {} }}",
                column.codes.join(", "),
                column
                    .codes
                    .iter()
                    .map(|c| format!("{} = \"...\"", key(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !column.missing.is_empty() {
            let _ = writeln!(text, "missing = {}", inline_table(&column.missing));
        }
        for (low, high) in &column.missing_ranges {
            let _ = writeln!(
                text,
                "# The file declares {} to {} user-missing; it is read from the file at every run.",
                ingest::number_text(*low),
                ingest::number_text(*high)
            );
        }
        if let Some((low, high)) = column.range.filter(|_| column.categories.is_empty()) {
            let _ = writeln!(
                text,
                "# minimum = {}\n# maximum = {}",
                ingest::number_text(low),
                ingest::number_text(high)
            );
        }
        if let Some(pattern) = &column.pattern {
            let _ = writeln!(
                text,
                "# Every value has the shape below; a value of another shape is rejected.\npattern = {}",
                quoted(pattern)
            );
        }
    }
    text
}

/// Columns named like a design variable, for the commented `[design]`.
fn design_candidates(columns: &[Column]) -> Vec<(&'static str, &str)> {
    let named = |words: &[&str], numeric: bool| {
        columns.iter().find(|c| {
            let name = c.name.to_ascii_lowercase();
            words.iter().any(|w| name.contains(w))
                && (!numeric || matches!(c.field_type, FieldType::Integer | FieldType::Number))
        })
    };
    [
        (
            "weight",
            named(&["weight", "gewicht", "weegfactor", "wgt", "weging"], true),
        ),
        ("strata", named(&["strat"], false)),
        ("psu", named(&["psu", "cluster"], false)),
        ("fpc", named(&["fpc"], true)),
    ]
    .into_iter()
    .filter_map(|(key, column)| column.map(|c| (key, c.name.as_str())))
    .collect()
}

/// The wave: a single value of a column named like one, else a year in the file name, else 1.
fn wave_of(raw: &RawFrame, columns: &[Column]) -> (i32, &'static str) {
    for column in columns {
        let name = column.name.to_ascii_lowercase();
        if ["wave", "jaar", "meting", "year"].contains(&name.as_str())
            && column.distinct == 1
            && column.field_type == FieldType::Integer
        {
            let value = raw.frame.column(&column.name).ok().and_then(|c| {
                c.str()
                    .ok()?
                    .iter()
                    .flatten()
                    .next()
                    .and_then(parse_integer)
            });
            if let Some(wave) = value.and_then(|v| i32::try_from(v).ok()) {
                return (wave, "the single value of its wave column");
            }
        }
    }
    let stem = raw
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let year = stem
        .as_bytes()
        .windows(4)
        .enumerate()
        .filter(|(at, w)| {
            w.iter().all(u8::is_ascii_digit)
                && (w.starts_with(b"19") || w.starts_with(b"20"))
                && !stem
                    .as_bytes()
                    .get(at.wrapping_sub(1))
                    .is_some_and(u8::is_ascii_digit)
                && !stem.as_bytes().get(at + 4).is_some_and(u8::is_ascii_digit)
        })
        .map(|(_, w)| {
            std::str::from_utf8(w)
                .unwrap_or("0")
                .parse::<i32>()
                .unwrap_or(0)
        })
        .next();
    match year {
        Some(year) => (year, "the year in the file name"),
        None => (1, "nothing says which wave this is: set it"),
    }
}

/// The pipeline's text; `csv` is the decimal mark (comma or not) of a CSV export.
fn pipeline_text(
    name: &str,
    raw: &RawFrame,
    csv: Option<bool>,
    columns: &[Column],
    (schema_path, path): (&Path, &Path),
    out: &Path,
) -> String {
    let folder = path.parent().unwrap_or(out);
    let mut text = schema_directive(path, out, json_schema::PIPELINE_PATH);
    let _ = writeln!(
        text,
        "# Drafted by `peiling init`. Check the wave, choose the design, and write the indicators;\n\
         # `peiling check` checks this file without reading the data. The keys are documented in\n\
         # docs/pipeline.md of peiling.\n\n[pipeline]\nname = {}\n",
        quoted(name)
    );
    let (wave, why) = wave_of(raw, columns);
    let _ = writeln!(
        text,
        "[[input]]\nwave = {wave}  # {why}\npath = {}\nschema = {}",
        quoted(&relative(&raw.path, folder)),
        quoted(&relative(schema_path, folder)),
    );
    if let (Some(comma), Some(dialect)) = (csv, &raw.dialect) {
        let delimiter = match dialect.delimiter {
            '\t' => "\\t".to_string(),
            other => other.to_string(),
        };
        let _ = writeln!(text, "delimiter = {}", quoted(&delimiter));
        if columns.iter().any(|c| c.field_type == FieldType::Number) {
            let _ = writeln!(text, "decimal = {}", quoted(if comma { "," } else { "." }));
        }
        let _ = writeln!(text, "encoding = {}", quoted(&dialect.encoding));
    }
    text.push_str(
        "\n# The sampling design (R svydesign). Without it every respondent weighs 1 and is their\n\
         # own PSU. Columns named like design variables, for you to confirm:\n[design]\n",
    );
    let candidates = design_candidates(columns);
    if candidates.is_empty() {
        text.push_str("# weight = \"...\"\n# strata = \"...\"\n# psu = \"...\"\n");
    }
    for (key, column) in candidates {
        let _ = writeln!(text, "# {key} = {}", quoted(column));
    }
    text.push('\n');
    text.push_str(&example_indicator(columns));
    let segment = columns.iter().find(|c| !c.categories.is_empty());
    text.push_str("\n[segments]\ntotal = true\n");
    match segment {
        Some(column) => {
            let _ = writeln!(text, "# by = [[{}]]", quoted(&column.name));
        }
        None => text.push_str("# by = [[\"...\"]]\n"),
    }
    text
}

/// One indicator that runs on the draft: the share of the first category of the first
/// labelled column, else the mean of the first numeric column, else the number of respondents.
fn example_indicator(columns: &[Column]) -> String {
    let primary = primary_key(columns).map(|c| c.name.as_str());
    let sql_name = |name: &str| match name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        true => name.to_string(),
        false => format!("\"{}\"", name.replace('"', "\"\"")),
    };
    let mut text = String::from("[[indicator]]\n");
    let categorical = columns
        .iter()
        .find(|c| c.field_type == FieldType::Integer && !c.categories.is_empty());
    let numeric = columns.iter().find(|c| {
        matches!(c.field_type, FieldType::Integer | FieldType::Number)
            && Some(c.name.as_str()) != primary
            && c.range.is_some()
    });
    if let Some(column) = categorical {
        let (code, label) = &column.categories[0];
        let what = column.label.as_deref().unwrap_or(&column.name);
        let _ = writeln!(
            text,
            "id = {}\nlabel = {}\nkind = \"proportion\"\npopulation = {}\nvalue = {}",
            quoted(&format!("{}_{}", column.name, code)),
            quoted(&format!("{what}: {label}")),
            quoted(&format!("{} IS NOT NULL", sql_name(&column.name))),
            quoted(&format!("{} = {code}", sql_name(&column.name))),
        );
    } else if let Some(column) = numeric {
        let what = column.label.as_deref().unwrap_or(&column.name);
        let _ = writeln!(
            text,
            "id = {}\nlabel = {}\nkind = \"mean\"\nvalue = {}",
            quoted(&format!("{}_gemiddeld", column.name)),
            quoted(&format!("{what} (gemiddelde)")),
            quoted(&sql_name(&column.name)),
        );
    } else {
        text.push_str(
            "id = \"respondenten\"\nlabel = \"Respondenten (gewogen aantal)\"\nkind = \"total\"\nvalue = \"1\"\n",
        );
    }
    text.push_str(
        "# kind: proportion (value: a condition), mean, total, ratio (numerator, denominator)\n\
         # or quantile (value, probability = 0.5); population: who is in the denominator.\n",
    );
    text
}

/// Whether every value matches `pattern` whole, as validation matches it.
#[cfg(test)]
fn matches_all(pattern: &str, values: &[&str]) -> bool {
    let regex = regex::Regex::new(&format!("^(?:{pattern})$")).unwrap();
    values.iter().all(|v| regex.is_match(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_shapes_become_patterns_that_match_every_value() {
        let ids = ["DM24-000123", "DM24-004567", "DM22-999999"];
        let pattern = shape(&ids).unwrap();
        assert_eq!(pattern, "DM[0-9]{2}\\-[0-9]{6}");
        assert!(matches_all(&pattern, &ids));
        assert_eq!(shape(&["GM0034", "GM1680"]).as_deref(), Some("GM[0-9]{4}"));
        assert_eq!(shape(&["ab1", "cd2"]).as_deref(), Some("[a-z]{2}[0-9]"));
        // Different lengths, mixed classes at a position, or one value throughout: none.
        assert_eq!(shape(&["A1", "A12"]), None);
        assert_eq!(shape(&["A1", "11"]), None);
        assert_eq!(shape(&["x-y", "x-y"]), None);
    }

    #[test]
    fn names_and_relative_paths() {
        assert_eq!(
            name_of(Path::new("data/GGD Monitor 2024.sav")),
            "ggd-monitor-2024"
        );
        assert_eq!(name_of(Path::new("---.csv")), "survey");
        assert_eq!(
            relative(Path::new("/a/b/c.csv"), Path::new("/a/d")),
            "../b/c.csv"
        );
        assert_eq!(
            relative(Path::new("/a/b/c.csv"), Path::new("/a/b")),
            "c.csv"
        );
        assert_eq!(key("12"), "12");
        assert_eq!(key("-1"), "\"-1\"");
        assert_eq!(quoted("a \"b\""), "'a \"b\"'");
    }
}
