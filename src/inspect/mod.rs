//! What the system knows about a program's network, shown the way the lesson teaches it: the sockets a
//! program holds (`netstat -ano`, for one program) and the addresses a name stands for (DNS).
//!
//! - [`sockets`]: one look at the sockets of a set of processes, with their holders, read from `/proc`
//!   through [`crate::grade::procfs`]; which process holds a port.
//! - [`changes`]: two looks compared: sockets that appeared, changed state or went away.
//! - [`watch`]: looking again and again until the program ends or the user presses Ctrl-C;
//!   [`stop_signals`]: Ctrl-C (and SIGTERM, SIGHUP) as something the watch waits for.
//! - [`netstat`]: the table, the change lines and the meaning of each TCP state, as text.
//! - [`lookup`] and [`resolver`]: a name resolved by the system resolver, and where the answer came
//!   from (the hosts file, DNS).

pub mod changes;
pub mod lookup;
pub mod netstat;
pub mod resolver;
pub mod sockets;
pub mod stop_signals;
pub mod watch;

/// How `sockets` and `lookup` print what they found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// Text for a person, with the meaning of what is shown.
    #[default]
    Human,
    /// JSON with stable field names.
    Json,
}
