//! The grader: launching a program under test and watching it.

pub mod capture;
pub mod procfs;
