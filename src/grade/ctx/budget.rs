//! Bounds on time: a check's budget, and the grade's budget for shrinking.

use std::cell::Cell;
use std::time::Duration;

/// A check's time budget, in answer deadlines after its start deadline: every wait of the check ends by
/// then, so a whole grade lasts at most the sum of its checks' budgets, however slow the program.
pub const BUDGET_ANSWERS: u32 = 4;

/// The same for a property check, with room for shrinking a failure (each step a fresh program): so
/// that on a slow machine the count of shrinking runs, not the clock, decides where shrinking stops,
/// and a `--seed` replay finds the same input.
pub const PROPERTY_BUDGET_ANSWERS: u32 = 20;

/// The answer deadlines in the time budget of a check that runs `run`.
pub fn budget_answers(run: &crate::grade::suite::Run) -> u32 {
    if run.is_property() {
        PROPERTY_BUDGET_ANSWERS
    } else {
        BUDGET_ANSWERS
    }
}

/// Bounds over a whole grade on the runs that shrinking makes (each one a fresh program). The count
/// keeps a `--seed` replay the same on any machine; the time is a last resort, and a report says when
/// it is what stopped shrinking (then the shrunk input depends on the machine's speed).
#[derive(Debug)]
pub struct GradeBudget {
    shrink_runs: Cell<u32>,
    shrink_time: Cell<Duration>,
    /// Shrinking runs allowed over the grade ([`GradeBudget::SHRINK_RUNS`]).
    pub max_shrink_runs: u32,
    /// Time allowed for shrinking over the grade, already scaled.
    pub max_shrink_time: Duration,
}

impl GradeBudget {
    /// Runs of the program spent on shrinking over a whole grade.
    pub const SHRINK_RUNS: u32 = 64;
    /// Time spent on shrinking over a whole grade (times `--timeout-scale`).
    pub const SHRINK_TIME: Duration = Duration::from_secs(60);

    /// A fresh budget; the time bound is multiplied by `timeout_scale`.
    pub fn new(timeout_scale: f64) -> Self {
        GradeBudget {
            shrink_runs: Cell::new(0),
            shrink_time: Cell::new(Duration::ZERO),
            max_shrink_runs: Self::SHRINK_RUNS,
            max_shrink_time: Self::SHRINK_TIME.mul_f64(timeout_scale),
        }
    }

    /// Counts one shrinking run that took `took`.
    pub fn spend(&self, took: Duration) {
        self.shrink_runs.set(self.shrink_runs.get() + 1);
        self.shrink_time.set(self.shrink_time.get() + took);
    }

    /// Why no more shrinking runs may be made, if none may.
    pub fn exhausted(&self) -> Option<String> {
        if self.shrink_runs.get() >= self.max_shrink_runs {
            Some(format!(
                "the grade's shrinking budget of {} runs was used up",
                self.max_shrink_runs
            ))
        } else if self.shrink_time.get() >= self.max_shrink_time {
            Some(format!(
                "the grade's shrinking time budget of {:.0} s was used up (a time: on another \
                 machine shrinking may go further)",
                self.max_shrink_time.as_secs_f64()
            ))
        } else {
            None
        }
    }
}
