# `sockspec grade` 的文字报告（src/report/human.rs、src/report/mod.rs）的框架，简体中文。
# 参数写作 `{ $name }`。与 locales/en/report.ftl 的 id 保持一致。

report-title = sockspec 评分：{ $suite }
report-program = 程序：{ $command }
report-settings = 随机种子 { $seed } · 必须达到的级别：{ $level } · { $comparison }比较
report-comparison-strict = 严格
report-comparison-lenient = 宽松
report-level-heading = （{ $role }）
report-role-required = 必须通过
report-role-information = 仅供参考

level-basic = 基础 basic
level-sequential = 顺序 sequential
level-concurrent = 并发 concurrent
level-robust = 健壮 robust
level-security = 安全 security

outcome-pass = 通过
outcome-fail = 失败
outcome-timeout = 超时
outcome-crash = 崩溃
outcome-not-run = 未运行
outcome-limit = 超出限制

label-requirement = 要求：
label-concept = 知识点：
label-why = 原因：
label-input = 输入：
label-differs = 差异：
label-expected = 期望：
label-actual = 实际：
label-replay = 重现：
label-program = 程序：
label-wire = 收发记录：
label-stderr = 标准错误（最后几行）：
label-note = 注意：

differs-at = 第一个不同的字节在第 { $at } 字节处（0x{ $hex }）；下面显示它前后的字节
evidence-window = （共 { $len } 字节，这里显示第 { $from }..{ $end } 字节，sha256 { $sha256 }）
evidence-head = { " " }…（共 { $len } 字节，sha256 { $sha256 }）
wire-skipped = … 省略 { $count } 个事件 …
wire-dropped = … 另有 { $count } 个事件没有保留

report-server-mode = 服务器模式：{ $mode }
mode-none = 无（没有一个客户端得到正确的服务）
mode-single = 单客户端（只服务一个客户端）
mode-sequential = 顺序（一个接一个地服务客户端）
mode-concurrent = 并发（同时服务多个客户端）
mode-unknown = 无法确定（能判断模式的检查都没有遇到正常服务客户端的程序）

summary = { $verdict }：必须通过的检查通过了 { $passed }/{ $total } 项 · 得分 { $points }/{ $max }{ $problems } · 用时 { $secs } 秒
summary-pass = 通过
summary-fail = 未通过
summary-grader-error = 评分程序出错
summary-interrupted = 未完成（被 { $signal } 中断）
summary-problems-lead = { " " }·{ " " }
summary-separator = ，
summary-failed = { $count } 项失败
summary-timed-out = { $count } 项超时
summary-crashed = { $count } 项崩溃
summary-not-run = { $count } 项未运行
summary-over-limit = { $count } 项超出资源限制
report-incomplete = 未完成：评分被 { $signal } 中断；还没做完的检查都标记为未运行
report-replay = 重现：

causes-heading = 根本原因
causes-heading-note = （一个原因解释了好几项检查）
cause-explains = 解释了 { $count } 项检查，下面标为 { $id }
label-cause = 根本原因：
cause-above = { $id }（见上文，涉及 { $count } 项检查）
shrink-not-shrunk = （上面的输入就是失败的那个输入，没有缩小：{ $why }）
shrink-stopped = （上面的输入是缩小在 { $runs } 次运行后停下之前找到的最小失败输入：{ $why }；更小的输入也可能失败）
shrink-smallest = （上面的输入是最小的失败输入，经过 { $runs } 次缩小运行找到；用重现命令可以再次得到它）
shrink-replay = （用重现命令可以再次得到同样的输入）
