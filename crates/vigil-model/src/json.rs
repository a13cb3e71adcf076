//! JSON text helpers that keep the text as sent: whitespace removal without re-serialization.

/// Removes insignificant whitespace from valid JSON text. Everything else — key order, number
/// spelling, string escapes, duplicate keys — stays byte for byte as sent.
pub fn minify(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    // Copy runs of significant bytes whole; skip strings without looking inside them twice.
    let mut run_start = 0;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => {
                at += 1;
                while at < bytes.len() {
                    match bytes[at] {
                        b'\\' => at += 2,
                        b'"' => break,
                        _ => at += 1,
                    }
                }
                at += 1;
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                out.extend_from_slice(&bytes[run_start..at]);
                while at < bytes.len() && matches!(bytes[at], b' ' | b'\n' | b'\r' | b'\t') {
                    at += 1;
                }
                run_start = at;
            }
            _ => at += 1,
        }
    }
    out.extend_from_slice(&bytes[run_start.min(bytes.len())..]);
    // Only ASCII whitespace outside strings was removed, so the bytes are still UTF-8.
    String::from_utf8(out).expect("minify keeps UTF-8 intact")
}

/// Encodes `text` as a JSON string literal.
pub(crate) fn string_literal(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::minify;

    #[test]
    fn minify_keeps_strings_numbers_and_order() {
        let text = "{\n \"b\" : 1.50,\n \"a\": \"x  y\\\" }\",\t\"c\": [ 1e3 , null ]\n}";
        assert_eq!(minify(text), r#"{"b":1.50,"a":"x  y\" }","c":[1e3,null]}"#);
        assert_eq!(minify(r#"{"a":"\\","b":"é ü"}"#), r#"{"a":"\\","b":"é ü"}"#);
        assert_eq!(minify("  [ ]  "), "[]");
        assert_eq!(minify(r#"{"k":"v"}"#), r#"{"k":"v"}"#);
    }
}
