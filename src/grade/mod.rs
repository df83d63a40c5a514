//! The grader: launching a program under test and watching it ([`launch`], [`capture`], [`procfs`]).

pub mod capture;
pub mod launch;
pub mod procfs;
