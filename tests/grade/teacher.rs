//! Teachers' own suites (fixtures/suites-teacher/): the calculator, written as scripted exchanges, gives
//! its fixture submissions exactly the verdicts of fixtures/submissions-teacher/manifest.toml.

use std::path::{Path, PathBuf};

use super::fixtures::{grade_in, manifest_in};

fn teacher_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/submissions-teacher")
}

macro_rules! teacher_tests {
    ($($test:ident => $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                grade_in(&teacher_dir(), $name);
            }
        )*

        #[test]
        fn every_teacher_manifest_entry_has_a_test() {
            let tested = [$($name),*];
            for sub in manifest_in(&teacher_dir()).submission {
                assert!(tested.contains(&sub.name.as_str()), "no test grades {}", sub.name);
            }
        }
    };
}

teacher_tests! {
    calculator_correct => "calculator/correct",
    calculator_wrong_answer => "calculator/wrong_answer",
    calculator_no_newline => "calculator/no_newline",
    calculator_one_request => "calculator/one_request",
    calculator_crash_on_bad => "calculator/crash_on_bad",
}
