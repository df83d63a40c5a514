//! Watching a program's sockets over time: look, print what changed, wait, look again, until the
//! program ends or the user stops the watch (Ctrl-C).
//!
//! The program is either started here (a [`Program`] of the grader: its own process group, marked, in
//! a cgroup where possible, and stopped by that handle however the watch ends) or given by pids. Looks
//! are polled: a socket that lives shorter than one interval can be missed, which the help says.
//!
//! The wait between looks is also where stop signals are taken (from the command line,
//! [`super::stop_signals::StopSignals::wait`]), so the loop has no other sleep and an interrupt ends it
//! within the wait. The program, in its own process group, does not get the terminal's Ctrl-C: it is
//! stopped by its handle.

use std::collections::BTreeSet;
use std::io::{self, BufRead, Write};
use std::process::ExitStatus;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::changes::{self, Change};
use super::netstat;
use super::sockets::{self, Observer, Snapshot, SocketRow};
use super::Format;
use crate::grade::capture::Capture;
use crate::grade::ctx::describe_status;
use crate::grade::launch::{Program, DEFAULT_GRACE};
use crate::wire::Deadline;

/// What is watched.
pub enum Target<'a> {
    /// Processes that were running already, and their descendants; they are never signalled.
    Pids(Vec<i32>),
    /// A program started for the watch, and its command line as given; it is stopped when the watch
    /// ends.
    Program(&'a mut Program, String),
}

/// How a watch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The program (or every watched process) ended; the program's status when it was started here.
    Exited(Option<ExitStatus>),
    /// A stop signal (SIGINT for Ctrl-C) arrived; the program was stopped.
    Interrupted(i32),
}

/// Something else than a change of sockets that the watch tells.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Note {
    /// The watch began.
    Watching {
        pids: Vec<i32>,
        command: Option<String>,
        interval_secs: f64,
    },
    /// A line the program wrote (a line not ended after one interval is shown as it is).
    Output { stream: &'static str, text: String },
    /// A line typed for the program could not be given to it in time (it does not read its input).
    InputDropped { text: String },
    /// The watch ended: `exited` (the program ended by itself), `interrupted` (by `signal`).
    Ended {
        reason: &'static str,
        /// The program's exit status when it was started here (`exit status 0`).
        status: Option<String>,
        signal: Option<i32>,
        /// Connections the kernel still keeps after the program closed them (TIME_WAIT).
        kept: Vec<SocketRow>,
    },
}

/// Prints the events of a watch, as lines of text or JSON lines.
pub struct Printer<W: Write> {
    out: W,
    format: Format,
    started: Instant,
    /// The kinds of socket shown (protocol, state), for the meaning of their states at the end.
    shown: BTreeSet<(&'static str, Option<&'static str>)>,
}

impl<W: Write> Printer<W> {
    pub fn new(out: W, format: Format) -> Self {
        Printer {
            out,
            format,
            started: Instant::now(),
            shown: BTreeSet::new(),
        }
    }

    fn secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    fn write_json(&mut self, value: impl Serialize) -> io::Result<()> {
        let mut value = serde_json::to_value(value).map_err(io::Error::other)?;
        if let Some(map) = value.as_object_mut() {
            let t = (self.secs() * 1000.0).round() / 1000.0;
            map.insert("t".to_string(), t.into());
        }
        writeln!(self.out, "{value}")?;
        self.out.flush()
    }

    fn line(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{:>+9.3}s  {text}", self.secs())?;
        self.out.flush()
    }

    /// The table of a first look (text), or its sockets as `new` events (JSON).
    pub fn first_look(&mut self, snapshot: &Snapshot) -> io::Result<()> {
        self.shown
            .extend(snapshot.sockets.iter().map(SocketRow::kind));
        match self.format {
            Format::Human => {
                // The meaning of the states comes at the end, for every state seen.
                let table = netstat::listing(snapshot);
                writeln!(self.out, "{}", table.trim_end())?;
                writeln!(self.out)?;
                self.out.flush()
            }
            Format::Json => {
                for change in changes::between(&Snapshot::default(), snapshot) {
                    self.write_json(&change)?;
                }
                Ok(())
            }
        }
    }

    pub fn change(&mut self, change: &Change) -> io::Result<()> {
        if let Change::New { socket } | Change::Changed { socket, .. } = change {
            self.shown.insert(socket.kind());
        }
        match self.format {
            Format::Human => self.line(&netstat::change_line(change)),
            Format::Json => self.write_json(change),
        }
    }

    pub fn note(&mut self, note: &Note) -> io::Result<()> {
        if self.format == Format::Json {
            return self.write_json(note);
        }
        match note {
            Note::Watching {
                pids,
                command,
                interval_secs,
            } => {
                let what = match command {
                    Some(command) => format!("`{command}` (pid {})", join(pids)),
                    None => format!("pid {}", join(pids)),
                };
                writeln!(
                    self.out,
                    "Watching the sockets of {what} and its children, every {interval_secs} s; \
                     Ctrl-C stops the watch."
                )?;
                self.out.flush()
            }
            Note::Output { stream, text } => self.line(&format!("{stream:<8} {text}")),
            Note::InputDropped { text } => self.line(&format!(
                "input    not given to the program (it did not read it in time): {text:?}"
            )),
            Note::Ended {
                reason,
                status,
                signal,
                kept,
            } => {
                let said = match (*reason, status, signal) {
                    ("interrupted", Some(status), Some(sig)) => {
                        format!("interrupted (signal {sig}); the program was stopped: {status}")
                    }
                    ("interrupted", None, Some(sig)) => format!("interrupted (signal {sig})"),
                    (_, Some(status), _) => format!("the program ended: {status}"),
                    _ => "every watched process ended".to_string(),
                };
                self.line(&said)?;
                for row in kept {
                    writeln!(
                        self.out,
                        "still kept by the kernel: {} {} -> {} {}",
                        row.proto.to_ascii_uppercase(),
                        row.local,
                        row.remote.map(|r| r.to_string()).unwrap_or_default(),
                        row.state.unwrap_or_default()
                    )?;
                }
                let legend = netstat::legend(self.shown.iter().copied());
                write!(self.out, "{legend}")?;
                self.out.flush()
            }
        }
    }
}

fn join(pids: &[i32]) -> String {
    pids.iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A line typed for the program, or the end of input.
pub type Typed = Option<Vec<u8>>;

/// Reads this process's stdin line by line on a thread of its own and hands the lines over, then
/// `None` at its end: what is typed during a watch goes to the program, as if it ran alone.
pub fn read_stdin() -> io::Result<Receiver<Typed>> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("stdin".into())
        .spawn(move || {
            let mut stdin = io::stdin().lock();
            loop {
                let mut line = Vec::new();
                match stdin.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        if tx.send(Some(line)).is_err() {
                            return;
                        }
                    }
                }
            }
        })?;
    Ok(rx)
}

/// Follows one output stream of the program and cuts it into lines.
#[derive(Default)]
struct Relay {
    /// Absolute position in the stream of the next byte to show.
    pos: u64,
    /// The start of a line not ended yet.
    pending: Vec<u8>,
    /// Looks for which `pending` has waited.
    waited: u32,
}

impl Relay {
    /// The lines that came since the last call; a line not ended for one interval (a prompt) too, and
    /// at the `end` whatever is left.
    fn lines(&mut self, capture: &Capture, end: bool) -> Vec<String> {
        let bytes = capture.since(self.pos);
        if capture.cut() > 0 {
            // Output beyond the capture's budget came: its view now has a cut marker, so positions no
            // longer match lengths. Go on from the end; the marker line says what was left out.
            self.pos = capture.total();
        } else {
            self.pos += bytes.len() as u64;
        }
        let grew = !bytes.is_empty();
        self.pending.extend_from_slice(&bytes);
        let mut out = Vec::new();
        while let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=at).collect();
            out.push(text(&line[..at]));
        }
        if self.pending.is_empty() {
            self.waited = 0;
        } else if end || (self.waited >= 1 && !grew) {
            out.push(text(&std::mem::take(&mut self.pending)));
            self.waited = 0;
        } else {
            self.waited += 1;
        }
        out
    }
}

fn text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// Watches `target` until it ends or `wait` returns a stop signal. `wait(d)` waits up to `d` between
/// looks (`StopSignals::wait` from the command line). `input`, for a started program, are the lines
/// to type into it.
pub fn watch<W: Write>(
    target: Target<'_>,
    interval: Duration,
    printer: &mut Printer<W>,
    input: Option<Receiver<Typed>>,
    mut wait: impl FnMut(Duration) -> Option<i32>,
) -> io::Result<End> {
    let mut observer = Observer::new();
    let mut last = Snapshot::default();
    let interval_secs = interval.as_secs_f64();
    match target {
        Target::Pids(roots) => {
            printer.note(&Note::Watching {
                pids: roots.clone(),
                command: None,
                interval_secs,
            })?;
            let mut first = true;
            loop {
                let now = observer.observe(&sockets::tree(&roots));
                if first {
                    printer.first_look(&now)?;
                    first = false;
                } else {
                    for change in changes::between(&last, &now) {
                        printer.change(&change)?;
                    }
                }
                let ended = now.processes.is_empty();
                last = now;
                if ended {
                    printer.note(&ended_note("exited", None, None, &last))?;
                    return Ok(End::Exited(None));
                }
                if let Some(signal) = wait(interval) {
                    printer.note(&ended_note("interrupted", None, Some(signal), &last))?;
                    return Ok(End::Interrupted(signal));
                }
            }
        }
        Target::Program(program, command) => {
            printer.note(&Note::Watching {
                pids: vec![program.pid() as i32],
                command: Some(command),
                interval_secs,
            })?;
            let mut relays = [Relay::default(), Relay::default()];
            let mut input = input;
            let signal = loop {
                relay_output(program, &mut relays, printer, false)?;
                type_input(program, &mut input, interval, printer)?;
                let pids: Vec<i32> = program.processes().iter().map(|&p| p as i32).collect();
                let now = observer.observe(&pids);
                for change in changes::between(&last, &now) {
                    printer.change(&change)?;
                }
                last = now;
                if program.try_status().is_some() && pids.is_empty() {
                    break None;
                }
                if let Some(signal) = wait(interval) {
                    break Some(signal);
                }
            };
            let report = program.stop(DEFAULT_GRACE);
            relay_output(program, &mut relays, printer, true)?;
            // One more look once every process is gone: their sockets went away, and the
            // connections they closed first are now the kernel's (TIME_WAIT).
            let now = observer.observe(&[]);
            for change in changes::between(&last, &now) {
                printer.change(&change)?;
            }
            let status = report.status.map(describe_status);
            let reason = if signal.is_some() {
                "interrupted"
            } else {
                "exited"
            };
            printer.note(&ended_note(reason, status, signal, &now))?;
            Ok(match signal {
                Some(signal) => End::Interrupted(signal),
                None => End::Exited(report.status),
            })
        }
    }
}

fn ended_note(
    reason: &'static str,
    status: Option<String>,
    signal: Option<i32>,
    last: &Snapshot,
) -> Note {
    Note::Ended {
        reason,
        status,
        signal,
        kept: last
            .sockets
            .iter()
            .filter(|r| r.is_kept())
            .cloned()
            .collect(),
    }
}

fn relay_output<W: Write>(
    program: &Program,
    relays: &mut [Relay; 2],
    printer: &mut Printer<W>,
    end: bool,
) -> io::Result<()> {
    let [out, err] = relays;
    for (stream, relay, capture) in [
        ("stdout", out, program.stdout()),
        ("stderr", err, program.stderr()),
    ] {
        for text in relay.lines(capture, end) {
            printer.note(&Note::Output { stream, text })?;
        }
    }
    Ok(())
}

/// Types the lines read so far into the program; at the end of input, ends its input (Ctrl+D).
fn type_input<W: Write>(
    program: &mut Program,
    input: &mut Option<Receiver<Typed>>,
    interval: Duration,
    printer: &mut Printer<W>,
) -> io::Result<()> {
    let Some(rx) = input else {
        return Ok(());
    };
    loop {
        match rx.try_recv() {
            Ok(Some(line)) => {
                if program
                    .write_stdin(&line, Deadline::after(interval))
                    .is_err()
                {
                    let text = text(line.strip_suffix(b"\n").unwrap_or(&line));
                    printer.note(&Note::InputDropped { text })?;
                }
            }
            Ok(None) | Err(TryRecvError::Disconnected) => {
                program.close_stdin();
                *input = None;
                return Ok(());
            }
            Err(TryRecvError::Empty) => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_into_lines_and_a_prompt_shows_after_one_interval() {
        let capture = Capture::new(1024);
        let mut relay = Relay::default();
        capture.push(b"listening on 127.0.0.1:1\r\nname> ");
        assert_eq!(relay.lines(&capture, false), ["listening on 127.0.0.1:1"]);
        // The prompt waits one look for the rest of its line, then shows as it is.
        assert_eq!(relay.lines(&capture, false), ["name> "]);
        assert!(relay.lines(&capture, false).is_empty());
        capture.push(b"hal");
        assert!(relay.lines(&capture, false).is_empty(), "still growing");
        capture.push(b"f a line\n");
        assert_eq!(relay.lines(&capture, false), ["half a line"]);
        capture.push(b"bye");
        assert_eq!(relay.lines(&capture, true), ["bye"]);
    }
}
