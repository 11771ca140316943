//! The integration tests, gathered into one binary (each test binary links polars): run one
//! module with `cargo test --test it r_reference::`, one test by its name.
//!
//! - `cli`: the command line, its messages (insta snapshots in `snapshots/`) and exit codes;
//! - `ingest`, `ingest_props`: reading CSV, `.sav` and Parquet inputs, and the streaming CSV pass
//!   held to the text path;
//! - `models`, `standardize`: `[[model]]` and `standardize` errors, warnings, properties and
//!   disclosure control; `model_cells`: models fitted on cells agree with the row-by-row fit;
//! - `estimation`: properties of the estimator (weights' scale, row order, domains, threads);
//! - `r_reference`, `r_parity`, `r_models`, `r_standardize`: agreement with R `survey` (`sample-data/reference/`);
//! - `publication`: disclosure control attacked on the sample run;
//! - `output_safety`: a run never destroys what it did not write;
//! - `init`: drafts from an export validate and run it unedited;
//! - `sample_data`: the sample waves are what the docs say;
//! - `docs`: the user documentation matches the code (keys, columns, codes, links, JSON Schemas);
//! - `nightly`: the nightly benchmark's regression judgement.

mod common;

mod cli;
mod csv_differential;
mod docs;
mod estimation;
mod ingest;
mod ingest_props;
mod init;
mod model_cells;
mod models;
mod nightly;
mod output_safety;
mod publication;
mod r_models;
mod r_parity;
mod r_reference;
mod r_standardize;
mod sample_data;
mod standardize;
