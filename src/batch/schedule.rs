//! Grades side by side: a fixed pool of worker threads takes the jobs in order, each grade is stored the
//! moment it finishes, and an interruption stops every program at once while keeping what is stored.
//!
//! Why threads that each run whole grades: a grade mostly waits (for a program to start, for a reply, for
//! a deadline to pass), so grades overlap well even on few cores; each launch runs in a network namespace
//! of its own, so programs with hard-coded ports do not clash.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{Batch, Job};
use crate::error::Error;
use crate::grade::runs::{self, Cleanup};
use crate::grade::GradeReport;

/// What the workers and an interruption share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    stopping: AtomicBool,
    /// Held while a result or a summary is written: an interruption takes it, so the process never ends
    /// in the middle of a write (its `.tmp-*` file would be left).
    store: Mutex<()>,
    graded: AtomicUsize,
}

impl Shared {
    pub(super) fn store(&self) -> MutexGuard<'_, ()> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Where a batch stands, with each event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Grades finished (stored, or failed for the grader's reasons) in this run.
    pub done: usize,
    /// Grades this run makes.
    pub total: usize,
    /// Grades whose required checks did not all pass (a missing program included).
    pub failed: usize,
}

/// What happened to one job.
#[derive(Debug)]
pub enum Event<'a> {
    /// Graded and stored.
    Graded {
        /// The job.
        job: &'a Job,
        /// Its report, as stored.
        report: &'a GradeReport,
        /// How far the run is.
        progress: Progress,
    },
    /// No grade could be made, for a reason that is not the student's (the result cannot be written,
    /// the grader failed): nothing is stored, `--resume` tries again.
    Error {
        /// The job.
        job: &'a Job,
        /// Why no grade was made.
        error: &'a Error,
        /// How far the run is.
        progress: Progress,
    },
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Grades made and stored.
    pub graded: usize,
    /// Grades stored whose program did not pass every required check.
    pub failed: usize,
    /// Jobs that produced no grade (see [`Event::Error`]).
    pub errors: usize,
    /// Stopped by [`Stopper::interrupt`]: the jobs not finished are not stored.
    pub interrupted: bool,
}

/// Stops a running batch from another thread (a signal thread).
#[derive(Clone)]
pub struct Stopper {
    shared: std::sync::Arc<Shared>,
}

/// A batch being stopped: no result can be written while this lives (end the process before dropping
/// it).
pub struct Interrupted<'a> {
    _store: MutexGuard<'a, ()>,
    /// The programs that were running, stopped.
    pub cleanup: Cleanup,
    /// Grades stored by this run before the interruption.
    pub graded: usize,
}

impl Stopper {
    /// Stops the batch: no job starts any more, every running program is killed and its temporary
    /// directory removed ([`runs::interrupt`]: for a process about to end), the grades they were in are
    /// dropped, and a result being written is finished first.
    pub fn interrupt(&self) -> Interrupted<'_> {
        self.shared.stopping.store(true, Ordering::SeqCst);
        let cleanup = runs::interrupt();
        let store = self.shared.store();
        Interrupted {
            _store: store,
            cleanup,
            graded: self.shared.graded.load(Ordering::SeqCst),
        }
    }
}

impl Batch {
    /// What stops this batch from another thread.
    pub fn stopper(&self) -> Stopper {
        Stopper {
            shared: std::sync::Arc::clone(&self.shared),
        }
    }

    /// Grades every job with `workers` grades at a time, storing each as it finishes; `on_event` sees
    /// each finished job (from the worker's thread, one at a time).
    ///
    /// The workers live until the last job is taken: a program's first process is tied to the thread
    /// that launched it (`PR_SET_PDEATHSIG`), which must outlive it.
    pub fn run(&self, workers: usize, on_event: impl Fn(Event) + Sync) -> Outcome {
        let next = AtomicUsize::new(0);
        let counts = Mutex::new((0usize, 0usize, 0usize)); // done, failed, errors
        let total = self.jobs.len();
        let workers = workers.clamp(1, total.max(1));
        let work = || loop {
            if self.shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            let Some(job) = self.jobs.get(next.fetch_add(1, Ordering::SeqCst)) else {
                return;
            };
            let result = self.grade(job).and_then(|report| {
                let _store = self.shared.store();
                // Interrupted while grading: what the grade saw proves nothing.
                if self.shared.stopping.load(Ordering::SeqCst) {
                    return Err(Error::Interrupted);
                }
                let a = &self.manifest.assignments[job.assignment].name;
                self.dir.write_result(&job.student, a, &report)?;
                self.shared.graded.fetch_add(1, Ordering::SeqCst);
                Ok(report)
            });
            if matches!(result, Err(Error::Interrupted)) {
                return;
            }
            let mut counts = counts.lock().unwrap_or_else(PoisonError::into_inner);
            counts.0 += 1;
            match &result {
                Ok(report) if !report.passed() => counts.1 += 1,
                Ok(_) => {}
                Err(_) => counts.2 += 1,
            }
            let progress = Progress {
                done: counts.0,
                total,
                failed: counts.1,
            };
            // Under the lock: events arrive one at a time, in the order of `done`.
            match &result {
                Ok(report) => on_event(Event::Graded {
                    job,
                    report,
                    progress,
                }),
                Err(error) => on_event(Event::Error {
                    job,
                    error,
                    progress,
                }),
            }
        };
        std::thread::scope(|scope| {
            let started = (0..workers)
                .map_while(|n| {
                    std::thread::Builder::new()
                        .name(format!("grade-{n}"))
                        .spawn_scoped(scope, work)
                        .ok()
                })
                .count();
            // No thread could be started (a process limit): grade here, one at a time.
            if started == 0 {
                work();
            }
        });
        let (done, failed, errors) = *counts.lock().unwrap_or_else(PoisonError::into_inner);
        Outcome {
            graded: done - errors,
            failed,
            errors,
            interrupted: self.shared.stopping.load(Ordering::SeqCst),
        }
    }
}
