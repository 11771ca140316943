//! A CSV file read in blocks of whole records, for the streaming pass (`validate::stream`).
//!
//! [`Source::open`] reads the header record and says how the file is written; [`Blocks`] then
//! hands out the data records a block at a time, each at least [`BLOCK`] bytes and cut after
//! its last record, in file order, with a [`Checksum`] of the file's bytes as it reads them (the
//! SHA-256 is taken after the pass: see `ingest::hash`). Where a record ends
//! honours quotes: a quoted line break is inside a record.
//!
//! Every function here answers [`Stop::Decline`] for a file it does not take (see
//! `validate::stream` for the list), and the text path ([`super::read_bytes`]) reads it then.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::dialect::{decode, sniff_delimiter, Undecodable};
use super::fields::split_record;
use crate::ingest::hash::Checksum;

/// Bytes read at a time.
pub const BLOCK: usize = 1 << 18;
/// A record longer than this (a file without line breaks, an unclosed quote) is left to the
/// text path.
pub const MAX_RECORD: usize = 64 << 20;

/// Why the streaming pass stopped; the text path then reads the file.
#[derive(Debug)]
pub enum Stop {
    /// The file is not for the streaming pass.
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

/// How a CSV file is written, from its header record.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub encoding: &'static encoding_rs::Encoding,
    pub delimiter: u8,
    pub bom: bool,
    /// The header's names.
    pub header: Vec<String>,
    /// Bytes of the header record, BOM included: where the data start.
    pub data_start: usize,
    /// Line breaks in the header record, its own included.
    pub header_breaks: u32,
    /// Bytes in the file.
    pub size: u64,
}

impl Source {
    /// Reads the header record of `path` in `encoding`: the names, and the delimiter when it is
    /// not given (sniffed from the header line).
    pub fn open(
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

    /// The header column named `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|n| n == name)
    }
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

/// The data records of a file, a block of whole records at a time, in file order, and the
/// [`Checksum`] of the file's bytes, taken as they are read.
pub struct Blocks {
    file: std::fs::File,
    checksum: Checksum,
    /// Bytes read past the last block handed out: the start of the next record.
    rest: Vec<u8>,
    eof: bool,
    size: usize,
    /// Blocks handed out so far.
    pub taken: usize,
}

impl Blocks {
    /// The data records of `source`, in blocks of at least `size` bytes.
    pub fn open(source: &Source, size: usize) -> Result<Blocks, Stop> {
        let mut file = std::fs::File::open(&source.path)?;
        let mut checksum = Checksum::new();
        let mut header = vec![0u8; source.data_start];
        file.read_exact(&mut header)?;
        checksum.update(&header);
        Ok(Blocks {
            file,
            checksum,
            rest: Vec::new(),
            eof: false,
            size,
            taken: 0,
        })
    }

    /// Fills `block` with the next block of whole records: at least `size` bytes up to the
    /// last record end in them (or the rest of the file). Returns the block's index, `None`
    /// when none is left.
    pub fn next(&mut self, block: &mut Vec<u8>) -> Result<Option<usize>, Stop> {
        block.clear();
        block.append(&mut self.rest);
        let cut = loop {
            if self.eof {
                break block.len();
            }
            if block.len() >= self.size {
                if let Some(cut) = last_record_end(block) {
                    break cut;
                }
                if block.len() > MAX_RECORD {
                    return Err(Stop::Decline("a record longer than the limit"));
                }
            }
            let before = block.len();
            (&mut self.file).take(self.size as u64).read_to_end(block)?;
            self.checksum.update(&block[before..]);
            self.eof = block.len() - before < self.size;
        };
        self.rest.extend_from_slice(&block[cut..]);
        block.truncate(cut);
        if block.is_empty() {
            return Ok(None);
        }
        self.taken += 1;
        Ok(Some(self.taken - 1))
    }

    /// The checksum of the file's bytes, once every block is read.
    pub fn finish(self) -> u64 {
        self.checksum.value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_end_after_a_record() {
        assert_eq!(last_record_end(b"1;a\n2;b\n3"), Some(8));
        // A quoted line break is not a record end.
        assert_eq!(last_record_end(b"1;\"a\nb"), None);
        assert_eq!(last_record_end(b"1;a\n2;\"b\nc\"\n3"), Some(12));
        assert_eq!(record_end(b"\"a\nb\";c\nd"), Some(8));
        assert_eq!(record_end(b"\"a\nb"), None);
    }

    #[test]
    fn blocks_hold_whole_records_and_check_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wave.csv");
        let mut text = String::from("id;tekst\n");
        for i in 0..200 {
            text.push_str(&format!("{i};\"regel\n{i}\"\n"));
        }
        std::fs::write(&path, &text).unwrap();
        let source = Source::open(&path, encoding_rs::UTF_8, None).unwrap();
        assert_eq!(source.header, ["id", "tekst"]);
        assert_eq!(source.delimiter, b';');
        assert_eq!(source.data_start, 9);
        let mut blocks = Blocks::open(&source, 64).unwrap();
        let mut block = Vec::new();
        let mut read = source.data_start;
        while let Some(index) = blocks.next(&mut block).unwrap() {
            assert_eq!(index + 1, blocks.taken);
            // Every block is whole records: an even number of quotes, ending a record.
            assert_eq!(block.iter().filter(|&&b| b == b'"').count() % 2, 0);
            assert!(block.ends_with(b"\"\n"));
            read += block.len();
        }
        assert_eq!(read, text.len());
        assert_eq!(blocks.finish(), xxhash_rust::xxh3::xxh3_64(text.as_bytes()));
    }
}
