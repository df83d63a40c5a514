//! `sockspec batch`: a class graded from its manifest, with a progress bar on a terminal (a line per
//! grade otherwise), interrupted as `grade` is (the same signal thread and watchdog), and the CSV and
//! HTML summaries written at the end.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;

use super::signals;
use crate::batch::manifest::{self, Manifest};
use crate::batch::{self, Batch, Event, SeedOrigin};
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::netns::{self, Isolate};
use crate::grade::{runs, sweep};
use crate::report;
use crate::results::Shard;

#[derive(Debug, Clone, Args)]
#[command(after_help = BATCH_HELP)]
/// The flags of `sockspec batch`.
pub struct BatchArgs {
    /// The class folder: one sub-folder per student, and the class manifest sockspec.toml.
    pub class_dir: PathBuf,
    /// Grades run at once (default: four per core, at least 4: grades mostly wait).
    #[arg(short = 'j', long = "jobs", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Where results and summaries go (default: CLASS_DIR/sockspec-results, or
    /// CLASS_DIR/sockspec-results-K-of-N for a shard).
    #[arg(short, long, value_name = "OUT_DIR")]
    pub output: Option<PathBuf>,
    /// Finish an interrupted batch in OUT_DIR: what it stored whole is not graded again.
    #[arg(long)]
    pub resume: bool,
    /// Grade only shard K of N of the students (1 <= K <= N), chosen by a hash of each student's folder
    /// name; `sockspec report DIR1 DIR2 ...` merges the shards.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
    /// Write a commented class manifest (CLASS_DIR/sockspec.toml) and exit; an existing one is kept.
    #[arg(long)]
    pub init: bool,
    /// The seed of every assignment (above the manifest's); default: the manifest's, or one chosen for
    /// this batch, printed and recorded in OUT_DIR/batch.json.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Start the CSV summary with a byte order mark, so Excel reads Chinese names correctly.
    #[arg(long)]
    pub bom: bool,
    /// Private network namespaces per launch, as for `grade` (auto, on, off).
    #[arg(long, value_enum, default_value_t = Isolate::Auto, value_name = "WHEN")]
    pub isolate: Isolate,
}

const BATCH_HELP: &str = "\
Examples:
  sockspec batch --init class/          write class/sockspec.toml to edit
  sockspec batch class/ -j 8            grade everyone: class/sockspec-results/
  sockspec batch class/ --resume        finish an interrupted batch
  sockspec batch class/ --shard 2/4 --seed 7 -o shard-2/
  sockspec report shard-*/ --format html -o class.html

Each finished grade is stored at once as OUT_DIR/results/<student>/<assignment>.json (what `sockspec
grade --format json` writes), then OUT_DIR/class.csv and OUT_DIR/class.html summarise the class;
`sockspec report OUT_DIR --format ...` renders any other format. A student without a file for an
assignment gets a result that says so, with zero points.

Interruption: SIGINT (Ctrl-C), SIGTERM or SIGHUP stop every running program, keep every grade already
stored (the ones running are dropped) and exit with 128 + the signal; --resume grades the rest.

Exit codes:
  0    every student was graded (whatever their verdicts) and the summaries written
  1    some grades could not be made (the grader's fault, said per grade): --resume retries them
  2    usage: a bad flag, no class folder, OUT_DIR holds another batch (or this one without --resume)
  4    a result or summary could not be written
  7    the class manifest is wrong: file:line: field: what
  129  interrupted by SIGHUP, 130 by SIGINT, 143 by SIGTERM (128 + the signal)";

fn parse_shard(text: &str) -> std::result::Result<Shard, String> {
    let bad = || format!("{text:?} is not K/N with 1 <= K <= N (such as 2/4)");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (index, count): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
    if index == 0 || count == 0 || index > count {
        return Err(bad());
    }
    Ok(Shard { index, count })
}

/// Grades at once when `-j` is not given: four per core (at least four). A grade mostly waits on its
/// program (starting an interpreter, a deadline running out), so more grades than cores keep the cores
/// busy; `sockspec bench class` measures it (see README.md, "Grading a class").
pub fn default_jobs() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (4 * cores).clamp(4, 64)
}

pub(super) fn batch(args: &BatchArgs) -> Result<u8> {
    if args.init {
        return init(&args.class_dir);
    }
    let manifest = Manifest::load(&args.class_dir)?;
    let out_dir = args.output.clone().unwrap_or_else(|| {
        args.class_dir.join(match args.shard {
            Some(s) => format!("sockspec-results-{}-of-{}", s.index, s.count),
            None => "sockspec-results".to_string(),
        })
    });
    if args.isolate != Isolate::Off {
        // As for `grade`: only while this process has a single thread (see cli::grade).
        let _ = netns::enter_user_namespace();
    }
    let options = batch::Options {
        out_dir,
        resume: args.resume,
        shard: args.shard,
        seed: args.seed,
        isolate: args.isolate,
    };
    let batch = Batch::prepare(&args.class_dir, manifest, &options)?;
    // Before any thread starts (see cli::signals), as `grade` does.
    let blocked = signals::block()?;
    signals::start_watchdog()?;
    runs::set_parent_death_signal(true);
    sweep::sweep();
    let jobs = args.jobs.map_or_else(default_jobs, usize::from);
    print_plan(&batch, jobs)?;
    let stopper = batch.stopper();
    let resume_line = resume_command(args, batch.dir.root());
    let total = batch.jobs.len();
    signals::on_signal(blocked, move |signal| {
        let stopped = stopper.interrupt();
        let programs = match stopped.cleanup.programs {
            0 => String::new(),
            1 => "1 program stopped, ".into(),
            n => format!("{n} programs stopped, "),
        };
        eprintln!(
            "\nsockspec: interrupted by {}: {programs}{} of {total} grades of this run stored; \
             `{resume_line}` grades the rest",
            signals::name(signal),
            stopped.graded,
        );
        std::process::exit(i32::from(exit::SIGNALLED) + signal);
    })?;

    let shown = Shown::new(total);
    let started = Instant::now();
    let outcome = batch.run(jobs, |event| shown.event(&batch, &event));
    shown.finish();
    if outcome.interrupted {
        // The signal thread reports and ends the process; a grade may have returned first.
        return super::grade::wait_for_the_signal_thread();
    }
    let (written, warnings) = batch.write_summaries(args.bom)?;
    for warning in warnings {
        eprintln!("sockspec: warning: {warning}");
    }
    let stored = batch.stored;
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    say(&format!(
        "graded {} in {:.1} min ({:.0} grades/min){}: {} did not pass; {} error(s)\n\
         summaries: {}",
        outcome.graded,
        minutes,
        outcome.graded as f64 / minutes.max(1e-9),
        if stored > 0 {
            format!(", {stored} stored before")
        } else {
            String::new()
        },
        outcome.failed,
        outcome.errors,
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    Ok(if outcome.errors > 0 {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// `sockspec batch --init`: the commented manifest, never over an existing one.
fn init(class_dir: &Path) -> Result<u8> {
    if !class_dir.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory: give the class folder (one sub-folder per student)",
            class_dir.display()
        )));
    }
    let path = class_dir.join(manifest::FILE_NAME);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path);
    let mut file = match file {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(Error::Usage(format!(
                "{} already exists: it is kept (edit it, or remove it and run --init again)",
                path.display()
            )))
        }
        Err(source) => return Err(Error::WriteFile { path, source }),
    };
    file.write_all(manifest::INIT.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|source| Error::WriteFile {
            path: path.clone(),
            source,
        })?;
    say(&format!(
        "wrote {}: name the assignments there, then `sockspec batch {}`",
        path.display(),
        class_dir.display()
    ))?;
    Ok(exit::OK)
}

/// The lines before the first grade: the class, each assignment with its seed, where results go.
fn print_plan(batch: &Batch, jobs: usize) -> Result<()> {
    let info = &batch.info;
    let shard = info
        .shard
        .map(|s| format!(" (shard {s})"))
        .unwrap_or_default();
    let mut text = format!(
        "class {:?}: {} students{shard}, {} assignment(s) -> {}\n",
        info.class,
        info.students.len(),
        info.assignments.len(),
        batch.dir.root().display()
    );
    for (a, origin) in info.assignments.iter().zip(&batch.seed_origins) {
        let origin = match origin {
            SeedOrigin::Flag => "from --seed",
            SeedOrigin::Manifest => "fixed in the manifest",
            SeedOrigin::Resumed => "of the batch resumed",
            SeedOrigin::Chosen => "chosen for this batch",
        };
        text.push_str(&format!(
            "  {}: {} · seed {} ({origin})\n",
            a.name, a.suite, a.seed
        ));
    }
    if batch.stored > 0 || batch.removed_temp > 0 {
        text.push_str(&format!(
            "resuming: {} grade(s) already stored are kept{}\n",
            batch.stored,
            if batch.removed_temp > 0 {
                format!(
                    ", {} unfinished file(s) of the interrupted run removed",
                    batch.removed_temp
                )
            } else {
                String::new()
            }
        ));
    }
    text.push_str(&format!(
        "{} grade(s) to make, {} at a time\n",
        batch.jobs.len(),
        jobs.min(batch.jobs.len()).max(1)
    ));
    say(&text)
}

/// The command that resumes this batch.
fn resume_command(args: &BatchArgs, out: &Path) -> String {
    use crate::grade::template::shell_quote;
    let mut line = format!(
        "sockspec batch {} -o {} --resume",
        shell_quote(&args.class_dir.display().to_string()),
        shell_quote(&out.display().to_string())
    );
    if let Some(shard) = args.shard {
        line.push_str(&format!(" --shard {shard}"));
    }
    if let Some(seed) = args.seed {
        line.push_str(&format!(" --seed {seed}"));
    }
    line
}

/// Progress as the user sees it: a bar on a terminal, a plain line per finished grade otherwise.
struct Shown {
    bar: Option<indicatif::ProgressBar>,
    width: usize,
    /// Serialises lines from the workers (events already arrive one at a time; this keeps stdout whole).
    out: Mutex<()>,
}

impl Shown {
    fn new(total: usize) -> Shown {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total as u64);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} graded · {msg} · ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_message("0 failed");
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        Shown {
            bar,
            width: total.to_string().len(),
            out: Mutex::new(()),
        }
    }

    fn event(&self, batch: &Batch, event: &Event) {
        let _out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let (job, progress, what) = match event {
            Event::Graded {
                job,
                report,
                progress,
            } => {
                let mut line = report::summary_line(report);
                if let Some(why) = &report.cannot_launch {
                    line.push_str(&format!(" · {why}"));
                }
                (job, progress, line)
            }
            Event::Error {
                job,
                error,
                progress,
            } => (
                job,
                progress,
                format!("ERROR (not stored; --resume tries again): {}", chain(error)),
            ),
        };
        let assignment = &batch.manifest.assignments[job.assignment].name;
        let line = format!(
            "[{:>w$}/{}] {}/{assignment}: {what}",
            progress.done,
            progress.total,
            job.student,
            w = self.width
        );
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.set_position(progress.done as u64);
                bar.set_message(format!("{} failed", progress.failed));
            }
            None => {
                let mut stdout = io::stdout().lock();
                // A closed stdout (`| head`) does not stop the grading: the results are on disk.
                let _ = writeln!(stdout, "{line}").and_then(|_| stdout.flush());
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// An error with its causes on one line, as `main` prints them (`cannot write x: No space left`).
fn chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn say(text: &str) -> Result<()> {
    let text = if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    };
    super::write_stdout(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_k_of_n() {
        assert_eq!(parse_shard("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "1/2/3"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}
