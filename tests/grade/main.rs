//! The grader, graded: fixture submissions get exactly their expected verdicts, misbehaving programs
//! leave no process behind, the reference peers pass every level, and the CLI keeps its promises.

mod cli;
mod compiled;
mod evidence;
mod fixtures;
mod interrupt;
mod isolation;
mod leftovers;
mod output;
mod peers;
mod teacher;
mod util;
