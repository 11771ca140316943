//! Diagnostics and exit status.
//!
//! Every problem peiling reports — a bad key in a spec, a column missing from an export, a
//! lonely PSU, a suppressed cell — is a [`Diagnostic`] with a stable code, a severity, a message
//! and, where there is one, a location (file, line, column). Every code is defined once, with
//! its meaning and its fix, in the [`catalog`]. Only `main` and this module print.
//!
//! A failed run is a [`Failure`]: its [`ExitStatus`] separates what the user can fix (exit 1)
//! from bugs and I/O trouble in peiling itself (exit 2).

use std::fmt;

pub mod catalog;
mod place;

pub use place::Place;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

/// One reported problem or notice.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Stable code such as `V012`, from the [`catalog`].
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// Where: `file:line:column`, `file, line 12, column uren_pw`, or nowhere in particular.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Place>,
    /// Lower-level causes, outermost first (`Caused by:` lines).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: catalog::Entry, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Error, message)
    }

    pub fn warning(code: catalog::Entry, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Warning, message)
    }

    pub fn info(code: catalog::Entry, message: impl Into<String>) -> Self {
        Self::new(code, Severity::Info, message)
    }

    fn new(code: catalog::Entry, severity: Severity, message: impl Into<String>) -> Self {
        Diagnostic {
            code: code.id,
            severity,
            message: message.into(),
            location: None,
            causes: Vec::new(),
        }
    }

    pub fn at(mut self, place: Place) -> Self {
        self.location = Some(place);
        self
    }

    pub fn caused_by(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `error[V012]: message` / `  --> location` / `Caused by: ...`, as uv and rustc print.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{level}[{}]: {}", self.code, self.message)?;
        if let Some(location) = &self.location {
            write!(f, "\n  --> {location}")?;
        }
        for cause in &self.causes {
            write!(f, "\nCaused by: {cause}")?;
        }
        Ok(())
    }
}

/// Process exit status, as DESIGN.md §2 fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Success = 0,
    /// The input or the spec is wrong; the messages say how to fix it.
    UserError = 1,
    /// A bug or an environment problem (disk full, permissions).
    Internal = 2,
}

/// A run that cannot go on. Carries every diagnostic collected so far, so that a spec with five
/// mistakes reports all five at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: ExitStatus,
    pub diagnostics: Vec<Diagnostic>,
}

impl Failure {
    pub fn user(diagnostics: Vec<Diagnostic>) -> Self {
        Failure {
            status: ExitStatus::UserError,
            diagnostics,
        }
    }

    pub fn internal(diagnostic: Diagnostic) -> Self {
        Failure {
            status: ExitStatus::Internal,
            diagnostics: vec![diagnostic],
        }
    }
}

impl From<Diagnostic> for Failure {
    /// A single diagnostic fails the run as a user error: internal failures are built with
    /// [`Failure::internal`] explicitly.
    fn from(diagnostic: Diagnostic) -> Self {
        Failure::user(vec![diagnostic])
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// How diagnostics are printed on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// Prints diagnostics to stderr in the chosen format.
pub fn emit(diagnostics: &[Diagnostic], format: LogFormat) {
    for diagnostic in diagnostics {
        match format {
            LogFormat::Human => eprintln!("{diagnostic}"),
            LogFormat::Json => match serde_json::to_string(diagnostic) {
                Ok(line) => eprintln!("{line}"),
                Err(_) => eprintln!("{diagnostic}"),
            },
        }
    }
}

/// Follows a run (the CLI draws it on a terminal): the stage it is in, and for stages of
/// countable steps (segmentations estimated, charts drawn) how many are done.
pub trait Progress: Sync {
    /// A new stage starts.
    fn stage(&self, name: &str);
    /// The current stage has `total` steps of `unit` (e.g. "charts").
    fn steps(&self, unit: &str, total: u64) {
        let _ = (unit, total);
    }
    /// One more step of the current stage is done (from any thread).
    fn step(&self) {}
}

/// No progress shown: the library's default.
impl Progress for () {
    fn stage(&self, _name: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_code_location_and_causes() {
        let d = Diagnostic::error(catalog::V012, "value 170 above maximum 168")
            .at(Place::row("data.csv", Some(14), 12).in_field("uren_pw"))
            .caused_by("schema field uren_pw");
        assert_eq!(
            d.to_string(),
            "error[V012]: value 170 above maximum 168\n  --> data.csv, line 14, column uren_pw\nCaused by: schema field uren_pw"
        );
    }

    #[test]
    fn a_single_diagnostic_is_a_user_failure() {
        let failure: Failure = Diagnostic::error(catalog::S001, "bad").into();
        assert_eq!(failure.status, ExitStatus::UserError);
    }
}
