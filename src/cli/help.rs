//! The language of the command line: known before clap parses (so `grade --help` can be in it), from
//! `--lang` among the raw arguments or the locale's environment; and `grade`'s help texts put into the
//! command in that language, from `locales/*/grade-help.ftl`.

use std::ffi::OsString;

use clap::{Arg, ArgAction, Command};

use crate::i18n::{key, text, Lang};

/// Each argument of `grade` (its clap id) and the message of its help.
const GRADE_ARGS: &[(&str, &str)] = &[
    ("suite", key::GRADE_ARG_SUITE),
    ("list", key::GRADE_ARG_LIST),
    ("level", key::GRADE_ARG_LEVEL),
    ("only", key::GRADE_ARG_ONLY),
    ("skip", key::GRADE_ARG_SKIP),
    ("seed", key::GRADE_ARG_SEED),
    ("strict", key::GRADE_ARG_STRICT),
    ("prefix", key::GRADE_ARG_PREFIX),
    ("format", key::GRADE_ARG_FORMAT),
    ("output", key::GRADE_ARG_OUTPUT),
    ("timeout_scale", key::GRADE_ARG_TIMEOUT_SCALE),
    ("color", key::GRADE_ARG_COLOR),
    ("isolate", key::GRADE_ARG_ISOLATE),
    ("lang", key::GRADE_ARG_LANG),
    ("packets", key::GRADE_ARG_PACKETS),
    ("command", key::GRADE_ARG_COMMAND),
];

/// The language the arguments ask for: the value of `--lang` (`--lang zh`, `--lang=zh`) before any
/// `--`, else the environment's ([`Lang::from_env`]). A value that names no language is left for clap
/// to refuse, in the environment's language.
pub fn lang_of(args: &[OsString]) -> Lang {
    let mut args = args.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        let value = match arg.as_ref() {
            "--" => break,
            "--lang" => args.next().map(|v| v.into_owned()),
            other => other.strip_prefix("--lang=").map(str::to_string),
        };
        if let Some(lang) = value.as_deref().and_then(Lang::parse) {
            return lang;
        }
    }
    Lang::from_env()
}

/// `command` (the whole `sockspec` command) with the texts of `grade`'s help in `lang`.
pub fn localize(command: Command, lang: Lang) -> Command {
    command.mut_subcommand("grade", |grade| localize_grade(grade, lang))
}

fn localize_grade(grade: Command, lang: Lang) -> Command {
    // clap's own headings are English; the template puts ours in their place.
    let template = format!(
        "{{about-with-newline}}\n{}{{usage}}\n\n{}\n{{positionals}}\n\n{}\n{{options}}{{after-help}}",
        text(lang, key::HELP_USAGE),
        text(lang, key::HELP_ARGUMENTS),
        text(lang, key::HELP_OPTIONS),
    );
    let mut grade = grade
        .about(text(lang, key::GRADE_ABOUT))
        .after_help(text(lang, key::GRADE_AFTER_HELP))
        .help_template(template)
        // Each text under its flag, as clap lays out the English long help: Chinese lines are long.
        .next_line_help(lang == Lang::Zh)
        // clap's `--help` flag has an English text that cannot be changed: ours, in `lang`.
        .disable_help_flag(true)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help(text(lang, key::GRADE_ARG_HELP)),
        );
    for (id, message) in GRADE_ARGS {
        grade = grade.mut_arg(*id, |arg| {
            let arg = arg.help(text(lang, message));
            // clap lists values and defaults in English: the Chinese texts name them in words.
            if lang == Lang::Zh && arg.get_action().takes_values() {
                arg.hide_possible_values(true).hide_default_value(true)
            } else {
                arg
            }
        });
    }
    grade
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn lang_is_read_from_the_raw_arguments_before_the_command() {
        let zh = args(&[
            "sockspec",
            "grade",
            "--lang",
            "zh",
            "echo-server",
            "--",
            "x",
        ]);
        assert_eq!(lang_of(&zh), Lang::Zh);
        let zh = args(&["sockspec", "grade", "--lang=zh", "--help"]);
        assert_eq!(lang_of(&zh), Lang::Zh);
        let en = args(&["sockspec", "grade", "--lang", "en", "echo-server"]);
        assert_eq!(lang_of(&en), Lang::En);
        // After `--` it belongs to the program under test.
        let program = args(&["sockspec", "grade", "s", "--", "prog", "--lang", "zh"]);
        assert_eq!(lang_of(&program), Lang::from_env());
    }

    #[test]
    fn the_localized_command_is_valid_in_every_language() {
        for lang in Lang::ALL {
            localize(Cli::command(), lang).debug_assert();
        }
    }

    #[test]
    fn every_argument_of_grade_has_its_help_from_the_locales() {
        let command = localize(Cli::command(), Lang::Zh);
        let grade = command.find_subcommand("grade").expect("grade");
        for arg in grade.get_arguments() {
            let id = arg.get_id().as_str();
            let named = id == "help" || GRADE_ARGS.iter().any(|(a, _)| *a == id);
            assert!(
                named,
                "--{id} of grade has no help in locales/*/grade-help.ftl"
            );
        }
        let help = localize(Cli::command(), Lang::Zh)
            .find_subcommand_mut("grade")
            .expect("grade")
            .render_long_help()
            .to_string();
        assert!(help.contains("用法："), "{help}");
        assert!(help.contains("选项："), "{help}");
        assert!(help.contains("退出码"), "{help}");
    }
}
