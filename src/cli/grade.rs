//! `sockspec grade`: flags to a checked [`GradeConfig`], the run, and the report written safely, also when
//! the grade is interrupted.

use std::io::{self, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use clap::Args;

use super::output::Output;
use super::{parse_scale, signals, write_stdout};
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::netns::{self, Isolate};
use crate::grade::suite::{Level, Suite};
use crate::grade::verdict::CheckReport;
use crate::grade::{self, runs, sweep, Grade, GradeConfig};
use crate::i18n::Lang;
use crate::report::{self, Format};

/// Whether the human report uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Colour {
    /// Colour when the report goes to a terminal and NO_COLOR is not set.
    Auto,
    /// Colour even when the report goes to a file or a pipe.
    Always,
    /// No colour.
    Never,
}

/// The flags of `sockspec grade`. The help shown for each is in `locales/*/grade-help.ftl` (in the
/// language of `--lang`, see `cli::help`); the comments here say what each field holds.
#[derive(Debug, Clone, Args)]
pub struct GradeArgs {
    /// A built-in suite (echo-server, echo-client, chat-server, chat-client, file-receiver, file-sender,
    /// udp-receiver, udp-sender) or the path of a suite file.
    pub suite: String,
    /// List the suite's checks (id, level, points, requirement) and exit.
    #[arg(long)]
    pub list: bool,
    /// Required level: checks at it and below must pass (default: the suite's). Higher levels still run.
    #[arg(long, value_enum)]
    pub level: Option<Level>,
    /// Run only the checks whose id matches (a glob: `*` and `?`); may be repeated.
    #[arg(long, value_name = "ID")]
    pub only: Vec<String>,
    /// Skip the checks whose id matches (a glob); may be repeated.
    #[arg(long, value_name = "ID")]
    pub skip: Vec<String>,
    /// Seed of the generated inputs; the report prints it. The same seed replays a run exactly, and with
    /// `--only ID` one check of it (each check's inputs depend on the seed and its id only).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Exact comparison: replies exactly PREFIX + message + newline, printed lines exactly the text.
    #[arg(long)]
    pub strict: bool,
    /// The reply prefix for echo suites (default: the suite's, `ECHO：`).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to FILE instead of stdout (`-`: stdout). Checked before any check runs. A regular
    /// file (or a new one) is replaced only by a complete report (written beside it, then renamed; its
    /// permissions kept); a symlink is followed and its target replaced, the link kept; a FIFO or a
    /// character device (/dev/null, /dev/stdout, a terminal) is written in place, never replaced; a
    /// directory, block device, socket or unknown name in /dev is refused.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Multiply every deadline by this factor (slow machines, slow programs).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub timeout_scale: f64,
    /// Colour in the human report.
    #[arg(long, value_enum, default_value_t = Colour::Auto)]
    pub color: Colour,
    /// Run each launch of the program in a private network namespace holding only loopback: `auto`
    /// where the system allows it (root, or unprivileged user namespaces), else the shared loopback,
    /// said in the report; `on` refuses to grade without it (exit 2); `off` always shares the loopback.
    #[arg(long, value_enum, default_value_t = Isolate::Auto, value_name = "WHEN")]
    pub isolate: Isolate,
    /// Add the program's TCP segments (SYN, SYN-ACK, FIN, RST with relative seq/ack; data in runs) to
    /// the wire transcript of each check, captured in its private network namespace (exit 2 without
    /// one: --isolate=off, or no namespaces here).
    #[arg(long)]
    pub packets: bool,
    /// Language of the human report and of `--help` (default: the locale's, from LC_ALL, LC_MESSAGES
    /// or LANG; English unless it is a `zh` locale).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// The program's command line, after `--`. Placeholders: {host} {port} {file} {out} {dir}; when it has
    /// none, the suite's own (e.g. {port}) are added at the end.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl GradeArgs {
    /// The checked configuration of a grading run: the flags given to [`Grade`], the one path from
    /// settings to a [`GradeConfig`].
    pub fn config(&self, suite: Suite) -> Result<GradeConfig> {
        if self.command.is_empty() {
            return Err(Error::Usage(
                "no program to grade: give its command after `--`, e.g. `-- python3 server.py {port}`"
                    .into(),
            ));
        }
        let mut grade = Grade::with_suite(suite, &self.suite)
            .command(&self.command)
            .strict(self.strict)
            .timeout_scale(self.timeout_scale)
            .isolate(self.isolate)
            .packets(self.packets)
            .lang(self.lang.unwrap_or_else(Lang::from_env));
        if let Some(seed) = self.seed {
            grade = grade.seed(seed);
        }
        if let Some(level) = self.level {
            grade = grade.level(level);
        }
        if let Some(prefix) = &self.prefix {
            grade = grade.prefix(prefix.as_bytes());
        }
        for pattern in &self.only {
            grade = grade.only(pattern);
        }
        for pattern in &self.skip {
            grade = grade.skip(pattern);
        }
        grade.config()
    }
}

pub(super) fn grade(args: &GradeArgs) -> Result<u8> {
    let suite = Suite::load(&args.suite)?;
    if args.list {
        write_stdout(&list_checks(
            &suite,
            args.lang.unwrap_or_else(Lang::from_env),
        ))?;
        return Ok(exit::OK);
    }
    let config = args.config(suite)?;
    config.selected()?;
    if args.isolate != Isolate::Off {
        // An ordinary user may make network namespaces inside a user namespace of its own, which can
        // only be entered while this process has a single thread: now, before anything starts one
        // (the signal thread and the watchdog below included). If it fails, the run finds out when it
        // probes for isolation, and says so.
        let _ = netns::enter_user_namespace();
    }
    // Before any thread starts: blocked now, the stop signals reach only the signal thread started
    // below, and the watchdog is forked while forking is safe.
    let blocked = signals::block()?;
    // Before any check runs: a report that cannot be written is a usage error now, not after the run.
    let output = Output::open(args.output.as_deref())?;
    signals::start_watchdog()?;
    // Programs are launched from this thread, which lives as long as the process.
    runs::set_parent_death_signal(true);
    // Silent, as a temporary-file cleaner is: what it removes belonged to graders that are gone.
    sweep::sweep();
    let to_terminal = output.is_stdout() && std::io::IsTerminal::is_terminal(&io::stdout());
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let shared = Arc::new(Shared {
        config,
        format: args.format,
        colour,
        started: Instant::now(),
        finished: Mutex::new(Vec::new()),
        output: Mutex::new(Some(output)),
    });
    let on_signal = Arc::clone(&shared);
    signals::on_signal(blocked, move |signal| on_signal.interrupted(signal))?;

    let progress = std::io::IsTerminal::is_terminal(&io::stderr());
    let result = grade::grade(&shared.config, |check| {
        let mut finished = lock(&shared.finished);
        finished.push(check.clone());
        if progress {
            eprintln!(
                "[{}] {} {}",
                finished.len(),
                check.id,
                report::outcome_word_in(check.outcome, shared.config.lang)
            );
        }
    });
    let output = {
        let mut slot = lock(&shared.output);
        if runs::interrupted() {
            // The signal thread writes the report of the checks finished and ends the process.
            drop(slot);
            return wait_for_the_signal_thread();
        }
        slot.take()
    };
    let report = result?;
    let text = report::render(&report, shared.format, shared.colour);
    if let Some(output) = output {
        output.write(&text)?;
    }
    Ok(if report.summary.harness_fault {
        exit::USAGE
    } else if report.summary.success {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// What the grading thread and the signal thread share.
struct Shared {
    config: GradeConfig,
    format: Format,
    colour: bool,
    started: Instant,
    /// The reports of the checks finished so far, for the report of an interrupted grade.
    finished: Mutex<Vec<CheckReport>>,
    /// Where the report goes; taken by whichever thread writes a report, so only one ever does.
    output: Mutex<Option<Output>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// On SIGINT, SIGTERM or SIGHUP: stops every program at once (the check running may be in a long
    /// wait), writes the report of the checks finished, marked incomplete, and exits with 128 + the
    /// signal. A grade that already finished and is writing its report is left to end as it would.
    fn interrupted(&self, signal: libc::c_int) {
        let name = signals::name(signal);
        let cleanup = runs::interrupt();
        let Some(output) = lock(&self.output).take() else {
            return;
        };
        let finished = lock(&self.finished).clone();
        let report = grade::interrupted_report(&self.config, &finished, self.started, name);
        let text = report::render(&report, self.format, self.colour);
        let place = output.describe();
        let saved = output.write(&text);
        let stopped = match cleanup.programs {
            0 => String::new(),
            1 => "the program stopped, ".into(),
            n => format!("{n} programs stopped, "),
        };
        // Written, not `eprintln!`: a stderr whose reader is gone (a killed CI runner) must not panic
        // this thread before it ends the process.
        let mut stderr = io::stderr().lock();
        let _ = match saved {
            Ok(()) => writeln!(
                stderr,
                "sockspec: interrupted by {name}: {stopped}temporary files removed; the report of \
                 the {} check(s) finished is in {place}, marked incomplete",
                finished.len()
            ),
            Err(e) => writeln!(
                stderr,
                "sockspec: interrupted by {name}: {stopped}temporary files removed; {:#}",
                anyhow::Error::from(e)
            ),
        };
        drop(stderr);
        std::process::exit(i32::from(exit::SIGNALLED) + signal);
    }
}

/// How long the grading thread waits for the signal thread to write its report and end the process
/// (stopping programs takes seconds at most, a FIFO may wait for its reader).
const SIGNAL_THREAD_WAIT: Duration = Duration::from_secs(120);

/// Waits for the signal thread to end the process; if it never does, an error (`batch` too).
pub(super) fn wait_for_the_signal_thread() -> Result<u8> {
    let deadline = crate::wire::Deadline::after(SIGNAL_THREAD_WAIT);
    while let Some(left) = deadline.remaining() {
        std::thread::park_timeout(left);
    }
    Err(Error::Interrupted)
}

fn list_checks(suite: &Suite, lang: Lang) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", suite.name, suite.description_in(lang));
    let _ = writeln!(
        out,
        "launched as: COMMAND {} · required level: {}\n",
        suite.args.join(" "),
        suite.required_level
    );
    let width = suite.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in &suite.checks {
        let _ = writeln!(
            out,
            "{:<width$}  {:<10}  {:>3} pt  {}",
            check.id,
            check.level.to_string(),
            report::trim_points(check.points),
            check.requirement_in(lang)
        );
    }
    out
}
