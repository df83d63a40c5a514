//! Shrinking in jumps: the simplest input first, then runs of simplifications taken at once.
//!
//! Every shrinking step of a property check relaunches the program and talks to it, so steps are few
//! (see [`super::MAX_SHRINK_RUNS`]), while proptest takes one simplification per step: a message of
//! twelve words loses them one run at a time. Most failures of course programs do not depend on the
//! input at all (no reply, the wrong prefix, a crash on close), or on only one feature of it (two
//! messages, a space at the end). So a case's value tree is driven here in jumps:
//!
//! - The first try is the floor: the value the tree reaches when every simplification is taken. When
//!   it fails too, it is the input reported, after one run.
//! - Otherwise the number of simplifications taken at once is halved until one fails, and doubled
//!   after each jump that fails as well (a binary search along the tree's own shrinking path).
//! - A single simplification that makes the failure go away is undone as proptest would (its
//!   `complicate`), and the jumps start again from the next failing value.
//!
//! Going back to the last failing value after a jump that passed needs the tree as it was: the tree is
//! generated again from the same generator state (a twin) and the same simplifications replayed.
//! Values are compared by their `Debug` text, so no bound beyond proptest's own is needed.

use std::sync::Arc;

use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::{Config, TestRng, TestRunner};

/// Bound on the simplifications of one jump, and on those replayed: in-memory steps, never runs of the
/// program.
const MAX_STEPS: usize = 20_000;

/// `S`, whose trees shrink in jumps.
#[derive(Debug)]
pub(super) struct InJumps<S>(pub Arc<S>);

impl<S: Strategy> Strategy for InJumps<S>
where
    S::Value: Clone,
{
    type Tree = JumpTree<S>;
    type Value = S::Value;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let rng = runner.rng().clone();
        let config = runner.config().clone();
        let tree = self.0.new_tree(runner)?;
        let twins = Twins {
            strategy: self.0.clone(),
            rng,
            config,
        };
        // A twin that is not the same value (a filter that counted its rejects differently) cannot
        // stand for the tree: then it shrinks as proptest would, one step a run.
        let faithful = twins
            .make()
            .is_some_and(|twin| same(&twin.current(), &tree.current()));
        Ok(JumpTree {
            twins: faithful.then_some(twins),
            base_value: tree.current(),
            tree,
            base: Vec::new(),
            taken: Vec::new(),
            jump: MAX_STEPS,
            stepping: false,
        })
    }
}

fn same<V: std::fmt::Debug>(a: &V, b: &V) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// What makes a tree again, identical to the case's: the strategy and the generator state it drew from.
struct Twins<S> {
    strategy: Arc<S>,
    rng: TestRng,
    config: Config,
}

impl<S: Strategy> Twins<S> {
    fn make(&self) -> Option<S::Tree> {
        let mut runner = TestRunner::new_with_rng(self.config.clone(), self.rng.clone());
        self.strategy.new_tree(&mut runner).ok()
    }
}

/// One call made on a tree, to replay it on a twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Simplify,
    Complicate,
}

/// A value tree driven in jumps (see the module documentation).
pub(super) struct JumpTree<S: Strategy> {
    /// `None`: no faithful twin, the tree shrinks one step a run.
    twins: Option<Twins<S>>,
    /// The tree, at the value last handed out.
    tree: S::Tree,
    /// The calls that lead to the last value known to fail.
    base: Vec<Op>,
    /// The value `base` leads to.
    base_value: S::Value,
    /// The calls made since `base` to reach the current value.
    taken: Vec<Op>,
    /// Simplifications the last jump was to take.
    jump: usize,
    /// After a single simplification passed: the tree is led by proptest's protocol until a value
    /// fails again.
    stepping: bool,
}

impl<S: Strategy> std::fmt::Debug for JumpTree<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JumpTree")
            .field("base", &self.base.len())
            .field("taken", &self.taken)
            .field("jump", &self.jump)
            .field("stepping", &self.stepping)
            .finish()
    }
}

impl<S: Strategy> JumpTree<S> {
    /// Takes up to `n` simplifications on the tree as it is; true when it took at least one.
    fn leap(&mut self, n: usize) -> bool {
        let mut took = 0;
        while took < n && self.base.len() + self.taken.len() < MAX_STEPS && self.tree.simplify() {
            self.taken.push(Op::Simplify);
            took += 1;
        }
        took > 0
    }

    /// Puts the tree back at the last failing value, by replaying its calls on a twin.
    fn back_to_base(&mut self) -> bool {
        let Some(mut twin) = self.twins.as_ref().and_then(Twins::make) else {
            return false;
        };
        for op in &self.base {
            match op {
                Op::Simplify => twin.simplify(),
                Op::Complicate => twin.complicate(),
            };
        }
        self.tree = twin;
        self.taken.clear();
        true
    }
}

impl<S: Strategy> ValueTree for JumpTree<S>
where
    S::Value: Clone,
{
    type Value = S::Value;

    fn current(&self) -> S::Value {
        self.tree.current()
    }

    /// The current value failed: it is the new base, and the next jump starts from it, twice as long
    /// as the one that reached it.
    fn simplify(&mut self) -> bool {
        if self.twins.is_none() {
            return self.tree.simplify();
        }
        let first = self.base.is_empty() && self.taken.is_empty() && !self.stepping;
        let reached = self.taken.iter().filter(|&&op| op == Op::Simplify).count();
        self.base.append(&mut self.taken);
        self.base_value = self.tree.current();
        self.jump = if first {
            // The generated value failed: straight to the floor.
            MAX_STEPS
        } else if std::mem::take(&mut self.stepping) {
            1
        } else {
            reached.saturating_mul(2).clamp(1, MAX_STEPS)
        };
        self.leap(self.jump)
    }

    /// The current value passed: a shorter jump from the base, or, when a single simplification was
    /// too much, proptest's own way back.
    fn complicate(&mut self) -> bool {
        if self.twins.is_none() {
            return self.tree.complicate();
        }
        if !self.stepping {
            let reached = self.taken.len();
            if reached > 1 && self.back_to_base() {
                return self.leap(reached / 2);
            }
            self.stepping = true;
        }
        let moved = self.tree.complicate();
        self.taken.push(Op::Complicate);
        // Undoing a step often leads back to the value that last failed: known, it is not run again.
        if moved && same(&self.tree.current(), &self.base_value) {
            return self.simplify();
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::test_runner::{TestCaseError, TestError};

    /// Runs a property over `InJumps(strategy)` as `property()` does (an input that passed is not run
    /// again), from generator seed `seed`; the reported value and the runs after the first failure.
    fn shrink_with<T, S, F>(seed: u8, strategy: S, fails: F) -> (T, usize)
    where
        S: Strategy<Value = T>,
        T: Clone + std::fmt::Debug,
        F: Fn(&T) -> bool,
    {
        let config = Config {
            failure_persistence: None,
            ..Config::default()
        };
        let rng = TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &[seed; 32]);
        let mut runner = TestRunner::new_with_rng(config, rng);
        let calls = std::cell::Cell::new(None::<usize>);
        let passed = std::cell::RefCell::new(std::collections::HashSet::new());
        let result = runner.run(&InJumps(Arc::new(strategy)), |v| {
            if passed.borrow().contains(&format!("{v:?}")) {
                return Ok(());
            }
            if let Some(n) = calls.get() {
                calls.set(Some(n + 1));
            }
            if !fails(&v) {
                passed.borrow_mut().insert(format!("{v:?}"));
            }
            if fails(&v) {
                calls.set(Some(calls.get().unwrap_or(0)));
                return Err(TestCaseError::fail("fails"));
            }
            Ok(())
        });
        match result {
            Err(TestError::Fail(_, v)) => (v, calls.get().unwrap_or(0)),
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn a_failure_that_does_not_depend_on_the_input_takes_one_step() {
        let (value, steps) = shrink_with(1, vec(10u32..1000, 3..8), |_| true);
        assert_eq!(value, vec![10, 10, 10]);
        assert_eq!(steps, 1);
    }

    #[test]
    fn when_the_floor_passes_shrinking_goes_on_to_a_minimal_value() {
        // Fails only when some element is at least 500: the floor (all 10s) passes.
        let (value, _) = shrink_with(1, vec(10u32..1000, 3..8), |v| v.iter().any(|&x| x >= 500));
        assert_eq!(value.len(), 3, "{value:?}: shrunk to the shortest length");
        assert_eq!(value.iter().filter(|&&x| x == 500).count(), 1, "{value:?}");
        assert_eq!(value.iter().filter(|&&x| x == 10).count(), 2, "{value:?}");
    }

    #[test]
    fn long_texts_shrink_in_few_steps_when_only_their_number_matters() {
        // Two messages of up to 40 characters fail whatever they say (a client that reconnects for its
        // second line): one character a step would take dozens of runs.
        let mut most = 0;
        for seed in 0..20 {
            let text = proptest::string::string_regex("[a-z]{10,40}").unwrap();
            let (value, steps) = shrink_with(seed, vec(text, 1..6), |v: &Vec<String>| v.len() >= 2);
            assert_eq!(value.len(), 2, "seed {seed}: {value:?}");
            assert!(
                value.iter().all(|m| m.len() == 10),
                "seed {seed}: {value:?}: each message at its shortest"
            );
            most = most.max(steps);
        }
        // Proptest alone, one simplification a run, takes 85 to 128 runs on these seeds; jumps take 16 at most.
        assert!(most <= 20, "{most} runs at most: shrinking is not jumping");
    }
}
