//! Grading a whole class: every student's program for every assignment of the class manifest, in
//! parallel, each finished grade stored at once (so an interrupted batch resumes where it stopped), and the
//! class summaries rendered from what is stored.
//!
//! - [`manifest`]: `sockspec.toml`, the assignments and how to find and run each student's program.
//! - [`discover`]: the students of a class folder, each one's program, the students of a shard.
//! - [`schedule`]: the grades run side by side, their results stored, an interruption.
//!
//! [`Batch::prepare`] decides everything before the first grade: the students, the seeds (fixed in the
//! manifest or chosen once, the same for every student of an assignment), what a resumed batch has
//! already stored; [`Batch::run`] grades; [`Batch::write_summaries`] writes the CSV and HTML summaries.

pub mod discover;
pub mod manifest;
pub mod schedule;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::grade::netns::Isolate;
use crate::grade::{self, GradeReport};
use crate::report::{self, ClassFormat, ClassOptions};
use crate::results::class::Class;
use crate::results::{AssignmentInfo, BatchInfo, ResultsDir, Shard, Stored, FORMAT};
use discover::Program;
use manifest::Manifest;
pub use schedule::{Event, Outcome, Progress, Stopper};

/// The summaries a batch writes into its output directory.
pub const SUMMARY_CSV: &str = "class.csv";
/// The HTML summary a batch writes into its output directory.
pub const SUMMARY_HTML: &str = "class.html";

/// The choices of a batch that are not in the manifest (the flags of `sockspec batch`).
#[derive(Debug, Clone)]
pub struct Options {
    /// Where results and summaries go.
    pub out_dir: PathBuf,
    /// Go on with a batch already in `out_dir`: what it stored whole is not graded again.
    pub resume: bool,
    /// Grade only this shard of the students (`--shard K/N`).
    pub shard: Option<Shard>,
    /// A seed for every assignment (above the manifest's).
    pub seed: Option<u64>,
    /// Whether each program runs in a private network namespace (`--isolate`).
    pub isolate: Isolate,
}

/// Where an assignment's seed came from, for the line that prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOrigin {
    /// `--seed`.
    Flag,
    /// The assignment's `seed`, or the manifest's.
    Manifest,
    /// The batch being resumed chose it.
    Resumed,
    /// Chosen now, for this batch.
    Chosen,
}

/// One grade to make: a student's program for an assignment.
#[derive(Debug, Clone)]
pub struct Job {
    /// The student's folder name.
    pub student: String,
    /// Index into the manifest's assignments.
    pub assignment: usize,
    /// The program to grade, or why there is none.
    pub program: Program,
}

/// A batch ready to run: everything decided, `batch.json` written.
pub struct Batch {
    /// The class folder.
    pub class_dir: PathBuf,
    /// The class manifest, its suites loaded.
    pub manifest: Manifest,
    /// What `batch.json` says of this batch.
    pub info: BatchInfo,
    /// Where each assignment's seed came from, in the manifest's order.
    pub seed_origins: Vec<SeedOrigin>,
    /// The output directory.
    pub dir: ResultsDir,
    /// The grades to make, student by student.
    pub jobs: Vec<Job>,
    /// Grades a resumed batch had stored whole: not made again.
    pub stored: usize,
    /// Temporary files a crashed run had left in the output directory, removed.
    pub removed_temp: usize,
    isolate: Isolate,
    shared: Arc<schedule::Shared>,
}

impl Batch {
    /// Finds the students and their programs, fixes the seeds, and creates (or, resuming, checks) the
    /// output directory. Nothing is graded yet.
    pub fn prepare(class_dir: &Path, manifest: Manifest, options: &Options) -> Result<Batch> {
        let out = &options.out_dir;
        let mut students = discover::students(class_dir, &manifest.ignore, Some(out))?;
        if students.is_empty() {
            return Err(Error::Usage(format!(
                "{} has no student folders (one sub-folder per student)",
                class_dir.display()
            )));
        }
        if let Some(shard) = options.shard {
            students.retain(|s| discover::in_shard(s, shard));
        }
        let existing = out.join(crate::results::BATCH_FILE).is_file();
        let previous = match (existing, options.resume) {
            (true, false) => {
                return Err(Error::Usage(format!(
                    "{} already holds a batch's results: --resume finishes that batch; to grade \
                     anew, remove it or choose another -o",
                    out.display()
                )))
            }
            (true, true) => Some(ResultsDir::open(out)?.info()?),
            (false, _) => None,
        };
        let chosen = grade::fresh_seed();
        let mut seeds = Vec::new();
        let mut seed_origins = Vec::new();
        for a in &manifest.assignments {
            let resumed = previous
                .as_ref()
                .and_then(|p| p.assignment(&a.name))
                .map(|p| p.seed);
            let (seed, origin) = match (options.seed, a.seed.or(manifest.seed), resumed) {
                (Some(seed), _, _) => (seed, SeedOrigin::Flag),
                (None, Some(seed), _) => (seed, SeedOrigin::Manifest),
                (None, None, Some(seed)) => (seed, SeedOrigin::Resumed),
                (None, None, None) => (chosen, SeedOrigin::Chosen),
            };
            if origin == SeedOrigin::Chosen {
                if let Some(shard) = options.shard {
                    return Err(Error::Usage(format!(
                        "--shard {shard} needs a fixed seed, the same on every machine: set `seed` \
                         in {} or pass --seed N",
                        manifest.path.display()
                    )));
                }
            }
            seeds.push(seed);
            seed_origins.push(origin);
        }
        let info = BatchInfo {
            format: FORMAT,
            sockspec_version: env!("CARGO_PKG_VERSION").to_string(),
            class: manifest.class.clone(),
            assignments: manifest
                .assignments
                .iter()
                .zip(&seeds)
                .map(|(a, &seed)| AssignmentInfo {
                    name: a.name.clone(),
                    suite: a.suite_name.clone(),
                    seed,
                    options: a.options(),
                })
                .collect(),
            students: {
                // batch.json lists them sorted by bytes, whatever order they are graded in.
                let mut sorted = students.clone();
                sorted.sort();
                sorted
            },
            shard: options.shard,
        };
        if let Some(previous) = &previous {
            same_batch(out, previous, &info)?;
        }
        let dir = ResultsDir::create(out, &info)?;
        let removed_temp = if previous.is_some() {
            dir.remove_stale_temp_files()?
        } else {
            0
        };
        let mut jobs = Vec::new();
        let mut stored = 0;
        for student in &students {
            for (index, a) in manifest.assignments.iter().enumerate() {
                if previous.is_some() {
                    if let Stored::Graded(report) = dir.read_result(student, &a.name) {
                        if !report.incomplete {
                            stored += 1;
                            continue;
                        }
                    }
                }
                jobs.push(Job {
                    student: student.clone(),
                    assignment: index,
                    program: discover::program(class_dir, student, a),
                });
            }
        }
        Ok(Batch {
            class_dir: class_dir.to_path_buf(),
            manifest,
            info,
            seed_origins,
            dir,
            jobs,
            stored,
            removed_temp,
            isolate: options.isolate,
            shared: Arc::new(schedule::Shared::default()),
        })
    }

    /// Grades one job: the student's program, or the report of a program that is missing.
    pub fn grade(&self, job: &Job) -> Result<GradeReport> {
        let a = &self.manifest.assignments[job.assignment];
        let seed = self.info.assignments[job.assignment].seed;
        match &job.program {
            Program::Found { command, notes } => {
                let mut config = a.config(command.clone(), seed)?;
                config.options.isolate = self.isolate;
                let mut report = grade::grade(&config, |_| {})?;
                report.notes.splice(0..0, notes.iter().cloned());
                Ok(report)
            }
            Program::Missing { command, reason } => {
                let mut config = a.config(command.clone(), seed)?;
                config.options.isolate = self.isolate;
                grade::not_launched(&config, reason)
            }
        }
    }

    /// Renders the CSV and HTML summaries of everything stored into the output directory; returns their
    /// paths and what a reader should know (damaged results).
    pub fn write_summaries(&self, bom: bool) -> Result<(Vec<PathBuf>, Vec<String>)> {
        // Held while writing, so an interruption never ends the process with a summary half-written.
        let _store = self.shared.store();
        let loaded = Class::load(&[self.dir.root().to_path_buf()])?;
        let class: &Class = &loaded.class;
        let mut written = Vec::new();
        for (name, format) in [
            (SUMMARY_CSV, ClassFormat::Csv),
            (SUMMARY_HTML, ClassFormat::Html),
        ] {
            let path = self.dir.root().join(name);
            let text = report::render_class(class, format, ClassOptions { bom });
            crate::results::write_atomically(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok((written, loaded.warnings))
    }
}

/// A resumed batch must be the one in the directory: the same class, assignments (suites, options, seeds)
/// and students. Said here with what differs; [`ResultsDir::create`] would only refuse.
fn same_batch(out: &Path, previous: &BatchInfo, now: &BatchInfo) -> Result<()> {
    let differ = |what: &str| {
        Err(Error::Usage(format!(
            "cannot resume: {} holds a batch whose {what} differ from this one's; grade into \
             another -o",
            out.display()
        )))
    };
    if previous.class != now.class {
        return differ("class names");
    }
    if previous.assignments != now.assignments {
        return differ("assignments (suites, seeds or options)");
    }
    if previous.students != now.students {
        return differ("students (a folder was added or removed)");
    }
    if previous.shard != now.shard {
        return differ("shards");
    }
    Ok(())
}
