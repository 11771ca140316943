//! A run never destroys what it did not write: the output folder is replaced only when peiling
//! wrote it, never when it holds the run's inputs, and never by two runs at once; `generate`
//! never overwrites a file without `--force`. Each test hashes every file before and after and
//! checks that what the command did not write is byte for byte as it was.
//! These tests drive the binary only.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn peiling() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("peiling").unwrap()
}

/// Every file under `dir` (recursively, hidden ones too) by its relative path, with its SHA-256.
fn hashes(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let digest = Sha256::digest(fs::read(&path).unwrap()).to_vec();
                found.insert(path.strip_prefix(dir).unwrap().to_path_buf(), digest);
            }
        }
    }
    found
}

/// `hashes` without the files under `skip` (relative to the same root).
fn hashes_outside(dir: &Path, skip: &str) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = hashes(dir);
    found.retain(|path, _| !path.starts_with(skip));
    found
}

/// A project of its own in a scratch folder: the sample pipeline, its schema, waves, margins
/// and standard population, laid out as in the repository (`pipelines/`, `schemas/`, `sample-data/`).
fn scratch_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "pipelines/dementiemonitor.toml",
        "schemas/dementiemonitor.schema.toml",
        "sample-data/dementiemonitor-2020.csv",
        "sample-data/dementiemonitor-2022.csv",
        "sample-data/dementiemonitor-2024.csv",
        "sample-data/margins/dementiemonitor-2020.csv",
        "sample-data/margins/dementiemonitor-2022.csv",
        "sample-data/margins/dementiemonitor-2024.csv",
        "sample-data/standard/mantelzorgers-leeftijd.csv",
    ] {
        let to = dir.path().join(file);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(root().join(file), to).unwrap();
    }
    // A thesis draft and notes of the user's, beside the project's files.
    fs::write(dir.path().join("sample-data/README.txt"), "the raw exports").unwrap();
    dir
}

/// Runs `peiling <command> pipelines/dementiemonitor.toml --quiet --out <out>` in `project`.
fn run_into(project: &Path, command: &str, out: &str) -> Output {
    peiling()
        .current_dir(project)
        .args([
            command,
            "pipelines/dementiemonitor.toml",
            "--quiet",
            "--out",
            out,
        ])
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn assert_refused(output: &Output, code: &str) -> String {
    let stderr = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("error[{code}]")), "{stderr}");
    stderr
}

/// The hidden files next to an output folder: temporary folders, old outputs, locks.
fn leftovers(parent: &Path) -> Vec<String> {
    fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.starts_with('.'))
        .collect()
}

#[test]
fn a_folder_of_the_users_is_never_replaced() {
    let project = scratch_project();
    let precious = project.path().join("precious");
    fs::create_dir_all(precious.join("hoofdstukken")).unwrap();
    fs::write(precious.join("thesis.docx"), "four years of work").unwrap();
    fs::write(precious.join("hoofdstukken/1.md"), "inleiding").unwrap();
    let before = hashes(project.path());

    for command in ["run", "validate"] {
        let output = run_into(project.path(), command, "precious");
        let stderr = assert_refused(&output, "O002");
        assert!(stderr.contains("precious"), "{stderr}");
        assert!(stderr.contains("thesis.docx"), "{stderr}");
        assert!(stderr.contains("hoofdstukken/1.md"), "{stderr}");
        assert_eq!(hashes(project.path()), before, "{command} changed a file");
    }
}

#[test]
fn a_peiling_output_is_replaced_but_not_once_the_user_added_or_changed_a_file() {
    let project = scratch_project();
    let out = project.path().join("out");
    assert!(run_into(project.path(), "run", "out").status.success());
    assert!(out.join("estimates.parquet").is_file());
    // A second run replaces its own output, and a validation run may replace it too.
    let before = hashes_outside(project.path(), "out");
    assert!(run_into(project.path(), "run", "out").status.success());
    assert!(run_into(project.path(), "validate", "out").status.success());
    assert!(run_into(project.path(), "run", "out").status.success());
    assert_eq!(hashes_outside(project.path(), "out"), before);
    assert_eq!(leftovers(project.path()), Vec::<String>::new());

    // The user writes a note into the output folder: it would be lost, so the run stops.
    fs::write(out.join("charts/mijn-notities.txt"), "belangrijk").unwrap();
    let before = hashes(project.path());
    let stderr = assert_refused(&run_into(project.path(), "run", "out"), "O002");
    assert!(stderr.contains("charts/mijn-notities.txt"), "{stderr}");
    assert_eq!(hashes(project.path()), before);

    // The user edits the report peiling wrote: the edit would be lost too.
    fs::remove_file(out.join("charts/mijn-notities.txt")).unwrap();
    fs::write(out.join("report.html"), "<p>my edits</p>").unwrap();
    let before = hashes(project.path());
    let stderr = assert_refused(&run_into(project.path(), "run", "out"), "O002");
    assert!(stderr.contains("report.html"), "{stderr}");
    assert_eq!(hashes(project.path()), before);
}

#[test]
fn an_empty_folder_is_fine_and_a_file_or_link_is_not_a_folder() {
    let project = scratch_project();
    fs::create_dir(project.path().join("leeg")).unwrap();
    assert!(run_into(project.path(), "validate", "leeg")
        .status
        .success());
    assert!(project.path().join("leeg/manifest.json").is_file());

    fs::write(project.path().join("rapport.txt"), "mine").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(project.path().join("leeg"), project.path().join("link")).unwrap();
    let before = hashes(project.path());
    assert_refused(&run_into(project.path(), "validate", "rapport.txt"), "O004");
    #[cfg(unix)]
    assert_refused(&run_into(project.path(), "validate", "link"), "O004");
    assert_eq!(hashes(project.path()), before);
}

#[test]
fn the_output_folder_is_never_a_folder_the_run_reads_nor_the_current_directory() {
    let project = scratch_project();
    let before = hashes(project.path());
    for (out, names) in [
        // The folder of the waves (and, below it, of the margins).
        (
            "sample-data",
            vec!["input", "sample-data/dementiemonitor-2020.csv"],
        ),
        (
            "sample-data/margins",
            vec!["margins file", "dementiemonitor-2020.csv"],
        ),
        (
            "sample-data/standard",
            vec!["standard population", "mantelzorgers-leeftijd.csv"],
        ),
        ("schemas", vec!["schema", "dementiemonitor.schema.toml"]),
        ("pipelines", vec!["pipeline file", "dementiemonitor.toml"]),
        // The current directory, and a folder that contains it.
        (".", vec!["current directory"]),
        ("..", vec!["current directory"]),
    ] {
        for command in ["run", "validate"] {
            let output = run_into(project.path(), command, out);
            let stderr = assert_refused(&output, "S050");
            assert!(
                stderr.contains(&format!("output folder {out} ")),
                "{stderr}"
            );
            for name in &names {
                assert!(stderr.contains(name), "{out}: {stderr}");
            }
        }
    }
    // Named by another path to the same folder, from somewhere else.
    let elsewhere = tempfile::tempdir().unwrap();
    let output = peiling()
        .current_dir(elsewhere.path())
        .arg("run")
        .arg(project.path().join("pipelines/dementiemonitor.toml"))
        .arg("--out")
        .arg(project.path().join("pipelines/../sample-data/./"))
        .output()
        .unwrap();
    assert_refused(&output, "S050");
    assert_eq!(hashes(project.path()), before);
}

#[test]
fn generate_never_overwrites_a_file_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.csv");
    let margins = dir.path().join("margins.csv");
    fs::write(&real, "respondent_id;echte_data\n1;2\n").unwrap();
    let generate = |extra: &[&str]| {
        peiling()
            .current_dir(dir.path())
            .args(["generate", "--kind", "dementiemonitor", "--wave", "2020"])
            .args([
                "--rows",
                "50",
                "--no-defects",
                "--out",
                "real.csv",
                "--margins",
                "margins.csv",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    let before = hashes(dir.path());
    let refused = assert_refused(&generate(&[]), "G002");
    assert!(refused.contains("real.csv exists"), "{refused}");
    assert!(refused.contains("--force"), "{refused}");
    // Neither file is written, the margins (which did not exist) neither.
    assert_eq!(hashes(dir.path()), before);

    let output = generate(&["--force"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let data = fs::read_to_string(&real).unwrap();
    assert!(data.starts_with("resp_id;wave;"), "{data}");
    assert_eq!(data.lines().count(), 51);
    assert!(margins.is_file());
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// A spec whose run fails while it writes its outputs: an indicator id so long that its chart's
/// file name exceeds what the file system allows (255 bytes), after the Parquet tables, the
/// table book and the microdata have been written.
fn failing_while_writing(project: &Path) {
    let spec = project.join("pipelines/dementiemonitor.toml");
    let text = fs::read_to_string(&spec).unwrap();
    let long = "a".repeat(240);
    let text = text.replacen("id = \"uren_pw_gemiddeld\"", &format!("id = \"{long}\""), 1);
    fs::write(project.join("pipelines/failing.toml"), text).unwrap();
}

#[test]
fn a_run_that_fails_while_writing_leaves_the_previous_output_and_no_temporary_folder() {
    let project = scratch_project();
    assert!(run_into(project.path(), "run", "out").status.success());
    failing_while_writing(project.path());
    let before = hashes(project.path());
    let output = peiling()
        .current_dir(project.path())
        .args(["run", "pipelines/failing.toml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("error[O001]"), "{message}");
    assert_eq!(hashes(project.path()), before);
    assert_eq!(leftovers(project.path()), Vec::<String>::new());
}

#[test]
fn what_a_killed_run_left_is_cleaned_up_by_the_next_run_when_it_is_peilings() {
    let project = scratch_project();
    let p = project.path();
    assert!(run_into(p, "validate", "out").status.success());
    // A killed run leaves its temporary folder (peiling's: it has the marker) ...
    fs::rename(p.join("out"), p.join(".out.tmp-4194301")).unwrap();
    // ... and one that was killed between moving the old output aside and putting the new one
    // in place leaves the old output aside, and no output.
    assert!(run_into(p, "validate", "out").status.success());
    fs::rename(p.join("out"), p.join(".out.old-4194302")).unwrap();
    let old = hashes(&p.join(".out.old-4194302"));
    // A folder of the user's that merely looks like a leftover is left alone.
    fs::create_dir(p.join(".out.tmp-1")).unwrap();
    fs::write(p.join(".out.tmp-1/mine.txt"), "mine").unwrap();
    // A spec with an unknown key, which stops at once, and one that fails while writing.
    let spec = fs::read_to_string(p.join("pipelines/dementiemonitor.toml")).unwrap();
    fs::write(
        p.join("pipelines/wrong.toml"),
        format!("{spec}\nunknown = 1\n"),
    )
    .unwrap();
    failing_while_writing(p);
    let everything = hashes(p);
    let mut kept = everything.clone();
    kept.retain(|path, _| {
        !path.starts_with(".out.tmp-4194301") && !path.starts_with(".out.old-4194302")
    });

    // A run that stops before it claims the folder changes nothing.
    let wrong = peiling()
        .current_dir(p)
        .args(["run", "pipelines/wrong.toml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1), "{}", stderr(&wrong));
    assert_eq!(hashes(p), everything);

    // The next run to claim it restores the old output and removes the temporary folder; this
    // one then fails while writing, and leaves the restored output as it was.
    let output = peiling()
        .current_dir(p)
        .args(["run", "pipelines/failing.toml", "--quiet", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert_eq!(hashes(&p.join("out")), old, "the old output is restored");
    assert_eq!(leftovers(p), [".out.tmp-1"]);

    assert!(run_into(p, "run", "out").status.success());
    assert_eq!(leftovers(p), [".out.tmp-1"]);
    assert_eq!(hashes_outside(p, "out"), kept);
}

#[test]
fn a_second_run_into_a_locked_folder_stops_and_changes_nothing() {
    let project = scratch_project();
    let p = project.path();
    assert!(run_into(p, "run", "out").status.success());
    // Another run holds the lock (the same lock a run takes: an exclusive `flock`).
    let lock = fs::File::create(p.join(".out.lock")).unwrap();
    lock.try_lock().unwrap();
    let before = hashes(p);
    let stderr = assert_refused(&run_into(p, "run", "out"), "O003");
    assert!(stderr.contains(".out.lock"), "{stderr}");
    assert!(stderr.contains("another peiling run"), "{stderr}");
    assert_eq!(hashes(p), before);
    drop(lock);
    assert!(run_into(p, "run", "out").status.success());
}

#[test]
fn two_runs_at_once_never_mix_their_outputs() {
    let project = scratch_project();
    let p = project.path();
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("peiling"))
            .current_dir(p)
            .args([
                "run",
                "pipelines/dementiemonitor.toml",
                "--quiet",
                "--out",
                "out",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn();
    // The second starts once the first holds the lock (or has finished).
    let start = Instant::now();
    while !p.join(".out.lock").exists() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let second = spawn().wait_with_output().unwrap();
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    if !second.status.success() {
        assert_refused(&second, "O003");
    }
    // Whichever wrote last, the folder is one run's whole output, as its marker lists it.
    let marker: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(p.join("out/.peiling-output.json")).unwrap())
            .unwrap();
    let listed: BTreeMap<PathBuf, Vec<u8>> = marker["files"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, stamp)| {
            let hex = stamp["sha256"].as_str().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (PathBuf::from(path), bytes)
        })
        .collect();
    let mut found = hashes(&p.join("out"));
    found.remove(Path::new(".peiling-output.json"));
    assert_eq!(found, listed);
    assert_eq!(leftovers(p), Vec::<String>::new());
}
