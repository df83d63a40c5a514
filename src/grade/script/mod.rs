//! Scripted exchanges: a check a teacher writes as data, for a TCP server protocol the lesson does not
//! have (a calculator, an upper-case server). A script is a list of steps, played in order against a
//! fresh copy of the program: connect (as named clients), send, expect a reply (exact text or bytes, a
//! line matching a regex, a number of bytes), expect the program to close or to stay silent, pause, close.
//!
//! In a suite file (`docs/suites.md` has the whole format):
//!
//! ```toml
//! [[check]]
//! id = "calculator/basic/add"
//! # level, points, requirement, concept as for any check
//! [check.run]
//! kind = "script"
//! steps = [
//!   { connect = "client 1" },
//!   { send = "2 + 3\n" },
//!   { expect = "5\n" },
//! ]
//! ```
//!
//! Every step is checked when the suite is loaded ([`Step`] is read through [`StepFields`], so a step
//! that does two things, or none, or holds a bad escape or regex, is an error naming the step), and every
//! step that waits has a deadline. Playing a script is `play` (run by the `script` check kind).

mod play;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub(crate) use play::play;

/// The longest `pause_ms` and `expect_silence_ms` a step may ask for: a script waits on answers, and a
/// pause is only pacing.
pub const MAX_PAUSE_MS: u64 = 10_000;

/// The longest reply a step reads while looking for its end (a line's newline, a length): a program that
/// floods cannot fill memory.
pub const MAX_REPLY: usize = 1024 * 1024;

/// A step as written in a suite file: exactly one action key, and the options `client` and
/// `deadline_ms`. Checked when the suite is loaded.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StepFields {
    /// Connect to the program as a client with this name (`"client 1"`); it becomes the client of the
    /// steps that follow. The deadline is the time the connection may take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect: Option<String>,
    /// Send this text (UTF-8) in one write. TOML's own escapes apply: write `"\n"` for a newline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<String>,
    /// Send these bytes in one write, written with escapes: `\xNN` (any byte), `\n`, `\r`, `\t`, `\0`,
    /// `\\` (use a TOML literal string, `'...'`, so TOML leaves the backslashes alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_bytes: Option<String>,
    /// Expect exactly this text next from the program, byte for byte (write the newline if one must
    /// come: `"5\n"`). A reply that starts to differ fails at once, with the whole reply shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// Expect exactly these bytes next, written with the escapes of `send_bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_bytes: Option<String>,
    /// Expect one line (up to a newline, which must come) whose text, without its `\n` or `\r\n`,
    /// matches this regular expression (syntax of the Rust `regex` crate; use `^...$` to match the
    /// whole line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_regex: Option<String>,
    /// Expect this many bytes next, whatever they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_len: Option<usize>,
    /// Expect the program to close the connection (`true`), with nothing more sent first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_close: Option<bool>,
    /// Expect nothing from the program for this many milliseconds (at most 10,000): the connection stays
    /// open and silent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_silence_ms: Option<u64>,
    /// Wait this many milliseconds (at most 10,000) before the next step: pacing only, never needed to
    /// wait for an answer (expectations wait for it, up to their deadline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<u64>,
    /// Close the connection: `"fin"` (an orderly close) or `"reset"` (RST).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close: Option<CloseHow>,
    /// The client this step acts on (a name given to `connect`); default: the last one connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// How long this step may wait (to connect, or for its reply or close), in milliseconds; default:
    /// the check's `deadline_ms`, else the suite's `reply_ms`. `--timeout-scale` multiplies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
}

/// How a script closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CloseHow {
    /// An orderly close: the program's `recv()` returns `b''`.
    Fin,
    /// A reset (RST): the program's `recv()` raises `ConnectionResetError`.
    Reset,
}

/// What one step does.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    Connect(String),
    Send(Vec<u8>),
    Expect(Vec<u8>),
    ExpectRegex(regex_lite::Regex),
    ExpectLen(usize),
    ExpectClose,
    ExpectSilence(Duration),
    Pause(Duration),
    Close(CloseHow),
}

/// One checked step of a script: its action, the client it acts on, its own deadline.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(try_from = "StepFields", into = "StepFields")]
pub struct Step {
    pub(crate) action: Action,
    /// The client it acts on, by the name given to `connect`; `None`: the last one connected.
    pub(crate) client: Option<String>,
    /// Its own deadline (before `--timeout-scale`); `None`: the check's.
    pub(crate) deadline: Option<Duration>,
    /// As written, for the schema, `Serialize` and messages.
    fields: StepFields,
}

#[cfg(feature = "schema")]
impl schemars::JsonSchema for Step {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Step".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = StepFields::json_schema(generator);
        // Exactly one action key: an editor then flags a step that does two things, or none.
        let one_of: Vec<serde_json::Value> = ACTION_KEYS
            .iter()
            .map(|key| serde_json::json!({ "required": [key] }))
            .collect();
        schema.insert("oneOf".into(), one_of.into());
        schema
    }
}

/// The keys of [`StepFields`] that are actions; a step has exactly one.
pub const ACTION_KEYS: &[&str] = &[
    "connect",
    "send",
    "send_bytes",
    "expect",
    "expect_bytes",
    "expect_regex",
    "expect_len",
    "expect_close",
    "expect_silence_ms",
    "pause_ms",
    "close",
];

impl From<Step> for StepFields {
    fn from(step: Step) -> Self {
        step.fields
    }
}

impl TryFrom<StepFields> for Step {
    type Error = String;

    fn try_from(fields: StepFields) -> Result<Self, String> {
        let f = &fields;
        let mut actions: Vec<(&str, Result<Action, String>)> = Vec::new();
        let mut add = |key: &'static str, action: Option<Result<Action, String>>| {
            if let Some(action) = action {
                actions.push((key, action));
            }
        };
        add(
            "connect",
            f.connect.as_ref().map(|name| match name.trim() {
                "" => Err("`connect` needs a client name, e.g. \"client 1\"".to_string()),
                _ => Ok(Action::Connect(name.clone())),
            }),
        );
        add(
            "send",
            f.send
                .as_ref()
                .map(|t| Ok(Action::Send(t.as_bytes().to_vec()))),
        );
        add(
            "send_bytes",
            f.send_bytes
                .as_ref()
                .map(|t| unescape("send_bytes", t).map(Action::Send)),
        );
        add(
            "expect",
            f.expect.as_ref().map(|t| match t.is_empty() {
                true => Err("`expect` is empty: nothing to wait for".to_string()),
                false => Ok(Action::Expect(t.as_bytes().to_vec())),
            }),
        );
        add(
            "expect_bytes",
            f.expect_bytes
                .as_ref()
                .map(|t| match unescape("expect_bytes", t) {
                    Ok(bytes) if bytes.is_empty() => {
                        Err("`expect_bytes` is empty: nothing to wait for".to_string())
                    }
                    other => other.map(Action::Expect),
                }),
        );
        add(
            "expect_regex",
            f.expect_regex.as_ref().map(|r| {
                regex_lite::Regex::new(r)
                    .map(Action::ExpectRegex)
                    .map_err(|e| format!("`expect_regex` {r:?} is not a valid regex: {e}"))
            }),
        );
        add(
            "expect_len",
            f.expect_len.map(|n| match n {
                0 => Err("`expect_len` must be 1 or more".to_string()),
                n if n > MAX_REPLY => Err(format!("`expect_len` must be at most {MAX_REPLY}")),
                n => Ok(Action::ExpectLen(n)),
            }),
        );
        add(
            "expect_close",
            f.expect_close.map(|yes| match yes {
                true => Ok(Action::ExpectClose),
                false => {
                    Err("`expect_close` can only be true (leave it out otherwise)".to_string())
                }
            }),
        );
        add(
            "expect_silence_ms",
            f.expect_silence_ms
                .map(|ms| bounded("expect_silence_ms", ms).map(Action::ExpectSilence)),
        );
        add(
            "pause_ms",
            f.pause_ms
                .map(|ms| bounded("pause_ms", ms).map(Action::Pause)),
        );
        add("close", f.close.map(|how| Ok(Action::Close(how))));
        let action = match actions.len() {
            1 => actions.pop().map(|(_, action)| action).into_iter().next(),
            _ => None,
        };
        let action = match action {
            Some(action) => action?,
            None if actions.is_empty() => {
                return Err(format!(
                    "a step needs one action: one of {}",
                    ACTION_KEYS.join(", ")
                ))
            }
            None => {
                let keys: Vec<&str> = actions.iter().map(|(k, _)| *k).collect();
                return Err(format!(
                    "a step does one thing, this one has {}: make them separate steps",
                    keys.join(" and ")
                ));
            }
        };
        if let Some(ms) = f.deadline_ms {
            if ms == 0 || ms > 600_000 {
                return Err(format!(
                    "`deadline_ms` must be from 1 to 600000 (it is {ms})"
                ));
            }
            if matches!(
                action,
                Action::Pause(_) | Action::Close(_) | Action::Send(_)
            ) {
                // Sends have a deadline of their own only through the check's; a pause or close waits
                // for nothing.
                return Err(
                    "`deadline_ms` applies to steps that wait (connect, expect...), not this one"
                        .to_string(),
                );
            }
        }
        if matches!(action, Action::Connect(_)) && f.client.is_some() {
            return Err("`connect` names its client itself: leave out `client`".to_string());
        }
        if matches!(action, Action::Pause(_)) && f.client.is_some() {
            return Err("`pause_ms` waits for every client: leave out `client`".to_string());
        }
        Ok(Step {
            action,
            client: f.client.clone(),
            deadline: f.deadline_ms.map(Duration::from_millis),
            fields,
        })
    }
}

/// A pause or silence of `ms` milliseconds, at most [`MAX_PAUSE_MS`].
fn bounded(key: &str, ms: u64) -> Result<Duration, String> {
    match ms {
        0 => Err(format!("`{key}` must be 1 or more")),
        ms if ms > MAX_PAUSE_MS => Err(format!(
            "`{key}` must be at most {MAX_PAUSE_MS} ({ms} asked): a script waits for answers with \
             expectations and their deadlines, not with pauses"
        )),
        ms => Ok(Duration::from_millis(ms)),
    }
}

/// Bytes written with escapes (`\xNN`, `\n`, `\r`, `\t`, `\0`, `\\`); any other backslash is an error,
/// so a typo is not sent as it stands.
pub fn unescape(key: &str, text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let len = match bytes.get(i + 1) {
                Some(b'n' | b'r' | b't' | b'0' | b'\\') => 2,
                Some(b'x')
                    if bytes.len() >= i + 4
                        && bytes[i + 2..i + 4].iter().all(u8::is_ascii_hexdigit) =>
                {
                    4
                }
                _ => {
                    let shown: String = text[i..].chars().take(4).collect();
                    return Err(format!(
                        "`{key}` has an unknown escape at {shown:?}: use \\xNN, \\n, \\r, \\t, \\0 or \\\\"
                    ));
                }
            };
            i += len;
        } else {
            i += 1;
        }
    }
    Ok(crate::wire::unescape_bytes(text))
}

/// Checks a whole script: it has steps, every step that acts on a client has one open (connected and
/// not closed before it), and client names are not reused while open.
pub fn validate(steps: &[Step]) -> Result<(), String> {
    if steps.is_empty() {
        return Err("a script needs steps".into());
    }
    let mut open: Vec<&str> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let n = i + 1;
        match &step.action {
            Action::Connect(name) => {
                if open.contains(&name.as_str()) {
                    return Err(format!(
                        "step {n} connects {name:?} again while it is still connected: close it first \
                         or give the new client another name"
                    ));
                }
                open.push(name);
            }
            Action::Pause(_) => {}
            other => {
                let client = match &step.client {
                    Some(name) => name.as_str(),
                    None => match open.last() {
                        Some(last) => last,
                        None if steps[..i]
                            .iter()
                            .any(|s| matches!(s.action, Action::Connect(_))) =>
                        {
                            return Err(format!(
                                "step {n} ({}) has no client: every one is closed, and it is not \
                                 connected at that point",
                                Describe(other)
                            ))
                        }
                        None => {
                            return Err(format!(
                                "step {n} ({}) comes before any `connect`",
                                Describe(other)
                            ))
                        }
                    },
                };
                if !open.contains(&client) {
                    return Err(format!(
                        "step {n} acts on {client:?}, which is not connected at that point"
                    ));
                }
                if matches!(other, Action::Close(_)) {
                    open.retain(|c| *c != client);
                }
            }
        }
    }
    Ok(())
}

/// A step's action in a few words, for messages: `send "2 + 3\n"`, `expect a line matching /^5$/`.
pub(crate) struct Describe<'a>(pub(crate) &'a Action);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |bytes: &[u8]| {
            let text = crate::wire::escape_bytes(bytes);
            match text.chars().count() > 40 {
                true => format!(
                    "\"{}…\" ({} bytes)",
                    text.chars().take(40).collect::<String>(),
                    bytes.len()
                ),
                false => format!("\"{text}\""),
            }
        };
        match self.0 {
            Action::Connect(name) => write!(f, "connect {name:?}"),
            Action::Send(bytes) => write!(f, "send {}", shown(bytes)),
            Action::Expect(bytes) => write!(f, "expect {}", shown(bytes)),
            Action::ExpectRegex(re) => write!(f, "expect a line matching /{}/", re.as_str()),
            Action::ExpectLen(n) => write!(f, "expect {n} bytes"),
            Action::ExpectClose => write!(f, "expect the connection to close"),
            Action::ExpectSilence(d) => write!(f, "expect silence for {} ms", d.as_millis()),
            Action::Pause(d) => write!(f, "pause {} ms", d.as_millis()),
            Action::Close(CloseHow::Fin) => write!(f, "close"),
            Action::Close(CloseHow::Reset) => write!(f, "reset"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(toml_step: &str) -> Result<Step, String> {
        #[derive(Deserialize)]
        struct One {
            step: Step,
        }
        toml::from_str::<One>(&format!("step = {toml_step}"))
            .map(|one| one.step)
            .map_err(|e| e.message().to_string())
    }

    fn script(steps: &[&str]) -> Result<(), String> {
        let steps: Vec<Step> = steps.iter().map(|s| step(s)).collect::<Result<_, _>>()?;
        validate(&steps)
    }

    #[test]
    fn every_action_reads_from_its_key() {
        assert!(
            matches!(step(r#"{ connect = "a" }"#).unwrap().action, Action::Connect(n) if n == "a")
        );
        assert!(
            matches!(step(r#"{ send = "2 + 3\n" }"#).unwrap().action, Action::Send(b) if b == b"2 + 3\n")
        );
        assert!(
            matches!(step(r#"{ send_bytes = '\x00\xff\n' }"#).unwrap().action, Action::Send(b) if b == b"\x00\xff\n")
        );
        assert!(
            matches!(step(r#"{ expect = "5\n" }"#).unwrap().action, Action::Expect(b) if b == b"5\n")
        );
        assert!(matches!(
            step(r#"{ expect_regex = "^5$" }"#).unwrap().action,
            Action::ExpectRegex(_)
        ));
        assert!(matches!(
            step("{ expect_len = 3 }").unwrap().action,
            Action::ExpectLen(3)
        ));
        assert!(matches!(
            step("{ expect_close = true }").unwrap().action,
            Action::ExpectClose
        ));
        assert!(matches!(
            step("{ pause_ms = 20 }").unwrap().action,
            Action::Pause(_)
        ));
        assert!(matches!(
            step(r#"{ close = "reset" }"#).unwrap().action,
            Action::Close(CloseHow::Reset)
        ));
        let s = step(r#"{ expect = "x", client = "b", deadline_ms = 300 }"#).unwrap();
        assert_eq!(s.client.as_deref(), Some("b"));
        assert_eq!(s.deadline, Some(Duration::from_millis(300)));
    }

    #[test]
    fn a_step_does_exactly_one_thing() {
        let two = step(r#"{ send = "a", expect = "b" }"#).unwrap_err();
        assert!(two.contains("send and expect"), "{two}");
        let none = step(r#"{ client = "a" }"#).unwrap_err();
        assert!(none.contains("needs one action"), "{none}");
        let typo = step(r#"{ expcet = "a" }"#).unwrap_err();
        assert!(typo.contains("unknown field `expcet`"), "{typo}");
    }

    #[test]
    fn bad_values_are_named() {
        let escape = step(r#"{ send_bytes = '\q' }"#).unwrap_err();
        assert!(
            escape.contains("unknown escape") && escape.contains("send_bytes"),
            "{escape}"
        );
        let short_hex = step(r#"{ send_bytes = 'ab\x4' }"#).unwrap_err();
        assert!(short_hex.contains("unknown escape"), "{short_hex}");
        let regex = step(r#"{ expect_regex = "(" }"#).unwrap_err();
        assert!(regex.contains("not a valid regex"), "{regex}");
        let long = step("{ pause_ms = 60000 }").unwrap_err();
        assert!(long.contains("at most 10000"), "{long}");
        let pause = step(r#"{ pause_ms = 5, client = "a" }"#).unwrap_err();
        assert!(pause.contains("leave out `client`"), "{pause}");
        let deadline = step(r#"{ send = "a", deadline_ms = 5 }"#).unwrap_err();
        assert!(deadline.contains("not this one"), "{deadline}");
        assert!(step("{ expect_close = false }").is_err());
        assert!(step(r#"{ expect = "" }"#).is_err());
    }

    #[test]
    fn steps_act_on_clients_that_are_open() {
        assert!(script(&[r#"{ connect = "a" }"#, r#"{ send = "x" }"#]).is_ok());
        let early = script(&[r#"{ send = "x" }"#]).unwrap_err();
        assert!(early.contains("before any `connect`"), "{early}");
        let unknown =
            script(&[r#"{ connect = "a" }"#, r#"{ send = "x", client = "b" }"#]).unwrap_err();
        assert!(unknown.contains("\"b\""), "{unknown}");
        let closed = script(&[
            r#"{ connect = "a" }"#,
            r#"{ close = "fin" }"#,
            r#"{ send = "x" }"#,
        ])
        .unwrap_err();
        assert!(closed.contains("not connected"), "{closed}");
        let twice = script(&[r#"{ connect = "a" }"#, r#"{ connect = "a" }"#]).unwrap_err();
        assert!(twice.contains("again"), "{twice}");
        // A name can be used again once its connection is closed.
        assert!(script(&[
            r#"{ connect = "a" }"#,
            r#"{ close = "fin" }"#,
            r#"{ connect = "a" }"#
        ])
        .is_ok());
    }
}
