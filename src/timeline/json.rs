//! The little JSON the timeline format needs: writing escaped strings, and reading one flat
//! object per line (string, number, boolean and null values; no nesting). Hand-written so the
//! library needs no JSON dependency; every malformed input is a typed error, never a panic.

use super::error::ParseErrorKind;

/// Appends `s` to `out` as a JSON string literal, quotes included (RFC 8259 section 7).
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A value of a flat JSON object. Numbers keep their text so that integers above 2^53 survive.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    String(String),
    Number(String),
    Bool(bool),
    Null,
}

/// Parses a line holding exactly one flat JSON object into its fields, in order.
pub(crate) fn parse_object(line: &str) -> Result<Vec<(String, Value)>, ParseErrorKind> {
    let mut p = Parser {
        s: line.as_bytes(),
        pos: 0,
    };
    p.skip_ws();
    p.expect(b'{', "expected '{'")?;
    let mut fields: Vec<(String, Value)> = Vec::new();
    p.skip_ws();
    if p.peek() == Some(b'}') {
        p.pos += 1;
    } else {
        loop {
            p.skip_ws();
            let key = p.string()?;
            if fields.iter().any(|(k, _)| *k == key) {
                return Err(ParseErrorKind::DuplicateField(key));
            }
            p.skip_ws();
            p.expect(b':', "expected ':' after a field name")?;
            p.skip_ws();
            let value = p.value()?;
            fields.push((key, value));
            p.skip_ws();
            match p.next() {
                Some(b',') => continue,
                Some(b'}') => break,
                _ => return Err(p.error_before("expected ',' or '}'")),
            }
        }
    }
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(p.error("unexpected text after the object"));
    }
    Ok(fields)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// An error at the current position (1-based byte column).
    fn error(&self, message: &'static str) -> ParseErrorKind {
        ParseErrorKind::Json {
            column: self.pos + 1,
            message,
        }
    }

    /// An error at the byte just consumed.
    fn error_before(&self, message: &'static str) -> ParseErrorKind {
        ParseErrorKind::Json {
            column: self.pos.max(1),
            message,
        }
    }

    fn expect(&mut self, byte: u8, message: &'static str) -> Result<(), ParseErrorKind> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(message))
        }
    }

    fn value(&mut self) -> Result<Value, ParseErrorKind> {
        match self.peek() {
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'{' | b'[') => Err(self.error("nested objects and arrays are not part of the timeline format")),
            None => Err(self.error("expected a value, found the end of the line")),
            Some(_) => Err(self.error("expected a value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, ParseErrorKind> {
        if self.s[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("expected true, false or null"))
        }
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` (RFC 8259 section 6).
    fn number(&mut self) -> Result<Value, ParseErrorKind> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.next() {
            Some(b'0') => {}
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error_before("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("expected a digit after '.'"));
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error("expected a digit in the exponent"));
            }
            self.digits();
        }
        // Only ASCII was consumed, so the slice is valid UTF-8.
        let text = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        Ok(Value::Number(text))
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }

    fn string(&mut self) -> Result<String, ParseErrorKind> {
        self.expect(b'"', "expected '\"'")?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => {
                    let c = match self.next() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => self.unicode_escape()?,
                        _ => return Err(self.error_before("invalid escape sequence")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                Some(b) if b < 0x20 => return Err(self.error_before("control character in a string")),
                Some(b) => out.push(b),
            }
        }
        // The input is a &str and escapes were pushed as UTF-8, so this cannot fail; map the
        // impossible case to an error anyway rather than panic.
        String::from_utf8(out).map_err(|_| self.error("invalid UTF-8 in a string"))
    }

    /// The four hex digits after `\u`, joining a surrogate pair into one character.
    fn unicode_escape(&mut self) -> Result<char, ParseErrorKind> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.next() != Some(b'\\') || self.next() != Some(b'u') {
                    return Err(self.error_before("a high surrogate must be followed by a low surrogate"));
                }
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error_before("a high surrogate must be followed by a low surrogate"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error_before("a lone low surrogate")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.error_before("invalid unicode escape"))
    }

    fn hex4(&mut self) -> Result<u32, ParseErrorKind> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.next() {
                Some(b @ b'0'..=b'9') => b - b'0',
                Some(b @ b'a'..=b'f') => b - b'a' + 10,
                Some(b @ b'A'..=b'F') => b - b'A' + 10,
                _ => return Err(self.error_before("expected four hex digits after \\u")),
            };
            v = v * 16 + u32::from(d);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: &str) -> String {
        let mut line = String::from("{\"k\":");
        write_string(&mut line, s);
        line.push('}');
        match parse_object(&line).unwrap().remove(0).1 {
            Value::String(v) => v,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn strings_round_trip_with_escapes() {
        for s in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "nl\ncr\rtab\t",
            "\u{1}\u{1f}",
            "é ☃ 🦀",
        ] {
            assert_eq!(round_trip(s), s);
        }
        let mut out = String::new();
        write_string(&mut out, "a\"b\\c\n\u{7}");
        assert_eq!(out, r#""a\"b\\c\n\u0007""#);
    }

    #[test]
    fn parses_flat_objects() {
        let fields = parse_object(r#" { "a" : "x\u00e9\ud83e\udd80" , "n": -1.5e3, "b": true, "f": false, "z": null, "i": 18446744073709551615 } "#)
            .unwrap();
        assert_eq!(
            fields,
            vec![
                ("a".into(), Value::String("xé🦀".into())),
                ("n".into(), Value::Number("-1.5e3".into())),
                ("b".into(), Value::Bool(true)),
                ("f".into(), Value::Bool(false)),
                ("z".into(), Value::Null),
                ("i".into(), Value::Number("18446744073709551615".into())),
            ]
        );
        assert_eq!(parse_object("{}").unwrap(), vec![]);
    }

    #[test]
    fn malformed_objects_are_errors_with_a_column() {
        let cases = [
            ("", 1),
            ("[1]", 1),
            ("{", 2),
            (r#"{"a"}"#, 5),
            (r#"{"a":}"#, 6),
            (r#"{"a":1,}"#, 8),
            (r#"{"a":01}"#, 7),
            (r#"{"a":1.}"#, 8),
            (r#"{"a":1e}"#, 8),
            (r#"{"a":-}"#, 7),
            (r#"{"a":tru}"#, 6),
            (r#"{"a":{"b":1}}"#, 6),
            (r#"{"a":[1]}"#, 6),
            (r#"{"a":"x"} x"#, 11),
            (r#"{"a":"\q"}"#, 8),
            (r#"{"a":"\u12"}"#, 11),
            (r#"{"a":"\ud800"}"#, 13),
            (r#"{"a":"\udc00"}"#, 12),
            ("{\"a\":\"\u{1}\"}", 7),
            (r#"{"a":"open"#, 11),
            (r#"{"a" 1}"#, 6),
            (r#"{"a":1 "b":2}"#, 8),
        ];
        for (input, column) in cases {
            match parse_object(input) {
                Err(ParseErrorKind::Json { column: c, .. }) => assert_eq!(c, column, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        assert_eq!(
            parse_object(r#"{"a":1,"a":2}"#),
            Err(ParseErrorKind::DuplicateField("a".into()))
        );
    }
}
