//! Exit codes of the `sockspec` binary, one per kind of outcome, so scripts can tell them apart.

/// Everything asked for was done (for `grade`: every required check passed).
pub const OK: u8 = 0;
/// The work ran but did not succeed: a transfer broke, or (for `grade`) a required check failed.
pub const FAILED: u8 = 1;
/// The command line, a suite file or the command to launch is wrong (clap uses 2 as well).
pub const USAGE: u8 = 2;
/// A server cannot listen: the port is in use, or the address cannot be bound.
pub const ADDR_IN_USE: u8 = 3;
/// A file cannot be read or written.
pub const FILE: u8 = 4;
/// A client cannot connect: nobody listens at the address, the host is unreachable, or it timed out.
pub const CONNECT: u8 = 5;
/// A name has no address (`lookup`): no such name, no answer from DNS, or not a valid address.
pub const NOT_RESOLVED: u8 = 6;
/// Packets cannot be captured here (`handshake`, `grade --packets`): not root, or no namespaces.
pub const CANNOT_CAPTURE: u8 = 7;
/// A suite file is invalid (`suite check`): the error says where (line) and what (field).
pub const INVALID_SUITE: u8 = 8;
/// The class manifest of `sockspec batch` (`sockspec.toml`) is wrong: a field, a suite, a pattern.
pub const MANIFEST: u8 = 9;
/// Stopped by a signal N (Ctrl-C is SIGINT, 2): the exit code is 128 + N, as a shell reports it.
pub const SIGNALLED: u8 = 128;

/// The help text's table of exit codes; kept beside the constants so the two cannot drift apart.
pub const HELP: &str = "\
Exit codes:
  0  success (grade: every required check passed)
  1  the work failed (a transfer broke; grade: a required check failed, or the program cannot be launched)
  2  usage error: bad flag or value (port, host), bad suite file or command (grade)
  3  cannot listen: the port is already in use, or the address cannot be bound
  4  file error: a file cannot be read or written
  5  cannot connect: nobody is listening, the host is unreachable, or the connection timed out
  6  a name does not resolve (lookup): no such name, no answer from DNS, not a valid address
  7  packets cannot be captured here (handshake): not root, or no network namespaces
  8  suite check: the suite file is invalid (the error gives its line and field)
  9  the class manifest (batch: sockspec.toml) is wrong; the message names its file, line and field
  128+N  stopped by signal N: 130 for Ctrl-C, 143 for SIGTERM (sockets, serve file; grade after
         cleaning up and writing the report of the checks finished; batch keeping every finished grade)";
