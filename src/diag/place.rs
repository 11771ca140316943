//! Where a diagnostic points: a file, and in it a line and column (a pipeline, schema or
//! margins file), a data row and field (an input), or an SPSS variable. It renders as a person
//! reads it (`spec.toml:12:5`, `wave.csv, line 14, column uren_pw`) and serialises with the
//! numbers apart, for `--log-format json` and `manifest.json`.

use std::fmt;

/// A place in a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub file: String,
    /// 1-based line.
    pub line: Option<u32>,
    /// 1-based column (character) in a text file.
    pub column: Option<u32>,
    /// A data field (column) or an SPSS variable.
    pub field: Option<String>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A text file: `file:line:column`.
    Text,
    /// A data file: `file, line 14, column uren_pw`; a data row whose line is unknown is `row`.
    Data { row: Option<u32> },
    /// `file, line 1 (header)`.
    Header,
    /// An SPSS variable: `file, variable name`.
    Variable,
}

impl Place {
    fn new(file: impl fmt::Display, kind: Kind) -> Self {
        Place {
            file: file.to_string(),
            line: None,
            column: None,
            field: None,
            kind,
        }
    }

    /// A whole file.
    pub fn file(file: impl fmt::Display) -> Self {
        Self::new(file, Kind::Text)
    }

    /// A line of a text file (a margins file).
    pub fn line(file: impl fmt::Display, line: usize) -> Self {
        Place {
            line: Some(line as u32),
            ..Self::new(file, Kind::Text)
        }
    }

    /// A position in a text file (a pipeline or schema file).
    pub fn position(file: impl fmt::Display, line: usize, column: usize) -> Self {
        Place {
            line: Some(line as u32),
            column: Some(column as u32),
            ..Self::new(file, Kind::Text)
        }
    }

    /// A data file's header line.
    pub fn header(file: impl fmt::Display) -> Self {
        Place {
            line: Some(1),
            ..Self::new(file, Kind::Header)
        }
    }

    /// A data row: at its line when known, else by its 0-based row number.
    pub fn row(file: impl fmt::Display, line: Option<u32>, row: usize) -> Self {
        let row = line.is_none().then_some(row as u32 + 1);
        Place {
            line,
            ..Self::new(file, Kind::Data { row })
        }
    }

    /// A variable (field) of a data file.
    pub fn variable(file: impl fmt::Display, name: &str) -> Self {
        Place {
            field: Some(name.to_string()),
            ..Self::new(file, Kind::Variable)
        }
    }

    /// The same place, in field `name`.
    pub fn in_field(mut self, name: &str) -> Self {
        self.field = Some(name.to_string());
        self
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        match self.kind {
            Kind::Text => {
                if let Some(line) = self.line {
                    write!(f, ":{line}")?;
                    if let Some(column) = self.column {
                        write!(f, ":{column}")?;
                    }
                }
            }
            Kind::Data { row } => {
                match (self.line, row) {
                    (Some(line), _) => write!(f, ", line {line}")?,
                    (None, Some(row)) => write!(f, ", row {row}")?,
                    (None, None) => {}
                }
                if let Some(field) = &self.field {
                    write!(f, ", column {field}")?;
                }
            }
            Kind::Header => f.write_str(", line 1 (header)")?,
            Kind::Variable => {
                if let Some(field) = &self.field {
                    write!(f, ", variable {field}")?;
                }
            }
        }
        Ok(())
    }
}

impl serde::Serialize for Place {
    /// `{"text": "wave.csv, line 14, column x", "file": "wave.csv", "line": 14, "field": "x"}`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("text", &self.to_string())?;
        map.serialize_entry("file", &self.file)?;
        if let Some(line) = self.line {
            map.serialize_entry("line", &line)?;
        }
        if let Some(column) = self.column {
            map.serialize_entry("column", &column)?;
        }
        if let Kind::Data { row: Some(row) } = self.kind {
            map.serialize_entry("row", &row)?;
        }
        if let Some(field) = &self.field {
            map.serialize_entry("field", field)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_read_as_before_and_serialise_their_numbers() {
        let cases = [
            (Place::file("spec.toml"), "spec.toml"),
            (Place::line("m.csv", 3), "m.csv:3"),
            (Place::position("spec.toml", 12, 5), "spec.toml:12:5"),
            (Place::header("wave.csv"), "wave.csv, line 1 (header)"),
            (Place::row("wave.csv", Some(14), 12), "wave.csv, line 14"),
            (Place::row("wave.sav", None, 12), "wave.sav, row 13"),
            (
                Place::row("wave.csv", Some(14), 12).in_field("uren_pw"),
                "wave.csv, line 14, column uren_pw",
            ),
            (
                Place::variable("wave.sav", "geslacht"),
                "wave.sav, variable geslacht",
            ),
        ];
        for (place, text) in &cases {
            assert_eq!(place.to_string(), *text);
        }
        let json = serde_json::to_value(&cases[6].0).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"text": "wave.csv, line 14, column uren_pw", "file": "wave.csv", "line": 14, "field": "uren_pw"})
        );
        let json = serde_json::to_value(&cases[2].0).unwrap();
        assert_eq!(json["line"], 12);
        assert_eq!(json["column"], 5);
    }
}
