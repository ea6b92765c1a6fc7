//! Runs the connection string, URI options and auth connection-string conformance suites
//! (`../shared/spec-tests`, or `$MONGOPOOL_SPEC_TESTS`) against `mongopool::uri`.
//!
//! Format: spec/connection-string-tests-README.md and spec/uri-options-tests-README.md. A case
//! in [`EXEMPT`] covers something mongopool deliberately does not support; it passes only if
//! parsing fails, or warns, with a message containing the exemption's `needle`, so an
//! unsupported option can never be silently misparsed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Writes a line straight to stderr so it shows even when the test harness captures output.
macro_rules! report {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

use mongopool::uri::{Acknowledgment, ConnectionString, Credential};
use serde_json::{json, Map, Value};

/// The suite directories and files this runner reads.
const SUITES: &[&str] = &["connection-string", "uri-options", "auth/connection-string.json"];

/// A file that must pass in full, with no exemptions.
const NO_EXEMPTIONS: &str = "uri-options/connection-pool-options.json";

struct Exemption {
    file: &'static str,
    description: &'static str,
    /// Text the error or a warning must contain.
    needle: &'static str,
    reason: &'static str,
}

const SRV: &str = "mongodb+srv:// (DNS seed list discovery) is not supported yet; parsing rejects the scheme";
const PROXY: &str = "SOCKS5 proxy options are not supported; they are ignored with a warning naming the option";
const MONITORING: &str = "only the polling monitoring protocol is implemented; stream/auto are accepted with a warning";
const AWS: &str = "stale case: since auth.md 2025-09-30 credentials in the URI with MONGODB-AWS MUST \
                   raise an error (the same file's 'should throw an exception if username and password \
                   provided (MONGODB-AWS)' expects that); mongopool follows the spec text";

macro_rules! exempt {
    ($file:expr, $needle:expr, $reason:expr, [$($desc:expr),* $(,)?]) => {
        [$(Exemption { file: $file, description: $desc, needle: $needle, reason: $reason }),*]
    };
}

const EXEMPT_SRV: [Exemption; 9] = exempt!(
    "uri-options/srv-options.json",
    "mongodb+srv",
    SRV,
    [
        "SRV URI with custom srvServiceName",
        "SRV URI with srvMaxHosts",
        "SRV URI with negative integer for srvMaxHosts",
        "SRV URI with invalid type for srvMaxHosts",
        "SRV URI with positive srvMaxHosts and replicaSet",
        "SRV URI with positive srvMaxHosts and loadBalanced=true",
        "SRV URI with positive srvMaxHosts and loadBalanced=false",
        "SRV URI with srvMaxHosts=0 and replicaSet",
        "SRV URI with srvMaxHosts=0 and loadBalanced=true",
    ]
);

const EXEMPT_PROXY: [Exemption; 15] = exempt!(
    "uri-options/proxy-options.json",
    "proxy",
    PROXY,
    [
        "proxyPort without proxyHost",
        "proxyUsername without proxyHost",
        "proxyPassword without proxyHost",
        "all other proxy options without proxyHost",
        "proxyUsername without proxyPassword",
        "proxyPassword without proxyUsername",
        "multiple proxyHost parameters",
        "multiple proxyPort parameters",
        "multiple proxyUsername parameters",
        "multiple proxyPassword parameters",
        "only host present",
        "host and default port present",
        "host and non-default port present",
        "replicaset, host and non-default port present",
        "all options present",
    ]
);

const EXEMPT_OTHER: [Exemption; 4] = [
    Exemption {
        file: "uri-options/sdam-options.json",
        description: "serverMonitoringMode=auto",
        needle: "serverMonitoringMode",
        reason: MONITORING,
    },
    Exemption {
        file: "uri-options/sdam-options.json",
        description: "serverMonitoringMode=stream",
        needle: "serverMonitoringMode",
        reason: MONITORING,
    },
    Exemption {
        file: "auth/connection-string.json",
        description: "should use username and password if specified (MONGODB-AWS)",
        needle: "MONGODB-AWS",
        reason: AWS,
    },
    Exemption {
        file: "auth/connection-string.json",
        description: "should use username, password and session token if specified (MONGODB-AWS)",
        needle: "MONGODB-AWS",
        reason: AWS,
    },
];

fn exemptions() -> impl Iterator<Item = &'static Exemption> {
    EXEMPT_SRV.iter().chain(EXEMPT_PROXY.iter()).chain(EXEMPT_OTHER.iter())
}

fn spec_tests_dir() -> PathBuf {
    match std::env::var_os("MONGOPOOL_SPEC_TESTS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/spec-tests"),
    }
}

/// The suite files, as (name relative to the spec-tests directory, path). Panics when a suite
/// is missing: a missing suite is a failure, not a skip.
fn suite_files(root: &Path) -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for suite in SUITES {
        let path = root.join(suite);
        if suite.ends_with(".json") {
            assert!(path.is_file(), "missing spec test file {}", path.display());
            files.push(((*suite).to_owned(), path));
            continue;
        }
        let entries =
            std::fs::read_dir(&path).unwrap_or_else(|e| panic!("missing spec test directory {}: {e}", path.display()));
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        assert!(!names.is_empty(), "no .json files in {}", path.display());
        files.extend(names.into_iter().map(|n| (format!("{suite}/{n}"), path.join(n))));
    }
    files
}

#[test]
fn uri_spec_suites() {
    assert!(
        exemptions().all(|e| e.file != NO_EXEMPTIONS),
        "{NO_EXEMPTIONS} must pass without exemptions"
    );
    let root = spec_tests_dir();
    let (mut passed, mut failed) = (0, 0);
    let mut used = Vec::new();
    for (name, path) in suite_files(&root) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let suite: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let cases = suite["tests"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no \"tests\" array"));
        for case in cases {
            let description = case["description"].as_str().unwrap_or("(no description)");
            let exemption = exemptions().find(|e| e.file == name && e.description == description);
            let outcome = match exemption {
                Some(e) => {
                    used.push(e.description);
                    check_exempt(case, e)
                }
                None => check(case),
            };
            match outcome {
                Ok(()) => {
                    passed += 1;
                    match exemption {
                        Some(e) => report!("PASS {name}: {description} [exempt: {}]", e.reason),
                        None => report!("PASS {name}: {description}"),
                    }
                }
                Err(reason) => {
                    failed += 1;
                    report!("FAIL {name}: {description}: {reason}");
                }
            }
        }
    }
    for e in exemptions().filter(|e| !used.contains(&e.description)) {
        failed += 1;
        report!("FAIL {}: {}: exemption matches no test case", e.file, e.description);
    }
    report!("uri spec: {passed} passed, {failed} failed");
    assert_eq!(failed, 0, "{failed} URI spec cases failed; see the FAIL lines above");
}

fn check_exempt(case: &Value, e: &Exemption) -> Result<(), String> {
    let uri = case["uri"].as_str().ok_or("no uri")?;
    match ConnectionString::parse(uri) {
        Err(err) if err.to_string().contains(e.needle) => Ok(()),
        Err(err) => Err(format!("exempt case failed with an unrelated error: {err}")),
        Ok(cs) if cs.warnings.iter().any(|w| w.contains(e.needle)) => Ok(()),
        Ok(cs) => Err(format!(
            "exempt case parsed without an error or warning mentioning {:?}: {cs:?}",
            e.needle
        )),
    }
}

fn check(case: &Value) -> Result<(), String> {
    let uri = case["uri"].as_str().ok_or("no uri")?;
    let valid = case["valid"].as_bool().ok_or("no valid flag")?;
    let cs = match (ConnectionString::parse(uri), valid) {
        (Err(_), false) => return Ok(()),
        (Ok(cs), false) => return Err(format!("expected an error, parsed {cs:?}")),
        (Err(e), true) => return Err(format!("expected success, got: {e}")),
        (Ok(cs), true) => cs,
    };
    match case["warning"].as_bool() {
        Some(true) if cs.warnings.is_empty() => return Err("expected a warning, got none".into()),
        Some(false) if !cs.warnings.is_empty() => return Err(format!("expected no warning, got {:?}", cs.warnings)),
        _ => {}
    }
    if let Some(hosts) = case["hosts"].as_array() {
        check_hosts(&cs, hosts)?;
    }
    if case["auth"].is_object() {
        check_auth(&cs, &case["auth"])?;
    }
    if let Some(expected) = case.get("credential") {
        check_credential(cs.credential.as_ref(), expected)?;
    }
    if let Some(options) = case["options"].as_object() {
        check_options(&cs, options)?;
    }
    Ok(())
}

fn check_hosts(cs: &ConnectionString, expected: &[Value]) -> Result<(), String> {
    let actual: Vec<String> = cs.hosts.iter().map(ToString::to_string).collect();
    if expected.len() != cs.hosts.len() {
        return Err(format!("expected {} hosts, got {actual:?}", expected.len()));
    }
    for (want, got) in expected.iter().zip(&cs.hosts) {
        let host = want["host"].as_str().ok_or("host without a name")?;
        let unix = want["type"].as_str() == Some("unix");
        if got.host() != host || got.is_unix() != unix {
            return Err(format!("expected host {want}, got {actual:?}"));
        }
        if let Some(port) = want["port"].as_u64() {
            if got.port().map(u64::from) != Some(port) {
                return Err(format!("expected port {port} for {host}, got {actual:?}"));
            }
        }
    }
    Ok(())
}

fn check_auth(cs: &ConnectionString, auth: &Value) -> Result<(), String> {
    let cred = cs.credential.as_ref();
    let username = cred.and_then(|c| c.username.as_deref());
    let password = cred.and_then(|c| c.password.as_deref());
    if auth["username"].as_str() != username {
        return Err(format!("expected username {}, got {username:?}", auth["username"]));
    }
    if auth["password"].as_str() != password {
        return Err(format!("expected password {}, got a different one", auth["password"]));
    }
    if auth["db"].as_str() != cs.default_database.as_deref() {
        return Err(format!("expected db {}, got {:?}", auth["db"], cs.default_database));
    }
    Ok(())
}

fn check_credential(actual: Option<&Credential>, expected: &Value) -> Result<(), String> {
    let (cred, want) = match (actual, expected) {
        (None, Value::Null) => return Ok(()),
        (Some(c), Value::Null) => return Err(format!("expected no credential, got {c:?}")),
        (None, _) => return Err(format!("expected credential {expected}, got none")),
        (Some(c), want) => (c, want),
    };
    let props: Value = cred
        .mechanism_properties
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect::<Map<_, _>>()
        .into();
    let want_props = match &want["mechanism_properties"] {
        Value::Null => json!({}),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| json!(v.to_string()), |s| json!(s))))
            .collect::<Map<_, _>>()
            .into(),
        other => other.clone(),
    };
    let checks = [
        ("username", json!(cred.username), want["username"].clone()),
        ("password", json!(cred.password), want["password"].clone()),
        ("source", json!(cred.source), want["source"].clone()),
        (
            "mechanism",
            json!(cred.mechanism.map(|m| m.as_str())),
            want["mechanism"].clone(),
        ),
        ("mechanism_properties", props, want_props),
    ];
    for (field, got, want) in checks {
        if got != want {
            let got = if field == "password" { json!("(hidden)") } else { got };
            return Err(format!("credential {field}: expected {want}, got {got}"));
        }
    }
    Ok(())
}

fn check_options(cs: &ConnectionString, expected: &Map<String, Value>) -> Result<(), String> {
    for (key, want) in expected {
        let got = option_value(cs, &key.to_ascii_lowercase())
            .ok_or_else(|| format!("the runner cannot check option {key}"))?;
        if &got != want {
            return Err(format!("option {key}: expected {want}, got {got}"));
        }
    }
    Ok(())
}

fn ms(d: Option<Duration>) -> Value {
    json!(d.map(|d| d.as_millis() as u64))
}

/// The parsed value of an option, in the suites' JSON representation.
fn option_value(cs: &ConnectionString, key: &str) -> Option<Value> {
    let string_map = |m: &BTreeMap<String, String>| -> Value {
        m.iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect::<Map<_, _>>()
            .into()
    };
    Some(match key {
        "appname" => json!(cs.app_name),
        "authmechanism" => json!(cs.auth_mechanism.map(|m| m.as_str())),
        "authmechanismproperties" => cs.auth_mechanism_properties.as_ref().map_or(Value::Null, string_map),
        "authsource" => json!(cs.auth_source),
        "compressors" => json!(cs.compressors),
        "connecttimeoutms" => ms(cs.connect_timeout),
        "directconnection" => json!(cs.direct_connection),
        "enableoverloadretargeting" => json!(cs.enable_overload_retargeting),
        "heartbeatfrequencyms" => ms(cs.heartbeat_frequency),
        "journal" => json!(cs.journal),
        "loadbalanced" => json!(cs.load_balanced),
        "localthresholdms" => ms(cs.local_threshold),
        "maxadaptiveretries" => json!(cs.max_adaptive_retries),
        "maxconnecting" => json!(cs.max_connecting),
        "maxidletimems" => ms(cs.max_idle_time),
        "maxpoolsize" => json!(cs.max_pool_size),
        "maxstalenessseconds" => json!(cs.max_staleness.map(|d| d.as_secs())),
        "minpoolsize" => json!(cs.min_pool_size),
        "readconcernlevel" => json!(cs.read_concern_level),
        "readpreference" => json!(cs.read_preference.map(|m| m.as_str())),
        "readpreferencetags" => match &cs.read_preference_tags {
            None => Value::Null,
            Some(sets) => Value::Array(sets.iter().map(string_map).collect()),
        },
        "replicaset" => json!(cs.replica_set),
        "retryreads" => json!(cs.retry_reads),
        "retrywrites" => json!(cs.retry_writes),
        "servermonitoringmode" => json!(cs.server_monitoring_mode.map(|m| m.as_str())),
        "serverselectiontimeoutms" => ms(cs.server_selection_timeout),
        "serverselectiontryonce" => json!(cs.server_selection_try_once),
        "sockettimeoutms" => ms(cs.socket_timeout),
        "ssl" | "tls" => json!(cs.tls),
        "timeoutms" => ms(cs.timeout),
        "tlsallowinvalidcertificates" => json!(cs.tls_allow_invalid_certificates),
        "tlsallowinvalidhostnames" => json!(cs.tls_allow_invalid_hostnames),
        "tlscafile" => json!(cs.tls_ca_file),
        "tlscertificatekeyfile" => json!(cs.tls_certificate_key_file),
        "tlscertificatekeyfilepassword" => json!(cs.tls_certificate_key_file_password),
        "tlsdisablecertificaterevocationcheck" => {
            json!(cs.tls_disable_certificate_revocation_check)
        }
        "tlsdisableocspendpointcheck" => json!(cs.tls_disable_ocsp_endpoint_check),
        "tlsinsecure" => json!(cs.tls_insecure),
        "w" => match &cs.w {
            None => Value::Null,
            Some(Acknowledgment::Nodes(n)) => json!(n),
            Some(Acknowledgment::Majority) => json!("majority"),
            Some(Acknowledgment::Custom(s)) => json!(s),
        },
        "wtimeoutms" => ms(cs.w_timeout),
        "zlibcompressionlevel" => json!(cs.zlib_compression_level),
        _ => return None,
    })
}
