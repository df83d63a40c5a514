//! Shrinking that tries the simplest input first.
//!
//! Every shrinking step of a property check relaunches the program and talks to it, so steps are few
//! (see [`super::MAX_SHRINK_RUNS`]). Most failures of course programs do not depend on the input at all
//! (no reply, the wrong prefix, a crash on close): proptest would spend all its steps walking down to
//! an input that fails as well as the first. So the first step tries the bottom of the case's own
//! shrinking path, the value its tree reaches when every simplification is taken; when that fails too it
//! is the input reported, after one run. When it passes, shrinking goes on from the failing value as
//! proptest does, one run later.

use proptest::strategy::{NewTree, Strategy, ValueTree};
use proptest::test_runner::TestRunner;

/// Bound on the simplifications taken to reach the floor: in-memory steps, never runs of the program.
const MAX_FLOOR_STEPS: u32 = 10_000;

/// `S`, whose trees try their floor first when shrinking.
#[derive(Debug)]
pub(super) struct FloorFirst<S>(pub S);

impl<S: Strategy> Strategy for FloorFirst<S>
where
    S::Value: Clone,
{
    type Tree = FloorTree<S::Tree>;
    type Value = S::Value;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let rng = runner.rng().clone();
        let tree = self.0.new_tree(runner)?;
        // The same draw again, from the same generator state, simplified all the way down.
        let mut twin_runner = TestRunner::new_with_rng(runner.config().clone(), rng);
        let floor = self.0.new_tree(&mut twin_runner).ok().and_then(|mut twin| {
            // A twin that is not the same value (a filter that counted its rejects differently) has
            // no floor to offer.
            if format!("{:?}", twin.current()) != format!("{:?}", tree.current()) {
                return None;
            }
            let mut steps = 0;
            while steps < MAX_FLOOR_STEPS && twin.simplify() {
                steps += 1;
            }
            let floor = twin.current();
            (format!("{floor:?}") != format!("{:?}", tree.current())).then_some(floor)
        });
        Ok(FloorTree {
            tree,
            floor,
            state: State::Generated,
        })
    }
}

/// Where a [`FloorTree`] is in its shrinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The generated value, not yet shrunk.
    Generated,
    /// Trying the floor.
    AtFloor,
    /// The floor passed (or there was none): proptest's own shrinking of the generated value.
    Shrinking,
}

/// A value tree whose first simplification is its floor.
#[derive(Debug)]
pub(super) struct FloorTree<T: ValueTree> {
    tree: T,
    floor: Option<T::Value>,
    state: State,
}

impl<T: ValueTree> ValueTree for FloorTree<T>
where
    T::Value: Clone,
{
    type Value = T::Value;

    fn current(&self) -> T::Value {
        match (&self.floor, self.state) {
            (Some(floor), State::AtFloor) => floor.clone(),
            _ => self.tree.current(),
        }
    }

    fn simplify(&mut self) -> bool {
        match self.state {
            State::Generated if self.floor.is_some() => {
                self.state = State::AtFloor;
                true
            }
            State::Generated | State::Shrinking => {
                self.state = State::Shrinking;
                self.tree.simplify()
            }
            // The floor failed too: there is nothing simpler on this path.
            State::AtFloor => false,
        }
    }

    fn complicate(&mut self) -> bool {
        match self.state {
            // The floor passed: shrink from the generated value, starting with its first step.
            State::AtFloor => {
                self.state = State::Shrinking;
                self.tree.simplify()
            }
            State::Shrinking => self.tree.complicate(),
            State::Generated => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::test_runner::{Config, TestCaseError, TestError};

    /// Runs a property over `FloorFirst(strategy)`; the reported value and the number of test calls
    /// after the first failure.
    fn shrink_with<F>(fails: F) -> (Vec<u32>, usize)
    where
        F: Fn(&[u32]) -> bool,
    {
        let mut runner = TestRunner::new(Config {
            failure_persistence: None,
            ..Config::default()
        });
        let calls = std::cell::Cell::new(None::<usize>);
        let result = runner.run(&FloorFirst(vec(10u32..1000, 3..8)), |v| {
            if let Some(n) = calls.get() {
                calls.set(Some(n + 1));
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
        let (value, steps) = shrink_with(|_| true);
        assert_eq!(value, vec![10, 10, 10]);
        assert_eq!(steps, 1);
    }

    #[test]
    fn when_the_floor_passes_shrinking_goes_on_from_the_failing_value() {
        // Fails only when some element is at least 500: the floor (all 10s) passes.
        let (value, steps) = shrink_with(|v| v.iter().any(|&x| x >= 500));
        assert!(value.iter().any(|&x| x >= 500), "{value:?} must still fail");
        assert_eq!(value.len(), 3, "{value:?}: shrunk to the shortest length");
        assert_eq!(value.iter().filter(|&&x| x > 10).count(), 1, "{value:?}");
        assert!(steps > 1);
    }
}
