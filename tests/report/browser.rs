//! The HTML page in a real browser: headless Chromium, driven over its DevTools protocol (CDP, on a
//! WebSocket bound to loopback): load the page, click a failed cell with real mouse events, see its
//! evidence; sort by a heading, filter by assignment and outcome; nothing a program printed runs as code;
//! no request leaves the page. A screenshot goes to `<target dir>/test-artifacts/report.png`.
//!
//! Without Chromium (`/usr/bin/chromium`, or `SOCKSPEC_CHROMIUM`), the test fails and says so, unless
//! `SOCKSPEC_SKIP_BROWSER=1`. `.ci/run` installs Debian's `chromium`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use sockspec::grade::verdict::Evidence;
use sockspec::results::{ResultsDir, Stored};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::util::{fixture_class, report};

/// How long Chromium may take to start, and any one protocol call to answer (a loaded machine is slow).
const START_DEADLINE: Duration = Duration::from_secs(60);
const CALL_DEADLINE: Duration = Duration::from_secs(30);
/// Chromium on this machine: headless, no sandbox (root), no GPU, and nothing that phones home.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1440,1000",
];
/// A student whose name and output try to run code in the page.
const MALICIOUS: &str = "<img src=x onerror=\"window.__pwned=1\">";
const MALICIOUS_OUTPUT: &str = "</script><script>window.__pwned=2</script>";

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SOCKSPEC_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Chromium in a process group of its own, ended (SIGTERM, then SIGKILL, then reaped) when dropped, even
/// when the test fails; its profile directory goes with it.
struct Browser {
    child: Option<Child>,
    _profile: tempfile::TempDir,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    session: Option<String>,
    events: Vec<Value>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.ws.close(None);
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id();
        let group = -(pid as i32);
        // SAFETY: signals go to the process group of our own child, which stays unreaped (so its id cannot
        // be reused) until the end.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Waits for the leader to exit without reaping it (WNOWAIT): its group id stays ours.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let flags = libc::WEXITED | libc::WNOWAIT;
            let _ = unsafe { libc::waitid(libc::P_PID, pid, &mut info, flags) };
            let _ = tx.send(());
        });
        if rx.recv_timeout(Duration::from_secs(5)).is_err() {
            unsafe { libc::kill(group, libc::SIGKILL) };
            let _ = rx.recv();
        }
        // Renderers and helpers share the group: whatever outlived the browser process goes too.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = child.wait();
    }
}

impl Browser {
    fn launch(path: &Path) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(path)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        // Chromium prints `DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID` on stderr.
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(Ok(url.trim().to_string()));
                } else {
                    seen.push(line);
                }
            }
            let _ = tx.send(Err(seen.join("\n")));
        });
        let url = match rx.recv_timeout(START_DEADLINE) {
            Ok(Ok(url)) => url,
            Ok(Err(stderr)) => panic!("chromium exited before listening:\n{stderr}"),
            Err(_) => panic!("chromium did not listen within {START_DEADLINE:?}"),
        };
        let (ws, _) = tungstenite::connect(url.as_str()).expect("DevTools WebSocket");
        if let MaybeTlsStream::Plain(stream) = ws.get_ref() {
            stream.set_read_timeout(Some(CALL_DEADLINE)).unwrap();
        }
        Browser {
            child: Some(child),
            _profile: profile,
            ws,
            next_id: 0,
            session: None,
            events: Vec::new(),
        }
    }

    /// Sends one CDP command (to the attached page, once there is one) and returns its result; events that
    /// arrive meanwhile are kept.
    #[track_caller]
    fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = &self.session {
            message["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .expect("CDP send");
        let deadline = Instant::now() + CALL_DEADLINE;
        while Instant::now() < deadline {
            let Message::Text(text) = self.ws.read().expect("CDP answer within the deadline")
            else {
                continue;
            };
            let value: Value = serde_json::from_str(&text).expect("CDP speaks JSON");
            if value["id"] == json!(id) {
                if let Some(error) = value.get("error") {
                    panic!("{method} failed: {error}");
                }
                return value["result"].clone();
            }
            self.events.push(value);
        }
        panic!("{method}: no answer within {CALL_DEADLINE:?}");
    }

    /// Waits for an event of the attached page; true when it came before the deadline.
    fn wait_event(&mut self, method: &str) -> bool {
        let deadline = Instant::now() + CALL_DEADLINE;
        loop {
            if self.events.iter().any(|e| e["method"] == method) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            let Ok(Message::Text(text)) = self.ws.read() else {
                return false;
            };
            self.events
                .push(serde_json::from_str(&text).expect("CDP speaks JSON"));
        }
    }

    /// Opens a page and attaches to it (commands go to it from now on).
    fn open(&mut self, url: &str) {
        let target = self.call("Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        self.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        self.call("Page.enable", json!({}));
        self.call("Network.enable", json!({}));
        self.events.clear();
        self.call("Page.navigate", json!({ "url": url }));
        assert!(
            self.wait_event("Page.loadEventFired"),
            "the page did not load"
        );
    }

    /// The value of a JavaScript expression in the page.
    #[track_caller]
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true }),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// A real left click (press and release) at the centre of the element `find` returns, scrolled into
    /// view first; the handlers have run when the release is acknowledged.
    #[track_caller]
    fn click(&mut self, find: &str) {
        let at = self.eval(&format!(
            "(() => {{ const el = {find}; if (!el) return null; el.scrollIntoView({{block: 'center', inline: 'center'}}); \
             const r = el.getBoundingClientRect(); return {{x: r.x + r.width / 2, y: r.y + r.height / 2}}; }})()"
        ));
        assert!(!at.is_null(), "nothing to click: {find}");
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": at["x"], "y": at["y"], "button": "left", "clickCount": 1 }),
            );
        }
    }

    fn screenshot(&mut self, path: &Path) {
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .expect("base64 PNG");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}

/// The fixture class plus a student whose name and output are markup, as a batch directory.
fn class_with_a_malicious_student() -> tempfile::TempDir {
    let source = ResultsDir::open(&fixture_class()).unwrap();
    let mut info = source.info().unwrap();
    info.students.push(MALICIOUS.to_string());
    let tmp = tempfile::tempdir().unwrap();
    let dir = ResultsDir::create(tmp.path(), &info).unwrap();
    for student in &info.students {
        for assignment in &info.assignments {
            let from = if student == MALICIOUS {
                "王芳 \"Fang\""
            } else {
                student
            };
            let Stored::Graded(mut report) = source.read_result(from, &assignment.name) else {
                panic!("fixture result of {from}")
            };
            if student == MALICIOUS {
                for check in report.checks.iter_mut().filter(|c| c.actual.is_some()) {
                    check.actual = Some(Evidence::of(MALICIOUS_OUTPUT.as_bytes()));
                    check.message = MALICIOUS_OUTPUT.to_string();
                }
            }
            dir.write_result(student, &assignment.name, &report)
                .unwrap();
        }
    }
    tmp
}

/// Where test artifacts go: `<target dir>/test-artifacts/`.
fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("test-artifacts")
}

#[test]
fn the_page_shows_a_failed_cells_evidence_sorts_filters_and_runs_nothing_it_shows() {
    let Some(chromium) = chromium() else {
        if std::env::var_os("SOCKSPEC_SKIP_BROWSER").is_some_and(|v| v == "1") {
            eprintln!(
                "\n*** SKIPPED: no Chromium: the HTML report was NOT tested in a browser ***\n"
            );
            return;
        }
        panic!(
            "no Chromium at /usr/bin/chromium (or SOCKSPEC_CHROMIUM): the HTML report cannot be tested \
             in a browser. Install it (`apt-get install chromium`, as .ci/run does), or set \
             SOCKSPEC_SKIP_BROWSER=1 to skip this test knowingly."
        );
    };
    let class = class_with_a_malicious_student();
    let html = report(&[class.path()], "html");
    let page = class.path().join("class.html");
    std::fs::write(&page, &html).unwrap();
    let url = format!("file://{}", page.display());

    let mut browser = Browser::launch(&chromium);
    browser.open(&url);
    assert_eq!(
        browser.eval("document.querySelectorAll('#matrix tbody tr').length"),
        7
    );
    assert_eq!(
        browser.eval("document.getElementById('evidence').hidden"),
        true
    );

    // A failed cell: 王芳's wrong prefix on echo-server/basic/ascii.
    let cell = "[...document.querySelectorAll('#matrix tbody tr')].find(r => r.dataset.student === '王芳 \"Fang\"')\
                .querySelector('button[data-check=\"echo-server/basic/ascii\"]')";
    assert_eq!(browser.eval(&format!("{cell}.dataset.outcome")), "fail");
    browser.click(cell);
    assert_eq!(
        browser.eval("document.getElementById('evidence').hidden"),
        false,
        "no evidence shown"
    );
    let evidence = browser.eval("document.getElementById('evidence').innerText");
    let evidence = evidence.as_str().unwrap();
    for expected in [
        "王芳 \"Fang\" · echo · basic/ascii",
        "FAIL",
        "A short ASCII message is answered with PREFIX + the message.",
        "expected",
        "ECHO：hello",
        "actual",
        "ECHO:hello",
        "replay",
        "sockspec grade echo-server --seed 20250301 --only echo-server/basic/ascii",
        "wire transcript",
        "client 1",
    ] {
        assert!(
            evidence.contains(expected),
            "{expected:?} not in the evidence:\n{evidence}"
        );
    }
    // The whole page from its top, with the evidence open beside the matrix.
    browser.eval("window.scrollTo(0, 0)");
    browser.screenshot(&artifacts().join("report.png"));

    // Sorting by total, then the other way.
    let totals = "[...document.querySelectorAll('#matrix tbody tr')].map(r => r.dataset.student)";
    browser.click("document.querySelector('th[data-key=\"total\"]')");
    let ascending = browser.eval(totals);
    assert_eq!(ascending[0], "s10", "lowest total first: {ascending}");
    browser.click("document.querySelector('th[data-key=\"total\"]')");
    let descending = browser.eval(totals);
    assert_eq!(descending[0], "张伟", "highest total first: {descending}");

    // Filtering: one assignment's checks, then one outcome's students.
    browser.click("document.querySelector('button[data-assignment=\"udp\"]')");
    let headings =
        browser.eval("[...document.querySelectorAll('thead th.check')].map(t => t.title)");
    let headings = headings.as_array().unwrap();
    assert!(!headings.is_empty());
    assert!(
        headings
            .iter()
            .all(|t| t.as_str().unwrap().starts_with("udp-receiver/")),
        "{headings:?}"
    );
    browser.click("document.querySelector('button[data-outcome=\"fail\"]')");
    let rows = browser.eval(
        "[...document.querySelectorAll('#matrix tbody tr')].map(r => r.querySelectorAll('td.cell.fail:not(.dim)').length)",
    );
    let rows = rows.as_array().unwrap();
    assert!(
        !rows.is_empty() && rows.iter().all(|n| n.as_u64() > Some(0)),
        "{rows:?}"
    );

    // Markup from a report is shown, never run.
    browser.click("document.querySelector('button[data-assignment=\"\"]')");
    browser.click("document.querySelector('button[data-outcome=\"\"]')");
    let malicious = format!(
        "[...document.querySelectorAll('#matrix tbody tr')].find(r => r.dataset.student === {})\
         .querySelector('button[data-check=\"echo-server/basic/ascii\"]')",
        serde_json::to_string(MALICIOUS).unwrap()
    );
    browser.click(&malicious);
    let shown = browser.eval("document.getElementById('evidence').innerText");
    assert!(
        shown.as_str().unwrap().contains(MALICIOUS_OUTPUT),
        "{shown}"
    );
    assert_eq!(
        browser.eval("typeof window.__pwned"),
        "undefined",
        "markup from a report ran"
    );
    assert_eq!(browser.eval("document.querySelectorAll('img').length"), 0);

    // Self-contained: the page asked the network for nothing but itself.
    let requests: Vec<String> = browser
        .events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .map(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        requests.iter().all(|u| u.starts_with("file://")),
        "requests beyond the page: {requests:?}"
    );
}
