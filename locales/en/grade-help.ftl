# `sockspec grade --help` (src/cli/help.rs puts these texts into the command before it parses).
# Keep the same ids in locales/zh/grade-help.ftl.

grade-about = Grade a program: launch it, drive it over loopback with a suite's checks, report per check
grade-arg-suite = A built-in suite (echo-server, echo-client, chat-server, chat-client, file-receiver, file-sender, udp-receiver, udp-sender, http-server) or the path of a suite file
grade-arg-list = List the suite's checks (id, level, points, requirement) and exit
grade-arg-level = Required level: checks at it and below must pass (default: the suite's). Higher levels still run
grade-arg-only = Run only the checks whose id matches (a glob: `*` and `?`); may be repeated
grade-arg-skip = Skip the checks whose id matches (a glob); may be repeated
grade-arg-seed = Seed of the generated inputs; the report prints it. The same seed replays a run exactly, and with `--only ID` one check of it (each check's inputs depend on the seed and its id only)
grade-arg-strict = Exact comparison: replies exactly PREFIX + message + newline, printed lines exactly the text
grade-arg-prefix = The reply prefix for echo suites (default: the suite's, `ECHO：`)
grade-arg-format = Report format
grade-arg-output = Write the report to FILE instead of stdout (`-`: stdout). Checked before any check runs. A regular file (or a new one) is replaced only by a complete report (written beside it, then renamed; its permissions kept); a symlink is followed and its target replaced, the link kept; a FIFO or a character device (/dev/null, /dev/stdout, a terminal) is written in place, never replaced; a directory, block device, socket or unknown name in /dev is refused
grade-arg-timeout-scale = Multiply every deadline by this factor (slow machines, slow programs)
grade-arg-color = Colour in the human report
grade-arg-isolate = Run each launch of the program in a private network namespace holding only loopback: `auto` where the system allows it (root, or unprivileged user namespaces), else the shared loopback, said in the report; `on` refuses to grade without it (exit 2); `off` always shares the loopback
grade-arg-lang = Language of the human report, of the suite's texts in it (requirement, concept) and of this help: en or zh (default: from LC_ALL, LC_MESSAGES or LANG, zh for a zh_* locale such as zh_CN.UTF-8, else en). JSON keeps its English fields and adds the texts in this language under `localized`
grade-arg-command = The program's command line, after `--`. Placeholders: { "{host} {port} {file} {out} {dir}" }; when it has none, the suite's own (e.g. { "{port}" }) are added at the end
grade-arg-packets = Add the program's TCP segments (SYN, SYN-ACK, FIN, RST with relative seq/ack; data in runs) to the wire transcript of each check, captured in its private network namespace (exit 2 without one: --isolate=off, or no namespaces here)
grade-arg-help = Print help (see a summary with '-h')

# The headings of the help, in place of clap's own.
help-usage = Usage:{ " " }
help-arguments = Arguments:
help-options = Options:

grade-after-help =
    Examples:
      sockspec grade echo-server -- python3 server.py { "{port}" }
      sockspec grade echo-client --strict -- python3 client.py { "{host} {port}" }
      sockspec grade file-receiver --format json -o report.json -- ./receiver { "{port} {out}" }
      sockspec grade http-server -- python3 http_server.py { "{port} {dir}" }
      sockspec grade echo-server --packets -- python3 server.py { "{port}" }
      sockspec grade --list echo-server

    Outcomes: pass, fail (wrong answer), timeout (no answer by the deadline, which the report names),
    crash (the program died: exit status and stderr shown), limit (the program ran into a resource limit of
    the suite's [limits]: processes, CPU time, address space, open files, file size), not-run (an earlier
    step made it impossible).

    Isolation: each launch runs in a private network namespace holding only loopback, where every IPv4
    address is local and (as root, with BPF) every connection or datagram reaches the grader, so hard-coded
    ports and hosts (8888, 192.168.1.100) work and grades can run side by side. The report says when the
    system did not allow it (--isolate=on then refuses to run).

    A program that cannot be launched at all (its file is missing, not executable) is the submission's
    fault: the report says why, with every check not run (score 0), and the exit code is 1. A command that
    cannot work for anyone (an interpreter that is not installed) is a usage error: exit 2, no report.

    Interruption: SIGINT (Ctrl-C), SIGTERM (a CI job's timeout) or SIGHUP stop every program the grade
    started (its whole process tree and cgroup), remove the temporary directories, write the report of the
    checks finished so far (to -o FILE, else to stdout), marked incomplete (JSON: "incomplete": true and
    "interrupted_by"; the others: an INCOMPLETE line), and exit with 128 + the signal. If the grader is
    killed outright (SIGKILL), a watchdog process kills what it started and removes its temporary files;
    whatever a killed grader still left is removed at the start of the next grade.

    Exit codes:
      0    every required check passed
      1    a required check did not pass (also: the program cannot be launched)
      2    usage, suite or command error, a report file (-o) that cannot be written (found before any
           check runs), or a fault of the grader itself
      4    the report could not be saved at the end (-o FILE; an older report there is left whole)
      129  interrupted by SIGHUP, 130 by SIGINT, 143 by SIGTERM (128 + the signal)
