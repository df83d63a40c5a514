//! `sockspec report`: a class summary in any format, rendered from stored results without grading again.

use std::path::PathBuf;

use clap::Args;

use super::write_stdout;
use crate::error::{Error, Result};
use crate::exit;
use crate::grade::GradeReport;
use crate::report::{self, ClassFormat, ClassOptions};
use crate::results::class::Class;

#[derive(Debug, Clone, Args)]
#[command(after_help = REPORT_HELP)]
/// The flags of `sockspec report`.
pub struct ReportArgs {
    /// Output directories of `sockspec batch` (several: the shards of one batch, merged), or one JSON file
    /// written by `sockspec grade --format json`.
    #[arg(required = true, value_name = "OUT_DIR")]
    pub dirs: Vec<PathBuf>,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = ClassFormat::Csv)]
    pub format: ClassFormat,
    /// Write to this file instead of stdout (replaced only by a complete summary).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// CSV only: start with a byte order mark, so Excel reads UTF-8 names (Chinese ones) correctly.
    #[arg(long)]
    pub bom: bool,
    /// Only these students (their folder names); may be repeated.
    #[arg(long, value_name = "ID")]
    pub student: Vec<String>,
}

const REPORT_HELP: &str = "\
Examples:
  sockspec report out/ --format html -o class.html
  sockspec report out/ --format csv --bom -o class.csv
  sockspec report shard-1/ shard-2/ --format junit -o junit.xml
  sockspec report out/ --student zhang-wei --format gradescope -o results.json

A damaged or missing result is reported on stderr (one line each) and shown as such; the summary is
still written.

Exit codes:
  0  the summary was written
  2  usage: no such directory, not a batch's output, shards of different batches, an unknown student
  4  a file could not be read (batch.json) or the summary could not be written (-o FILE; an older file
     there is left whole)";

pub(super) fn report(args: &ReportArgs) -> Result<u8> {
    if args.bom && args.format != ClassFormat::Csv {
        return Err(Error::Usage("--bom only applies to --format csv".into()));
    }
    let mut class = load(&args.dirs)?;
    if !args.student.is_empty() {
        for id in &args.student {
            if !class.students.iter().any(|s| &s.id == id) {
                return Err(Error::Usage(format!(
                    "no student {id:?} in the results ({} students)",
                    class.students.len()
                )));
            }
        }
        class.students.retain(|s| args.student.contains(&s.id));
    }
    let text = report::render_class(&class, args.format, ClassOptions { bom: args.bom });
    match &args.output {
        Some(path) => crate::results::write_atomically(path, text.as_bytes())?,
        None => write_stdout(&text)?,
    }
    Ok(exit::OK)
}

/// Batch directories, merged; or a lone grade report file.
fn load(paths: &[PathBuf]) -> Result<Class> {
    if let [file] = paths {
        if file.is_file() {
            let text = std::fs::read_to_string(file).map_err(|source| Error::ReadFile {
                path: file.clone(),
                source,
            })?;
            let report: GradeReport = serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!(
                    "{}: not a report of `sockspec grade --format json`: {e}",
                    file.display()
                ))
            })?;
            return Ok(Class::lone(report));
        }
    }
    let loaded = Class::load(paths)?;
    for warning in &loaded.warnings {
        eprintln!("sockspec: warning: {warning}");
    }
    Ok(loaded.class)
}
