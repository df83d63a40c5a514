//! Launching the program into a network of its own, and the grader's sockets in that network: the only
//! way checks get one (see the [parent module](super)).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::time::Duration;

use super::{describe_status, Ctx, Launched, INPUT_FILE, OUTPUT_FILE};
use crate::grade::conn::{Conn, Limits};
use crate::grade::datagram::UdpPeer;
use crate::grade::launch::{LaunchSpec, NotReady, Program};
use crate::grade::netns::Network;
use crate::grade::packets::{LaunchCapture, ProgramEnd};
use crate::grade::procfs::Proto;
use crate::grade::template::Values;
use crate::grade::verdict::{AddressAction, AddressIgnored, CheckResult, Failure, Outcome};
use crate::grade::watch::Tap;
use crate::grade::words;
use crate::i18n::{key, Message};
use crate::wire::{self, Deadline};

impl Ctx<'_> {
    /// Stops the current program, if any, and makes the network of the next launch (`catch`: see
    /// [`crate::grade::netns::Plan::network`]).
    fn fresh_network(&mut self, catch: bool) -> CheckResult<Network> {
        self.stop();
        self.plan.network(catch).map_err(|e| {
            Failure::harness(format!(
                "cannot make a private network namespace for the program: {e}"
            ))
        })
    }

    /// Launches a fresh copy of the program, in a fresh directory, into `network`. `port` fills
    /// `{port}`; `input` is written to the file `{file}` names; `end` is the end of its connections the
    /// program is (for `--packets`).
    fn launch(
        &mut self,
        network: Network,
        listener: Option<TcpListener>,
        port: u16,
        input: Option<&[u8]>,
        end: ProgramEnd,
    ) -> CheckResult {
        let workdir = crate::grade::runs::workdir()
            .map_err(|e| Failure::harness(format!("cannot create a working directory: {e}")))?;
        let mut values = Values {
            host: GIVEN_HOST.to_string(),
            port,
            file: None,
            out: Some(workdir.path().join(OUTPUT_FILE).display().to_string()),
            dir: None,
        };
        if self.template.uses("{dir}") {
            let site = workdir.path().join(crate::grade::checks::http::SITE_DIR);
            crate::grade::checks::http::Site::new(self.seed)
                .write(workdir.path())
                .map_err(|e| Failure::harness(format!("cannot write the site to serve: {e}")))?;
            values.dir = Some(site.display().to_string());
        }
        if let Some(bytes) = input {
            let path = workdir.path().join(INPUT_FILE);
            std::fs::write(&path, bytes)
                .map_err(|e| Failure::harness(format!("cannot write {}: {e}", path.display())))?;
            values.file = Some(path.display().to_string());
        }
        // Before the program starts, so that its first segment is seen.
        let packets = match network.namespace() {
            Some(ns) if self.opts.packets => {
                Some(LaunchCapture::start(ns, end, &self.log).map_err(|e| {
                    Failure::harness(format!(
                        "cannot capture packets in the program's network: {e}"
                    ))
                })?)
            }
            _ => None,
        };
        let argv = self.template.expand(&values);
        let spec = LaunchSpec {
            argv,
            workdir: workdir.path().to_path_buf(),
            env: Vec::new(),
            output_cap: self.opts.output_cap,
            network: network.clone(),
            limits: Some(self.suite.limits),
        };
        let program = Program::spawn(&spec).map_err(|e| {
            let failure = Failure::not_run(format!("cannot launch the program: {e}"));
            self.launch_error = Some(e);
            failure
        })?;
        self.log
            .event("program", &format!("started (pid {})", program.pid()));
        let tap = Tap::start(std::sync::Arc::clone(program.stdout()), self.log.clone());
        self.current = Some(Launched {
            tap,
            program,
            packets,
            listener,
            network,
            _workdir: workdir,
            values,
        });
        Ok(())
    }

    /// The network of the current launch, where the grader's sockets for it are made.
    fn network(&self) -> CheckResult<&Network> {
        self.current
            .as_ref()
            .map(|l| &l.network)
            .ok_or_else(|| Failure::harness("no program is running"))
    }

    /// Launches a server on a free port and waits, through /proc, until it listens (or has bound its UDP
    /// socket): no probe connection is made, so a one-client server still has its one client.
    pub fn launch_server(&mut self, proto: Proto) -> CheckResult<SocketAddr> {
        let network = self.fresh_network(false)?;
        let port = network
            .run(|| free_port(proto))
            .and_then(|port| port)
            .map_err(|e| Failure::harness(format!("cannot find a free port: {e}")))?;
        self.launch(network, None, port, None, ProgramEnd::Server)?;
        let wait = self.start_wait();
        let deadline = self.start_deadline();
        let program = self.program()?;
        match program.wait_listening(proto, deadline) {
            Ok(addr) => {
                self.log.event("program", &format!("listening on {addr}"));
                // An address that is neither loopback nor every interface (`reachable` made that
                // loopback) is one a client on this machine given 127.0.0.1 would not reach.
                if addr.port() != port || !addr.ip().is_loopback() {
                    self.address_ignored.get_or_insert(AddressIgnored {
                        action: AddressAction::Listened,
                        given_host: None,
                        given_port: port,
                        used: addr.to_string(),
                    });
                }
                Ok(addr)
            }
            // Both are said in words that are the same for the same behaviour: two checks in a row
            // that fail alike stop the checks after them (see `crate::grade::grade`).
            Err(NotReady::Exited { status }) => {
                let how = format!("exited ({}) before it listened", describe_status(status));
                Err(Failure::said(
                    Outcome::Crash,
                    Message::new(key::EXITED_BEFORE_LISTENING)
                        .arg("status", describe_status(status)),
                )
                .not_ready(how))
            }
            Err(other) => {
                let deadline = format!("{:.1}", wait.as_secs_f64());
                let (how, message) = match other {
                    NotReady::Timeout { .. } => (
                        format!("did not start listening within {deadline} s"),
                        Message::new(key::NEVER_LISTENED).arg("secs", deadline.clone()),
                    ),
                    NotReady::Exited { status } => (
                        format!("ended ({status}) before it listened"),
                        Message::new(key::ENDED_BEFORE_LISTENING).arg("status", status.to_string()),
                    ),
                };
                Err(
                    Failure::said(Outcome::Timeout, message.arg("deadline", deadline))
                        .not_ready(how),
                )
            }
        }
    }

    /// For programs that connect to the grader: a listener on a free port (which, in a namespace with
    /// steering, also takes connections to any other address and port), then the program launched with
    /// that port (and `input` as its `{file}`), then its connection accepted.
    pub fn launch_client(&mut self, input: Option<&[u8]>) -> CheckResult<Conn> {
        let network = self.fresh_network(true)?;
        let bind = catching_address(&network);
        let listener = network
            .run(|| TcpListener::bind((bind, 0)))
            .and_then(|l| l)
            .map_err(|e| Failure::harness(format!("cannot listen for the program: {e}")))?;
        network
            .catch_all(Proto::Tcp, listener.as_fd())
            .map_err(|e| {
                Failure::harness(format!("cannot steer connections to the grader: {e}"))
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| Failure::harness(format!("cannot read the listening port: {e}")))?
            .port();
        self.launch(network, Some(listener), port, input, ProgramEnd::Client)?;
        self.accept("program")
    }

    /// Accepts the next connection of a client launched by [`Ctx::launch_client`] (the first one is
    /// accepted there), waiting up to the start deadline.
    pub fn accept(&mut self, name: &str) -> CheckResult<Conn> {
        let stream = self.accept_stream()?;
        // The address the program dialled: with steering, whatever it chose.
        if let (Ok(used), Some(launched)) = (stream.local_addr(), self.current.as_ref()) {
            let given = SocketAddr::from((GIVEN_HOST, launched.values.port));
            if used != given {
                self.log
                    .event("program", &format!("connected to {used}, not to {given}"));
                self.address_ignored.get_or_insert(AddressIgnored {
                    action: AddressAction::Connected,
                    given_host: Some(GIVEN_HOST.to_string()),
                    given_port: given.port(),
                    used: used.to_string(),
                });
            }
        }
        let mut conn = Conn::accepted(stream, name, &self.log, &self.parking, self.limits());
        if let Some(launched) = &self.current {
            conn.watch_program(launched.program.pid(), launched.program.stderr());
        }
        Ok(conn)
    }

    /// True when a client program that was accepted has connected again (a second connection waits):
    /// looked at once its first connection closed, to say what the program did.
    pub fn reconnected(&self) -> bool {
        let Some(listener) = self.current.as_ref().and_then(|l| l.listener.as_ref()) else {
            return false;
        };
        let mut fds = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(listener),
            events: libc::POLLIN,
            revents: 0,
        };
        // A connect made before the close is queued already: a short look is enough.
        // SAFETY: one valid pollfd that outlives the call.
        unsafe { libc::poll(&mut fds, 1, 100) > 0 }
    }

    fn accept_stream(&mut self) -> CheckResult<TcpStream> {
        let wait = self.start_wait();
        let deadline = self.start_deadline();
        loop {
            let slice = Deadline::after(Duration::from_millis(50));
            let listener = self
                .current
                .as_ref()
                .and_then(|l| l.listener.as_ref())
                .ok_or_else(|| Failure::harness("no client launch to accept from"))?;
            match wire::accept(listener, slice) {
                Ok(Some((stream, _))) => return Ok(stream),
                Ok(None) => {}
                Err(e) => return Err(Failure::harness(format!("accept failed: {e}"))),
            }
            // A program that dies before connecting will never connect: say so at once.
            if let Some(status) = self.program()?.try_status() {
                let how = format!("exited ({}) without connecting", describe_status(status));
                let message = Message::new(key::EXITED_WITHOUT_CONNECTING)
                    .arg("status", describe_status(status));
                return Err(Failure::said(Outcome::Crash, message).not_ready(how));
            }
            if deadline.passed() {
                let how = format!("did not connect within {:.1} s", wait.as_secs_f64());
                let message = Message::new(key::DID_NOT_CONNECT).arg("secs", words::secs(wait));
                return Err(Failure::said(Outcome::Timeout, message).not_ready(how));
            }
        }
    }

    /// For programs that send datagrams to the grader: a UDP socket on a free port (which, in a
    /// namespace with steering, also takes datagrams to any other address and port), then the program
    /// launched with that port. Datagrams the program addresses elsewhere are noted for the report.
    pub fn launch_sender(&mut self) -> CheckResult<UdpPeer> {
        let network = self.fresh_network(true)?;
        let bind = catching_address(&network);
        let socket = network
            .run(|| UdpSocket::bind((bind, 0)))
            .and_then(|s| s)
            .and_then(|s| UdpPeer::receiving(s, self.misaddressed.clone()))
            .map_err(|e| Failure::harness(format!("cannot bind a UDP socket: {e}")))?;
        network
            .catch_all(Proto::Udp, socket.as_fd())
            .map_err(|e| Failure::harness(format!("cannot steer datagrams to the grader: {e}")))?;
        let port = socket
            .local_addr()
            .map_err(|e| Failure::harness(format!("cannot read the UDP port: {e}")))?
            .port();
        // A sender has no TCP connection; were it to make one, it would be its client.
        self.launch(network, None, port, None, ProgramEnd::Client)?;
        Ok(socket)
    }

    /// A UDP socket in the current program's network, to send datagrams to it.
    pub fn udp_socket(&self) -> CheckResult<UdpPeer> {
        self.network()?
            .run(|| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))
            .and_then(|s| s)
            .map(UdpPeer::sending)
            .map_err(|e| Failure::harness(format!("cannot bind a UDP socket on 127.0.0.1: {e}")))
    }

    /// What the program did at another address than the one it was given, if it did (the first time).
    pub fn address_ignored(&self) -> Option<AddressIgnored> {
        self.address_ignored.clone().or_else(|| {
            let (given, used) = (*self.misaddressed.lock().unwrap_or_else(|e| e.into_inner()))?;
            Some(AddressIgnored {
                action: AddressAction::Sent,
                given_host: Some(given.ip().to_string()),
                given_port: given.port(),
                used: used.to_string(),
            })
        })
    }

    /// A TCP connection from the grader to the program at `addr`, made in the program's network. The
    /// connection watches the program, so a reply it will not send is told at once.
    pub fn connect(&self, addr: SocketAddr, name: &str) -> CheckResult<Conn> {
        self.connect_within(addr, name, self.wait())
    }

    /// [`Ctx::connect`] with an answer deadline of its own (a scripted step's).
    pub fn connect_within(
        &self,
        addr: SocketAddr,
        name: &str,
        wait: Duration,
    ) -> CheckResult<Conn> {
        let limits = Limits {
            wait,
            ..self.limits()
        };
        let (log, parking) = (&self.log, &self.parking);
        let mut conn = self
            .network()?
            .run(|| Conn::connect(addr, name, log, parking, limits))
            .map_err(|e| Failure::harness(format!("cannot enter the program's network: {e}")))??;
        if let Some(launched) = &self.current {
            conn.watch_program(launched.program.pid(), launched.program.stderr());
        }
        Ok(conn)
    }
}

/// Where the grader's socket for a client or sender is bound. In a namespace every address is local:
/// all of them, so a program that dials the lesson's 192.168.1.100 at the given port is caught even where
/// no BPF steering catches every port. On the shared network: loopback only.
fn catching_address(network: &Network) -> Ipv4Addr {
    if network.any_address() {
        Ipv4Addr::UNSPECIFIED
    } else {
        Ipv4Addr::LOCALHOST
    }
}

/// The `{host}` a client or sender is given.
const GIVEN_HOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A port that was free a moment ago: the program binds it. (A program that ignores it is still found
/// through /proc.)
pub fn free_port(proto: Proto) -> std::io::Result<u16> {
    match proto {
        Proto::Tcp => Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()),
        Proto::Udp => Ok(UdpSocket::bind("127.0.0.1:0")?.local_addr()?.port()),
    }
}
