//! Schema files (`schemas/*.schema.toml`), modelled on Frictionless Table Schema.
//!
//! A schema says what each column of an export must hold: its type, value labels
//! (`categories`), user-missing codes (`missing`: kept in the private microdata, null in every
//! analysis, as SPSS treats them), a range, a pattern, whether a value is required, the primary
//! key, and cross-field routing rules written as SQL conditions.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use polars::prelude::Expr;
use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{expr_columns, line_col, parse_sql, sha256_hex};
use crate::diag::{catalog, Diagnostic, Failure, Place};

/// A schema file (`schemas/*.schema.toml`): what each column of an export must hold.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaSpec {
    /// Name of the export format.
    pub name: String,
    /// Columns whose values identify a respondent; must be unique.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub primary_key: Vec<Spanned<String>>,
    /// Raw strings read as system-missing, besides an empty field.
    #[serde(default = "default_missing_values")]
    pub missing_values: Vec<String>,
    /// One per column the export must have.
    #[serde(default)]
    pub field: Vec<FieldSpec>,
    /// Routing rules: SQL conditions over the values as answered.
    #[serde(default)]
    pub rule: Vec<RuleSpec>,
}

fn default_missing_values() -> Vec<String> {
    vec![String::new()]
}

/// One column of the export.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The column's name, as in the export's header.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// How the values are read: `string`, `integer`, `number`, `boolean` or `date`.
    #[serde(rename = "type")]
    pub field_type: FieldType,
    /// Question text or description.
    pub label: Option<String>,
    /// A system-missing value rejects the row.
    #[serde(default)]
    pub required: bool,
    /// Valid codes and their labels (`{ 1 = "man", 2 = "vrouw" }`); any other value that is not
    /// missing rejects the row.
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub categories: Option<Spanned<toml::Table>>,
    /// User-missing codes and their labels (`{ 9 = "geen antwoord" }`): kept in the private
    /// microdata, null in every analysis.
    #[schemars(with = "Option<std::collections::BTreeMap<String, String>>")]
    pub missing: Option<Spanned<toml::Table>>,
    /// A smaller value rejects the row (user-missing codes are not checked).
    pub minimum: Option<f64>,
    /// A larger value rejects the row (user-missing codes are not checked).
    pub maximum: Option<f64>,
    /// Regular expression a string value must match (whole value).
    #[schemars(with = "Option<String>")]
    pub pattern: Option<Spanned<String>>,
}

/// A routing rule: `require` must hold for the rows where `when` holds.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The rule's name, the `rule` column of the rejects.
    #[schemars(with = "String")]
    pub id: Spanned<String>,
    /// SQL condition selecting the rows the rule applies to; absent: every row.
    #[schemars(with = "Option<String>")]
    pub when: Option<Spanned<String>>,
    /// SQL condition that must hold for those rows.
    #[schemars(with = "String")]
    pub require: Spanned<String>,
    /// Message for the rejects file; default: the rule's conditions.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FieldType {
    /// Any text.
    String,
    /// Whole numbers.
    Integer,
    /// Decimal numbers, with the input's decimal mark.
    Number,
    /// `true`, `false`, `1` or `0`.
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
        }
    }
}

/// A code of a categorical or user-missing value, typed like its field.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub enum Code {
    Int(i64),
    Num(f64),
    Str(String),
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Code::Int(v) => write!(f, "{v}"),
            Code::Num(v) => write!(f, "{v}"),
            Code::Str(v) => write!(f, "{v}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FieldPlan {
    pub name: String,
    pub field_type: FieldType,
    pub label: Option<String>,
    pub required: bool,
    /// Sorted by code.
    pub categories: Vec<(Code, String)>,
    /// Sorted by code.
    pub missing: Vec<(Code, String)>,
    /// User-missing ranges `(low, high)`, bounds included: from an SPSS file's declarations.
    pub missing_ranges: Vec<(f64, f64)>,
    /// Value labels that describe without restricting: from an SPSS file, for a field whose
    /// schema lists no `categories`. Sorted by code.
    pub value_labels: Vec<(Code, String)>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub pattern: Option<Pattern>,
}

/// A field's `pattern`: a regex, matched through a compiled DFA when one can be built.
///
/// Millions of short ids are matched per wave; `Regex::is_match` spends most of its time per
/// call, not per byte, and a dense DFA stepped byte by byte does not. Where the DFA cannot
/// decide (a Unicode word boundary on non-ASCII text) or was not built (too large), the regex
/// does. Both are the same regex syntax and semantics (`regex-automata`).
///
/// The usual id pattern, one fixed shape anchored at both ends (`^GM[0-9]{2}-[0-9]{8}$`), is
/// checked position by position instead ([`Shape`]): the bytes are independent, where the DFA
/// waits for each state before the next.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    shape: Option<std::sync::Arc<Shape>>,
    /// The DFA and its start state at the start of a text (every search starts there).
    dfa: Option<(
        std::sync::Arc<regex_automata::dfa::dense::DFA<Vec<u32>>>,
        regex_automata::util::primitives::StateID,
    )>,
}

impl Pattern {
    pub fn new(regex: Regex) -> Pattern {
        use regex_automata::dfa::{dense, Automaton};
        use regex_automata::util::start;
        let dfa = dense::Builder::new()
            .configure(dense::Config::new().dfa_size_limit(Some(1 << 20)))
            .build(regex.as_str())
            .ok()
            .and_then(|dfa| {
                let config = start::Config::new().anchored(regex_automata::Anchored::No);
                let start = dfa.start_state(&config).ok()?;
                Some((std::sync::Arc::new(dfa), start))
            });
        let shape = regex_syntax::parse(regex.as_str())
            .ok()
            .and_then(|hir| Shape::of(&hir))
            .map(std::sync::Arc::new);
        Pattern { regex, shape, dfa }
    }

    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    pub fn is_match(&self, text: &str) -> bool {
        if let Some(shape) = &self.shape {
            return shape.is_match(text.as_bytes());
        }
        self.dfa
            .as_ref()
            .and_then(|(dfa, start)| dfa_is_match(dfa, *start, text.as_bytes()))
            .unwrap_or_else(|| self.regex.is_match(text))
    }
}

/// The texts of one length whose every byte is in its position's set: a regex that is a
/// sequence of literals, ASCII classes and fixed repetitions of them, between `^` and `$`.
#[derive(Debug)]
pub struct Shape {
    /// Per position, which bytes may be there.
    sets: Vec<[bool; 256]>,
    /// Per position, the set as one range of bytes, `(first, last - first)`, when every set is
    /// one (`GM[0-9]{4}`): checked with arithmetic rather than tables.
    ranges: Option<Vec<(u8, u8)>>,
    /// The ranges as [`Lanes`], for texts of 1 to 16 bytes.
    lanes: Option<Lanes>,
    /// Whether a `$` came: nothing may follow.
    ended: bool,
}

impl Shape {
    /// The shape of `hir`; `None` when it has none (an alternation, an open repetition, a
    /// non-ASCII class, an unanchored end).
    fn of(hir: &regex_syntax::hir::Hir) -> Option<Shape> {
        use regex_syntax::hir::{HirKind, Look};
        let HirKind::Concat(parts) = hir.kind() else {
            return None;
        };
        let (first, rest) = parts.split_first()?;
        let (last, middle) = rest.split_last()?;
        let anchored = |part: &regex_syntax::hir::Hir, look| *part.kind() == HirKind::Look(look);
        if !anchored(first, Look::Start) || !anchored(last, Look::End) {
            return None;
        }
        let mut shape = Shape {
            sets: Vec::new(),
            ranges: None,
            lanes: None,
            ended: false,
        };
        for part in middle {
            shape.push(part)?;
        }
        shape.ranges = shape.sets.iter().map(range).collect();
        shape.lanes = shape.ranges.as_deref().and_then(Lanes::of);
        Some(shape)
    }

    fn push(&mut self, hir: &regex_syntax::hir::Hir) -> Option<()> {
        use regex_syntax::hir::{Class, HirKind, Look};
        const LIMIT: usize = 256;
        let mut set = [false; 256];
        if self.ended && *hir.kind() != HirKind::Look(Look::End) {
            return None;
        }
        match hir.kind() {
            // The schema's own anchors, inside the `^(?:…)$` every pattern is wrapped in: a `^`
            // before any byte, a `$` after the last.
            HirKind::Look(Look::Start) if self.sets.is_empty() => {}
            HirKind::Look(Look::End) => self.ended = true,
            HirKind::Literal(literal) => {
                for &byte in literal.0.iter() {
                    let mut set = [false; 256];
                    set[usize::from(byte)] = true;
                    self.sets.push(set);
                }
            }
            HirKind::Class(Class::Unicode(class)) => {
                for range in class.ranges() {
                    let (start, end) = (u32::from(range.start()), u32::from(range.end()));
                    if end > 0x7F {
                        return None;
                    }
                    set[start as usize..=end as usize].fill(true);
                }
                self.sets.push(set);
            }
            HirKind::Class(Class::Bytes(class)) => {
                for range in class.ranges() {
                    if range.end() > 0x7F {
                        return None;
                    }
                    set[usize::from(range.start())..=usize::from(range.end())].fill(true);
                }
                self.sets.push(set);
            }
            HirKind::Repetition(repetition) if repetition.max == Some(repetition.min) => {
                for _ in 0..repetition.min {
                    self.push(&repetition.sub)?;
                    if self.sets.len() > LIMIT {
                        return None;
                    }
                }
            }
            HirKind::Capture(capture) => self.push(&capture.sub)?,
            HirKind::Concat(parts) => {
                for part in parts {
                    self.push(part)?;
                }
            }
            _ => return None,
        }
        (self.sets.len() <= LIMIT).then_some(())
    }

    #[inline]
    fn is_match(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.sets.len() {
            return false;
        }
        if let Some(lanes) = &self.lanes {
            return lanes.is_match(bytes);
        }
        match &self.ranges {
            Some(ranges) => bytes
                .iter()
                .zip(ranges)
                .fold(true, |all, (&byte, &(first, span))| {
                    all & (byte.wrapping_sub(first) <= span)
                }),
            None => bytes
                .iter()
                .zip(&self.sets)
                .fold(true, |all, (&byte, set)| all & set[usize::from(byte)]),
        }
    }
}

/// The ranges of a shape of 1 to 16 positions, checked 16 bytes at once: the text is read as
/// its first `head` bytes into lanes `0..head` and its last `head` bytes into lanes
/// `8..8 + head` (the two reads overlap when the text is shorter than `2 * head`), `head` the
/// largest of 8, 4, 2, 1 that the length allows, and each lane is checked against the range
/// of the position it holds (a lane that holds none takes any byte). The loop over the lanes
/// is branch-free byte arithmetic that compiles to a few vector instructions.
#[derive(Debug)]
struct Lanes {
    len: usize,
    head: usize,
    first: [u8; 16],
    span: [u8; 16],
}

impl Lanes {
    fn of(ranges: &[(u8, u8)]) -> Option<Lanes> {
        let len = ranges.len();
        if !(1..=16).contains(&len) {
            return None;
        }
        let head = [8, 4, 2, 1].into_iter().find(|&head| head <= len)?;
        let (mut first, mut span) = ([0; 16], [u8::MAX; 16]);
        let positions = (0..head)
            .map(|i| (i, i))
            .chain((0..head).map(|i| (8 + i, len - head + i)));
        for (lane, position) in positions {
            (first[lane], span[lane]) = ranges[position];
        }
        Some(Lanes {
            len,
            head,
            first,
            span,
        })
    }

    #[inline]
    fn is_match(&self, bytes: &[u8]) -> bool {
        if bytes.len() != self.len {
            return false;
        }
        /// The first and last `N` bytes as two words: lanes `0..8` and `8..16`.
        #[inline(always)]
        fn read<const N: usize>(bytes: &[u8]) -> (u64, u64) {
            let (mut head, mut tail) = ([0u8; 8], [0u8; 8]);
            head[..N].copy_from_slice(&bytes[..N]);
            tail[..N].copy_from_slice(&bytes[bytes.len() - N..]);
            (u64::from_le_bytes(head), u64::from_le_bytes(tail))
        }
        let (head, tail) = match self.head {
            8 => read::<8>(bytes),
            4 => read::<4>(bytes),
            2 => read::<2>(bytes),
            _ => read::<1>(bytes),
        };
        // A byte in its range `first..=first + span` is `span` or less above `first`: the
        // saturating difference is 0.
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::*;
            // SAFETY: SSE2 is part of x86-64; the loads read the lanes' 16-byte arrays.
            unsafe {
                let lanes = _mm_set_epi64x(tail as i64, head as i64);
                let first = _mm_loadu_si128(self.first.as_ptr().cast());
                let span = _mm_loadu_si128(self.span.as_ptr().cast());
                let outside = _mm_subs_epu8(_mm_sub_epi8(lanes, first), span);
                _mm_movemask_epi8(_mm_cmpeq_epi8(outside, _mm_setzero_si128())) == 0xFFFF
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let lanes = (u128::from(head) | u128::from(tail) << 64).to_le_bytes();
            (0..16).all(|lane| lanes[lane].wrapping_sub(self.first[lane]) <= self.span[lane])
        }
    }
}

/// A set of bytes as one range, `(first, last - first)`; `None` when it is not one.
fn range(set: &[bool; 256]) -> Option<(u8, u8)> {
    let first = set.iter().position(|&b| b)?;
    let last = set.iter().rposition(|&b| b)?;
    set[first..=last]
        .iter()
        .all(|&b| b)
        .then(|| (first as u8, (last - first) as u8))
}

/// Whether `dfa`, from `start`, matches somewhere in `haystack`; `None` when it gives up (a
/// quit byte).
#[inline]
fn dfa_is_match(
    dfa: &regex_automata::dfa::dense::DFA<Vec<u32>>,
    start: regex_automata::util::primitives::StateID,
    haystack: &[u8],
) -> Option<bool> {
    use regex_automata::dfa::Automaton;
    let mut state = start;
    for &byte in haystack {
        state = dfa.next_state(state, byte);
        if dfa.is_special_state(state) {
            if dfa.is_match_state(state) {
                return Some(true);
            }
            if dfa.is_dead_state(state) {
                return Some(false);
            }
            if dfa.is_quit_state(state) {
                return None;
            }
        }
    }
    Some(dfa.is_match_state(dfa.next_eoi_state(state)))
}

impl FieldPlan {
    /// Value label of a code, from `categories`, `missing` or the file's value labels.
    pub fn label_of(&self, code: &Code) -> Option<&str> {
        self.categories
            .iter()
            .chain(&self.missing)
            .chain(&self.value_labels)
            .find(|(c, _)| c == code)
            .map(|(_, label)| label.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct RulePlan {
    pub id: String,
    /// `true` when the rule has no `when`.
    pub when: Expr,
    pub require: Expr,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct SchemaPlan {
    pub name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub primary_key: Vec<String>,
    pub missing_values: Vec<String>,
    pub fields: Vec<FieldPlan>,
    pub rules: Vec<RulePlan>,
}

impl SchemaPlan {
    pub fn field(&self, name: &str) -> Option<&FieldPlan> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Reads and checks a schema file; every problem is reported at once.
pub fn load(path: &Path) -> Result<SchemaPlan, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::error(
            catalog::S101,
            format!("cannot read schema file {}", path.display()),
        )
        .caused_by(e)
    })?;
    let spec: SchemaSpec = toml::from_str(&text).map_err(|e| super::toml_error(path, &e))?;
    let mut problems = Vec::new();
    let at = |offset: usize| {
        let (line, column) = line_col(&text, offset);
        Place::position(path.display(), line, column)
    };

    let mut fields = Vec::new();
    let mut names = BTreeSet::new();
    for field in &spec.field {
        let name = field.name.get_ref().clone();
        if !names.insert(name.clone()) {
            problems.push(
                Diagnostic::error(catalog::S102, format!("field {name:?} is defined twice"))
                    .at(at(field.name.span().start)),
            );
        }
        let mut codes = |table: &Option<Spanned<toml::Table>>, what: &str| {
            let mut codes = Vec::new();
            let Some(table) = table else { return codes };
            for (key, value) in table.get_ref() {
                let label = match value {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                match parse_code(key, field.field_type) {
                    Some(code) => codes.push((code, label)),
                    None => problems.push(
                        Diagnostic::error(
                            catalog::S103,
                            format!(
                                "field {name:?}: {what} code {key:?} is not a valid {}",
                                field.field_type.as_str()
                            ),
                        )
                        .at(at(table.span().start)),
                    ),
                }
            }
            codes.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            codes
        };
        let categories = codes(&field.categories, "category");
        let missing = codes(&field.missing, "missing");
        for (code, _) in &missing {
            if categories.iter().any(|(c, _)| c == code) {
                problems.push(
                    Diagnostic::error(
                        catalog::S104,
                        format!(
                            "field {name:?}: code {code} is both a category and a missing code"
                        ),
                    )
                    .at(at(field.name.span().start)),
                );
            }
        }
        let pattern = field.pattern.as_ref().and_then(|p| {
            match Regex::new(&format!("^(?:{})$", p.get_ref())) {
                Ok(regex) => Some(Pattern::new(regex)),
                Err(e) => {
                    problems.push(
                        Diagnostic::error(
                            catalog::S105,
                            format!("field {name:?}: invalid pattern"),
                        )
                        .at(at(p.span().start))
                        .caused_by(e),
                    );
                    None
                }
            }
        });
        if let (Some(min), Some(max)) = (field.minimum, field.maximum) {
            if min > max {
                problems.push(
                    Diagnostic::error(
                        catalog::S106,
                        format!("field {name:?}: minimum {min} > maximum {max}"),
                    )
                    .at(at(field.name.span().start)),
                );
            }
        }
        fields.push(FieldPlan {
            name,
            field_type: field.field_type,
            label: field.label.clone(),
            required: field.required,
            categories,
            missing,
            missing_ranges: Vec::new(),
            value_labels: Vec::new(),
            minimum: field.minimum,
            maximum: field.maximum,
            pattern,
        });
    }

    for key in &spec.primary_key {
        if !names.contains(key.get_ref()) {
            problems.push(
                Diagnostic::error(
                    catalog::S107,
                    format!("primary_key column {:?} is not a field", key.get_ref()),
                )
                .at(at(key.span().start)),
            );
        }
    }

    let mut rules = Vec::new();
    let mut rule_ids = BTreeSet::new();
    for rule in &spec.rule {
        let id = rule.id.get_ref().clone();
        if !rule_ids.insert(id.clone()) {
            problems.push(
                Diagnostic::error(catalog::S108, format!("rule {id:?} is defined twice"))
                    .at(at(rule.id.span().start)),
            );
        }
        let mut condition = |text: &Spanned<String>| match parse_sql(text.get_ref()) {
            Ok(expr) => {
                let unknown: Vec<String> = expr_columns(&expr)
                    .into_iter()
                    .filter(|c| !names.contains(c))
                    .collect();
                if unknown.is_empty() {
                    Some(expr)
                } else {
                    problems.push(
                        Diagnostic::error(
                            catalog::S109,
                            format!("rule {id:?}: unknown column {}", unknown.join(", ")),
                        )
                        .at(at(text.span().start)),
                    );
                    None
                }
            }
            Err(message) => {
                problems.push(
                    Diagnostic::error(
                        catalog::S110,
                        format!("rule {id:?}: invalid SQL condition {:?}", text.get_ref()),
                    )
                    .at(at(text.span().start))
                    .caused_by(message),
                );
                None
            }
        };
        let when = rule.when.as_ref().map(&mut condition);
        let require = condition(&rule.require);
        let message = rule.message.clone().unwrap_or_else(|| match &rule.when {
            Some(when) => format!(
                "when {} then {} must hold",
                when.get_ref(),
                rule.require.get_ref()
            ),
            None => format!("{} must hold", rule.require.get_ref()),
        });
        if let (Some(require), Some(when)) =
            (require, when.unwrap_or(Some(polars::prelude::lit(true))))
        {
            rules.push(RulePlan {
                id,
                when,
                require,
                message,
            });
        }
    }

    if !problems.is_empty() {
        return Err(Failure::user(problems));
    }
    Ok(SchemaPlan {
        name: spec.name,
        path: path.to_path_buf(),
        sha256: sha256_hex(text.as_bytes()),
        primary_key: spec
            .primary_key
            .into_iter()
            .map(|k| k.into_inner())
            .collect(),
        missing_values: spec.missing_values,
        fields,
        rules,
    })
}

/// Parses a code written as a TOML key according to the field's type.
pub fn parse_code(key: &str, field_type: FieldType) -> Option<Code> {
    match field_type {
        FieldType::Integer => key.trim().parse().ok().map(Code::Int),
        FieldType::Number => key
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Code::Num),
        FieldType::String | FieldType::Date => Some(Code::Str(key.to_string())),
        FieldType::Boolean => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A pattern matches what its regex matches, through the DFA or not.
        #[test]
        fn patterns_match_as_their_regex(text in "(GM|gm|é|[0-9]|-| |\\n|a|ß){0,14}") {
            for pattern in [
                "^(?:GM[0-9]{2}-[0-9]{8})$",
                "^(?:^GM[0-9]{2}-[0-9]{8}$)$",
                "^(?:GM[0-9]{4})$",
                "^(?:a^a)$",
                "^(?:GM$[0-9])$",
                "^(?:^$)$",
                "^(?:(?:GM|gm)[0-9])$",
                "^(?:é[a-z]{2}\\s)$",
                "^(?:é[a-z]{2}-)$",
                "^(?:(G)M[0-9]{2}[ -]a)$",
                "^(?:(?-u:[0-9]){3})$",
                "^(?:(?i)gm[0-9-]{0,2})$",
                "^(?:[^a]{2})$",
                "[0-9]+",
                "^(?:\\w+)$",
                "^(?:\\d{2,})",
                "(?i)gm",
                "\\bGM",
            ] {
                let pattern = Pattern::new(Regex::new(pattern).unwrap());
                proptest::prop_assert_eq!(pattern.is_match(&text), pattern.regex.is_match(&text), "{} on {:?}", pattern.as_str(), text);
            }
        }
    }

    proptest::proptest! {
        /// Shapes of 1 to 18 positions (16 and fewer are checked in lanes), each position its
        /// own range, on texts that match but for at most one byte, or are a byte short or long.
        #[test]
        fn shapes_in_lanes_match_as_their_regex(
            picks in proptest::collection::vec(0usize..2, 1..=18),
            changed in proptest::option::of((0usize..18, b'a'..=b'f')),
            length in -1i32..=1,
        ) {
            let ranges = [(b'a', b'b'), (b'b', b'c'), (b'c', b'e')];
            let regex: String = (0..picks.len())
                .map(|i| ranges[i % 3])
                .map(|(a, b)| format!("[{}-{}]", a as char, b as char))
                .collect();
            let mut text: Vec<u8> = picks.iter().enumerate().map(|(i, &p)| ranges[i % 3].0 + p as u8).collect();
            if let Some((at, byte)) = changed {
                let at = at % text.len();
                text[at] = byte;
            }
            match length {
                -1 => { text.pop(); }
                1 => text.push(b'a'),
                _ => {}
            }
            let text = String::from_utf8(text).unwrap();
            let pattern = Pattern::new(Regex::new(&format!("^(?:{regex})$")).unwrap());
            let shape = pattern.shape.as_ref().unwrap();
            proptest::prop_assert_eq!(shape.lanes.is_some(), picks.len() <= 16);
            proptest::prop_assert_eq!(pattern.is_match(&text), pattern.regex.is_match(&text), "{} on {:?}", pattern.as_str(), text);
        }
    }

    #[test]
    fn id_patterns_get_a_dfa_and_a_shape() {
        let pattern = Pattern::new(Regex::new("^(?:GM[0-9]{2}-[0-9]{8})$").unwrap());
        assert!(pattern.dfa.is_some());
        assert_eq!(pattern.shape.as_ref().map(|s| s.sets.len()), Some(13));
        assert!(pattern.shape.as_ref().is_some_and(|s| s.ranges.is_some()));
        // `[ -]` is two bytes apart: the shape is checked by its sets.
        let gapped = Pattern::new(Regex::new("^(?:(G)M[0-9]{2}[ -]a)$").unwrap());
        assert!(gapped.shape.as_ref().is_some_and(|s| s.ranges.is_none()));
        assert!(
            gapped.is_match("GM12-a") && gapped.is_match("GM12 a") && !gapped.is_match("GM12,a")
        );
        for shaped in [
            // The schema's patterns are anchored themselves, and wrapped once more.
            "^(?:^GM[0-9]{2}-[0-9]{8}$)$",
            "^(?:é[a-z]{2}-)$",
            "^(?:(G)M[0-9]{2}[ -]a)$",
            "^(?:(?-u:[0-9]){3})$",
        ] {
            assert!(
                Pattern::new(Regex::new(shaped).unwrap()).shape.is_some(),
                "{shaped}"
            );
        }
        // Not of one shape: an anchor within, a choice of lengths, a class beyond ASCII, no
        // end anchor.
        for other in [
            "^(?:a^a)$",
            "^(?:GM$[0-9])$",
            "^(?:GM|G)$",
            "^(?:[0-9]{2,3})$",
            "^(?:\\w)$",
            "^(?:a)",
            "^a|b$",
        ] {
            let pattern = Pattern::new(Regex::new(other).unwrap());
            assert!(pattern.shape.is_none(), "{other}");
        }
        assert!(pattern.is_match("GM05-00012345") && !pattern.is_match("GM05-0001234"));
    }

    #[test]
    fn codes_follow_the_field_type() {
        assert_eq!(parse_code("9", FieldType::Integer), Some(Code::Int(9)));
        assert_eq!(parse_code("x", FieldType::Integer), None);
        assert_eq!(parse_code("998", FieldType::Number), Some(Code::Num(998.0)));
        assert_eq!(
            parse_code("GM0363", FieldType::String),
            Some(Code::Str("GM0363".into()))
        );
    }

    #[test]
    fn the_sample_schema_loads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/dementiemonitor.schema.toml");
        let schema = load(&path).unwrap();
        assert_eq!(schema.primary_key, ["resp_id"]);
        let belasting = schema.field("belasting").unwrap();
        assert_eq!(belasting.label_of(&Code::Int(5)), Some("overbelast"));
        assert_eq!(
            belasting.missing,
            [(Code::Int(9), "geen antwoord".to_string())]
        );
        assert!(schema.rules.len() >= 3);
    }

    #[test]
    fn problems_are_collected_with_locations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.schema.toml");
        std::fs::write(
            &path,
            "name = \"x\"\nprimary_key = [\"id\"]\n\n[[field]]\nname = \"a\"\ntype = \"integer\"\ncategories = { x = \"label\" }\n\n[[rule]]\nid = \"r\"\nrequire = \"b > 1\"\n",
        )
        .unwrap();
        let failure = load(&path).unwrap_err();
        let codes: Vec<&str> = failure.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["S103", "S107", "S109"]);
        let place = failure.diagnostics[2].location.as_ref().unwrap();
        assert!(place.file.ends_with("bad.schema.toml"));
        assert_eq!((place.line, place.column), (Some(11), Some(11)));
    }
}
