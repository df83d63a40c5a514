//! The class manifest: a mistake is one line naming the file, the line and the field, with exit code 7,
//! before anything is graded; `--init` writes a commented manifest and never replaces one.

use std::fs;

use crate::util::TestClass;

const STUDENTS: &[(&str, &[(&str, &str)])] = &[("ann", &[("echo/threaded.py", "echo_server.py")])];

/// (manifest, the start of the error after `class/sockspec.toml:`)
const MISTAKES: &[(&str, &str)] = &[
    (
        "[[assignment]]\nname = \"echo\"\nsuite = \"echo-srv\"\nfiles = [\"*.py\"]\n",
        "3: suite: no built-in suite and no suite file named \"echo-srv\"",
    ),
    (
        "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfile = [\"*.py\"]\n",
        "4: file: unknown field `file`",
    ),
    (
        "seed = 1\n\n[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\
         command = \"python3 server.py\"\n",
        "7: command: names no {program}",
    ),
    (
        "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\
         command = \"no-such-interpreter-xyz {program}\"\n",
        "5: command: ",
    ),
    (
        "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\nlevel = \"expert\"\n",
        "5: level: unknown variant `expert`",
    ),
    (
        "[[assignment]]\nname = \"a/b\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n",
        "2: name: assignment name \"a/b\" holds / or NUL",
    ),
    (
        "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"]\n\n\
         [assignment.override.ann]\nfiel = \"x.py\"\n",
        "7: fiel: unknown field `fiel`",
    ),
    ("class = \"x\"\n", "1: assignment: no [[assignment]]"),
    (
        "[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\nfiles = [\"*.py\"\n",
        "5: manifest: invalid array",
    ),
];

#[test]
fn a_manifest_mistake_is_one_line_with_file_line_and_field() {
    for (manifest, expected) in MISTAKES {
        let class = TestClass::new(manifest, STUDENTS);
        let run = class.batch(&["-o", "out"]);
        run.assert_code(sockspec::exit::MANIFEST.into());
        let line = run.stderr.trim_end();
        assert!(!line.contains('\n'), "one line:\n{run}");
        let want = format!("sockspec: class/sockspec.toml:{expected}");
        assert!(line.starts_with(&want), "want {want:?}\n{run}");
        assert!(!class.path("out").exists(), "nothing written\n{run}");
    }
}

#[test]
fn init_writes_a_commented_manifest_that_works_and_never_replaces_one() {
    let class = TestClass::new("", STUDENTS);
    let path = class.class_dir().join("sockspec.toml");
    fs::remove_file(&path).unwrap();
    let run = class.batch(&["--init"]);
    run.assert_code(0);
    let written = fs::read_to_string(&path).unwrap();
    assert!(
        written.starts_with("# sockspec class manifest"),
        "{written}"
    );
    assert!(written.contains("[[assignment]]") && written.contains("# seed ="));

    // It grades as written (two quick checks, to keep the test short).
    // Generous deadlines: a loaded machine must not turn a slow start into a timeout.
    let quick = written
        .replace(
            "# only = [\"echo-server/basic/*\"]",
            "only = [\"echo-server/basic/ascii\"]",
        )
        .replace("# timeout_scale = 1.0", "timeout_scale = 3.0");
    assert_ne!(quick, written, "the template offers `only`");
    fs::write(&path, &quick).unwrap();
    let graded = class.batch(&["-o", "out"]);
    graded.assert_code(0);
    assert!(graded.stdout.contains("ann/echo: PASS"), "{graded}");
    assert!(
        graded.stdout.contains("(chosen for this batch)"),
        "{graded}"
    );

    let again = class.batch(&["--init"]);
    again.assert_code(2);
    assert!(again.stderr.contains("already exists"), "{again}");
    assert_eq!(fs::read_to_string(&path).unwrap(), quick);
}
