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
