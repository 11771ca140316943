//! The output folder: peiling replaces a folder only if it wrote every file in it.
//!
//! A run [`claim`]s its output folder before any work:
//! 1. it takes a lock next to the folder (`.<name>.lock`), so two runs never write the same
//!    folder at once (the second exits 1 naming the lock);
//! 2. it cleans up what a killed run left next to the folder (`.<name>.tmp-<pid>`,
//!    `.<name>.old-<pid>`), but only folders that carry peiling's marker;
//! 3. it checks that an existing folder is peiling's: the marker [`MARKER`] lists every file a
//!    run wrote with its size and SHA-256, and any other file, or a listed file changed since,
//!    stops the run with nothing changed. An empty folder is fine.
//!
//! [`Claim::write`] then writes into a temporary sibling folder, the marker first, and swaps it
//! in only when every file is written; the check is made again just before the swap.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diag::{catalog, Diagnostic, Failure, Place};

/// The marker file at the root of every folder peiling writes.
pub const MARKER: &str = ".peiling-output.json";

/// Files an operating system's file browser leaves in any folder it shows; they are not the
/// user's data and never stop a run (macOS Finder, Windows Explorer).
const BROWSER_LITTER: [&str; 3] = [".DS_Store", "Thumbs.db", "desktop.ini"];

/// How many of the files that would be lost an error names.
const NAMED: usize = 5;

/// The marker's content.
#[derive(Debug, Serialize, Deserialize)]
struct Marker {
    /// Always "peiling": what wrote the folder.
    written_by: String,
    peiling_version: String,
    /// Every file written, by its path relative to the folder (`/`-separated); `None` while
    /// the run is still writing (a temporary folder).
    files: Option<BTreeMap<String, FileStamp>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    bytes: u64,
    sha256: String,
    /// Which file this was when it was written ([`fingerprint`]), on Unix: while the file
    /// still has it, its content is the one hashed, and it is not read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    unchanged_since: Option<String>,
}

impl Marker {
    fn new(files: Option<BTreeMap<String, FileStamp>>) -> Self {
        Marker {
            written_by: "peiling".to_string(),
            peiling_version: env!("CARGO_PKG_VERSION").to_string(),
            files,
        }
    }

    /// The marker of `dir`, if it has one that peiling wrote.
    fn read(dir: &Path) -> Option<Marker> {
        let text = fs::read_to_string(dir.join(MARKER)).ok()?;
        let marker: Marker = serde_json::from_str(&text).ok()?;
        (marker.written_by == "peiling").then_some(marker)
    }

    fn write(&self, dir: &Path) -> Result<(), Failure> {
        let path = dir.join(MARKER);
        let json = serde_json::to_string_pretty(self).map_err(|e| io_failure(&path, e))?;
        fs::write(&path, json + "\n").map_err(|e| io_failure(&path, e))
    }
}

fn io_failure(path: &Path, error: impl std::fmt::Display) -> Failure {
    Failure::internal(
        Diagnostic::error(catalog::O001, format!("cannot write {}", path.display()))
            .caused_by(error),
    )
}

/// The right to write one output folder, held from before the run's first step to its end.
#[derive(Debug)]
pub struct Claim {
    out: PathBuf,
    parent: PathBuf,
    name: String,
    _lock: Lock,
}

/// Takes the output folder `out` for this run: locks it, cleans up after a killed run and checks
/// that an existing folder holds only what peiling wrote. Fails (exit 1) with nothing changed
/// when the folder is another run's or holds files of the user's.
pub fn claim(out: &Path) -> Result<Claim, Failure> {
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Failure::from(Diagnostic::error(
                catalog::O004,
                format!(
                    "the output folder {} has no usable name: name a folder such as output/run1",
                    out.display()
                ),
            ))
        })?
        .to_string();
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    check_kind(out)?;
    fs::create_dir_all(&parent).map_err(|e| io_failure(&parent, e))?;
    let lock = Lock::take(&parent.join(format!(".{name}.lock")), out)?;
    let claim = Claim {
        out: out.to_path_buf(),
        parent,
        name,
        _lock: lock,
    };
    claim.clean_leftovers()?;
    check_owned(out)?;
    Ok(claim)
}

impl Claim {
    /// Writes the outputs with `write_files` into a temporary sibling folder and swaps it in for
    /// the output folder once every file is written. On failure the temporary folder is removed
    /// and the output folder is as it was.
    ///
    /// `write_files` returns the files it hashed as it wrote them ([`Hashed`]): the marker
    /// takes their hashes instead of reading them again.
    pub fn write(
        &self,
        write_files: impl FnOnce(&Path) -> Result<Hashed, Failure>,
    ) -> Result<(), Failure> {
        let staging = self.sibling("tmp");
        let result = self.stage(&staging, write_files).and_then(|()| {
            // The folder may have changed during the run: checked again just before the swap.
            check_kind(&self.out)?;
            check_owned(&self.out)?;
            self.replace_with(&staging)
        });
        if result.is_err() && staging.exists() {
            let _ = fs::remove_dir_all(&staging);
        }
        result
    }

    fn stage(
        &self,
        staging: &Path,
        write_files: impl FnOnce(&Path) -> Result<Hashed, Failure>,
    ) -> Result<(), Failure> {
        fs::create_dir(staging).map_err(|e| io_failure(staging, e))?;
        // The marker comes first, so that a killed run's leftover is recognisably peiling's.
        Marker::new(None).write(staging)?;
        fs::create_dir(staging.join("private")).map_err(|e| io_failure(staging, e))?;
        let hashed = write_files(staging)?;
        let files = inventory(staging, &hashed).map_err(|e| io_failure(staging, e))?;
        Marker::new(Some(files)).write(staging)
    }

    /// `.<name>.<what>-<pid>` next to the output folder.
    fn sibling(&self, what: &str) -> PathBuf {
        self.parent
            .join(format!(".{}.{what}-{}", self.name, std::process::id()))
    }

    /// Moves the finished staging folder into place; an earlier output is moved aside first and
    /// removed last, so a run killed in between leaves it to be restored by the next run.
    fn replace_with(&self, staging: &Path) -> Result<(), Failure> {
        if !self.out.exists() {
            return fs::rename(staging, &self.out).map_err(|e| io_failure(&self.out, e));
        }
        let old = self.sibling("old");
        fs::rename(&self.out, &old).map_err(|e| io_failure(&self.out, e))?;
        if let Err(e) = fs::rename(staging, &self.out) {
            let _ = fs::rename(&old, &self.out);
            return Err(io_failure(&self.out, e));
        }
        let _ = fs::remove_dir_all(&old);
        Ok(())
    }

    /// Removes the temporary folders of killed runs into this output folder, and restores an
    /// earlier output a killed run had moved aside without putting the new one in its place.
    /// Folders without peiling's marker are left alone. Runs under the lock, so no live run's
    /// folder is touched.
    fn clean_leftovers(&self) -> Result<(), Failure> {
        let Ok(entries) = fs::read_dir(&self.parent) else {
            return Ok(());
        };
        let mut leftovers: Vec<(bool, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let rest = name.strip_prefix(&format!(".{}.", self.name))?;
                let old = if rest.starts_with("old-") {
                    true
                } else if rest.starts_with("tmp-") {
                    false
                } else {
                    return None;
                };
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                (is_dir && Marker::read(&e.path()).is_some()).then(|| (old, e.path()))
            })
            .collect();
        leftovers.sort();
        for (old, path) in leftovers {
            if old && !self.out.exists() {
                fs::rename(&path, &self.out).map_err(|e| io_failure(&self.out, e))?;
            } else {
                fs::remove_dir_all(&path).map_err(|e| io_failure(&path, e))?;
            }
        }
        Ok(())
    }
}

/// The output path must be a folder (or nothing yet), and not a link to one: replacing a link
/// would lose it.
fn check_kind(out: &Path) -> Result<(), Failure> {
    let Ok(meta) = fs::symlink_metadata(out) else {
        return Ok(());
    };
    let what = if meta.file_type().is_symlink() {
        "a symbolic link"
    } else if !meta.is_dir() {
        "a file"
    } else {
        return Ok(());
    };
    Err(Diagnostic::error(
        catalog::O004,
        format!(
            "the output path {} is {what}, not a folder; nothing was changed",
            out.display()
        ),
    )
    .caused_by("choose another folder with --out, or with `dir` in the pipeline's [output]")
    .into())
}

/// Fails unless `out` is absent, empty, or holds only the files its marker lists, unchanged.
fn check_owned(out: &Path) -> Result<(), Failure> {
    if !out.exists() {
        return Ok(());
    }
    let listed = Marker::read(out).and_then(|m| m.files).unwrap_or_default();
    let found = files_under(out).map_err(|e| {
        Failure::from(
            Diagnostic::error(
                catalog::O005,
                format!("cannot read the output folder {}", out.display()),
            )
            .caused_by(e),
        )
    })?;
    let mut foreign: Vec<String> = found
        .par_iter()
        .filter(|(relative, _)| {
            relative != MARKER && !is_litter(relative) && !is_peilings(out, relative, &listed)
        })
        .map(|(relative, _)| relative.clone())
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let more = foreign.len().saturating_sub(NAMED);
    let mut named = foreign[..foreign.len().min(NAMED)].join(", ");
    if more > 0 {
        named.push_str(&format!(" and {more} more"));
    }
    let what = if listed.is_empty() {
        "is not a peiling output folder".to_string()
    } else {
        "holds files peiling did not write (or that changed since)".to_string()
    };
    Err(Diagnostic::error(
        catalog::O002,
        format!(
            "the output folder {} {what}: a run would replace it and lose {named}; nothing was changed",
            out.display()
        ),
    )
    .caused_by(
        "choose another folder with --out, or with `dir` in the pipeline's [output]; \
         peiling replaces only an empty folder or one it wrote",
    )
    .into())
}

fn is_litter(relative: &str) -> bool {
    let name = relative.rsplit('/').next().unwrap_or(relative);
    BROWSER_LITTER.contains(&name)
}

/// Whether the file is listed in the marker with its size and hash as they are now.
fn is_peilings(out: &Path, relative: &str, listed: &BTreeMap<String, FileStamp>) -> bool {
    let Some(stamp) = listed.get(relative) else {
        return false;
    };
    let path = out.join(relative);
    let unchanged = stamp.unchanged_since.as_ref().is_some_and(|then| {
        fs::symlink_metadata(&path).is_ok_and(|meta| fingerprint(&meta).as_ref() == Some(then))
    });
    unchanged
        || stamp_of(&path).is_ok_and(|now| now.bytes == stamp.bytes && now.sha256 == stamp.sha256)
}

/// Every file (and link, and anything else that is not a folder) under `dir`, by its
/// `/`-separated path relative to `dir`, with whether it is a regular file.
fn files_under(dir: &Path) -> std::io::Result<Vec<(String, bool)>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(dir.join(&relative))? {
            let entry = entry?;
            let path = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else {
                let name = path
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                files.push((name, kind.is_file()));
            }
        }
    }
    Ok(files)
}

/// Files of an output folder that their writer hashed as it wrote them (the largest: a file
/// read again only to be hashed is read from the page cache at about 1.6 GB/s, on one thread
/// while the run has nothing else to do).
#[derive(Debug, Default)]
pub struct Hashed {
    /// Size and SHA-256 (lowercase hex) by path relative to the folder, `/`-separated.
    files: BTreeMap<String, (u64, String)>,
}

impl Hashed {
    /// `relative` (`/`-separated) was written as `bytes` bytes with SHA-256 `sha256`.
    pub fn add(&mut self, relative: &str, bytes: u64, sha256: String) {
        self.files.insert(relative.to_string(), (bytes, sha256));
    }
}

/// Size and SHA-256 of every file a run wrote into `dir`, in parallel: as `hashed` gives them
/// for a file of that size, else read.
fn inventory(dir: &Path, hashed: &Hashed) -> std::io::Result<BTreeMap<String, FileStamp>> {
    files_under(dir)?
        .into_par_iter()
        .filter(|(relative, _)| relative != MARKER)
        .map(|(relative, _)| {
            let path = dir.join(&relative);
            let stamp = match hashed.files.get(&relative) {
                Some((bytes, sha256)) => {
                    let meta = fs::symlink_metadata(&path)?;
                    match meta.is_file() && meta.len() == *bytes {
                        true => FileStamp {
                            bytes: *bytes,
                            sha256: sha256.clone(),
                            unchanged_since: fingerprint(&meta),
                        },
                        false => stamp_of(&path)?,
                    }
                }
                None => stamp_of(&path)?,
            };
            Ok((relative, stamp))
        })
        .collect()
}

fn stamp_of(path: &Path) -> std::io::Result<FileStamp> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(FileStamp {
        bytes: meta.len(),
        sha256: hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        unchanged_since: fingerprint(&meta),
    })
}

/// A regular file's device, inode, size, and modification and change times to the
/// nanosecond. The change time is the kernel's: every write moves it and no program can set
/// it back (a modification time can be), so a file with the same fingerprint holds the same
/// bytes. A copy, a restore from backup or another file system gives another fingerprint, and
/// the file is hashed. `None` off Unix.
#[cfg(unix)]
fn fingerprint(meta: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    meta.is_file().then(|| {
        format!(
            "{}:{}:{}:{}.{:09}:{}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec()
        )
    })
}

#[cfg(not(unix))]
fn fingerprint(_meta: &fs::Metadata) -> Option<String> {
    None
}

/// Fails (exit 1, `G002`) when `path` exists and `force` is not given: a file is never
/// overwritten by surprise. Check every file of a command before writing the first.
pub fn refuse_existing(path: &Path, force: bool) -> Result<(), Failure> {
    if force || fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    Err(Diagnostic::error(
        catalog::G002,
        format!("{} exists; nothing was written", path.display()),
    )
    .caused_by("choose another file name, or pass --force to replace it")
    .into())
}

/// Writes a file whole or not at all: into a temporary sibling first, renamed into place once
/// written (replacing an existing file, which [`refuse_existing`] has allowed).
pub fn write_file(
    path: &Path,
    write: impl FnOnce(File) -> std::io::Result<()>,
) -> Result<(), Failure> {
    let failure = |e: std::io::Error| {
        Failure::from(
            Diagnostic::error(catalog::G001, format!("cannot write {}", path.display()))
                .caused_by(e),
        )
    };
    if fs::metadata(path).is_ok_and(|m| m.is_dir()) {
        return Err(failure(std::io::Error::other("it is a folder")));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temporary = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = File::create(&temporary)
        .and_then(write)
        .and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.map_err(failure)
}

/// An exclusive lock on a file next to the output folder, released (and the file removed) when
/// dropped. The operating system releases it when a killed process ends, so a lock is never
/// stale.
#[derive(Debug)]
struct Lock {
    path: PathBuf,
    file: File,
}

impl Lock {
    fn take(path: &Path, out: &Path) -> Result<Lock, Failure> {
        loop {
            let file = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(path)
                .map_err(|e| io_failure(path, e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(Diagnostic::error(
                        catalog::O003,
                        format!(
                            "another peiling run is writing the output folder {}; nothing was changed",
                            out.display()
                        ),
                    )
                    .at(Place::file(path.display()))
                    .caused_by(
                        "wait for it to finish, or choose another folder with --out; the lock \
                         is released when that run ends",
                    )
                    .into());
                }
                Err(fs::TryLockError::Error(e)) => return Err(io_failure(path, e)),
            }
            // A run that just finished may have removed the file we opened: lock the one that
            // is there now.
            if same_file(&file, path) {
                return Ok(Lock {
                    path: path.to_path_buf(),
                    file,
                });
            }
        }
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Removed while still held, so a run that opens it afterwards sees another file.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn a_written_folder_is_peilings_until_a_file_is_added_or_changed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        claim(&out)
            .unwrap()
            .write(|d| {
                write(&d.join("estimates.parquet"), "e");
                write(&d.join("private/rejects.parquet"), "r");
                Ok(Hashed::default())
            })
            .unwrap();
        assert!(check_owned(&out).is_ok());
        write(&out.join(".DS_Store"), "finder");
        assert!(check_owned(&out).is_ok());

        write(&out.join("private/rejects.parquet"), "edited");
        let failure = check_owned(&out).unwrap_err();
        assert!(failure.to_string().contains("private/rejects.parquet"));
        write(&out.join("private/rejects.parquet"), "r");
        write(&out.join("notes/thesis.docx"), "mine");
        let failure = check_owned(&out).unwrap_err();
        assert!(
            failure.to_string().contains("notes/thesis.docx"),
            "{failure}"
        );
    }

    /// A file is taken unread for peiling's while it is the very file the marker describes;
    /// an edit of the same size with the modification time set back is still seen (the change
    /// time moves), and a file only touched is hashed and found unchanged.
    #[cfg(unix)]
    #[test]
    fn an_unchanged_file_is_not_read_again_but_a_disguised_edit_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        claim(&out)
            .unwrap()
            .write(|d| {
                write(&d.join("report.html"), "<p>12,5%</p>");
                write(&d.join("private/rejects.parquet"), "r");
                Ok(Hashed::default())
            })
            .unwrap();
        let marker = Marker::read(&out).unwrap();
        let files = marker.files.unwrap();
        let report = &files["report.html"];
        let meta = fs::symlink_metadata(out.join("report.html")).unwrap();
        assert_eq!(report.unchanged_since, fingerprint(&meta));
        assert!(report.unchanged_since.is_some());
        assert!(check_owned(&out).is_ok());

        // Touched only: another fingerprint, the same bytes.
        let touched = fs::File::options()
            .write(true)
            .open(out.join("report.html"))
            .unwrap();
        touched
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert!(check_owned(&out).is_ok());

        // Edited to the same size, with the old modification time put back.
        let modified = meta.modified().unwrap();
        write(&out.join("report.html"), "<p>99,9%</p>");
        let edited = fs::File::options()
            .write(true)
            .open(out.join("report.html"))
            .unwrap();
        edited.set_modified(modified).unwrap();
        let now = fs::symlink_metadata(out.join("report.html")).unwrap();
        assert_eq!((now.len(), now.modified().unwrap()), (meta.len(), modified));
        let failure = check_owned(&out).unwrap_err();
        assert!(failure.to_string().contains("report.html"), "{failure}");
    }

    /// A file its writer hashed is listed with that hash, unread; one whose size is not the
    /// size hashed is read and hashed.
    #[test]
    fn a_file_hashed_as_written_is_listed_unread_unless_its_size_differs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        claim(&out)
            .unwrap()
            .write(|d| {
                write(&d.join("private/respondents.parquet"), "rows");
                write(&d.join("estimates.parquet"), "e");
                let mut hashed = Hashed::default();
                // A made-up hash, to tell it from one read.
                hashed.add("private/respondents.parquet", 4, "ab".repeat(32));
                hashed.add("estimates.parquet", 9, "cd".repeat(32));
                Ok(hashed)
            })
            .unwrap();
        let files = Marker::read(&out).unwrap().files.unwrap();
        assert_eq!(files["private/respondents.parquet"].sha256, "ab".repeat(32));
        assert_eq!(files["private/respondents.parquet"].bytes, 4);
        assert_eq!(
            files["estimates.parquet"].sha256,
            crate::spec::sha256_hex(b"e")
        );
    }

    #[test]
    fn a_folder_without_a_marker_is_not_peilings_and_an_empty_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_owned(dir.path()).is_ok());
        write(&dir.path().join("empty/sub/.keep"), "");
        fs::remove_file(dir.path().join("empty/sub/.keep")).unwrap();
        assert!(check_owned(dir.path()).is_ok());
        write(&dir.path().join("manifest.json"), "{}");
        let failure = check_owned(dir.path()).unwrap_err();
        assert!(failure
            .to_string()
            .contains("is not a peiling output folder"));
        // A marker another program wrote does not count.
        write(
            &dir.path().join(MARKER),
            r#"{"written_by": "someone", "files": {}}"#,
        );
        assert!(check_owned(dir.path()).is_err());
    }

    #[test]
    fn a_second_claim_fails_while_the_first_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let first = claim(&out).unwrap();
        let failure = claim(&out).unwrap_err();
        assert_eq!(failure.diagnostics[0].code, "O003");
        drop(first);
        assert!(claim(&out).is_ok());
        // No lock file is left behind.
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty());
    }
}
