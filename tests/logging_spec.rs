//! The CMAP logging suite (`logging/*.json`, unified test format) from `$MONGOPOOL_SPEC_TESTS`
//! (default `../shared/spec-tests`): a minimal unified-format runner for the subset those files
//! use, with a capturing `log::Log` (spec-tests/README.md, "Logging"). A case the runner cannot
//! run is a failure, never a skip; the cases listed in [`EXEMPT`] must fail in the way the
//! list states, and the runner checks that they do.

mod support;

use support::json::json_to_bson;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use crossbeam_channel::Receiver;
use log::Level;
use mongopool::{Client, ClientOptions, CmapEvent, Connection, ConnectionOptions, ErrorKind, ServerAddress};
use serde_json::{Map, Value};
use support::log_capture::{self, Captured};
use support::server::{ServerConfig, TestServer};

/// How an exempted case must fail.
enum Expected {
    /// mongopool does not emit the expected messages at these positions of `client`'s list;
    /// without them the case must pass.
    NotEmitted {
        client: &'static str,
        indices: &'static [usize],
    },
    /// The expected message at `index` of `client`'s list has a field mongopool does not log;
    /// without that field the case must pass.
    FieldNotLogged {
        client: &'static str,
        index: usize,
        field: &'static str,
    },
    /// Creating a client entity must fail with an error containing this text.
    ClientRefused { contains: &'static str },
}

struct Exemption {
    file: &'static str,
    description: &'static str,
    expected: Expected,
    /// Why (copied into spec-tests/README.md).
    reason: &'static str,
}

const EXEMPT: &[Exemption] = &[
    Exemption {
        file: "connection-logging.json",
        description: "Create a client, run a command, and close the client",
        expected: Expected::NotEmitted {
            client: "client",
            indices: &[7, 8, 9],
        },
        reason: "the second check-out the case expects is the driver's endSessions at client close; \
                 mongopool has no sessions, so close() checks nothing out",
    },
    Exemption {
        file: "connection-logging.json",
        description: "Connection checkout fails due to error establishing connection",
        expected: Expected::ClientRefused {
            contains: "authentication (a credential in the connection string or options) is not supported yet",
        },
        reason: "the case needs authentication (runOnRequirements auth: true; the fail point is on \
                 saslContinue); connections do not authenticate yet, so Client::new refuses the credential",
    },
    Exemption {
        file: "connection-pool-options.json",
        description: "waitQueueSize should be included in connection pool created message when specified",
        expected: Expected::FieldNotLogged {
            client: "client",
            index: 0,
            field: "waitQueueSize",
        },
        reason: "waitQueueSize is not a CMAP pool option (maxPoolSize and waitQueueTimeoutMS bound the wait \
                 queue); the URI parser ignores it with a warning",
    },
    Exemption {
        file: "connection-pool-options.json",
        description: "waitQueueMultiple should be included in connection pool created message when specified",
        expected: Expected::FieldNotLogged {
            client: "client",
            index: 0,
            field: "waitQueueMultiple",
        },
        reason: "waitQueueMultiple is not a CMAP pool option either (the case sets waitQueueSize and expects \
                 waitQueueMultiple); the URI parser ignores it with a warning",
    },
];

const DEFAULT_WAIT_FOR_EVENT: Duration = Duration::from_secs(10);
const AUTH_USER: &str = "mongopool";
const AUTH_PASSWORD: &str = "logging-suite-pw";

fn spec_dir() -> PathBuf {
    match std::env::var("MONGOPOOL_SPEC_TESTS") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec-tests"),
    }
}

fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[test]
fn logging_spec_suite() {
    log_capture::install();
    let dir = spec_dir().join("logging");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the logging suite at {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no logging spec tests in {}", dir.display());

    let mut servers = Servers::default();
    let (mut passed, mut exempt, mut failed) = (0, 0, 0);
    let mut exemptions_used = vec![false; EXEMPT.len()];
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).unwrap();
        let file: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        for test in file["tests"].as_array().into_iter().flatten() {
            let description = test["description"].as_str().unwrap_or("?");
            let exemption = EXEMPT
                .iter()
                .position(|x| x.file == name && x.description == description);
            let outcome = match exemption {
                None => run_case(&file, test, &mut servers)
                    .and_then(|run| check_logs(test, &run, None))
                    .map(|()| None),
                Some(i) => {
                    exemptions_used[i] = true;
                    check_exempt(&file, test, &mut servers, &EXEMPT[i]).map(Some)
                }
            }
            .map(|observed| observed.unwrap_or_default());
            match outcome {
                Ok(observed) if observed.is_empty() => {
                    passed += 1;
                    report(&format!("PASS {name}: {description}"));
                }
                Ok(observed) => {
                    exempt += 1;
                    let reason = exemption.map_or("", |i| EXEMPT[i].reason);
                    report(&format!(
                        "PASS {name}: {description} (exempt: {reason}; fails as expected: {observed})"
                    ));
                }
                Err(why) => {
                    failed += 1;
                    report(&format!("FAIL {name}: {description}: {why}"));
                }
            }
        }
    }
    for (i, used) in exemptions_used.iter().enumerate() {
        if !used {
            failed += 1;
            report(&format!(
                "FAIL {}: {}: the exemption matches no case",
                EXEMPT[i].file, EXEMPT[i].description
            ));
        }
    }
    report(&format!(
        "logging spec: {passed} passed, {failed} failed ({exempt} exempt, failing as expected)"
    ));
    assert_eq!(failed, 0, "logging spec failures (see the FAIL lines above)");
}

/// An exempted case passes only if it fails, and only in the stated way. Returns the failure
/// it showed.
fn check_exempt(file: &Value, test: &Value, servers: &mut Servers, exemption: &Exemption) -> Result<String, String> {
    let run = run_case(file, test, servers);
    match (&exemption.expected, run) {
        (Expected::ClientRefused { contains }, Err(why)) if why.contains(contains) => Ok(why),
        (Expected::ClientRefused { .. }, Err(why)) => Err(format!("exempted, but failed another way: {why}")),
        (Expected::ClientRefused { .. }, Ok(_)) => Err("exempted as refused, but the client was created".into()),
        (_, Err(why)) => Err(format!("exempted for its log messages, but the run failed: {why}")),
        (adjust, Ok(run)) => match check_logs(test, &run, None) {
            Ok(()) => Err("exempted, but it passes: remove the exemption".into()),
            Err(why) => check_logs(test, &run, Some(adjust))
                .map(|()| why)
                .map_err(|other| format!("exempted, but fails another way: {other}")),
        },
    }
}

/// The servers the cases run against, started on first use.
#[derive(Default)]
struct Servers {
    standalone: Option<TestServer>,
    auth: Option<(TestServer, PathBuf)>,
}

impl Drop for Servers {
    fn drop(&mut self) {
        if let Some((server, storage)) = self.auth.take() {
            drop(server);
            let _ = std::fs::remove_dir_all(storage);
        }
    }
}

impl Servers {
    /// A standalone server: the suite's files require the "single" topology.
    fn standalone(&mut self) -> &TestServer {
        self.standalone.get_or_insert_with(|| {
            TestServer::start_with(ServerConfig {
                args: vec!["--standalone".into()],
                ..ServerConfig::default()
            })
        })
    }

    /// A standalone server that requires authentication, with one user. Users are created on
    /// a first run without `--auth`, then the same storage is reopened with it.
    fn auth(&mut self) -> &TestServer {
        &self
            .auth
            .get_or_insert_with(|| {
                let storage = std::env::temp_dir().join(format!("mongopool-logging-auth-{}", std::process::id()));
                let _ = std::fs::remove_dir_all(&storage);
                let setup = TestServer::start_with(ServerConfig {
                    args: vec!["--standalone".into()],
                    storage_path: Some(storage.clone()),
                    tcp_ready_only: false,
                });
                setup.admin(doc! { "createUser": AUTH_USER, "pwd": AUTH_PASSWORD, "roles": ["root"] });
                drop(setup);
                let server = TestServer::start_with(ServerConfig {
                    args: vec!["--standalone".into(), "--auth".into()],
                    storage_path: Some(storage.clone()),
                    tcp_ready_only: true,
                });
                (server, storage)
            })
            .0
    }
}

/// Facts about a server that `runOnRequirements` asks about.
struct ServerFacts {
    topology: &'static str,
    version: Vec<u64>,
    auth: bool,
}

fn server_facts(server: &TestServer) -> Result<ServerFacts, String> {
    let mut conn = plain_connection(server.address())?;
    let hello = conn.hello_reply().cloned().ok_or("no hello reply")?;
    let topology = if hello.raw.get_str("msg").is_ok_and(|m| m == "isdbgrid") {
        "sharded"
    } else if hello.set_name.is_some() {
        "replicaset"
    } else {
        "single"
    };
    // buildInfo runs without authentication; ping does not when the server requires it.
    let info = conn
        .run_command("admin", doc! { "buildInfo": 1 })
        .map_err(|e| e.to_string())?;
    let version = parse_version(info.get_str("version").unwrap_or("0"));
    let auth = conn.run_command("admin", doc! { "listDatabases": 1 }).is_err();
    Ok(ServerFacts {
        topology,
        version,
        auth,
    })
}

fn parse_version(s: &str) -> Vec<u64> {
    s.split(['.', '-']).map_while(|p| p.parse().ok()).collect()
}

fn plain_connection(address: &ServerAddress) -> Result<Connection, String> {
    let options = ConnectionOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        ..ConnectionOptions::default()
    };
    Connection::connect(address, &options).map_err(|e| e.to_string())
}

/// Whether `facts` satisfy one requirement object; unknown keys cannot be evaluated.
fn requirement_met(req: &Map<String, Value>, facts: &ServerFacts) -> Result<bool, String> {
    let mut met = true;
    for (key, value) in req {
        met &= match key.as_str() {
            "topologies" => value
                .as_array()
                .ok_or("topologies is not an array")?
                .iter()
                .any(|t| t.as_str() == Some(facts.topology)),
            "minServerVersion" => facts.version >= parse_version(value.as_str().unwrap_or("0")),
            "maxServerVersion" => facts.version <= parse_version(value.as_str().unwrap_or("0")),
            "auth" => value.as_bool() == Some(facts.auth),
            other => return Err(format!("runOnRequirements: cannot evaluate {other:?}")),
        };
    }
    Ok(met)
}

/// Picks the server for a case: the authenticating one when a requirement of the file or
/// the test asks for `auth: true`, else the standalone one. Then each level (file, test) with
/// requirements must have one that the server meets.
fn choose_server<'s>(file: &Value, test: &Value, servers: &'s mut Servers) -> Result<&'s TestServer, String> {
    let levels: Vec<Vec<&Map<String, Value>>> = [&file["runOnRequirements"], &test["runOnRequirements"]]
        .into_iter()
        .filter_map(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_object).collect::<Vec<_>>())
        .filter(|list| !list.is_empty())
        .collect();
    let wants_auth = levels
        .iter()
        .flatten()
        .any(|r| r.get("auth") == Some(&Value::Bool(true)));
    let server = if wants_auth {
        servers.auth()
    } else {
        servers.standalone()
    };
    let facts = server_facts(server)?;
    for level in levels {
        let mut met = false;
        for req in &level {
            met |= requirement_met(req, &facts)?;
        }
        if !met {
            let reqs: Vec<String> = level.iter().map(|r| Value::Object((*r).clone()).to_string()).collect();
            return Err(format!(
                "runOnRequirements {} not met by the test server (topology {}, version {:?}, auth {})",
                reqs.join(" or "),
                facts.topology,
                facts.version,
                facts.auth
            ));
        }
    }
    Ok(server)
}

/// A client entity.
enum Entity {
    /// A `Client` for an entity that observes events or log messages.
    Client {
        client: Client,
        events: Receiver<CmapEvent>,
        observed: Vec<&'static str>,
        seen: Vec<CmapEvent>,
    },
    /// An entity that observes nothing (the suite's `failPointClient`): its commands go over a
    /// dedicated connection, so no pool of it can add messages to the one global log.
    CommandsOnly,
}

/// What a case left behind for the log checks.
struct Run {
    captured: Vec<Captured>,
    /// Per client entity, the observed components and their levels.
    observers: HashMap<String, Map<String, Value>>,
}

fn run_case(file: &Value, test: &Value, servers: &mut Servers) -> Result<Run, String> {
    let server = choose_server(file, test, servers)?;
    let mut runner = Runner {
        server,
        entities: HashMap::new(),
        observers: HashMap::new(),
        fail_points: Vec::new(),
    };
    log_capture::take();
    let result = runner.run(file, test);
    // Compared before the entities are closed, as the unified format does.
    let captured = log_capture::take();
    runner.finish();
    result.map(|()| Run {
        captured,
        observers: runner.observers,
    })
}

struct Runner<'s> {
    server: &'s TestServer,
    entities: HashMap<String, Entity>,
    observers: HashMap<String, Map<String, Value>>,
    fail_points: Vec<String>,
}

impl Runner<'_> {
    fn run(&mut self, file: &Value, test: &Value) -> Result<(), String> {
        if let Some(entities) = file["createEntities"].as_array() {
            self.create_entities(entities)?;
        }
        for op in test["operations"].as_array().ok_or("no operations")? {
            self.operation(op)?;
        }
        Ok(())
    }

    fn finish(&mut self) {
        for name in self.fail_points.drain(..) {
            if let Ok(mut conn) = plain_connection(self.server.address()) {
                let _ = conn.run_command("admin", doc! { "configureFailPoint": name, "mode": "off" });
            }
        }
        for (_, entity) in self.entities.drain() {
            if let Entity::Client { client, .. } = entity {
                client.close();
            }
        }
    }

    fn operation(&mut self, op: &Value) -> Result<(), String> {
        let name = op["name"].as_str().ok_or("operation without a name")?;
        let object = op["object"].as_str().ok_or("operation without an object")?;
        let args = &op["arguments"];
        let result = match (object, name) {
            ("testRunner", "createEntities") => match args["entities"].as_array() {
                Some(entities) => self.create_entities(entities).map_err(OpError::Runner),
                None => Err(OpError::Runner("no entities".into())),
            },
            ("testRunner", "failPoint") => self.fail_point(args),
            ("testRunner", "waitForEvent") => self.wait_for_event(args),
            (client, "listDatabases") => self.list_databases(client, args).map(|_| ()),
            (client, "close") => self.close(client),
            (object, name) => return Err(format!("unsupported operation {object}.{name}")),
        };
        match (&op["expectError"], result) {
            (Value::Null, Ok(())) => Ok(()),
            (Value::Null, Err(OpError::Driver(err))) => Err(err.to_string()),
            (_, Ok(_)) => Err(format!("{name}: expected an error, got none")),
            (expected, Err(OpError::Driver(err))) => check_error(expected, &err),
            (_, Err(OpError::Runner(why))) => Err(why),
        }
        .map_err(|why| format!("{name}: {why}"))
    }

    fn create_entities(&mut self, entities: &[Value]) -> Result<(), String> {
        for entity in entities {
            let spec = entity["client"]
                .as_object()
                .ok_or_else(|| format!("unsupported entity {entity}"))?;
            let id = spec.get("id").and_then(Value::as_str).ok_or("client without id")?;
            for key in spec.keys() {
                if !["id", "observeEvents", "observeLogMessages", "uriOptions"].contains(&key.as_str()) {
                    return Err(format!("client entity option {key:?} is not supported"));
                }
            }
            let observe_logs = spec.get("observeLogMessages").and_then(Value::as_object).cloned();
            let observe_events: Vec<&'static str> = spec
                .get("observeEvents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|e| event_name(e.as_str().unwrap_or("")))
                .collect::<Result<_, _>>()?;
            if observe_logs.is_none() && observe_events.is_empty() {
                self.entities.insert(id.to_owned(), Entity::CommandsOnly);
                continue;
            }
            let uri = self.uri(spec.get("uriOptions"))?;
            let (tx, events) = crossbeam_channel::unbounded();
            let client = ClientOptions::parse(&uri)
                .and_then(|o| Client::builder(o).event_sender(tx).build())
                .map_err(|e| format!("creating client {id}: {e}"))?;
            if let Some(levels) = observe_logs {
                self.observers.insert(id.to_owned(), levels);
            }
            self.entities.insert(
                id.to_owned(),
                Entity::Client {
                    client,
                    events,
                    observed: observe_events,
                    seen: Vec::new(),
                },
            );
        }
        Ok(())
    }

    /// The URI of a client entity: the server, with credentials when it requires them, and
    /// the entity's `uriOptions`.
    fn uri(&self, options: Option<&Value>) -> Result<String, String> {
        let facts = server_facts(self.server)?;
        let userinfo = if facts.auth {
            format!("{AUTH_USER}:{AUTH_PASSWORD}@")
        } else {
            String::new()
        };
        let mut query = Vec::new();
        for (key, value) in options.and_then(Value::as_object).into_iter().flatten() {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Bool(_) | Value::Number(_) => value.to_string(),
                other => return Err(format!("uriOptions {key}: unsupported value {other}")),
            };
            query.push(format!("{key}={value}"));
        }
        Ok(format!(
            "mongodb://{userinfo}{}/?{}",
            self.server.address(),
            query.join("&")
        ))
    }

    fn client(&mut self, id: &str) -> Result<&mut Entity, OpError> {
        self.entities
            .get_mut(id)
            .ok_or_else(|| OpError::Runner(format!("no entity {id:?}")))
    }

    /// `failPoint`: configures the fail point through the entity's server and turns it off
    /// after the case.
    fn fail_point(&mut self, args: &Value) -> Result<(), OpError> {
        let command = match json_to_bson(&args["failPoint"]) {
            Bson::Document(d) => d,
            _ => return Err(OpError::Runner("failPoint is not a document".into())),
        };
        let name = command
            .get_str("configureFailPoint")
            .map_err(|_| OpError::Runner("failPoint without configureFailPoint".into()))?
            .to_owned();
        self.client(args["client"].as_str().unwrap_or(""))?;
        let mut conn = plain_connection(self.server.address()).map_err(OpError::Runner)?;
        conn.run_command("admin", command)
            .map_err(|e| OpError::Runner(format!("configureFailPoint: {e}")))?;
        self.fail_points.push(name);
        Ok(())
    }

    fn wait_for_event(&mut self, args: &Value) -> Result<(), OpError> {
        let runner = |s: String| OpError::Runner(s);
        let event = args["event"].as_object().ok_or_else(|| runner("no event".into()))?;
        let (kind, filter) = event.iter().next().ok_or_else(|| runner("empty event".into()))?;
        if filter.as_object().is_some_and(|f| !f.is_empty()) {
            return Err(runner(format!("event field matching ({filter}) is not supported")));
        }
        let wanted = event_name(kind).map_err(runner)?;
        let count = args["count"].as_u64().unwrap_or(1) as usize;
        let Entity::Client {
            events, observed, seen, ..
        } = self.client(args["client"].as_str().unwrap_or(""))?
        else {
            return Err(runner("waitForEvent on an entity that observes no events".into()));
        };
        if !observed.contains(&wanted) {
            return Err(runner(format!("waitForEvent: {kind} is not observed")));
        }
        let deadline = Instant::now() + DEFAULT_WAIT_FOR_EVENT;
        loop {
            seen.extend(events.try_iter().filter(|e| observed.contains(&e.name())));
            let n = seen.iter().filter(|e| e.name() == wanted).count();
            if n >= count {
                return Ok(());
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return Err(runner(format!("waitForEvent: saw {n} of {count} {kind}")));
            };
            if let Ok(e) = events.recv_timeout(left) {
                if observed.contains(&e.name()) {
                    seen.push(e);
                }
            }
        }
    }

    /// `listDatabases` on a connection checked out through the client.
    fn list_databases(&mut self, id: &str, args: &Value) -> Result<Document, OpError> {
        let Entity::Client { client, .. } = self.client(id)? else {
            return Err(OpError::Runner(format!("{id} is not a client")));
        };
        let mut command = doc! { "listDatabases": 1 };
        if let Bson::Document(filter) = json_to_bson(&args["filter"]) {
            command.insert("filter", filter);
        }
        let mut conn = client.check_out().map_err(OpError::Driver)?;
        let reply = conn.run_command("admin", command);
        if let Err(err) = &reply {
            client.handle_application_error(&conn, err);
        }
        reply.map_err(OpError::Driver)
    }

    fn close(&mut self, id: &str) -> Result<(), OpError> {
        match self.client(id)? {
            Entity::Client { client, .. } => {
                client.close();
                Ok(())
            }
            Entity::CommandsOnly => Ok(()),
        }
    }
}

/// An operation's failure: the driver's error (which `expectError` may expect) or the
/// runner's inability to perform it (never expected).
enum OpError {
    Driver(mongopool::Error),
    Runner(String),
}

fn check_error(expected: &Value, err: &mongopool::Error) -> Result<(), String> {
    for (key, value) in expected.as_object().ok_or("expectError is not an object")? {
        match key.as_str() {
            "isError" => {}
            "isClientError" => {
                let client_side = !matches!(err.kind(), ErrorKind::Command(_));
                if value.as_bool() != Some(client_side) {
                    return Err(format!("isClientError {value}, but got {err}"));
                }
            }
            "errorContains" => {
                let text = value.as_str().unwrap_or("");
                if !err.to_string().to_lowercase().contains(&text.to_lowercase()) {
                    return Err(format!("error {err} does not contain {text:?}"));
                }
            }
            other => return Err(format!("expectError.{other} is not supported")),
        }
    }
    Ok(())
}

/// The unified format's event names, as [`CmapEvent::name`] spells them.
fn event_name(unified: &str) -> Result<&'static str, String> {
    Ok(match unified {
        "poolCreatedEvent" => "ConnectionPoolCreated",
        "poolReadyEvent" => "ConnectionPoolReady",
        "poolClearedEvent" => "ConnectionPoolCleared",
        "poolClosedEvent" => "ConnectionPoolClosed",
        "connectionCreatedEvent" => "ConnectionCreated",
        "connectionReadyEvent" => "ConnectionReady",
        "connectionClosedEvent" => "ConnectionClosed",
        "connectionCheckOutStartedEvent" => "ConnectionCheckOutStarted",
        "connectionCheckOutFailedEvent" => "ConnectionCheckOutFailed",
        "connectionCheckedOutEvent" => "ConnectionCheckedOut",
        "connectionCheckedInEvent" => "ConnectionCheckedIn",
        other => return Err(format!("unsupported event type {other:?}")),
    })
}

/// The `log` target of a spec component.
fn component_target(component: &str) -> Option<&'static str> {
    match component {
        "connection" => Some(mongopool::pool::LOG_TARGET),
        "topology" => Some(mongopool::client::TOPOLOGY_LOG_TARGET),
        _ => None,
    }
}

/// The spec's name of a `log` level (logging.md "Log Severity Levels").
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    }
}

/// How severe a spec level is (lower: more severe).
fn severity(name: &str) -> Option<u8> {
    [
        "emergency",
        "alert",
        "critical",
        "error",
        "warning",
        "notice",
        "info",
        "debug",
        "trace",
    ]
    .iter()
    .position(|l| *l == name)
    .map(|p| p as u8)
}

/// The messages a client observed: records of its observed components at or above the
/// observed level, each as (component, record).
fn observed_messages<'r>(run: &'r Run, client: &str) -> Result<Vec<(&'r str, &'r Captured)>, String> {
    if run.observers.len() > 1 {
        // One process, one logger: records cannot be attributed to one of several clients.
        return Err("more than one client entity observes log messages".into());
    }
    let levels = run
        .observers
        .get(client)
        .ok_or_else(|| format!("client {client} does not observe log messages"))?;
    let mut out = Vec::new();
    for record in &run.captured {
        for (component, level) in levels {
            let target = component_target(component).ok_or_else(|| format!("unknown component {component}"))?;
            let max = severity(level.as_str().unwrap_or("")).ok_or_else(|| format!("unknown level {level}"))?;
            if record.target == target && severity(level_name(record.level)).is_some_and(|s| s <= max) {
                out.push((component.as_str(), record));
            }
        }
    }
    Ok(out)
}

/// `expectLogMessages`, optionally with an exemption's adjustment applied.
fn check_logs(test: &Value, run: &Run, adjust: Option<&Expected>) -> Result<(), String> {
    let Some(expectations) = test["expectLogMessages"].as_array() else {
        return Ok(());
    };
    for expectation in expectations {
        let client = expectation["client"]
            .as_str()
            .ok_or("expectLogMessages without client")?;
        let mut expected: Vec<Value> = expectation["messages"].as_array().cloned().unwrap_or_default();
        match adjust {
            Some(Expected::NotEmitted { client: c, indices }) if *c == client => {
                for &i in indices.iter().rev() {
                    if i >= expected.len() {
                        return Err(format!("exemption index {i} is past the expected messages"));
                    }
                    expected.remove(i);
                }
            }
            Some(Expected::FieldNotLogged {
                client: c,
                index,
                field,
            }) if *c == client => {
                let data = expected
                    .get_mut(*index)
                    .and_then(|m| m["data"].as_object_mut())
                    .ok_or("exemption index has no data")?;
                data.remove(*field).ok_or("the exempted field is not expected")?;
            }
            _ => {}
        }
        let ignore: Vec<Value> = expectation["ignoreMessages"].as_array().cloned().unwrap_or_default();
        let ignore_extra = expectation["ignoreExtraMessages"].as_bool().unwrap_or(false);
        let mut actual = Vec::new();
        for (component, record) in observed_messages(run, client)? {
            let mut ignored = false;
            for pattern in &ignore {
                ignored |= match_message(pattern, component, record).is_ok();
            }
            if !ignored {
                actual.push((component, record));
            }
        }
        for (i, want) in expected.iter().enumerate() {
            let Some((component, record)) = actual.get(i) else {
                return Err(format!(
                    "expected {} messages, got {}; missing #{i}: {want}",
                    expected.len(),
                    actual.len()
                ));
            };
            match_message(want, component, record).map_err(|why| {
                let text = record.data.get("message").and_then(Value::as_str).unwrap_or("?");
                format!("message #{i} ({text:?}): {why}")
            })?;
        }
        if !ignore_extra && actual.len() > expected.len() {
            let extra: Vec<String> = actual[expected.len()..]
                .iter()
                .map(|(_, r)| r.data.get("message").map(|m| m.to_string()).unwrap_or_default())
                .collect();
            return Err(format!(
                "{} unexpected extra messages: {}",
                extra.len(),
                extra.join(", ")
            ));
        }
    }
    Ok(())
}

fn match_message(expected: &Value, component: &str, record: &Captured) -> Result<(), String> {
    let want = expected.as_object().ok_or("expected message is not an object")?;
    for key in want.keys() {
        if !["level", "component", "data"].contains(&key.as_str()) {
            return Err(format!("expectedLogMessage.{key} is not supported"));
        }
    }
    if want["level"].as_str() != Some(level_name(record.level)) {
        return Err(format!("level {} is not {}", level_name(record.level), want["level"]));
    }
    if want["component"].as_str() != Some(component) {
        return Err(format!("component {component} is not {}", want["component"]));
    }
    matches(&want["data"], Some(&Value::Object(record.data.clone())), true).map_err(|why| format!("data: {why}"))
}

/// The unified format's matching rules for the subset the suite uses: root documents may have
/// extra fields, nested ones may not; `$$exists`, `$$type`, `$$unsetOrMatches`; numbers compare
/// by value.
fn matches(expected: &Value, actual: Option<&Value>, root: bool) -> Result<(), String> {
    if let Some(obj) = expected.as_object() {
        if let Some((op, arg)) = obj.iter().next().filter(|(k, _)| obj.len() == 1 && k.starts_with("$$")) {
            return match op.as_str() {
                "$$exists" => match (arg.as_bool(), actual.is_some()) {
                    (Some(want), got) if want == got => Ok(()),
                    (Some(want), _) => Err(format!("$$exists {want} does not hold")),
                    (None, _) => Err("$$exists needs a boolean".into()),
                },
                "$$type" => {
                    let actual = actual.ok_or("missing (expected by $$type)")?;
                    let types: Vec<&str> = match arg {
                        Value::String(s) => vec![s.as_str()],
                        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                        _ => return Err("$$type needs a string or an array".into()),
                    };
                    if types.iter().any(|t| has_type(actual, t)) {
                        Ok(())
                    } else {
                        Err(format!("{actual} is not of type {arg}"))
                    }
                }
                "$$unsetOrMatches" => match actual {
                    None => Ok(()),
                    Some(_) => matches(arg, actual, false),
                },
                other => Err(format!("operator {other} is not supported")),
            };
        }
        let actual = actual.and_then(Value::as_object).ok_or("expected a document")?;
        for (key, want) in obj {
            matches(want, actual.get(key), false).map_err(|why| format!("{key}: {why}"))?;
        }
        if !root {
            if let Some(extra) = actual.keys().find(|k| !obj.contains_key(*k)) {
                return Err(format!("unexpected field {extra}"));
            }
        }
        return Ok(());
    }
    let actual = actual.ok_or_else(|| format!("missing (expected {expected})"))?;
    let equal = match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return Err(format!("expected {} elements, got {}", a.len(), b.len()));
            }
            for (x, y) in a.iter().zip(b) {
                matches(x, Some(y), false)?;
            }
            true
        }
        (a, b) => a == b,
    };
    if equal {
        Ok(())
    } else {
        Err(format!("expected {expected}, got {actual}"))
    }
}

fn has_type(v: &Value, t: &str) -> bool {
    match (t, v) {
        ("string", Value::String(_)) | ("bool", Value::Bool(_)) | ("null", Value::Null) => true,
        ("object", Value::Object(_)) | ("array", Value::Array(_)) => true,
        ("int", Value::Number(n)) => n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) && !n.is_f64(),
        ("long", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("double", Value::Number(n)) => n.is_f64(),
        _ => false,
    }
}
