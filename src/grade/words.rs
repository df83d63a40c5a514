//! The grader's words for what its messages name, as arguments of a [`Message`]: a connection
//! (`client 1`), a wait (`within 5.0 s`), so that each language says them its own way.

use std::time::Duration;

use crate::i18n::{key, Arg, Message};

/// A connection's name as its messages say it: `client N` and `program` in the report's language, a
/// name a suite's script gave as it is.
pub fn party(name: &str) -> Arg {
    if name == "program" {
        return Message::new(key::PARTY_PROGRAM).into();
    }
    match name.strip_prefix("client ").map(str::parse::<u32>) {
        Some(Ok(n)) if name == format!("client {n}") => {
            Message::new(key::PARTY_CLIENT).arg("n", n).into()
        }
        _ => name.into(),
    }
}

/// Seconds with one decimal, as the messages give a deadline (`5.0`).
pub fn secs(wait: Duration) -> String {
    format!("{:.1}", wait.as_secs_f64())
}

/// `within 5.0 s`, or the check's time budget when it is what cut the wait.
pub fn within(wait: Duration, budget_out: bool) -> Message {
    if budget_out {
        Message::new(key::WITHIN_BUDGET)
    } else {
        Message::new(key::WITHIN_SECS).arg("secs", secs(wait))
    }
}

/// The phrases the grader passes around as English text (what a program was doing, what should have
/// made it exit, why shrinking stopped) that have a message of their own: [`phrase`] finds them by
/// their English words. One may take an argument ([`PHRASE_ARGS`]), found in the words where the
/// message has it.
const PHRASES: &[&str] = &[
    key::DOING_SENDING,
    key::DOING_RECEIVING,
    key::DOING_WAITING_MESSAGE,
    key::DOING_WAITING_REPLY,
    key::DOING_WAITING_THE_REPLY,
    key::DOING_WAITING_LINE,
    key::AFTER_EMPTY_LINE,
    key::AFTER_STDIN_ENDED,
    key::AFTER_SENDING_FILE,
    key::AFTER_SENDER_CLOSED,
    key::AFTER_CLIENT_CLOSED,
    key::WHAT_SERVER_REPLY,
    key::WHAT_SERVER_LINE,
    key::WHAT_CLIENT_LINE,
    key::SHRINK_TIMEOUT,
    key::SHRINK_WAITED,
    key::SHRINK_BUDGET_SPENT,
    key::SHRINK_CHECK_RUNS_USED,
    key::SHRINK_GRADE_RUNS_USED,
    key::SHRINK_GRADE_TIME_USED,
    key::HOW_EXITED_BEFORE_LISTENING,
    key::HOW_NOT_LISTENING_WITHIN,
    key::HOW_ENDED_BEFORE_LISTENING,
    key::HOW_EXITED_WITHOUT_CONNECTING,
    key::HOW_NOT_CONNECTED_WITHIN,
];

/// The names a phrase's one argument may have.
const PHRASE_ARGS: &[&str] = &["count", "status", "secs"];

/// A phrase of the grader's (`sending`, `stdin ended (EOF)`) in the report's language when it has a
/// message ([`PHRASES`]), else as it is.
pub fn phrase(words: &str) -> Arg {
    // The message rendered with a mark for its argument shows the words around the argument.
    const HOLE: &str = "\u{1}";
    let with = |id: &str, value: &str| {
        PHRASE_ARGS
            .iter()
            .fold(Message::new(id), |m, name| m.arg(name, value))
    };
    PHRASES
        .iter()
        .filter_map(|id| {
            let template = with(id, HOLE).english();
            let value = match template.split_once(HOLE) {
                None => "",
                Some((before, after)) => words.strip_prefix(before)?.strip_suffix(after)?,
            };
            Some(with(id, value)).filter(|m| m.english() == words)
        })
        .next()
        .map_or_else(|| words.into(), Arg::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    fn said(arg: Arg, lang: Lang) -> String {
        Message::new(key::VERBATIM).arg("text", arg).render(lang)
    }

    #[test]
    fn clients_are_named_in_each_language_and_other_names_kept() {
        assert_eq!(said(party("client 12"), Lang::En), "client 12");
        assert_eq!(said(party("client 12"), Lang::Zh), "客户端 12");
        assert_eq!(said(party("program"), Lang::Zh), "程序");
        assert_eq!(said(party("client 01"), Lang::Zh), "client 01");
        assert_eq!(said(party("alice"), Lang::Zh), "alice");
    }

    #[test]
    fn phrases_are_found_by_their_english_words() {
        assert_eq!(
            said(phrase("stdin ended (EOF)"), Lang::En),
            "stdin ended (EOF)"
        );
        assert_ne!(
            said(phrase("stdin ended (EOF)"), Lang::Zh),
            "stdin ended (EOF)"
        );
        assert_eq!(said(phrase("something else"), Lang::Zh), "something else");
        for id in PHRASES {
            let message = PHRASE_ARGS
                .iter()
                .fold(Message::new(id), |m, name| m.arg(name, "16"));
            let found = said(phrase(&message.english()), Lang::Zh);
            assert_eq!(found, message.render(Lang::Zh), "{id}");
        }
        let how = phrase("exited (exit status 1) before it listened");
        assert_eq!(said(how, Lang::Zh), "还没开始监听就退出了（exit status 1）");
        let runs = phrase("the grade's shrinking budget of 200 runs was used up");
        assert_eq!(
            said(runs, Lang::Zh),
            "整次评分的缩小预算（200 次运行）已经用完"
        );
    }

    #[test]
    fn a_wait_is_said_in_seconds_or_as_the_budget() {
        let wait = Duration::from_millis(5000);
        assert_eq!(within(wait, false).english(), "within 5.0 s");
        assert_eq!(within(wait, false).render(Lang::Zh), "在 5.0 秒内");
        assert_eq!(
            within(wait, true).english(),
            "before the check's time budget ran out"
        );
    }
}
