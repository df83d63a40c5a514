//! Waiting for what the program prints, and saying why it did not print what it should.

use super::{describe_status, Ctx, REAP_SETTLE};
use crate::grade::cause;
use crate::grade::printed::{contains, misprinted, partly_printed, printed};
use crate::grade::verdict::{CheckResult, Failure, Outcome};
use crate::grade::watch::{self, Watched};
use crate::grade::words::phrase;
use crate::i18n::{key, Arg, Message};
use crate::wire::Deadline;

impl Ctx<'_> {
    /// How many stdout bytes the program has printed so far: a mark for [`Ctx::wait_printed`].
    pub fn stdout_mark(&mut self) -> CheckResult<u64> {
        Ok(self.program()?.stdout().total())
    }

    /// Waits until the program prints `text` after `mark`: anywhere in its output (lenient), or as a
    /// whole line (strict). `own` is a line the program sent itself (so that printing it instead can be
    /// told). Printing something else and going back to waiting is a failure at once; printing nothing
    /// at all, a timeout.
    pub fn wait_printed(
        &mut self,
        mark: u64,
        text: &[u8],
        what: &str,
        own: Option<&[u8]>,
    ) -> CheckResult {
        let strict = self.opts.strict;
        let watched = self.watch_output(mark, |out| {
            printed(out, text, strict) || misprinted(out, text).is_some()
        })?;
        let out = self.program()?.stdout().since(mark);
        if printed(&out, text, strict) {
            return Ok(());
        }
        let failure = if let Some(why) = misprinted(&out, text) {
            let message = Message::new(key::PRINTED_WRONGLY)
                .arg("what", phrase(what))
                .arg("why", why);
            Failure::said(Outcome::Fail, message).with_cause(cause::printed_bytes())
        } else if strict && contains(&out, text) {
            let message = Message::new(key::PRINTED_NOT_OWN_LINE).arg("what", phrase(what));
            Failure::said(Outcome::Fail, message)
        } else if partly_printed(&out, text) {
            let message = Message::new(key::PRINTED_PART).arg("what", phrase(what));
            Failure::said(Outcome::Fail, message)
        } else {
            self.not_printed(watched, phrase(what), &out, own)?
        };
        Err(failure.with_expected(text).with_actual(out))
    }

    /// Records in the transcript everything the program printed so far.
    pub fn sync_output(&self) {
        if let Some(launched) = &self.current {
            launched.tap.sync();
        }
    }

    /// Watches the output after `mark` until `found` holds for it or the program has answered something
    /// else (see [`watch::watch`]); what was printed is in the transcript afterwards.
    pub fn watch_output(
        &mut self,
        mark: u64,
        found: impl FnMut(&[u8]) -> bool,
    ) -> CheckResult<Watched> {
        let deadline = self.deadline();
        let quiet = self.scaled(self.opts.quiet);
        let watched = watch::watch(self.program()?, mark, deadline, quiet, found);
        self.sync_output();
        Ok(watched)
    }

    /// Why nothing matching was printed, once a watch ended without it: the program ended, answered
    /// something else, or printed nothing by the deadline. `what` names what was awaited (a [`phrase`]).
    pub fn not_printed(
        &mut self,
        watched: Watched,
        what: Arg,
        out: &[u8],
        own: Option<&[u8]>,
    ) -> CheckResult<Failure> {
        let within = self.limits().within_said();
        // stdout at its end most likely means the program is ending: give it the moment to be reaped,
        // so the verdict does not depend on how fast that happens.
        let program = self.program()?;
        let exited = if watched == Watched::Ended {
            program.wait_exit(Deadline::after(REAP_SETTLE))
        } else {
            program.try_status()
        };
        let printed_something = !out.trim_ascii().is_empty();
        let said = |outcome: Outcome, message: Message| {
            Failure::said(outcome, message.arg("what", what.clone()))
        };
        let failure = match exited {
            Some(status) => said(
                Outcome::Fail,
                Message::new(key::EXITED_WITHOUT_PRINTING).arg("status", describe_status(status)),
            ),
            None if watched == Watched::Settled => {
                let id = match own {
                    Some(own) if contains(out, own) => key::PRINTED_OWN_LINE_INSTEAD,
                    _ => key::PRINTED_SOMETHING_ELSE,
                };
                said(Outcome::Fail, Message::new(id))
            }
            None if printed_something => said(
                Outcome::Timeout,
                Message::new(key::DID_NOT_PRINT).arg("within", within),
            ),
            None => said(
                Outcome::Timeout,
                Message::new(key::PRINTED_NOTHING).arg("within", within),
            ),
        };
        Ok(if matches!(watched, Watched::Deadline) {
            failure.after_waiting()
        } else {
            failure
        })
    }
}
