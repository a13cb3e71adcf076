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
            b'"' => at = after_string(bytes, at),
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

/// The deepest nesting of arrays and objects accepted in a document: serde_json's own recursion
/// limit, which every other route meets while parsing, so every route answers alike.
pub const MAX_NESTING: usize = 128;

/// Where (1-based line and byte column) the first array or object opens that nests deeper than
/// [`MAX_NESTING`], if one does. Strings are skipped; the text need not be valid JSON.
pub fn too_deep(text: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let (mut depth, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            // A line break inside a string is invalid JSON, which the parser reports itself.
            b'"' => {
                at = after_string(bytes, at);
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some((line, at - line_start + 1));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => {
                line += 1;
                line_start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The index just past the string that opens at `bytes[open]` (a `"`), escapes skipped.
fn after_string(bytes: &[u8], open: usize) -> usize {
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => break,
            _ => at += 1,
        }
    }
    at + 1
}

/// Encodes `text` as a JSON string literal.
pub(crate) fn string_literal(text: &str) -> String {
    serde_json::to_string(text).expect("a string always serializes")
}

#[cfg(test)]
mod tests {
    use super::{MAX_NESTING, minify, too_deep};

    #[test]
    fn minify_keeps_strings_numbers_and_order() {
        let text = "{\n \"b\" : 1.50,\n \"a\": \"x  y\\\" }\",\t\"c\": [ 1e3 , null ]\n}";
        assert_eq!(minify(text), r#"{"b":1.50,"a":"x  y\" }","c":[1e3,null]}"#);
        assert_eq!(minify(r#"{"a":"\\","b":"é ü"}"#), r#"{"a":"\\","b":"é ü"}"#);
        assert_eq!(minify("  [ ]  "), "[]");
        assert_eq!(minify(r#"{"k":"v"}"#), r#"{"k":"v"}"#);
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_found_where_it_starts() {
        let at_limit = format!("{}{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert_eq!(too_deep(&at_limit), None);
        let deep = format!("{{\"a\":\"[[[\",\n\"b\":{}", "[".repeat(100_000));
        // The outer object is the first level, so the 128th `[` (at column 5 + 127) is too deep.
        assert_eq!(too_deep(&deep), Some((2, 5 + MAX_NESTING - 1)));
        assert_eq!(too_deep(r#"{"s":"{{{{\"{{{{"}"#), None);
    }
}
