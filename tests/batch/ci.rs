//! The wrappers in ci/: every shell script parses (`bash -n`) and passes shellcheck, the GitHub Actions
//! workflow is a matrix of shards and a merge, and Gradescope's run_autograder grades a submission into
//! a results.json for real.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_rust2::YamlLoader;

use crate::util::{read_json, submissions, LIMIT};

fn ci() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ci")
}

const SCRIPTS: &[&str] = &[
    "gradescope/setup.sh",
    "gradescope/run_autograder",
    "slurm/grade-class.sbatch",
    "slurm/merge.sbatch",
];

#[test]
fn shell_scripts_parse_and_pass_shellcheck() {
    for script in SCRIPTS {
        let path = ci().join(script);
        let out = Command::new("bash").arg("-n").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "bash -n {script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // .ci/run installs shellcheck; a machine without it still gets the `bash -n` check.
        match Command::new("shellcheck").arg(&path).output() {
            Ok(out) => assert!(
                out.status.success(),
                "shellcheck {script}:\n{}",
                String::from_utf8_lossy(&out.stdout)
            ),
            Err(_) => eprintln!("shellcheck is not installed: {script} checked with bash -n only"),
        }
    }
}

#[test]
fn the_workflow_grades_shards_then_merges_them() {
    let text = fs::read_to_string(ci().join("github-actions/grade-class.yml")).unwrap();
    let doc = &YamlLoader::load_from_str(&text).expect("valid YAML")[0];
    let jobs = &doc["jobs"];
    let shards = jobs["grade"]["strategy"]["matrix"]["shard"]
        .as_vec()
        .expect("a matrix of shards");
    assert!(shards.len() >= 2);
    let runs = |job: &str| -> String {
        jobs[job]["steps"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(|s| s["run"].as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert!(runs("grade").contains("sockspec batch") && runs("grade").contains("--shard"));
    assert!(runs("merge").contains("sockspec report shard-*/ --format html"));
    assert_eq!(jobs["merge"]["needs"].as_str(), Some("grade"));
}

#[test]
fn run_autograder_grades_one_submission_into_gradescope_results() {
    let root = tempfile::tempdir().unwrap();
    let autograder = root.path();
    for dir in ["source", "submission", "tmp"] {
        fs::create_dir_all(autograder.join(dir)).unwrap();
    }
    fs::write(
        autograder.join("source/sockspec.toml"),
        "seed = 3\n[[assignment]]\nname = \"echo\"\nsuite = \"echo-server\"\n\
         files = [\"*server*.py\"]\nonly = [\"echo-server/basic/ascii\"]\ntimeout_scale = 3\n",
    )
    .unwrap();
    fs::copy(
        submissions().join("echo/threaded.py"),
        autograder.join("submission/echo_server.py"),
    )
    .unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_sockspec")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = assert_cmd::Command::new("bash")
        .arg(ci().join("gradescope/run_autograder"))
        .env("AUTOGRADER_ROOT", autograder)
        .env("PATH", path)
        .env("TMPDIR", autograder.join("tmp"))
        .timeout(LIMIT)
        .output()
        .unwrap();
    let shown = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{shown}");
    let results = read_json(&autograder.join("results/results.json"));
    assert_eq!(results["score"], 2.0, "{results:#}\n{shown}");
    assert_eq!(results["tests"][0]["status"], "passed", "{results:#}");
    assert!(crate::util::names_in(&autograder.join("tmp")).is_empty());
}
