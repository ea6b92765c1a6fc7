//! SASLprep (RFC 4013) of SCRAM-SHA-256 passwords.
//!
//! The work is done by the `stringprep` crate, which treats the input as a "stored string"
//! (unassigned code points are prohibited). This wrapper only maps its error: the crate's own
//! message names the offending character, which is part of the password and so must not reach an
//! error or a log.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Prepares `password` with SASLprep, as RFC 5802 requires for SCRAM-SHA-256.
pub(crate) fn saslprep(password: &str) -> Result<Cow<'_, str>> {
    stringprep::saslprep(password).map_err(|_| {
        Error::authentication(
            "the password contains characters that SASLprep (RFC 4013) prohibits, so it cannot \
             be used with SCRAM-SHA-256",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn rfc4013_examples() {
        // RFC 4013 section 3, examples 1-4 (5 and 6 are the error cases below).
        assert_eq!(saslprep("I\u{00AD}X").unwrap(), "IX", "SOFT HYPHEN mapped to nothing");
        assert_eq!(saslprep("user").unwrap(), "user", "no transformation");
        assert_eq!(saslprep("USER").unwrap(), "USER", "case preserved");
        assert_eq!(
            saslprep("\u{00AA}").unwrap(),
            "a",
            "output is NFKC, input in ISO 8859-1"
        );
        assert_eq!(saslprep("\u{2168}").unwrap(), "IX", "output is NFKC");
    }

    #[test]
    fn non_ascii_space_maps_to_space() {
        assert_eq!(saslprep("a\u{00A0}b").unwrap(), "a b");
    }

    #[test]
    fn prohibited_characters_are_authentication_errors_that_do_not_echo_the_input() {
        for bad in ["\u{0007}", "zq\u{0007}xy", "\u{0627}\u{0031}"] {
            let err = saslprep(bad).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::Authentication { .. }), "{err:?}");
            let text = format!("{err} {err:?}");
            assert!(!text.contains(bad), "{text}");
            assert!(!text.contains("zq") && !text.contains('\u{0627}'), "{text}");
        }
    }
}
