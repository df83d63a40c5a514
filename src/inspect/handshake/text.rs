//! `sockspec handshake` as text: the connection, a table of its segments each with its reading, who
//! closed first and who is left in TIME_WAIT.

use std::fmt::Write as _;

use super::lesson::Step;
use super::{Handshake, Side};

/// Width the readings are wrapped at.
const WIDTH: usize = 100;
/// Indent of the lines under a segment.
const UNDER: &str = "      ";

/// The run as the human output of `sockspec handshake`: the two ends, one table row per segment with
/// its reading wrapped under it, then who closed first and who is left in TIME_WAIT.
pub fn render(h: &Handshake) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "One TCP connection on loopback, every segment as captured on lo of a private network namespace"
    );
    let _ = writeln!(out, "  server  {:<21}  listen(), accept()", h.server);
    let _ = writeln!(out, "  client  {:<21}  connect()", h.client);
    let _ = writeln!(
        out,
        "  the client sends \"{}\", the server answers \"{}\", then the {} closes first",
        h.message,
        h.answer,
        h.closes_first.name()
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "   #  time ms  from             flags    seq (relative)      ack (relative)        len  window"
    );
    for step in &h.segments {
        segment(&mut out, step);
    }
    let _ = writeln!(out);
    wrapped(
        &mut out,
        "  ",
        "seq and ack in parentheses are relative to each side's initial sequence number, as \
         Wireshark shows them. The window is in bytes (the field times 2^window scale, once both SYNs \
         offered a scale). Options: mss is the largest segment the sender takes (65495 on lo), sack \
         permitted allows selective acknowledgments; the timestamps option rides on every segment, \
         to measure round trips.",
    );
    if h.lost > 0 {
        let _ = writeln!(
            out,
            "\n  {} segments were not captured (the machine was too busy): the list above is incomplete",
            h.lost
        );
    }
    let _ = writeln!(out);
    match h.closed_first {
        Some(side) => {
            let n = h
                .segments
                .iter()
                .find(|s| s.phase == super::lesson::Phase::Close1)
                .map_or(0, |s| s.n);
            let _ = writeln!(
                out,
                "closed first: the {} (its FIN is segment {n})",
                side.name()
            );
        }
        None => {
            let _ = writeln!(out, "closed first: no FIN was captured");
        }
    }
    let _ = writeln!(
        out,
        "after the close, /proc/net/tcp of the namespace shows:"
    );
    if h.sockets_after.is_empty() {
        let _ = writeln!(out, "  (no TCP socket)");
    }
    for row in &h.sockets_after {
        let side = row
            .side
            .map(|s| format!("  the {}'s socket", s.name()))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  TCP  {:<21}  {:<21}  {:<11}{side}",
            row.local.to_string(),
            row.remote.to_string(),
            row.state
        );
    }
    let who = h.time_wait.map_or("nobody", Side::name);
    wrapped(
        &mut out,
        "",
        &format!("in TIME_WAIT: the {who}. Why: {}", h.why_time_wait),
    );
    out
}

fn segment(out: &mut String, s: &Step) {
    let from = match s.from {
        Some(side) => format!("{} → {}", side.name(), side.other().name()),
        None => format!("{} → {}", s.src, s.dst),
    };
    let seq = format!("{} ({})", s.seq, s.relative_seq);
    let ack = match (s.ack, s.relative_ack) {
        (Some(ack), Some(rel)) => format!("{ack} ({rel})"),
        (Some(ack), None) => ack.to_string(),
        (None, _) => String::new(),
    };
    let _ = writeln!(
        out,
        "  {:>2}  {:>7.3}  {:<15}  {:<7}  {:<18}  {:<18}  {:>5}  {:>6}",
        s.n,
        s.t * 1000.0,
        from,
        s.flag_text(),
        seq,
        ack,
        s.len,
        s.window_bytes
    );
    // The options of a SYN are the connection's settings; later segments repeat only timestamps,
    // said once under the table (JSON has every segment's).
    if s.flags.contains(&"SYN") && !s.options.is_empty() {
        let _ = writeln!(out, "{UNDER}options: {}", s.options);
    }
    if let Some(data) = &s.data {
        let _ = writeln!(out, "{UNDER}payload: \"{data}\"");
    }
    wrapped(out, UNDER, &s.reading);
}

/// `text` on lines of at most [`WIDTH`] characters, each after `indent` (the first too).
fn wrapped(out: &mut String, indent: &str, text: &str) {
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty()
            && indent.len() + line.chars().count() + 1 + word.chars().count() > WIDTH
        {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
}
