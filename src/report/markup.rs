//! Escaping for the markups reports are written in. Everything a report holds may come from a student's
//! program (its output can hold `<script>`, backticks, quotes, control characters): it goes through here.

use std::fmt::Write as _;

/// Escapes text for XML (and HTML) attributes and content. XML 1.0 cannot hold most control characters,
/// even escaped: they are written as `\xNN`, as the evidence shows other bytes.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text inside Markdown prose: HTML is neutralised and Markdown's own punctuation taken literally.
pub fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A fenced code block holding `text` verbatim: the fence is longer than any run of backticks inside.
pub fn md_code(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body = text.strip_suffix('\n').unwrap_or(text);
    format!("{fence}text\n{body}\n{fence}\n")
}

/// At most `max` bytes of `text`, cut at a character boundary, saying how much was cut.
pub fn capped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n… ({} more bytes not shown)\n",
        &text[..end],
        text.len() - end
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;\\x01");
    }

    #[test]
    fn markdown_neutralises_html_and_fences_outlast_backticks() {
        assert_eq!(md_text("<script>*x*"), "&lt;script&gt;\\*x\\*");
        let block = md_code("a ```` b");
        assert!(block.starts_with("`````text\n"), "{block}");
        assert!(block.ends_with("\n`````\n"), "{block}");
    }

    #[test]
    fn caps_cut_between_characters() {
        let text = "你好".repeat(10);
        let cut = capped(&text, 7);
        assert!(cut.starts_with("你好\n… (54 more bytes"), "{cut}");
        assert_eq!(capped("short", 7), "short");
    }
}
