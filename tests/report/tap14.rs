//! A strict reader of TAP version 14 (testanything.org, "TAP 14 specification"): the version line, one plan
//! before or after the test points and matching them, numbered test points, directives (`# TODO`, `# SKIP`)
//! after an unescaped ` # `, `\` and `#` escapes, YAML diagnostic blocks indented two spaces and parsed
//! by a real YAML parser, and commented subtests indented four spaces and closed by a test point whose
//! description is the subtest's name. Anything else is an error naming its line.

use yaml_rust2::{Yaml, YamlLoader};

/// One test point as a harness sees it.
#[derive(Debug, Clone)]
pub struct Point {
    pub ok: bool,
    pub description: String,
    /// `todo` or `skip`, lower case.
    pub directive: Option<String>,
    pub yaml: Option<Yaml>,
    /// The test points of the subtest this point closes.
    pub subtest: Vec<Point>,
}

impl Point {
    /// Whether a harness counts this point as a failure.
    pub fn fails(&self) -> bool {
        !self.ok && self.directive.is_none()
    }
}

pub fn parse(text: &str) -> Result<Vec<Point>, String> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.first() != Some(&"TAP version 14") {
        return Err(format!(
            "line 1 is not `TAP version 14`: {:?}",
            lines.first()
        ));
    }
    let mut at = 1;
    let points = document(&lines, &mut at, 0)?;
    if at != lines.len() {
        return Err(format!("line {}: unexpected {:?}", at + 1, lines[at]));
    }
    Ok(points)
}

/// Reads the document indented by `indent` spaces from line `at`, up to the first line less indented.
fn document(lines: &[&str], at: &mut usize, indent: usize) -> Result<Vec<Point>, String> {
    let pad = " ".repeat(indent);
    let mut plan: Option<usize> = None;
    let mut plan_after_points = false;
    let mut points: Vec<Point> = Vec::new();
    let mut pending_subtest: Option<(String, Vec<Point>)> = None;
    while *at < lines.len() {
        let raw = lines[*at];
        let Some(line) = raw.strip_prefix(&pad) else {
            break;
        };
        let n = *at + 1;
        if line.starts_with(' ') {
            return Err(format!(
                "line {n}: indented lines outside a subtest or YAML block: {raw:?}"
            ));
        }
        if let Some(name) = line.strip_prefix("# Subtest: ") {
            *at += 1;
            let inner = document(lines, at, indent + 4)?;
            if inner.is_empty() && !lines[*at - 1].trim_start().starts_with("1..0") {
                return Err(format!("line {n}: an empty subtest"));
            }
            pending_subtest = Some((name.to_string(), inner));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            *at += 1;
            continue;
        }
        if let Some(count) = line.strip_prefix("1..") {
            let count = count.split(" # ").next().unwrap_or("");
            if plan.is_some() {
                return Err(format!("line {n}: a second plan"));
            }
            plan = Some(
                count
                    .parse()
                    .map_err(|_| format!("line {n}: bad plan {line:?}"))?,
            );
            plan_after_points = !points.is_empty();
            *at += 1;
            continue;
        }
        if plan_after_points {
            return Err(format!("line {n}: a test point after a closing plan"));
        }
        let (ok, rest) = if let Some(rest) = line.strip_prefix("not ok") {
            (false, rest)
        } else if let Some(rest) = line.strip_prefix("ok") {
            (true, rest)
        } else {
            return Err(format!("line {n}: not TAP: {raw:?}"));
        };
        let rest = rest
            .strip_prefix(' ')
            .ok_or_else(|| format!("line {n}: no test number: {raw:?}"))?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let number: usize = rest[..digits]
            .parse()
            .map_err(|_| format!("line {n}: no test number: {raw:?}"))?;
        if number != points.len() + 1 {
            return Err(format!(
                "line {n}: test {number} where {} was due",
                points.len() + 1
            ));
        }
        let rest = &rest[digits..];
        let rest = rest.strip_prefix(" - ").unwrap_or(rest.trim_start());
        let (description, directive) =
            split_directive(rest).map_err(|e| format!("line {n}: {e}: {raw:?}"))?;
        *at += 1;
        let yaml = yaml_block(lines, at, &pad)?;
        let subtest = match pending_subtest.take() {
            Some((name, inner)) => {
                if name != description {
                    return Err(format!(
                        "line {n}: subtest {name:?} closed by a test point named {description:?}"
                    ));
                }
                inner
            }
            None => Vec::new(),
        };
        points.push(Point {
            ok,
            description,
            directive,
            yaml,
            subtest,
        });
    }
    if pending_subtest.is_some() {
        return Err(format!(
            "line {}: a subtest without its closing test point",
            *at
        ));
    }
    match plan {
        Some(count) if count == points.len() => Ok(points),
        Some(count) => Err(format!("plan says {count}, {} test points", points.len())),
        None => Err(format!("no plan (indent {indent})")),
    }
}

/// Splits a description from its directive at the first unescaped ` # `, and unescapes the description.
fn split_directive(text: &str) -> Result<(String, Option<String>), String> {
    let mut description = String::new();
    let mut chars = text.chars().peekable();
    let mut directive = None;
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('\\') | Some('#')) => {
                description.push(chars.next().unwrap());
            }
            '#' if description.ends_with(' ') => {
                let rest: String = chars.collect();
                let word = rest.split_whitespace().next().unwrap_or("").to_lowercase();
                if word != "todo" && word != "skip" {
                    return Err(format!("unknown directive {word:?}"));
                }
                directive = Some(word);
                description.pop();
                break;
            }
            '#' => return Err("an unescaped # in a description".into()),
            c => description.push(c),
        }
    }
    Ok((description, directive))
}

/// A YAML block after a test point (`  ---` ... `  ...`), parsed; none when the next line is not one.
fn yaml_block(lines: &[&str], at: &mut usize, pad: &str) -> Result<Option<Yaml>, String> {
    let start = format!("{pad}  ---");
    if lines.get(*at) != Some(&start.as_str()) {
        return Ok(None);
    }
    let first = *at + 1;
    let end = format!("{pad}  ...");
    let mut body = String::new();
    *at += 1;
    loop {
        let Some(line) = lines.get(*at) else {
            return Err(format!("line {first}: a YAML block without its `...`"));
        };
        *at += 1;
        if *line == end {
            break;
        }
        let inner = line
            .strip_prefix(&format!("{pad}  "))
            .ok_or_else(|| format!("line {}: YAML not indented two spaces: {line:?}", *at))?;
        body.push_str(inner);
        body.push('\n');
    }
    let docs = YamlLoader::load_from_str(&body)
        .map_err(|e| format!("line {first}: YAML block does not parse: {e}"))?;
    match docs.into_iter().next() {
        Some(yaml @ Yaml::Hash(_)) => Ok(Some(yaml)),
        other => Err(format!(
            "line {first}: YAML block is not a mapping: {other:?}"
        )),
    }
}

#[test]
fn the_reader_accepts_the_specs_examples_and_refuses_broken_tap() {
    let good = "TAP version 14\n1..2\n# Subtest: a # b\n    1..1\n    ok 1 - x\nok 1 - a \\# b\nnot ok 2 - y # TODO later\n  ---\n  message: \"m\"\n  ...\n";
    let points = parse(good).unwrap();
    assert_eq!(points[0].description, "a # b");
    assert_eq!(points[0].subtest.len(), 1);
    assert!(!points[1].fails() && points[1].yaml.is_some());
    for bad in [
        "TAP version 13\n1..1\nok 1\n",
        "TAP version 14\nok 1 - a\n",
        "TAP version 14\n1..2\nok 1 - a\n",
        "TAP version 14\n1..1\nok 2 - a\n",
        "TAP version 14\n1..1\nok 1 - a # WHATEVER\n",
        "TAP version 14\n1..1\nnot ok 1 - a\n  ---\n  message: [unclosed\n  ...\n",
        "TAP version 14\n1..1\n# Subtest: s\n    1..1\n    ok 1\nok 1 - t\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}
