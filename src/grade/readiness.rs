//! A program that never becomes ready: when it fails to listen or to connect the same way in two checks
//! in a row, the checks after them that need a ready program are not run, with one cause for all.

use super::cause;
use super::not_run::not_run;
use super::suite::{self, Program, Suite};
use super::verdict::{CheckReport, Outcome};
use super::words::phrase;
use super::GradeConfig;
use crate::i18n::{key, Message};

/// The start of the message of a check not run because the program never became ready (the English
/// text of `not-run-never-ready`).
const NEVER_READY: &str = "not run: the program never became ready";

/// How the program failed to become ready, check after check.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    /// How the last check that ran failed to get a ready program, if it did.
    last: Option<String>,
    /// Set once two checks in a row failed the same way: the checks after them will not run.
    never: Option<String>,
}

impl Readiness {
    /// How the program never became ready, once it failed twice the same way in a row.
    pub(super) fn never(&self) -> Option<&str> {
        self.never.as_deref()
    }

    /// Takes in the report of the check just made.
    pub(super) fn saw(&mut self, report: &CheckReport) {
        match &report.not_ready {
            Some(how) => {
                if self.never.is_none() && self.last.as_ref() == Some(how) {
                    self.never = Some(how.clone());
                }
                self.last = Some(how.clone());
            }
            // A check that ran and got a ready program breaks the row; one that did not run does not.
            None if report.outcome != Outcome::NotRun => self.last = None,
            None => {}
        }
    }

    /// Gives the checks that failed to start and those not run for it one cause; a traceback that
    /// one of them found is its detail.
    pub(super) fn explain(&self, reports: &mut [CheckReport]) {
        let Some(how) = &self.never else {
            return;
        };
        let detail = reports
            .iter()
            .filter_map(|r| r.diagnosis.as_ref())
            .find_map(|c| c.detail.clone());
        let count = reports
            .iter()
            .filter(|r| r.not_ready.as_deref() == Some(how))
            .count();
        let mut shared = cause::never_ready(how, count);
        shared.detail = detail;
        for report in reports {
            if report.not_ready.as_deref() == Some(how.as_str())
                || report.outcome == Outcome::NotRun
                    && report.diagnosis.is_none()
                    && report.message.starts_with(NEVER_READY)
            {
                report.diagnosis = Some(shared.clone());
            }
        }
    }
}

/// True when the suite's checks need a program that listens or connects first (all but the UDP
/// sender's, which only sends).
pub(super) fn needs_ready(suite: &Suite) -> bool {
    suite.program != Program::UdpSender
}

/// The report of a check not run because the program never became ready in the checks before it.
pub(super) fn not_run_never_ready(
    config: &GradeConfig,
    check: &suite::Check,
    how: &str,
) -> CheckReport {
    let mut report = not_run(
        config,
        check,
        Message::new(key::NOT_RUN_NEVER_READY).arg("how", phrase(how)),
    );
    // Alone, the check may well find a program that starts: it can be replayed.
    report.replay = Some(config.replay(Some(&check.id)));
    report
}
