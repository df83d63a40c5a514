# `sockspec grade --help` 的中文（src/cli/help.rs 在解析参数之前把这些文字放进命令）。
# 与 locales/en/grade-help.ftl 的 id 保持一致。

grade-about = 给一个程序评分：启动它，按评分套件里的检查项通过本机回环地址（loopback）和它收发数据，逐项报告结果
grade-arg-suite = 内置的评分套件（echo-server、echo-client、chat-server、chat-client、file-receiver、file-sender、udp-receiver、udp-sender、http-server），或者一个套件文件的路径
grade-arg-list = 列出套件里的检查项（编号、级别、分数、要求），然后退出
grade-arg-level = 必须达到的级别：这个级别及以下的检查都要通过（默认用套件自己规定的）。更高级别的检查照样运行，仅供参考。可选：basic（基础）、sequential（顺序）、concurrent（并发）、robust（健壮）
grade-arg-only = 只运行编号匹配的检查（通配符：`*` 和 `?`）；可以写多次
grade-arg-skip = 跳过编号匹配的检查（通配符）；可以写多次
grade-arg-seed = 生成输入用的随机种子，报告里会打印出来。用同一个种子可以原样重现一次评分；再加上 `--only 编号`，可以只重现其中一项（每项检查的输入只取决于种子和它的编号）
grade-arg-strict = 严格比较：回复必须正好是 前缀 + 消息 + 换行，打印的行必须正好是原文
grade-arg-prefix = ECHO 类套件的回复前缀（默认用套件自己的，即 `ECHO：`，注意是全角冒号）
grade-arg-format = 报告格式。可选：human（给人看的文字报告，默认）、json（全部信息，字段名固定为英文）、junit（JUnit XML，给 CI 用）、gradescope、prairielearn、tap（TAP 第 14 版）
grade-arg-output = 把报告写到 FILE，而不是标准输出（`-` 表示标准输出）。在运行任何检查之前就先确认能写。普通文件（或还不存在的文件）只会被完整的报告替换（先写在旁边，再改名替换，保留原来的权限）；符号链接会被跟随，替换它指向的文件，链接本身保留；FIFO 和字符设备（/dev/null、/dev/stdout、终端）直接写入，不替换；目录、块设备、套接字和 /dev 里不存在的名字会被拒绝
grade-arg-timeout-scale = 把所有期限乘以这个倍数（机器慢、程序慢的时候用）。默认：1
grade-arg-color = 文字报告是否使用颜色。可选：auto（输出到终端并且没有设置 NO_COLOR 时才用颜色，默认）、always（总是）、never（从不）
grade-arg-isolate = 每次启动程序时，把它放进一个只有回环接口的私有网络命名空间：`auto` 在系统允许时使用（root，或允许非特权用户命名空间），否则共用本机的回环接口，并在报告里说明；`on` 没有私有网络就拒绝评分（退出码 2）；`off` 总是共用回环接口。默认：auto
grade-arg-lang = 文字报告、报告里套件文字（要求、知识点）和本帮助所用的语言：en 或 zh（默认看环境变量 LC_ALL、LC_MESSAGES、LANG：zh_CN.UTF-8 这类 zh_* 区域设置用中文，其他用英文）。JSON 报告的字段名保持英文，并在 `localized` 里附上这种语言的文字
grade-arg-command = 被测程序的命令行，写在 `--` 后面。占位符：{ "{host} {port} {file} {out} {dir}" }；命令里一个占位符都没有时，会在末尾加上套件自己的占位符（例如 { "{port}" }）
grade-arg-packets = 把程序的 TCP 报文段（SYN、SYN-ACK、FIN、RST，以及相对的 seq/ack；数据按段汇总）加进每项检查的收发记录，在它的私有网络命名空间里抓取（没有私有网络时退出码 2：--isolate=off，或本机不能创建命名空间）
grade-arg-help = 显示帮助（-h 显示简要帮助）

help-usage = 用法：
help-arguments = 参数：
help-options = 选项：

grade-after-help =
    例子：
      sockspec grade echo-server -- python3 server.py { "{port}" }
      sockspec grade echo-client --strict -- python3 client.py { "{host} {port}" }
      sockspec grade file-receiver --format json -o report.json -- ./receiver { "{port} {out}" }
      sockspec grade http-server -- python3 http_server.py { "{port} {dir}" }
      sockspec grade echo-server --packets -- python3 server.py { "{port}" }
      sockspec grade --list echo-server
      sockspec grade echo-server --lang zh -- python3 server.py { "{port}" }

    结果：通过（pass）；失败（fail，回答不对）；超时（timeout，到期限还没有回答，报告会写明期限）；
    崩溃（crash，程序死掉了：显示退出状态和标准错误）；超出限制（limit，程序碰到了套件 [limits] 里的
    资源限制：进程数、CPU 时间、地址空间、打开的文件数、文件大小）；未运行（not-run，前面的步骤失败了，
    这项检查无法进行）。

    隔离：每次启动都在一个只有回环接口的私有网络命名空间里运行。在里面，每个 IPv4 地址都是本机地址，
    并且（以 root 运行、有 BPF 时）每个连接和数据报都会到达评分程序，所以写死了端口和主机地址
    （8888、192.168.1.100）的程序也能运行，多个评分也能同时进行。系统不允许时，报告会说明
    （这时 --isolate=on 会拒绝运行）。

    程序根本无法启动（文件不存在、没有可执行权限）是提交者的问题：报告会说明原因，所有检查都是
    未运行（0 分），退出码是 1。对谁都无法工作的命令（解释器没有安装）是用法错误：退出码 2，没有报告。

    中断：SIGINT（Ctrl-C）、SIGTERM（CI 任务超时）或 SIGHUP 会停止这次评分启动的所有程序（整个进程树
    和 cgroup），删除临时目录，把已经完成的检查写成报告（写到 -o FILE，否则写到标准输出），标记为未完成
    （JSON 里是 "incomplete": true 和 "interrupted_by"；其他格式里是一行 INCOMPLETE），然后以 128 + 信号值
    退出。如果评分程序本身被直接杀死（SIGKILL），一个看门狗进程会杀掉它启动的程序并删除它的临时文件；
    被杀死的评分程序留下的其他东西，会在下一次评分开始时清理掉。

    退出码：
      0    所有必须通过的检查都通过了
      1    有必须通过的检查没有通过（程序无法启动时也是 1）
      2    用法、套件或命令有错，报告文件（-o）无法写入（在运行任何检查之前发现），或者评分程序自身出错
      4    最后无法保存报告（-o FILE；那里原有的报告保持完整）
      129  被 SIGHUP 中断，130 被 SIGINT 中断，143 被 SIGTERM 中断（128 + 信号值）
