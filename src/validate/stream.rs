//! The fast path of a CSV export: read, split, parse and check in one streaming pass.
//!
//! `ingest::csv` reads the file: [`Blocks`] hands out blocks of at least [`BLOCK`] bytes, each
//! cut after its last record, and [`split`] finds where a block's fields are (a [`Table`]).
//! This module runs the pass: every thread takes the next block in turn (read and hashed in
//! file order under a lock: the SHA-256 of the file, for the manifest) and works it on its
//! own: splits it, hashes its primary keys, then parses each column of the block with its own
//! [`ColumnParser`] (the parser validation of a text column uses), in one loop chosen for the
//! field's type. The threads share no step but taking a block and handing in the parsed
//! block; the parsed blocks are folded in file order into one contiguous column per field
//! (`Shared`, `Fold`). So no value ever exists as a text column, memory is the typed
//! columns plus a few blocks per thread, and the result is the text path's
//! ([`crate::ingest::read`] then [`super::apply`]) value for value, problem for problem;
//! `tests/it/ingest_props.rs` and `tests/it/csv_differential.rs` hold the two paths to that.
//!
//! The raw text the rejects quote beyond the failing value (a rejected row's primary key, the
//! values a routing rule saw, the rows whose keys may repeat) is read again from the file
//! after the pass, for those rows only ([`pick`]).
//!
//! [`read`] returns `None` for a file it does not take, and the text path reads it as before:
//! an `[[input]]` without `decimal` when the schema has `number` fields (the mark is then
//! detected from every value), an encoding other than UTF-8 or a single-byte one, quoting
//! other than whole quoted fields (`a"b`, `"a"b`, an empty `""`), a carriage return without a
//! line feed, a blank line before the header, a header with an empty or repeated name or
//! without some schema column, a record longer than
//! [`MAX_RECORD`](crate::ingest::csv::blocks::MAX_RECORD), and every file the text path
//! rejects with its own message (empty, binary, not text, no data rows).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Condvar, Mutex};

use polars::prelude::*;
use rayon::prelude::*;

use super::parse::{ColumnParser, Output};
use super::rules::{self, TypedColumn};
use super::{Problem, Rejects, ValidFrame};
use crate::diag::{catalog, Diagnostic, Failure};
use crate::ingest::csv::blocks::{Blocks, Source, Stop, BLOCK};
use crate::ingest::csv::fields::{pick, split, Records, Table, TakeColumn};
use crate::ingest::hash::{Hashing, Sha256};
use crate::ingest::{Dialect, RaggedRow};
use crate::spec::Wave;
use crate::spec::{FieldPlan, FieldType, InputFormat, InputPlan, SchemaPlan};

/// The result of the streaming pass, checked value by value; [`finish`] finishes it.
pub struct Parsed {
    wave: Wave,
    source: Source,
    /// The [`Checksum`](crate::ingest::hash::Checksum) of the bytes the pass read.
    checksum: u64,
    sha256: Sha256,
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

/// Reads and checks a CSV input in one pass; `None` when the file is for the text path. Its
/// SHA-256 is taken after the pass, at idle priority (as `peiling run` does).
pub fn read(input: &InputPlan, schema: &SchemaPlan) -> Result<Option<Parsed>, Failure> {
    read_with(input, schema, BLOCK)
}

/// [`read`], the SHA-256 taken when `hashing` says.
pub fn read_hashing(
    input: &InputPlan,
    schema: &SchemaPlan,
    hashing: Hashing,
) -> Result<Option<Parsed>, Failure> {
    read_blocks(input, schema, BLOCK, hashing)
}

/// [`read`] with blocks of `block` bytes (tests use small ones to cut records everywhere).
pub fn read_with(
    input: &InputPlan,
    schema: &SchemaPlan,
    block: usize,
) -> Result<Option<Parsed>, Failure> {
    read_blocks(input, schema, block, Hashing::AfterPass)
}

fn read_blocks(
    input: &InputPlan,
    schema: &SchemaPlan,
    block: usize,
    hashing: Hashing,
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
    // Beside the pass: from its start (the bytes are the same whatever the encoding).
    let beside = (hashing == Hashing::Beside).then(|| Sha256::start(input.path.clone(), hashing));
    let attempt = |encoding| {
        pass(
            input,
            schema,
            encoding,
            decimal_comma,
            block,
            beside.clone(),
        )
    };
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
    beside: Option<Sha256>,
) -> Result<Parsed, Stop> {
    if encoding != encoding_rs::UTF_8 && !encoding.is_single_byte() {
        return Err(Stop::Decline("a multi-byte encoding other than UTF-8"));
    }
    let source = Source::open(&input.path, encoding, input.csv.delimiter)?;
    // Per schema field, its header column.
    let columns: Vec<usize> = schema
        .fields
        .iter()
        .map(|field| source.column(&field.name))
        .collect::<Option<_>>()
        .ok_or(Stop::Decline("a schema column is missing"))?;
    let key = schema
        .primary_key
        .iter()
        .map(|name| source.column(name))
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
        reader: Mutex::new(Reader {
            blocks: Blocks::open(&source, block)?,
            folded: 0,
            failed: false,
        }),
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
        reader, fold, done, ..
    } = shared;
    let reader = reader.into_inner().expect("no panic holds the lock");
    let mut fold = fold.into_inner().expect("no panic holds the lock");
    for (index, block) in done.into_inner().expect("no panic holds the lock") {
        fold.add(index, block);
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
    parsed.checksum = reader.blocks.finish();
    parsed.sha256 = match beside {
        Some(sha256) => {
            sha256.expect(parsed.checksum);
            sha256
        }
        // Taken while the cores are free of the rest of the run's work (see `ingest::hash`).
        None => Sha256::after_pass(source.path.clone(), parsed.checksum),
    };
    let finished: Vec<TypedColumn> = fold.outputs.into_par_iter().map(Output::finish).collect();
    parsed.columns = finished;
    Ok(parsed)
}

/// What the threads of a pass share. Each thread takes the next block (read and hashed in
/// file order under the lock of `reader`), then splits, parses and checks it on its own. The
/// parsed block is folded in by whichever thread finds the fold free: a thread does not wait
/// for it, unless it is `ahead` blocks ahead of the fold (a thread the machine has paused holds
/// up the block the fold needs next, and the blocks parsed after it wait in memory).
struct Shared<'a> {
    context: &'a Context<'a>,
    reader: Mutex<Reader>,
    /// Signalled when parsed blocks are folded in, or a block failed.
    folded: Condvar,
    fold: Mutex<Fold<'a>>,
    /// Parsed blocks not yet handed to the fold.
    done: Mutex<Vec<(usize, ParsedBlock)>>,
    /// The outputs of parsed blocks folded in, emptied for the next blocks to fill: fresh
    /// memory for every block would cost a page fault per 4 KiB.
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
            match parse_block(self.context, &bytes, &mut table, outputs) {
                Ok(parsed) => lock(&self.done).push((index, parsed)),
                Err(stop) => {
                    lock(&self.reader).failed = true;
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
        let behind = |reader: &Reader| reader.blocks.taken >= reader.folded + self.ahead;
        let mut reader = lock(&self.reader);
        if behind(&reader) && !reader.failed {
            drop(reader);
            // Fold in what is done (every block parsed is folded before a thread waits), then
            // wait for the block the fold needs.
            self.fold_done(&mut lock(&self.fold));
            reader = lock(&self.reader);
            while behind(&reader) && !reader.failed {
                reader = self.folded.wait(reader).expect("no panic holds the lock");
            }
        }
        if reader.failed {
            return Ok(None);
        }
        let index = reader.blocks.taken;
        reader.blocks.next(bytes).map_err(|stop| (index, stop))
    }

    /// Folds in the blocks parsed, the fold held.
    fn fold_done(&self, fold: &mut Fold) {
        loop {
            let parsed = std::mem::take(&mut *lock(&self.done));
            if parsed.is_empty() {
                return;
            }
            for (index, block) in parsed {
                fold.add(index, block);
            }
            lock(&self.spare).append(&mut fold.spare);
            lock(&self.reader).folded = fold.next;
            self.folded.notify_all();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("no panic holds the lock")
}

/// The file's blocks, and how far the pass is with them.
struct Reader {
    blocks: Blocks,
    /// Blocks folded in (see [`Shared`]).
    folded: usize,
    /// Set when a block failed: no more blocks are handed out.
    failed: bool,
}

/// One block of records split, parsed and checked; rows and lines counted from its start.
struct ParsedBlock {
    records: Records,
    keys: Keys,
    /// Bytes of the block.
    bytes: usize,
    /// Per schema field, the block's values.
    outputs: Vec<Output>,
    problems: Vec<Problem>,
}

/// Splits, parses and checks one block of whole records: every schema field's values by its
/// own [`ColumnParser`], one loop per field chosen for its type, straight into the column.
/// `outputs`, when given, are a folded block's, emptied.
fn parse_block(
    context: &Context,
    bytes: &[u8],
    table: &mut Table,
    outputs: Option<Vec<Output>>,
) -> Result<ParsedBlock, Stop> {
    let (records, text) = split(context.source, bytes, table)?;
    let keys = Keys::of(context, table, &text, records.rows);
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
                .unwrap_or_else(|| Output::accumulator(field, records.rows));
            let mut parser = ColumnParser::new(
                field,
                order,
                &schema.missing_values,
                context.decimal_comma,
                0,
            )
            .collecting(output);
            table.take_column(&mut parser, &text, records.rows, column);
            let (output, found) = parser.into_parts();
            problems.extend(found);
            output
        })
        .collect();
    Ok(ParsedBlock {
        records,
        keys,
        bytes: bytes.len(),
        outputs,
        problems,
    })
}

/// The file's result, folded from its parsed blocks in block order, whatever order the
/// threads finish them in.
struct Fold<'a> {
    parsed: Parsed,
    fields: &'a [FieldPlan],
    /// Per schema field, its values so far: made at the first block, with room for the rows
    /// the file's size suggests, so that they are not copied as they grow.
    outputs: Vec<Output>,
    /// The block to fold next, and the blocks parsed before their turn.
    next: usize,
    waiting: BTreeMap<usize, ParsedBlock>,
    /// The line the next block starts on.
    next_line: u32,
    /// The last key so far (of one key column), while they ascend.
    last_key: Option<String>,
    /// The outputs of the blocks folded in, emptied.
    spare: Vec<Vec<Output>>,
}

impl<'a> Fold<'a> {
    fn new(wave: Wave, context: &Context<'a>) -> Fold<'a> {
        let source = context.source;
        Fold {
            fields: &context.schema.fields,
            outputs: Vec::new(),
            parsed: Parsed {
                wave,
                source: source.clone(),
                checksum: 0,
                sha256: Sha256::default(),
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

    /// Takes parsed block `index`, and folds in every block whose turn has come.
    fn add(&mut self, index: usize, block: ParsedBlock) {
        self.waiting.insert(index, block);
        while let Some(block) = self.waiting.remove(&self.next) {
            self.fold(block);
            self.next += 1;
        }
    }

    fn fold(&mut self, block: ParsedBlock) {
        let parsed = &mut self.parsed;
        let ParsedBlock {
            records,
            keys,
            bytes,
            mut outputs,
            mut problems,
        } = block;
        if self.outputs.is_empty() {
            let size = parsed.source.size as f64;
            let expected = size / bytes.max(1) as f64 * records.rows as f64;
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
            .extend(records.lines.iter().map(|line| first_line + line));
        self.next_line += records.breaks;
        parsed
            .ragged
            .extend(records.ragged.into_iter().map(|r| RaggedRow {
                row: base + r.row,
                ..r
            }));
        parsed.keys.extend(keys.hashes);
        parsed.keys_ascending &= keys.ascending
            && match (&self.last_key, &keys.first) {
                (Some(last), Some(first)) => last < first,
                _ => true,
            };
        if keys.last.is_some() {
            self.last_key = keys.last;
        }
        parsed
            .missing_keys
            .extend(keys.missing.into_iter().map(|row| base + row));
        parsed.rows += records.rows;
    }
}

/// Finishes validation of a streamed file: the primary key, the routing rules, the rejected
/// rows' texts, and the accepted rows. Returns the rows' line numbers too.
pub fn finish(
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
        pick(&source, parsed.checksum, rows, columns).map_err(|e| reread_error(&file, e))
    };

    let mut problems = parsed.problems;
    let key_column = schema.primary_key.join("|");
    let key_indices: Vec<usize> = schema
        .primary_key
        .iter()
        .filter_map(|name| source.column(name))
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
            if let Some(index) = source.column(name) {
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
        let index = source.column(name)?;
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

/// The primary keys of a block's rows, hashed as the text path joins them.
struct Keys {
    hashes: Vec<u64>,
    /// Rows without a (complete) key.
    missing: Vec<usize>,
    /// Whether the block's keys (of one key column) ascend strictly, and its first and last.
    ascending: bool,
    first: Option<String>,
    last: Option<String>,
}

impl Keys {
    /// The keys of the `rows` rows of a block, from the key columns' fields.
    fn of(context: &Context, table: &Table, text: &str, rows: usize) -> Keys {
        let mut keys = Keys {
            hashes: Vec::with_capacity(rows),
            missing: Vec::new(),
            ascending: context.key.len() == 1,
            first: None,
            last: None,
        };
        let part = |row: usize, column: usize| table.field(text, row, column);
        match context.key.as_slice() {
            [] => {}
            &[only] => {
                let mut previous: Option<&str> = None;
                for row in 0..rows {
                    let Some(key) = part(row, only) else {
                        keys.missing.push(row);
                        continue;
                    };
                    keys.hashes.push(key_hash(&[key]));
                    if keys.ascending {
                        match previous {
                            Some(previous) => keys.ascending = previous < key,
                            None => keys.first = Some(key.to_string()),
                        }
                        previous = Some(key);
                    }
                }
                keys.last = previous.map(str::to_string);
            }
            columns => {
                // The parts joined as the text path joins them.
                let mut joined = String::new();
                for row in 0..rows {
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
                        true => keys.hashes.push(key_hash(&[joined.as_str()])),
                        false => keys.missing.push(row),
                    }
                }
            }
        }
        keys
    }
}

impl TakeColumn for ColumnParser<'_> {
    fn take_column<'t>(&mut self, values: impl Iterator<Item = Option<&'t str>>) {
        self.push_column(0, values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hashes_follow_the_joined_text() {
        assert_eq!(key_hash(&["a|b"]), key_hash(&["a", "b"]));
        assert_ne!(key_hash(&["a"]), key_hash(&["b"]));
        // Rows 0 and 3 share a hash; row 2 has no key.
        let rows = colliding_rows(&[7, 8, 7], &[2]);
        assert_eq!(rows.into_iter().collect::<Vec<_>>(), [0, 3]);
    }
}
