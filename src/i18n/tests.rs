use std::collections::BTreeSet;

use fluent_syntax::ast::Entry;
use fluent_syntax::parser;

use super::*;

/// The message ids (and terms, `-name`) of one language's files; a syntax error fails the test.
fn ids(lang: Lang) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (name, text) in sources(lang) {
        let resource = parser::parse(text)
            .unwrap_or_else(|(_, errors)| panic!("locales/{lang}/{name}: {errors:?}"));
        for entry in resource.body {
            match entry {
                Entry::Message(m) => assert!(
                    ids.insert(m.id.name.to_string()),
                    "locales/{lang}/{name}: {} is defined twice",
                    m.id.name
                ),
                Entry::Term(t) => {
                    ids.insert(format!("-{}", t.id.name));
                }
                Entry::Junk { content } => panic!("locales/{lang}/{name}: junk {content:?}"),
                _ => {}
            }
        }
    }
    ids
}

#[test]
fn every_message_is_in_both_languages() {
    let (en, zh) = (ids(Lang::En), ids(Lang::Zh));
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(only_en.is_empty(), "in English only: {only_en:?}");
    assert!(only_zh.is_empty(), "in Chinese only: {only_zh:?}");
}

#[test]
fn every_id_the_code_uses_is_in_the_files_and_every_file_id_is_used() {
    let en = ids(Lang::En);
    let used: BTreeSet<String> = key::ALL.iter().map(|k| k.to_string()).collect();
    let missing: Vec<_> = used.difference(&en).collect();
    let unused: Vec<_> = en
        .difference(&used)
        .filter(|id| !id.starts_with('-'))
        .collect();
    assert!(missing.is_empty(), "used in code, in no file: {missing:?}");
    assert!(
        unused.is_empty(),
        "in the files, not in i18n::key: {unused:?}"
    );
}

#[test]
fn every_message_renders_in_both_languages_without_errors() {
    // Every argument any message takes, so a misspelt `{ $name }` shows up as an error.
    let args = FluentArgs::from_iter(
        [
            "suite",
            "command",
            "seed",
            "level",
            "comparison",
            "role",
            "at",
            "hex",
            "from",
            "end",
            "len",
            "sha256",
            "count",
            "mode",
            "verdict",
            "passed",
            "total",
            "points",
            "max",
            "problems",
            "secs",
            "signal",
            "text",
            "why",
            "path",
            "dir",
            "program",
            "error",
            "deadline",
            "status",
            "n",
            "client",
            "addr",
            "sent",
            "what",
            "extra",
            "before",
            "where",
            "expected",
            "actual",
            "next",
            "within",
            "doing",
            "limit",
            "after",
            "breach",
            "shown",
            "prefix",
            "got",
            "want",
            "differs",
            "char",
            "code",
            "name",
            "bytes",
            "file",
            "line",
            "hint",
            "how",
            "id",
            "runs",
            "left",
            "busy",
            "i",
            "prev",
            "others",
            "whole",
            "m",
            "k",
            "unread",
            "change",
            "verb",
            "reason",
            "answer",
            "advice",
            "target",
            "secret",
            "cut",
            "ms",
        ]
        .map(|name| (name, FluentValue::from("x"))),
    );
    for lang in Lang::ALL {
        let bundle = bundle(lang);
        for id in key::ALL {
            let pattern = bundle.get_message(id).and_then(|m| m.value());
            let pattern = pattern.unwrap_or_else(|| panic!("{lang}: no {id}"));
            let mut errors = Vec::new();
            let text = bundle.format_pattern(pattern, Some(&args), &mut errors);
            assert!(errors.is_empty(), "{lang}/{id}: {errors:?}");
            assert!(!text.trim().is_empty(), "{lang}/{id} is empty");
        }
    }
}

#[test]
fn the_locale_environment_picks_the_language() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(
        Lang::from_locale_vars(env(&[("LANG", "zh_CN.UTF-8")])),
        Lang::Zh
    );
    assert_eq!(
        Lang::from_locale_vars(env(&[("LANG", "en_US.UTF-8")])),
        Lang::En
    );
    assert_eq!(Lang::from_locale_vars(env(&[("LANG", "C")])), Lang::En);
    assert_eq!(Lang::from_locale_vars(env(&[])), Lang::En);
    // LC_ALL overrides LC_MESSAGES, which overrides LANG; an empty one counts as unset.
    let both = env(&[("LC_ALL", "C.UTF-8"), ("LANG", "zh_CN.UTF-8")]);
    assert_eq!(Lang::from_locale_vars(both), Lang::En);
    let messages = env(&[("LC_MESSAGES", "zh_TW"), ("LANG", "en_GB")]);
    assert_eq!(Lang::from_locale_vars(messages), Lang::Zh);
    let empty = env(&[("LC_ALL", ""), ("LANG", "zh_CN.GB18030")]);
    assert_eq!(Lang::from_locale_vars(empty), Lang::Zh);
}

#[test]
fn a_message_renders_its_arguments_in_the_language_asked() {
    let why = Message::new(key::CANNOT_LAUNCH_NO_SUCH_FILE).arg("path", "echo.py");
    let message = Message::new(key::NOT_RUN_CANNOT_LAUNCH).arg("why", why);
    assert_eq!(
        message.english(),
        "the program cannot be launched: the program file echo.py does not exist"
    );
    assert_eq!(
        message.render(Lang::Zh),
        "程序无法启动：程序文件 echo.py 不存在"
    );
    // Stored in a report and read back, it renders the same.
    let json = serde_json::to_string(&message).unwrap();
    let back: Message = serde_json::from_str(&json).unwrap();
    assert_eq!(back.render(Lang::Zh), message.render(Lang::Zh));
}

#[test]
fn labels_are_padded_by_the_columns_they_take() {
    assert_eq!(pad("why:", 13), "why:         ");
    assert_eq!(pad("要求：", 13), "要求：       ");
    assert_eq!(pad("requirement:", 5), "requirement: ");
    assert_eq!(display_width("ECHO：你好"), 4 + 2 + 4);
}

#[test]
fn counts_pick_the_plural_form_in_english() {
    let smallest = |runs: u32| {
        Message::new(key::SHRINK_SMALLEST)
            .arg("runs", runs)
            .english()
    };
    assert!(
        smallest(1).contains("found in 1 shrinking run;"),
        "{}",
        smallest(1)
    );
    assert!(
        smallest(7).contains("found in 7 shrinking runs;"),
        "{}",
        smallest(7)
    );
    assert!(Message::new(key::SHRINK_SMALLEST)
        .arg("runs", 1u32)
        .render(Lang::Zh)
        .contains("经过 1 次缩小运行"));
}
