# What the grader says about a program, for the messages that have an id (src/i18n/keys.rs lists them).
# The rest of the grader's explanations are English only for now. Keep the same ids in
# locales/zh/grader.ftl.

# A text that has no translation: shown as it is in every language.
verbatim = { $text }

# A check not run because the program cannot be launched at all; $why is one of the cannot-launch-*.
not-run-cannot-launch = the program cannot be launched: { $why }
cannot-launch-no-such-file = the program file { $path } does not exist
cannot-launch-no-such-file-here = the program file { $path } does not exist (relative paths in the command are taken from { $dir })
cannot-launch-directory = { $path } is a directory, not a program
cannot-launch-not-executable = the program file { $path } is not executable (run `chmod +x` on it, or put its interpreter first)
cannot-launch-cannot-start = { $program } cannot be started: { $error }
not-run-interrupted = the grade was interrupted ({ $signal }) before this check finished

# A server that never listened: $secs and $deadline are seconds with one decimal, $status an exit status.
never-listened = the program did not start listening within { $secs } s (the start deadline)
ended-before-listening = the program ended ({ $status }) before it listened (deadline { $deadline } s)
exited-before-listening = the program exited ({ $status }) before it listened
