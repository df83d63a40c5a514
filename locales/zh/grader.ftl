# 评分程序对被测程序的说明（有 id 的那些，见 src/i18n/keys.rs）。其余说明暂时只有英文。
# 与 locales/en/grader.ftl 的 id 保持一致。

verbatim = { $text }

not-run-cannot-launch = 程序无法启动：{ $why }
cannot-launch-no-such-file = 程序文件 { $path } 不存在
cannot-launch-no-such-file-here = 程序文件 { $path } 不存在（命令里的相对路径是相对于 { $dir } 的）
cannot-launch-directory = { $path } 是一个目录，不是程序
cannot-launch-not-executable = 程序文件 { $path } 没有可执行权限（先对它运行 `chmod +x`，或者在命令前面写上解释器，例如 python3）
cannot-launch-cannot-start = 无法启动 { $program }：{ $error }
not-run-interrupted = 这项检查还没做完，评分就被中断了（{ $signal }）

never-listened = 程序在 { $secs } 秒内没有开始监听（期限 { $deadline } 秒）
ended-before-listening = 程序还没开始监听就结束了（{ $status }）（期限 { $deadline } 秒）
exited-before-listening = 程序还没开始监听就退出了（{ $status }）

party-client = 客户端 { $n }
party-program = 程序
within-secs = 在 { $secs } 秒内
within-budget = 在这项检查的时间预算用完之前
doing-sending = 发送数据
doing-receiving = 接收数据
doing-waiting-message = 等待消息
doing-waiting-reply = 等待回复
doing-waiting-the-reply = 等待回复
doing-waiting-line = 等待键入的那一行
after-empty-line = 输入空行
after-stdin-ended = 标准输入结束（EOF）
after-sending-file = 发送完文件
after-sender-closed = 发送端关闭连接
after-client-closed = 客户端关闭连接
what-server-reply = 服务器的回复
what-server-line = 服务器发来的那一行
what-client-line = 客户端发来的那一行
awaited-reply = 回复
awaited-typed-line = 键入的那一行

connect-not-accepted = { $client }：到 { $addr } 的连接在 { $secs } 秒内没有被接受
connect-refused = { $client }：到 { $addr } 的连接被拒绝了：程序已经不再监听
connect-failed = { $client }：无法连接到 { $addr }：{ $error }
stopped-reading = { $client }：程序不再读取了：发给它的 { $total } 个字节它只收下了 { $sent } 个，{ $within }再也没有多收（一个既不读取、也不关闭连接的程序会让对方一直阻塞）
refused-after-close = { $client }：程序在上一次回复之后就关闭了连接，所以接下来发送的内容被拒绝了（{ $error }）：它每个连接只处理一条消息
closed-while-sending = { $client }：评分程序还在发送，程序就关闭了连接（{ $error }）
connection-broke = { $client }：{ $doing }时连接断开了：{ $error }
read-and-waited-no-answer = { $client }：程序读取了消息，却没有回答，又回去等待了
nothing-arrived = { $client }：{ $within }什么也没有收到
sent-too-much = { $client }：程序发送了超过 { $limit } 个字节，还没有关闭连接
sent-then-waited-open = { $client }：程序发送了 { $count } 个字节，然后就一直等着，没有关闭连接：接收方会一直读到 EOF 为止，所以对它来说文件永远没有结束（全部发送完之后要关闭 socket）
did-not-close = { $client }：程序{ $within }没有关闭连接（收到了 { $count } 个字节）

reply-followed-by = { $client }：{ $what }收到了，但后面还跟着 { $extra }：一条消息应该在它的文字结束的地方结束
extra-nul-bytes = { $count } 个 NUL 字节（\0）
extra-bytes = 另外 { $count } 个字节
reply-differs = { $client }：回复与期望的不一致{ $before }{ $where }
typed-line-differs = { $client }：程序发送的内容与键入的那一行不一致{ $before }{ $where }
nul-bytes-before = ：在它前面先来了 { $count } 个 NUL 字节（\0）
other-bytes-before = ：在它前面先来了 { $count } 个别的字节
differs-from-byte = ，从字节偏移 { $at } 处开始不同：期望 …{ $expected }…，实际 …{ $actual }…
traceback-before-reply = { $client }：程序没有回复这个客户端就停下了：它的 stderr 上出现了 traceback（有一个线程出错退出了），处理这个客户端的代码已经不再运行
traceback-mid-reply = { $client }：程序回复这个客户端回复到一半就停下了：它的 stderr 上出现了 traceback（有一个线程出错退出了），处理这个客户端的代码已经不再运行
read-and-waited-no-reply = { $client }：程序读取了消息，却没有回复，又回去等待了
stopped-short-waiting = { $client }：{ $what }只发了一部分，程序就回去等待了
closed-after-replies = { $client }：程序回复了第 { $n } 条消息之后就关闭了连接，没有回答第 { $next } 条消息
closed-after-one-reply = { $client }：程序回复了第 { $n } 条消息之后就关闭了连接，没有回答第 { $next } 条消息：它每个连接只处理一条消息
closed-without-reply = { $client }：程序没有回复就关闭了连接
closed-without-typed-line = { $client }：程序没有发送键入的那一行就关闭了连接
closed-mid-reply = { $client }：{ $what }发到一半，程序就关闭了连接
no-reply = { $client }：{ $within }没有收到回复
typed-line-not-sent = { $client }：程序{ $within }没有发送键入的那一行
stopped-short-silent = { $client }：{ $what }只收到一部分：{ $within }再没有收到更多内容

exited-with-after = { $after }之后，程序以 { $status } 退出了
did-not-exit-within = { $after }之后，程序{ $within }没有退出
did-not-exit-accepting = { $after }之后，程序没有退出：它又回到了 accept()，等待下一个客户端
did-not-exit-waiting = { $after }之后，程序没有退出：它还在等待别的东西（输入，或者一个连接）
crashed-then = 程序崩溃了（{ $status }）：{ $why }
limit-then = 程序超出了资源限制（the program { $breach }）；随后：{ $why }

shows-bytes-object = 打印出来的是 bytes 对象 { $shown }，而不是文字：打印之前先用 decode() 把字节解码
printed-wrongly = { $what }打印得不对：{ $why }
printed-not-own-line = 程序打印了{ $what }，但没有让它单独占一行
printed-part = 程序只打印了{ $what }的一部分：一次 recv() 只返回目前已经到达的数据，不一定是一整条消息；要一直接收到换行符为止
exited-without-printing = 程序没有打印{ $what }就退出了（{ $status }）
printed-something-else = 程序打印了别的内容，然后回去等待了：没有打印{ $what }
printed-own-line-instead = 程序打印了别的内容（它打印的是自己发出去的那一行，而不是收到的那一行），然后回去等待了：没有打印{ $what }
did-not-print = 程序{ $within }没有打印{ $what }
printed-nothing = 程序{ $within }什么也没有打印：{ $what }一直没有出现（如果程序打印时不换行，比如 print(..., end='') 或者不带 \n 的 printf，文字会留在输出缓冲区里：在终端上只有换行才会把它送出去）

cause-nul-padding = 程序在要发送的内容后面还发送了 NUL 字节（\0）：整个缓冲区都发了出去，就像 write(fd, buf, sizeof buf) 那样；只应该发送装着消息的那些字节（read() 返回的字节数，或者 strlen()）
cause-no-prefix = 回复没有前缀：每条消息前面都应该有 "{ $prefix }"
cause-wrong-prefix = 回复以 "{ $got }" 开头，而期望的是 "{ $prefix }"{ $differs }
char-is-not = ：{ $got } 不是 { $want }
char-named = "{ $char }" U+{ $code }（{ $name }，{ $bytes }）
char-unnamed = "{ $char }" U+{ $code }（{ $bytes }）
char-byte = 字节 { $hex }
char-bytes = 字节 { $hex }
char-ascii-colon = 英文半角冒号
char-full-width-colon = 中文全角冒号
char-space = 空格
char-full-width-space = 全角空格
char-ascii-comma = 英文半角逗号
char-full-width-comma = 中文全角逗号
cause-framing-pieces = 一条分几次 recv() 才收完的消息被一段一段地回复了，每次 recv() 回复一次：应该先把字节收集到换行符为止，再对整行回复一次
cause-stripped = 回复丢掉了消息两端的空格和制表符：是 strip() 把它们去掉的；只去掉行尾的换行符（rstrip('\n')），或者收到什么字节就原样回复什么
cause-framing-together = 一起到达的几条消息（一次 recv() 返回了好几行）被当成一条来回复了：应该把 recv() 返回的内容按换行符分开，每一行分别回复
cause-prints-bytes = 程序打印的是 recv() 返回的 bytes 对象（b'...'），而不是文字：打印之前先用 decode() 把字节解码
cause-never-ready = 程序在连续 { $count } 项检查里都没有准备好（{ $how }）；后面需要程序先准备好的检查都没有运行（用 `--only ID` 可以单独运行其中一项）

cause-raises = 程序抛出了 { $name }{ $at }
cause-raises-hint = 程序抛出了 { $name }{ $at }：{ $hint }
raised-at = （{ $file } 第 { $line } 行）
hint-ascii-codec = decode() 和 encode() 要用 UTF-8（默认就是），不要用 'ascii'：中文不是 ASCII 文字
hint-file-decode = 文件是字节，不是文字：把 recv() 返回的内容原样写入，用二进制模式（'wb'）打开文件，不要对它 decode()
hint-datagram-decode = 字节被分成几段分别解码了，或者 recvfrom() 的缓冲区太小，把数据报从一个字符中间截断了：每个数据报要完整地接收（recvfrom(65535)），然后再 decode()
hint-cut-character = 一个字符被两次 recv() 切开了（一个汉字在 UTF-8 里占 3 个字节），两半又各自解码：应该先把字节收集到换行符为止，再对整行 decode()
hint-not-utf8 = 被解码的字节不是完整的 UTF-8 文字（可能是 recv() 从一个字符中间切开了，也可能根本不是 UTF-8）：应该先把字节收集到换行符为止，再用 UTF-8 对整行 decode()
hint-eof-error = 输入结束（Ctrl+D）时 input() 会抛出 EOFError：要捕获它（except EOFError），然后关闭连接
hint-connection-reset = 对方重置连接时 recv() 会抛出 ConnectionResetError：要捕获它，关闭这个连接，然后继续运行
hint-broken-pipe = 向已经离开的对方发送数据会抛出 BrokenPipeError：recv() 返回 b'' 时就应该退出循环
hint-encode-ascii = encode() 要用 UTF-8（默认就是，直接写 encode()），不要用 'ascii'：中文不是 ASCII 文字

shrink-timeout = 这是超时：每试一次都要再等到期限过去
shrink-waited = 这个失败要等期限过去才看得出来，每试一次都要再等一遍
shrink-budget-spent = 这项检查的时间预算用完了（这是时间上的限制：在更快的机器上可能缩小得更多）
shrink-check-runs-used = 这项检查的 { $count } 次缩小运行已经用完
shrink-grade-runs-used = 整次评分的缩小预算（{ $count } 次运行）已经用完
shrink-grade-time-used = 整次评分的缩小时间预算（{ $count } 秒）已经用完（这是时间上的限制：在别的机器上可能缩小得更多）

how-exited-before-listening = 还没开始监听就退出了（{ $status }）
how-not-listening-within = 在 { $secs } 秒内没有开始监听
how-ended-before-listening = 还没开始监听就结束了（{ $status }）
how-exited-without-connecting = 还没连接就退出了（{ $status }）
how-not-connected-within = 在 { $secs } 秒内没有连接
not-run-never-ready = 没有运行：在前面的检查里，程序一直没有准备好（{ $how }）
exited-without-connecting = 程序还没连接就退出了（{ $status }）
did-not-connect = 程序在 { $secs } 秒内没有连接（启动期限）

answered-together = { $client }：第 { $next } 条消息没有得到单独的回复：第 { $n } 条消息的回复后面直接接上了它的文字（一次 recv() 把两条都收了进来，当成一条回复了）
left-reset = 重置了连接
left-closed = 关闭了连接
exited-after-client-left = 客户端{ $left }之后，程序以 { $status } 退出了
spins-after-client-left = 客户端{ $left }之后，程序一刻不停地在运行（占用了 { $busy }% 的时间，之前是 { $before }%）：recv() 返回 b'' 之后，循环永远不会结束
exited-before-client-left = 启动的程序在客户端离开之前就已经退出了（{ $status }），客户端{ $left }之后也没有它的进程在监听：没有证据表明它在连接关闭之后还能继续运行
neither-exited-nor-listening = 客户端{ $left }之后，程序在 { $secs } 秒内既没有退出，也没有继续监听
second-closed-unanswered = 客户端 1 { $left }之后，客户端 2 的连接被接受了，但程序没有回答就把它关闭了
second-not-served = 客户端 1 { $left }之后，程序还在运行，却没有为客户端 2 服务：{ $why }
single-client-exited = 客户端 { $i } 没有得到服务：程序在客户端 { $prev } 之后就退出了（{ $status }）；它只为一个客户端服务
only-in-turn = 客户端 1 保持连接、什么也不发的时候，客户端 2 在 { $secs } 秒内没有收到回复；直到客户端 1 关闭之后回复才到：这个服务器一次只为一个客户端服务
only-in-turn-wrong = 客户端 1 保持连接、什么也不发的时候，客户端 2 在 { $secs } 秒内没有收到回复；直到客户端 1 关闭之后回复才到（而且回复是错的）：这个服务器一次只为一个客户端服务
single-client-idle = 客户端 1 保持连接、什么也不发的时候，客户端 2 在 { $secs } 秒内没有收到回复；客户端 1 关闭之后，程序就退出了（{ $status }）：它只为一个客户端服务
not-at-once = 另外 { $others } 个客户端保持连接的时候，客户端 { $i } 在 { $secs } 秒内没有收到回复：这个服务器不能同时为多个客户端服务
first-turn-failed = 第一轮对话就失败了，所以没法测试关闭：{ $why }
fine-at-basic-chat = { $why }（在 basic 级别这样没问题，见 client-close；课上的聊天程序在客户端离开时就结束：退出循环，关闭 socket，然后退出）

reconnected = { $client }：程序关闭了自己的连接又重新连接，而没有在原来的连接上发送这一行；整个对话应该一直用同一个连接
line-before-end-not-handled = 输入结束之前的某一行就没有处理好，所以没法测试输入结束：{ $why }
open-after-empty-line = { $after }之后，程序没有关闭连接：它还在等待更多输入（input() 返回空行时就退出循环，然后关闭 socket）
open-after-eof = { $after }之后，程序没有关闭连接：它还在等待更多输入（输入结束时就退出循环（这时 input() 会抛出 EOFError），然后关闭 socket）
not-closed-after = { $after }之后，程序{ $within }没有关闭连接

file-whole-written = 文件
file-whole-sent = 程序发送的内容
file-got-written = 写进文件
file-got-sent = 收到
file-verb-written = 写进了文件
file-verb-sent = 在程序关闭之前到达
file-stripped = { $whole }丢掉了 { $how }（{ $m } 个字节里{ $got } { $n } 个）：是 strip() 把它们去掉的；字节要原样保留
file-only-first = { $m } 个字节里只有前 { $n } 个{ $verb }
file-only-first-recv-1024 = { $m } 个字节里只有前 { $n } 个{ $verb }（{ $k } × 1024：是不是只调用了固定次数的 recv(1024)？应该一直循环到 recv() 返回 b'' 为止）
file-grew-nul = { $whole }变长了：发送了 { $m } 个字节，{ $got }的却有 { $n } 个；多出来的 { $extra } 个是 NUL 字节（\0）：写入的是整个固定大小的缓冲区，而不只是收到的那些字节
file-grew-unsent = { $whole }变长了：发送了 { $m } 个字节，{ $got }的却有 { $n } 个；多出来的 { $extra } 个字节根本没有发送过
file-text-mode = 每个 \n 都变成了 \r\n（发送了 { $m } 个字节，{ $got } { $n } 个）：文件是用文本模式写的；要用二进制模式（'wb' / 'rb'）
file-replaced = 不是 UTF-8 文字的字节变成了 U+FFFD（decode(errors='replace')），发送了 { $m } 个字节，{ $got } { $n } 个：文件是字节：不要对它 decode()，recv() 返回什么就写什么
file-dropped-or-changed = 有字节丢失或被改动
file-changed = 有字节被改动
file-differs = { $change }：{ $whole }从字节偏移 { $at } 处开始不同（发送了 { $m } 个字节，{ $got } { $n } 个）；程序在传输途中改动了数据（用了 decode() 或 encode()？文本模式？）：把 recv() 返回的字节原样用二进制模式（'wb'）写入
file-transfer-not-ended = 发送端关闭之后，程序{ $within }没有结束这次传输：它既没有退出，也没有关闭连接，没有回到 accept()，也没有停下来
file-exited-not-written = 程序退出了（{ $status }），却没有写出输出文件 { $path }
file-done-not-written = 程序处理完了连接，却没有写出输出文件 { $path }
file-then-stopped-reading = { $why }；之后程序不再读取了：发给它的 { $unread } 个字节还没有读，而它既不关闭连接也不退出（要循环调用 recv()，直到它返回 b''）
file-still-running = { $why }（程序还在运行：还没有写到文件里（flush）的字节不算数；传输结束后要关闭文件，例如用 with open(...) as f）
file-state-written = { $why }；文件里有 { $sent } 个字节中的 { $n } 个
file-state-none = { $why }；没有写出输出文件
file-fine-receiver = { $why }（内容方面的检查不要求更多；课上的接收端在文件写完之后就退出）
not-run-over-limit = 没有运行：在前面的检查里，程序每次启动都超出了 { $limit }
cause-over-limit = 程序在连续 { $count } 项检查里都超出了 { $limit }；后面的检查都没有运行（用 `--only ID` 可以单独运行其中一项）

datagram-nth = 第 { $k } 个数据报（共 { $n } 个）
datagram-same-line = { $what }和前一个数据报打印在了同一行：每个数据报都应该单独打印成一行（print() 会自动换行；print(..., end='') 不会）
datagram-printed-part = { $what }（{ $len } 个字节）只打印了一部分，即前 { $n } 个字节：数据报被截断了（recvfrom() 的缓冲区比数据报小时，只保留数据报的开头，其余部分直接丢弃）
datagram-not-own-line = { $what }打印出来了，但没有单独占一行
datagram-differs-from-typed = 收到的数据报与键入的那一行不一致
datagram-nul-padded = 数据报里先是键入的那一行，后面跟着 NUL 字节（\0）：整个缓冲区都发了出去
datagram-sent-at-end = 键入这一行的时候什么也没有发送；标准输入结束之后才来了一个装着它的数据报：应该每键入一行就发送一个数据报
crashed-before-sending-typed = 程序还没发送键入的那一行就崩溃了（{ $status }）
exited-without-sending-typed = 程序没有发送键入的那一行就退出了（退出状态 0）
no-datagram-after-typing = 键入这一行之后，{ $within }没有收到任何数据报
line-before-end-not-sent = 输入结束之前的某一行就没有发送出去，所以没法测试输入结束：{ $why }
empty-line-empty-datagram = 空行被当作一个空数据报发送了出去
