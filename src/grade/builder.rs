//! Grading from Rust code (a project's own tests): a builder over [`GradeConfig`] and [`grade`](super::grade).
//!
//! ```no_run
//! use sockspec::grade::Grade;
//!
//! let report = Grade::suite("echo-server")?
//!     .command(["python3", "server.py"])
//!     .seed(7)
//!     .run()?;
//! assert!(report.passed(), "{}", sockspec::report::human(&report, false));
//! # Ok::<(), sockspec::Error>(())
//! ```

use super::ctx::Options;
use super::launch;
use super::netns::Isolate;
use super::suite::{Level, Suite};
use super::template::Template;
use super::verdict::{CheckReport, Outcome};
use super::{GradeConfig, GradeReport};
use crate::error::{Error, Result};
use crate::i18n::Lang;

/// A grading run being set up: a suite, the program's command, and the settings the command line's flags
/// give (each defaults as `sockspec grade` does). [`run`](Grade::run) grades and returns the report.
#[derive(Debug, Clone)]
#[must_use = "a Grade does nothing until run"]
pub struct Grade {
    suite: Suite,
    source: String,
    command: Vec<String>,
    seed: Option<u64>,
    level: Option<Level>,
    only: Vec<String>,
    skip: Vec<String>,
    strict: bool,
    prefix: Option<Vec<u8>>,
    timeout_scale: f64,
    lang: Lang,
    isolate: Isolate,
    packets: bool,
}

impl Grade {
    /// Starts from a built-in suite (`echo-server`, `chat-client`, ...) or the path of a suite file.
    pub fn suite(name_or_path: &str) -> Result<Grade> {
        Ok(Grade::with_suite(Suite::load(name_or_path)?, name_or_path))
    }

    /// Starts from a suite already loaded (or built in code); `source` names it in the replay line.
    pub fn with_suite(suite: Suite, source: impl Into<String>) -> Grade {
        Grade {
            suite,
            source: source.into(),
            command: Vec::new(),
            seed: None,
            level: None,
            only: Vec::new(),
            skip: Vec::new(),
            strict: false,
            prefix: None,
            timeout_scale: 1.0,
            lang: Lang::En,
            isolate: Isolate::Auto,
            packets: false,
        }
    }

    /// The program's command line, with placeholders (`{host}`, `{port}`, `{file}`, `{out}`); when it
    /// names none, the suite's own are added at the end (`{port}` for a server). Relative paths of files
    /// are taken from the current directory.
    pub fn command(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// The seed of the generated inputs (default: a fresh one, which the report names).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks at this level and below are required (default: the suite's).
    pub fn level(mut self, level: Level) -> Self {
        self.level = Some(level);
        self
    }

    /// Runs only the checks whose id matches `pattern` (`*` and `?`); may be given several times.
    pub fn only(mut self, pattern: impl Into<String>) -> Self {
        self.only.push(pattern.into());
        self
    }

    /// Skips the checks whose id matches `pattern`; may be given several times.
    pub fn skip(mut self, pattern: impl Into<String>) -> Self {
        self.skip.push(pattern.into());
        self
    }

    /// Exact comparison: replies exactly PREFIX + message + newline, printed lines exactly the text.
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// The reply prefix of echo suites (default: the suite's, `ECHO：`).
    pub fn prefix(mut self, prefix: impl Into<Vec<u8>>) -> Self {
        self.prefix = Some(prefix.into());
        self
    }

    /// Multiplies every deadline (above 0, at most 100; default 1).
    pub fn timeout_scale(mut self, scale: f64) -> Self {
        self.timeout_scale = scale;
        self
    }

    /// The language of the report's `localized` texts and of its human form (default: English; the
    /// environment's is [`Lang::from_env`]).
    pub fn lang(mut self, lang: Lang) -> Self {
        self.lang = lang;
        self
    }

    /// Whether each launch runs in a private network namespace (`--isolate`): [`Isolate::Auto`] (the
    /// default) where the system allows it, [`Isolate::On`] or refuse to grade, [`Isolate::Off`] never.
    pub fn isolate(mut self, isolate: Isolate) -> Self {
        self.isolate = isolate;
        self
    }

    /// Adds the program's TCP segments to each check's wire transcript (`--packets`; needs a private
    /// network namespace and root).
    pub fn packets(mut self, packets: bool) -> Self {
        self.packets = packets;
        self
    }

    /// The checked configuration; `sockspec grade` builds its own through this too.
    pub fn config(self) -> Result<GradeConfig> {
        if self.command.is_empty() {
            return Err(Error::Usage(
                "no program to grade: give its command, e.g. .command([\"python3\", \"server.py\"])"
                    .into(),
            ));
        }
        let scale = self.timeout_scale;
        if !(scale.is_finite() && scale > 0.0 && scale <= 100.0) {
            return Err(Error::Usage(format!(
                "timeout scale {scale} is not a factor between 0 and 100"
            )));
        }
        let template = Template::new(&self.command, &self.suite)?;
        // A program named without a path (`python3`) that is not installed fails for every submission:
        // the command's fault, a usage error now. A path (`./a.out`) names the submission itself, whose
        // absence is reported as the program's (see `grade::grade`).
        if let Some(name) = template.argv().first().filter(|n| !n.contains(['/', '{'])) {
            launch::resolve_program(name, &[]).map_err(|e| Error::Usage(e.to_string()))?;
        }
        let mut options = Options {
            strict: self.strict,
            timeout_scale: scale,
            isolate: self.isolate,
            packets: self.packets,
            ..Options::default()
        };
        if let Some(prefix) = self
            .prefix
            .or_else(|| self.suite.prefix.as_ref().map(|p| p.as_bytes().to_vec()))
        {
            options.prefix = prefix;
        }
        Ok(GradeConfig {
            suite_source: self.source,
            required_level: self.level.unwrap_or(self.suite.required_level),
            template,
            only: self.only,
            skip: self.skip,
            seed: self.seed.unwrap_or_else(super::fresh_seed),
            options,
            suite: self.suite,
            lang: self.lang,
        })
    }

    /// Grades: runs the selected checks and returns the report. `Err` only when grading could not
    /// happen (a bad command, no check selected, a program that cannot be launched); a program that
    /// fails checks gives a report whose [`passed`](GradeReport::passed) is false.
    pub fn run(self) -> Result<GradeReport> {
        self.run_with_progress(|_| {})
    }

    /// As [`run`](Grade::run), calling `on_check` with each check's report as it is made.
    pub fn run_with_progress(self, on_check: impl FnMut(&CheckReport)) -> Result<GradeReport> {
        super::grade(&self.config()?, on_check)
    }
}

/// What a test asks of a report.
impl GradeReport {
    /// True when every required check passed and the grader itself had no fault.
    pub fn passed(&self) -> bool {
        self.summary.success && !self.summary.harness_fault
    }

    /// The checks that did not pass (required or not), in suite order.
    pub fn not_passed(&self) -> impl Iterator<Item = &CheckReport> {
        self.checks.iter().filter(|c| c.outcome != Outcome::Pass)
    }

    /// The report of the check with this id, if it ran.
    pub fn check(&self, id: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_those_of_the_command_line() {
        let config = Grade::suite("echo-server")
            .unwrap()
            .command(["python3", "server"])
            .seed(3)
            .config()
            .unwrap();
        assert_eq!(config.required_level, config.suite.required_level);
        assert_eq!(config.options.prefix, "ECHO：".as_bytes());
        assert!(!config.options.strict);
        assert_eq!(
            config.replay(None),
            "sockspec grade echo-server --seed 3 -- python3 server {port}"
        );
    }

    #[test]
    fn settings_reach_the_config_and_the_replay_line() {
        let config = Grade::suite("echo-server")
            .unwrap()
            .command(["python3", "server", "{port}"])
            .seed(9)
            .level(Level::Robust)
            .strict(true)
            .prefix("回声：")
            .timeout_scale(2.0)
            .only("echo-server/basic/*")
            .skip("echo-server/basic/ascii")
            .config()
            .unwrap();
        assert_eq!(
            config.replay(None),
            "sockspec grade echo-server --seed 9 --level robust --strict --prefix '回声：' \
             --timeout-scale 2 --only 'echo-server/basic/*' --skip echo-server/basic/ascii \
             -- python3 server {port}"
        );
    }

    #[test]
    fn a_missing_command_or_a_bad_scale_is_a_usage_error() {
        let err = Grade::suite("echo-server").unwrap().config().unwrap_err();
        assert!(err.to_string().contains(".command("), "{err}");
        let err = Grade::suite("echo-server")
            .unwrap()
            .command(["x"])
            .timeout_scale(0.0)
            .config()
            .unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
    }

    #[test]
    fn isolation_reaches_the_options_and_the_replay_line() {
        let config = Grade::suite("echo-server")
            .unwrap()
            .command(["python3", "server"])
            .seed(1)
            .isolate(Isolate::Off)
            .config()
            .unwrap();
        assert_eq!(config.options.isolate, Isolate::Off);
        assert!(
            config.replay(None).contains("--isolate=off"),
            "{}",
            config.replay(None)
        );
    }

    #[test]
    fn a_program_that_is_not_installed_is_a_usage_error() {
        let err = Grade::suite("echo-server")
            .unwrap()
            .command(["no-such-interpreter-sockspec", "server.py"])
            .config()
            .unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
    }

    #[test]
    fn an_unknown_suite_is_an_error() {
        assert!(Grade::suite("no-such-suite").is_err());
    }
}
