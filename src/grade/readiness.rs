//! A program that never becomes ready, or goes over a resource limit at every launch: when it fails to
//! listen or to connect the same way in two checks in a row, or goes over the same limit in two checks in
//! a row (a fork bomb, a program that allocates too much as it starts), the checks after them are not
//! run, with one cause for all. Each further check would only wait out its deadlines to say it again.

use super::cause::{self, Cause};
use super::not_run::not_run;
use super::suite::{self, Program, Suite};
use super::verdict::{CheckReport, Outcome};
use super::words::phrase;
use super::GradeConfig;
use crate::i18n::{key, Message};

/// Why the checks after two alike are not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Stuck {
    /// The program failed to become ready, this way, in two checks in a row.
    NeverReady(String),
    /// The program went over this limit ("the process limit of 128") in two checks in a row.
    OverLimit(String),
}

impl Stuck {
    /// How the check just made was stuck, if it was.
    fn of(report: &CheckReport) -> Option<Stuck> {
        report
            .not_ready
            .clone()
            .map(Stuck::NeverReady)
            .or_else(|| report.over_limit.clone().map(Stuck::OverLimit))
    }

    /// True when `report` failed this way.
    fn marks(&self, report: &CheckReport) -> bool {
        Stuck::of(report).as_ref() == Some(self)
    }

    /// The message of a check not run for it.
    fn not_run_message(&self) -> Message {
        match self {
            Stuck::NeverReady(how) => {
                Message::new(key::NOT_RUN_NEVER_READY).arg("how", phrase(how))
            }
            Stuck::OverLimit(limit) => {
                Message::new(key::NOT_RUN_OVER_LIMIT).arg("limit", limit.as_str())
            }
        }
    }

    /// True when `report` is a check not run for it.
    fn not_run_for(&self, report: &CheckReport) -> bool {
        report.outcome == Outcome::NotRun
            && report.diagnosis.is_none()
            && report.message == self.not_run_message().english()
    }
}

/// How the program failed, check after check.
#[derive(Debug, Default)]
pub(super) struct Readiness {
    /// How the last check that ran was stuck, if it was.
    last: Option<Stuck>,
    /// Set once two checks in a row were stuck the same way: the checks after them will not run.
    never: Option<Stuck>,
}

impl Readiness {
    /// Why the next check is not run, once the program was stuck twice the same way in a row and the
    /// suite's checks need what it lacked (the UDP sender's need no ready program, only its limits).
    pub(super) fn stuck(&self, suite: &Suite) -> Option<&Stuck> {
        self.never
            .as_ref()
            .filter(|stuck| matches!(stuck, Stuck::OverLimit(_)) || needs_ready(suite))
    }

    /// Takes in the report of the check just made.
    pub(super) fn saw(&mut self, report: &CheckReport) {
        match Stuck::of(report) {
            Some(stuck) => {
                if self.never.is_none() && self.last.as_ref() == Some(&stuck) {
                    self.never = Some(stuck.clone());
                }
                self.last = Some(stuck);
            }
            // A check that ran and was not stuck breaks the row; one that did not run does not.
            None if report.outcome != Outcome::NotRun => self.last = None,
            None => {}
        }
    }

    /// Gives the checks that were stuck and those not run for it one cause; a traceback that one of
    /// them found is its detail.
    pub(super) fn explain(&self, reports: &mut [CheckReport]) {
        let Some(stuck) = &self.never else {
            return;
        };
        let count = reports.iter().filter(|r| stuck.marks(r)).count();
        let shared = match stuck {
            Stuck::NeverReady(how) => {
                let mut shared = cause::never_ready(how, count);
                shared.detail = reports
                    .iter()
                    .filter_map(|r| r.diagnosis.as_ref())
                    .find_map(|c| c.detail.clone());
                shared
            }
            // What the checks over the limit were found to share (the traceback of a refused fork)
            // explains the checks not run as well; without it, the limit itself.
            Stuck::OverLimit(limit) => reports
                .iter()
                .filter(|r| stuck.marks(r))
                .find_map(|r| r.diagnosis.clone())
                .unwrap_or_else(|| over_limit(limit, count)),
        };
        for report in reports {
            if stuck.marks(report) || stuck.not_run_for(report) {
                report.diagnosis = Some(shared.clone());
            }
        }
    }
}

/// The cause of checks over a limit, and of those not run after them, when nothing more precise is known.
fn over_limit(limit: &str, checks: usize) -> Cause {
    Cause::new(
        format!("over-limit:{limit}"),
        Message::new(key::CAUSE_OVER_LIMIT)
            .arg("limit", limit)
            .arg("count", checks),
    )
}

/// True when the suite's checks need a program that listens or connects first (all but the UDP
/// sender's, which only sends).
pub(super) fn needs_ready(suite: &Suite) -> bool {
    suite.program != Program::UdpSender
}

/// The report of a check not run because the program was stuck the same way in the checks before it.
pub(super) fn not_run_stuck(
    config: &GradeConfig,
    check: &suite::Check,
    stuck: &Stuck,
) -> CheckReport {
    let mut report = not_run(config, check, stuck.not_run_message());
    // Alone, the check may well find a program that starts: it can be replayed.
    report.replay = Some(config.replay(Some(&check.id)));
    report
}
