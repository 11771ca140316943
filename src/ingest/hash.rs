//! The SHA-256 of an input file, as the manifest records it.
//!
//! The streaming pass (`validate::stream`) reads a CSV file once, on every core, with a cheap
//! checksum of its bytes (XXH3, [`Checksum`]). The SHA-256 is taken on a thread of its own that
//! reads the file again (from the page cache): for `peiling run` after the pass at idle
//! priority ([`Sha256::after_pass`]), while weighting and estimation leave a core free, not
//! while the pass needs both; for `peiling validate`, which has nothing after the pass,
//! beside it from its start ([`Hashing::Beside`]). That thread takes the same checksum, so the
//! SHA-256 is of the very bytes the pass read, or the run fails (`I014`): the file changed in
//! between.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use sha2::Digest;

/// Bytes read at a time by the hashing thread.
const CHUNK: usize = 1 << 18;

/// A checksum of bytes read in pieces: XXH3 (64 bits), a small part of the cost of SHA-256 (0.5%
/// of a 1M run's CPU samples against 6%).
pub struct Checksum(xxhash_rust::xxh3::Xxh3);

impl Checksum {
    pub fn new() -> Checksum {
        Checksum(xxhash_rust::xxh3::Xxh3::new())
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn value(&self) -> u64 {
        self.0.digest()
    }
}

impl Default for Checksum {
    fn default() -> Checksum {
        Checksum::new()
    }
}

/// When a streamed CSV input's SHA-256 is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashing {
    /// After the pass, at idle priority: `peiling run`, whose weighting and estimation leave a
    /// core free while the pass keeps both busy.
    AfterPass,
    /// Beside the pass, from its start, at the usual priority: `peiling validate`, which has
    /// nothing after the pass for the hash to run beside.
    Beside,
}

/// The SHA-256 (lowercase hex) of an input file: known, or being taken on a thread of its own.
/// Clones share it. [`Sha256::get`] waits for it.
#[derive(Clone)]
pub struct Sha256(Arc<State>);

struct State {
    value: OnceLock<Result<String, String>>,
    /// The [`Checksum`] of the bytes the pass read: the hashed bytes must have it.
    expected: OnceLock<u64>,
    /// The thread taking the SHA-256 and the checksum, until someone waits for it; or the file,
    /// when no thread was to be had.
    job: Mutex<Option<Job>>,
}

enum Job {
    Thread(JoinHandle<Result<(String, u64), String>>),
    Here(PathBuf),
}

impl Sha256 {
    /// A SHA-256 already taken.
    pub fn known(hex: String) -> Sha256 {
        Sha256(Arc::new(State {
            value: OnceLock::from(Ok(hex)),
            expected: OnceLock::new(),
            job: Mutex::new(None),
        }))
    }

    /// Starts taking the SHA-256 of the file at `path` on a thread of its own, at idle priority
    /// when `hashing` is [`Hashing::AfterPass`]; [`Sha256::expect`] then says what the pass read.
    pub fn start(path: PathBuf, hashing: Hashing) -> Sha256 {
        let thread = {
            let path = path.clone();
            std::thread::Builder::new()
                .name("peiling-sha256".into())
                .spawn(move || {
                    if hashing == Hashing::AfterPass {
                        idle_priority();
                    }
                    hash_file(&path).map_err(|e| e.to_string())
                })
        };
        let job = match thread {
            Ok(thread) => Job::Thread(thread),
            // No thread to be had: taken when asked for.
            Err(_) => Job::Here(path),
        };
        Sha256(Arc::new(State {
            value: OnceLock::new(),
            expected: OnceLock::new(),
            job: Mutex::new(Some(job)),
        }))
    }

    /// The SHA-256 of the file at `path`, taken on a thread at idle priority. It is the SHA-256
    /// of bytes whose [`Checksum`] is `checksum`, or an error: the file changed after the pass.
    pub fn after_pass(path: PathBuf, checksum: u64) -> Sha256 {
        let sha256 = Sha256::start(path, Hashing::AfterPass);
        sha256.expect(checksum);
        sha256
    }

    /// The [`Checksum`] of the bytes the pass read, which the hashed bytes must have.
    pub fn expect(&self, checksum: u64) {
        let _ = self.0.expected.set(checksum);
    }

    /// The SHA-256, once taken (waits for its thread); why it could not be, otherwise.
    pub fn get(&self) -> Result<&str, &str> {
        let value = self.0.value.get_or_init(|| {
            let job = self
                .0
                .job
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take();
            let (sha256, read) = match job {
                Some(Job::Thread(thread)) => thread
                    .join()
                    .unwrap_or_else(|_| Err("the thread hashing it failed".to_string()))?,
                Some(Job::Here(path)) => hash_file(&path).map_err(|e| e.to_string())?,
                None => return Err("it was not hashed".to_string()),
            };
            match self.0.expected.get() {
                Some(&expected) if expected == read => Ok(sha256),
                Some(_) => Err("the file changed after it was read".to_string()),
                None => Err("no pass read it".to_string()),
            }
        });
        value.as_deref().map_err(String::as_str)
    }
}

impl Default for Sha256 {
    fn default() -> Sha256 {
        Sha256::known(String::new())
    }
}

impl std::fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.value.get() {
            Some(value) => write!(f, "{value:?}"),
            None => f.write_str("(being taken)"),
        }
    }
}

impl PartialEq for Sha256 {
    fn eq(&self, other: &Sha256) -> bool {
        self.get() == other.get()
    }
}

impl serde::Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sha256 = self.get().map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(sha256)
    }
}

/// The SHA-256 (lowercase hex) and the [`Checksum`] of the file at `path`.
fn hash_file(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut sha256 = sha2::Sha256::new();
    let mut checksum = Checksum::new();
    let mut buffer = vec![0; CHUNK];
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        sha256.update(&buffer[..read]);
        checksum.update(&buffer[..read]);
    }
    Ok((format!("{:x}", sha256.finalize()), checksum.value()))
}

/// Puts the calling thread at idle priority (Linux's `SCHED_IDLE`): it runs only on a core no
/// other thread wants. Elsewhere, or when refused, it stays as it is.
fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` only reads `param`; pid 0 is the calling thread.
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wave.csv");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    fn checksum(bytes: &[u8]) -> u64 {
        let mut checksum = Checksum::new();
        // In pieces, as the pass reads: the same as all at once.
        for piece in bytes.chunks(7) {
            checksum.update(piece);
        }
        assert_eq!(checksum.value(), xxhash_rust::xxh3::xxh3_64(bytes));
        checksum.value()
    }

    #[test]
    fn the_sha256_after_the_pass_is_the_files() {
        let bytes: Vec<u8> = (0..3 * CHUNK + 11).map(|i| (i % 251) as u8).collect();
        let (_dir, path) = file(&bytes);
        let sha256 = Sha256::after_pass(path, checksum(&bytes));
        let expected = crate::spec::sha256_hex(&bytes);
        assert_eq!(sha256.get(), Ok(expected.as_str()));
        // Clones share it, and serialize as the text.
        assert_eq!(sha256.clone().get(), Ok(expected.as_str()));
        assert_eq!(
            serde_json::to_string(&sha256).unwrap(),
            format!("\"{expected}\"")
        );
    }

    #[test]
    fn a_file_changed_after_the_pass_has_no_sha256() {
        let (_dir, path) = file(b"id;x\na;1\n");
        let sha256 = Sha256::after_pass(path.clone(), checksum(b"id;x\nb;1\n"));
        assert_eq!(sha256.get(), Err("the file changed after it was read"));
        assert!(serde_json::to_string(&sha256).is_err());
        std::fs::remove_file(&path).unwrap();
        let gone = Sha256::after_pass(path, checksum(b"id;x\na;1\n"));
        assert!(gone.get().is_err());
    }

    #[test]
    fn a_sha256_taken_beside_the_pass_is_the_files_once_the_pass_says_what_it_read() {
        let bytes = b"id;x\na;1\nb;2\n";
        let (_dir, path) = file(bytes);
        let sha256 = Sha256::start(path.clone(), Hashing::Beside);
        sha256.expect(checksum(bytes));
        assert_eq!(sha256.get(), Ok(crate::spec::sha256_hex(bytes).as_str()));
        // Never told what the pass read: no SHA-256 to vouch for.
        let unchecked = Sha256::start(path, Hashing::Beside);
        assert_eq!(unchecked.get(), Err("no pass read it"));
    }

    #[test]
    fn a_known_sha256_is_itself() {
        let sha256 = Sha256::known("ab".repeat(32));
        assert_eq!(sha256.get(), Ok("ab".repeat(32).as_str()));
        assert_eq!(sha256, Sha256::known("ab".repeat(32)));
        assert_ne!(sha256, Sha256::default());
    }
}
