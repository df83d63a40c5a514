//! Every machine format against the shape its consumers document, for a class and for one grade:
//! JUnit against the Jenkins xUnit plugin's XSD (with `xmllint`), Gradescope's and PrairieLearn's
//! `results.json` against their documented field sets, TAP against a strict TAP 14 reader.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::tap14;
use crate::util::{fixture_class, report, report_run, sockspec};

const XSD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/report/data/junit-10.xsd"
);

/// `xmllint --schema` on `xml`; panics with its complaint.
#[track_caller]
fn assert_valid_junit(xml: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("junit.xml");
    std::fs::write(&file, xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--schema", XSD])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!("xmllint is needed to validate JUnit (apt-get install libxml2-utils; .ci/run does): {e}")
        });
    assert!(
        out.status.success(),
        "JUnit does not validate against junit-10.xsd:\n{}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A one-check grade of a correct server, quick: `sockspec grade` itself in FORMAT.
fn one_grade(format: &str) -> String {
    let program =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions/echo/threaded.py");
    let run = sockspec([
        "grade",
        "echo-server",
        "--seed",
        "7",
        "--only",
        "echo-server/basic/*",
        "--only",
        "echo-server/robust/client-reset",
        "--format",
        format,
        "--",
        "python3",
        program.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.command, run.stderr);
    String::from_utf8(run.stdout).unwrap()
}

/// The value of attribute `name` in the first element of `xml` that starts with `open`.
fn attribute(xml: &str, open: &str, name: &str) -> String {
    let start = xml
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in\n{xml}"));
    let tag = &xml[start..start + xml[start..].find('>').unwrap()];
    let key = format!(" {name}=\"");
    let at = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in {tag}"))
        + key.len();
    tag[at..at + tag[at..].find('"').unwrap()].to_string()
}

#[test]
fn junit_validates_and_information_checks_never_fail_a_passing_program() {
    let xml = report(&[&fixture_class()], "junit");
    assert_valid_junit(&xml);
    assert_eq!(
        xml.matches("<testsuite ").count(),
        12,
        "one per student and assignment"
    );
    // 张伟's threaded server passes every required check; its failed robust checks are information.
    let zhang = attribute(&xml, "<testsuite name=\"张伟/echo\"", "failures");
    assert_eq!(zhang, "0", "{xml}");
    assert_ne!(
        attribute(&xml, "<testsuite name=\"张伟/echo\"", "skipped"),
        "0"
    );
    for attr in ["timestamp", "hostname"] {
        assert!(!attribute(&xml, "<testsuite name=\"张伟/echo\"", attr).is_empty());
    }
    // A wrong prefix fails required checks, with the message in the attribute and in the body.
    let start = xml
        .find("<testsuite name=\"王芳 &quot;Fang&quot;/echo\"")
        .expect("王芳's echo suite");
    let suite = &xml[start..start + xml[start..].find("</testsuite>").unwrap()];
    assert_ne!(attribute(suite, "<testsuite", "failures"), "0");
    let failure = &suite[suite.find("<failure ").expect("a failure")..];
    let message = attribute(failure, "<failure", "message");
    let body = &failure[failure.find('>').unwrap() + 1..failure.find("</failure>").unwrap()];
    assert!(
        body.starts_with(&message),
        "message {message:?} not in body {body:?}"
    );
    assert!(body.contains("replay:"), "{body}");
}

#[test]
fn junit_of_one_grade_validates_and_is_green_for_a_correct_server() {
    let xml = one_grade("junit");
    assert_valid_junit(&xml);
    assert_eq!(attribute(&xml, "<testsuites", "failures"), "0", "{xml}");
}

/// Checks a Gradescope `results.json` against the fields of the Gradescope autograder specification
/// (gradescope-autograders.readthedocs.io, "Autograder Specifications"; its sample repository's
/// docs/specs.md): only documented keys, each of its type, and the enumerations it names.
#[track_caller]
fn assert_gradescope(results: &Value) {
    const TOP: &[&str] = &[
        "score",
        "execution_time",
        "output",
        "output_format",
        "test_output_format",
        "test_name_format",
        "visibility",
        "stdout_visibility",
        "extra_data",
        "tests",
        "leaderboard",
    ];
    const TEST: &[&str] = &[
        "score",
        "max_score",
        "status",
        "name",
        "name_format",
        "number",
        "output",
        "output_format",
        "tags",
        "visibility",
        "extra_data",
    ];
    const VISIBILITY: &[&str] = &["hidden", "after_due_date", "after_published", "visible"];
    const FORMATS: &[&str] = &["text", "html", "simple_format", "md", "ansi"];
    let top = results.as_object().expect("an object");
    for key in top.keys() {
        assert!(TOP.contains(&key.as_str()), "undocumented key {key}");
    }
    assert!(top["score"].is_number(), "a top-level score");
    assert!(top["execution_time"].is_u64());
    assert!(FORMATS.contains(&top["output_format"].as_str().unwrap()));
    for key in ["visibility", "stdout_visibility"] {
        assert!(VISIBILITY.contains(&top[key].as_str().unwrap()), "{key}");
    }
    let mut total = 0.0;
    for test in top["tests"].as_array().expect("tests") {
        let test = test.as_object().unwrap();
        for key in test.keys() {
            assert!(TEST.contains(&key.as_str()), "undocumented test key {key}");
        }
        let name = test["name"].as_str().unwrap();
        assert!(
            !name.contains("echo-server") && name.len() < 48,
            "a short name: {name}"
        );
        assert!(["passed", "failed"].contains(&test["status"].as_str().unwrap()));
        assert!(VISIBILITY.contains(&test["visibility"].as_str().unwrap()));
        assert_eq!(test["output_format"], "md");
        assert!(test["output"]
            .as_str()
            .unwrap()
            .contains("**Requirement:**"));
        assert!(test["score"].as_f64().unwrap() <= test["max_score"].as_f64().unwrap());
        total += test["score"].as_f64().unwrap();
        for tag in test["tags"].as_array().unwrap() {
            let tag = tag.as_str().unwrap();
            assert!(!tag.contains(' ') && tag.len() <= 12, "a short tag: {tag}");
        }
    }
    assert!(
        (top["score"].as_f64().unwrap() - total).abs() < 1e-9,
        "score = sum of tests"
    );
}

#[test]
fn gradescope_results_have_the_documented_fields_for_a_class_and_one_grade() {
    let class: Value = serde_json::from_str(&report(&[&fixture_class()], "gradescope")).unwrap();
    let students = class.as_object().expect("an object by student id");
    assert_eq!(students.len(), 6);
    for results in students.values() {
        assert_gradescope(results);
    }
    let names: Vec<&str> = students["张伟"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"echo/basic/ascii") && names.contains(&"udp/basic/ascii"),
        "{names:?}"
    );
    let one = report_run([
        fixture_class().as_os_str(),
        "--student".as_ref(),
        "s2".as_ref(),
        "--format".as_ref(),
        "gradescope".as_ref(),
    ]);
    assert_gradescope(&serde_json::from_str(&one.text()).unwrap());
    let grade: Value = serde_json::from_str(&one_grade("gradescope")).unwrap();
    assert_gradescope(&grade);
    assert_eq!(grade["tests"][0]["name"], "basic/ascii");
}

/// Checks a PrairieLearn `results.json` against the fields of PrairieLearn's "External Grading"
/// documentation (docs/externalGrading.md, "Grading results").
#[track_caller]
fn assert_prairielearn(results: &Value) {
    const TOP: &[&str] = &[
        "gradable",
        "score",
        "format_errors",
        "message",
        "output",
        "images",
        "tests",
    ];
    const TEST: &[&str] = &[
        "name",
        "description",
        "points",
        "max_points",
        "message",
        "output",
        "images",
    ];
    let top = results.as_object().expect("an object");
    for key in top.keys() {
        assert!(TOP.contains(&key.as_str()), "undocumented key {key}");
    }
    let text = serde_json::to_string(results).unwrap();
    assert!(
        text.len() < 1_000_000,
        "{} bytes: over PrairieLearn's 1 MB",
        text.len()
    );
    if top["gradable"] == Value::Bool(false) {
        let errors = &top["format_errors"];
        assert!(
            errors.is_string()
                || errors
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
            "format_errors: {errors}"
        );
    } else {
        let score = top["score"]
            .as_f64()
            .expect("a gradable result has a score");
        assert!((0.0..=1.0).contains(&score), "score {score}");
        assert!(!top.contains_key("format_errors"));
    }
    for test in top["tests"].as_array().unwrap() {
        let test = test.as_object().unwrap();
        for key in test.keys() {
            assert!(TEST.contains(&key.as_str()), "undocumented test key {key}");
        }
        assert!(test["name"].is_string() && test["message"].is_string());
        assert!(test["points"].as_f64().unwrap() <= test["max_points"].as_f64().unwrap());
    }
}

#[test]
fn prairielearn_results_have_the_documented_fields_and_say_when_a_program_is_missing() {
    let class: Value = serde_json::from_str(&report(&[&fixture_class()], "prairielearn")).unwrap();
    for results in class.as_object().unwrap().values() {
        assert_prairielearn(results);
    }
    let s10 = &class["s10"];
    assert_eq!(s10["gradable"], false, "udp was never launched: {s10}");
    assert!(s10["format_errors"][0]
        .as_str()
        .unwrap()
        .contains("could not be launched"));
    assert!(class["张伟"]["score"].as_f64().unwrap() > 0.8);
    let grade: Value = serde_json::from_str(&one_grade("prairielearn")).unwrap();
    assert_prairielearn(&grade);
    assert_eq!(grade["score"], 1.0);
}

#[test]
fn prairielearn_results_stay_under_a_megabyte_whatever_the_program_printed() {
    use sockspec::results::Stored;
    let mut class = sockspec::results::class::Class::load(&[fixture_class()])
        .unwrap()
        .class;
    class.students.truncate(1);
    let Stored::Graded(report) = &mut class.students[0].results[0] else {
        panic!()
    };
    let template = report.checks[0].clone();
    report.checks = (0..400)
        .map(|n| {
            let mut check = template.clone();
            check.id = format!("echo-server/robust/flood-{n}");
            check.outcome = sockspec::grade::verdict::Outcome::Crash;
            check.message = "x".repeat(20_000);
            check.stderr_tail = "Traceback (most recent call last):\n".repeat(2_000);
            check
        })
        .collect();
    let text = sockspec::report::render_class(
        &class,
        sockspec::report::ClassFormat::Prairielearn,
        Default::default(),
    );
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_prairielearn(&value);
    assert!(
        text.contains("more bytes not shown"),
        "outputs are cut, and say so"
    );
}

#[test]
fn tap_is_valid_tap14_and_information_checks_are_todo() {
    let text = report(&[&fixture_class()], "tap");
    let points = tap14::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(points.len(), 12);
    let zhang = points
        .iter()
        .find(|p| p.description == "张伟/echo")
        .unwrap();
    assert!(zhang.ok, "a program that meets its required level is ok");
    assert!(zhang
        .subtest
        .iter()
        .any(|p| !p.ok && p.directive.as_deref() == Some("todo")));
    assert!(zhang.subtest.iter().all(|p| !p.fails()));
    let wrong = points
        .iter()
        .find(|p| p.description == "王芳 \"Fang\"/echo")
        .unwrap();
    assert!(wrong.fails());
    let failed = wrong
        .subtest
        .iter()
        .find(|p| p.fails())
        .expect("a failed check");
    let yaml = failed.yaml.as_ref().expect("diagnostics");
    assert_eq!(yaml["severity"].as_str(), Some("fail"));
    assert!(yaml["replay"]
        .as_str()
        .unwrap()
        .starts_with("sockspec grade"));
    assert!(yaml["expected"].as_str().is_some() && yaml["actual"].as_str().is_some());

    let one = one_grade("tap");
    let points = tap14::parse(&one).unwrap_or_else(|e| panic!("{e}\n{one}"));
    // The basic checks and robust/client-reset.
    let basic = sockspec::grade::suite::Suite::load("echo-server")
        .unwrap()
        .checks
        .iter()
        .filter(|c| c.id.starts_with("echo-server/basic/"))
        .count();
    assert_eq!(points.len(), basic + 1);
    assert!(points.iter().all(|p| p.ok && p.subtest.is_empty()));
}

#[test]
fn class_json_holds_every_stored_report_whole() {
    let text = report(&[&fixture_class()], "json");
    let class: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(class["class"], "socket lesson demo");
    let students = class["students"].as_array().unwrap();
    assert_eq!(students.len(), 6);
    let s10 = students.iter().find(|s| s["id"] == "s10").unwrap();
    let udp = &s10["results"][1];
    assert_eq!(
        (udp["assignment"].as_str(), udp["status"].as_str()),
        (Some("udp"), Some("graded"))
    );
    assert!(udp["report"]["cannot_launch"].is_string());
    let stored: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture_class().join("results/s10/udp.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(udp["report"], stored);
}

#[test]
fn a_lone_grade_file_renders_in_every_format() {
    let file = fixture_class().join("results/s2/echo.json");
    for format in [
        "junit",
        "tap",
        "gradescope",
        "prairielearn",
        "csv",
        "html",
        "json",
    ] {
        let run = report_run([file.as_os_str(), "--format".as_ref(), format.as_ref()]);
        assert_eq!(run.code, 0, "{format}: {}", run.stderr);
    }
    let xml = report_run([file.as_os_str(), "--format".as_ref(), "junit".as_ref()]).text();
    assert_valid_junit(&xml);
    assert!(xml.contains("<testsuite name=\"echo-server\""), "{xml}");
}

#[test]
fn an_interrupted_grade_renders_as_unfinished_in_every_format() {
    use sockspec::report::{render_class, ClassFormat};
    use sockspec::results::Stored;
    let mut class = sockspec::results::class::Class::load(&[fixture_class()])
        .unwrap()
        .class;
    // 陈静's full report gives the columns that 张伟's interrupted one lacks.
    class.students.retain(|s| s.id == "张伟" || s.id == "陈静");
    let untouched = class.clone();
    let Stored::Graded(report) = &mut class.students[0].results[0] else {
        panic!()
    };
    // What an interrupted grade stores: the checks that finished, summed.
    report.checks.truncate(3);
    report.summary.points = report.checks.iter().map(|c| c.points_earned).sum();
    report.incomplete = true;
    report.interrupted_by = Some("SIGINT".to_string());
    let render = |format| render_class(&class, format, Default::default());
    let before = tap14::parse(&render_class(
        &untouched,
        ClassFormat::Tap,
        Default::default(),
    ))
    .unwrap();

    let csv = render(ClassFormat::Csv);
    assert!(
        csv.contains("echo: grading did not finish: interrupted by SIGINT"),
        "{csv}"
    );
    assert!(csv.contains(",unfinished"), "{csv}");
    let xml = render(ClassFormat::Junit);
    assert_valid_junit(&xml);
    assert!(xml.contains("type=\"incomplete\""), "{xml}");
    let tap = render(ClassFormat::Tap);
    let points = tap14::parse(&tap).unwrap_or_else(|e| panic!("{e}\n{tap}"));
    assert!(points[0].fails(), "an unfinished grade is not ok: {tap}");
    assert_eq!(
        points[2].fails(),
        before[2].fails(),
        "陈静 is unaffected: {tap}"
    );
    let pl: Value = serde_json::from_str(&render(ClassFormat::Prairielearn)).unwrap();
    assert_prairielearn(&pl["张伟"]);
    assert_eq!(pl["张伟"]["gradable"], false);
    let gs: Value = serde_json::from_str(&render(ClassFormat::Gradescope)).unwrap();
    assert_gradescope(&gs["张伟"]);
    let output = gs["张伟"]["output"].as_str().unwrap();
    assert!(output.contains("INCOMPLETE"), "{output}");
    let html = render(ClassFormat::Html);
    assert!(html.contains("\"unfinished\""));
}

/// The points of a TAP document and of all its subtests, depth first.
fn all_points(points: &[tap14::Point]) -> Vec<&tap14::Point> {
    points
        .iter()
        .flat_map(|p| std::iter::once(p).chain(all_points(&p.subtest)))
        .collect()
}

/// `grade --packets` puts the program's TCP segments among the wire events of a check: every format that
/// shows the wire shows them, and stays valid (JUnit against its XSD, TAP 14), for a server that resets
/// its connection instead of closing it.
#[test]
fn captured_segments_show_in_every_format_that_shows_the_wire() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("echo.json");
    let program =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions/packets/linger_reset.py");
    let run = sockspec([
        "grade".as_ref(),
        "echo-server".as_ref(),
        "--packets".as_ref(),
        "--seed".as_ref(),
        "7".as_ref(),
        "--only".as_ref(),
        "echo-server/basic/several-messages".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        "-o".as_ref(),
        file.as_os_str(),
        "--".as_ref(),
        "python3".as_ref(),
        program.as_os_str(),
    ]);
    assert_eq!(
        run.code, 1,
        "a failed grade: {}\n{}",
        run.command, run.stderr
    );
    let render =
        |format: &str| report_run([file.as_os_str(), "--format".as_ref(), format.as_ref()]).text();
    // The program's RST, as one wire line: its channel, who sent it to whom, its reading.
    let rst = |text: &str| {
        text.lines().any(|l| {
            l.contains(" tcp ")
                && l.contains("· program 127.0.0.1:")
                && l.contains(" → grader 127.0.0.1:")
                && l.contains(": RST, seq ")
        })
    };

    let xml = render("junit");
    assert_valid_junit(&xml);
    assert!(rst(&xml), "the RST in JUnit's system-out:\n{xml}");

    let tap = render("tap");
    let points = tap14::parse(&tap).unwrap_or_else(|e| panic!("{e}\n{tap}"));
    let wire = all_points(&points)
        .into_iter()
        .filter(|p| p.fails())
        .find_map(|p| p.yaml.as_ref()?["wire"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("a failed point with its wire:\n{tap}"));
    assert!(rst(&wire), "the RST in TAP's wire:\n{wire}");

    let gradescope: Value = serde_json::from_str(&render("gradescope")).unwrap();
    assert_gradescope(&gradescope);
    let outputs: Vec<&str> = gradescope["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["output"].as_str())
        .collect();
    assert!(
        outputs.iter().any(|o| rst(o)),
        "the RST in a Gradescope output: {outputs:#?}"
    );

    // The page carries the wire lines as data its script shows in a <pre>, one per line.
    let html = render("html");
    assert!(
        html.contains(": RST, seq ") && html.contains("· program 127.0.0.1:"),
        "the RST in the HTML page"
    );
}
