//! A CSV file's dialect: its encoding and its delimiter. One decoder for both CSV readers, the
//! text path ([`super::read_bytes`]) and the streaming pass (`validate::stream`).

use std::borrow::Cow;

use encoding_rs::Encoding;

/// Text that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undecodable {
    /// Not UTF-8 (another encoding may fit, if none was given).
    NotUtf8,
    /// Not valid in the given single-byte or other encoding.
    Invalid(&'static Encoding),
}

impl Undecodable {
    /// For the user: what the file is not, and what to do.
    pub fn message(self) -> String {
        let encoding = match self {
            Undecodable::NotUtf8 => encoding_rs::UTF_8,
            Undecodable::Invalid(encoding) => encoding,
        };
        format!(
            "the file is not valid {} text; set `encoding` in the [[input]] if it is another",
            encoding.name()
        )
    }
}

/// Decodes bytes in `encoding`, without BOM handling: UTF-8 is borrowed as it is, validated
/// once. Pieces of a file must start and end at record boundaries.
pub fn decode<'t>(
    bytes: &'t [u8],
    encoding: &'static Encoding,
) -> Result<Cow<'t, str>, Undecodable> {
    if encoding == encoding_rs::UTF_8 {
        return std::str::from_utf8(bytes)
            .map(Cow::Borrowed)
            .map_err(|_| Undecodable::NotUtf8);
    }
    let (text, had_errors) = encoding.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(Undecodable::Invalid(encoding));
    }
    Ok(text)
}

/// A whole file: the BOM stripped, then the given encoding, or UTF-8 when valid, else
/// Windows-1252. Returns the text, the encoding and whether a BOM was stripped.
pub fn decode_file<'t>(
    bytes: &'t [u8],
    given: Option<&'static Encoding>,
) -> Result<(Cow<'t, str>, &'static Encoding, bool), Undecodable> {
    let (bom, body) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (true, rest),
        None => (false, bytes),
    };
    let encoding = given.unwrap_or(encoding_rs::UTF_8);
    match decode(body, encoding) {
        Err(Undecodable::NotUtf8) if given.is_none() => decode(body, encoding_rs::WINDOWS_1252)
            .map(|text| (text, encoding_rs::WINDOWS_1252, bom)),
        decoded => decoded.map(|text| (text, encoding, bom)),
    }
}

/// The most frequent of `;`, `,`, tab and `|` outside quotes in the header line; `,` if none.
pub fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let mut counts = [(b';', 0usize), (b',', 0), (b'\t', 0), (b'|', 0)];
    let mut quoted = false;
    for byte in header.bytes() {
        if byte == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (candidate, count) in counts.iter_mut() {
                if byte == *candidate {
                    *count += 1;
                }
            }
        }
    }
    // Ties keep the earlier candidate: `;` first, the Dutch default.
    let mut best = (b',', 0);
    for (candidate, count) in counts {
        if count > best.1 {
            best = (candidate, count);
        }
    }
    best.0
}
