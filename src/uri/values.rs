//! Parsing one option value into its type. Invalid values are reported as warnings and
//! yield `None`, so the option keeps its earlier value (connection-string.md, "Values").

use std::collections::BTreeMap;
use std::time::Duration;

use super::options::{is_secret, printable_key};
use super::percent;
use super::types::{Acknowledgment, ServerMonitoringMode, TagSet};
use crate::error::{Error, Result};

/// Compressor names the OP_COMPRESSED spec defines.
const COMPRESSORS: &[&str] = &["snappy", "zlib", "zstd"];

/// `authMechanismProperties` names, canonical spelling (matched case-insensitively, auth.md).
const MECHANISM_PROPERTIES: &[&str] = &[
    "SERVICE_NAME",
    "CANONICALIZE_HOST_NAME",
    "SERVICE_REALM",
    "SERVICE_HOST",
    "AWS_SESSION_TOKEN",
    "ENVIRONMENT",
    "TOKEN_RESOURCE",
    "ALLOWED_HOSTS",
];

/// One option value being parsed; the helpers warn and return `None` when it is invalid.
pub(crate) struct Value<'a> {
    pub(crate) name: &'static str,
    pub(crate) value: &'a str,
    pub(crate) warnings: &'a mut Vec<String>,
}

impl Value<'_> {
    pub(crate) fn invalid(&mut self, why: &str) {
        // The value is quoted only for options that cannot hold secrets.
        let shown = if is_secret(self.name) || self.value.len() > 100 {
            String::new()
        } else {
            format!(" {:?}", self.value)
        };
        self.warnings.push(format!(
            "invalid value{shown} for option '{}' is ignored: {why}",
            self.name
        ));
    }

    pub(crate) fn non_empty(&mut self) -> Option<String> {
        if self.value.is_empty() {
            self.invalid("the value is empty");
            return None;
        }
        Some(self.value.to_owned())
    }

    pub(crate) fn int_in(&mut self, min: i64, max: i64) -> Option<i64> {
        if self.value.is_empty() {
            self.invalid("the value is empty");
            return None;
        }
        match self.value.parse::<i64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            Ok(_) => {
                self.invalid(&format!("expected an integer from {min} to {max}"));
                None
            }
            Err(_) => {
                self.invalid("expected an integer");
                None
            }
        }
    }

    pub(crate) fn u32_at_least(&mut self, min: u32) -> Option<u32> {
        self.int_in(i64::from(min), i64::from(i32::MAX))
            .and_then(|n| u32::try_from(n).ok())
    }

    pub(crate) fn millis_at_least(&mut self, min: u32) -> Option<Duration> {
        self.u32_at_least(min).map(|ms| Duration::from_millis(u64::from(ms)))
    }

    pub(crate) fn boolean(&mut self) -> Option<bool> {
        if self.value.is_empty() {
            self.invalid("the value is empty");
            None
        } else if self.value.eq_ignore_ascii_case("true") {
            Some(true)
        } else if self.value.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.invalid("expected \"true\" or \"false\"");
            None
        }
    }

    pub(crate) fn acknowledgment(&mut self) -> Option<Acknowledgment> {
        let s = self.non_empty()?;
        if s.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return self.u32_at_least(0).map(Acknowledgment::Nodes);
        }
        Some(if s == "majority" {
            Acknowledgment::Majority
        } else {
            Acknowledgment::Custom(s)
        })
    }

    pub(crate) fn monitoring_mode(&mut self) -> Option<ServerMonitoringMode> {
        let mode = [
            ServerMonitoringMode::Poll,
            ServerMonitoringMode::Stream,
            ServerMonitoringMode::Auto,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(self.value));
        match mode {
            None => self.invalid("expected poll, stream or auto"),
            Some(ServerMonitoringMode::Poll) => {}
            Some(m) => self.warnings.push(format!(
                "serverMonitoringMode={} is accepted, but mongopool only implements the polling \
                 protocol and will poll",
                m.as_str()
            )),
        }
        mode
    }

    /// A comma-separated list, elements percent-decoded after splitting.
    pub(crate) fn list(&mut self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for raw in self.value.split(',') {
            match percent::decode(raw) {
                Ok(s) => out.push(s),
                Err(e) => {
                    self.invalid(e.describe());
                    return None;
                }
            }
        }
        Some(out)
    }

    pub(crate) fn compressors(&mut self) -> Option<Vec<String>> {
        if self.value.is_empty() {
            self.invalid("the value is empty");
            return None;
        }
        let mut out = Vec::new();
        for name in self.list()? {
            let name = name.to_ascii_lowercase();
            if COMPRESSORS.contains(&name.as_str()) {
                out.push(name);
            } else {
                self.warnings.push(format!(
                    "unknown compressor {} in option 'compressors' is ignored; known: {}",
                    printable_key(&name),
                    COMPRESSORS.join(", ")
                ));
            }
        }
        Some(out)
    }

    /// `k:v,k:v` pairs, split on the first ':' so values may contain ':'.
    pub(crate) fn pairs(&mut self) -> Vec<std::result::Result<(String, String), &'static str>> {
        self.value
            .split(',')
            .map(|pair| {
                let (k, v) = pair
                    .split_once(':')
                    .ok_or("expected key:value pairs separated by ','")?;
                let k = percent::decode(k).map_err(percent::DecodeError::describe)?;
                let v = percent::decode(v).map_err(percent::DecodeError::describe)?;
                if k.is_empty() {
                    return Err("a key is empty");
                }
                Ok((k, v))
            })
            .collect()
    }

    /// One `readPreferenceTags` occurrence; an empty value is the "any server" tag set.
    pub(crate) fn tag_set(&mut self) -> Option<TagSet> {
        if self.value.is_empty() {
            return Some(TagSet::new());
        }
        let mut tags = TagSet::new();
        for pair in self.pairs() {
            match pair {
                Ok((k, v)) => {
                    tags.insert(k, v);
                }
                Err(why) => {
                    self.invalid(&format!("{why}; all readPreferenceTags are ignored"));
                    return None;
                }
            }
        }
        Some(tags)
    }

    /// `authMechanismProperties`. A malformed pair is dropped with a warning and the others
    /// kept. A value with an encoded ',' is kept but warned about: auth.md says such values
    /// (e.g. a TOKEN_RESOURCE) must not be given in a connection string.
    pub(crate) fn mechanism_properties(&mut self) -> Result<Option<BTreeMap<String, String>>> {
        if self.value.is_empty() {
            self.invalid("the value is empty");
            return Ok(None);
        }
        let mut props = BTreeMap::new();
        for pair in self.pairs() {
            match pair {
                Ok((k, v)) => {
                    let key = MECHANISM_PROPERTIES
                        .iter()
                        .find(|p| p.eq_ignore_ascii_case(&k))
                        .map_or(k, |p| (*p).to_owned());
                    if key == "ALLOWED_HOSTS" {
                        return Err(Error::invalid_argument(
                            "authMechanismProperties: ALLOWED_HOSTS must not be given in a connection string",
                        ));
                    }
                    if v.contains(',') {
                        self.warnings.push(format!(
                            "authMechanismProperties: the value of {} contains ','; values containing \
                             ',' should be set in code, not in the connection string",
                            printable_key(&key)
                        ));
                    }
                    props.insert(key, v);
                }
                Err(why) => self.warnings.push(format!(
                    "authMechanismProperties: a malformed property is ignored: {why}"
                )),
            }
        }
        Ok(Some(props))
    }
}
