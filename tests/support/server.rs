//! Starts and stops SecantusDB servers for integration tests.
//!
//! Each server runs under a small shell wrapper that waits on its stdin: when the test process
//! exits (even by a panic or a signal) the pipe closes and the wrapper stops the server and
//! removes its private temp directory, so no server or `secantus_wt_*` folder outlives a run.
//! `MONGOPOOL_TEST_URI` (a `mongodb://host:port` URI) makes [`TestServer::shared`] use an
//! external server instead; tests that must kill or restart a server always start their own.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bson::{doc, Document};
use mongopool::{Connection, ConnectionOptions, ServerAddress};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Extra command-line flags for a server (TLS, auth, a persistent storage path).
#[derive(Clone, Debug, Default)]
pub struct ServerConfig {
    pub args: Vec<String>,
    /// A storage path to use instead of `:memory:`.
    pub storage_path: Option<PathBuf>,
    /// Wait for readiness with a plain TCP connect only (for TLS or auth servers, whose
    /// readiness the caller checks itself).
    pub tcp_ready_only: bool,
    /// The options of the harness's own connections (readiness pings, `admin()`), e.g. TLS
    /// settings or a credential for a TLS or `--auth` server. Default: plain TCP, 5 s connect
    /// timeout.
    pub connection: Option<ConnectionOptions>,
}

/// One SecantusDB server process (or an external server).
pub struct TestServer {
    address: ServerAddress,
    process: Option<Process>,
    config: ServerConfig,
    dir: PathBuf,
}

struct Process {
    child: Child,
    stdin: ChildStdin,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl TestServer {
    /// The server shared by the tests of one test binary: `MONGOPOOL_TEST_URI` if set, else a
    /// SecantusDB started once on a free port.
    pub fn shared() -> &'static TestServer {
        static SHARED: OnceLock<TestServer> = OnceLock::new();
        SHARED.get_or_init(|| match std::env::var("MONGOPOOL_TEST_URI") {
            Ok(uri) if !uri.is_empty() => TestServer::external(&uri),
            _ => TestServer::start(),
        })
    }

    fn external(uri: &str) -> TestServer {
        let rest = uri
            .strip_prefix("mongodb://")
            .unwrap_or_else(|| panic!("MONGOPOOL_TEST_URI must start with mongodb://, got {uri:?}"));
        let host = rest.split(['/', '?', ',']).next().unwrap_or(rest);
        TestServer {
            address: host.parse().expect("MONGOPOOL_TEST_URI host"),
            process: None,
            config: ServerConfig::default(),
            dir: PathBuf::new(),
        }
    }

    /// Starts a private SecantusDB server on a free port. Panics (failing the test) if it cannot
    /// start: an integration test never skips silently.
    pub fn start() -> TestServer {
        Self::start_with(ServerConfig::default())
    }

    /// Starts a private server with extra flags.
    pub fn start_with(config: ServerConfig) -> TestServer {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "mongopool-test-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let mut server = TestServer {
            address: ServerAddress::tcp("127.0.0.1", port),
            process: None,
            config,
            dir,
        };
        server.spawn();
        server
    }

    fn spawn(&mut self) {
        let python = python();
        let port = self.address.port().expect("tcp port").to_string();
        let storage = match &self.config.storage_path {
            Some(p) => p.display().to_string(),
            None => ":memory:".to_owned(),
        };
        std::fs::create_dir_all(&self.dir).expect("create server temp dir");
        let log = self.dir.join("server.log");
        // The wrapper: run the server, wait for a line (or EOF) on stdin, then stop it with
        // SIGKILL ("kill") or SIGTERM (anything else), wait, and remove the temp dir (which
        // holds the server's `secantus_wt_*` folder, since TMPDIR points there).
        let script = r#"
            "$@" >"$MP_LOG" 2>&1 &
            pid=$!
            read -r cmd
            if [ "$cmd" = kill ]; then kill -KILL "$pid" 2>/dev/null; else kill -TERM "$pid" 2>/dev/null; fi
            wait "$pid" 2>/dev/null
            rm -rf "$MP_TMP" 2>/dev/null
        "#;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg("mongopool-test-server")
            .arg(&python)
            .args(["-m", "secantus", "--host", "127.0.0.1", "--port", &port])
            .args(["--storage-path", &storage, "--enable-test-commands"])
            .args(&self.config.args)
            .env("TMPDIR", &self.dir)
            .env("MP_TMP", &self.dir)
            .env("MP_LOG", &log)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the test server wrapper: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        self.process = Some(Process { child, stdin });
        self.wait_ready(&log);
    }

    fn wait_ready(&mut self, log: &PathBuf) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let ready = if self.config.tcp_ready_only {
                std::net::TcpStream::connect_timeout(
                    &format!("127.0.0.1:{}", self.address.port().unwrap()).parse().unwrap(),
                    Duration::from_millis(200),
                )
                .is_ok()
            } else {
                self.ping().is_ok()
            };
            if ready {
                return;
            }
            if let Some(p) = self.process.as_mut() {
                if let Ok(Some(status)) = p.child.try_wait() {
                    panic!(
                        "SecantusDB exited during start-up ({status}); log:\n{}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "SecantusDB did not answer on {} within {START_TIMEOUT:?}; log:\n{}",
                    self.address,
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's address.
    pub fn address(&self) -> &ServerAddress {
        &self.address
    }

    /// A `mongodb://` URI for the server.
    pub fn uri(&self) -> String {
        format!("mongodb://{}", self.address)
    }

    /// Opens a fresh connection (not from any pool).
    pub fn connect(&self) -> mongopool::Result<Connection> {
        let opts = self.config.connection.clone().unwrap_or_else(|| ConnectionOptions {
            connect_timeout: Some(Duration::from_secs(5)),
            ..Default::default()
        });
        Connection::connect(&self.address, &opts)
    }

    fn ping(&self) -> mongopool::Result<Document> {
        self.connect()?.run_command("admin", doc! { "ping": 1 })
    }

    /// Runs an admin command on a fresh connection.
    pub fn admin(&self, command: Document) -> Document {
        self.connect()
            .and_then(|mut c| c.run_command("admin", command))
            .unwrap_or_else(|e| panic!("admin command failed: {e}"))
    }

    /// Arms a `configureFailPoint` command; the returned guard turns it off when dropped.
    pub fn fail_point(&self, command: Document) -> FailPointGuard<'_> {
        let name = command
            .get_str("configureFailPoint")
            .expect("configureFailPoint name")
            .to_owned();
        self.admin(command);
        FailPointGuard { server: self, name }
    }

    /// Whether this server is one the harness started (so it may be killed and restarted).
    pub fn is_private(&self) -> bool {
        self.process.is_some()
    }

    /// Kills the server with SIGKILL and waits for it to exit.
    pub fn kill(&mut self) {
        self.stop("kill");
    }

    /// Stops the server with SIGTERM (a clean shutdown that keeps a persistent storage path
    /// intact) and waits for it to exit.
    pub fn stop_gracefully(&mut self) {
        self.stop("term");
    }

    /// Replaces the configuration used by the next [`TestServer::restart`] (e.g. to add
    /// `--auth` after provisioning users).
    pub fn set_config(&mut self, config: ServerConfig) {
        self.config = config;
    }

    /// Restarts the server on the same port.
    pub fn restart(&mut self) {
        assert!(self.process.is_none(), "restart() needs a killed or stopped server");
        self.spawn();
    }

    fn stop(&mut self, how: &str) {
        if let Some(mut p) = self.process.take() {
            let _ = writeln!(p.stdin, "{how}");
            drop(p.stdin);
            let _ = p.child.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop("term");
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Turns a fail point off when dropped.
pub struct FailPointGuard<'a> {
    server: &'a TestServer,
    name: String,
}

impl Drop for FailPointGuard<'_> {
    fn drop(&mut self) {
        let off = doc! { "configureFailPoint": self.name.clone(), "mode": "off" };
        if let Ok(mut c) = self.server.connect() {
            let _ = c.run_command("admin", off);
        }
    }
}

/// The Python interpreter of the project's virtualenv (`MONGOPOOL_PYTHON` overrides).
pub fn python() -> PathBuf {
    if let Ok(p) = std::env::var("MONGOPOOL_PYTHON") {
        return PathBuf::from(p);
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/test (or scripts/setup-server) to install the test server",
        p.display()
    );
    p
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}
