//! Where the fields of CSV records are: the one quote-aware record scanner ([`scan_record`]),
//! which both CSV readers use, and the streaming pass's split of a block of records into a
//! [`Table`] of fields.
//!
//! A block without quotes (the usual one) is split from bit masks of its separators, 64 bytes
//! at a time (`Table::regular_fields`): one bound per field, every field borrowed from the
//! block's text. A block with quotes is split record by record by [`split_record`], and its
//! values, unquoted, are copied one after another.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};

use super::blocks::{Blocks, Source, Stop, BLOCK};
use super::dialect::decode;
use crate::ingest::RaggedRow;

/// What a record's scan met that the readers treat differently: polars, the `csv` crate and the
/// streaming pass read a record without any of these alike.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Quirks {
    /// A quote inside an unquoted field, text after a closing quote, or a quote left open.
    pub odd_quoting: bool,
    /// A carriage return without a line feed, outside quotes: a line break to the `csv` crate
    /// (and to R), not to polars or to this scanner.
    pub lone_cr: bool,
    /// A quoted empty field (`""`), which polars reads as the text "".
    pub empty_quoted: bool,
}

/// Walks the record starting at `start` once, honouring quotes, and calls `field` with each
/// field's span in `bytes` (its quotes included; the carriage return before the record's line
/// feed excluded). Returns where the next record starts and the line breaks the record holds,
/// its own included (1 for a last record without one).
///
/// A line feed ends the record; a quote that opens a field quotes it up to the closing quote, a
/// doubled quote (`""`) inside standing for one. Whatever else a record holds is marked in
/// `quirks`, and the record is walked as if every quote toggled quoting.
pub fn scan_record(
    bytes: &[u8],
    start: usize,
    delimiter: u8,
    quirks: &mut Quirks,
    mut field: impl FnMut(usize, usize),
) -> (usize, u32) {
    let ends_field = |at: usize| match bytes.get(at).copied() {
        None | Some(b'\n') => true,
        Some(b'\r') => bytes.get(at + 1) == Some(&b'\n'),
        Some(b) => b == delimiter,
    };
    let breaks_in = |from: usize, to: usize| memchr::memchr_iter(b'\n', &bytes[from..to]).count();
    let mut from = start;
    let mut breaks = 0;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if i == from {
                    // Opens a field.
                    quirks.empty_quoted |= bytes.get(i + 1) == Some(&b'"') && ends_field(i + 2);
                } else {
                    // The second of a doubled quote, or a quote inside an unquoted field.
                    quirks.odd_quoting |= bytes[i - 1] != b'"';
                }
                // Quoted up to the next quote, which closes the field or is the first of a
                // doubled one.
                let Some(close) = memchr::memchr(b'"', &bytes[i + 1..]).map(|q| i + 1 + q) else {
                    quirks.odd_quoting = true;
                    breaks += breaks_in(i, bytes.len()) as u32;
                    break;
                };
                breaks += breaks_in(i, close) as u32;
                quirks.odd_quoting |=
                    !(bytes.get(close + 1) == Some(&b'"') || ends_field(close + 1));
                i = close;
            }
            b'\n' => {
                let end = if i > from && bytes[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                field(from, end);
                return (i + 1, breaks + 1);
            }
            b'\r' => quirks.lone_cr |= bytes.get(i + 1) != Some(&b'\n'),
            b if b == delimiter => {
                field(from, i);
                from = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let end = bytes.len();
    let end = if end > from && bytes[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    field(from, end);
    (bytes.len(), breaks.max(1))
}

/// Splits the record starting at `at` into its values, unquoted; returns where the next record
/// starts and the line breaks it holds. A record with any [`Quirks`] is declined.
pub fn split_record<'t>(
    text: &'t str,
    at: usize,
    delimiter: u8,
    fields: &mut Vec<Cow<'t, str>>,
) -> Result<(usize, u32), Stop> {
    fields.clear();
    let mut quirks = Quirks::default();
    let end = scan_record(text.as_bytes(), at, delimiter, &mut quirks, |from, to| {
        fields.push(unquote(&text[from..to]));
    });
    if quirks.odd_quoting {
        Err(Stop::Decline("odd quoting"))
    } else if quirks.empty_quoted {
        Err(Stop::Decline("an empty quoted field"))
    } else if quirks.lone_cr {
        Err(Stop::Decline("a carriage return without a line feed"))
    } else {
        Ok(end)
    }
}

/// A field's value: a quoted one without its quotes, a doubled quote inside as one.
fn unquote(raw: &str) -> Cow<'_, str> {
    match raw
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    {
        Some(inner) if inner.contains('"') => Cow::Owned(inner.replace("\"\"", "\"")),
        Some(inner) => Cow::Borrowed(inner),
        None => Cow::Borrowed(raw),
    }
}

/// Where a field's text is in its block's text, `[from, to)`: empty for an empty or absent
/// field.
type Span = [u32; 2];

/// The records of one block, rows and lines counted from the block's start. Its [`Table`] of
/// fields, and the text the table points into, are kept apart.
pub struct Records {
    pub rows: usize,
    /// Line breaks before each record, from the block's start.
    pub lines: Vec<u32>,
    /// Line breaks in the block.
    pub breaks: u32,
    pub ragged: Vec<RaggedRow>,
}

impl Records {
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
}

/// Takes the values of one column of a block, in row order (`None` for an empty field).
pub trait TakeColumn {
    fn take_column<'t>(&mut self, values: impl Iterator<Item = Option<&'t str>>);
}

/// Where a block's fields are: `width` per row, one per header column.
#[derive(Default)]
pub struct Table {
    /// Whether the block is the usual one, its fields in `bounds`: no quotes, no blank line,
    /// every record of `width` fields. Otherwise they are in `spans`.
    regular: bool,
    /// A leading 0, then one past each field's end: field `i` (row by row) is
    /// `bounds[i]..bounds[i + 1] - 1`, less a carriage return that ends a record. Only the
    /// first `count` are the block's.
    bounds: Vec<u32>,
    count: usize,
    spans: Vec<Span>,
    width: usize,
}

impl Table {
    /// Fills `bounds` from every delimiter and line feed of `bytes`, which has no quotes (and
    /// one past its end when the last record has no line feed); returns whether the block is
    /// regular.
    fn regular_fields(&mut self, bytes: &[u8], delimiter: u8, width: usize) -> bool {
        // Room for a bound per byte and the writes past the last (below), kept from block to
        // block: the loop writes without growing the vector.
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
    pub fn field<'t>(&self, text: &'t str, row: usize, column: usize) -> Option<&'t str> {
        let width = self.width;
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

    /// Hands the values of one column of a block of `rows` records, with `text`, to `taker`.
    pub fn take_column(&self, taker: &mut impl TakeColumn, text: &str, rows: usize, column: usize) {
        let width = self.width;
        let bytes = text.as_bytes();
        if self.regular {
            let last = column + 1 == width;
            let values = (0..rows).map(|row| {
                let [from, to] = self.bound(bytes, row * width + column, last);
                (from < to).then(|| &text[from..to])
            });
            taker.take_column(values);
        } else {
            let values = self.spans.chunks_exact(width).map(|record| {
                let [from, to] = record[column];
                (from < to).then(|| &text[from as usize..to as usize])
            });
            taker.take_column(values);
        }
    }
}

/// Splits one block of whole records of `source` into `table`. Returns its records and the
/// text the table points into: the block itself, decoded, or the values of a block with
/// quotes, unquoted.
pub fn split<'b>(
    source: &Source,
    bytes: &'b [u8],
    table: &mut Table,
) -> Result<(Records, Cow<'b, str>), Stop> {
    let text = decode(bytes, source.encoding)?;
    let bytes = text.as_bytes();
    if bytes.len() >= (u32::MAX / 2) as usize {
        return Err(Stop::Decline("a block too large for the table of fields"));
    }
    if memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')) {
        return Err(Stop::Decline("a carriage return without a line feed"));
    }
    let capacity = bytes.len() / 32;
    let width = source.header.len();
    let delimiter = source.delimiter;
    table.count = 0;
    table.spans.clear();
    table.regular = false;
    table.width = width;
    let mut records = Records {
        rows: 0,
        lines: Vec::with_capacity(capacity),
        breaks: 0,
        ragged: Vec::new(),
    };
    let quotes = memchr::memchr(b'"', bytes).is_some();
    let text = if !quotes && table.regular_fields(bytes, delimiter, width) {
        records.rows = (table.count - 1) / width;
        records.lines.extend(0..records.rows as u32);
        records.breaks = records.rows as u32;
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
                    records.record(spans, width, fields, [start, end]);
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
            records.record(spans, width, fields, [start, bytes.len() as u32]);
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
            let breaks_before = records.breaks;
            records.record(spans, width, count - 1, last);
            // A record's quoted line breaks count too.
            records.breaks = breaks_before + breaks;
            at = next;
        }
        Cow::Owned(values)
    };
    Ok((records, text))
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

/// Reads the file again and returns the texts of `columns` (header positions) in `rows`:
/// `None` for an empty or absent field. Fails when the file changed since the pass that read
/// it as bytes of [`Checksum`](crate::ingest::hash::Checksum) `checksum`.
pub fn pick(
    source: &Source,
    checksum: u64,
    rows: &BTreeSet<usize>,
    columns: &[usize],
) -> Result<HashMap<usize, Vec<Option<String>>>, Stop> {
    let mut found = HashMap::with_capacity(rows.len());
    let mut row = 0;
    let mut blocks = Blocks::open(source, BLOCK)?;
    let mut block = Vec::new();
    while blocks.next(&mut block)?.is_some() {
        let text = decode(&block, source.encoding)?;
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
    if blocks.finish() != checksum {
        return Err(Stop::Decline("the file changed while it was read"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

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

    fn quirks(text: &str) -> Quirks {
        let mut quirks = Quirks::default();
        scan_record(text.as_bytes(), 0, b';', &mut quirks, |_, _| {});
        quirks
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
        assert_eq!(
            split("\"a\r\nb\";c\r\n").unwrap(),
            (vec!["a\r\nb".into(), "c".into()], 10, 2)
        );
        assert_eq!(split("\"x\"\"\"").unwrap().0, ["x\""]);
    }

    #[test]
    fn quirks_are_marked_and_decline_the_split() {
        for odd in [
            "a\"b;c\n",
            "\"a\"b;c\n",
            "\"abc\n",
            "a;\"b\"\"\n",
            "\"a\" ;b\n",
        ] {
            assert!(quirks(odd).odd_quoting, "{odd:?}");
            assert_eq!(split(odd), Err("odd quoting"), "{odd:?}");
        }
        assert_eq!(
            quirks("\"\";c\n"),
            Quirks {
                empty_quoted: true,
                ..Quirks::default()
            }
        );
        assert_eq!(split("\"\";c\n"), Err("an empty quoted field"));
        assert!(quirks("a\rb;c\n").lone_cr);
        assert!(quirks("a;c\r").lone_cr);
        // Inside quotes a carriage return is a value's.
        assert_eq!(quirks("\"a\rb\";c\n"), Quirks::default());
        assert_eq!(quirks("\"x;\"\"y\";2\r\n"), Quirks::default());
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

    fn source(width: usize) -> Source {
        Source {
            path: PathBuf::new(),
            encoding: encoding_rs::UTF_8,
            delimiter: b';',
            bom: false,
            header: (0..width).map(|c| format!("c{c}")).collect(),
            data_start: 0,
            header_breaks: 1,
            size: 0,
        }
    }

    #[test]
    fn irregular_blocks_give_every_field_and_their_ragged_rows() {
        // Longer than one mask; a blank line, a short and a long record, CRLF, no last line
        // feed.
        let mut lines: Vec<String> = (0..40).map(|i| format!("k{i:02};{i};x")).collect();
        lines[3] = String::new();
        lines[7] = "k07;7".into();
        lines[12] = "k12;12;x;extra".into();
        let text = lines.join("\r\n");
        let mut table = Table::default();
        let (records, text) = super::split(&source(3), text.as_bytes(), &mut table).unwrap();
        assert!(!table.regular);
        assert_eq!(records.rows, 39);
        let ragged: Vec<(usize, usize)> =
            records.ragged.iter().map(|r| (r.row, r.fields)).collect();
        assert_eq!(ragged, [(6, 2), (11, 4)]);
        let rows: Vec<&String> = lines.iter().filter(|l| !l.is_empty()).collect();
        for (row, line) in rows.iter().enumerate() {
            let expected: Vec<&str> = line.split(';').collect();
            for column in 0..3 {
                let want = expected.get(column).copied().filter(|v| !v.is_empty());
                assert_eq!(table.field(&text, row, column), want, "{line}");
            }
        }
        // Line 4 is blank: the records after it start a line later.
        assert_eq!(&records.lines[2..5], [2, 4, 5]);
    }

    #[test]
    fn quoted_blocks_give_every_value_unquoted() {
        let text = "\"a;1\";x\r\n\"b\nc\";\"y\"\"z\"\n;w";
        let mut table = Table::default();
        let (records, values) = super::split(&source(2), text.as_bytes(), &mut table).unwrap();
        assert_eq!(records.rows, 3);
        assert_eq!(records.lines, [0, 1, 3]);
        assert_eq!(records.breaks, 4);
        let column = |c| {
            (0..3)
                .map(|r| table.field(&values, r, c))
                .collect::<Vec<_>>()
        };
        assert_eq!(column(0), [Some("a;1"), Some("b\nc"), None]);
        assert_eq!(column(1), [Some("x"), Some("y\"z"), Some("w")]);
    }

    #[test]
    fn regular_blocks_give_every_field() {
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
            let (records, _) = super::split(&source(3), text.as_bytes(), &mut table).unwrap();
            assert!(table.regular);
            assert_eq!((records.rows, table.count - 1), (300, 900));
            for (r, row) in rows.iter().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    let field = table.field(&text, r, c);
                    assert_eq!(field, Some(value.as_str()).filter(|v| !v.is_empty()));
                }
            }
            // A ragged record or a blank line makes the block irregular.
            for broken in [text.replacen(";x", "", 1), text.replacen(end, "\n\n", 1)] {
                let mut table = Table::default();
                assert!(
                    !table.regular_fields(broken.as_bytes(), b';', 3),
                    "{crlf} {ended}"
                );
            }
        }
    }
}
