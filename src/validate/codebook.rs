//! Merging what an SPSS file says about its variables with the schema.
//!
//! A `.sav` carries variable labels, value labels and user-missing codes; the schema may add
//! to them (DESIGN §5). For each schema field the file describes:
//!
//! - the file's variable label is used where the schema has none;
//! - a user-missing code or range of the file is user-missing for that file's values;
//! - a value label of a code the schema lists is checked against the schema's label; a labelled
//!   code the schema does not list joins `categories` when the schema has them (the file
//!   widens the codebook), and otherwise only labels the code (it does not restrict values);
//! - a disagreement is a conflict (`V030`), naming the file's and the schema's side: a code
//!   labelled differently, or a code the file calls missing that the schema lists as a valid
//!   category. A file code that is not of the field's type is `V031`.
//!
//! A conflict fails the run: which side is right is for the researcher to decide.

use crate::diag::{catalog, Diagnostic, Failure, Place};
use crate::ingest::{ColumnCodebook, FileMissing, RawFrame};
use crate::spec::schema::parse_code;
use crate::spec::{Code, FieldPlan, SchemaPlan};

/// The schema with `raw`'s codebook merged in, or every conflict between the two.
pub fn merge(schema: &SchemaPlan, raw: &RawFrame) -> Result<SchemaPlan, Failure> {
    let (merged, conflicts) = merge_lenient(schema, raw);
    if conflicts.is_empty() {
        Ok(merged)
    } else {
        Err(Failure::user(conflicts))
    }
}

/// The merge with conflicts returned beside it; on a conflict the schema's side is kept.
pub fn merge_lenient(schema: &SchemaPlan, raw: &RawFrame) -> (SchemaPlan, Vec<Diagnostic>) {
    let mut merged = schema.clone();
    let mut conflicts = Vec::new();
    let schema_path = schema.path.display().to_string();
    for field in &mut merged.fields {
        let Some(file) = raw.codebook.get(&field.name) else {
            continue;
        };
        let at = Place::variable(raw.path.display(), &field.name);
        merge_field(field, file, &mut |code, message| {
            conflicts.push(
                Diagnostic::error(code, message)
                    .at(at.clone())
                    .caused_by(format!(
                "the schema is {schema_path}; make the file's dictionary and the schema agree"
            )),
            )
        });
    }
    (merged, conflicts)
}

fn merge_field(
    field: &mut FieldPlan,
    file: &ColumnCodebook,
    conflict: &mut dyn FnMut(catalog::Entry, String),
) {
    let name = field.name.clone();
    if field.label.is_none() {
        field.label = file.label.clone();
    }
    let mut file_missing = Vec::new();
    for missing in &file.missing {
        match missing {
            FileMissing::Code(text) => match parse_code(text, field.field_type) {
                Some(code) => file_missing.push(code),
                None => conflict(
                    catalog::V031,
                    format!(
                        "{name}: the file declares {text:?} user-missing, which is not a valid {}",
                        field.field_type.as_str()
                    ),
                ),
            },
            FileMissing::Range { low, high } => {
                match field
                    .categories
                    .iter()
                    .find(|(c, _)| in_range(&(*low, *high), c))
                {
                    Some((code, label)) => conflict(
                        catalog::V030,
                        format!(
                            "{name}: the file declares {low} thru {high} user-missing, but the schema lists code {code} ({label:?}) as a valid category"
                        ),
                    ),
                    None => field.missing_ranges.push((*low, *high)),
                }
            }
        }
    }
    let file_label = |code: &Code| {
        file.value_labels
            .iter()
            .find(|(text, _)| parse_code(text, field.field_type).as_ref() == Some(code))
            .map(|(_, label)| label.trim().to_string())
    };
    for code in &file_missing {
        if let Some((_, label)) = field.categories.iter().find(|(c, _)| c == code) {
            conflict(
                catalog::V030,
                format!(
                    "{name}: the file declares code {code} user-missing, but the schema lists it as a valid category ({label:?})"
                ),
            );
        } else if !field.missing.iter().any(|(c, _)| c == code) {
            let label = file_label(code).unwrap_or_default();
            field.missing.push((code.clone(), label));
        }
    }
    for (text, label) in &file.value_labels {
        let label = label.trim();
        let Some(code) = parse_code(text, field.field_type) else {
            conflict(
                catalog::V031,
                format!(
                    "{name}: the file labels code {text:?} ({label:?}), which is not a valid {}",
                    field.field_type.as_str()
                ),
            );
            continue;
        };
        let known = field
            .categories
            .iter()
            .chain(&field.missing)
            .find(|(c, _)| *c == code);
        match known {
            Some((_, schema_label)) if schema_label.trim() != label => conflict(
                catalog::V030,
                format!(
                    "{name}: code {code} is labelled {label:?} in the file but {:?} in the schema",
                    schema_label.trim()
                ),
            ),
            Some(_) => {}
            None if file_missing.contains(&code) => {}
            None if field
                .missing_ranges
                .iter()
                .any(|range| in_range(range, &code)) =>
            {
                field.missing.push((code, label.to_string()))
            }
            None if !field.categories.is_empty() => {
                field.categories.push((code, label.to_string()))
            }
            None => field.value_labels.push((code, label.to_string())),
        }
    }
    let by_code = |a: &(Code, String), b: &(Code, String)| {
        a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal)
    };
    field.categories.sort_by(by_code);
    field.missing.sort_by(by_code);
    field.value_labels.sort_by(by_code);
}

/// Whether a numeric code lies in a user-missing range.
fn in_range((low, high): &(f64, f64), code: &Code) -> bool {
    let value = match code {
        Code::Int(v) => *v as f64,
        Code::Num(v) => *v,
        Code::Str(_) => return false,
    };
    *low <= value && value <= *high
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::FieldType;

    fn field(categories: &[(i64, &str)], missing: &[(i64, &str)]) -> FieldPlan {
        let codes = |codes: &[(i64, &str)]| {
            codes
                .iter()
                .map(|(c, l)| (Code::Int(*c), l.to_string()))
                .collect()
        };
        FieldPlan {
            name: "belasting".into(),
            field_type: FieldType::Integer,
            label: None,
            required: false,
            categories: codes(categories),
            missing: codes(missing),
            missing_ranges: Vec::new(),
            value_labels: Vec::new(),
            minimum: None,
            maximum: None,
            pattern: None,
        }
    }

    fn file(labels: &[(&str, &str)], missing: Vec<FileMissing>) -> ColumnCodebook {
        ColumnCodebook {
            label: Some("Belasting".into()),
            value_labels: labels
                .iter()
                .map(|(c, l)| (c.to_string(), l.to_string()))
                .collect(),
            missing,
        }
    }

    fn merged(field: &mut FieldPlan, file: &ColumnCodebook) -> Vec<String> {
        let mut conflicts = Vec::new();
        merge_field(field, file, &mut |code, message| {
            conflicts.push(format!("{code} {message}"))
        });
        conflicts
    }

    #[test]
    fn agreeing_labels_merge_and_file_missing_codes_are_added() {
        let mut f = field(&[(1, "laag"), (2, "hoog")], &[]);
        let conflicts = merged(
            &mut f,
            &file(
                &[
                    ("1", "laag"),
                    ("2", "hoog "),
                    ("3", "extra"),
                    ("9", "geen antwoord"),
                ],
                vec![FileMissing::Code("9".into())],
            ),
        );
        assert!(conflicts.is_empty(), "{conflicts:?}");
        assert_eq!(f.label.as_deref(), Some("Belasting"));
        assert_eq!(f.categories.len(), 3, "the file widens the codebook");
        assert_eq!(f.missing, [(Code::Int(9), "geen antwoord".to_string())]);
        assert!(f.value_labels.is_empty());
    }

    #[test]
    fn without_schema_categories_file_labels_only_label() {
        let mut f = field(&[], &[]);
        let conflicts = merged(
            &mut f,
            &file(
                &[("0", "geen"), ("998", "weet niet")],
                vec![FileMissing::Range {
                    low: 998.0,
                    high: 999.0,
                }],
            ),
        );
        assert!(conflicts.is_empty());
        assert!(f.categories.is_empty(), "values stay unrestricted");
        assert_eq!(f.value_labels, [(Code::Int(0), "geen".to_string())]);
        assert_eq!(f.missing_ranges, [(998.0, 999.0)]);
        assert_eq!(f.missing, [(Code::Int(998), "weet niet".to_string())]);
        assert_eq!(f.label_of(&Code::Int(0)), Some("geen"));
    }

    #[test]
    fn disagreements_name_both_sides() {
        let mut f = field(&[(3, "tamelijk zwaar belast"), (5, "overbelast")], &[]);
        let conflicts = merged(
            &mut f,
            &file(
                &[("3", "heel zwaar"), ("1.5", "half")],
                vec![
                    FileMissing::Code("5".into()),
                    FileMissing::Range {
                        low: 4.0,
                        high: 6.0,
                    },
                ],
            ),
        );
        assert_eq!(conflicts.len(), 4, "{conflicts:#?}");
        assert!(conflicts[0].starts_with("V030") && conflicts[0].contains("4 thru 6"));
        assert!(
            conflicts[1].contains("code 5 user-missing") && conflicts[1].contains("overbelast")
        );
        assert!(conflicts[2].contains("\"heel zwaar\" in the file but \"tamelijk zwaar belast\""));
        assert!(conflicts[3].starts_with("V031") && conflicts[3].contains("1.5"));
    }
}
