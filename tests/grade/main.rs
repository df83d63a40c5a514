//! The grader, graded: fixture submissions get exactly their expected verdicts and explanations,
//! misbehaving programs leave no process behind, the reference peers pass every level, and the CLI keeps its promises.

mod cli;
mod compiled;
#[path = "../support/confine.rs"]
mod confine;
mod evidence;
mod explanations;
mod fixtures;
mod http;
mod interrupt;
mod isolation;
mod lang;
mod leftovers;
mod output;
mod packets;
mod peers;
mod teacher;
mod util;
