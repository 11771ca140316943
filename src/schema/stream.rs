//! The fast path of a CSV export: read, split, parse and check in one streaming pass.
//!
//! The file is read in blocks of [`BLOCK`] bytes, each cut after its last record. Every thread
//! takes the next block in turn (read and hashed in file order under a lock: the SHA-256 of
//! the file, for the manifest) and works it on its own: splits it into a [`Table`] of where its
//! fields are (the usual block: one bound per field, from bit masks of its separators), then
//! parses each column of the block with its own [`ColumnParser`] (the parser validation of a
//! text column uses), in one loop chosen for the field's type. The threads share no step but
//! taking a block and handing in its chunk; the chunks are folded in block order into one
//! contiguous column per field ([`Shared`], [`Fold`]). So no value ever exists as a text
//! column, memory is the typed columns plus a few blocks per thread, and the result is the
//! text path's ([`crate::ingest::read`] then [`super::validate`]) value for value, problem for
//! problem; `tests/it/ingest_props.rs` holds the two paths to that.
//!
//! The raw text the rejects quote beyond the failing value (a rejected row's primary key, the
//! values a routing rule saw, the rows whose keys may repeat) is read again from the file
//! after the pass, for those rows only.
//!
//! [`read`] returns `None` for a file it does not take, and the text path reads it as before:
//! an `[[input]]` without `decimal` when the schema has `number` fields (the mark is then
//! detected from every value), an encoding other than UTF-8 or a single-byte one, quoting
//! other than whole quoted fields (`a"b`, `"a"b`, an empty `""`), a carriage return without a
//! line feed, a blank line before the header, a header with an empty or repeated name or
//! without some schema column, a record longer than [`MAX_RECORD`], and every file the text
//! path rejects with its own message (empty, binary, not text, no data rows).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use polars::prelude::*;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::parse::{ColumnParser, Output};
use super::rules::{self, TypedColumn};
use super::{Problem, Rejects, ValidFrame};
use crate::diag::{catalog, Diagnostic, Failure};
use crate::ingest::csv::dialect::{decode, sniff_delimiter, Undecodable};
use crate::ingest::{Dialect, RaggedRow};
use crate::spec::{FieldPlan, FieldType, InputFormat, InputPlan, SchemaPlan};

/// Bytes read at a time.
pub const BLOCK: usize = 1 << 18;
/// A record longer than this (a file without line breaks, an unclosed quote) is left to the
/// text path.
pub const MAX_RECORD: usize = 64 << 20;

/// Why the fast path stopped; the text path then reads the file.
#[derive(Debug)]
enum Stop {
    /// The file is not for the fast path (see the module documentation).
    Decline(&'static str),
    /// Not UTF-8: read again as Windows-1252 when the encoding was not given.
    NotUtf8,
    Io(std::io::Error),
}

impl From<Undecodable> for Stop {
    fn from(error: Undecodable) -> Stop {
        match error {
            Undecodable::NotUtf8 => Stop::NotUtf8,
            Undecodable::Invalid(_) => Stop::Decline("not valid text in the given encoding"),
        }
    }
}

impl From<std::io::Error> for Stop {
    fn from(error: std::io::Error) -> Stop {
        Stop::Io(error)
    }
}

/// How the file is written.
#[derive(Debug, Clone)]
struct Source {
    path: PathBuf,
    encoding: &'static encoding_rs::Encoding,
    delimiter: u8,
    bom: bool,
    /// The header's names.
    header: Vec<String>,
    /// Bytes of the header record, BOM included: where the data start.
    data_start: usize,
    /// Line breaks in the header record, its own included.
    header_breaks: u32,
    /// Bytes in the file.
    size: u64,
}

/// The result of the streaming pass, checked value by value; [`validate`] finishes it.
pub struct Parsed {
    wave: i32,
    source: Source,
    sha256: String,
    decimal_comma: bool,
    rows: usize,
    /// Line (1-based) where each data record starts.
    lines: Vec<u32>,
    /// Per schema field: its typed columns and the problems of its values.
    columns: Vec<TypedColumn>,
    problems: Vec<Problem>,
    ragged: Vec<RaggedRow>,
    /// Hashes of the primary keys of the rows that have one, in row order.
    keys: Vec<u64>,
    /// Rows without a (complete) primary key.
    missing_keys: Vec<usize>,
    /// Whether the keys (of one column) ascend strictly: then they are distinct, unhashed.
    keys_ascending: bool,
}

/// What every block of a pass needs to know.
struct Context<'a> {
    source: &'a Source,
    /// Header columns of the primary key.
    key: Vec<usize>,
    schema: &'a SchemaPlan,
    /// Per schema field, its header column.
    columns: Vec<usize>,
    decimal_comma: bool,
}

/// Reads and checks a CSV input in one pass; `None` when the file is for the text path.
pub fn read(input: &InputPlan, schema: &SchemaPlan) -> Result<Option<Parsed>, Failure> {
    read_with(input, schema, BLOCK)
}

/// [`read`] with blocks of `block` bytes (tests use small ones to cut records everywhere).
pub fn read_with(
    input: &InputPlan,
    schema: &SchemaPlan,
    block: usize,
) -> Result<Option<Parsed>, Failure> {
    if input.format != InputFormat::Csv {
        return Ok(None);
    }
    let has_numbers = schema
        .fields
        .iter()
        .any(|f| f.field_type == FieldType::Number);
    let decimal_comma = match input.csv.decimal_comma {
        Some(given) => given,
        None if has_numbers => return Ok(None),
        None => false,
    };
    let attempt = |encoding| pass(input, schema, encoding, decimal_comma, block);
    let result = match input.csv.encoding {
        Some(encoding) => attempt(encoding),
        None => match attempt(encoding_rs::UTF_8) {
            Err(Stop::NotUtf8) => attempt(encoding_rs::WINDOWS_1252),
            other => other,
        },
    };
    match result {
        Ok(parsed) => Ok(Some(parsed)),
        Err(Stop::Decline(_) | Stop::NotUtf8) => Ok(None),
        Err(Stop::Io(error)) => Err(Diagnostic::error(
            catalog::I001,
            format!("cannot read input file {}", input.path.display()),
        )
        .caused_by(error)
        .into()),
    }
}

/// One streaming pass with a known encoding.
fn pass(
    input: &InputPlan,
    schema: &SchemaPlan,
    encoding: &'static encoding_rs::Encoding,
    decimal_comma: bool,
    block: usize,
) -> Result<Parsed, Stop> {
    if encoding != encoding_rs::UTF_8 && !encoding.is_single_byte() {
        return Err(Stop::Decline("a multi-byte encoding other than UTF-8"));
    }
    let source = header(&input.path, encoding, input.csv.delimiter)?;
    // Per schema field, its header column.
    let columns: Vec<usize> = schema
        .fields
        .iter()
        .map(|field| source.header.iter().position(|n| *n == field.name))
        .collect::<Option<_>>()
        .ok_or(Stop::Decline("a schema column is missing"))?;
    let key = schema
        .primary_key
        .iter()
        .map(|name| source.header.iter().position(|n| n == name))
        .collect::<Option<Vec<usize>>>()
        .ok_or(Stop::Decline("a key column is missing"))?;
    let context = Context {
        source: &source,
        key,
        schema,
        columns,
        decimal_comma,
    };
    let threads = rayon::current_num_threads();
    let shared = Shared {
        context: &context,
        records: Mutex::new(Records::open(&source, block)?),
        folded: Condvar::new(),
        fold: Mutex::new(Fold::new(input.wave, &context)),
        done: Mutex::new(Vec::new()),
        spare: Mutex::new(Vec::new()),
        ahead: 4 * threads.max(1),
    };
    let failures: Vec<(usize, Stop)> = (0..threads)
        .into_par_iter()
        .filter_map(|_| shared.work())
        .collect();
    // The first block's failure, as a pass one block at a time would have met it.
    if let Some((_, stop)) = failures.into_iter().min_by_key(|(index, _)| *index) {
        return Err(stop);
    }
    let Shared {
        records,
        fold,
        done,
        ..
    } = shared;
    let records = records.into_inner().expect("no panic holds the lock");
    let mut fold = fold.into_inner().expect("no panic holds the lock");
    for (index, chunk) in done.into_inner().expect("no panic holds the lock") {
        fold.add(index, chunk);
    }
    // Every block taken is folded in; were one not, the text path reads the file rather than
    // rows going missing.
    debug_assert!(fold.waiting.is_empty(), "every block is folded");
    if !fold.waiting.is_empty() {
        return Err(Stop::Decline("a block was not folded in"));
    }
    let mut parsed = fold.parsed;
    if parsed.rows == 0 {
        return Err(Stop::Decline("no data rows"));
    }
    parsed.sha256 = records.finish();
    let finished: Vec<TypedColumn> = fold.outputs.into_par_iter().map(Output::finish).collect();
    parsed.columns = finished;
    Ok(parsed)
}

/// What the threads of a pass share. Each thread takes the next block (read and hashed in
/// file order under the lock of `records`), then splits, parses and checks it on its own. Its
/// chunk is folded in by whichever thread finds the fold free: a thread does not wait for it,
/// unless it is `ahead` blocks ahead of the fold (a thread the machine has paused holds up the
/// block the fold needs next, and the chunks after it wait in memory).
struct Shared<'a> {
    context: &'a Context<'a>,
    records: Mutex<Records>,
    /// Signalled when chunks are folded in, or a block failed.
    folded: Condvar,
    fold: Mutex<Fold<'a>>,
    /// Chunks not yet handed to the fold.
    done: Mutex<Vec<(usize, Chunk)>>,
    /// The outputs of chunks folded in, emptied for the next blocks to fill: fresh memory for
    /// every block would cost a page fault per 4 KiB.
    spare: Mutex<Vec<Vec<Output>>>,
    ahead: usize,
}

impl Shared<'_> {
    /// One thread's share of the pass, until no block is left; a failure comes with its block.
    fn work(&self) -> Option<(usize, Stop)> {
        let mut bytes = Vec::new();
        let mut table = Table::default();
        loop {
            let index = match self.take(&mut bytes) {
                Ok(Some(index)) => index,
                Ok(None) => return None,
                Err(failure) => return Some(failure),
            };
            let outputs = lock(&self.spare).pop();
            match chunk(self.context, &bytes, &mut table, outputs) {
                Ok(chunk) => lock(&self.done).push((index, chunk)),
                Err(stop) => {
                    lock(&self.records).failed = true;
                    self.folded.notify_all();
                    return Some((index, stop));
                }
            }
            if let Ok(mut fold) = self.fold.try_lock() {
                self.fold_done(&mut fold);
            }
        }
    }

    /// Reads the next block into `bytes` and returns its index, once the fold is near enough.
    fn take(&self, bytes: &mut Vec<u8>) -> Result<Option<usize>, (usize, Stop)> {
        let behind = |records: &Records| records.runs >= records.folded + self.ahead;
        let mut records = lock(&self.records);
        if behind(&records) && !records.failed {
            drop(records);
            // Fold in what is done (every chunk done is folded before a thread waits), then
            // wait for the block the fold needs.
            self.fold_done(&mut lock(&self.fold));
            records = lock(&self.records);
            while behind(&records) && !records.failed {
                records = self.folded.wait(records).expect("no panic holds the lock");
            }
        }
        records.next(bytes)
    }

    /// Folds in the chunks done, the fold held.
    fn fold_done(&self, fold: &mut Fold) {
        loop {
            let chunks = std::mem::take(&mut *lock(&self.done));
            if chunks.is_empty() {
                return;
            }
            for (index, chunk) in chunks {
                fold.add(index, chunk);
            }
            lock(&self.spare).append(&mut fold.spare);
            lock(&self.records).folded = fold.next;
            self.folded.notify_all();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("no panic holds the lock")
}

/// One block of records split, parsed and checked; rows and lines counted from its start.
struct Chunk {
    piece: Piece,
    /// Bytes of the block.
    bytes: usize,
    /// Per schema field, the block's values.
    outputs: Vec<Output>,
    problems: Vec<Problem>,
}

/// Splits, parses and checks one block of whole records: every schema field's values by its
/// own [`ColumnParser`], one loop per field chosen for its type, straight into the column.
/// `outputs`, when given, are a folded chunk's, emptied.
fn chunk(
    context: &Context,
    bytes: &[u8],
    table: &mut Table,
    outputs: Option<Vec<Output>>,
) -> Result<Chunk, Stop> {
    let (piece, text) = split(context, bytes, table)?;
    let width = context.source.header.len();
    let schema = context.schema;
    let mut problems = Vec::new();
    let mut outputs = outputs.map(Vec::into_iter);
    let outputs = schema
        .fields
        .iter()
        .zip(&context.columns)
        .enumerate()
        .map(|(order, (field, &column))| {
            let output = outputs
                .as_mut()
                .and_then(Iterator::next)
                .unwrap_or_else(|| Output::accumulator(field, piece.rows));
            let mut parser = ColumnParser::new(
                field,
                order,
                &schema.missing_values,
                context.decimal_comma,
                0,
            )
            .collecting(output);
            table.push_column(&mut parser, &text, piece.rows, width, column);
            let (output, found) = parser.into_parts();
            problems.extend(found);
            output
        })
        .collect();
    Ok(Chunk {
        piece,
        bytes: bytes.len(),
        outputs,
        problems,
    })
}

/// The file's result, folded from the blocks' chunks in block order, whatever order the
/// threads finish them in.
struct Fold<'a> {
    parsed: Parsed,
    fields: &'a [FieldPlan],
    /// Per schema field, its values so far: made at the first block, with room for the rows
    /// the file's size suggests, so that they are not copied as they grow.
    outputs: Vec<Output>,
    /// The block to fold next, and the chunks done before their turn.
    next: usize,
    waiting: BTreeMap<usize, Chunk>,
    /// The line the next block starts on.
    next_line: u32,
    /// The last key so far (of one key column), while they ascend.
    last_key: Option<String>,
    /// The outputs of the chunks folded in, emptied.
    spare: Vec<Vec<Output>>,
}

impl<'a> Fold<'a> {
    fn new(wave: i32, context: &Context<'a>) -> Fold<'a> {
        let source = context.source;
        Fold {
            fields: &context.schema.fields,
            outputs: Vec::new(),
            parsed: Parsed {
                wave,
                source: source.clone(),
                sha256: String::new(),
                decimal_comma: context.decimal_comma,
                rows: 0,
                lines: Vec::new(),
                columns: Vec::new(),
                problems: Vec::new(),
                ragged: Vec::new(),
                keys: Vec::new(),
                missing_keys: Vec::new(),
                keys_ascending: context.key.len() == 1,
            },
            next: 0,
            waiting: BTreeMap::new(),
            next_line: 1 + source.header_breaks,
            last_key: None,
            spare: Vec::new(),
        }
    }

    /// Takes block `index`'s chunk, and folds in every chunk whose turn has come.
    fn add(&mut self, index: usize, chunk: Chunk) {
        self.waiting.insert(index, chunk);
        while let Some(chunk) = self.waiting.remove(&self.next) {
            self.fold(chunk);
            self.next += 1;
        }
    }

    fn fold(&mut self, chunk: Chunk) {
        let parsed = &mut self.parsed;
        let Chunk {
            piece,
            bytes,
            mut outputs,
            mut problems,
        } = chunk;
        if self.outputs.is_empty() {
            let size = parsed.source.size as f64;
            let expected = size / bytes.max(1) as f64 * piece.rows as f64;
            let expected = (expected * 1.05) as usize + 1024;
            self.outputs = self
                .fields
                .iter()
                .map(|field| Output::joined(field, expected))
                .collect();
            parsed.lines.reserve(expected);
            parsed.keys.reserve(expected);
        }
        let base = parsed.rows;
        for (all, more) in self.outputs.iter_mut().zip(&mut outputs) {
            all.append(more);
            more.clear();
        }
        self.spare.push(outputs);
        for problem in &mut problems {
            problem.row += base;
        }
        parsed.problems.append(&mut problems);
        let first_line = self.next_line;
        parsed
            .lines
            .extend(piece.lines.iter().map(|line| first_line + line));
        self.next_line += piece.breaks;
        parsed
            .ragged
            .extend(piece.ragged.into_iter().map(|r| RaggedRow {
                row: base + r.row,
                ..r
            }));
        parsed.keys.extend(piece.keys);
        parsed.keys_ascending &= piece.ascending
            && match (&self.last_key, &piece.first_key) {
                (Some(last), Some(first)) => last < first,
                _ => true,
            };
        if piece.last_key.is_some() {
            self.last_key = piece.last_key;
        }
        parsed
            .missing_keys
            .extend(piece.missing_keys.into_iter().map(|row| base + row));
        parsed.rows += piece.rows;
    }
}

/// Finishes validation of a streamed file: the primary key, the routing rules, the rejected
/// rows' texts, and the accepted rows. Returns the rows' line numbers too.
pub fn validate(
    parsed: Parsed,
    schema: &SchemaPlan,
) -> Result<(ValidFrame, Rejects, Vec<u32>), Failure> {
    let file = parsed.source.path.display().to_string();
    let internal = |e: PolarsError| super::internal(&file, e);
    let height = parsed.rows;
    let (coded, analysis): (Vec<Column>, Vec<Column>) = parsed
        .columns
        .into_iter()
        .map(|c| (c.coded, c.analysis))
        .unzip();
    let coded = DataFrame::new(height, coded).map_err(internal)?;
    let analysis = DataFrame::new(height, analysis).map_err(internal)?;
    let source = parsed.source;
    let lines = parsed.lines;
    let reread = |rows: &BTreeSet<usize>, columns: &[usize]| {
        pick(&source, &parsed.sha256, rows, columns).map_err(|e| reread_error(&file, e))
    };

    let mut problems = parsed.problems;
    let key_column = schema.primary_key.join("|");
    let key_indices: Vec<usize> = schema
        .primary_key
        .iter()
        .filter_map(|name| source.header.iter().position(|n| n == name))
        .collect();
    if !schema.primary_key.is_empty() {
        for &row in &parsed.missing_keys {
            problems.push(rules::missing_key(row, &key_column));
        }
        let collisions = if parsed.keys_ascending {
            BTreeSet::new()
        } else {
            colliding_rows(&parsed.keys, &parsed.missing_keys)
        };
        // The hashes (8 bytes a row) are done with: freed before the rules are evaluated.
        drop(parsed.keys);
        if !collisions.is_empty() {
            let texts = reread(&collisions, &key_indices)?;
            let mut first_seen: HashMap<String, usize> = HashMap::new();
            for row in collisions {
                let Some(key) = key_text(&texts[&row]) else {
                    continue;
                };
                match first_seen.get(&key) {
                    Some(&first) => {
                        let first = format!("line {}", lines[first]);
                        problems.push(rules::duplicate_key(row, &key_column, key, &first));
                    }
                    None => {
                        first_seen.insert(key, row);
                    }
                }
            }
        }
    }

    let mut broken = Vec::new();
    for rule in &schema.rules {
        let (rows, columns) =
            rules::broken_rows(&coded, rule).map_err(|e| rules::rule_error(schema, rule, e))?;
        if !rows.is_empty() {
            broken.push((rule, rows, columns));
        }
    }

    // The texts the rejects quote: every rejected row's key, every broken rule's columns.
    let mut wanted_rows: BTreeSet<usize> = problems.iter().map(|p| p.row).collect();
    wanted_rows.extend(parsed.ragged.iter().map(|r| r.row));
    let mut wanted_columns = key_indices.clone();
    for (_, rows, columns) in &broken {
        wanted_rows.extend(rows.iter().copied());
        for name in columns {
            if let Some(index) = source.header.iter().position(|n| n == name) {
                if !wanted_columns.contains(&index) {
                    wanted_columns.push(index);
                }
            }
        }
    }
    let texts = if wanted_rows.is_empty() {
        HashMap::new()
    } else {
        reread(&wanted_rows, &wanted_columns)?
    };
    let text_of = |row: usize, name: &str| -> Option<&str> {
        let index = source.header.iter().position(|n| n == name)?;
        let at = wanted_columns.iter().position(|&i| i == index)?;
        texts.get(&row)?[at].as_deref()
    };
    for (rule, rows, columns) in &broken {
        for &row in rows {
            let values = columns
                .iter()
                .map(|name| format!("{name}={}", text_of(row, name).unwrap_or("")))
                .collect();
            problems.push(rules::routing_problem(row, rule, columns, values));
        }
    }
    super::ragged_rows(&parsed.ragged, &mut problems);
    problems.sort_by(|a, b| a.row.cmp(&b.row).then_with(|| a.order.cmp(&b.order)));
    if !schema.primary_key.is_empty() {
        for problem in &mut problems {
            let parts: Option<Vec<&str>> = schema
                .primary_key
                .iter()
                .map(|name| text_of(problem.row, name))
                .collect();
            problem.key = parts.map(|parts| parts.join("|"));
        }
    }

    let dialect = Dialect {
        delimiter: source.delimiter as char,
        encoding: source.encoding.name().to_string(),
        bom: source.bom,
        decimal_comma: Some(parsed.decimal_comma),
    };
    let extra_columns = source
        .header
        .iter()
        .filter(|name| schema.field(name).is_none())
        .cloned()
        .collect();
    let (frame, rejects) = super::accept(
        super::Checked {
            wave: parsed.wave,
            file,
            sha256: parsed.sha256,
            dialect: Some(dialect),
            coded,
            analysis,
            problems,
            extra_columns,
        },
        height,
    )?;
    Ok((frame, rejects, lines))
}

fn reread_error(file: &str, stop: Stop) -> Failure {
    let cause = match stop {
        Stop::Io(error) => error.to_string(),
        Stop::Decline(why) => why.to_string(),
        Stop::NotUtf8 => "it is no longer valid text".to_string(),
    };
    Diagnostic::error(
        catalog::I014,
        format!("cannot read {file} again for the rejected rows' values"),
    )
    .caused_by(cause)
    .into()
}

/// The key of a row from its parts' texts: absent when a part is empty.
fn key_text(parts: &[Option<String>]) -> Option<String> {
    let parts: Option<Vec<&str>> = parts.iter().map(|p| p.as_deref()).collect();
    parts.map(|parts| parts.join("|"))
}

/// Rows whose key hash is shared with another row's: their keys may repeat, and the texts
/// decide. Usually none, settled by one parallel sort of the hashes.
fn colliding_rows(keys: &[u64], missing: &[usize]) -> BTreeSet<usize> {
    let mut sorted = keys.to_vec();
    sorted.par_sort_unstable();
    let shared: HashSet<u64> = sorted
        .windows(2)
        .filter(|pair| pair[0] == pair[1])
        .map(|pair| pair[0])
        .collect();
    if shared.is_empty() {
        return BTreeSet::new();
    }
    let mut rows = BTreeSet::new();
    let mut missing = missing.iter().peekable();
    let mut row = 0;
    for hash in keys {
        while missing.next_if(|&&m| m == row).is_some() {
            row += 1;
        }
        if shared.contains(hash) {
            rows.insert(row);
        }
        row += 1;
    }
    rows
}

/// The hash of a key's text as the text path joins it (`a|b`).
fn key_hash(parts: &[&str]) -> u64 {
    use std::hash::BuildHasher;
    let state = foldhash::quality::FixedState::with_seed(0x5eed);
    match parts {
        [only] => state.hash_one(only),
        _ => state.hash_one(parts.join("|")),
    }
}

/// Reads the header: the dialect and the names.
fn header(
    path: &Path,
    encoding: &'static encoding_rs::Encoding,
    delimiter: Option<u8>,
) -> Result<Source, Stop> {
    let mut file = std::fs::File::open(path)?;
    let mut start = Vec::new();
    (&mut file).take(8192).read_to_end(&mut start)?;
    if start.is_empty() || start.contains(&0) {
        return Err(Stop::Decline("empty or binary"));
    }
    let bom = start.starts_with(b"\xEF\xBB\xBF");
    let skip = if bom { 3 } else { 0 };
    // The header record, however long, up to MAX_RECORD.
    let mut bytes = start;
    let end = loop {
        if let Some(end) = record_end(&bytes[skip..]) {
            break skip + end;
        }
        let before = bytes.len();
        (&mut file).take(1 << 20).read_to_end(&mut bytes)?;
        if bytes.len() == before || bytes.len() > MAX_RECORD {
            return Err(Stop::Decline("no complete header record"));
        }
    };
    let raw = &bytes[skip..end];
    if raw.first().is_some_and(|&b| b == b'\n' || b == b'\r') {
        return Err(Stop::Decline("a blank line before the header"));
    }
    let text = decode(raw, encoding)?;
    let first_line = text.split('\n').next().unwrap_or("");
    let delimiter = delimiter.unwrap_or_else(|| sniff_delimiter(first_line));
    let mut names = Vec::new();
    let (_, breaks) = split_record(&text, 0, delimiter, &mut names)?;
    let header: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let distinct: HashSet<&String> = header.iter().collect();
    if header.iter().any(|n| n.is_empty()) || distinct.len() != header.len() {
        return Err(Stop::Decline("an empty or repeated column name"));
    }
    Ok(Source {
        path: path.to_path_buf(),
        encoding,
        delimiter,
        bom,
        header,
        data_start: end,
        header_breaks: breaks,
        size: file.metadata()?.len(),
    })
}

/// The end of the first record (after its line break), honouring quotes; `None` when the
/// bytes end inside it.
fn record_end(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut at = 0;
    while let Some(i) = memchr::memchr2(b'"', b'\n', &bytes[at..]) {
        let i = at + i;
        if bytes[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            return Some(i + 1);
        }
        at = i + 1;
    }
    None
}

/// The data records of a file, a run of whole records at a time, in file order, and the
/// SHA-256 of the file, hashed as it is read.
struct Records {
    file: std::fs::File,
    hasher: Sha256,
    /// Bytes read past the last run handed out: the start of the next record.
    rest: Vec<u8>,
    eof: bool,
    block: usize,
    /// Runs handed out so far, and folded in (see [`Shared`]).
    runs: usize,
    folded: usize,
    /// Set when a run failed: no more runs are handed out.
    failed: bool,
}

impl Records {
    fn open(source: &Source, block: usize) -> Result<Records, Stop> {
        let mut file = std::fs::File::open(&source.path)?;
        let mut hasher = Sha256::new();
        let mut header = vec![0u8; source.data_start];
        file.read_exact(&mut header)?;
        hasher.update(&header);
        Ok(Records {
            file,
            hasher,
            rest: Vec::new(),
            eof: false,
            block,
            runs: 0,
            folded: 0,
            failed: false,
        })
    }

    /// Fills `run` with the next run of whole records: at least a block's bytes up to the last
    /// record end in them (or the rest of the file). Returns the run's index, `None` when none
    /// is left; a failure comes with the index of the run it stopped.
    fn next(&mut self, run: &mut Vec<u8>) -> Result<Option<usize>, (usize, Stop)> {
        let index = self.runs;
        if self.failed {
            return Ok(None);
        }
        self.fill(run).map_err(|stop| (index, stop))?;
        if run.is_empty() {
            return Ok(None);
        }
        self.runs += 1;
        Ok(Some(index))
    }

    fn fill(&mut self, run: &mut Vec<u8>) -> Result<(), Stop> {
        run.clear();
        run.append(&mut self.rest);
        let cut = loop {
            if self.eof {
                break run.len();
            }
            if run.len() >= self.block {
                if let Some(cut) = last_record_end(run) {
                    break cut;
                }
                if run.len() > MAX_RECORD {
                    return Err(Stop::Decline("a record longer than the limit"));
                }
            }
            let before = run.len();
            (&mut self.file).take(self.block as u64).read_to_end(run)?;
            self.hasher.update(&run[before..]);
            self.eof = run.len() - before < self.block;
        };
        self.rest.extend_from_slice(&run[cut..]);
        run.truncate(cut);
        Ok(())
    }

    /// The SHA-256 of the file, once every run is read.
    fn finish(self) -> String {
        format!("{:x}", self.hasher.finalize())
    }
}

/// After the last line break outside quotes; `None` when there is none.
fn last_record_end(bytes: &[u8]) -> Option<usize> {
    if memchr::memchr(b'"', bytes).is_none() {
        return memchr::memrchr(b'\n', bytes).map(|i| i + 1);
    }
    let mut quoted = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
        if bytes[i] == b'"' {
            quoted = !quoted;
        } else if !quoted {
            last = Some(i + 1);
        }
    }
    last
}

/// Where a field's text is in its piece's text, `[from, to)`: empty for an empty or absent
/// field.
type Span = [u32; 2];

/// One piece of records split into fields, rows and lines counted from the piece's start. Its
/// [`Table`] of fields, and the text the table points into, are kept apart.
struct Piece {
    rows: usize,
    /// Line breaks before each record, from the piece's start.
    lines: Vec<u32>,
    /// Line breaks in the piece.
    breaks: u32,
    ragged: Vec<RaggedRow>,
    keys: Vec<u64>,
    missing_keys: Vec<usize>,
    /// Whether the piece's keys (of one column) ascend strictly, and its first and last.
    ascending: bool,
    first_key: Option<String>,
    last_key: Option<String>,
}

impl Piece {
    /// Ends a record whose first `fields` fields are in `spans`, and its last at `last`; a
    /// record of one empty field (and no quotes) is a blank line, skipped.
    #[inline]
    fn record(&mut self, spans: &mut Vec<Span>, width: usize, fields: usize, last: Span) {
        if fields == 0 && last[0] == last[1] {
            self.breaks += 1;
            return;
        }
        if fields < width {
            spans.push(last);
            spans.resize(spans.len() + width - fields - 1, [0, 0]);
        }
        if fields + 1 != width {
            self.ragged.push(RaggedRow {
                row: self.rows,
                fields: fields + 1,
                expected: width,
            });
        }
        self.lines.push(self.breaks);
        self.breaks += 1;
        self.rows += 1;
    }

    /// The primary key of every row, from the key columns' fields.
    fn keys(&mut self, context: &Context, table: &Table, text: &str) {
        let width = context.source.header.len();
        let part = |row: usize, column: usize| table.field(text, width, row, column);
        match context.key.as_slice() {
            [] => {}
            &[only] => {
                let mut previous: Option<&str> = None;
                for row in 0..self.rows {
                    let Some(key) = part(row, only) else {
                        self.missing_keys.push(row);
                        continue;
                    };
                    self.keys.push(key_hash(&[key]));
                    if self.ascending {
                        match previous {
                            Some(previous) => self.ascending = previous < key,
                            None => self.first_key = Some(key.to_string()),
                        }
                        previous = Some(key);
                    }
                }
                self.last_key = previous.map(str::to_string);
            }
            columns => {
                // The parts joined as the text path joins them.
                let mut joined = String::new();
                for row in 0..self.rows {
                    joined.clear();
                    let mut complete = true;
                    for (n, &column) in columns.iter().enumerate() {
                        if n > 0 {
                            joined.push('|');
                        }
                        match part(row, column) {
                            Some(text) => joined.push_str(text),
                            None => complete = false,
                        }
                    }
                    match complete {
                        true => self.keys.push(key_hash(&[joined.as_str()])),
                        false => self.missing_keys.push(row),
                    }
                }
            }
        }
    }
}

/// Where a piece's fields are: `width` per row, one per header column.
#[derive(Default)]
struct Table {
    /// Whether the piece is the usual one, its fields in `bounds`: no quotes, no blank line,
    /// every record of `width` fields. Otherwise they are in `spans`.
    regular: bool,
    /// A leading 0, then one past each field's end: field `i` (row by row) is
    /// `bounds[i]..bounds[i + 1] - 1`, less a carriage return that ends a record. Only the
    /// first `count` are the piece's.
    bounds: Vec<u32>,
    count: usize,
    spans: Vec<Span>,
}

impl Table {
    /// Fills `bounds` from every delimiter and line feed of `bytes`, which has no quotes (and
    /// one past its end when the last record has no line feed); returns whether the piece is
    /// regular.
    fn regular_fields(&mut self, bytes: &[u8], delimiter: u8, width: usize) -> bool {
        // Room for a bound per byte and the writes past the last (below), kept from piece to
        // piece: the loop writes without growing the vector.
        let room = bytes.len() + 2 + SLACK;
        if self.bounds.len() < room {
            self.bounds.resize(room, 0);
        }
        const SLACK: usize = 68;
        let bounds = &mut self.bounds[..];
        bounds[0] = 0;
        let mut count = 1;
        let mut line_feeds = 0;
        let mut base = 0u32;
        let mut chunks = bytes.chunks_exact(64);
        for chunk in &mut chunks {
            let (mut any, breaks) = masks(chunk.try_into().expect("64 bytes"), delimiter);
            line_feeds += breaks.count_ones() as usize;
            // Four bounds at a time, without a branch per bound: the writes past the last
            // are overwritten by the next chunk's or ignored.
            let found = any.count_ones() as usize;
            let out = &mut bounds[count..count + SLACK];
            let mut i = 0;
            while i < found {
                for slot in &mut out[i..i + 4] {
                    *slot = base.wrapping_add(any.trailing_zeros() + 1);
                    any &= any.wrapping_sub(1);
                }
                i += 4;
            }
            count += found;
            base += 64;
        }
        for (i, &byte) in chunks.remainder().iter().enumerate() {
            if byte == delimiter || byte == b'\n' {
                bounds[count] = base + i as u32 + 1;
                count += 1;
                line_feeds += usize::from(byte == b'\n');
            }
        }
        // The last record may end without a line feed.
        let unended = usize::from(bytes.last() != Some(&b'\n'));
        if unended == 1 {
            bounds[count] = bytes.len() as u32 + 1;
            count += 1;
        }
        self.count = count;
        let fields = count - 1;
        let rows = fields / width;
        // Every record ends at a line feed (or the end), and there are no other line feeds:
        // then every record has `width` fields.
        // A file of one column is never regular: a blank line there is an empty field.
        self.regular = width >= 2
            && fields % width == 0
            && line_feeds + unended == rows
            && (1..=rows).all(|row| {
                let end = bounds[row * width] as usize - 1;
                end == bytes.len() || bytes[end] == b'\n'
            });
        self.regular
    }

    /// The text of a field; `None` when it is empty or absent.
    #[inline]
    fn field<'t>(&self, text: &'t str, width: usize, row: usize, column: usize) -> Option<&'t str> {
        let [from, to] = match self.regular {
            true => self.bound(text.as_bytes(), row * width + column, column + 1 == width),
            false => self.spans[row * width + column].map(|b| b as usize),
        };
        (from < to).then(|| &text[from..to])
    }

    /// Field `i` of a regular table, the `last` of its record or not.
    #[inline(always)]
    fn bound(&self, bytes: &[u8], i: usize, last: bool) -> [usize; 2] {
        let from = self.bounds[i] as usize;
        let mut to = self.bounds[i + 1] as usize - 1;
        if last && to > from && bytes[to - 1] == b'\r' {
            to -= 1;
        }
        [from, to]
    }

    /// Pushes the values of one column of a piece of `rows` records, with `text`, to its
    /// parser, the first as row 0.
    fn push_column(
        &self,
        parser: &mut ColumnParser,
        text: &str,
        rows: usize,
        width: usize,
        column: usize,
    ) {
        let bytes = text.as_bytes();
        if self.regular {
            let last = column + 1 == width;
            let values = (0..rows).map(|row| {
                let [from, to] = self.bound(bytes, row * width + column, last);
                (from < to).then(|| &text[from..to])
            });
            parser.push_column(0, values);
        } else {
            let values = self.spans.chunks_exact(width).map(|record| {
                let [from, to] = record[column];
                (from < to).then(|| &text[from as usize..to as usize])
            });
            parser.push_column(0, values);
        }
    }
}

/// Splits one piece of whole records into `table` and hashes its keys. Returns the text the
/// table points into: the piece itself, decoded, or the values of a piece with quotes,
/// unquoted.
fn split<'b>(
    context: &Context,
    bytes: &'b [u8],
    table: &mut Table,
) -> Result<(Piece, Cow<'b, str>), Stop> {
    let text = decode(bytes, context.source.encoding)?;
    let bytes = text.as_bytes();
    if bytes.len() >= (u32::MAX / 2) as usize {
        return Err(Stop::Decline("a piece too large for the table of fields"));
    }
    if memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')) {
        return Err(Stop::Decline("a carriage return without a line feed"));
    }
    let capacity = bytes.len() / 32;
    let width = context.source.header.len();
    let delimiter = context.source.delimiter;
    table.count = 0;
    table.spans.clear();
    table.regular = false;
    let mut piece = Piece {
        rows: 0,
        lines: Vec::with_capacity(capacity),
        breaks: 0,
        ragged: Vec::new(),
        keys: Vec::with_capacity(capacity),
        missing_keys: Vec::new(),
        ascending: context.key.len() == 1,
        first_key: None,
        last_key: None,
    };
    let quotes = memchr::memchr(b'"', bytes).is_some();
    let text = if !quotes && table.regular_fields(bytes, delimiter, width) {
        piece.rows = (table.count - 1) / width;
        piece.lines.extend(0..piece.rows as u32);
        piece.breaks = piece.rows as u32;
        text
    } else if !quotes {
        // Every delimiter and line feed (found by `regular_fields`) ends a field; spans point
        // into the text itself.
        let spans = &mut table.spans;
        let mut start = 0;
        let mut fields = 0;
        for &bound in &table.bounds[1..table.count] {
            let at = bound - 1;
            match bytes.get(at as usize) {
                Some(b'\n') => {
                    let end = match at > start && bytes[at as usize - 1] == b'\r' {
                        true => at - 1,
                        false => at,
                    };
                    piece.record(spans, width, fields, [start, end]);
                    fields = 0;
                }
                Some(_) => {
                    if fields < width {
                        spans.push([start, at]);
                    }
                    fields += 1;
                }
                // The end of a last record without a line feed.
                None => break,
            }
            start = at + 1;
        }
        if (start as usize) < bytes.len() || fields > 0 {
            piece.record(spans, width, fields, [start, bytes.len() as u32]);
        }
        text
    } else {
        // Records with quotes: their fields, unquoted, are copied one after another.
        let spans = &mut table.spans;
        let mut values = String::with_capacity(bytes.len());
        let mut fields: Vec<Cow<str>> = Vec::with_capacity(width + 1);
        let mut at = 0;
        while at < bytes.len() {
            let (next, breaks) = split_record(&text, at, delimiter, &mut fields)?;
            let count = fields.len();
            let last = fields.pop().unwrap_or_default();
            for field in fields.iter().take(width) {
                let from = values.len() as u32;
                values.push_str(field);
                spans.push([from, values.len() as u32]);
            }
            let from = values.len() as u32;
            values.push_str(&last);
            let last = [from, values.len() as u32];
            let breaks_before = piece.breaks;
            piece.record(spans, width, count - 1, last);
            // A record's quoted line breaks count too.
            piece.breaks = breaks_before + breaks;
            at = next;
        }
        Cow::Owned(values)
    };
    piece.keys(context, table, &text);
    Ok((piece, text))
}

/// Bit masks of 64 bytes: which are `delimiter` or a line feed, and which are line feeds.
#[inline]
fn masks(chunk: &[u8; 64], delimiter: u8) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        let mut any = 0u64;
        let mut line_feeds = 0u64;
        // SAFETY: SSE2 is part of every x86_64 processor; each unaligned 16-byte load reads
        // within `chunk`, which has 64 bytes.
        unsafe {
            let delimiters = _mm_set1_epi8(delimiter as i8);
            let breaks = _mm_set1_epi8(b'\n' as i8);
            for k in 0..4 {
                let bytes = _mm_loadu_si128(chunk.as_ptr().add(16 * k).cast::<__m128i>());
                let is_break = _mm_cmpeq_epi8(bytes, breaks);
                let is_either = _mm_or_si128(is_break, _mm_cmpeq_epi8(bytes, delimiters));
                line_feeds |= u64::from(_mm_movemask_epi8(is_break) as u16) << (16 * k);
                any |= u64::from(_mm_movemask_epi8(is_either) as u16) << (16 * k);
            }
        }
        (any, line_feeds)
    }
    #[cfg(not(target_arch = "x86_64"))]
    masks_portable(chunk, delimiter)
}

/// [`masks`] a byte at a time.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn masks_portable(chunk: &[u8; 64], delimiter: u8) -> (u64, u64) {
    let mut any = 0u64;
    let mut line_feeds = 0u64;
    for (i, &byte) in chunk.iter().enumerate() {
        any |= u64::from(byte == delimiter || byte == b'\n') << i;
        line_feeds |= u64::from(byte == b'\n') << i;
    }
    (any, line_feeds)
}

/// Splits the record starting at `at` into `fields`; returns where the next record starts and
/// the line breaks consumed. A line feed ends a record (a carriage return before it is
/// dropped); a quoted field may hold delimiters, line breaks and doubled quotes. Any other
/// quote declines the file.
fn split_record<'t>(
    text: &'t str,
    at: usize,
    delimiter: u8,
    fields: &mut Vec<Cow<'t, str>>,
) -> Result<(usize, u32), Stop> {
    fields.clear();
    let bytes = text.as_bytes();
    // The usual record, without quotes: one pass over its bytes.
    let mut start = at;
    let mut i = at;
    let line_end = loop {
        match bytes.get(i) {
            None => break None,
            Some(b'\n') => break Some(i),
            Some(b'"') => break Some(usize::MAX),
            Some(&b) if b == delimiter => {
                fields.push(Cow::Borrowed(&text[start..i]));
                start = i + 1;
            }
            Some(_) => {}
        }
        i += 1;
    };
    if line_end != Some(usize::MAX) {
        let last = &text[start..i];
        fields.push(Cow::Borrowed(last.strip_suffix('\r').unwrap_or(last)));
        return Ok((line_end.map_or(i, |end| end + 1), 1));
    }
    fields.clear();
    let mut i = at;
    let mut breaks = 0;
    loop {
        // A field starts at `i`.
        if bytes.get(i) == Some(&b'"') {
            let mut value = String::new();
            let mut from = i + 1;
            let close = loop {
                let Some(q) = memchr::memchr(b'"', &bytes[from..]) else {
                    return Err(Stop::Decline("an unclosed quote"));
                };
                let q = from + q;
                if bytes.get(q + 1) == Some(&b'"') {
                    value.push_str(&text[from..q + 1]);
                    from = q + 2;
                } else {
                    value.push_str(&text[from..q]);
                    break q;
                }
            };
            breaks += bytes[i..close].iter().filter(|&&b| b == b'\n').count() as u32;
            if value.is_empty() {
                return Err(Stop::Decline("an empty quoted field"));
            }
            let inner = &text[i + 1..close];
            fields.push(if inner.len() == value.len() {
                Cow::Borrowed(inner)
            } else {
                Cow::Owned(value)
            });
            i = close + 1;
            match bytes.get(i) {
                Some(&b) if b == delimiter => i += 1,
                Some(b'\n') => return Ok((i + 1, breaks + 1)),
                Some(b'\r') if bytes.get(i + 1) == Some(&b'\n') => return Ok((i + 2, breaks + 1)),
                None => return Ok((i, breaks.max(1))),
                Some(_) => return Err(Stop::Decline("text after a closing quote")),
            }
        } else {
            let rest = &bytes[i..];
            let stop = rest
                .iter()
                .position(|&b| b == delimiter || b == b'\n' || b == b'"')
                .map_or(bytes.len(), |p| i + p);
            match bytes.get(stop) {
                Some(b'"') => return Err(Stop::Decline("a quote inside a field")),
                Some(&b) if b == delimiter => {
                    fields.push(Cow::Borrowed(&text[i..stop]));
                    i = stop + 1;
                }
                Some(_) => {
                    let value = &text[i..stop];
                    fields.push(Cow::Borrowed(value.strip_suffix('\r').unwrap_or(value)));
                    return Ok((stop + 1, breaks + 1));
                }
                None => {
                    let value = &text[i..stop];
                    fields.push(Cow::Borrowed(value.strip_suffix('\r').unwrap_or(value)));
                    return Ok((stop, breaks.max(1)));
                }
            }
        }
    }
}

/// Reads the file again and returns the texts of `columns` (header positions) in `rows`:
/// `None` for an empty or absent field. Fails when the file changed since the pass.
fn pick(
    source: &Source,
    sha256: &str,
    rows: &BTreeSet<usize>,
    columns: &[usize],
) -> Result<HashMap<usize, Vec<Option<String>>>, Stop> {
    let mut found = HashMap::with_capacity(rows.len());
    let mut row = 0;
    let mut records = Records::open(source, BLOCK)?;
    let mut raw = Vec::new();
    while records.next(&mut raw).map_err(|(_, stop)| stop)?.is_some() {
        let text = decode(&raw, source.encoding)?;
        let mut fields = Vec::new();
        let mut at = 0;
        while at < text.len() {
            let (next, _) = split_record(&text, at, source.delimiter, &mut fields)?;
            let blank = fields.len() == 1
                && fields[0].is_empty()
                && !text.as_bytes()[at..next].contains(&b'"');
            if !blank {
                if rows.contains(&row) {
                    let values = columns
                        .iter()
                        .map(|&i| {
                            fields
                                .get(i)
                                .filter(|v| !v.is_empty())
                                .map(|v| v.to_string())
                        })
                        .collect();
                    found.insert(row, values);
                }
                row += 1;
            }
            at = next;
        }
    }
    if records.finish() != sha256 {
        return Err(Stop::Decline("the file changed while it was read"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Result<(Vec<String>, usize, u32), &'static str> {
        let mut fields = Vec::new();
        match split_record(text, 0, b';', &mut fields) {
            Ok((next, breaks)) => {
                Ok((fields.iter().map(|f| f.to_string()).collect(), next, breaks))
            }
            Err(Stop::Decline(why)) => Err(why),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn records_split_into_fields() {
        assert_eq!(
            split("a;b;\nx").unwrap(),
            (vec!["a".into(), "b".into(), "".into()], 5, 1)
        );
        assert_eq!(split("a;b\r\n").unwrap().0, ["a", "b"]);
        assert_eq!(split("a").unwrap(), (vec!["a".into()], 1, 1));
        let (fields, next, breaks) = split("\"p;q\";\"r\ns\";\"t\"\"u\"\r\nx").unwrap();
        assert_eq!(fields, ["p;q", "r\ns", "t\"u"]);
        assert_eq!((next, breaks), (20, 2));
        assert_eq!(split("x;\"y\"").unwrap().0, ["x", "y"]);
    }

    #[test]
    fn irregular_quoting_declines() {
        assert_eq!(split("a\"b;c\n"), Err("a quote inside a field"));
        assert_eq!(split("\"a\"b;c\n"), Err("text after a closing quote"));
        assert_eq!(split("\"\";c\n"), Err("an empty quoted field"));
        assert_eq!(split("\"abc\n"), Err("an unclosed quote"));
    }

    #[test]
    fn runs_end_after_a_record() {
        assert_eq!(last_record_end(b"1;a\n2;b\n3"), Some(8));
        // A quoted line break is not a record end.
        assert_eq!(last_record_end(b"1;\"a\nb"), None);
        assert_eq!(last_record_end(b"1;a\n2;\"b\nc\"\n3"), Some(12));
    }

    #[test]
    fn separator_masks_agree_with_a_byte_at_a_time() {
        let mut chunk = [0u8; 64];
        for seed in 0u64..2000 {
            let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            for byte in &mut chunk {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = [b';', b'\n', b',', b'\t', b'a', 0x80, 0xFF, b'\r'][(state % 8) as usize];
            }
            for delimiter in [b';', b',', b'\t'] {
                assert_eq!(masks(&chunk, delimiter), masks_portable(&chunk, delimiter));
            }
        }
    }

    #[test]
    fn irregular_pieces_give_every_field_and_their_ragged_rows() {
        let source = Source {
            path: PathBuf::new(),
            encoding: encoding_rs::UTF_8,
            delimiter: b';',
            bom: false,
            header: vec!["a".into(), "b".into(), "c".into()],
            data_start: 0,
            header_breaks: 1,
            size: 0,
        };
        let schema = SchemaPlan {
            name: "test".into(),
            path: PathBuf::new(),
            sha256: String::new(),
            primary_key: vec!["a".into()],
            missing_values: Vec::new(),
            fields: Vec::new(),
            rules: Vec::new(),
        };
        let context = Context {
            source: &source,
            key: vec![0],
            schema: &schema,
            columns: Vec::new(),
            decimal_comma: false,
        };
        // Longer than one mask; a blank line, a short and a long record, CRLF, no last line
        // feed.
        let mut lines: Vec<String> = (0..40).map(|i| format!("k{i:02};{i};x")).collect();
        lines[3] = String::new();
        lines[7] = "k07;7".into();
        lines[12] = "k12;12;x;extra".into();
        let text = lines.join("\r\n");
        let mut table = Table::default();
        let (piece, text) = super::split(&context, text.as_bytes(), &mut table).unwrap();
        assert!(!table.regular);
        assert_eq!(piece.rows, 39);
        let ragged: Vec<(usize, usize)> = piece.ragged.iter().map(|r| (r.row, r.fields)).collect();
        assert_eq!(ragged, [(6, 2), (11, 4)]);
        let rows: Vec<&String> = lines.iter().filter(|l| !l.is_empty()).collect();
        for (row, line) in rows.iter().enumerate() {
            let expected: Vec<&str> = line.split(';').collect();
            for column in 0..3 {
                let want = expected.get(column).copied().filter(|v| !v.is_empty());
                assert_eq!(table.field(&text, 3, row, column), want, "{line}");
            }
        }
        // Line 4 is blank: the records after it start a line later.
        assert_eq!(&piece.lines[2..5], [2, 4, 5]);
        assert_eq!(piece.keys.len(), 39);
    }

    #[test]
    fn regular_pieces_give_every_field() {
        // Fields of 0 to 20 bytes, so that a mask holds anywhere from none to dozens of
        // separators; with and without CR, with and without a last line feed.
        for (crlf, ended) in [(false, true), (true, true), (false, false), (true, false)] {
            let rows: Vec<Vec<String>> = (0..300)
                .map(|r| (0..3).map(|c| "x".repeat((r * 7 + c * 5) % 21)).collect())
                .collect();
            let end = if crlf { "\r\n" } else { "\n" };
            let mut text = rows
                .iter()
                .map(|r| r.join(";"))
                .collect::<Vec<_>>()
                .join(end);
            if ended {
                text.push_str(end);
            }
            let mut table = Table::default();
            assert!(table.regular_fields(text.as_bytes(), b';', 3));
            assert_eq!(table.count - 1, 900);
            for (r, row) in rows.iter().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    let field = table.field(&text, 3, r, c);
                    assert_eq!(field, Some(value.as_str()).filter(|v| !v.is_empty()));
                }
            }
            // A ragged record or a blank line makes the piece irregular.
            for broken in [text.replacen(";x", "", 1), text.replacen(end, "\n\n", 1)] {
                let mut table = Table::default();
                assert!(
                    !table.regular_fields(broken.as_bytes(), b';', 3),
                    "{crlf} {ended}"
                );
            }
        }
    }

    #[test]
    fn key_hashes_follow_the_joined_text() {
        assert_eq!(key_hash(&["a|b"]), key_hash(&["a", "b"]));
        assert_ne!(key_hash(&["a"]), key_hash(&["b"]));
        // Rows 0 and 3 share a hash; row 2 has no key.
        let rows = colliding_rows(&[7, 8, 7], &[2]);
        assert_eq!(rows.into_iter().collect::<Vec<_>>(), [0, 3]);
    }
}
