//! Every message id the code uses, one constant each: code names a message only through [`key`], so the
//! test that every id is in both languages' files covers every id in use.

macro_rules! keys {
    ($($name:ident = $id:literal,)*) => {
        /// The message ids of `locales/*/*.ftl`, as constants.
        pub mod key {
            $(#[doc = concat!("`", $id, "`")]
            pub const $name: &str = $id;)*
            /// Every id above.
            pub const ALL: &[&str] = &[$($id),*];
        }
    };
}

keys! {
    // report.ftl: the frame of the human report.
    REPORT_TITLE = "report-title",
    REPORT_PROGRAM = "report-program",
    REPORT_SETTINGS = "report-settings",
    COMPARISON_STRICT = "report-comparison-strict",
    COMPARISON_LENIENT = "report-comparison-lenient",
    LEVEL_HEADING = "report-level-heading",
    ROLE_REQUIRED = "report-role-required",
    ROLE_INFORMATION = "report-role-information",
    LEVEL_BASIC = "level-basic",
    LEVEL_SEQUENTIAL = "level-sequential",
    LEVEL_CONCURRENT = "level-concurrent",
    LEVEL_ROBUST = "level-robust",
    LEVEL_SECURITY = "level-security",
    OUTCOME_PASS = "outcome-pass",
    OUTCOME_FAIL = "outcome-fail",
    OUTCOME_TIMEOUT = "outcome-timeout",
    OUTCOME_CRASH = "outcome-crash",
    OUTCOME_NOT_RUN = "outcome-not-run",
    OUTCOME_LIMIT = "outcome-limit",
    LABEL_REQUIREMENT = "label-requirement",
    LABEL_CONCEPT = "label-concept",
    LABEL_WHY = "label-why",
    LABEL_INPUT = "label-input",
    LABEL_DIFFERS = "label-differs",
    LABEL_EXPECTED = "label-expected",
    LABEL_ACTUAL = "label-actual",
    LABEL_REPLAY = "label-replay",
    LABEL_PROGRAM = "label-program",
    LABEL_WIRE = "label-wire",
    LABEL_STDERR = "label-stderr",
    LABEL_NOTE = "label-note",
    DIFFERS_AT = "differs-at",
    SMALLEST_INPUT = "smallest-input",
    EVIDENCE_WINDOW = "evidence-window",
    EVIDENCE_HEAD = "evidence-head",
    WIRE_SKIPPED = "wire-skipped",
    WIRE_DROPPED = "wire-dropped",
    SERVER_MODE = "report-server-mode",
    MODE_NONE = "mode-none",
    MODE_SINGLE = "mode-single",
    MODE_SEQUENTIAL = "mode-sequential",
    MODE_CONCURRENT = "mode-concurrent",
    MODE_UNKNOWN = "mode-unknown",
    SUMMARY = "summary",
    SUMMARY_PASS = "summary-pass",
    SUMMARY_FAIL = "summary-fail",
    SUMMARY_GRADER_ERROR = "summary-grader-error",
    SUMMARY_INTERRUPTED = "summary-interrupted",
    SUMMARY_PROBLEMS_LEAD = "summary-problems-lead",
    SUMMARY_SEPARATOR = "summary-separator",
    SUMMARY_FAILED = "summary-failed",
    SUMMARY_TIMED_OUT = "summary-timed-out",
    SUMMARY_CRASHED = "summary-crashed",
    SUMMARY_NOT_RUN = "summary-not-run",
    SUMMARY_OVER_LIMIT = "summary-over-limit",
    REPORT_INCOMPLETE = "report-incomplete",
    REPORT_REPLAY = "report-replay",

    // grader.ftl: what the grader says about a program (the messages that have an id so far).
    VERBATIM = "verbatim",
    NOT_RUN_CANNOT_LAUNCH = "not-run-cannot-launch",
    CANNOT_LAUNCH_NO_SUCH_FILE = "cannot-launch-no-such-file",
    CANNOT_LAUNCH_NO_SUCH_FILE_HERE = "cannot-launch-no-such-file-here",
    CANNOT_LAUNCH_DIRECTORY = "cannot-launch-directory",
    CANNOT_LAUNCH_NOT_EXECUTABLE = "cannot-launch-not-executable",
    CANNOT_LAUNCH_CANNOT_START = "cannot-launch-cannot-start",
    NOT_RUN_INTERRUPTED = "not-run-interrupted",
    NEVER_LISTENED = "never-listened",
    ENDED_BEFORE_LISTENING = "ended-before-listening",
    EXITED_BEFORE_LISTENING = "exited-before-listening",

    // grade-help.ftl: `sockspec grade --help`.
    GRADE_ABOUT = "grade-about",
    GRADE_AFTER_HELP = "grade-after-help",
    GRADE_ARG_SUITE = "grade-arg-suite",
    GRADE_ARG_LIST = "grade-arg-list",
    GRADE_ARG_LEVEL = "grade-arg-level",
    GRADE_ARG_ONLY = "grade-arg-only",
    GRADE_ARG_SKIP = "grade-arg-skip",
    GRADE_ARG_SEED = "grade-arg-seed",
    GRADE_ARG_STRICT = "grade-arg-strict",
    GRADE_ARG_PREFIX = "grade-arg-prefix",
    GRADE_ARG_FORMAT = "grade-arg-format",
    GRADE_ARG_OUTPUT = "grade-arg-output",
    GRADE_ARG_TIMEOUT_SCALE = "grade-arg-timeout-scale",
    GRADE_ARG_COLOR = "grade-arg-color",
    GRADE_ARG_ISOLATE = "grade-arg-isolate",
    GRADE_ARG_LANG = "grade-arg-lang",
    GRADE_ARG_PACKETS = "grade-arg-packets",
    GRADE_ARG_COMMAND = "grade-arg-command",
    GRADE_ARG_HELP = "grade-arg-help",
    HELP_USAGE = "help-usage",
    HELP_ARGUMENTS = "help-arguments",
    HELP_OPTIONS = "help-options",
}
