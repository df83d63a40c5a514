//! The grader, graded: fixture submissions get exactly their expected verdicts and explanations,
//! misbehaving programs leave no process behind, the reference peers pass every level, and the CLI keeps its promises.

mod cli;
mod compiled;
mod evidence;
mod explanations;
mod fixtures;
mod interrupt;
mod isolation;
mod leftovers;
mod output;
mod peers;
mod util;
