//! CSV as a spreadsheet reads it (the `csv` crate, an RFC 4180 reader): one row per student, names with
//! commas, quotes, line breaks and Chinese kept exactly, and a byte order mark only when asked.

use std::fs;

use sockspec::results::{ResultsDir, Stored};

use crate::util::{fixture_class, report, report_run};

/// Records of a CSV text, the header first.
fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| {
            r.expect("a valid CSV record")
                .iter()
                .map(str::to_string)
                .collect()
        })
        .collect()
}

#[test]
fn one_row_per_student_with_points_totals_modes_and_a_column_per_check() {
    let text = report(&[&fixture_class()], "csv");
    assert!(text.ends_with("\r\n") && !text.starts_with('\u{feff}'));
    let rows = records(&text);
    let header = &rows[0];
    assert_eq!(
        &header[..9],
        &[
            "student",
            "echo points",
            "udp points",
            "total",
            "max",
            "required passed",
            "required total",
            "echo mode",
            "notes"
        ]
    );
    assert!(
        header.contains(&"echo/basic/ascii".to_string()),
        "{header:?}"
    );
    assert!(
        header.iter().any(|h| h.starts_with("udp/basic/")),
        "{header:?}"
    );
    let students: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        students,
        ["Li, Na", "s2", "s10", "张伟", "王芳 \"Fang\"", "陈静"],
        "natural order (Chinese by code point)"
    );
    let zhang = &rows[4];
    assert_eq!(zhang[7], "concurrent", "{zhang:?}");
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(zhang[at("echo/basic/ascii")], "pass");
    let li = &rows[1];
    assert_eq!(li[7], "sequential");
    assert_eq!(li[at("echo/concurrent/idle-first-client")], "fail");
    let prefix = &rows[5];
    assert_eq!(
        prefix[at("echo/basic/ascii")],
        "fail",
        "wrong prefix: {prefix:?}"
    );
    // Every check cell is a known word.
    for row in &rows[1..] {
        for cell in &row[9..] {
            assert!(
                ["pass", "fail", "timeout", "crash", "not-run"].contains(&cell.as_str()),
                "{cell:?} in {row:?}"
            );
        }
        let total: f64 = row[3].parse().unwrap();
        let sum: f64 = row[1..3].iter().map(|p| p.parse::<f64>().unwrap()).sum();
        assert!((total - sum).abs() < 1e-9, "{row:?}");
    }
}

#[test]
fn names_with_commas_quotes_line_breaks_and_chinese_survive_a_spreadsheet() {
    let names = [
        "李娜, Li Na",
        "say \"hi\"",
        "two\nlines",
        "回车\r\n换行",
        "plain",
    ];
    let source = ResultsDir::open(&fixture_class()).unwrap();
    let mut info = source.info().unwrap();
    info.students = names.iter().map(|s| s.to_string()).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = ResultsDir::create(tmp.path(), &info).unwrap();
    let Stored::Graded(echo) = source.read_result("张伟", "echo") else {
        panic!()
    };
    let Stored::Graded(udp) = source.read_result("张伟", "udp") else {
        panic!()
    };
    for name in names {
        dir.write_result(name, "echo", &echo).unwrap();
        dir.write_result(name, "udp", &udp).unwrap();
    }
    let text = report(&[tmp.path()], "csv");
    let rows = records(&text);
    let mut read: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    read.sort();
    let mut expected = names.to_vec();
    expected.sort();
    assert_eq!(read, expected);
    assert!(rows[1..].iter().all(|r| r.len() == rows[0].len()));

    let out = tmp.path().join("class.csv");
    let run = report_run([
        tmp.path().as_os_str(),
        "--format".as_ref(),
        "csv".as_ref(),
        "--bom".as_ref(),
        "-o".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bytes = fs::read(&out).unwrap();
    assert!(
        bytes.starts_with(b"\xef\xbb\xbfstudent,"),
        "Excel's UTF-8 mark"
    );
    assert_eq!(&bytes[3..], text.as_bytes());
}

#[test]
fn a_summary_that_cannot_be_written_is_exit_4() {
    let run = report_run([
        fixture_class().as_os_str(),
        "-o".as_ref(),
        "/nonexistent-sockspec-dir/class.csv".as_ref(),
    ]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot write /nonexistent-sockspec-dir/class.csv"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bom_with_another_format_is_a_usage_error() {
    let run = report_run([
        fixture_class().as_os_str(),
        "--format".as_ref(),
        "json".as_ref(),
        "--bom".as_ref(),
    ]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("--bom only applies to --format csv"),
        "{}",
        run.stderr
    );
}
