//! The registry of diagnostic codes: every code peiling reports, defined once, with what it
//! means and how to fix it. `docs/diagnostics.md` is rendered from it (a test keeps the two
//! equal), so a code cannot be added without its documentation.
//!
//! A code names one kind of problem. The letter is the stage that finds it: `S` the pipeline,
//! schema and margins files, `I` reading the inputs, `V` validation, `W` the design and its
//! weights, `E` estimation, `O` the output folder, `G` `peiling generate`, `C` the command line.
//! A code ending in 99 is an internal error: a bug in peiling (exit status 2).

/// One diagnostic code: its identifier (`V012`), what it means and what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub id: &'static str,
    /// What went wrong, as the user meets it.
    pub meaning: &'static str,
    /// What to do about it.
    pub fix: &'static str,
}

/// The stage each code letter stands for, in the order of a run.
pub const FAMILIES: [(char, &str); 8] = [
    ('S', "Spec, schema and margins files"),
    ('I', "Ingest: reading the input files"),
    ('V', "Validation against the schema"),
    ('W', "The design and its weights"),
    ('E', "Estimation"),
    ('O', "The output folder"),
    ('G', "`peiling generate` and `peiling init`"),
    ('C', "The command line"),
];

macro_rules! catalog {
    ($($id:ident: $meaning:literal, $fix:literal;)*) => {
        $(
            #[doc = $meaning]
            pub const $id: Entry = Entry { id: stringify!($id), meaning: $meaning, fix: $fix };
        )*
        /// Every code, in the order of this file.
        pub const ALL: &[Entry] = &[$($id),*];
    };
}

catalog! {
    // Spec, schema and margins files.
    S001: "The pipeline file cannot be read",
        "Check the pipeline path given to `peiling run` or `peiling validate`, and that the file exists and is readable.";
    S002: "A pipeline or schema file is invalid TOML or has a wrong, missing or unknown key",
        "Fix the file at the line and column shown; the `Caused by` line names the key or value that is wrong.";
    S003: "The pipeline has no `[[input]]`",
        "Add an `[[input]]` with `wave`, `path` and `schema` for each survey wave.";
    S004: "The inputs do not all name the same schema file",
        "Give every `[[input]]` the same `schema` path, written identically; all waves share one schema.";
    S005: "Two inputs have the same wave",
        "Give each `[[input]]` its own `wave`; a wave's respondents belong in one file.";
    S006: "An input file has an extension peiling cannot read",
        "Use a `.csv`, `.txt`, `.tsv`, `.parquet`, `.pq`, `.sav` or `.zsav` file, renaming it if its extension is wrong.";
    S007: "An input file does not exist",
        "Check the input's `path`; it is relative to the folder of the pipeline file.";
    S008: "An input's CSV setting is invalid or given for a non-CSV file",
        "Use one ASCII character for `delimiter`, `.` or `,` for `decimal` and a known `encoding` such as `utf-8`; leave all three out for non-CSV inputs.";
    S010: "The `max_reject_share` in `[validation]` is not between 0 and 1",
        "Set `max_reject_share` to a share between 0 and 1, such as `0.05` for 5%.";
    S011: "A `[disclosure]` threshold is out of range",
        "Set `max_rse` to a positive number, and `min_effective_n` and `min_df` to finite numbers of 0 or more.";
    S012: "A derived column has the name of an existing column",
        "Give the `[[derive]]` a `name` that is not a schema field or an earlier derived column.";
    S013: "A scale lists an item column that does not exist",
        "List in `items` only schema fields or columns derived before the scale; check the spelling.";
    S014: "A scale has no items, or its `min_valid` is out of range",
        "Give the scale at least one item and a `min_valid` between 1 and the number of items, or leave `min_valid` out.";
    S015: "A derived column has neither or both of `expr` and `scale`",
        "Give each `[[derive]]` exactly one of `expr` (an SQL expression) or `scale`.";
    S016: "An SQL expression uses a column that does not exist",
        "Use schema fields or derived columns and check the spelling; a `[[derive]]` sees only the columns derived before it.";
    S017: "An SQL expression in a derive or indicator cannot be parsed",
        "Fix the SQL at the line shown (polars-sql dialect); the `Caused by` line says where parsing failed.";
    S018: "A `[design]` setting names a column that does not exist",
        "Set `weight`, `strata`, `psu` and `fpc` to schema fields or derived columns; check the spelling.";
    S019: "The pipeline has no `[[indicator]]`",
        "Add at least one `[[indicator]]` with its `id`, `label`, `kind` and expressions.";
    S021: "Two indicators have the same `id`",
        "Give each `[[indicator]]` a unique `id`.";
    S023: "`ci` is set on an indicator that is not a proportion",
        "Remove `ci` from the indicator; means, totals and ratios get t intervals and quantiles Woodruff intervals.";
    S025: "An indicator has a key that does not apply to its `kind`",
        "Remove the key: `value` is for every kind but ratio, `numerator` and `denominator` for ratio, `probability` for quantile.";
    S026: "An indicator lacks a key its `kind` requires",
        "Add `value` for proportion, mean, total and quantile, `numerator` and `denominator` for ratio, and `probability` for quantile.";
    S027: "A segmentation in `[segments] by` is an empty list",
        "Remove the empty `[]` from `by`, or list the variables to segment by.";
    S028: "A segmentation names a column that does not exist",
        "List only schema fields or derived columns in `[segments] by`; check the spelling.";
    S029: "The same segmentation is listed twice",
        "Remove the duplicate from `[segments] by`.";
    S030: "The pipeline has no segmentation at all",
        "Set `total = true` in `[segments]`, or list variables in `by`.";
    S031: "A quantile indicator's `probability` is not strictly between 0 and 1",
        "Set `probability` to a number strictly between 0 and 1, such as `0.5` for the median.";
    S032: "A scale score could not be computed from the data",
        "Check that the scale's `items` hold integer answer codes; the `Caused by` line gives the underlying error.";
    S035: "A derived SQL expression failed when computed on the data",
        "Check the `expr` against the columns' types, such as text compared with numbers; the `Caused by` line gives the error.";
    S040: "A margins file cannot be read",
        "Check `[weighting] margins`: it is relative to the pipeline file, and `{wave}` becomes each input's wave.";
    S041: "A margins file has a wrong header or a malformed line",
        "Start with the header `variable,category,target`, give each line three comma-separated fields, and write targets as numbers with a dot decimal.";
    S042: "A margin target is zero, negative or not a finite number",
        "Give a positive target, or merge the category with another or leave it out; its respondents then keep their weight for that variable.";
    S043: "A margin variable names a column that does not exist",
        "Use schema fields or derived columns as `variable`, crossing several with `*`; check the spelling.";
    S044: "A category of a margin variable appears twice in the margins file",
        "Keep one line per variable and category; remove or merge the duplicate.";
    S045: "A margins file has no margins below its header",
        "Add a line `variable,category,target` for each category to calibrate to.";
    S046: "The count targets of the margin variables sum to different totals",
        "Make every variable's counts sum to the same population total, or give every variable as shares summing to 1.";
    S047: "The `[weighting]` `tolerance` or `max_iterations` is out of range",
        "Set `tolerance` to a positive number and `max_iterations` to at least 1, or leave them out for the defaults (1e-7 and 50).";
    S048: "The `[weighting] trim` bounds are out of range",
        "Give the `trim` bounds as multiples of the mean weight with 0 < `min` < 1 < `max`.";
    S049: "`method = \"poststratify\"` is given margins with more than one variable",
        "Cross the variables with `*` into one margin variable, or use `method = \"rake\"` or `\"linear\"`.";
    S050: "The output folder is, or contains, the current directory or a folder the run reads",
        "Choose another folder with `--out`, or with `dir` in the pipeline's `[output]`; it must be a folder of its own.";
    S051: "Two `[[model]]` entries have the same `id`",
        "Give every `[[model]]` its own `id`; it names the model's rows in `models.parquet`.";
    S052: "A model's `terms` is empty, names an unknown column, repeats a term or writes an interaction wrongly",
        "List the model's explanatory columns in `terms`, each once; write an interaction as `\"a:b\"` of two different columns of the schema or `[[derive]]`.";
    S053: "A model's `reference` names a column that is not one of its terms",
        "Give a reference level only for a categorical column listed on its own in the model's `terms`, as `reference = { werk = 3 }`.";
    S054: "A model's `by` is empty or names an unknown column",
        "Give `by` as a list of one or more columns of the schema or `[[derive]]`, such as `by = [\"provincie\"]`, or leave it out to fit the model once.";
    S055: "A model's `tolerance` or `max_iterations` is out of range",
        "Give `tolerance` as a positive number (R's default is 1e-8) and `max_iterations` as 1 or more (R's default is 25).";
    S056: "An indicator's standard population file cannot be read or is malformed",
        "Give `standardize.population` as a CSV with a header `category,share` (or `category,count`) and one row per category of the `by` column, each with a number of 0 or more; the message names the line.";
    S057: "An indicator's `standardize` is given for a kind other than proportion or mean, or names an unknown column",
        "Standardise proportions and means only, by a categorical column of the schema or `[[derive]]` (an age band, say).";
    S058: "An indicator's or model's `id` is empty or holds a `/` or `\\`",
        "Give the `id` as a name without path separators, such as `overbelast` or `overbelast_werk`: it names the chart files.";
    S099: "Internal error: a derived column could not be added to the data",
        "This is a bug in peiling; please report it with the message and the run's `manifest.json`.";
    S101: "A schema file cannot be read",
        "Check the `schema` path of the `[[input]]`; it is relative to the folder of the pipeline file.";
    S102: "A schema field is defined twice",
        "Give each `[[field]]` in the schema a unique `name`.";
    S103: "A code in a field's `categories` or `missing` does not fit the field's type",
        "Write codes of the field's `type` (whole numbers for integer fields); boolean fields take no `categories` or `missing` codes.";
    S104: "A code is both a category and a missing code of a field",
        "Keep each code in either `categories` or `missing` of the field, not both.";
    S105: "A field's `pattern` is not a valid regular expression",
        "Fix the regular expression in `pattern` (it must match the whole value); the `Caused by` line shows the error.";
    S106: "A field's `minimum` is greater than its `maximum`",
        "Make the field's `minimum` no greater than its `maximum`, or swap them.";
    S107: "A `primary_key` column is not a field of the schema",
        "List only the schema's field names in `primary_key`; check the spelling.";
    S108: "Two schema rules have the same `id`",
        "Give each `[[rule]]` in the schema a unique `id`.";
    S109: "A schema rule uses a column that is not a field",
        "Use only the schema's field names in the rule's `when` and `require`; derived columns are not available to rules.";
    S110: "A schema rule's `when` or `require` is not a valid SQL condition",
        "Fix the SQL of the rule at the line shown; the `Caused by` line says where parsing failed.";
    // Ingest: reading the input files.
    I001: "The input file cannot be read",
        "Check that the file exists at the path given and that you have permission to read it.";
    I002: "The input file is empty",
        "Check that the `path` names the right file and export it again; the export was probably not written completely.";
    I003: "The CSV file is binary, not text",
        "Export the data as CSV text, or give an SPSS or Parquet file its own extension (`.sav`, `.parquet`).";
    I004: "The CSV file is not valid text in its encoding",
        "Set `encoding` in the `[[input]]` to the file's real encoding, or save the file as UTF-8.";
    I005: "The CSV file cannot be parsed",
        "Check the file's delimiter and quoting; set `delimiter` in the `[[input]]` if the detected one is wrong.";
    I006: "The file has a header or columns but no data rows",
        "Check that you exported the right file, with its respondents and not only the header.";
    I007: "The file is not a readable Parquet file",
        "Check that the `path` names a complete Parquet file; write or copy it again if it is damaged, or fix its extension.";
    I008: "A Parquet column has a type peiling cannot read as a survey variable",
        "Write that column as integer, float, boolean, string or date, for example by casting it before saving the Parquet file.";
    I009: "The file's extension is not a format peiling can read",
        "Give a file ending in `.csv`, `.txt`, `.tsv`, `.parquet`, `.pq`, `.sav` or `.zsav`, renaming it if the extension is wrong.";
    I010: "The file named as SPSS is not an SPSS file",
        "Check that the `path` names a real `.sav` or `.zsav` export, or give the file the extension of its real format.";
    I011: "The SPSS file is damaged or cut short",
        "Copy or export the `.sav` or `.zsav` file again and check that the copy is complete.";
    I012: "The SPSS file is incomplete: rows or values could not be read",
        "Export the file from SPSS again, or as CSV, and check that all rows and values are present.";
    I013: "The SPSS reader noted something unusual about the file (a warning)",
        "Usually harmless: check the values the note names, and export the file from SPSS again if they look wrong.";
    I014: "A CSV input changed or became unreadable while peiling was reading it",
        "Do not change, move or overwrite input files during a run; run again once the file is final.";
    I015: "An SPSS variable has a type peiling cannot read",
        "Change the variable to numeric, string or date in SPSS and save the file again, or export the wave as CSV.";
    // Validation against the schema.
    V001: "Columns of the schema are missing from the input file",
        "Add the columns to the export or correct their names in the schema; if the header reads as one column, set `delimiter` in the `[[input]]`.";
    V002: "The input has columns that are not in the schema, and they are ignored",
        "Add the columns to the schema if you need them; otherwise nothing needs to be done.";
    V003: "Some rows of a wave were rejected by validation",
        "Look up the reasons in `private/rejects.parquet` and correct the export or the schema.";
    V004: "More rows were rejected than `max_reject_share` allows",
        "Fix the problems listed in `private/rejects.parquet`, or raise `max_reject_share` in `[validation]` if that share is acceptable.";
    V005: "Rows were rejected: the problems by rule, with the first examples",
        "No action needed beyond the listed problems; `private/rejects.parquet` holds every rejected row.";
    V010: "A value cannot be read as the field's type",
        "Correct the value in the export or the field's `type` in the schema; for numbers, set `decimal` in the `[[input]]`.";
    V011: "A code is not in the field's codebook",
        "Correct the value in the export, or add the code to the field's `categories` or `missing` in the schema.";
    V012: "A number is below the field's minimum or above its maximum",
        "Correct the value in the export, or adjust the field's `minimum` or `maximum` in the schema.";
    V013: "A text value does not match the field's pattern",
        "Correct the value in the export, or the field's `pattern` in the schema.";
    V014: "A required value is missing",
        "Fill in the value in the export, or remove `required` from the field in the schema if it may be empty.";
    V015: "A row's primary key is missing or repeats an earlier row's key",
        "Give every row a complete and unique key in the export, or correct `primary_key` in the schema.";
    V016: "A row breaks a routing rule of the schema",
        "Correct the row's answers in the export, or the rule's `when` or `require` in the schema if the rule is wrong.";
    V017: "A CSV record has more or fewer fields than the header",
        "Fix that line of the export (a missing or extra delimiter, or an unclosed quote), and check `delimiter` in the `[[input]]`.";
    V020: "A routing rule of the schema cannot be evaluated",
        "Correct the rule's `when` or `require` in the schema so that each column is compared with values of its own type.";
    V030: "The SPSS file's dictionary disagrees with the schema",
        "Make the file's value labels and missing values agree with the field's `categories` and `missing` in the schema.";
    V031: "An SPSS dictionary code is not a valid value of the field's type",
        "Correct the code in the SPSS dictionary, or the field's `type` in the schema.";
    V099: "Validating an input file failed inside peiling",
        "A bug in peiling: report it with the run's `manifest.json` and the message.";
    // The design and its weights.
    W001: "The design's weight column does not hold numbers",
        "Point `[design] weight` at a numeric column, declared `type = \"number\"` or `\"integer\"` in the schema.";
    W002: "A respondent's weight is missing, zero, negative or not a finite number",
        "Give every respondent a positive weight, or mark the weight field `required = true` in the schema so validation rejects rows without one.";
    W003: "A respondent has no value in the stratum column",
        "Fill in the respondent's stratum, or mark the stratum field `required = true` in the schema so validation rejects such rows.";
    W004: "A respondent has no value in the PSU column",
        "Fill in the respondent's PSU, or mark the PSU field `required = true` in the schema so validation rejects such rows.";
    W005: "The fpc column is not numeric, or a value is missing, zero or negative",
        "Give every row a positive numeric `fpc`: the stratum's population number of PSUs, or a sampling fraction of at most 1.";
    W006: "The fpc value differs between rows of the same stratum",
        "Give every row of a stratum the same `fpc` value: one population size or sampling fraction per stratum.";
    W007: "A stratum's fpc population is smaller than its number of sampled PSUs",
        "Correct that stratum's `fpc`: give a population number of PSUs at least the sampled PSUs, or a sampling fraction of at most 1.";
    W008: "A segmentation variable is not among the wave's analysis columns",
        "Check that every variable in `[segments] by` is a column of the schema or a `[[derive]]` name, spelled exactly.";
    W009: "A segmentation or margin crossing has too many value combinations to cross",
        "Cross fewer variables, or recode them into fewer categories with `[[derive]]`, in `[segments] by` or the margins file.";
    W011: "A margin variable uses a column that is not categorical (integer codes or text)",
        "Calibrate on integer-coded or text columns; derive a category column with `[[derive]]` and name it in the margins file.";
    W012: "A margin category has no respondents in the sample, so it cannot be calibrated to",
        "Merge the empty category with a neighbouring one in the margins file and the data, or leave it out of the margins.";
    W013: "Some respondents are in no category of a margin, so their weights ignore it (warning)",
        "Add the missing categories to the margins file to include those respondents, or accept that their weights are not calibrated to that margin.";
    W015: "Raking did not reach the tolerance within `max_iterations`",
        "Check that the margins do not contradict each other, merge sparse categories, or raise `max_iterations` in `[weighting]`.";
    W016: "Calibration, or trimming after it, gave weights of zero or less",
        "Use `method = \"rake\"`, which keeps weights positive, or merge sparse categories in the margins file and the data.";
    W099: "Building the survey design (weights, strata, PSUs, segments, design order) failed inside peiling",
        "A bug in peiling: report it with the run's `manifest.json` and the full message.";
    // Estimation.
    E001: "The expressions of the indicators or of a model could not be evaluated on a wave's data",
        "Check the `value`, `numerator`, `denominator` and `population` of each `[[indicator]]`, and the `outcome` and `population` of each `[[model]]`, against the columns' types; the message's cause says what failed.";
    E002: "An indicator's or a model's `population` is not a true/false condition",
        "Write the `population` as a condition, such as `belasting BETWEEN 1 AND 5`, not a number or text expression.";
    E003: "An indicator gives infinity or NaN for a respondent, usually a division by zero",
        "Guard the division in the indicator's expression, e.g. `CASE WHEN x <> 0 THEN y / x END`, so such rows give null instead.";
    E004: "A proportion's value gives something other than a condition or 0/1",
        "Write the proportion's `value` as a condition such as `belasting >= 4` or a 0/1 column, or use `kind = \"mean\"` instead.";
    E005: "A category of a standardised indicator's `by` column has no share in its standard population",
        "Add the category to the standard population file (with share 0 to leave it out), or recode the column with a `[[derive]]` so that its categories are the file's.";
    E099: "Reading an indicator's evaluated values failed inside peiling",
        "A bug in peiling: report it with the run's `manifest.json` and the full message.";
    E101: "A stratum has a single PSU in a domain while `lonely_psu` is \"fail\"",
        "Set `[design] lonely_psu` to `remove`, `adjust`, `average` or `certainty`, or merge the stratum with a neighbouring one.";
    E201: "A model's outcome or term does not fit its family: a non-0/1 outcome for `logistic`, a negative one for `poisson`, text where a number is needed",
        "Write a logistic model's `outcome` as a condition such as `belasting >= 4`, give a poisson model a count or other number of 0 or more, and make each term a number or a categorical column (schema `categories`, value labels or text).";
    E202: "No respondent of a wave is in a model: none in its `population` has the outcome and every term",
        "Check the model's `population`, `outcome` and `terms`: a term that is null for everyone (a question not asked that wave) empties the model.";
    E203: "A model's categorical term cannot be contrasted: one level only, a `reference` level without respondents, or an interaction without its main effect",
        "Leave the term out or widen the `population`; name a `reference` level that has respondents; list each categorical column of an interaction `a:b` as a term of its own too.";
    E204: "A model's terms are collinear: a coefficient is a linear combination of others",
        "Leave out one of the terms the message names (a column derived from others, or two codings of the same question).";
    E205: "A model's fitted probabilities are numerically 0 or 1 (perfect separation), or its fitted rates numerically 0",
        "Some level of a term (or combination) predicts the outcome perfectly: merge that level with a neighbouring one, leave the term out, or narrow the model.";
    E206: "A model's fit did not converge within `max_iterations`, or diverged",
        "Raise the model's `max_iterations`; if it still does not converge, or the message says it diverged, look for separation (E205) in a small domain or segment, or a badly scaled number term (rescale it, e.g. income in thousands).";
    E210: "A model could not be fitted in one segment of its `by` (warning)",
        "The segment's rows in `models.parquet` carry the flag `not_fitted`; the message gives the reason (one of E203 to E206). Merge small segments or simplify the model.";
    E299: "Preparing a model's data failed inside peiling",
        "A bug in peiling: report it with the run's `manifest.json` and the full message.";
    // The output folder.
    O001: "A file or folder of the run's output could not be written",
        "Check free disk space, write permission and path lengths where the output folder goes, then run again; the previous output is left as it was.";
    O002: "The output folder holds files peiling did not write, or that changed since",
        "Choose another folder with `--out` or `[output] dir`, or move your files out; peiling replaces only an empty folder or one it wrote.";
    O003: "Another peiling run is writing the same output folder",
        "Wait for the other run to finish, or choose another folder with `--out`; the lock is released when that run ends.";
    O004: "The output path is a file, a symbolic link, or has no usable folder name",
        "Give `--out` or `[output] dir` a plain folder path such as `output/run1`.";
    O005: "The existing output folder cannot be read, so peiling cannot check what it holds",
        "Make the output folder and its subfolders readable (check their permissions), or choose another folder with `--out` or `[output] dir`.";
    // `peiling generate` and `peiling init`.
    G001: "`peiling generate` or `peiling init` could not write a file",
        "Check that the path is not a folder, that its folder exists and is writable, and that the disk has room.";
    G002: "A file `peiling generate` or `peiling init` would write already exists, so nothing was written",
        "Choose another `--out` (or `--margins`, or `--name` for `init`), or pass `--force` to replace the existing file.";
    // The command line.
    C001: "`--threads` was set to 0, but at least one thread is needed",
        "Pass `--threads` a whole number of at least 1, or leave it out to use every core.";
    C002: "peiling could not set up its pool of worker threads",
        "Run again with a smaller `--threads` or without it; if it keeps failing, report it with the message as a peiling bug.";
}

impl std::fmt::Display for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// The user documentation of every code, `docs/diagnostics.md`.
pub fn reference() -> String {
    let mut out = String::from(
        "# Diagnostic codes\n\n\
         Every problem peiling reports carries a code, as in `error[V012]: ...`; with \
         `--log-format json` it is the `code` field. The letter is the stage that found it. A code \
         ending in 99 is an internal error, a bug in peiling: please report it with the message \
         and the run's `manifest.json`.\n\n\
         This page is generated from `src/diag/catalog.rs`; `PEILING_UPDATE_DOCS=1 cargo test` \
         rewrites it.\n",
    );
    for (letter, stage) in FAMILIES {
        out.push_str(&format!(
            "\n## `{letter}`: {stage}\n\n| code | meaning | what to do |\n|---|---|---|\n"
        ));
        for entry in ALL.iter().filter(|e| e.id.starts_with(letter)) {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                entry.id, entry.meaning, entry.fix
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.rs` file under `dir`, as text.
    fn sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(&path).unwrap());
            }
        }
    }

    #[test]
    fn every_code_is_raised_somewhere() {
        let mut text = String::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut text,
        );
        let unused: Vec<&str> = ALL
            .iter()
            .map(|e| e.id)
            .filter(|id| !text.contains(&format!("catalog::{id}")))
            .collect();
        assert!(unused.is_empty(), "codes nothing raises: {unused:?}");
    }

    #[test]
    fn every_code_has_a_stage_its_place_and_its_text() {
        let mut previous = "";
        for entry in ALL {
            assert!(
                FAMILIES
                    .iter()
                    .any(|(letter, _)| entry.id.starts_with(*letter)),
                "{}: no stage",
                entry.id
            );
            assert!(
                entry.id > previous || entry.id.as_bytes()[0] != previous.as_bytes()[0],
                "{} after {previous}: keep each letter in order",
                entry.id
            );
            assert!(
                !entry.meaning.is_empty() && !entry.fix.is_empty(),
                "{}",
                entry.id
            );
            previous = entry.id;
        }
    }
}
