//! sockspec: reference peers for the programs of an introductory socket lesson, and a grader that drives
//! any implementation of them over loopback.
//!
//! - [`peers`]: echo, chat, file-transfer and UDP servers and clients, each bound to an address you choose
//!   (port 0 for an ephemeral one) and usable from tests as a library.
//! - [`wire`]: deadline-bounded socket helpers shared by the peers, the tests and the grader.
//! - [`grade`]: running a program under test, seeing its output, finding its sockets, stopping it;
//!   [`grade::Grade`] grades a program from a test.
//! - [`i18n`]: the language of reports and help (English, Simplified Chinese), texts in Fluent files.
//! - [`inspect`]: the sockets a program holds (`netstat -ano` for one program) and what a name resolves to.
//! - [`packets`]: TCP segments captured on `lo` of a private network namespace (`handshake`, `grade --packets`).
//! - [`batch`]: a whole class graded in parallel from its manifest (`sockspec.toml`), each grade stored as
//!   it finishes.
//! - [`results`]: a batch's results on disk (one grade report per student and assignment), and the class
//!   they make.
//! - [`report`]: a grading report, or a class, as human text, CSV, HTML, JSON, JUnit XML, Gradescope,
//!   PrairieLearn or TAP.
//! - `cli` (with the default `cli` feature): the `sockspec` command line, turned into checked
//!   configuration before anything runs. Nothing else in the library uses it; build with
//!   `default-features = false` to leave it, clap and anyhow out.

#![warn(missing_docs)]

pub mod batch;
#[cfg(feature = "cli")]
pub mod cli;
pub mod error;
pub mod exit;
pub mod grade;
pub mod i18n;
pub mod inspect;
pub mod packets;
pub mod peers;
pub mod report;
pub mod results;
pub mod wire;

pub use error::Error;
