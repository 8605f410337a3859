//! The JSON text of GraphQL answers, as `/graphql` sends them and idempotency keys keep them.
//!
//! A project's dashboard answers with some 28 KB of short strings. Written by serde_json
//! through async-graphql's generic `Serialize`, each string was escaped byte by byte and each
//! key and value went through the serializer's machinery: a tenth of the server's CPU per
//! dashboard. This writer walks the value tree itself and copies a string whole when it holds
//! nothing to escape, which is nearly always. Its text is serde_json's, byte for byte (the
//! tests below hold it to that); numbers and errors are still written by serde_json. Two
//! things would make them differ, and the tests would show it: async-graphql's `raw_value`
//! feature (off here), which writes an object holding one raw JSON string as that JSON, and a
//! new serialized field of its `Response`, which is `#[non_exhaustive]`.

use std::collections::BTreeMap;
use std::fmt::Write;

use async_graphql::{Response, Value};

/// The capacity an answer starts with: most fit without growing, a dashboard grows once.
const USUAL_ANSWER_BYTES: usize = 16 * 1024;

/// The answer to a request's operations: one response, or a list of them for a batch.
/// `responses` holds exactly one response unless `is_batch`.
pub fn json(is_batch: bool, responses: &[Response]) -> serde_json::Result<String> {
    debug_assert!(
        is_batch || responses.len() == 1,
        "one response unless a batch"
    );
    let mut out = String::with_capacity(USUAL_ANSWER_BYTES);
    match responses {
        [response] if !is_batch => push_response(&mut out, response)?,
        _ => {
            out.push('[');
            for (at, response) in responses.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                push_response(&mut out, response)?;
            }
            out.push(']');
        }
    }
    Ok(out)
}

/// A response as async-graphql serializes it: `data`, then `extensions` and `errors` when
/// there are any.
fn push_response(out: &mut String, response: &Response) -> serde_json::Result<()> {
    out.push_str("{\"data\":");
    push_value(out, &response.data);
    if !response.extensions.is_empty() {
        out.push_str(",\"extensions\":");
        push_extensions(out, &response.extensions);
    }
    if !response.errors.is_empty() {
        out.push_str(",\"errors\":");
        out.push_str(&serde_json::to_string(&response.errors)?);
    }
    out.push('}');
    Ok(())
}

fn push_extensions(out: &mut String, extensions: &BTreeMap<String, Value>) {
    push_object(
        out,
        extensions.iter().map(|(key, value)| (key.as_str(), value)),
    );
}

/// Recursion is bounded by the depth limit every operation is checked against, and in a `Json`
/// scalar's value (an audit event's row) by the depth of the JSON stored.
fn push_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(true) => out.push_str("true"),
        Value::Boolean(false) => out.push_str("false"),
        // A number's `Display` is its JSON text. Writing to a `String` cannot fail.
        Value::Number(number) => _ = write!(out, "{number}"),
        Value::String(text) => push_string(out, text),
        Value::Enum(name) => push_string(out, name),
        // serde_json writes bytes as a list of numbers.
        Value::Binary(bytes) => push_list(out, bytes.iter(), |out, byte| {
            _ = write!(out, "{byte}");
        }),
        Value::List(items) => push_list(out, items, push_value),
        Value::Object(fields) => {
            push_object(out, fields.iter().map(|(key, field)| (key.as_str(), field)))
        }
    }
}

/// A JSON list of `items`, each written by `push_item`.
fn push_list<T>(
    out: &mut String,
    items: impl IntoIterator<Item = T>,
    mut push_item: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (at, item) in items.into_iter().enumerate() {
        if at > 0 {
            out.push(',');
        }
        push_item(out, item);
    }
    out.push(']');
}

/// A JSON object of `fields`, in their order.
fn push_object<'a>(out: &mut String, fields: impl Iterator<Item = (&'a str, &'a Value)>) {
    out.push('{');
    for (at, (key, field)) in fields.enumerate() {
        if at > 0 {
            out.push(',');
        }
        push_string(out, key);
        out.push(':');
        push_value(out, field);
    }
    out.push('}');
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn push_string(out: &mut String, text: &str) {
    out.push('"');
    if needs_escaping(text.as_bytes()) {
        push_escaped(out, text);
    } else {
        out.push_str(text);
    }
    out.push('"');
}

/// Whether any byte is a quote, a backslash or a control character. Eight bytes are looked at
/// at a time, as one word, and every word is looked at (no early return): most strings of an
/// answer are shorter than sixteen bytes, too short for a byte-wise loop to be vectorized.
fn needs_escaping(bytes: &[u8]) -> bool {
    let Some(last) = bytes.last_chunk::<8>() else {
        return bytes.iter().fold(false, |found, &byte| {
            found | (byte < 0x20) | (byte == b'"') | (byte == b'\\')
        });
    };
    let (words, _) = bytes.as_chunks::<8>();
    // The last eight bytes cover what the whole words leave, overlapping them where the
    // length is not a multiple of eight.
    let found = words.iter().fold(0, |found, word| {
        found | to_escape(u64::from_ne_bytes(*word))
    });
    found | to_escape(u64::from_ne_bytes(*last)) != 0
}

/// Not zero exactly when a byte of `word` is below 0x20, a quote or a backslash. `x - 1`
/// borrows out of a byte's high bit only where the byte is zero or a lower byte borrowed, and
/// the lowest byte that matches never has a lower byte borrowing: so a word is flagged exactly
/// when one of its bytes matches, though which bytes are flagged above that one may be wrong.
/// Bytes from 0x80 (UTF-8 beyond ASCII) have their high bit set, which `!word` clears.
fn to_escape(word: u64) -> u64 {
    const fn each_byte(byte: u8) -> u64 {
        u64::from_ne_bytes([byte; 8])
    }
    const HIGH_BITS: u64 = each_byte(0x80);
    let zero_byte = |word: u64| word.wrapping_sub(each_byte(1)) & !word & HIGH_BITS;
    let below_space = word.wrapping_sub(each_byte(0x20)) & !word & HIGH_BITS;
    below_space | zero_byte(word ^ each_byte(b'"')) | zero_byte(word ^ each_byte(b'\\'))
}

fn push_escaped(out: &mut String, text: &str) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Every byte escaped is ASCII, so `start` and `at` always fall between characters.
    let mut start = 0;
    for (at, byte) in text.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..at]);
        if short.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
        } else {
            out.push_str(short);
        }
        start = at + 1;
    }
    out.push_str(&text[start..]);
}

#[cfg(test)]
mod tests {
    use async_graphql::{ErrorExtensionValues, Name, Number, ServerError};
    use proptest::prelude::*;

    use super::*;

    /// What serde_json writes of async-graphql's `BatchResponse`, which is untagged: the one
    /// response, or the list.
    fn serde_json_text(is_batch: bool, responses: &[Response]) -> String {
        if is_batch {
            serde_json::to_string(responses).unwrap()
        } else {
            serde_json::to_string(&responses[0]).unwrap()
        }
    }

    #[test]
    fn a_byte_to_escape_is_found_wherever_it_stands() {
        for length in 0..=40 {
            let plain = "a".repeat(length);
            assert!(!needs_escaping(plain.as_bytes()), "{plain:?}");
            for at in 0..length {
                for byte in (0u8..0x20).chain([b'"', b'\\']) {
                    let mut text = plain.clone().into_bytes();
                    text[at] = byte;
                    assert!(needs_escaping(&text), "{text:?}");
                }
                // Beside the ASCII neighbours, the bytes beyond ASCII that carry a quote's,
                // a backslash's or a control character's low seven bits.
                for byte in [
                    b' ', b'!', b'#', b'[', b']', 0x7f, 0x80, 0x81, 0x9f, 0xa0, 0xa2, 0xdc, 0xff,
                ] {
                    let mut text = plain.clone().into_bytes();
                    text[at] = byte;
                    assert!(!needs_escaping(&text), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn every_ascii_character_is_escaped_as_serde_json_escapes_it() {
        for byte in 0u8..=0x7f {
            let text = format!("a{}b", char::from(byte));
            let fields = [(Name::new(&text), Value::String(text.clone()))];
            let responses = [Response::new(Value::Object(fields.into_iter().collect()))];
            assert_eq!(
                json(false, &responses).unwrap(),
                serde_json_text(false, &responses),
                "byte {byte:#04x}"
            );
        }
    }

    #[test]
    fn a_dashboard_like_answer_is_written_as_serde_json_writes_it() {
        let milestone = Value::from_json(serde_json::json!({
            "id": "TWlsZXN0b25lOjAxOWJlYTRiZTEwMDc0YjI5OTljMGI3MDg5YTFlNTdm",
            "name": "Go-live \"readiness\" review\n(ÅÄÖ, 東京, 🚀)",
            "baselineDate": "2026-03-01",
            "actualDate": null,
            "slipDays": -3,
            "ratio": 0.25,
            "big": 18446744073709551615u64,
            "done": false,
            "votes": [],
            "empty": {},
            // What serde_json would write as raw JSON if async-graphql's `raw_value` were on.
            "raw": {"$serde_json::private::RawValue": "1"},
        }))
        .unwrap();
        let mut extensions = BTreeMap::new();
        extensions.insert(
            "analyzer".to_owned(),
            Value::from_json(serde_json::json!({"complexity": 412, "depth": 7})).unwrap(),
        );
        let mut answer = Response::new(Value::List(vec![milestone.clone(), milestone]));
        answer.extensions = extensions;
        let mut refused =
            Response::from_errors(vec![ServerError::new("no \"such\" project", None)]);
        refused.data = Value::Enum(Name::new("AMBER"));
        let responses = vec![answer, refused];
        assert_eq!(
            json(true, &responses).unwrap(),
            serde_json_text(true, &responses)
        );
        for response in responses.chunks(1) {
            assert_eq!(
                json(false, response).unwrap(),
                serde_json_text(false, response)
            );
        }
        assert_eq!(json(true, &[]).unwrap(), "[]");
        assert!(
            json(true, &responses)
                .unwrap()
                .contains(r#""raw":{"$serde_json"#),
            "async-graphql's raw_value feature is on: answer.rs must write raw values as they are"
        );
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z0-9 _-]{0,12}",
            any::<String>(),
            proptest::collection::vec(0u8..0x80, 0..24)
                .prop_map(|bytes| bytes.into_iter().map(char::from).collect()),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Boolean),
            any::<i64>().prop_map(|n| Value::Number(n.into())),
            any::<u64>().prop_map(|n| Value::Number(n.into())),
            any::<f64>().prop_filter_map("finite", |n| Number::from_f64(n).map(Value::Number)),
            text().prop_map(Value::String),
            "[A-Z_]{1,10}".prop_map(|name| Value::Enum(Name::new(name))),
            proptest::collection::vec(any::<u8>(), 0..6)
                .prop_map(|bytes| Value::Binary(bytes.into())),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::List),
                proptest::collection::vec((text(), inner), 0..6).prop_map(|fields| {
                    Value::Object(
                        fields
                            .into_iter()
                            .map(|(key, field)| (Name::new(key), field))
                            .collect(),
                    )
                }),
            ]
        })
    }

    fn response() -> impl Strategy<Value = Response> {
        (
            value(),
            proptest::collection::btree_map(text(), value(), 0..3),
            proptest::collection::vec((text(), proptest::option::of(text())), 0..3),
        )
            .prop_map(|(data, extensions, errors)| {
                let mut response = Response::new(data);
                response.extensions = extensions;
                response.errors = errors
                    .into_iter()
                    .map(|(message, code)| {
                        let mut error = ServerError::new(message, None);
                        if let Some(code) = code {
                            let mut values = ErrorExtensionValues::default();
                            values.set("code", code);
                            error.extensions = Some(values);
                        }
                        error
                    })
                    .collect();
                response
            })
    }

    proptest! {
        #[test]
        fn any_answer_is_written_as_serde_json_writes_it(
            is_batch in any::<bool>(),
            responses in proptest::collection::vec(response(), 1..3),
        ) {
            let responses = if is_batch { &responses[..] } else { &responses[..1] };
            prop_assert_eq!(json(is_batch, responses).unwrap(), serde_json_text(is_batch, responses));
        }
    }
}
