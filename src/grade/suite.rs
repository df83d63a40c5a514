//! Suites: the assignments as data (`fixtures/suites/*.toml`), loaded and checked before anything runs.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::limits::Limits;
use super::script::{self, Step};
use crate::error::{Error, Result};
use crate::i18n::Lang;

/// The suites that ship with sockspec, compiled in from `fixtures/suites/` so the binary stands alone.
const BUILTIN: &[(&str, &str)] = &[
    (
        "echo-server",
        include_str!("../../fixtures/suites/echo-server.toml"),
    ),
    (
        "echo-client",
        include_str!("../../fixtures/suites/echo-client.toml"),
    ),
    (
        "chat-server",
        include_str!("../../fixtures/suites/chat-server.toml"),
    ),
    (
        "chat-client",
        include_str!("../../fixtures/suites/chat-client.toml"),
    ),
    (
        "file-receiver",
        include_str!("../../fixtures/suites/file-receiver.toml"),
    ),
    (
        "file-sender",
        include_str!("../../fixtures/suites/file-sender.toml"),
    ),
    (
        "udp-receiver",
        include_str!("../../fixtures/suites/udp-receiver.toml"),
    ),
    (
        "udp-sender",
        include_str!("../../fixtures/suites/udp-sender.toml"),
    ),
    (
        "http-server",
        include_str!("../../fixtures/suites/http-server.toml"),
    ),
];

/// Names of the built-in suites, in the order the lesson meets them.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(name, _)| *name)
}

/// What the program under test is, which decides what the grader plays opposite it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Program {
    /// Listens on `{port}`; the grader connects as client(s).
    TcpServer,
    /// Connects to `{host} {port}`; the grader listens.
    TcpClient,
    /// Binds `{port}` and receives datagrams; the grader sends.
    UdpReceiver,
    /// Sends datagrams to `{host} {port}`; the grader receives.
    UdpSender,
}

/// The levels of the lesson's servers, in order: a level's checks assume the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The program works for one client (or one transfer).
    Basic,
    /// A server serves clients one after another.
    Sequential,
    /// A server serves clients at once.
    Concurrent,
    /// Byte-stream framing, large messages, resets: what the lesson's versions get wrong.
    Robust,
    /// Beyond robustness: what an attacker would try (an HTTP server's path traversal).
    Security,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Basic => "basic",
            Level::Sequential => "sequential",
            Level::Concurrent => "concurrent",
            Level::Robust => "robust",
            Level::Security => "security",
        })
    }
}

/// Who may see a check in an autograder's results (Gradescope's four settings; other formats ignore it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Always shown.
    #[default]
    Visible,
    /// Never shown to students (use it for checks that do not count).
    Hidden,
    /// Shown once the due date (the late due date, if any) has passed.
    AfterDueDate,
    /// Shown once the grades are published.
    AfterPublished,
}

impl Visibility {
    /// The name a suite file and Gradescope use (`visible`, `after_due_date`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Visible => "visible",
            Visibility::Hidden => "hidden",
            Visibility::AfterDueDate => "after_due_date",
            Visibility::AfterPublished => "after_published",
        }
    }
}

/// Settings every check of a suite has unless it says otherwise (`[defaults]` in a suite file).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckDefaults {
    /// Whether a check's points count toward the score.
    #[serde(default = "yes")]
    pub counts: bool,
    #[serde(default)]
    /// Who may see a check in an autograder's results.
    pub visibility: Visibility,
}

impl Default for CheckDefaults {
    fn default() -> Self {
        CheckDefaults {
            counts: true,
            visibility: Visibility::Visible,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// A suite file: one assignment (`fixtures/suites/*.toml`; the format is in docs/suites.md).
pub struct Suite {
    /// The suite's name; every check id starts with it (`NAME/LEVEL/CHECK`).
    pub name: String,
    /// What the program must do, in a sentence (shown by `grade --list` and in reports).
    pub description: String,
    /// The description in Simplified Chinese (optional: English where it is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description_zh: Option<String>,
    /// What the program under test is: which side the grader plays.
    pub program: Program,
    /// Arguments added after the user's command when it names no placeholder itself.
    pub args: Vec<String>,
    /// Checks at this level and below must pass (`--level` overrides it); higher levels run as information.
    pub required_level: Level,
    /// The reply prefix for echo suites (`--prefix` overrides it).
    #[serde(default)]
    pub prefix: Option<String>,
    /// How long the program may take to start, and to answer.
    pub deadlines: Deadlines,
    /// Resource limits of each program launched (the `[limits]` table; every field optional).
    #[serde(default)]
    pub limits: Limits,
    /// What each check has unless it says otherwise: whether it counts, its visibility.
    #[serde(default)]
    pub defaults: CheckDefaults,
    /// The checks, in the order they run (`[[check]]` tables).
    #[serde(rename = "check")]
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// The suite's deadlines, in milliseconds (`[deadlines]`); `--timeout-scale` multiplies them.
pub struct Deadlines {
    /// How long a program may take to start listening (servers) or connecting (clients).
    pub start_ms: u64,
    /// How long the grader waits for each answer; a check may set its own `deadline_ms`.
    pub reply_ms: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
/// One check of a suite (a `[[check]]` table).
pub struct Check {
    /// Stable id, `SUITE/LEVEL/NAME`.
    pub id: String,
    /// The level it belongs to (the id's middle part).
    pub level: Level,
    /// The points it is worth (0 or more; fractions allowed).
    pub points: f64,
    /// The requirement the check enforces, in one sentence.
    pub requirement: String,
    /// The requirement in Simplified Chinese. Each text of a check may have a `_zh` twin on the line
    /// after it; where it has none, a Chinese report shows the English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement_zh: Option<String>,
    /// The lesson concept it tests.
    pub concept: String,
    /// The concept in Simplified Chinese.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concept_zh: Option<String>,
    /// This check's own answer deadline, overriding the suite's `reply_ms`.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    /// Whether its points count toward the score (default: the suite's `[defaults]`, true).
    #[serde(default)]
    pub counts: Option<bool>,
    /// Who may see it in an autograder's results (default: the suite's `[defaults]`, visible).
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// What the check does: its `kind` and that kind's options.
    pub run: Run,
}

impl Check {
    /// Whether the check's points count toward the score: its own `counts`, else the suite's
    /// default.
    pub fn counts(&self, suite: &Suite) -> bool {
        self.counts.unwrap_or(suite.defaults.counts)
    }

    /// Who may see the check: its own `visibility`, else the suite's default.
    pub fn visibility(&self, suite: &Suite) -> Visibility {
        self.visibility.unwrap_or(suite.defaults.visibility)
    }

    /// The deadline for each answer: the check's `deadline_ms`, else the suite's `reply_ms`.
    pub fn deadline(&self, suite: &Suite) -> Duration {
        Duration::from_millis(self.deadline_ms.unwrap_or(suite.deadlines.reply_ms))
    }

    /// The requirement in `lang`, English where the suite has no translation.
    pub fn requirement_in(&self, lang: Lang) -> &str {
        in_lang(lang, &self.requirement, &self.requirement_zh)
    }

    /// The concept in `lang`, English where the suite has no translation.
    pub fn concept_in(&self, lang: Lang) -> &str {
        in_lang(lang, &self.concept, &self.concept_zh)
    }
}

/// A suite text in `lang`: its `_zh` twin for Chinese when there is one, else the English.
fn in_lang<'a>(lang: Lang, english: &'a str, zh: &'a Option<String>) -> &'a str {
    match (lang, zh) {
        (Lang::Zh, Some(zh)) => zh,
        _ => english,
    }
}

/// How the grader writes a message series to a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum WriteStyle {
    /// Each message `text\n` in one write, waiting for its reply before the next (the lesson's way).
    #[default]
    OnePerMessage,
    /// Every message in a single write, then every reply.
    AllAtOnce,
    /// Each message one byte per write.
    ByteSlices,
    /// Each message in two writes with a pause between them, cut inside its first multi-byte character.
    SplitInCharacter,
}

/// What the grader plays opposite a client program whose lines it receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// The ECHO server: each line comes back as PREFIX + line, to be printed.
    #[default]
    Echo,
    /// The chat server: each line is answered with a line of its own, to be printed.
    Chat,
}

/// Ways a client can leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Leave {
    /// Orderly close (FIN), or for clients under test: stdin reaches EOF.
    Close,
    /// Reset (RST, SO_LINGER 0).
    Reset,
    /// For clients under test: stdin reaches EOF (Ctrl+D).
    Eof,
    /// For clients under test: an empty line is typed.
    EmptyLine,
}

/// Byte patterns for generated files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// Seeded random bytes.
    #[default]
    Random,
    /// Printable ASCII text lines.
    Text,
    /// 0, 1, ..., 255, repeated.
    AllBytes,
    /// Runs of `\r\n` and NUL bytes between text.
    CrlfNul,
    /// Sequences that are not UTF-8: lone continuation bytes, truncated and overlong forms.
    InvalidUtf8,
    /// Text lines with spaces and tabs at their ends, `\r\n` and `\n` line endings, Chinese, and
    /// whitespace as the file's first and last bytes: what `strip()` takes away.
    Whitespace,
}

/// What a check does: the kinds of check the grader knows, each with its parameters.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Run {
    /// Server: send messages on one connection, expect PREFIX + each.
    Exchange {
        /// The messages sent, each expected back with the suite's prefix.
        #[serde(default)]
        messages: Vec<String>,
        /// Instead of `messages`, one generated message of this many bytes.
        #[serde(default)]
        generate_bytes: Option<usize>,
        /// How the grader writes the messages (one write each, all at once, in slices).
        #[serde(default)]
        write: WriteStyle,
    },
    /// Server: generated message series, one connection, shrunk on failure.
    PropertyExchange {
        /// How many generated cases to run (each a run of the program).
        cases: u32,
        /// The most messages in one case.
        max_messages: usize,
    },
    /// Server: a client leaves (close or reset) after one exchange; the server must survive.
    SurviveClose {
        /// How the client leaves.
        how: Leave,
        /// The exchange before the client leaves: an echo, or a chat turn.
        #[serde(default)]
        first: Peer,
    },
    /// Server: clients one after another, each served.
    ClientsInTurn {
        /// How many clients connect, one after another.
        clients: usize,
    },
    /// Server: a second client is served while the first stays idle.
    IdleFirstClient,
    /// Server: many clients connected at once, interleaving messages.
    ManyClients {
        /// How many clients in all.
        clients: usize,
        /// How many are connected at a time before their first replies (the lesson's `listen(5)`
        /// backlog takes 5).
        wave: usize,
        /// Rounds of messages per client.
        messages: usize,
    },
    /// Client: type lines, play the echo server, expect each reply printed.
    ClientLines {
        /// The lines typed on the client's stdin.
        lines: Vec<String>,
        /// The grader's reply goes out in this many pieces with pauses between them.
        #[serde(default)]
        reply_slices: Option<usize>,
    },
    /// Client: generated line series.
    PropertyClientLines {
        /// How many generated cases to run (each a run of the program).
        cases: u32,
        /// The most lines typed in one case.
        max_lines: usize,
    },
    /// Client or sender: after `lines` are typed and answered, stdin ends (EOF or an empty line); it
    /// must close and exit 0.
    ClientExit {
        /// How stdin ends.
        how: Leave,
        /// The lines typed and answered before stdin ends.
        #[serde(default)]
        lines: Vec<String>,
        /// What the grader plays while the lines are typed (TCP clients).
        #[serde(default)]
        peer: Peer,
    },
    /// Chat, either side: turns of (client line, server line).
    ChatTurns {
        /// The turns in order: (what the client says, what the server answers).
        turns: Vec<(String, String)>,
    },
    /// Chat, either side: generated turns.
    PropertyChatTurns {
        /// How many generated cases to run (each a run of the program).
        cases: u32,
        /// The most turns in one case.
        max_turns: usize,
    },
    /// Chat server: the client closes; the server must exit 0.
    ServerExitOnClose,
    /// File receiver: after a transfer of `size` bytes, the program must exit 0.
    ReceiverExit {
        /// The size of the file sent, in bytes.
        size: usize,
    },
    /// File receiver or sender: one generated file crosses intact.
    File {
        /// The file's size, in bytes.
        size: usize,
        /// What the file's bytes look like.
        #[serde(default)]
        pattern: Pattern,
        /// The grader (as sender) writes in slices of this many bytes...
        #[serde(default)]
        slice: Option<usize>,
        /// ...with this pause between them.
        #[serde(default)]
        pause_ms: Option<u64>,
    },
    /// File receiver or sender: generated binary contents, shrunk on failure.
    PropertyFile {
        /// How many generated cases to run (each a run of the program).
        cases: u32,
        /// The largest file in one case, in bytes.
        max_size: usize,
    },
    /// UDP receiver: datagrams are printed whole.
    Datagrams {
        /// The datagrams sent, each expected printed whole.
        #[serde(default)]
        messages: Vec<String>,
        /// Instead of `messages`, one generated datagram of this many bytes (at most 65,507).
        #[serde(default)]
        generate_bytes: Option<usize>,
        /// Send from this many sockets, round robin.
        #[serde(default = "one")]
        senders: usize,
    },
    /// UDP receiver: generated datagrams.
    PropertyDatagrams {
        /// How many generated cases to run (each a run of the program).
        cases: u32,
        /// The most datagrams in one case.
        max_messages: usize,
    },
    /// UDP sender: lines typed become datagrams.
    SenderLines {
        /// The lines typed on stdin, one datagram expected per line.
        lines: Vec<String>,
    },
    /// UDP sender: generated lines.
    PropertySenderLines {
        /// How many generated cases to run (each a run of the program).
        cases: u32,
        /// The most lines typed in one case.
        max_lines: usize,
    },
    /// HTTP server: one exchange of requests against the served directory `{dir}` (see
    /// [`crate::grade::checks::http`]).
    Http {
        /// The exchange to play.
        case: HttpCase,
    },
    /// Server: a scripted exchange, the teacher's protocol as data: steps played in order (connect,
    /// send, expect...; docs/suites.md).
    Script {
        /// The steps, played in order.
        steps: Vec<Step>,
    },
}

/// What an `http` check asks of an HTTP server serving `{dir}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum HttpCase {
    /// `GET /` serves `index.html`: status line, Content-Type, a Content-Length that counts bytes.
    Index,
    /// `GET` of a binary image: the bytes arrive unchanged.
    Binary,
    /// `GET` of a file that does not exist: 404.
    NotFound,
    /// The request arrives in small slices with pauses.
    Slices,
    /// Two requests on one kept-alive connection are both answered.
    KeepAlive,
    /// A request with a body larger than one `recv(1024)` is answered, and the body not taken for
    /// the next request.
    Body,
    /// A client is served while another sits connected with half a request.
    Concurrent,
    /// `..` (plain and percent-encoded) never reaches a file outside `{dir}`.
    Traversal,
}

fn one() -> usize {
    1
}

impl Run {
    /// The programs this kind of check can test.
    fn fits(&self, program: Program) -> bool {
        use Program::*;
        match self {
            Run::Exchange { .. }
            | Run::PropertyExchange { .. }
            | Run::SurviveClose { .. }
            | Run::ClientsInTurn { .. }
            | Run::IdleFirstClient
            | Run::ManyClients { .. }
            | Run::ServerExitOnClose
            | Run::ReceiverExit { .. }
            | Run::Script { .. } => program == TcpServer,
            Run::ClientLines { .. } | Run::PropertyClientLines { .. } => program == TcpClient,
            Run::ChatTurns { .. } | Run::PropertyChatTurns { .. } => {
                matches!(program, TcpServer | TcpClient)
            }
            Run::ClientExit { .. } => matches!(program, TcpClient | UdpSender),
            Run::File { .. } | Run::PropertyFile { .. } => matches!(program, TcpServer | TcpClient),
            Run::Datagrams { .. } | Run::PropertyDatagrams { .. } => program == UdpReceiver,
            Run::SenderLines { .. } | Run::PropertySenderLines { .. } => program == UdpSender,
            Run::Http { .. } => program == TcpServer,
        }
    }

    /// True for checks driven by proptest, whose report carries the seed and a shrunk input.
    pub fn is_property(&self) -> bool {
        matches!(
            self,
            Run::PropertyExchange { .. }
                | Run::PropertyClientLines { .. }
                | Run::PropertyChatTurns { .. }
                | Run::PropertyFile { .. }
                | Run::PropertyDatagrams { .. }
                | Run::PropertySenderLines { .. }
        )
    }
}

impl Suite {
    /// A built-in suite by name, or a suite file by path.
    pub fn load(name_or_path: &str) -> Result<Suite> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Suite::parse(text, &format!("built-in suite {name}"));
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            let names: Vec<&str> = builtin_names().collect();
            return Err(Error::Usage(format!(
                "no suite named {name_or_path:?}: use one of {} or the path of a suite file",
                names.join(", ")
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        Suite::parse(&text, &path.display().to_string())
    }

    /// Parses and validates a suite; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Suite> {
        let suite: Suite = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines (it quotes the source); the first says what is wrong.
            let first = e
                .message()
                .lines()
                .next()
                .unwrap_or("invalid TOML")
                .to_string();
            let at = e
                .span()
                // Lines are counted by the newlines before the error: `lines()` would miss the line an
                // error at column 0 starts.
                .map(|s| format!(" at line {}", text[..s.start].matches('\n').count() + 1))
                .unwrap_or_default();
            Error::Usage(format!("{origin}{at}: {first}"))
        })?;
        suite.validate(origin, text)?;
        Ok(suite)
    }

    /// Checks what TOML's types cannot say; `text` is the suite file, where a check's error finds the
    /// line of its `id`.
    fn validate(&self, origin: &str, text: &str) -> Result<()> {
        let bad = |what: String| Err(Error::Usage(format!("{origin}: {what}")));
        if self.checks.is_empty() {
            return bad("it has no [[check]]".into());
        }
        let mut seen = HashSet::new();
        for check in &self.checks {
            let bad = |what: String| {
                let at = line_of_id(text, &check.id)
                    .map(|n| format!(" at line {n}"))
                    .unwrap_or_default();
                Err(Error::Usage(format!("{origin}{at}: {what}")))
            };
            if !seen.insert(check.id.as_str()) {
                return bad(format!("check id {:?} appears twice", check.id));
            }
            let expected_start = format!("{}/{}/", self.name, check.level);
            if !check.id.starts_with(&expected_start) {
                return bad(format!(
                    "check id {:?} must start with {expected_start:?}",
                    check.id
                ));
            }
            if !check.run.fits(self.program) {
                return bad(format!(
                    "check {:?}: its kind does not apply to a {:?} program",
                    check.id, self.program
                ));
            }
            if !(check.points.is_finite() && check.points >= 0.0) {
                return bad(format!("check {:?}: points must be 0 or more", check.id));
            }
            if let Run::Script { steps } = &check.run {
                if let Err(why) = script::validate(steps) {
                    return bad(format!("check {:?}: {why}", check.id));
                }
            }
        }
        if let Err(why) = self.limits.validate() {
            return bad(why);
        }
        for placeholder in &self.args {
            if !PLACEHOLDERS.iter().any(|p| placeholder.contains(p)) {
                return bad(format!("args entry {placeholder:?} names no placeholder"));
            }
        }
        Ok(())
    }

    /// The check with this id, if the suite has one.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The description in `lang`, English where the suite has no translation.
    pub fn description_in(&self, lang: Lang) -> &str {
        in_lang(lang, &self.description, &self.description_zh)
    }
}

/// The JSON Schema of suite files (draft 2020-12), generated from these types: what
/// `schema/suite.schema.json` holds and `sockspec suite schema` prints. Editors with TOML support (Taplo,
/// Even Better TOML) read it through a `#:schema PATH` comment at the top of a suite file.
#[cfg(feature = "schema")]
pub fn json_schema() -> String {
    let mut schema = schemars::schema_for!(Suite);
    schema.insert("title".into(), "sockspec suite file".into());
    schema.insert(
        "description".into(),
        "An assignment for `sockspec grade`: what the program is, how it is launched, its checks. \
         Documented in docs/suites.md."
            .into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema is plain JSON");
    text.push('\n');
    text
}

/// The text of a built-in suite, as shipped (`sockspec suite show NAME`).
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// The line (from 1) of the last `id = "ID"` in `text`: the check an error is about (the last, since a
/// duplicate id is found at its second appearance).
fn line_of_id(text: &str, id: &str) -> Option<usize> {
    let quoted = [format!("\"{id}\""), format!("'{id}'")];
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start();
            line.starts_with("id") && quoted.iter().any(|q| line.contains(q.as_str()))
        })
        .map(|(i, _)| i + 1)
        .last()
}

/// The placeholders a command template may hold.
pub const PLACEHOLDERS: &[&str] = &["{host}", "{port}", "{file}", "{out}", "{dir}"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_suite_loads_and_validates() {
        for name in builtin_names() {
            let suite = Suite::load(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(suite.name, name);
        }
    }

    #[test]
    fn every_builtin_suite_and_check_has_both_languages() {
        for name in builtin_names() {
            let suite = Suite::load(name).unwrap();
            let cjk = |text: &str| text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            let zh = suite.description_zh.as_deref().unwrap_or_default();
            assert!(cjk(zh), "{name}: description_zh missing or not Chinese");
            for check in &suite.checks {
                for (field, text) in [
                    ("requirement_zh", check.requirement_zh.as_deref()),
                    ("concept_zh", check.concept_zh.as_deref()),
                ] {
                    let text = text.unwrap_or_default();
                    assert!(cjk(text), "{}: {field} missing or not Chinese", check.id);
                }
            }
        }
    }

    #[test]
    fn a_teacher_suite_without_chinese_falls_back_to_english() {
        let text = BUILTIN[0]
            .1
            .lines()
            .filter(|line| !line.contains("_zh = "))
            .collect::<Vec<_>>()
            .join("\n");
        let suite = Suite::parse(&text, "mine.toml").unwrap();
        let check = &suite.checks[0];
        assert_eq!(check.requirement_in(Lang::Zh), check.requirement);
        assert_eq!(check.concept_in(Lang::Zh), check.concept);
        assert_eq!(suite.description_in(Lang::Zh), suite.description);
        let builtin = Suite::load(&suite.name).unwrap();
        assert_ne!(
            builtin.checks[0].requirement_in(Lang::Zh),
            check.requirement
        );
    }

    #[test]
    fn a_wrong_field_is_named_with_its_line() {
        let text = BUILTIN[0].1.replacen("points = 2", "pionts = 2", 1);
        let err = Suite::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.starts_with("x.toml at line "), "{err}");
        assert!(err.contains("pionts"), "{err}");
    }

    #[test]
    fn a_check_kind_must_fit_the_program() {
        let text = BUILTIN[0]
            .1
            .replace("program = \"tcp-server\"", "program = \"udp-sender\"");
        let err = Suite::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(err.contains("does not apply"), "{err}");
    }

    #[test]
    fn limits_are_optional_and_checked() {
        let suite = Suite::load("echo-server").unwrap();
        assert_eq!(suite.limits, Limits::default());
        let with = |table: &str| {
            let text = BUILTIN[0]
                .1
                .replacen("[deadlines]", &format!("{table}\n[deadlines]"), 1);
            Suite::parse(&text, "x.toml")
        };
        let set = with("[limits]\nprocesses = 16").unwrap();
        assert_eq!(set.limits.processes, 16);
        assert_eq!(set.limits.cpu_seconds, Limits::default().cpu_seconds);
        let zero = with("[limits]\nopen_files = 3").unwrap_err().to_string();
        assert_eq!(
            zero,
            "x.toml: limits.open_files must be from 16 to 1048576 (it is 3)"
        );
        let typo = with("[limits]\nprocess = 16").unwrap_err().to_string();
        assert!(typo.contains("unknown field `process`"), "{typo}");
        let negative = with("[limits]\ncpu_seconds = -1").unwrap_err().to_string();
        assert!(negative.starts_with("x.toml at line "), "{negative}");
    }

    #[test]
    fn counts_and_visibility_come_from_the_check_then_the_suite() {
        let text = BUILTIN[0].1.replacen(
            "[deadlines]",
            "[defaults]\nvisibility = \"after_due_date\"\n\n[deadlines]",
            1,
        );
        let text = text.replacen(
            "run = { kind = \"exchange\", messages = [\"hello\"] }",
            "counts = false\nvisibility = \"hidden\"\nrun = { kind = \"exchange\", messages = [\"hello\"] }",
            1,
        );
        let suite = Suite::parse(&text, "x.toml").unwrap();
        let (first, second) = (&suite.checks[0], &suite.checks[1]);
        assert_eq!(
            (first.counts(&suite), first.visibility(&suite)),
            (false, Visibility::Hidden)
        );
        assert_eq!(
            (second.counts(&suite), second.visibility(&suite)),
            (true, Visibility::AfterDueDate)
        );
        let bad = text.replacen("\"hidden\"", "\"secret\"", 1);
        let err = Suite::parse(&bad, "x.toml").unwrap_err().to_string();
        assert!(err.contains("secret"), "{err}");
    }

    #[test]
    fn unknown_suite_names_list_the_builtin_ones() {
        let err = Suite::load("echo-sever").unwrap_err().to_string();
        assert!(err.contains("echo-server, echo-client"), "{err}");
    }
}
