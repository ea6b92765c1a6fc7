//! Parsing of the SCRAM server messages (RFC 5802 section 7) and escaping of user names.
//!
//! The parsers take arbitrary bytes and never panic, so they can be fuzzed directly. Malformed
//! messages are [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) errors; a server that reports
//! an error (`e=`) or demands an extension (`m=`) gives an
//! [`ErrorKind::Authentication`](crate::ErrorKind::Authentication) error. Messages never echo
//! the bytes received.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::error::{Error, Result};

/// The server's first message: `r=<nonce>,s=<salt>,i=<iterations>[,extensions]`.
///
/// ```
/// use mongopool::auth::parse_server_first;
///
/// let first = parse_server_first(b"r=clientSERVER,s=AAECAw==,i=15000")?;
/// assert_eq!((first.nonce(), first.salt(), first.iterations()), ("clientSERVER", &[0u8, 1, 2, 3][..], 15000));
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFirst {
    raw: String,
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

impl ServerFirst {
    /// The combined nonce: the client's nonce followed by the server's.
    ///
    /// ```
    /// let first = mongopool::auth::parse_server_first(b"r=abc+def,s=AAEC,i=4096")?;
    /// assert_eq!(first.nonce(), "abc+def");
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The decoded salt.
    ///
    /// ```
    /// let first = mongopool::auth::parse_server_first(b"r=abc,s=AAEC,i=4096")?;
    /// assert_eq!(first.salt(), [0, 1, 2]);
    /// // A salt that is not base64 is a protocol error.
    /// assert!(mongopool::auth::parse_server_first(b"r=abc,s=*,i=4096").is_err());
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The iteration count for `Hi()`, as sent (not yet checked against the minimum).
    ///
    /// ```
    /// let first = mongopool::auth::parse_server_first(b"r=abc,s=AAEC,i=1")?;
    /// // Parsed as sent; the minimum of 4096 is enforced when the client answers.
    /// assert_eq!(first.iterations(), 1);
    /// # Ok::<(), mongopool::Error>(())
    /// ```
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The message as received; it is part of the AuthMessage.
    pub(crate) fn raw(&self) -> &str {
        &self.raw
    }
}

/// The server's final message.
///
/// ```
/// use mongopool::auth::{parse_server_final, ServerFinal};
///
/// match parse_server_final(b"e=other-error")? {
///     ServerFinal::Error(value) => assert_eq!(value, "other-error"),
///     ServerFinal::Verifier(_) => unreachable!("the server sent an error"),
/// }
/// # Ok::<(), mongopool::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerFinal {
    /// `v=`: the decoded ServerSignature, proof that the server knows the password.
    Verifier(Vec<u8>),
    /// `e=`: the server's error value, e.g. `invalid-proof`.
    Error(String),
}

/// Parses a server-first-message. Never panics.
///
/// ```
/// let first = mongopool::auth::parse_server_first(b"r=abcdef,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
/// assert_eq!(first.nonce(), "abcdef");
/// assert_eq!(first.iterations(), 4096);
/// assert!(mongopool::auth::parse_server_first(b"r=abc,i=4096").is_err());
/// ```
pub fn parse_server_first(bytes: &[u8]) -> Result<ServerFirst> {
    const WHAT: &str = "server-first-message";
    let text = std::str::from_utf8(bytes).map_err(|_| malformed(WHAT, "not UTF-8"))?;
    let attrs = attributes(text, WHAT)?;
    match attrs.first() {
        Some(('m', _)) => {
            return Err(Error::authentication(
                "the server requires a SCRAM extension (m=) that mongopool does not support",
            ))
        }
        Some(('e', value)) => return Err(server_error(value)),
        _ => {}
    }
    let [('r', nonce), ('s', salt), ('i', iterations), ..] = attrs.as_slice() else {
        return Err(malformed(WHAT, "expected the attributes r, s and i in that order"));
    };
    if nonce.is_empty() || !nonce.bytes().all(is_nonce_char) {
        return Err(malformed(WHAT, "the nonce is empty or has characters RFC 5802 forbids"));
    }
    let salt = BASE64
        .decode(salt)
        .map_err(|_| malformed(WHAT, "the salt is not valid base64"))?;
    if salt.is_empty() {
        return Err(malformed(WHAT, "the salt is empty"));
    }
    Ok(ServerFirst {
        raw: text.to_owned(),
        nonce: (*nonce).to_owned(),
        salt,
        iterations: parse_iterations(iterations)?,
    })
}

/// Parses a server-final-message. Never panics.
///
/// ```
/// use mongopool::auth::{parse_server_final, ServerFinal};
/// assert_eq!(parse_server_final(b"v=AAEC").unwrap(), ServerFinal::Verifier(vec![0, 1, 2]));
/// assert_eq!(parse_server_final(b"e=invalid-proof").unwrap(), ServerFinal::Error("invalid-proof".into()));
/// assert!(parse_server_final(b"").is_err());
/// ```
pub fn parse_server_final(bytes: &[u8]) -> Result<ServerFinal> {
    const WHAT: &str = "server-final-message";
    let text = std::str::from_utf8(bytes).map_err(|_| malformed(WHAT, "not UTF-8"))?;
    match attributes(text, WHAT)?.first() {
        Some(('v', signature)) => {
            let signature = BASE64
                .decode(signature)
                .map_err(|_| malformed(WHAT, "the verifier is not valid base64"))?;
            if signature.is_empty() {
                return Err(malformed(WHAT, "the verifier is empty"));
            }
            Ok(ServerFinal::Verifier(signature))
        }
        Some(('e', value)) => Ok(ServerFinal::Error((*value).to_owned())),
        _ => Err(malformed(WHAT, "expected a verifier (v=) or an error (e=)")),
    }
}

/// Escapes a user name for `n=`: `=` becomes `=3D` and `,` becomes `=2C` (RFC 5802 5.1).
pub(crate) fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

/// An authentication error for a server's `e=` value; the value is shortened and limited to
/// printable ASCII so a hostile server cannot flood or corrupt a log line.
pub(crate) fn server_error(value: &str) -> Error {
    let value: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    Error::authentication(format!("the server rejected the SCRAM conversation: {value}"))
}

/// Splits `a=value,b=value,...` into (letter, value) pairs, rejecting empty input, attributes that
/// are not a single ASCII letter followed by `=`, and repeated attributes.
fn attributes<'a>(text: &'a str, what: &str) -> Result<Vec<(char, &'a str)>> {
    if text.is_empty() {
        return Err(malformed(what, "empty message"));
    }
    let mut attrs: Vec<(char, &str)> = Vec::new();
    for part in text.split(',') {
        let bytes = part.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_alphabetic() || bytes[1] != b'=' {
            return Err(malformed(what, "an attribute is not of the form <letter>=<value>"));
        }
        let name = char::from(bytes[0]);
        if attrs.iter().any(|(seen, _)| *seen == name) {
            return Err(malformed(what, "an attribute appears more than once"));
        }
        attrs.push((name, &part[2..]));
    }
    Ok(attrs)
}

/// Printable ASCII other than `,` (RFC 5802 `printable`).
fn is_nonce_char(b: u8) -> bool {
    (0x21..=0x7e).contains(&b) && b != b','
}

/// A positive decimal number without sign or leading zeros (RFC 5802 `posit-number`).
fn parse_iterations(text: &str) -> Result<u32> {
    const WHAT: &str = "server-first-message";
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) || text.starts_with('0') {
        return Err(malformed(WHAT, "the iteration count is not a positive number"));
    }
    text.parse()
        .map_err(|_| malformed(WHAT, "the iteration count is too large"))
}

fn malformed(what: &str, why: &str) -> Error {
    Error::protocol(format!("malformed SCRAM {what}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn is_protocol(r: Result<impl std::fmt::Debug>) -> bool {
        matches!(r.map_err(|e| e.kind().clone()), Err(ErrorKind::Protocol { .. }))
    }

    #[test]
    fn server_first_with_extension_after_i_is_accepted() {
        let f = parse_server_first(b"r=abc,s=c2FsdA==,i=4096,x=ext").unwrap();
        assert_eq!(f.salt(), b"salt");
        assert_eq!(f.raw(), "r=abc,s=c2FsdA==,i=4096,x=ext");
    }

    #[test]
    fn malformed_server_first_messages_are_protocol_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b",",
            b"r=abc",
            b"r=abc,s=c2FsdA==",
            b"r=abc,s=c2FsdA==,i=",
            b"r=abc,s=c2FsdA==,i=-1",
            b"r=abc,s=c2FsdA==,i=+4096",
            b"r=abc,s=c2FsdA==,i=04096",
            b"r=abc,s=c2FsdA==,i=0",
            b"r=abc,s=c2FsdA==,i=99999999999",
            b"r=abc,s=c2FsdA==,i=4096,r=abc",
            b"r=abc,s=c2FsdA==,i=4096,s=c2FsdA==",
            b"r=abc,s=c2FsdA==,i=4096,",
            b"s=c2FsdA==,r=abc,i=4096",
            b"r=,s=c2FsdA==,i=4096",
            b"r=a\x7fc,s=c2FsdA==,i=4096",
            b"r=abc,s=,i=4096",
            b"r=abc,s=not*base64,i=4096",
            b"r=abc,s=c2FsdA=,i=4096",
            b"r=abc,s=c2FsdA==,i=4096\xff",
            b"\xff\xfe",
            b"rr=abc,s=c2FsdA==,i=4096",
            b"1=abc,s=c2FsdA==,i=4096",
        ];
        for case in cases {
            assert!(
                is_protocol(parse_server_first(case)),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn mandatory_extension_and_server_error_are_authentication_errors() {
        for case in [&b"m=ext,r=abc,s=c2FsdA==,i=4096"[..], b"e=other-error"] {
            let err = parse_server_first(case).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
        }
    }

    #[test]
    fn server_final_cases() {
        assert!(is_protocol(parse_server_final(b"")));
        assert!(is_protocol(parse_server_final(b"v=")));
        assert!(is_protocol(parse_server_final(b"v=***")));
        assert!(is_protocol(parse_server_final(b"x=abc")));
        assert!(is_protocol(parse_server_final(b"v=AAEC,v=AAEC")));
        assert!(is_protocol(parse_server_final(b"\xc3")));
        assert_eq!(
            parse_server_final(b"v=AAEC,x=ext").unwrap(),
            ServerFinal::Verifier(vec![0, 1, 2])
        );
    }

    #[test]
    fn server_error_text_is_sanitised() {
        let err = server_error(&format!("bad\n\u{1b}[31m{}", "x".repeat(500)));
        let text = err.to_string();
        assert!(!text.contains('\n') && !text.contains('\u{1b}'));
        assert!(text.len() < 200, "{text}");
    }

    #[test]
    fn username_escaping() {
        assert_eq!(escape_username("a=b,c"), "a=3Db=2Cc");
        assert_eq!(escape_username("user"), "user");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A small deterministic fuzz: every prefix and single-byte mutation of valid messages.
        let seeds: [&[u8]; 3] = [
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
            b"e=invalid-proof",
        ];
        // Random short inputs over an alphabet rich in SCRAM syntax (xorshift, fixed seed).
        let alphabet = b"rsievmx=,+/09AZaz\x00\x7f\x80\xc3\xff";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut lengths = 0u64;
        for _ in 0..20_000 {
            let len = next() % 40;
            lengths += len;
            let input: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let _ = parse_server_first(&input);
            let _ = parse_server_final(&input);
        }
        assert!(lengths > 100_000, "the generator must vary the inputs");
        for seed in seeds {
            for end in 0..=seed.len() {
                let _ = parse_server_first(&seed[..end]);
                let _ = parse_server_final(&seed[..end]);
            }
            for i in 0..seed.len() {
                for b in [0u8, b',', b'=', 0x80, 0xff, b'0'] {
                    let mut m = seed.to_vec();
                    m[i] = b;
                    let _ = parse_server_first(&m);
                    let _ = parse_server_final(&m);
                }
            }
        }
    }
}
