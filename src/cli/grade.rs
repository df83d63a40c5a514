//! `sockspec grade`: flags to a checked [`GradeConfig`], the run, and the report written safely.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::{parse_scale, write_stdout};
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::ctx::Options;
use crate::grade::netns::{self, Isolate};
use crate::grade::suite::{Level, Suite};
use crate::grade::template::Template;
use crate::grade::{self, GradeConfig};
use crate::report::{self, Format};

/// Whether the human report uses colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Colour {
    /// Colour when the report goes to a terminal and NO_COLOR is not set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
#[command(after_help = GRADE_HELP)]
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
    /// Write the report to this file instead of stdout (checked before any check runs; replaced only once
    /// the report is complete).
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
    /// The program's command line, after `--`. Placeholders: {host} {port} {file} {out}; when it has
    /// none, the suite's own (e.g. {port}) are added at the end.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

const GRADE_HELP: &str = "\
Examples:
  sockspec grade echo-server -- python3 server.py {port}
  sockspec grade echo-client --strict -- python3 client.py {host} {port}
  sockspec grade file-receiver --format json -o report.json -- ./receiver {port} {out}
  sockspec grade --list echo-server

Outcomes: pass, fail (wrong answer), timeout (no answer by the deadline, which the report names),
crash (the program died: exit status and stderr shown), limit (the program ran into a resource limit of
the suite's [limits]: processes, CPU time, address space, open files, file size), not-run (an earlier
step made it impossible).

Isolation: each launch runs in a private network namespace holding only loopback, where every IPv4
address is local and (as root, with BPF) every connection or datagram reaches the grader, so hard-coded
ports and hosts (8888, 192.168.1.100) work and grades can run side by side. The report says when the
system did not allow it (--isolate=on then refuses to run).

Exit codes:
  0  every required check passed
  1  a required check did not pass
  2  usage, suite or launch error, a report file (-o) that cannot be written (found before any check
     runs), or a fault of the grader itself
  4  the report could not be saved at the end (-o FILE; an older report there is left whole)";

impl GradeArgs {
    /// The checked configuration of a grading run.
    pub fn config(&self, suite: Suite) -> Result<GradeConfig> {
        let template = Template::new(&self.command, &suite)?;
        let mut options = Options {
            strict: self.strict,
            timeout_scale: self.timeout_scale,
            isolate: self.isolate,
            ..Options::default()
        };
        if let Some(prefix) = self.prefix.as_ref().or(suite.prefix.as_ref()) {
            options.prefix = prefix.as_bytes().to_vec();
        }
        Ok(GradeConfig {
            suite_source: self.suite.clone(),
            required_level: self.level.unwrap_or(suite.required_level),
            template,
            only: self.only.clone(),
            skip: self.skip.clone(),
            seed: self.seed.unwrap_or_else(grade::fresh_seed),
            options,
            suite,
        })
    }
}

pub(super) fn grade(args: &GradeArgs) -> Result<u8> {
    let suite = Suite::load(&args.suite)?;
    if args.list {
        write_stdout(&list_checks(&suite))?;
        return Ok(exit::OK);
    }
    let config = args.config(suite)?;
    if args.isolate != Isolate::Off {
        // An ordinary user may make network namespaces inside a user namespace of its own, which can
        // only be entered while this process has a single thread: now, before anything starts one.
        // If it fails, the run finds out when it probes for isolation, and says so.
        let _ = netns::enter_user_namespace();
    }
    // Before any check runs: a report that cannot be written is a usage error now, not after the run.
    let output = args
        .output
        .as_deref()
        .map(|path| Ok((path, report_file(path)?)))
        .transpose()?;
    let progress = std::io::IsTerminal::is_terminal(&io::stderr());
    let mut done = 0;
    let report = grade::grade(&config, |check| {
        done += 1;
        if progress {
            eprintln!(
                "[{done}] {} {}",
                check.id,
                report::outcome_word(check.outcome)
            );
        }
    })?;
    let to_terminal = args.output.is_none() && std::io::IsTerminal::is_terminal(&io::stdout());
    let colour = match args.color {
        Colour::Always => true,
        Colour::Never => false,
        Colour::Auto => to_terminal && std::env::var_os("NO_COLOR").is_none(),
    };
    let text = report::render(&report, args.format, colour);
    match output {
        Some((path, file)) => save_report(path, file, &text)?,
        None => write_stdout(&text)?,
    }
    Ok(if report.summary.harness_fault {
        exit::USAGE
    } else if report.summary.success {
        exit::OK
    } else {
        exit::FAILED
    })
}

/// A new file beside `path` that the report is written to and then renamed over `path`: a run that fails
/// leaves an existing report whole. Made before the run, so a place that cannot be written is found at once.
fn report_file(path: &Path) -> Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt;
    let cannot = |why: String| {
        Error::Usage(format!(
            "cannot write the report to {}: {why}",
            path.display()
        ))
    };
    if path.is_dir() {
        return Err(cannot("it is a directory".into()));
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    tempfile::Builder::new()
        .prefix(".sockspec-report-")
        // As a file written in place would be: readable by others unless the umask says otherwise.
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| match std::fs::metadata(dir) {
            // Say what is wrong with the directory rather than with the temporary file's name.
            Err(why) => cannot(format!("{}: {why}", dir.display())),
            Ok(_) => cannot(e.to_string()),
        })
}

/// Writes the report into its temporary file and renames it to `path`.
fn save_report(path: &Path, mut file: tempfile::NamedTempFile, text: &str) -> Result<()> {
    let failed = |source| Error::WriteFile {
        path: path.to_path_buf(),
        source,
    };
    file.write_all(text.as_bytes())
        .and_then(|_| file.as_file().sync_all())
        .map_err(failed)?;
    file.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

fn list_checks(suite: &Suite) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{}: {}", suite.name, suite.description);
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
            check.requirement
        );
    }
    out
}
