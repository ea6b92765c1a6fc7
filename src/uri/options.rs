//! The `?key=value&...` section: splitting, dispatching each option, cross-option rules.
//!
//! Keys are matched ASCII case-insensitively against [`KNOWN`]. An invalid value of a known
//! option is ignored with a warning (connection-string.md, "Values"); a repeated key warns and
//! the last valid value wins, except `readPreferenceTags`, which accumulates. Conflicts the
//! specs call errors are checked once every option is read.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use super::percent;
use super::types::{AuthMechanism, ReadPreferenceMode};
use super::values::Value;
use super::ConnectionString;
use crate::error::{Error, Result};

/// Every option mongopool parses, spelled as the specs spell them.
const KNOWN: &[&str] = &[
    "appName",
    "authMechanism",
    "authMechanismProperties",
    "authSource",
    "compressors",
    "connectTimeoutMS",
    "directConnection",
    "enableOverloadRetargeting",
    "heartbeatFrequencyMS",
    "journal",
    "loadBalanced",
    "localThresholdMS",
    "maxAdaptiveRetries",
    "maxConnecting",
    "maxIdleTimeMS",
    "maxPoolSize",
    "maxStalenessSeconds",
    "minPoolSize",
    "readConcernLevel",
    "readPreference",
    "readPreferenceTags",
    "replicaSet",
    "retryReads",
    "retryWrites",
    "serverMonitoringMode",
    "serverSelectionTimeoutMS",
    "serverSelectionTryOnce",
    "socketTimeoutMS",
    "srvMaxHosts",
    "srvServiceName",
    "ssl",
    "timeoutMS",
    "tls",
    "tlsAllowInvalidCertificates",
    "tlsAllowInvalidHostnames",
    "tlsCAFile",
    "tlsCertificateKeyFile",
    "tlsCertificateKeyFilePassword",
    "tlsDisableCertificateRevocationCheck",
    "tlsDisableOCSPEndpointCheck",
    "tlsInsecure",
    "w",
    "waitQueueTimeoutMS",
    "wTimeoutMS",
    "zlibCompressionLevel",
];

/// Spec options mongopool deliberately does not implement: warned about by name, ignored.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("proxyHost", "SOCKS5 proxies are not supported"),
    ("proxyPort", "SOCKS5 proxies are not supported"),
    ("proxyUsername", "SOCKS5 proxies are not supported"),
    ("proxyPassword", "SOCKS5 proxies are not supported"),
];

/// The most bytes `appName` may have (handshake.md).
const MAX_APP_NAME_BYTES: usize = 128;

/// TLS options that may not be combined (uri-options.md, "Conflicting TLS options").
const TLS_CONFLICTS: &[(&str, &str)] = &[
    ("tlsInsecure", "tlsAllowInvalidCertificates"),
    ("tlsInsecure", "tlsAllowInvalidHostnames"),
    ("tlsInsecure", "tlsDisableOCSPEndpointCheck"),
    ("tlsInsecure", "tlsDisableCertificateRevocationCheck"),
    ("tlsAllowInvalidCertificates", "tlsDisableOCSPEndpointCheck"),
    ("tlsAllowInvalidCertificates", "tlsDisableCertificateRevocationCheck"),
    ("tlsDisableOCSPEndpointCheck", "tlsDisableCertificateRevocationCheck"),
];

/// One `key=value` pair as written, kept for `redacted()`.
pub(crate) struct RawPair<'a> {
    pub(crate) key: &'a str,
    pub(crate) value: &'a str,
}

/// Whether an option's value must be masked in `redacted()`: secret options, keys that look
/// like they hold secrets, and unknown keys (perhaps a misspelled secret option).
pub(crate) fn is_secret(raw_key: &str) -> bool {
    let key = percent::decode(raw_key).unwrap_or_default().to_ascii_lowercase();
    key == "authmechanismproperties"
        || ["password", "secret", "token", "pwd"].iter().any(|s| key.contains(s))
        || !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(&key))
}

/// A key safe to quote in a warning: a known option's name, or a short plain identifier.
/// Anything else may be a fragment of a mistyped password.
pub(crate) fn printable_key(key: &str) -> String {
    if !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        format!("'{key}'")
    } else {
        "(name not shown: it contains unexpected characters)".to_owned()
    }
}

/// Parses the options into `cs`, returning the raw pairs.
pub(crate) fn parse_query<'a>(cs: &mut ConnectionString, query: Option<&'a str>) -> Result<Vec<RawPair<'a>>> {
    let mut pairs = Vec::new();
    let mut state = State::default();
    for segment in query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
        // Not quoted: this is what an unencoded '&' inside a secret value looks like.
        let (raw_key, raw_value) = segment.split_once('=').ok_or_else(|| {
            Error::invalid_argument(
                "a connection string option has no '=' and value (an '&' inside a value must be \
                 written %26)",
            )
        })?;
        pairs.push(RawPair {
            key: raw_key,
            value: raw_value,
        });
        let key = percent::decode(raw_key)
            .map_err(|e| Error::invalid_argument(format!("invalid connection string option name: {}", e.describe())))?;
        if key.is_empty() {
            return Err(Error::invalid_argument("connection string option with an empty name"));
        }
        let Some(name) = KNOWN.iter().copied().find(|k| k.eq_ignore_ascii_case(&key)) else {
            unknown(cs, &key);
            continue;
        };
        let decoded = percent::decode(raw_value).map_err(|e| bad_encoding(name, e))?;
        // List options split before decoding, so an encoded ',' or ':' stays inside an element.
        let value = match name {
            "authMechanismProperties" | "readPreferenceTags" | "compressors" => raw_value.to_owned(),
            _ => decoded,
        };
        // A set, not a list: a long query must not make this quadratic.
        if !state.seen.insert(name) && name != "readPreferenceTags" {
            cs.warnings.push(format!(
                "option '{name}' is given more than once; the last valid value is used"
            ));
        }
        apply(cs, &mut state, name, &value)?;
    }
    finish(cs, &state)?;
    Ok(pairs)
}

fn unknown(cs: &mut ConnectionString, key: &str) {
    match UNSUPPORTED.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
        Some((name, why)) => cs.warnings.push(format!(
            "option '{name}' is not supported by mongopool and is ignored: {why}"
        )),
        None => cs
            .warnings
            .push(format!("unsupported option {} is ignored", printable_key(key))),
    }
}

fn bad_encoding(name: &str, e: percent::DecodeError) -> Error {
    Error::invalid_argument(format!("invalid value for option '{name}': {}", e.describe()))
}

/// What the cross-option checks need besides the parsed values.
#[derive(Default)]
struct State {
    seen: BTreeSet<&'static str>,
    tls_values: Vec<bool>,
    tags_invalid: bool,
}

/// Parses one value. `Err` only for the spec's hard errors; bad values warn.
fn apply(cs: &mut ConnectionString, state: &mut State, name: &'static str, value: &str) -> Result<()> {
    let mut v = Value {
        name,
        value,
        warnings: &mut cs.warnings,
    };
    match name {
        "maxPoolSize" => set(&mut cs.max_pool_size, v.u32_at_least(0)),
        "minPoolSize" => set(&mut cs.min_pool_size, v.u32_at_least(0)),
        "maxConnecting" => set(&mut cs.max_connecting, v.u32_at_least(1)),
        "maxIdleTimeMS" => set(&mut cs.max_idle_time, v.millis_at_least(0)),
        "waitQueueTimeoutMS" => set(&mut cs.wait_queue_timeout, v.millis_at_least(0)),
        "connectTimeoutMS" => set(&mut cs.connect_timeout, v.millis_at_least(0)),
        "socketTimeoutMS" => set(&mut cs.socket_timeout, v.millis_at_least(0)),
        "timeoutMS" => set(&mut cs.timeout, v.millis_at_least(0)),
        "heartbeatFrequencyMS" => set(&mut cs.heartbeat_frequency, v.millis_at_least(500)),
        "serverSelectionTimeoutMS" => set(&mut cs.server_selection_timeout, v.millis_at_least(0)),
        "localThresholdMS" => set(&mut cs.local_threshold, v.millis_at_least(0)),
        "wTimeoutMS" => set(&mut cs.w_timeout, v.millis_at_least(0)),
        "maxAdaptiveRetries" => set(&mut cs.max_adaptive_retries, v.u32_at_least(0)),
        "zlibCompressionLevel" => set(
            &mut cs.zlib_compression_level,
            v.int_in(-1, 9).and_then(|n| i32::try_from(n).ok()),
        ),
        "maxStalenessSeconds" => match v.int_in(-1, i64::from(i32::MAX)) {
            Some(-1) => cs.max_staleness = None,
            Some(n) => cs.max_staleness = Some(Duration::from_secs(n.unsigned_abs())),
            None => {}
        },
        "directConnection" => set(&mut cs.direct_connection, v.boolean()),
        "loadBalanced" => set(&mut cs.load_balanced, v.boolean()),
        "retryWrites" => set(&mut cs.retry_writes, v.boolean()),
        "retryReads" => set(&mut cs.retry_reads, v.boolean()),
        "journal" => set(&mut cs.journal, v.boolean()),
        "serverSelectionTryOnce" => set(&mut cs.server_selection_try_once, v.boolean()),
        "enableOverloadRetargeting" => set(&mut cs.enable_overload_retargeting, v.boolean()),
        "tlsAllowInvalidCertificates" => set(&mut cs.tls_allow_invalid_certificates, v.boolean()),
        "tlsAllowInvalidHostnames" => set(&mut cs.tls_allow_invalid_hostnames, v.boolean()),
        "tlsInsecure" => set(&mut cs.tls_insecure, v.boolean()),
        "tlsDisableOCSPEndpointCheck" => set(&mut cs.tls_disable_ocsp_endpoint_check, v.boolean()),
        "tlsDisableCertificateRevocationCheck" => set(&mut cs.tls_disable_certificate_revocation_check, v.boolean()),
        "tls" | "ssl" => {
            if let Some(b) = v.boolean() {
                state.tls_values.push(b);
                cs.tls = Some(b);
            }
        }
        "tlsCAFile" => set(&mut cs.tls_ca_file, v.non_empty().map(PathBuf::from)),
        "tlsCertificateKeyFile" => set(&mut cs.tls_certificate_key_file, v.non_empty().map(PathBuf::from)),
        // An empty key file password is a legitimate (if unwise) value.
        "tlsCertificateKeyFilePassword" => cs.tls_certificate_key_file_password = Some(value.to_owned()),
        "appName" => match v.non_empty() {
            Some(s) if s.len() > MAX_APP_NAME_BYTES => {
                v.invalid(&format!("it must be at most {MAX_APP_NAME_BYTES} bytes"))
            }
            s => set(&mut cs.app_name, s),
        },
        "replicaSet" => set(&mut cs.replica_set, v.non_empty()),
        "readConcernLevel" => set(&mut cs.read_concern_level, v.non_empty()),
        "w" => set(&mut cs.w, v.acknowledgment()),
        "readPreference" => match v.non_empty() {
            None => {}
            Some(s) => match ReadPreferenceMode::parse(&s) {
                Some(mode) => cs.read_preference = Some(mode),
                None => v.invalid("expected primary, primaryPreferred, secondary, secondaryPreferred or nearest"),
            },
        },
        "readPreferenceTags" => match v.tag_set() {
            Some(tags) => cs.read_preference_tags.get_or_insert_with(Vec::new).push(tags),
            None => state.tags_invalid = true,
        },
        "compressors" => set(&mut cs.compressors, v.compressors()),
        "serverMonitoringMode" => set(&mut cs.server_monitoring_mode, v.monitoring_mode()),
        "authSource" => {
            if value.is_empty() {
                return Err(Error::invalid_argument("authSource must not be empty"));
            }
            cs.auth_source = Some(value.to_owned());
        }
        "authMechanism" => cs.auth_mechanism = Some(AuthMechanism::parse(value)?),
        "authMechanismProperties" => set(&mut cs.auth_mechanism_properties, v.mechanism_properties()?),
        "srvServiceName" | "srvMaxHosts" => {
            return Err(Error::invalid_argument(format!(
                "option '{name}' is only valid in mongodb+srv:// connection strings"
            )))
        }
        _ => unreachable_option(cs, name),
    }
    Ok(())
}

/// A name in [`KNOWN`] without a branch in [`apply`]: a bug, but not worth a panic.
fn unreachable_option(cs: &mut ConnectionString, name: &str) {
    cs.warnings.push(format!(
        "option '{name}' is recognised but not handled by mongopool (a bug)"
    ));
}

fn set<T>(field: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *field = value;
    }
}

/// The checks that involve more than one option.
fn finish(cs: &mut ConnectionString, state: &State) -> Result<()> {
    let err = |m: String| Err(Error::invalid_argument(m));
    if state.tags_invalid {
        cs.read_preference_tags = None;
    }
    if state.tls_values.contains(&true) && state.tls_values.contains(&false) {
        return err("options 'tls' and 'ssl' conflict: all occurrences must have the same value".into());
    }
    for (a, b) in TLS_CONFLICTS {
        if state.seen.contains(a) && state.seen.contains(b) {
            return err(format!("options '{a}' and '{b}' must not both be given"));
        }
    }
    if cs.direct_connection == Some(true) && cs.hosts.len() > 1 {
        return err("directConnection=true cannot be used with more than one host".into());
    }
    if cs.load_balanced == Some(true) {
        if cs.hosts.len() > 1 {
            return err("loadBalanced=true cannot be used with more than one host".into());
        }
        if cs.replica_set.is_some() {
            return err("loadBalanced=true cannot be used with replicaSet".into());
        }
        if cs.direct_connection == Some(true) {
            return err("loadBalanced=true cannot be used with directConnection=true".into());
        }
    }
    if let (Some(min), Some(max)) = (cs.min_pool_size, cs.max_pool_size) {
        if max > 0 && min > max {
            return err(format!(
                "minPoolSize ({min}) must not be greater than maxPoolSize ({max})"
            ));
        }
    }
    // Server selection spec: mode "primary" takes neither tags nor a staleness bound.
    if cs.read_preference.unwrap_or(ReadPreferenceMode::Primary) == ReadPreferenceMode::Primary {
        if cs.read_preference_tags.iter().flatten().any(|t| !t.is_empty()) {
            return err("readPreferenceTags cannot be used with readPreference=primary".into());
        }
        if cs.max_staleness.is_some() {
            return err("maxStalenessSeconds cannot be used with readPreference=primary".into());
        }
    }
    Ok(())
}
