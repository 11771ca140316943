//! The SHA-256 of an input file, as the manifest records it.
//!
//! The streaming pass (`validate::stream`) reads a CSV file once, on every core, with a cheap
//! checksum of its bytes (XXH3, [`Checksum`]). The SHA-256 is then taken by [`Sha256::after_pass`]
//! on a thread of its own at idle priority: it reads the file again (from the page cache) while
//! weighting and estimation leave a core free, not while the pass needs both. That thread
//! takes the same checksum, so the SHA-256 is of the very bytes the pass read, or the run fails
//! (`I014`): the file changed in between.

use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use sha2::Digest;

/// Bytes read at a time by the hashing thread.
const CHUNK: usize = 1 << 18;

/// A checksum of bytes read in pieces: XXH3 (64 bits), some 10 GB/s on one core.
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

/// The SHA-256 (lowercase hex) of an input file: known, or being taken on a thread of its own.
/// Clones share it. [`Sha256::get`] waits for it.
#[derive(Clone)]
pub struct Sha256(Arc<State>);

struct State {
    value: OnceLock<Result<String, String>>,
    /// The thread taking it, until someone waits for it.
    job: Mutex<Option<JoinHandle<Result<String, String>>>>,
}

impl Sha256 {
    /// A SHA-256 already taken.
    pub fn known(hex: String) -> Sha256 {
        Sha256(Arc::new(State {
            value: OnceLock::from(Ok(hex)),
            job: Mutex::new(None),
        }))
    }

    /// The SHA-256 of the file at `path`, taken on a thread at idle priority. It is the SHA-256
    /// of bytes whose [`Checksum`] is `checksum`, or an error: the file changed after the pass.
    pub fn after_pass(path: PathBuf, checksum: u64) -> Sha256 {
        let thread = {
            let path = path.clone();
            std::thread::Builder::new()
                .name("peiling-sha256".into())
                .spawn(move || {
                    idle_priority();
                    sha256_of(&path, checksum)
                })
        };
        let (value, job) = match thread {
            Ok(thread) => (OnceLock::new(), Some(thread)),
            // No thread to be had: taken here and now.
            Err(_) => (OnceLock::from(sha256_of(&path, checksum)), None),
        };
        Sha256(Arc::new(State {
            value,
            job: Mutex::new(job),
        }))
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
            match job.map(JoinHandle::join) {
                Some(Ok(value)) => value,
                Some(Err(_)) => Err("the thread hashing it failed".to_string()),
                None => Err("it was not hashed".to_string()),
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

/// The SHA-256 of the file at `path`, if its bytes' [`Checksum`] is `checksum`.
fn sha256_of(path: &std::path::Path, checksum: u64) -> Result<String, String> {
    let (sha256, read) = hash_file(path).map_err(|e| e.to_string())?;
    match read == checksum {
        true => Ok(sha256),
        false => Err("the file changed after it was read".to_string()),
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
    fn a_known_sha256_is_itself() {
        let sha256 = Sha256::known("ab".repeat(32));
        assert_eq!(sha256.get(), Ok("ab".repeat(32).as_str()));
        assert_eq!(sha256, Sha256::known("ab".repeat(32)));
        assert_ne!(sha256, Sha256::default());
    }
}
