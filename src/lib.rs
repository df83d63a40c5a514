//! sockspec: reference peers for the programs of an introductory socket lesson, and a grader that drives
//! any implementation of them over loopback.
//!
//! - [`peers`]: echo, chat, file-transfer and UDP servers and clients, each bound to an address you choose
//!   (port 0 for an ephemeral one) and usable from tests as a library.
//! - [`wire`]: deadline-bounded socket helpers shared by the peers, the tests and the grader.
//! - [`grade`]: running a program under test, seeing its output, finding its sockets, stopping it.
//! - [`results`]: a batch's results on disk (one grade report per student and assignment), and the class
//!   they make, which [`report`] renders as CSV, HTML, JUnit, Gradescope, PrairieLearn, TAP or JSON.
//! - [`cli`]: the `sockspec` command line, turned into checked configuration before anything runs.

pub mod cli;
pub mod error;
pub mod exit;
pub mod grade;
pub mod peers;
pub mod report;
pub mod results;
pub mod wire;

pub use error::Error;
