//! Reports and help in Chinese: `--lang zh`, or a `zh_*` locale in the environment.

use std::process::Command;
use std::time::Duration;

use super::util::{sockspec_in, sockspec_with, strings, submissions_dir, Graded};

/// Generous: the machine may be loaded (the fixtures allow 300 s too).
const LIMIT: Duration = Duration::from_secs(300);

/// `sockspec ARGS` in the submissions directory, with the locale `locale` (`None`: no locale variable).
fn run_in_locale(locale: Option<&str>, args: &[&str]) -> Graded {
    sockspec_with(
        &submissions_dir(),
        &strings(args),
        LIMIT,
        |c: &mut Command| {
            c.env_remove("LC_ALL")
                .env_remove("LC_MESSAGES")
                .env_remove("LANG");
            if let Some(locale) = locale {
                c.env("LANG", locale);
            }
        },
    )
}

#[track_caller]
fn assert_says(graded: &Graded, lines: &[&str]) {
    for line in lines {
        assert!(
            graded.stdout.contains(line),
            "{:?} missing from `{}`:\n{}\nstderr:\n{}",
            line,
            graded.command,
            graded.stdout,
            graded.stderr
        );
    }
}

#[track_caller]
fn assert_never_says(graded: &Graded, words: &[&str]) {
    for word in words {
        assert!(
            !graded.stdout.contains(word),
            "{word:?} in `{}`:\n{}",
            graded.command,
            graded.stdout
        );
    }
}

#[test]
fn a_failing_echo_server_is_reported_in_chinese() {
    let graded = sockspec_in(
        &submissions_dir(),
        &strings(&[
            "grade",
            "echo-server",
            "--lang",
            "zh",
            "--seed",
            "5",
            "--only",
            "echo-server/basic/ascii",
            "--only",
            "echo-server/basic/chinese",
            "--",
            "python3",
            "echo/wrong_prefix.py",
            "{port}",
        ]),
        LIMIT,
    );
    assert_eq!(graded.code, 1, "{}\n{}", graded.stdout, graded.stderr);
    assert_says(
        &graded,
        &[
            "sockspec 评分：echo-server\n",
            "  程序：python3 echo/wrong_prefix.py {port}\n",
            "  随机种子 5 · 必须达到的级别：基础 basic · 宽松比较\n",
            "\n基础 basic（必须通过）\n",
            // The shared cause, said once at the top, with the bytes of both colons.
            "\n根本原因（一个原因解释了好几项检查）\n",
            "  C1 回复以 \"ECHO:\" 开头，而期望的是 \"ECHO：\"：\":\" U+003A（英文半角冒号，字节 3a） 不是 \
             \"：\" U+FF1A（中文全角冒号，字节 ef bc 9a）\n",
            "     解释了 2 项检查，下面标为 C1\n",
            "  ✗ echo-server/basic/ascii 失败 [C1]  0/2 · ",
            "    要求：       一条简短的 ASCII 消息得到的回复是 前缀 + 这条消息。\n",
            "    原因：       客户端 1：回复与期望的不一致\n",
            "    根本原因：   C1（见上文，涉及 2 项检查）\n",
            "    知识点：     TCP：用 accept() 接受连接，在这个连接上 recv() 和 send()\n",
            "    输入：    \"hello\\n\"\n",
            "    期望：    \"ECHO：hello\"\n",
            "    实际：    \"ECHO:hello\\n\"\n",
            "    重现：       sockspec grade echo-server --seed 5 --only echo-server/basic/ascii -- \
             python3 echo/wrong_prefix.py {port}\n",
            "    收发记录：\n",
            "  ✗ echo-server/basic/chinese 失败 [C1]  0/2 · ",
            "    要求：       中文消息原样返回：服务器发送的是字节，不会把一个汉字切成两半。\n",
            "    实际：    \"ECHO:你好，世界\\n\"\n",
            "未通过：必须通过的检查通过了 0/2 项 · 得分 0/4 · 2 项失败 · 用时 ",
            "\n重现：   sockspec grade echo-server --seed 5",
        ],
    );
    // All Chinese: no English label, outcome word or explanation is left.
    assert_never_says(
        &graded,
        &[
            "causes",
            "explains 2 checks",
            "the reply differs",
            "the replies start with",
            "ASCII colon",
            "full-width colon",
            "cause:",
            "above:",
            "    requirement:",
            "    concept:",
            "    expected:",
            "    actual:",
            "    replay:",
            " FAIL ",
            "    wire:",
        ],
    );
}

/// `sockspec grade SUITE --lang zh ARGS` in the submissions directory, no locale set.
fn grade_in_chinese(args: &[&str]) -> Graded {
    let mut all = vec!["grade", args[0], "--lang", "zh"];
    all.extend(&args[1..]);
    run_in_locale(None, &all)
}

#[test]
fn a_server_that_never_replies_is_told_so_in_chinese_and_json_keeps_the_english() {
    let args = [
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--",
        "python3",
        "misbehaving/never_replies.py",
        "{port}",
    ];
    let graded = grade_in_chinese(&args);
    assert_eq!(graded.code, 1, "{}\n{}", graded.stdout, graded.stderr);
    assert_says(
        &graded,
        &["    原因：       客户端 1：程序读取了消息，却没有回复，又回去等待了\n"],
    );
    assert_never_says(&graded, &["went back to waiting", "client 1:"]);

    let mut json_args = args.to_vec();
    json_args.splice(1..1, ["--format", "json"]);
    let json = grade_in_chinese(&json_args).json();
    let check = &json["checks"][0];
    assert_eq!(
        check["message"],
        "client 1: the program read the message and went back to waiting without replying"
    );
    assert_eq!(
        check["localized"]["message"],
        "客户端 1：程序读取了消息，却没有回复，又回去等待了"
    );
    assert_eq!(check["message_key"]["id"], "read-and-waited-no-reply");
}

#[test]
fn a_udp_receiver_that_runs_datagrams_together_is_told_so_in_chinese() {
    let args = [
        "udp-receiver",
        "--only",
        "udp-receiver/basic/several",
        "--",
        "python3",
        "udp/receiver_no_newline.py",
        "{port}",
    ];
    let graded = grade_in_chinese(&args);
    assert_eq!(graded.code, 1, "{}\n{}", graded.stdout, graded.stderr);
    assert_says(
        &graded,
        &["    原因：       第 2 个数据报（共 5 个）和前一个数据报打印在了同一行：每个数据报都应该\
           单独打印成一行（print() 会自动换行；print(..., end='') 不会）\n"],
    );
    assert_never_says(
        &graded,
        &["datagram 2 of 5", "on the same line", "a line of its own"],
    );

    let mut json_args = args.to_vec();
    json_args.splice(1..1, ["--format", "json"]);
    let check = &grade_in_chinese(&json_args).json()["checks"][0];
    assert_eq!(
        check["message"],
        "datagram 2 of 5 was printed on the same line as the one before: each datagram must be \
         printed on a line of its own (print() ends the line; print(..., end='') does not)"
    );
    assert_eq!(check["message_key"]["id"], "datagram-same-line");
}

#[test]
fn a_client_that_dies_of_eof_error_is_told_the_fix_in_chinese() {
    let args = [
        "echo-client",
        "--only",
        "echo-client/robust/exit-on-eof",
        "--",
        "python3",
        "echo_client/eof_error.py",
        "{host}",
        "{port}",
    ];
    let graded = grade_in_chinese(&args);
    assert_says(
        &graded,
        &[
            "  ✗ echo-client/robust/exit-on-eof 崩溃  0/1 · ",
            "    原因：       标准输入结束（EOF）之后，程序以 exit status 1 退出了\n",
            "    根本原因：   程序抛出了 EOFError（eof_error.py 第 ",
            " 行）：输入结束（Ctrl+D）时 input() 会抛出 EOFError：要捕获它（except EOFError），\
             然后关闭连接\n",
        ],
    );
    assert_never_says(
        &graded,
        &[
            "the program exited with",
            "stdin ended",
            "the program raises",
            "at end of input",
            "catch it",
            "    cause:",
        ],
    );

    let mut json_args = args.to_vec();
    json_args.splice(1..1, ["--format", "json"]);
    let json = grade_in_chinese(&json_args).json();
    let summary = json["causes"][0]["summary"].as_str().unwrap_or_default();
    assert!(
        summary.starts_with("the program raises EOFError (eof_error.py line "),
        "{summary}"
    );
    let localized = json["localized"]["causes"][0].as_str().unwrap_or_default();
    assert!(
        localized.starts_with("程序抛出了 EOFError（eof_error.py 第 "),
        "{localized}"
    );
    assert_eq!(
        json["checks"][0]["message"],
        "the program exited with exit status 1 after stdin ended (EOF)"
    );
}

#[test]
fn the_locale_picks_the_language_and_lang_overrides_it() {
    // A program that cannot be launched: every check not run at once, no waiting.
    let args = [
        "grade",
        "echo-server",
        "--only",
        "echo-server/basic/ascii",
        "--",
        "python3",
        "no_such_student.py",
    ];
    let zh = run_in_locale(Some("zh_CN.UTF-8"), &args);
    assert_eq!(zh.code, 1, "{}", zh.stderr);
    assert_says(
        &zh,
        &[
            "  - echo-server/basic/ascii 未运行  0/2 · ",
            "    原因：       程序无法启动：程序文件 no_such_student.py 不存在（命令里的相对路径是相对于 ",
            "注意：程序无法启动：程序文件 no_such_student.py 不存在",
            "未通过：必须通过的检查通过了 0/1 项 · 得分 0/2 · 1 项未运行",
        ],
    );
    let mut en_args = args.to_vec();
    en_args.splice(2..2, ["--lang", "en"]);
    let en = run_in_locale(Some("zh_CN.UTF-8"), &en_args);
    assert_says(
        &en,
        &[
            "  - echo-server/basic/ascii NOT RUN  0/2 · ",
            "    why:         the program cannot be launched: the program file no_such_student.py does not exist",
            "FAIL: required checks 0/1 passed · 0 of 2 points · 1 not run",
        ],
    );
    for locale in [None, Some("C.UTF-8"), Some("en_US.UTF-8")] {
        let default = run_in_locale(locale, &args);
        assert_says(
            &default,
            &["requirement: A short ASCII message is answered"],
        );
    }
}

#[test]
fn json_keeps_its_english_fields_and_adds_the_chinese_texts() {
    let graded = run_in_locale(
        None,
        &[
            "grade",
            "echo-server",
            "--lang",
            "zh",
            "--format",
            "json",
            "--only",
            "echo-server/basic/ascii",
            "--",
            "python3",
            "no_such_student.py",
        ],
    );
    let json = graded.json();
    assert_eq!(json["lang"], "zh");
    let check = &json["checks"][0];
    assert_eq!(
        check["requirement"],
        "A short ASCII message is answered with PREFIX + the message."
    );
    assert_eq!(
        check["localized"]["requirement"],
        "一条简短的 ASCII 消息得到的回复是 前缀 + 这条消息。"
    );
    let message = check["message"].as_str().unwrap();
    assert!(
        message.starts_with("the program cannot be launched: the program file"),
        "{message}"
    );
    let localized = check["localized"]["message"].as_str().unwrap();
    assert!(
        localized.starts_with("程序无法启动：程序文件 no_such_student.py 不存在"),
        "{localized}"
    );
    assert_eq!(check["message_key"]["id"], "not-run-cannot-launch");
    assert_eq!(
        json["localized"]["suite_description"]
            .as_str()
            .map(|d| d.starts_with("TCP ECHO 回显服务器")),
        Some(true)
    );
}

#[test]
fn grade_help_is_in_chinese() {
    for (locale, args) in [
        (None, &["grade", "--help", "--lang", "zh"][..]),
        (Some("zh_CN.UTF-8"), &["grade", "--help"][..]),
    ] {
        let help = run_in_locale(locale, args);
        assert_eq!(help.code, 0, "{}", help.stderr);
        assert_says(
            &help,
            &[
                "给一个程序评分：启动它",
                "用法：sockspec grade [OPTIONS] <SUITE> [-- <COMMAND>...]\n",
                "\n参数：\n  <SUITE>\n          内置的评分套件",
                "\n选项：\n",
                "      --lang <LANG>\n          文字报告、报告里套件文字（要求、知识点）和本帮助所用的语言",
                "  -h, --help\n          显示帮助",
                "\n退出码：\n  0    所有必须通过的检查都通过了\n",
                "sockspec grade echo-server -- python3 server.py {port}\n",
            ],
        );
        assert_never_says(
            &help,
            &[
                "Usage:",
                "Options:",
                "Print help",
                "Possible values",
                "[default:",
            ],
        );
    }
    let english = run_in_locale(Some("C"), &["grade", "--help"]);
    assert_says(
        &english,
        &[
            "Usage: sockspec grade [OPTIONS] <SUITE>",
            "\nOptions:\n",
            "Exit codes:",
        ],
    );
}

#[test]
fn list_shows_the_requirements_in_chinese() {
    let graded = run_in_locale(None, &["grade", "--list", "udp-sender", "--lang", "zh"]);
    assert_eq!(graded.code, 0, "{}", graded.stderr);
    assert_says(
        &graded,
        &[
            "udp-sender: UDP 发送端：每行键盘输入发送一个数据报，输入空行时停止（在 robust 级别，输入结束 EOF 也一样）。\n",
            "发了几行之后，输入空行使发送端以状态 0 结束，不发送空的数据报。\n",
        ],
    );
}
