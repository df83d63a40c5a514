//! What a class folder holds: one sub-folder per student, and in each the program of every assignment,
//! found by the manifest's patterns (or a student's override). Also which students a shard grades.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::manifest::{self, Assignment};
use crate::error::{Error, Result};
use crate::grade::glob;
use crate::results::class::natural_cmp;
use crate::results::{Shard, BATCH_FILE};

/// How deep under a student's folder programs are looked for (`hw3/src/server.py` is depth 3).
const MAX_DEPTH: usize = 4;
/// At most this many files of one student's folder are looked at: a folder holding a virtual
/// environment or a copied dataset is not walked to its end.
const MAX_FILES: usize = 5_000;

/// The students of a class folder: its sub-folders, in natural order (`s2` before `s10`), but hidden
/// ones, those the manifest ignores, and output folders of a batch (they hold a `batch.json`; `skip` is
/// the one this batch writes, which may not exist yet).
pub fn students(class_dir: &Path, ignore: &[String], skip: Option<&Path>) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(class_dir).map_err(|source| Error::ReadFile {
        path: class_dir.to_path_buf(),
        source,
    })?;
    let skip = skip.and_then(|p| p.canonicalize().ok());
    let mut students = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::ReadFile {
            path: class_dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(String::from) else {
            return Err(Error::Usage(format!(
                "{}: a student folder's name is not UTF-8: rename it",
                path.display()
            )));
        };
        let is_output =
            path.join(BATCH_FILE).is_file() || skip.as_ref() == path.canonicalize().ok().as_ref();
        if name.starts_with('.') || ignore.contains(&name) || is_output {
            continue;
        }
        crate::results::check_name("student", &name)?;
        students.push(name);
    }
    students.sort_by(|a, b| natural_cmp(a, b));
    Ok(students)
}

/// True when `student` belongs to shard `shard`: by a hash of the id alone (SHA-256, stable across
/// machines and versions), so every machine of a matrix agrees without talking to the others.
pub fn in_shard(student: &str, shard: Shard) -> bool {
    let digest = Sha256::digest(student.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % u64::from(shard.count) == u64::from(shard.index - 1)
}

/// A student's program for an assignment, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Program {
    /// The command to grade (`{program}` replaced by the file, as a path from the current directory),
    /// and notes for the report (another file matched as well).
    Found {
        /// The command template with `{program}` filled in.
        command: Vec<String>,
        /// What the report should say about the choice, one line each.
        notes: Vec<String>,
    },
    /// No file: the command as it would have been (for the report), and why.
    Missing {
        /// The command as it would have been.
        command: Vec<String>,
        /// Why there is no program (no file matched).
        reason: String,
    },
}

/// Finds `student`'s program for `assignment` in `class_dir/student`.
pub fn program(class_dir: &Path, student: &str, assignment: &Assignment) -> Program {
    let folder = class_dir.join(student);
    let over = assignment.overrides.get(student);
    let template = |file: &str| {
        over.and_then(|o| o.command.clone())
            .or_else(|| assignment.command.clone())
            .unwrap_or_else(|| manifest::default_command(file))
    };
    let fill = |template: Vec<String>, path: &Path| -> Vec<String> {
        let path = path.display().to_string();
        template
            .iter()
            .map(|w| w.replace(manifest::PROGRAM, &path))
            .collect()
    };
    if let Some(file) = over.and_then(|o| o.file.as_deref()) {
        let path = folder.join(file);
        return if path.is_file() {
            Program::Found {
                command: fill(template(file), &path),
                notes: vec![format!("the file was named by the class manifest: {file}")],
            }
        } else {
            Program::Missing {
                command: fill(template(file), &path),
                reason: format!(
                    "the file {file} that the class manifest names for this student does not exist"
                ),
            }
        };
    }
    let files = files_of(&folder);
    for pattern in &assignment.files {
        let pattern_lower = pattern.to_lowercase();
        let matching: Vec<&PathBuf> = files
            .iter()
            .filter(|f| {
                let text = if pattern.contains('/') {
                    f.to_string_lossy().to_lowercase()
                } else {
                    f.file_name()
                        .map(|n| n.to_string_lossy().to_lowercase())
                        .unwrap_or_default()
                };
                glob(&pattern_lower, &text)
            })
            .collect();
        if let Some(first) = matching.first() {
            let shown = first.display().to_string();
            let mut notes = Vec::new();
            if matching.len() > 1 {
                let others: Vec<String> = matching[1..]
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                notes.push(format!(
                    "{} files match {pattern}: graded {shown}; not graded: {}",
                    matching.len(),
                    others.join(", ")
                ));
            }
            return Program::Found {
                command: fill(template(&shown), &folder.join(first)),
                notes,
            };
        }
    }
    let patterns = assignment.files.join(", ");
    let reason = if folder.is_dir() {
        format!("no file matching {patterns} in the student's folder")
    } else {
        format!("no folder {student} in the class folder")
    };
    let would_be = folder.join(&assignment.files[0]);
    Program::Missing {
        command: fill(template(&assignment.files[0]), &would_be),
        reason,
    }
}

/// The files under `folder`, as paths relative to it: shallowest first, then by name, hidden files and
/// folders (and Python's caches) left out.
fn files_of(folder: &Path) -> Vec<PathBuf> {
    let mut found: Vec<(usize, PathBuf)> = Vec::new();
    let mut pending = vec![(0usize, PathBuf::new())];
    while let Some((depth, rel)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(folder.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            if found.len() >= MAX_FILES {
                break;
            }
            let name = entry.file_name();
            let name_text = name.to_string_lossy();
            if name_text.starts_with('.') || name_text == "__pycache__" {
                continue;
            }
            let path = rel.join(&name);
            // Through a symlink only to a file: a link to a folder could lead out, or loop.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                if depth + 1 < MAX_DEPTH {
                    pending.push((depth + 1, path));
                }
            } else if folder.join(&path).is_file() {
                found.push((depth, path));
            }
        }
    }
    found.sort_by(|(da, a), (db, b)| {
        da.cmp(db)
            .then_with(|| natural_cmp(&a.to_string_lossy(), &b.to_string_lossy()))
    });
    found.into_iter().map(|(_, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_a_class_without_overlap() {
        let students: Vec<String> = (0..200).map(|i| format!("s{i}")).collect();
        let mut seen = vec![0; students.len()];
        for index in 1..=3 {
            let shard = Shard { index, count: 3 };
            let share = students.iter().filter(|s| in_shard(s, shard)).count();
            assert!((40..=95).contains(&share), "shard {shard}: {share} of 200");
            for (i, s) in students.iter().enumerate() {
                seen[i] += usize::from(in_shard(s, shard));
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
        // Stable: the same id always lands in the same shard (a change here would split running
        // matrices differently).
        assert!(in_shard("张伟", Shard { index: 2, count: 2 }));
    }

    #[test]
    fn the_first_pattern_that_matches_wins() {
        let dir = tempfile::tempdir().unwrap();
        let student = dir.path().join("li");
        std::fs::create_dir_all(student.join("hw3")).unwrap();
        for f in [
            "client.py",
            "Echo_Server.py",
            "hw3/server.py",
            "server_old.py",
        ] {
            std::fs::write(student.join(f), "").unwrap();
        }
        let text = "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\n\
                    files = [\"*echo*server*.py\", \"*server*.py\"]\n";
        let m = manifest::Manifest::parse(text, Path::new("sockspec.toml"), "c").unwrap();
        let Program::Found { command, notes } = program(dir.path(), "li", &m.assignments[0]) else {
            panic!("not found")
        };
        assert!(command[1].ends_with("li/Echo_Server.py"), "{command:?}");
        assert!(notes.is_empty(), "{notes:?}");
        let mut second = m.assignments[0].clone();
        second.files.remove(0);
        let Program::Found { command, notes } = program(dir.path(), "li", &second) else {
            panic!("not found")
        };
        assert!(command[1].ends_with("li/Echo_Server.py"), "{command:?}");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("server_old.py") && notes[0].contains("hw3/server.py"));
        second.files = vec!["*recv*.py".into()];
        let Program::Missing { reason, .. } = program(dir.path(), "li", &second) else {
            panic!("found")
        };
        assert_eq!(reason, "no file matching *recv*.py in the student's folder");
    }
}
