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

# Words the messages below take as arguments.
party-client = client { $n }
party-program = program
within-secs = within { $secs } s
within-budget = before the check's time budget ran out
doing-sending = sending
doing-receiving = receiving
doing-waiting-message = waiting for a message
doing-waiting-reply = waiting for a reply
doing-waiting-the-reply = waiting for the reply
doing-waiting-line = waiting for the line typed
after-empty-line = an empty line
after-stdin-ended = stdin ended (EOF)
after-sending-file = sending the file
after-sender-closed = the sender closed the connection
after-client-closed = the client closed the connection
what-server-reply = the server's reply
what-server-line = the server's line
what-client-line = the client's line
awaited-reply = the reply
awaited-typed-line = the line typed

# A connection: $client is party-client (or a name from a suite's script), $within a within-*.
connect-not-accepted = { $client }: the connection to { $addr } was not accepted within { $secs } s
connect-refused = { $client }: the connection to { $addr } was refused: the program no longer listened
connect-failed = { $client }: could not connect to { $addr }: { $error }
stopped-reading = { $client }: the program stopped reading: it took { $sent } of the { $total } bytes sent, and no more { $within } (a program that neither reads nor closes blocks its peer)
refused-after-close = { $client }: the program had closed the connection after its last reply, so what was sent next was refused ({ $error }): it serves one message per connection
closed-while-sending = { $client }: the program closed the connection while the grader was still sending ({ $error })
connection-broke = { $client }: the connection broke while { $doing }: { $error }
read-and-waited-no-answer = { $client }: the program read the message and went back to waiting without answering
nothing-arrived = { $client }: nothing arrived { $within }
sent-too-much = { $client }: the program sent more than { $limit } bytes without closing
sent-then-waited-open = { $client }: the program sent { $count } bytes, then waited without closing the connection: the receiver reads until EOF, so for it the file never ends (close the socket once everything is sent)
did-not-close = { $client }: the program did not close the connection { $within } ({ $count } bytes arrived)

# A reply judged: $what is awaited-*; $before and $where are empty or the messages after these.
reply-followed-by = { $client }: { $what } came, followed by { $extra }: a message ends where its text ends
extra-nul-bytes = { $count } NUL bytes (\0)
extra-bytes = { $count } more bytes
reply-differs = { $client }: the reply differs{ $before }{ $where }
typed-line-differs = { $client }: what the program sent differs from the line typed{ $before }{ $where }
nul-bytes-before = : { $count } NUL bytes (\0) came before it
other-bytes-before = : { $count } other bytes came before it
differs-from-byte = {" "}from byte { $at } on: expected …{ $expected }…, got …{ $actual }…
traceback-before-reply = { $client }: the program stopped without replying to this client: a traceback appeared on its stderr (a thread died), and nothing of it runs
traceback-mid-reply = { $client }: the program stopped in the middle of its reply to this client: a traceback appeared on its stderr (a thread died), and nothing of it runs
read-and-waited-no-reply = { $client }: the program read the message and went back to waiting without replying
stopped-short-waiting = { $client }: { $what } stopped short, and the program went back to waiting
closed-after-replies = { $client }: the program closed the connection after its reply to message { $n }, without answering message { $next }
closed-after-one-reply = { $client }: the program closed the connection after its reply to message { $n }, without answering message { $next }: it serves one message per connection
closed-without-reply = { $client }: the program closed the connection without replying
closed-without-typed-line = { $client }: the program closed the connection without sending the line typed
closed-mid-reply = { $client }: the program closed the connection in the middle of { $what }
no-reply = { $client }: no reply { $within }
typed-line-not-sent = { $client }: the program did not send the line typed { $within }
stopped-short-silent = { $client }: { $what } stopped short: nothing more { $within }

# The program's exit: $after is after-* (what should have made it exit), $status an exit status.
exited-with-after = the program exited with { $status } after { $after }
did-not-exit-within = the program did not exit { $within } after { $after }
did-not-exit-accepting = the program did not exit after { $after }: it went back to accept(), waiting for the next client
did-not-exit-waiting = the program did not exit after { $after }: it waits for something more (input, or a connection)
crashed-then = the program crashed ({ $status }): { $why }
limit-then = the program { $breach }; then: { $why }

# What the program printed: $what is what-* (or a datagram's name).
shows-bytes-object = it shows the bytes object { $shown }, not the text: decode() the bytes before printing
printed-wrongly = { $what } was printed wrongly: { $why }
printed-not-own-line = the program printed { $what }, but not as a line of its own
printed-part = the program printed only part of { $what }: one recv() returns what has arrived so far, not a whole message; receive until its newline
exited-without-printing = the program exited ({ $status }) without printing { $what }
printed-something-else = the program printed something else and went back to waiting: { $what } was not printed
printed-own-line-instead = the program printed something else (it printed the line it sent itself, not the one it received) and went back to waiting: { $what } was not printed
did-not-print = the program did not print { $what } { $within }
printed-nothing = the program printed nothing { $within }: { $what } never showed (if it prints without a newline, as print(..., end='') or printf without \n do, the text waits in its output buffer: at a terminal only a newline sends it)

# Causes: one explanation for several checks (src/grade/cause.rs), with the fix.
cause-nul-padding = the program sends NUL bytes (\0) after what it means to send: the whole buffer goes out, as write(fd, buf, sizeof buf) does; send only the bytes that hold the message (the count read() returned, or strlen())
cause-no-prefix = the replies have no prefix: "{ $prefix }" was expected before each message
cause-wrong-prefix = the replies start with "{ $got }" where "{ $prefix }" was expected{ $differs }
char-is-not = : { $got } is not { $want }
char-named = "{ $char }" U+{ $code } ({ $name }, { $bytes })
char-unnamed = "{ $char }" U+{ $code } ({ $bytes })
char-byte = byte { $hex }
char-bytes = bytes { $hex }
char-ascii-colon = ASCII colon
char-full-width-colon = full-width colon
char-space = space
char-full-width-space = full-width space
char-ascii-comma = ASCII comma
char-full-width-comma = full-width comma
cause-framing-pieces = a message that arrives in several recv() calls is answered piece by piece, a reply per recv(): collect the bytes up to the newline, then answer the whole line once
cause-stripped = the replies lose the spaces and tabs at the ends of the message: strip() removes them; remove only the line ending (rstrip('\n')), or answer the bytes as they came
cause-framing-together = messages that arrive together (one recv() returns several lines) are answered as one: split what recv() returns at each newline and answer each line
cause-prints-bytes = the program prints the bytes object that recv() returns (b'...') instead of the text: decode() the bytes before printing
cause-never-ready = the program never became ready in { $count } checks in a row ({ $how }); the checks after them that need a ready program were not run (`--only ID` runs one alone)

# A Python traceback: $name the exception, $at empty or raised-at, $hint one of hint-*.
cause-raises = the program raises { $name }{ $at }
cause-raises-hint = the program raises { $name }{ $at }: { $hint }
raised-at = {" "}({ $file } line { $line })
hint-ascii-codec = decode() and encode() with UTF-8 (the default), not 'ascii': Chinese text is not ASCII
hint-file-decode = a file is bytes, not text: write what recv() returns unchanged, in binary mode ('wb'), and never decode() it
hint-datagram-decode = the bytes were decoded in pieces, or a datagram was cut by a small recvfrom() buffer inside a character: receive each datagram whole (recvfrom(65535)), then decode()
hint-cut-character = a character was cut between two recv() calls (a Chinese character is 3 bytes in UTF-8) and each part was decoded on its own: collect the bytes up to the newline, then decode() the whole line
hint-not-utf8 = bytes were decoded that are not a whole UTF-8 text (the middle of a character cut by a recv(), or not UTF-8 at all): collect the bytes up to the newline, then decode() the whole line with UTF-8
hint-eof-error = input() raises EOFError at end of input (Ctrl+D): catch it (except EOFError) and close the connection
hint-connection-reset = recv() raises ConnectionResetError when the peer resets the connection: catch it, close that connection and go on
hint-broken-pipe = sending to a peer that has left raises BrokenPipeError: leave the loop when recv() returns b''
hint-encode-ascii = encode() with UTF-8 (the default, encode()), not 'ascii': Chinese text is not ASCII

# Why the shrinking of a failing input stopped early ($count: runs, or seconds).
shrink-timeout = a timeout: each try would wait out the deadline again
shrink-waited = the failure shows only once a deadline has passed, and each try would wait it out again
shrink-budget-spent = the check's time budget ran out (a time: on a faster machine shrinking may go further)
shrink-check-runs-used = the check's { $count } shrinking runs were used up
shrink-grade-runs-used = the grade's shrinking budget of { $count } runs was used up
shrink-grade-time-used = the grade's shrinking time budget of { $count } s was used up (a time: on another machine shrinking may go further)

# A program that never became ready: how, in the same words for the same behaviour ($how below).
how-exited-before-listening = exited ({ $status }) before it listened
how-not-listening-within = did not start listening within { $secs } s
how-ended-before-listening = ended ({ $status }) before it listened
how-exited-without-connecting = exited ({ $status }) without connecting
how-not-connected-within = did not connect within { $secs } s
not-run-never-ready = not run: the program never became ready in the checks before it ({ $how })
exited-without-connecting = the program exited ({ $status }) without connecting
did-not-connect = the program did not connect within { $secs } s (the start deadline)

# Several clients, and a client that leaves ($left is left-*).
answered-together = { $client }: message { $next } got no reply of its own: the reply to message { $n } went on with its text (one recv() returned both, answered as one)
left-reset = reset the connection
left-closed = closed the connection
exited-after-client-left = the program exited with { $status } after the client { $left }
spins-after-client-left = after the client { $left }, the program kept running without a pause ({ $busy }% of the time, { $before }% before): a loop on recv() returning b'' that never ends
exited-before-client-left = the program started had exited ({ $status }) before the client left, and after the client { $left } nothing of it was left listening: there is no evidence it survived the close
neither-exited-nor-listening = after the client { $left }, the program neither exited nor went on listening within { $secs } s
second-closed-unanswered = after client 1 { $left }, client 2 was accepted but the program closed it without answering
second-not-served = after client 1 { $left }, the program stayed but did not serve client 2: { $why }
single-client-exited = client { $i } was not served: the program exited ({ $status }) after client { $prev }; it serves a single client
only-in-turn = client 2 got no reply within { $secs } s while client 1 stayed connected and idle; the reply came only after client 1 closed: the server serves one client at a time
only-in-turn-wrong = client 2 got no reply within { $secs } s while client 1 stayed connected and idle; the reply came only after client 1 closed (and it was wrong): the server serves one client at a time
single-client-idle = client 2 got no reply within { $secs } s while client 1 stayed connected and idle; when client 1 closed, the program exited ({ $status }): it serves a single client
not-at-once = client { $i } got no reply within { $secs } s while { $others } other client(s) stayed connected: the server does not serve its clients at once
first-turn-failed = the first turn failed, so the close could not be tested: { $why }
fine-at-basic-chat = { $why } (fine at the basic level, client-close; the lesson's chat ends when its client leaves: leave the loop, close and exit)

# A client program: the end of its input ($after is after-*).
reconnected = { $client }: the program closed its connection and connected again instead of sending the line on it; keep one connection for the whole conversation
line-before-end-not-handled = a line before the end of input was not handled, so the end could not be tested: { $why }
open-after-empty-line = after { $after }, the program did not close the connection: it waits for more input (leave the loop when input() returns an empty line, then close the socket)
open-after-eof = after { $after }, the program did not close the connection: it waits for more input (leave the loop at end of input (input() raises EOFError), then close the socket)
not-closed-after = the program did not close the connection { $within } after { $after }

# A file transfer: $whole, $got and $verb are file-whole-*, file-got-*, file-verb-*; $m bytes sent, $n in the file or arrived.
file-whole-written = the file
file-whole-sent = what the program sent
file-got-written = in the file
file-got-sent = arrived
file-verb-written = were written to the file
file-verb-sent = arrived before the program closed
file-stripped = { $whole } lost { $how } ({ $n } of { $m } bytes { $got }): strip() removes them; keep the bytes unchanged
file-only-first = only the first { $n } of { $m } bytes { $verb }
file-only-first-recv-1024 = only the first { $n } of { $m } bytes { $verb } ({ $k } × 1024: a fixed number of recv(1024) calls? loop until recv() returns b'')
file-grew-nul = { $whole } grew: { $m } bytes were sent, { $n } are { $got }; the { $extra } extra are NUL bytes (\0): a whole fixed-size buffer was written, not just the bytes received
file-grew-unsent = { $whole } grew: { $m } bytes were sent, { $n } are { $got }; the { $extra } extra are bytes that were never sent
file-text-mode = every \n became \r\n ({ $m } bytes sent, { $n } { $got }): the file was written in text mode; use binary mode ('wb' / 'rb')
file-replaced = bytes that are not UTF-8 text became U+FFFD (decode(errors='replace')), { $m } bytes sent, { $n } { $got }: a file is bytes: never decode() it, write what recv() returns
file-dropped-or-changed = bytes were dropped or changed
file-changed = bytes were changed
file-differs = { $change }: { $whole } differs from byte { $at } on ({ $m } bytes sent, { $n } { $got }); the program changed the data on its way (decode() or encode(), text mode?): write the bytes recv() returns, unchanged, in binary mode ('wb')
file-transfer-not-ended = the transfer did not end for the program { $within } after the sender closed: it neither exited, nor closed the connection, nor went back to accept(), nor stopped
file-exited-not-written = the program exited ({ $status }) without writing the output file { $path }
file-done-not-written = the program finished with the connection without writing the output file { $path }
file-then-stopped-reading = { $why }; the program then stopped reading: { $unread } bytes it was sent wait unread, and it neither closes the connection nor exits (loop on recv() until it returns b'')
file-still-running = { $why } (the program is still running: bytes it has not flushed to the file yet do not count; close the file, e.g. with open(...) as f, once the transfer is over)
file-state-written = { $why }; { $n } of the { $sent } bytes are in the file
file-state-none = { $why }; no output file was written
file-fine-receiver = { $why } (the content checks do not ask more; the lesson's receiver exits once its file is written)
not-run-over-limit = not run: the program went over { $limit } in the checks before it, at each launch
cause-over-limit = the program went over { $limit } in { $count } checks in a row; the checks after them were not run (`--only ID` runs one alone)

# UDP: $what is datagram-nth (datagram $k of $n), $len its bytes, $n the bytes printed, $within a within-*.
datagram-nth = datagram { $k } of { $n }
datagram-same-line = { $what } was printed on the same line as the one before: each datagram must be printed on a line of its own (print() ends the line; print(..., end='') does not)
datagram-printed-part = { $what } ({ $len } bytes) was printed only in part, its first { $n } bytes: the datagram was cut (a recvfrom() buffer smaller than the datagram keeps only its start and drops the rest)
datagram-not-own-line = { $what } was printed, but not as a line of its own
datagram-differs-from-typed = the datagram differs from the line typed
datagram-nul-padded = the datagram holds the line typed, then NUL bytes: the whole buffer was sent
datagram-sent-at-end = nothing was sent while the line was typed; after stdin ended one datagram came holding it: send one datagram per line as it is typed
crashed-before-sending-typed = the program crashed ({ $status }) before sending the line typed
exited-without-sending-typed = the program exited (status 0) without sending the line typed
no-datagram-after-typing = no datagram arrived { $within } of typing the line
line-before-end-not-sent = a line before the end of input was not sent, so the end could not be tested: { $why }
empty-line-empty-datagram = the empty line was sent as an empty datagram

# An HTTP server: $why is the failure an advice follows; $status and $reason a response's status line.
http-advice = { $why }; { $advice }
http-missing-still-answered = a missing file must still get a response: 404 Not Found
http-answered = answered { $status } { $reason }
http-closed-the-connection = closed the connection
http-answered-before-whole = the server { $answer } before the whole request had arrived ({ $why }); one recv() may hold only part of a request: read until the blank line (\r\n\r\n) that ends its head
http-request-in-pieces = the request came in pieces: read until the blank line (\r\n\r\n) that ends its head before answering, since one recv() may hold only part of it
http-pieces-of-five = the request came in pieces of 5 bytes: read until \r\n\r\n before parsing
http-first-until-close = the first response has no Content-Length, so only closing the connection could end its body: the connection cannot carry a second request
http-keep-alive = HTTP/1.1 keeps a connection open for more requests; { $why }: loop over requests on a connection until the client closes it
http-said-close = it said `Connection: close` and served one request per connection
http-did-not-say-close = it did not say `Connection: close`, so the browser sent its next request on the same connection
http-body-unread = the request had a body of { $len } bytes: read it (Content-Length says how many bytes) before answering and closing; closing with unread bytes makes the kernel reset the connection, and the browser may lose the response
http-no-status = the status { $status } is no HTTP status (200 to 599)
http-more-after-response = after its response the server sent { $count } more bytes: it took the request's body for another request; read Content-Length bytes of body as part of the request
http-reset-after-response = the connection was reset after the response: the server closed its socket with { $len } bytes of the request's body unread, and the kernel answers that with a reset, which can destroy the response before the browser reads it; read Content-Length bytes of body before closing
http-next-after-body = after a request with a body, the next browser must still be served
http-not-at-once = browser 1 had sent only the start of its request, and browser 2 was not served meanwhile: serve each connection in a thread of its own
http-stopped-after-earlier-dotdot = the server stopped serving after an earlier `..` request
http-traversal = GET { $target } was answered { $status } { $reason }{ $secret }: a request must never reach a file outside the served directory; decode %XX first, then refuse any `..` (or resolve the path with os.path.realpath and check it is still inside the directory)
http-with-secret = {" "}with the secret file beside the served directory
http-stopped-after-dotdot = the server stopped serving after the `..` requests
# A response that did not come whole: $count bytes arrived; $why one of these, then http-declared-short.
http-no-response-in-time = no response arrived in time
http-incomplete-in-time = the response was not complete in time ({ $count } bytes arrived)
http-closed-without-response = the server closed the connection without a response
http-closed-inside-response = the server closed the connection inside the response ({ $count } bytes arrived)
http-malformed = not an HTTP response: { $why }
http-connection-failed = the connection failed: { $error }
http-declared-short = { $why }: Content-Length says { $n } bytes, but only { $got } followed; count the bytes of the encoded body (len(body.encode())), not its characters
http-deadline = { $why } (deadline { $secs } s)
http-reset = { $why }: the connection was reset, which is what closing a socket with unread request bytes does
# The response judged: $cut and $hint are empty or http-body-cut, http-length-is-chars.
http-wrong-status = GET { $target } was answered { $status } { $reason }, expected { $want } { $expected }
http-body-not-index = the body is not the file index.html{ $cut }
http-body-cut = : it stops after { $n } of the page's { $len } bytes, where its Content-Length says; Content-Length counts bytes, not characters
http-bare-lf = a line of the response head ends in \n alone: HTTP ends every status and header line with \r\n, and the head with an empty \r\n line
http-wrong-content-type = Content-Type is { $got }, expected { $want } (the browser decides how to show the body by it)
http-no-content-type = no Content-Type header: send `Content-Type: { $want }; charset=utf-8` so the browser knows what the body is
http-wrong-length = Content-Length says { $n }, but the page has { $len } bytes{ $hint }
http-length-is-chars = : that is its number of characters; Content-Length counts bytes, and each Chinese character is 3 bytes in UTF-8: use len(body.encode())
http-no-content-length = no Content-Length header: the browser cannot tell where the body ends (only a close could say it, and then the connection cannot be kept alive); send `Content-Length: <len(body)>` with the length in bytes
http-image-changed = the image arrived changed: { $got } bytes instead of { $len }, different from byte { $at } on; open it in binary mode ('rb') and send its bytes as they are, never through decode()/encode() or a text-mode file

# A teacher's scripted suite: $what is the step as the script writes it, $client a party-* or the script's name.
step-failed = step { $i } of { $n } ({ $what }): { $why }
script-line-no-match = { $client }: the line does not match
script-line-not-utf8 = { $client }: the line is not UTF-8 text
script-closed-before-newline = { $client }: the program closed the connection before the end of the line (no newline)
script-too-long = { $client }: more than { $limit } bytes came without a newline
script-line-short = { $client }: the line stopped short: no newline { $within }
script-closed-after-part = { $client }: the program closed the connection after { $got } of { $len } bytes
script-part-within = { $client }: { $got } of { $len } bytes came { $within }
script-did-not-close = { $client }: the program did not close the connection { $within }
script-closed-in-silence = { $client }: the program closed the connection where { $ms } ms of silence were expected
script-sent-instead-of-closing = { $client }: the program sent { $count } byte(s) instead of closing the connection
script-sent-in-silence = { $client }: the program sent { $count } byte(s) where { $ms } ms of silence were expected
