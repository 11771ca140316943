//! `manifest.json`: what ran, on what, with what result — enough to reproduce and audit a run.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diag::{catalog, Diagnostic, Failure};
use crate::spec::Wave;
use crate::validate::ValidationReport;

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub peiling_version: String,
    pub pipeline: String,
    pub spec: FileRecord,
    pub schema: FileRecord,
    pub inputs: Vec<ValidationReport>,
    pub rows_read: usize,
    pub rows_accepted: usize,
    pub rows_rejected: usize,
    pub designs: Vec<DesignRecord>,
    pub indicators: usize,
    pub estimates: usize,
    pub suppressed: usize,
    /// Models, and rows of `models.parquet` (coefficients) and how many are suppressed.
    pub models: usize,
    pub coefficients: usize,
    pub coefficients_suppressed: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Seconds per stage; absent from the copy inside `estimates.parquet`, which must not vary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timings_seconds: Option<BTreeMap<String, f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DesignRecord {
    pub wave: Wave,
    pub design: String,
    pub rows: usize,
    pub strata: usize,
    pub psus: usize,
    pub weight_sum: f64,
    pub weight_min: f64,
    pub weight_max: f64,
}

impl Manifest {
    /// The manifest without timings, for the Parquet metadata.
    pub fn deterministic(&self) -> Manifest {
        Manifest {
            timings_seconds: None,
            ..self.clone()
        }
    }

    /// Waits for the inputs' SHA-256 (a streamed CSV file's is taken after its pass, on a core
    /// the run leaves free: see `ingest::hash`); fails when a file changed after it was read.
    pub fn inputs_hashed(&self) -> Result<(), Failure> {
        for input in &self.inputs {
            if let Err(cause) = input.sha256.get() {
                let message = format!("cannot take the SHA-256 of {}", input.file);
                return Err(Diagnostic::error(catalog::I014, message)
                    .caused_by(cause.to_string())
                    .into());
            }
        }
        Ok(())
    }
}
