//! The command template: the user's command line with `{host}`, `{port}`, `{file}`, `{out}`, `{dir}`
//! placeholders.

use crate::error::{Error, Result};
use crate::i18n::{key, Message};

use super::suite::{Suite, PLACEHOLDERS};

/// A checked command template.
#[derive(Debug, Clone)]
pub struct Template {
    /// As the user gave it (plus the suite's arguments), for reports.
    argv: Vec<String>,
    /// With relative paths made absolute: each run has a fresh working directory, where `server.py`
    /// would not be found.
    resolved: Vec<String>,
}

/// Values for the placeholders of one launch.
#[derive(Debug, Clone, Default)]
pub struct Values {
    /// `{host}`: the address a client or sender is told to use.
    pub host: String,
    /// `{port}`: the port to listen on or connect to.
    pub port: u16,
    /// `{file}`: the file a sender sends.
    pub file: Option<String>,
    /// `{out}`: where a receiver writes.
    pub out: Option<String>,
    /// The directory an HTTP server serves.
    pub dir: Option<String>,
}

impl Template {
    /// Checks the user's command against the suite: when it names no placeholder, the suite's own
    /// arguments (e.g. `{port}`) are added after it; a placeholder the suite does not give is an error.
    pub fn new(command: &[String], suite: &Suite) -> Result<Template> {
        if command.is_empty() {
            return Err(Error::Usage(
                "no program to grade: give its command after `--`, e.g. `-- python3 server.py {port}`"
                    .into(),
            ));
        }
        for arg in command {
            if let Some(unknown) = unknown_placeholder(arg) {
                return Err(Error::Usage(format!(
                    "unknown placeholder {unknown} in {arg:?} (known: {})",
                    PLACEHOLDERS.join(" ")
                )));
            }
        }
        let given: Vec<&str> = suite.args.iter().map(String::as_str).collect();
        for placeholder in PLACEHOLDERS {
            let used = command.iter().any(|a| a.contains(placeholder));
            let offered = given.iter().any(|a| a.contains(placeholder));
            if used && !offered {
                return Err(Error::Usage(format!(
                    "the {} suite gives no {placeholder}; its program is launched as `CMD {}`",
                    suite.name,
                    given.join(" ")
                )));
            }
        }
        let mut argv = command.to_vec();
        if !command
            .iter()
            .any(|a| PLACEHOLDERS.iter().any(|p| a.contains(p)))
        {
            argv.extend(suite.args.iter().cloned());
        }
        let resolved = argv.iter().map(|a| absolute_if_path(a)).collect();
        Ok(Template { argv, resolved })
    }

    /// Why the program cannot be launched at all, when the command names a program file (`echo.py`) that
    /// does not exist: the submission's fault, found before any check would launch the interpreter only
    /// to see it fail and report that as the program's crash.
    pub fn missing_file(&self) -> Option<Message> {
        let missing = self.argv.iter().find(|a| is_missing_source(a))?;
        let Ok(here) = std::env::current_dir() else {
            return Some(
                Message::new(key::CANNOT_LAUNCH_NO_SUCH_FILE).arg("path", missing.as_str()),
            );
        };
        Some(
            Message::new(key::CANNOT_LAUNCH_NO_SUCH_FILE_HERE)
                .arg("path", missing.as_str())
                .arg("dir", here.display().to_string()),
        )
    }

    /// The template as the user would type it, for reports.
    pub fn display(&self) -> String {
        self.argv
            .iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The template's words, placeholders unfilled.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// True when the command holds `placeholder` (`{dir}`).
    pub fn uses(&self, placeholder: &str) -> bool {
        self.argv.iter().any(|a| a.contains(placeholder))
    }

    /// The argument vector for one launch.
    pub fn expand(&self, values: &Values) -> Vec<String> {
        self.resolved
            .iter()
            .map(|arg| {
                let mut arg = arg
                    .replace("{host}", &values.host)
                    .replace("{port}", &values.port.to_string());
                if let Some(file) = &values.file {
                    arg = arg.replace("{file}", file);
                }
                if let Some(out) = &values.out {
                    arg = arg.replace("{out}", out);
                }
                if let Some(dir) = &values.dir {
                    arg = arg.replace("{dir}", dir);
                }
                arg
            })
            .collect()
    }
}

/// `arg` made absolute when it looks like a path (it has a `/` or a `.`: `server.py`, `./a.out`) and names
/// a file here; otherwise unchanged, so that words such as a subcommand `echo` stay words even when a
/// directory of that name exists.
fn absolute_if_path(arg: &str) -> String {
    let path = std::path::Path::new(arg);
    let looks_like_path = arg.contains('/') || arg.contains('.');
    if !looks_like_path || arg.contains('{') || path.is_absolute() || !path.is_file() {
        return arg.to_string();
    }
    match std::env::current_dir() {
        Ok(dir) => dir.join(path).display().to_string(),
        Err(_) => arg.to_string(),
    }
}

/// Endings of program files that an interpreter is given by path.
const SOURCE_ENDINGS: &[&str] = &[
    ".py", ".rb", ".js", ".mjs", ".pl", ".sh", ".php", ".lua", ".jar", ".class", ".java",
];

/// True for an argument that names a program file which does not exist: every check would launch the
/// interpreter only to see it fail, and report that as the program's crash.
fn is_missing_source(arg: &str) -> bool {
    !arg.contains('{')
        && !arg.starts_with('-')
        && SOURCE_ENDINGS.iter().any(|e| arg.ends_with(e))
        && !std::path::Path::new(arg).exists()
}

/// The first `{word}` in `arg` that is not a known placeholder.
fn unknown_placeholder(arg: &str) -> Option<String> {
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let word = &after[..close];
        let is_word =
            !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let token = format!("{{{word}}}");
        if is_word && !PLACEHOLDERS.contains(&token.as_str()) {
            return Some(token);
        }
        rest = &after[close + 1..];
    }
    None
}

/// Quotes an argument for display the way a POSIX shell would need it.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%{}".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    fn suite(name: &str) -> Suite {
        Suite::load(name).unwrap()
    }

    #[test]
    fn suite_arguments_are_added_when_the_command_names_none() {
        let t = Template::new(&strings(&["python3", "srv"]), &suite("file-receiver")).unwrap();
        assert_eq!(t.argv(), strings(&["python3", "srv", "{port}", "{out}"]));
        let values = Values {
            host: "127.0.0.1".into(),
            port: 4000,
            out: Some("/tmp/x".into()),
            ..Default::default()
        };
        assert_eq!(
            t.expand(&values),
            strings(&["python3", "srv", "4000", "/tmp/x"])
        );
    }

    #[test]
    fn placeholders_inside_arguments_are_expanded_and_kept_in_place() {
        let t =
            Template::new(&strings(&["./srv", "--port={port}"]), &suite("echo-server")).unwrap();
        let values = Values {
            host: "127.0.0.1".into(),
            port: 9,
            ..Default::default()
        };
        assert_eq!(t.expand(&values), strings(&["./srv", "--port=9"]));
    }

    #[test]
    fn a_program_file_that_does_not_exist_is_named() {
        let t = Template::new(
            &strings(&["python3", "no_such_student.py", "{port}"]),
            &suite("echo-server"),
        )
        .unwrap();
        let why = t.missing_file().expect("the file is missing").english();
        assert!(
            why.starts_with("the program file no_such_student.py does not exist"),
            "{why}"
        );
        // Words that are not program files, and files that exist, are fine.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("server.py");
        std::fs::write(&script, "").unwrap();
        assert!(!is_missing_source(&script.display().to_string()));
        assert!(is_missing_source(
            &dir.path().join("gone.py").display().to_string()
        ));
        let t = Template::new(&strings(&["./a.out", "{port}"]), &suite("echo-server")).unwrap();
        assert_eq!(t.missing_file(), None);
        assert!(!is_missing_source("--config=x.py"));
        assert!(!is_missing_source("{file}.py"));
    }

    #[test]
    fn unknown_and_unoffered_placeholders_are_errors() {
        let err = Template::new(&strings(&["x", "{prot}"]), &suite("echo-server")).unwrap_err();
        assert!(
            err.to_string().contains("unknown placeholder {prot}"),
            "{err}"
        );
        let err = Template::new(&strings(&["x", "{file}"]), &suite("echo-server")).unwrap_err();
        assert!(err.to_string().contains("gives no {file}"), "{err}");
        assert!(Template::new(&[], &suite("echo-server")).is_err());
        // Braces that are not a placeholder (a Python dict, say) are left alone.
        assert!(Template::new(
            &strings(&["python3", "-c", "print({})"]),
            &suite("echo-server")
        )
        .is_ok());
    }

    #[test]
    fn relative_paths_to_existing_files_are_made_absolute_for_the_run() {
        let command = strings(&["python3", "Cargo.toml", "no-such-file.txt", "src", "./src"]);
        let t = Template::new(&command, &suite("echo-server")).unwrap();
        let argv = t.expand(&Values::default());
        assert!(
            argv[1].starts_with('/') && argv[1].ends_with("/Cargo.toml"),
            "{argv:?}"
        );
        // Missing files, directories and plain words are left as they are.
        assert_eq!(argv[2..5], strings(&["no-such-file.txt", "src", "./src"]));
        assert_eq!(
            t.display(),
            "python3 Cargo.toml no-such-file.txt src ./src {port}"
        );
    }

    #[test]
    fn display_quotes_what_a_shell_would_split() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("{port}"), "{port}");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
