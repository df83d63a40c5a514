//! A report's texts in the language it was asked in: the suite's translations of requirement, concept
//! and description, and the grader's messages that have an id ([`crate::i18n::Message`]). The English
//! fields of a report never change; the texts in its language sit beside them, under `localized`.

use serde::{Deserialize, Serialize};

use super::findings::CauseReport;
use super::suite::Suite;
use super::verdict::CheckReport;
use crate::i18n::{Lang, Message};

/// A check's texts in the report's language (for `en`, the English ones again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalizedCheck {
    /// What the check asks.
    pub requirement: String,
    /// The socket concept the check exercises.
    pub concept: String,
    /// The check's message; English where the grader's message has no id yet.
    pub message: String,
}

/// A report's own texts in its language.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocalizedReport {
    /// What the suite grades.
    pub suite_description: String,
    /// One per note of the report, in the same order.
    pub notes: Vec<String>,
    /// Why the program could not be launched, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cannot_launch: Option<String>,
    /// One per cause of the report (`causes`), in the same order: its summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
}

/// A check's texts in `lang`, from the suite (the check as the suite has it, if it still does) and
/// the report's message id.
pub fn check_texts(suite: &Suite, report: &CheckReport, lang: Lang) -> LocalizedCheck {
    let check = suite.check(&report.id);
    LocalizedCheck {
        requirement: check
            .map_or(&*report.requirement, |c| c.requirement_in(lang))
            .to_string(),
        concept: check
            .map_or(&*report.concept, |c| c.concept_in(lang))
            .to_string(),
        message: report
            .message_key
            .as_ref()
            .map_or_else(|| report.message.clone(), |m| m.render(lang)),
    }
}

/// The report's own texts in `lang`.
pub fn report_texts(
    suite: &Suite,
    notes: &[Message],
    cannot_launch: Option<&Message>,
    causes: &[CauseReport],
    lang: Lang,
) -> LocalizedReport {
    LocalizedReport {
        suite_description: suite.description_in(lang).to_string(),
        notes: notes.iter().map(|n| n.render(lang)).collect(),
        cannot_launch: cannot_launch.map(|m| m.render(lang)),
        causes: causes
            .iter()
            .map(|c| {
                c.said
                    .as_ref()
                    .map_or_else(|| c.summary.clone(), |m| m.render(lang))
            })
            .collect(),
    }
}
