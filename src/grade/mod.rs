//! The grader: launches a program under test from a command template, drives it over loopback with the
//! checks of a suite, and reports per check what held and what failed.
//!
//! - [`suite`]: the assignments as data; [`template`]: the command line with its placeholders.
//! - [`launch`], [`capture`], [`procfs`]: running a program safely, seeing its output, finding its sockets.
//! - [`netns`], [`limits`], [`cgroup`]: a private network per launch, resource limits, control groups;
//!   `packets` (internal): its TCP segments in the transcript (`--packets`).
//! - [`ctx`], [`conn`], [`datagram`], [`checks`]: one check's world, the grader's side of a TCP
//!   connection and of UDP, the checks.
//! - [`verdict`]: outcomes and evidence; [`localize`]: a report's texts in its language.
//! - `watch`, `printed` (internal): what the program prints, and how it is judged.
//! - [`verdict`], [`evidence`]: outcomes and the evidence shown; [`cause`]: one explanation for many
//!   failures; [`findings`]: what a whole grade found (causes, server mode, notes, summary).
//! - [`runs`], [`sweep`]: every live run in one registry, stopped at once on an interruption or by a
//!   watchdog; what a killed grader left, removed by the next one.
//! - [`Grade`]: grading from a test, a builder over [`GradeConfig`] and [`grade()`].

mod builder;
pub mod capture;
pub mod cause;
pub mod cgroup;
pub mod checks;
pub mod conn;
pub mod ctx;
pub mod datagram;
pub mod evidence;
pub mod findings;
pub mod launch;
pub mod limits;
pub mod localize;
pub mod netns;
mod not_run;
pub(crate) mod packets;
pub(crate) mod printed;
pub mod procfs;
mod readiness;
pub mod runs;
pub mod script;
pub mod suite;
pub mod sweep;
pub mod template;
pub mod verdict;
pub(crate) mod watch;
pub(crate) mod words;

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::i18n::{key, Lang, Message};
pub use builder::Grade;
use cause::Carried;
use ctx::{Ctx, GradeBudget, Options};
use findings::{group_causes, notes, server_mode, summarize};
pub use findings::{CauseReport, ServerMode, Summary};
use limits::{Limits, ProcessCap};
use netns::{IsolationReport, Plan};
pub use not_run::interrupted_report;
use not_run::{not_run, program_cannot_launch, Halt};
use readiness::Readiness;
use suite::{Level, Suite};
use template::Template;
use verdict::{CheckReport, Evidence, Outcome};

/// Everything a grading run needs, checked before anything runs. Outside this crate, build it with
/// [`Grade`] (it may grow fields).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GradeConfig {
    /// The assignment: its checks, deadlines and expected replies.
    pub suite: Suite,
    /// The suite as the user named it (a built-in name or a path), for the replay command.
    pub suite_source: String,
    /// The command that runs the program under test, with its placeholders (`{port}`, `{host}`...).
    pub template: Template,
    /// Checks at this level and below are required; higher levels are run as information.
    pub required_level: Level,
    /// Ids or globs (`*`, `?`): only these checks run (all when empty).
    pub only: Vec<String>,
    /// Ids or globs of checks not to run.
    pub skip: Vec<String>,
    /// The seed of generated inputs: the same seed gives the same cases.
    pub seed: u64,
    /// How the run goes: isolation, limits, time scale, parallelism and the like.
    pub options: Options,
    /// The language of the report's texts beside the English ones (`localized`), and of its human form.
    pub lang: Lang,
}

/// The limits of a run, as the report states them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LimitsReport {
    #[serde(flatten)]
    /// The limits a program ran under.
    pub limits: Limits,
    /// How the process limit was enforced: `pids-cgroup`, `rlimit` (approximate) or `none`.
    pub processes_enforced_by: ProcessCap,
}

/// A grading run's report: what `sockspec grade --format json` writes, and what a batch stores per student
/// and assignment (fields added later have defaults, so older reports still read).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GradeReport {
    /// The version of sockspec that graded.
    pub sockspec_version: String,
    /// The suite's name.
    pub suite: String,
    /// What the suite grades, in a sentence.
    pub suite_description: String,
    /// The command template the program was run with.
    pub command: String,
    /// The seed of generated inputs.
    pub seed: u64,
    /// Whether `--strict` compared exactly (replies exactly prefix + message + newline, printed
    /// lines exactly the text) instead of with the leeway the lesson allows.
    pub strict: bool,
    /// Checks at this level and below are required.
    pub required_level: Level,
    /// The reply prefix of echo suites.
    pub prefix: String,
    /// The factor every deadline was multiplied by.
    pub timeout_scale: f64,
    /// The selection: `--only` and `--skip` globs (empty: none given).
    pub only: Vec<String>,
    /// `--skip` globs (empty: none given).
    pub skip: Vec<String>,
    /// The command line that runs this grading again: the same checks, inputs and settings.
    pub replay: String,
    /// For servers with sequential and concurrent checks: the mode the program achieves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ServerMode>,
    /// Things a reader should know that no verdict shows, one line each (a server that ignored the
    /// `{port}` it was given, a run that could not isolate its programs).
    pub notes: Vec<String>,
    /// The network isolation the run actually used.
    #[serde(default)]
    pub isolation: IsolationReport,
    /// The resource limits each program ran under.
    #[serde(default)]
    pub limits: LimitsReport,
    /// Root causes of the checks that did not pass, each said once; checks name theirs by id.
    #[serde(default)]
    pub causes: Vec<CauseReport>,
    /// Every check run or not run, in suite order.
    pub checks: Vec<CheckReport>,
    /// Points and counts over the checks.
    pub summary: Summary,
    /// True when the grade was interrupted: the checks that had not finished are not run.
    #[serde(default)]
    pub incomplete: bool,
    /// The signal that interrupted the grade (`SIGTERM`), when one did.
    #[serde(default)]
    pub interrupted_by: Option<String>,
    /// Why the program could not be launched at all (every check is then not run), when it could not.
    #[serde(default)]
    pub cannot_launch: Option<String>,
    /// Wall time of the whole run, in seconds.
    pub duration_secs: f64,
    /// When the run started, UTC, RFC 3339 (`2025-03-01T09:30:00Z`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// The machine that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The language of `localized` and of the human report; absent in reports of older versions
    /// (English), which so read and write back the same bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<Lang>,
    /// The report's own texts in `lang` (each check has its own `localized`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localized: Option<localize::LocalizedReport>,
}

impl GradeReport {
    /// Why the grade did not finish (`interrupted by SIGTERM`), when it did not.
    pub fn incomplete_reason(&self) -> Option<String> {
        self.incomplete.then(|| match &self.interrupted_by {
            Some(signal) => format!("interrupted by {signal}"),
            None => "interrupted".to_string(),
        })
    }
}

/// Runs the selected checks in suite order; `on_check` sees each report as it is made (for progress).
///
/// A program that cannot be launched at all (its file is missing: the submission's fault) still gets a
/// report, with every check not run and the reason; a command that cannot work for anyone (an
/// interpreter that is not installed) is a usage error. Once the grade is interrupted
/// ([`runs::interrupt`]) the check that was running is dropped and [`Error::Interrupted`] returned: the
/// checks finished before it were all given to `on_check`, for [`interrupted_report`].
pub fn grade(config: &GradeConfig, mut on_check: impl FnMut(&CheckReport)) -> Result<GradeReport> {
    let started = Instant::now();
    let selected = selected(config)?;
    let setup = Setup::resolve(config)?;
    let budget = GradeBudget::new(config.options.timeout_scale);
    let mut cannot_launch = config.template.missing_file();
    let mut readiness = Readiness::default();
    let mut reports = Vec::with_capacity(selected.len());
    for check in selected {
        let report = match (&cannot_launch, readiness.stuck(&config.suite)) {
            (Some(why), _) => not_run(config, check, cannot_be_launched(why)),
            (None, Some(stuck)) => readiness::not_run_stuck(config, check, stuck),
            (None, _) => {
                let result = run_check(config, &setup.plan, check, &budget);
                // The interruption killed the program under test: what the check saw proves nothing.
                if runs::interrupted() {
                    return Err(Error::Interrupted);
                }
                match result {
                    Ok(report) => report,
                    Err(Halt::CannotLaunch(why)) => {
                        let report = not_run(config, check, cannot_be_launched(&why));
                        cannot_launch = Some(why);
                        report
                    }
                    Err(Halt::Error(error)) => return Err(error),
                }
            }
        };
        readiness.saw(&report);
        on_check(&report);
        reports.push(report);
    }
    readiness.explain(&mut reports);
    Ok(assemble(config, setup, reports, started, cannot_launch))
}

/// The report of a program that could not be launched at all, for a reason the caller found (a batch
/// whose student has no file matching the assignment's pattern): every selected check not run with
/// `reason`, score 0, so a class summary has a row for it.
pub fn not_launched(config: &GradeConfig, reason: &str) -> Result<GradeReport> {
    let reports = selected(config)?
        .into_iter()
        .map(|check| not_run(config, check, cannot_be_launched(&verbatim(reason))))
        .collect();
    let setup = Setup::resolve(config)?;
    Ok(assemble(
        config,
        setup,
        reports,
        Instant::now(),
        Some(verbatim(reason)),
    ))
}

/// The message of a check not run because the program cannot be launched, for the reason `why`.
fn cannot_be_launched(why: &Message) -> Message {
    Message::new(key::NOT_RUN_CANNOT_LAUNCH).arg("why", why.clone())
}

/// An English text that has no message id (yet): shown as it is in every language.
pub(crate) fn verbatim(text: &str) -> Message {
    Message::new(key::VERBATIM).arg("text", text)
}

fn selected(config: &GradeConfig) -> Result<Vec<&suite::Check>> {
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

/// What a run decides once, before its first check: the network of its launches and how the process
/// limit is enforced (both found by making, and dropping, one namespace and one cgroup as a launch would).
struct Setup {
    plan: Plan,
    isolation: IsolationReport,
    processes_enforced_by: ProcessCap,
}

impl Setup {
    fn resolve(config: &GradeConfig) -> Result<Setup> {
        let (plan, isolation) = Plan::resolve(config.options.isolate).map_err(Error::Usage)?;
        if config.options.packets {
            packets::check_available(&plan, isolation.limitation.as_deref())
                .map_err(Error::Usage)?;
        }
        Ok(Setup {
            plan,
            isolation,
            processes_enforced_by: process_cap(&config.suite.limits),
        })
    }
}

fn assemble(
    config: &GradeConfig,
    setup: Setup,
    mut reports: Vec<CheckReport>,
    started: Instant,
    cannot_launch: Option<Message>,
) -> GradeReport {
    let causes = group_causes(&mut reports);
    let mode = server_mode(&config.suite, &reports);
    let mut notes = notes(&reports);
    notes.extend(setup.isolation.note());
    if setup.processes_enforced_by == ProcessCap::None {
        notes.push(format!(
            "the process limit of {} was not enforced: no pids cgroup could be made, and \
             RLIMIT_NPROC does not bind root",
            config.suite.limits.processes
        ));
    }
    // Only the first note has an id so far; the others are shown in English in every language.
    let mut notes: Vec<Message> = notes.iter().map(|n| verbatim(n)).collect();
    if let Some(why) = &cannot_launch {
        notes.insert(0, cannot_be_launched(why));
    }
    let mut reports = reports;
    for report in &mut reports {
        report.localized = Some(localize::check_texts(&config.suite, report, config.lang));
    }
    let localized = localize::report_texts(
        &config.suite,
        &notes,
        cannot_launch.as_ref(),
        &causes,
        config.lang,
    );
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
        notes: notes.iter().map(Message::english).collect(),
        causes,
        isolation: setup.isolation,
        limits: LimitsReport {
            limits: config.suite.limits,
            processes_enforced_by: setup.processes_enforced_by,
        },
        checks: reports,
        summary,
        incomplete: false,
        interrupted_by: None,
        cannot_launch: cannot_launch.as_ref().map(Message::english),
        duration_secs: started.elapsed().as_secs_f64(),
        started_at: Some(utc_timestamp(
            std::time::SystemTime::now() - started.elapsed(),
        )),
        hostname: hostname(),
        lang: Some(config.lang),
        localized: Some(localized),
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

/// How the process limit will be enforced in this run: found by making (and removing) a cgroup as a
/// launch would.
fn process_cap(limits: &Limits) -> ProcessCap {
    let probe = format!("probe-{}-{}", std::process::id(), fresh_seed());
    match cgroup::RunGroup::create_limited(&probe, Some(limits.processes)) {
        Some(group) if group.limits_tasks() => ProcessCap::PidsCgroup,
        _ => limits::process_cap_without_cgroup(),
    }
}

fn run_check(
    config: &GradeConfig,
    plan: &Plan,
    check: &suite::Check,
    budget: &GradeBudget,
) -> Result<CheckReport, Halt> {
    let started = Instant::now();
    let seed = check_seed(config.seed, &check.id);
    let mut ctx = Ctx::new(
        &config.suite,
        check,
        &config.options,
        &config.template,
        plan,
        seed,
        budget,
    );
    let result = checks::run(&mut ctx).map_err(|f| ctx.classify(f));
    if let Some(error) = ctx.launch_error.take() {
        return Err(match program_cannot_launch(&error) {
            Some(why) => Halt::CannotLaunch(why),
            None => Halt::Error(Error::Usage(format!(
                "cannot launch `{}`: {error}",
                config.template.display()
            ))),
        });
    }
    let deadline_secs = ctx.wait().as_secs_f64();
    ctx.sync_output();
    let (transcript, transcript_dropped) = ctx.log.take();
    let address_ignored = ctx.address_ignored();
    let passed_serving = ctx.serving;
    let leftovers = ctx.stop();
    drop(ctx);
    let mut failure = result.err();
    // A limit the program ran into is a verdict of its own, and explains what the check saw.
    if let Some(breach) = &leftovers.breach {
        match failure.as_mut() {
            Some(f) if f.harness => {}
            Some(f) => {
                f.outcome = Some(Outcome::Limit);
                let why = f.said_message();
                f.reword(
                    Message::new(key::LIMIT_THEN)
                        .arg("breach", breach.to_string())
                        .arg("why", why),
                );
            }
            // A check that passed stays passed on the program's words alone (a `MemoryError` it caught
            // and printed); only the kernel's evidence makes it a breach.
            None if !breach.certain => {}
            None => {
                let mut f = verdict::Failure::fail(format!("the program {breach}"));
                f.outcome = Some(Outcome::Limit);
                failure = Some(f);
            }
        }
    }
    let outcome = failure.as_ref().map_or(Outcome::Pass, |f| f.outcome());
    let cause = failure.as_ref().and_then(|f| {
        f.about().cause.clone().or_else(|| {
            cause::diagnose(
                f.expected.as_deref(),
                f.actual.as_deref(),
                &leftovers.stderr_tail,
                &config.options.prefix,
                Carried::of(&check.run),
            )
        })
    });
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
    let report = CheckReport {
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
        // A message changed after it was said (`f.message` written over) is shown as it is, never as
        // the translation of what it said before.
        message_key: failure.as_ref().and_then(|f| {
            f.key
                .as_deref()
                .filter(|k| k.english() == f.message)
                .cloned()
        }),
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
        address_ignored,
        localized: None,
        cause: None,
        serving: failure
            .as_ref()
            .map_or(passed_serving, |f| f.about().serving),
        shrinking: failure.as_ref().and_then(|f| f.about().shrinking.clone()),
        not_ready: failure.as_ref().and_then(|f| f.about().not_ready.clone()),
        over_limit: leftovers
            .breach
            .as_ref()
            .filter(|b| b.certain && outcome == Outcome::Limit)
            .map(|b| config.suite.limits.describe(b.limit)),
        diagnosis: cause,
    };
    Ok(report)
}

impl GradeConfig {
    /// The checks `--only` and `--skip` select, in suite order; none is a usage error.
    pub fn selected(&self) -> Result<Vec<&suite::Check>> {
        selected(self)
    }

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
        if self.options.isolate != netns::Isolate::Auto {
            line.push_str(&format!(" --isolate={}", self.options.isolate));
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
pub(crate) mod tests {
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

    /// A configuration grading `command` with the echo-server suite.
    pub(crate) fn config(command: &[&str]) -> GradeConfig {
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
            lang: Lang::En,
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
        config.options.isolate = netns::Isolate::On;
        config.only = vec!["echo-server/basic/*".into()];
        config.skip = vec!["echo-server/basic/ascii".into()];
        assert_eq!(
            config.replay(None),
            "sockspec grade echo-server --seed 7 --level robust --strict --prefix '回声: ' \
             --timeout-scale 2.5 --isolate=on --only 'echo-server/basic/*' --skip \
             echo-server/basic/ascii -- python3 'my server' {port}"
        );
        assert_eq!(
            config.replay(Some("echo-server/basic/property")),
            "sockspec grade echo-server --seed 7 --level robust --strict --prefix '回声: ' \
             --timeout-scale 2.5 --isolate=on --only echo-server/basic/property -- python3 'my server' \
             {port}"
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
        assert_eq!(
            report.cannot_launch.as_deref(),
            Some("server.py is missing")
        );
        assert!(report.checks.iter().all(|c| c.outcome == Outcome::NotRun
            && c.message == "the program cannot be launched: server.py is missing"));
        assert_eq!(report.summary.not_run, report.checks.len());
        assert_eq!(report.summary.points, 0.0);
        assert!(!report.summary.success);
        let text = serde_json::to_string(&report).unwrap();
        let back: GradeReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back.cannot_launch, report.cannot_launch);
    }

    #[test]
    fn check_seeds_differ_per_check_and_repeat_per_seed() {
        assert_eq!(check_seed(1, "a/b/c"), check_seed(1, "a/b/c"));
        assert_ne!(check_seed(1, "a/b/c"), check_seed(1, "a/b/d"));
        assert_ne!(check_seed(1, "a/b/c"), check_seed(2, "a/b/c"));
    }
}
