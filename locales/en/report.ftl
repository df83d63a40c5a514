# The human report of `sockspec grade` (src/report/human.rs, src/report/mod.rs): its frame, in English.
# Arguments are written `{ $name }`. Keep the same ids in locales/zh/report.ftl.

report-title = sockspec grade { $suite }
report-program = program: { $command }
# $comparison is report-comparison-strict or report-comparison-lenient.
report-settings = seed { $seed } · required level: { $level } · { $comparison } comparison
report-comparison-strict = strict
report-comparison-lenient = lenient
# After the level's name in the heading of its checks: "basic (required)".
report-level-heading = { " " }({ $role })
report-role-required = required
report-role-information = information

level-basic = basic
level-sequential = sequential
level-concurrent = concurrent
level-robust = robust
level-security = security

outcome-pass = PASS
outcome-fail = FAIL
outcome-timeout = TIMEOUT
outcome-crash = CRASH
outcome-not-run = NOT RUN
outcome-limit = LIMIT

# The labels of a check that did not pass, padded to one column by the report.
label-requirement = requirement:
label-concept = concept:
label-why = why:
label-input = input:
label-differs = differs:
label-expected = expected:
label-actual = actual:
label-replay = replay:
label-program = program:
label-wire = wire:
label-stderr = stderr (last lines):
# Before each note, with its space (the Chinese colon needs none).
label-note = note:{ " " }

differs-at = first at byte { $at } (0x{ $hex }); shown: the bytes around it
# Evidence shown in part: from a byte other than the first, or its start only.
evidence-window = { " " }(bytes { $from }..{ $end } of { $len }, sha256 { $sha256 })
evidence-head = { " " }… ({ $len } bytes in all, sha256 { $sha256 })
wire-skipped = … { $count } events …
wire-dropped = … { $count } more events not kept

report-server-mode = server mode: { $mode }
mode-none = none (no client was served correctly)
mode-single = single (serves one client)
mode-sequential = sequential (serves clients one by one)
mode-concurrent = concurrent (serves clients at once)
mode-unknown = not determined (the checks that tell it did not get a program that served clients)

# The last line: "FAIL: required checks 4/5 passed · 8 of 10 points · 1 failed · 2.3 s".
summary = { $verdict }: required checks { $passed }/{ $total } passed · { $points } of { $max } points{ $problems } · { $secs } s
summary-pass = PASS
summary-fail = FAIL
summary-grader-error = GRADER ERROR
summary-interrupted = INCOMPLETE (interrupted by { $signal })
# The problems, joined by summary-separator, after summary-problems-lead.
summary-problems-lead = { " " }·{ " " }
summary-separator = ,{ " " }
summary-failed = { $count } failed
summary-timed-out = { $count } timed out
summary-crashed = { $count } crashed
summary-not-run = { $count } not run
summary-over-limit = { $count } over a limit
report-incomplete = INCOMPLETE: the grade was interrupted by { $signal }; the checks it had not finished are marked not run
report-replay = replay:

# Causes said once for several checks, and the shrinking of a property check's input.
causes-heading = causes
causes-heading-note = {" "}(one explanation for several checks)
cause-explains = explains { $count } checks, marked { $id } below
label-cause = cause:
cause-above = { $id } (above: { $count } checks)
shrink-not-shrunk = (the input above is the one that failed; it was not shrunk: { $why })
shrink-stopped = (the input above is the smallest failing one found before shrinking stopped after { $runs } runs: { $why }; a smaller one may fail too)
shrink-smallest = (the input above is the smallest failing one, found in { $runs } shrinking { $runs ->
        [one] run
       *[other] runs
    }; the replay finds it again)
shrink-replay = (the replay finds the same input again)
