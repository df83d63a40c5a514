//! Reports of checks that did not run: the program cannot be launched at all (the submission's fault,
//! told in a report with score 0), or the grade was interrupted before they finished.

use std::time::Instant;

use super::launch::LaunchError;
use super::verdict::{CheckReport, Outcome};
use super::{assemble, selected, suite, GradeConfig, GradeReport, Setup};
use crate::error::Error;
use crate::i18n::{key, Message};

/// The report of a grade interrupted by `signal` (`SIGTERM`): the checks `finished` before it, every
/// other selected check not run; marked incomplete.
pub fn interrupted_report(
    config: &GradeConfig,
    finished: &[CheckReport],
    started: Instant,
    signal: &str,
) -> GradeReport {
    let reports = selected(config)
        .unwrap_or_default()
        .into_iter()
        .map(|check| match finished.iter().find(|r| r.id == check.id) {
            Some(report) => report.clone(),
            None => not_run(
                config,
                check,
                Message::new(key::NOT_RUN_INTERRUPTED).arg("signal", signal),
            ),
        })
        .collect();
    // The setup the grade had (it could be resolved then: it can now); a shared network if not.
    let setup = Setup::resolve(config).unwrap_or_else(|_| {
        let mut off = config.clone();
        off.options.isolate = super::netns::Isolate::Off;
        Setup::resolve(&off).expect("a run without isolation needs no namespace")
    });
    let mut report = assemble(config, setup, reports, started, None);
    report.incomplete = true;
    report.interrupted_by = Some(signal.to_string());
    report
}

/// Why a check ended the grade instead of giving a report.
pub(super) enum Halt {
    /// The program cannot be launched: the reason, for a report in which no check runs.
    CannotLaunch(Message),
    /// The command, or the grader, cannot work: no report.
    Error(Error),
}

/// The report of a check that did not run, with the reason.
pub(super) fn not_run(config: &GradeConfig, check: &suite::Check, message: Message) -> CheckReport {
    CheckReport {
        id: check.id.clone(),
        level: check.level,
        required: check.level <= config.required_level,
        requirement: check.requirement.clone(),
        concept: check.concept.clone(),
        points: check.points,
        points_earned: 0.0,
        counts: check.counts(&config.suite),
        visibility: check.visibility(&config.suite),
        outcome: Outcome::NotRun,
        message: message.english(),
        message_key: Some(message),
        deadline_secs: 0.0,
        duration_secs: 0.0,
        input: None,
        expected: None,
        actual: None,
        differs_at: None,
        seed: None,
        replay: None,
        transcript: Vec::new(),
        transcript_dropped: 0,
        exit: None,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        harness_fault: false,
        address_ignored: None,
        localized: None,
        cause: None,
        serving: None,
        shrinking: None,
        not_ready: None,
        over_limit: None,
        diagnosis: None,
    }
}

/// Whose fault a launch error is. The program's (its file is missing, not executable, not a program):
/// the reason, for a report that says so. The command's (the interpreter is not installed) or the
/// grader's: `None`, a usage error without a report.
pub(super) fn program_cannot_launch(error: &LaunchError) -> Option<Message> {
    // As the command named it: `./a.out`, not the absolute path it was resolved to.
    let cwd = std::env::current_dir().unwrap_or_default();
    let shown = |path: &std::path::Path| {
        let path = path.strip_prefix(&cwd).unwrap_or(path);
        path.strip_prefix(".").unwrap_or(path).display().to_string()
    };
    match error {
        LaunchError::NoSuchFile { path } => {
            Some(Message::new(key::CANNOT_LAUNCH_NO_SUCH_FILE).arg("path", shown(path)))
        }
        LaunchError::IsDirectory { path } => {
            Some(Message::new(key::CANNOT_LAUNCH_DIRECTORY).arg("path", shown(path)))
        }
        LaunchError::NotExecutable { path } => {
            Some(Message::new(key::CANNOT_LAUNCH_NOT_EXECUTABLE).arg("path", shown(path)))
        }
        // The file is there but the kernel will not run it: no `#!` line, a `#!` naming an interpreter
        // that does not exist, no permission.
        LaunchError::Spawn { program, source }
            if matches!(
                source.raw_os_error(),
                Some(libc::ENOEXEC | libc::EACCES | libc::ENOENT | libc::ENOTDIR | libc::ELOOP)
            ) =>
        {
            Some(
                Message::new(key::CANNOT_LAUNCH_CANNOT_START)
                    .arg("program", program.to_string())
                    .arg("error", source.to_string()),
            )
        }
        LaunchError::Empty
        | LaunchError::NotFound { .. }
        | LaunchError::Workdir { .. }
        | LaunchError::Capture { .. }
        | LaunchError::Spawn { .. } => None,
    }
}
