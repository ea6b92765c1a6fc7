//! The authority part of a connection string: user information and host identifiers.
//!
//! Error messages here never echo the user information, and echo a host only when it passed
//! validation: a mistyped URI can put a password where a host or port is expected.

use std::net::Ipv6Addr;

use super::percent;
use crate::address::{ServerAddress, DEFAULT_PORT};
use crate::error::{Error, Result};

/// A user name and optional password, percent-decoded, plus the encoded user name for
/// `redacted()`.
pub(crate) struct UserInfo {
    pub(crate) username: String,
    pub(crate) password: Option<String>,
    pub(crate) raw_username: String,
}

/// Parses `user[:password]` (the text before the last '@' of the authority).
pub(crate) fn parse_userinfo(raw: &str) -> Result<UserInfo> {
    let must_encode = |what: &str| {
        Error::invalid_argument(format!(
            "connection string user information {what}; the username and password must be \
             URL encoded (percent-encode '@' as %40, ':' as %3A, '/' as %2F and '%' as %25)"
        ))
    };
    if raw.contains('@') {
        return Err(must_encode("contains an unescaped '@'"));
    }
    let (raw_user, raw_pass) = match raw.split_once(':') {
        Some((_, pass)) if pass.contains(':') => return Err(must_encode("contains more than one unescaped ':'")),
        Some((user, pass)) => (user, Some(pass)),
        None => (raw, None),
    };
    let decode = |part: &str, what: &str| {
        percent::decode(part).map_err(|e| must_encode(&format!("has an invalid {what}: {}", e.describe())))
    };
    Ok(UserInfo {
        username: decode(raw_user, "username")?,
        password: raw_pass.map(|p| decode(p, "password")).transpose()?,
        raw_username: raw_user.to_owned(),
    })
}

/// Parses the comma-separated host identifiers.
pub(crate) fn parse_hosts(raw: &str) -> Result<Vec<ServerAddress>> {
    if raw.is_empty() {
        return Err(Error::invalid_argument("connection string has no host"));
    }
    raw.split(',')
        .enumerate()
        .map(|(i, host)| parse_host(host, i + 1))
        .collect()
}

fn parse_host(raw: &str, n: usize) -> Result<ServerAddress> {
    let bad = |why: &str| Error::invalid_argument(format!("invalid host #{n} in connection string: {why}"));
    if raw.is_empty() {
        return Err(bad("empty host"));
    }
    let decoded = percent::decode(raw).map_err(|e| bad(e.describe()))?;
    // Unix domain sockets arrive percent-encoded and end in ".sock" (connection-string.md).
    if decoded.ends_with(".sock") && decoded.contains('/') {
        if decoded.chars().any(char::is_control) {
            return Err(bad("the socket path contains a control character"));
        }
        return Ok(ServerAddress::unix(decoded));
    }
    let (host, port) = if let Some(rest) = decoded.strip_prefix('[') {
        let (literal, after) = rest
            .split_once(']')
            .ok_or_else(|| bad("missing ']' after an IPv6 literal"))?;
        if literal.parse::<Ipv6Addr>().is_err() {
            return Err(bad("the text between '[' and ']' is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| bad("unexpected text after ']'"))?),
        };
        (literal, port)
    } else {
        let (host, port) = match decoded.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (decoded.as_str(), None),
        };
        if host.contains(':') {
            return Err(bad(
                "an IPv6 literal must be enclosed in '[' and ']' (or there is a stray ':')",
            ));
        }
        if host.is_empty() {
            return Err(bad("empty host name"));
        }
        if host.contains('/') {
            return Err(bad("a Unix domain socket path must end in \".sock\""));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "?#@[]%\\,".contains(c))
        {
            return Err(bad("the host name contains a character that is not allowed"));
        }
        (host, port)
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => parse_port(p).ok_or_else(|| {
            Error::invalid_argument(format!(
                "invalid port for host {host:?} in connection string: \
                 the port must be an integer from 1 to 65535"
            ))
        })?,
    };
    Ok(ServerAddress::tcp(host, port))
}

/// Digits only (`u16::from_str` would take a leading '+'), 1 to 65535.
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&n| n != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms() {
        let hosts = parse_hosts("a.b,[::1]:27018,%2Ftmp%2Fm.sock,rel%2Fx.sock,m.sock:5").unwrap();
        assert_eq!(
            hosts,
            vec![
                ServerAddress::tcp("a.b", 27017),
                ServerAddress::tcp("::1", 27018),
                ServerAddress::unix("/tmp/m.sock"),
                ServerAddress::unix("rel/x.sock"),
                ServerAddress::tcp("m.sock", 5),
            ]
        );
    }

    #[test]
    fn bad_ports_do_not_echo_the_port_text() {
        // "mongodb://user:secret" (forgotten "@host") must not leak "secret".
        let err = parse_hosts("user:secret").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
        for bad in [
            "h:0",
            "h:65536",
            "h:+1",
            "h:",
            "h:-1",
            "[::1]:x",
            "h:99999999999999999999",
        ] {
            assert!(parse_hosts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn userinfo_rules() {
        let u = parse_userinfo("a%40b:p%3Aw").unwrap();
        assert_eq!((u.username.as_str(), u.password.as_deref()), ("a@b", Some("p:w")));
        assert_eq!(parse_userinfo("a:").unwrap().password.as_deref(), Some(""));
        assert_eq!(parse_userinfo("a").unwrap().password, None);
        for bad in ["a:b:c", "a@b", "a%zz", "a:b%", "a:%FF"] {
            let err = parse_userinfo(bad).err().expect(bad).to_string();
            assert!(!err.contains(bad), "{err}");
        }
    }
}
