//! The grader: launches a program under test from a command template, drives it over loopback with the
//! checks of a suite, and reports per check what held and what failed.
//!
//! - [`suite`]: the assignments as data; [`template`]: the command line with its placeholders.
//! - [`launch`], [`capture`], [`procfs`]: running a program safely, seeing its output, finding its sockets.
//! - [`ctx`], [`conn`], [`checks`]: one check's world, the grader's side of a connection, the checks.
//! - [`verdict`]: outcomes and evidence.

pub mod capture;
pub mod cgroup;
pub mod checks;
pub mod conn;
pub mod ctx;
pub mod launch;
pub mod procfs;
pub mod suite;
pub mod template;
pub mod verdict;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use ctx::{Ctx, Options};
use suite::{Level, Run, Suite};
use template::Template;
use verdict::{CheckReport, Evidence, Outcome, PortIgnored};

/// Everything a grading run needs, checked before anything runs.
#[derive(Debug, Clone)]
pub struct GradeConfig {
    pub suite: Suite,
    /// The suite as the user named it (a built-in name or a path), for the replay command.
    pub suite_source: String,
    pub template: Template,
    /// Checks at this level and below are required; higher levels are run as information.
    pub required_level: Level,
    /// Ids or globs (`*`, `?`): only these checks run (all when empty).
    pub only: Vec<String>,
    /// Ids or globs of checks not to run.
    pub skip: Vec<String>,
    pub seed: u64,
    pub options: Options,
}

/// The server mode a program achieves, judged from the sequential and concurrent checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerMode {
    /// Serves nobody correctly.
    None,
    /// Serves one client.
    Single,
    /// Serves clients one by one.
    Sequential,
    /// Serves clients at once.
    Concurrent,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub passed: usize,
    pub failed: usize,
    pub timeout: usize,
    pub crash: usize,
    pub not_run: usize,
    pub required_passed: usize,
    pub required_total: usize,
    pub points: f64,
    pub max_points: f64,
    /// True when every required check passed.
    pub success: bool,
    /// True when the grader itself failed somewhere: the result cannot be trusted.
    pub harness_fault: bool,
}

/// A grading run's report: what `sockspec grade --format json` writes, and what a batch stores per student
/// and assignment (fields added later have defaults, so older reports still read).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GradeReport {
    pub sockspec_version: String,
    pub suite: String,
    pub suite_description: String,
    pub command: String,
    pub seed: u64,
    pub strict: bool,
    pub required_level: Level,
    /// The reply prefix of echo suites.
    pub prefix: String,
    pub timeout_scale: f64,
    /// The selection: `--only` and `--skip` globs (empty: none given).
    pub only: Vec<String>,
    pub skip: Vec<String>,
    /// The command line that runs this grading again: the same checks, inputs and settings.
    pub replay: String,
    /// For servers with sequential and concurrent checks: the mode the program achieves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ServerMode>,
    /// Things the program got away with that a reader should know, one line each (e.g. a server that
    /// ignored the `{port}` it was given).
    pub notes: Vec<String>,
    pub checks: Vec<CheckReport>,
    pub summary: Summary,
    pub duration_secs: f64,
    /// When the run started, UTC, RFC 3339 (`2025-03-01T09:30:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The machine that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Set when the program could not be launched at all (a missing submission file): every check is
    /// not-run with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_error: Option<String>,
    /// Set when the run did not finish (interrupted): why. Its checks are those that finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// Runs the selected checks in suite order; `on_check` sees each report as it is made (for progress).
pub fn grade(config: &GradeConfig, mut on_check: impl FnMut(&CheckReport)) -> Result<GradeReport> {
    let started = Instant::now();
    let started_at = std::time::SystemTime::now();
    let selected = selected_checks(config)?;
    let mut reports = Vec::with_capacity(selected.len());
    for check in selected {
        let report = run_check(config, check)?;
        on_check(&report);
        reports.push(report);
    }
    let mut report = report_of(config, reports, started_at);
    report.duration_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The report of a program that could not be launched at all (a submission file that is missing): every
/// selected check not-run with `reason`, so a class summary has a row for it with zero points.
pub fn not_launched(config: &GradeConfig, reason: &str) -> Result<GradeReport> {
    let checks = selected_checks(config)?
        .into_iter()
        .map(|check| {
            let mut report = CheckReport::unrun(check, config, reason);
            report.replay = Some(config.replay(Some(&check.id)));
            report
        })
        .collect();
    let mut report = report_of(config, checks, std::time::SystemTime::now());
    report.launch_error = Some(reason.to_string());
    // Nothing was served or refused: no mode to state.
    report.mode = None;
    Ok(report)
}

/// The checks `--only` and `--skip` select, in suite order.
fn selected_checks(config: &GradeConfig) -> Result<Vec<&suite::Check>> {
    let selected: Vec<&suite::Check> = config
        .suite
        .checks
        .iter()
        .filter(|c| config.only.is_empty() || config.only.iter().any(|p| glob(p, &c.id)))
        .filter(|c| !config.skip.iter().any(|p| glob(p, &c.id)))
        .collect();
    if selected.is_empty() {
        return Err(Error::Usage(format!(
            "no check of {} is selected by --only/--skip (see `sockspec grade --list {}`)",
            config.suite.name, config.suite.name
        )));
    }
    Ok(selected)
}

fn report_of(
    config: &GradeConfig,
    reports: Vec<CheckReport>,
    started_at: std::time::SystemTime,
) -> GradeReport {
    let mode = server_mode(&config.suite, &reports);
    let notes = notes(&reports);
    let summary = summarize(&reports);
    GradeReport {
        sockspec_version: env!("CARGO_PKG_VERSION").to_string(),
        suite: config.suite.name.clone(),
        suite_description: config.suite.description.clone(),
        command: config.template.display(),
        seed: config.seed,
        strict: config.options.strict,
        required_level: config.required_level,
        prefix: String::from_utf8_lossy(&config.options.prefix).into_owned(),
        timeout_scale: config.options.timeout_scale,
        only: config.only.clone(),
        skip: config.skip.clone(),
        replay: config.replay(None),
        mode,
        notes,
        checks: reports,
        summary,
        duration_secs: 0.0,
        started_at: Some(utc_timestamp(started_at)),
        hostname: hostname(),
        launch_error: None,
        incomplete: None,
    }
}

impl CheckReport {
    /// A check that was not run, for `reason`.
    fn unrun(check: &suite::Check, config: &GradeConfig, reason: &str) -> CheckReport {
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
            message: reason.to_string(),
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
            port_ignored: None,
        }
    }
}

/// `time` as UTC RFC 3339 to the second (`2025-03-01T09:30:00Z`).
pub fn utc_timestamp(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil, inverted).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// This machine's name, for reports that carry it (JUnit's `hostname`).
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    (!name.is_empty()).then_some(name)
}

fn run_check(config: &GradeConfig, check: &suite::Check) -> Result<CheckReport> {
    let started = Instant::now();
    let seed = check_seed(config.seed, &check.id);
    let mut ctx = Ctx::new(
        &config.suite,
        check,
        &config.options,
        &config.template,
        seed,
    );
    let result = checks::run(&mut ctx).map_err(|f| ctx.classify(f));
    if let Some(error) = ctx.launch_error.take() {
        return Err(Error::Usage(format!(
            "cannot launch `{}`: {error}",
            config.template.display()
        )));
    }
    let deadline_secs = ctx.wait().as_secs_f64();
    let (transcript, transcript_dropped) = ctx.log.take();
    let port_ignored = ctx.port_ignored.map(|(given, addr)| PortIgnored {
        given,
        listened_on: addr.to_string(),
    });
    let leftovers = ctx.stop();
    drop(ctx);
    let failure = result.err();
    let outcome = failure.as_ref().map_or(Outcome::Pass, |f| f.outcome());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let (expected, actual, differs_at) = match failure.as_ref().map(|f| (&f.expected, &f.actual)) {
        Some((Some(expected), Some(actual))) => {
            let (expected, actual, at) = Evidence::compared(expected, actual);
            (Some(expected), Some(actual), at)
        }
        Some((expected, actual)) => (
            expected.as_deref().map(Evidence::of),
            actual.as_deref().map(Evidence::of),
            None,
        ),
        None => (None, None, None),
    };
    Ok(CheckReport {
        id: check.id.clone(),
        level: check.level,
        required: check.level <= config.required_level,
        requirement: check.requirement.clone(),
        concept: check.concept.clone(),
        points: check.points,
        points_earned: if outcome == Outcome::Pass {
            check.points
        } else {
            0.0
        },
        counts: check.counts(&config.suite),
        visibility: check.visibility(&config.suite),
        outcome,
        message: failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default(),
        deadline_secs,
        duration_secs: started.elapsed().as_secs_f64(),
        input: failure
            .as_ref()
            .and_then(|f| f.input.as_deref())
            .map(Evidence::of),
        expected,
        actual,
        differs_at,
        seed: check.run.is_property().then_some(config.seed),
        replay: (outcome != Outcome::Pass).then(|| config.replay(Some(&check.id))),
        transcript,
        transcript_dropped,
        exit: leftovers.exit,
        stdout_tail: text(&leftovers.stdout_tail),
        stderr_tail: text(&leftovers.stderr_tail),
        harness_fault: failure.as_ref().is_some_and(|f| f.harness),
        port_ignored,
    })
}

impl GradeConfig {
    /// The `sockspec grade` command line that grades again with the same inputs: the suite, the seed and
    /// every setting that can change a verdict and differs from its default. `check` replaces the
    /// selection with that one check (whose inputs do not depend on which other checks run).
    pub fn replay(&self, check: Option<&str>) -> String {
        use template::shell_quote;
        let mut line = format!(
            "sockspec grade {} --seed {}",
            shell_quote(&self.suite_source),
            self.seed
        );
        if self.required_level != self.suite.required_level {
            line.push_str(&format!(" --level {}", self.required_level));
        }
        if self.options.strict {
            line.push_str(" --strict");
        }
        let default_prefix = self
            .suite
            .prefix
            .as_deref()
            .unwrap_or(crate::peers::echo::DEFAULT_PREFIX);
        if self.options.prefix != default_prefix.as_bytes() {
            let prefix = String::from_utf8_lossy(&self.options.prefix);
            line.push_str(&format!(" --prefix {}", shell_quote(&prefix)));
        }
        if self.options.timeout_scale != 1.0 {
            line.push_str(&format!(" --timeout-scale {}", self.options.timeout_scale));
        }
        let (only, skip) = match check {
            Some(id) => (vec![id.to_string()], Vec::new()),
            None => (self.only.clone(), self.skip.clone()),
        };
        for id in &only {
            line.push_str(&format!(" --only {}", shell_quote(id)));
        }
        for id in &skip {
            line.push_str(&format!(" --skip {}", shell_quote(id)));
        }
        line.push_str(&format!(" -- {}", self.template.display()));
        line
    }
}

/// Each check gets its own seed from the run's seed and its id alone, so `--seed S --only ID` replays
/// one check of a run exactly, whatever else ran.
pub fn check_seed(seed: u64, id: &str) -> u64 {
    // FNV-1a of the id: stable across builds and platforms, unlike the std hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    checks::Mix::new(seed ^ hash).next_u64()
}

/// A seed for a run that was given none.
pub fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Keep seeds short enough to type back in.
    checks::Mix::new(nanos ^ u64::from(std::process::id())).next_u64() % 1_000_000_000
}

/// One line per thing the checks' verdicts do not show.
fn notes(reports: &[CheckReport]) -> Vec<String> {
    let ignored: Vec<&PortIgnored> = reports
        .iter()
        .filter_map(|r| r.port_ignored.as_ref())
        .collect();
    let mut notes = Vec::new();
    if let Some(first) = ignored.first() {
        notes.push(format!(
            "the program did not listen on the port it was given: {{port}} was {}, it listened on {} \
             ({} of {} checks); the grader found it through /proc, a client given the port would not",
            first.given,
            first.listened_on,
            ignored.len(),
            reports.len()
        ));
    }
    notes
}

fn server_mode(suite: &Suite, reports: &[CheckReport]) -> Option<ServerMode> {
    let kind = |id: &str| suite.check(id).map(|c| &c.run);
    let judged_by = |pred: &dyn Fn(&Run) -> bool| -> Option<bool> {
        let relevant: Vec<&CheckReport> = reports
            .iter()
            .filter(|r| kind(&r.id).is_some_and(pred))
            .collect();
        (!relevant.is_empty()).then(|| relevant.iter().all(|r| r.outcome == Outcome::Pass))
    };
    let concurrent = judged_by(&|r| matches!(r, Run::IdleFirstClient | Run::ManyClients { .. }));
    let sequential = judged_by(&|r| matches!(r, Run::ClientsInTurn { .. }));
    let served = reports
        .iter()
        .any(|r| r.outcome == Outcome::Pass && matches!(kind(&r.id), Some(Run::Exchange { .. })));
    match (sequential, concurrent) {
        (None, None) => None,
        (_, Some(true)) => Some(ServerMode::Concurrent),
        (Some(true), _) => Some(ServerMode::Sequential),
        (Some(false), _) if served => Some(ServerMode::Single),
        (None, Some(false)) => None,
        _ => Some(ServerMode::None),
    }
}

fn summarize(reports: &[CheckReport]) -> Summary {
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

/// Matches `*` (any run of characters) and `?` (one character); anything else matches itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_select_check_ids() {
        assert!(glob("echo-server/basic/*", "echo-server/basic/ascii"));
        assert!(glob("*/robust/*", "echo-server/robust/client-reset"));
        assert!(glob("echo-server/basic/ascii", "echo-server/basic/ascii"));
        assert!(!glob(
            "echo-server/basic/*",
            "echo-server/robust/large-message"
        ));
        assert!(!glob("echo-server/basic", "echo-server/basic/ascii"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
    }

    fn config(command: &[&str]) -> GradeConfig {
        let suite = Suite::load("echo-server").unwrap();
        let command: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        GradeConfig {
            template: Template::new(&command, &suite).unwrap(),
            required_level: suite.required_level,
            suite_source: "echo-server".into(),
            suite,
            only: Vec::new(),
            skip: Vec::new(),
            seed: 7,
            options: Options::default(),
        }
    }

    #[test]
    fn replay_of_a_default_run_names_only_the_seed() {
        assert_eq!(
            config(&["python3", "server"]).replay(None),
            "sockspec grade echo-server --seed 7 -- python3 server {port}"
        );
    }

    #[test]
    fn replay_keeps_every_setting_that_changes_a_verdict() {
        let mut config = config(&["python3", "my server", "{port}"]);
        config.required_level = Level::Robust;
        config.options.strict = true;
        config.options.prefix = "回声: ".as_bytes().to_vec();
        config.options.timeout_scale = 2.5;
        config.only = vec!["echo-server/basic/*".into()];
        config.skip = vec!["echo-server/basic/ascii".into()];
        assert_eq!(
            config.replay(None),
            "sockspec grade echo-server --seed 7 --level robust --strict --prefix '回声: ' \
             --timeout-scale 2.5 --only 'echo-server/basic/*' --skip echo-server/basic/ascii \
             -- python3 'my server' {port}"
        );
        assert_eq!(
            config.replay(Some("echo-server/basic/property")),
            "sockspec grade echo-server --seed 7 --level robust --strict --prefix '回声: ' \
             --timeout-scale 2.5 --only echo-server/basic/property -- python3 'my server' {port}"
        );
    }

    #[test]
    fn timestamps_are_utc_rfc3339() {
        use std::time::{Duration, UNIX_EPOCH};
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap_day = UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723);
        assert_eq!(utc_timestamp(leap_day), "2000-02-29T01:02:03Z");
        let later = UNIX_EPOCH + Duration::from_secs(1_735_689_599);
        assert_eq!(utc_timestamp(later), "2024-12-31T23:59:59Z");
    }

    #[test]
    fn a_program_not_launched_gets_every_check_not_run_and_no_points() {
        // The template itself must be valid (it names a file that exists): the reason is the caller's.
        let command = ["python3", "fixtures/submissions/echo/threaded.py"];
        let report = not_launched(&config(&command), "server.py is missing").unwrap();
        assert_eq!(report.launch_error.as_deref(), Some("server.py is missing"));
        assert!(report.checks.iter().all(|c| c.outcome == Outcome::NotRun
            && c.message == "server.py is missing"
            && c.replay.is_some()));
        assert_eq!(report.summary.not_run, report.checks.len());
        assert_eq!(report.summary.points, 0.0);
        assert!(!report.summary.success);
        let text = serde_json::to_string(&report).unwrap();
        let back: GradeReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.launch_error, report.launch_error);
    }

    #[test]
    fn check_seeds_differ_per_check_and_repeat_per_seed() {
        assert_eq!(check_seed(1, "a/b/c"), check_seed(1, "a/b/c"));
        assert_ne!(check_seed(1, "a/b/c"), check_seed(1, "a/b/d"));
        assert_ne!(check_seed(1, "a/b/c"), check_seed(2, "a/b/c"));
    }
}
