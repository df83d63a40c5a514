//! The language of what sockspec tells a person: English or Simplified Chinese.
//!
//! Texts live in Fluent files (`locales/{en,zh}/*.ftl`, compiled into the library), found by a message
//! id from [`key`]. A text is asked for in a [`Lang`] with [`text`], or kept as a [`Message`] (its id and
//! arguments) beside its English rendering, so a report made once can be shown in either language. A
//! message missing in Chinese falls back to English (the tests keep both files with the same ids).
//!
//! The texts of a suite (requirement, concept, description) are not here: the suite file carries both
//! languages ([`crate::grade::suite::Check::requirement_in`]).

mod keys;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::{Deserialize, Serialize};

pub use keys::key;

/// A language sockspec speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English (the default, and the fallback of every missing text).
    #[default]
    En,
    /// Simplified Chinese.
    Zh,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The language code, as `--lang` and JSON write it.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// `en` or `zh` (case-insensitive; `zh-CN`, `zh_TW.UTF-8` and `en_US` name them too).
    pub fn parse(text: &str) -> Option<Lang> {
        let base = text
            .split(['_', '-', '.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match base.as_str() {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language of the locale the environment names, as POSIX programs pick their messages' language:
    /// the first of `LC_ALL`, `LC_MESSAGES`, `LANG` that is set and not empty; Chinese when it is a `zh`
    /// locale (`zh_CN.UTF-8`), English for anything else (`C`, `POSIX`, `en_US.UTF-8`, `de_DE`).
    pub fn from_env() -> Lang {
        Self::from_locale_vars(|name| std::env::var(name).ok())
    }

    /// [`Lang::from_env`] over any source of variables (for tests).
    pub fn from_locale_vars(var: impl Fn(&str) -> Option<String>) -> Lang {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|name| var(name))
            .find(|value| !value.is_empty())
            .and_then(|locale| Lang::parse(&locale))
            .unwrap_or_default()
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The Fluent files of each language, in the order they are added to its bundle.
const SOURCES: &[(Lang, &str, &str)] = &[
    (
        Lang::En,
        "report.ftl",
        include_str!("../../locales/en/report.ftl"),
    ),
    (
        Lang::En,
        "grader.ftl",
        include_str!("../../locales/en/grader.ftl"),
    ),
    (
        Lang::En,
        "grade-help.ftl",
        include_str!("../../locales/en/grade-help.ftl"),
    ),
    (
        Lang::Zh,
        "report.ftl",
        include_str!("../../locales/zh/report.ftl"),
    ),
    (
        Lang::Zh,
        "grader.ftl",
        include_str!("../../locales/zh/grader.ftl"),
    ),
    (
        Lang::Zh,
        "grade-help.ftl",
        include_str!("../../locales/zh/grade-help.ftl"),
    ),
];

/// The Fluent source files of `lang`: (file name, text). For tests and tools that read them.
pub fn sources(lang: Lang) -> impl Iterator<Item = (&'static str, &'static str)> {
    SOURCES
        .iter()
        .filter(move |(l, _, _)| *l == lang)
        .map(|(_, name, text)| (*name, *text))
}

fn bundle(lang: Lang) -> &'static FluentBundle<FluentResource> {
    static EN: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    static ZH: OnceLock<FluentBundle<FluentResource>> = OnceLock::new();
    let (cell, tag) = match lang {
        Lang::En => (&EN, "en"),
        Lang::Zh => (&ZH, "zh-CN"),
    };
    cell.get_or_init(|| {
        let id = tag.parse().expect("a valid language tag");
        let mut bundle = FluentBundle::new_concurrent(vec![id]);
        // No Unicode isolation marks around arguments: the text goes to terminals and files, where they
        // show up as stray characters.
        bundle.set_use_isolating(false);
        for (name, text) in sources(lang) {
            // The files are part of the binary and tested: a syntax error is a bug caught by the tests.
            let resource = FluentResource::try_new(text.to_string())
                .unwrap_or_else(|(_, errors)| panic!("locales/{lang}/{name}: {errors:?}"));
            bundle
                .add_resource(resource)
                .unwrap_or_else(|errors| panic!("locales/{lang}/{name}: {errors:?}"));
        }
        bundle
    })
}

/// An argument of a message: text, a number (Fluent picks plural forms by it), or another message shown
/// in the same language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Arg {
    /// A number: Fluent picks plural forms by it.
    Number(f64),
    /// Text shown as it is.
    Text(String),
    /// Another message, rendered in the same language.
    Message(Message),
}

impl From<&str> for Arg {
    fn from(text: &str) -> Self {
        Arg::Text(text.to_string())
    }
}

impl From<String> for Arg {
    fn from(text: String) -> Self {
        Arg::Text(text)
    }
}

impl From<Message> for Arg {
    fn from(message: Message) -> Self {
        Arg::Message(message)
    }
}

macro_rules! number_args {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Self {
                Arg::Number(n as f64)
            }
        }
    )*};
}
number_args!(u8, u16, u32, u64, usize, i32, i64, f64);

/// A text by its message id and arguments, to render in any language: what a report keeps beside the
/// English text so it can be shown in Chinese too. In JSON: `{"id": "...", "args": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The message id, one of [`key`].
    pub id: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    /// The arguments by name.
    pub args: BTreeMap<String, Arg>,
}

impl Message {
    /// A message with no arguments yet; `id` is one of [`key`].
    pub fn new(id: &str) -> Self {
        Message {
            id: id.to_string(),
            args: BTreeMap::new(),
        }
    }

    /// Adds the argument `$name`.
    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.args.insert(name.to_string(), value.into());
        self
    }

    /// The text in `lang` (English where `lang` has no such message).
    pub fn render(&self, lang: Lang) -> String {
        let args: Vec<(&str, FluentValue<'_>)> = self
            .args
            .iter()
            .map(|(name, arg)| {
                let value = match arg {
                    Arg::Number(n) => FluentValue::from(*n),
                    Arg::Text(t) => FluentValue::from(t.as_str()),
                    Arg::Message(m) => FluentValue::from(m.render(lang)),
                };
                (name.as_str(), value)
            })
            .collect();
        format(lang, &self.id, &args)
    }

    /// The English text, as the report's stable English fields hold it.
    pub fn english(&self) -> String {
        self.render(Lang::En)
    }
}

/// The text of message `id` in `lang`, without arguments.
pub fn text(lang: Lang, id: &str) -> String {
    format(lang, id, &[])
}

/// The text of `id` in `lang` with `args`; English where `lang` lacks it; the id itself where English
/// lacks it too (a bug the tests catch: every id in [`key`] is in both languages).
fn format(lang: Lang, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    for lang in [lang, Lang::En] {
        let bundle = bundle(lang);
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            continue;
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, Some(&fluent_args), &mut errors);
        debug_assert!(errors.is_empty(), "{lang}/{id}: {errors:?}");
        return text.into_owned();
    }
    debug_assert!(false, "no message {id} in English");
    id.to_string()
}

/// Columns `text` takes on a terminal: CJK characters and full-width forms take two. Labels are padded
/// by it so the Chinese report's columns line up as the English one's do.
pub fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// `label` padded with spaces to `width` columns, at least one space after it.
pub fn pad(label: &str, width: usize) -> String {
    let spaces = width.saturating_sub(display_width(label)).max(1);
    format!("{label}{}", " ".repeat(spaces))
}

#[cfg(test)]
mod tests;
