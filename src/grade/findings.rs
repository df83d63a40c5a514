//! What a whole grade found beyond each check's verdict: the root causes said once, the mode a server
//! achieves, notes, and the summary.

use serde::{Deserialize, Serialize};

use super::cause::Cause;
use super::suite::{Run, Suite};
use super::verdict::{AddressAction, AddressIgnored, CheckReport, Outcome, Serving};
use crate::i18n::Message;

/// The server mode a program achieves, judged from the sequential and concurrent checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ServerMode {
    /// Serves nobody correctly.
    None,
    /// Serves one client.
    Single,
    /// Serves clients one by one.
    Sequential,
    /// Serves clients at once.
    Concurrent,
    /// Serves clients, but no check could tell how (those that would did not get a ready program).
    Unknown,
}

/// One root cause of failed checks, said once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CauseReport {
    /// `C1`, `C2`, ...: checks refer to it by this id.
    pub id: String,
    /// What the program does wrong, and the fix.
    pub summary: String,
    /// `summary` by its id and arguments (the report's `localized` texts hold it in its language).
    #[serde(skip)]
    pub said: Option<Message>,
    /// Evidence shown once (a traceback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The ids of the checks it explains.
    pub checks: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
/// Counts and points over a run's checks.
pub struct Summary {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
    /// Checks that timed out.
    pub timeout: usize,
    /// Checks whose program crashed.
    pub crash: usize,
    /// Checks not run.
    pub not_run: usize,
    /// Checks whose program ran into a resource limit.
    pub limit: usize,
    /// Required checks that passed.
    pub required_passed: usize,
    /// Required checks.
    pub required_total: usize,
    /// Points earned by checks that count.
    pub points: f64,
    /// Points available from checks that count.
    pub max_points: f64,
    /// True when every required check passed.
    pub success: bool,
    /// True when the grader itself failed somewhere: the result cannot be trusted.
    pub harness_fault: bool,
}

/// Gives each distinct cause an id (in the order the checks met them) and the checks their cause's id.
pub fn group_causes(reports: &mut [CheckReport]) -> Vec<CauseReport> {
    let mut causes: Vec<(Cause, CauseReport)> = Vec::new();
    for report in reports.iter_mut() {
        let Some(cause) = report.diagnosis.clone() else {
            continue;
        };
        let n = match causes.iter().position(|(c, _)| c.key == cause.key) {
            Some(n) => n,
            None => {
                causes.push((
                    cause.clone(),
                    CauseReport {
                        id: format!("C{}", causes.len() + 1),
                        summary: cause.summary.clone(),
                        said: Some(cause.said.clone()),
                        detail: cause.detail.clone(),
                        checks: Vec::new(),
                    },
                ));
                causes.len() - 1
            }
        };
        causes[n].1.checks.push(report.id.clone());
        report.cause = Some(causes[n].1.id.clone());
    }
    causes.into_iter().map(|(_, report)| report).collect()
}

/// One line per thing the checks' verdicts do not show: for each way the program used an address of
/// its own, the first time and how often.
pub fn notes(reports: &[CheckReport]) -> Vec<String> {
    let mut notes = Vec::new();
    for action in [
        AddressAction::Listened,
        AddressAction::Connected,
        AddressAction::Sent,
    ] {
        let seen: Vec<&AddressIgnored> = reports
            .iter()
            .filter_map(|r| r.address_ignored.as_ref())
            .filter(|a| a.action == action)
            .collect();
        let Some(first) = seen.first() else {
            continue;
        };
        let count = format!("{} of {} checks", seen.len(), reports.len());
        let given = format!(
            "{} {}",
            first.given_host.as_deref().unwrap_or_default(),
            first.given_port
        );
        notes.push(match action {
            AddressAction::Listened if !first.used.ends_with(&format!(":{}", first.given_port)) => {
                format!(
                    "the program did not listen on the port it was given: {{port}} was {}, it \
                     listened on {} ({count}); the grader found it through /proc, a client given the \
                     port would not",
                    first.given_port, first.used
                )
            }
            AddressAction::Listened => format!(
                "the program listened only on {}, not on loopback or every interface ({count}); the \
                 grader reached it inside its private network, a client given 127.0.0.1 would not",
                first.used
            ),
            AddressAction::Connected => format!(
                "the program did not connect to the {{host}} {{port}} it was given ({}): it connected \
                 to {} ({count}); the grader caught the connection in the program's private network, \
                 a server at {{host}} {{port}} would not have",
                given.trim(),
                first.used
            ),
            AddressAction::Sent => format!(
                "the program did not send to the {{host}} {{port}} it was given ({}): it sent to {} \
                 ({count}); the grader caught the datagrams in the program's private network, a \
                 receiver at {{host}} {{port}} would not have",
                given.trim(),
                first.used
            ),
        });
    }
    notes
}

/// The mode a server achieves, from what the checks learnt about how it serves clients (never from a
/// check that failed for another reason: a wrong reply says nothing about concurrency).
pub fn server_mode(suite: &Suite, reports: &[CheckReport]) -> Option<ServerMode> {
    let kind = |id: &str| suite.check(id).map(|c| &c.run);
    let tells_mode = |r: &&CheckReport| {
        matches!(
            kind(&r.id),
            Some(Run::ClientsInTurn { .. } | Run::IdleFirstClient | Run::ManyClients { .. })
        )
    };
    if !reports.iter().any(|r| tells_mode(&r)) {
        return None;
    }
    let seen = |s: Serving| reports.iter().any(|r| r.serving == Some(s));
    let exchanged = reports.iter().any(|r| {
        r.outcome == Outcome::Pass
            && matches!(
                kind(&r.id),
                Some(Run::Exchange { .. } | Run::PropertyExchange { .. })
            )
    });
    let not_at_once =
        seen(Serving::NotAtOnce) || seen(Serving::OnlyInTurn) || seen(Serving::SingleClient);
    Some(if seen(Serving::AtOnce) && !not_at_once {
        ServerMode::Concurrent
    } else if seen(Serving::InTurn) || seen(Serving::OnlyInTurn) {
        ServerMode::Sequential
    } else if seen(Serving::SingleClient) {
        ServerMode::Single
    } else if exchanged || seen(Serving::AtOnce) {
        ServerMode::Unknown
    } else {
        ServerMode::None
    })
}

/// Counts outcomes and sums points over `reports`; a check the suite says does not count adds no
/// points.
pub fn summarize(reports: &[CheckReport]) -> Summary {
    let count = |o: Outcome| reports.iter().filter(|r| r.outcome == o).count();
    let required: Vec<&CheckReport> = reports.iter().filter(|r| r.required).collect();
    let required_passed = required
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .count();
    Summary {
        passed: count(Outcome::Pass),
        failed: count(Outcome::Fail),
        timeout: count(Outcome::Timeout),
        crash: count(Outcome::Crash),
        not_run: count(Outcome::NotRun),
        limit: count(Outcome::Limit),
        required_passed,
        required_total: required.len(),
        // A check the suite says does not count shows its points but adds none.
        points: reports
            .iter()
            .filter(|r| r.counts)
            .map(|r| r.points_earned)
            .sum(),
        max_points: reports.iter().filter(|r| r.counts).map(|r| r.points).sum(),
        success: required_passed == required.len(),
        harness_fault: reports.iter().any(|r| r.harness_fault),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A report of `id` with `outcome` and what it learnt about serving.
    fn report(id: &str, outcome: Outcome, serving: Option<Serving>) -> CheckReport {
        let config = crate::grade::tests::config(&["python3", "server"]);
        let check = config.suite.check(id).expect("a check of the suite");
        let mut report = crate::grade::not_run::not_run(&config, check, crate::grade::verbatim(""));
        report.outcome = outcome;
        report.serving = serving;
        report
    }

    #[test]
    fn a_server_that_serves_at_once_but_closes_after_one_message_is_concurrent() {
        let suite = Suite::load("echo-server").unwrap();
        let reports = [
            report("echo-server/basic/ascii", Outcome::Pass, None),
            report("echo-server/basic/several-messages", Outcome::Fail, None),
            report(
                "echo-server/sequential/five-clients",
                Outcome::Pass,
                Some(Serving::InTurn),
            ),
            report(
                "echo-server/concurrent/idle-first-client",
                Outcome::Pass,
                Some(Serving::AtOnce),
            ),
            // Closed after one message: says nothing about concurrency.
            report("echo-server/concurrent/fifty-clients", Outcome::Fail, None),
        ];
        assert_eq!(server_mode(&suite, &reports), Some(ServerMode::Concurrent));
    }

    #[test]
    fn a_sequential_server_whose_later_copies_could_not_start_is_not_single() {
        let suite = Suite::load("echo-server").unwrap();
        let not_started = |id| {
            let mut r = report(id, Outcome::Crash, None);
            r.not_ready = Some("exited (exit status 1) before it listened".into());
            r
        };
        let reports = [
            report("echo-server/basic/ascii", Outcome::Pass, None),
            not_started("echo-server/sequential/second-client"),
            not_started("echo-server/sequential/five-clients"),
            not_started("echo-server/concurrent/idle-first-client"),
        ];
        assert_eq!(server_mode(&suite, &reports), Some(ServerMode::Unknown));
        // The same server whose idle-first check saw it serve client 2 once client 1 left: sequential.
        let mut reports = reports.to_vec();
        reports[3] = report(
            "echo-server/concurrent/idle-first-client",
            Outcome::Fail,
            Some(Serving::OnlyInTurn),
        );
        assert_eq!(server_mode(&suite, &reports), Some(ServerMode::Sequential));
    }

    #[test]
    fn a_server_that_exits_after_its_client_is_single_and_one_that_serves_nobody_none() {
        let suite = Suite::load("echo-server").unwrap();
        let single = [
            report("echo-server/basic/ascii", Outcome::Pass, None),
            report(
                "echo-server/sequential/second-client",
                Outcome::Fail,
                Some(Serving::SingleClient),
            ),
        ];
        assert_eq!(server_mode(&suite, &single), Some(ServerMode::Single));
        let nobody = [
            report("echo-server/basic/ascii", Outcome::Fail, None),
            report("echo-server/sequential/second-client", Outcome::Fail, None),
        ];
        assert_eq!(server_mode(&suite, &nobody), Some(ServerMode::None));
    }
}
