//! Percent-decoding (RFC 3986 section 2.1).

/// Why a percent-encoded string could not be decoded. Deliberately carries no part of the input:
/// callers decode passwords too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecodeError {
    /// A '%' not followed by two hex digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl DecodeError {
    /// A short explanation for error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            DecodeError::BadEscape => "a '%' must be followed by two hexadecimal digits",
            DecodeError::NotUtf8 => "the percent-decoded text is not valid UTF-8",
        }
    }
}

/// Decodes `%XX` escapes. `+` is left alone: the connection string spec only recommends `%20`
/// for spaces, and `+` is a legal literal in user names and passwords.
pub(crate) fn decode(input: &str) -> Result<String, DecodeError> {
    if !input.contains('%') {
        return Ok(input.to_owned());
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
            let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(DecodeError::BadEscape),
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_rejects() {
        assert_eq!(decode("a%2Fb%3a").unwrap(), "a/b:");
        assert_eq!(decode("a+b").unwrap(), "a+b");
        assert_eq!(decode("b%C3%BCcher").unwrap(), "bücher");
        assert_eq!(decode("%"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%4"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%zz"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%é1"), Err(DecodeError::BadEscape));
        assert_eq!(decode("%FF"), Err(DecodeError::NotUtf8));
    }
}
