//! CSV as RFC 4180 writes it: a header row, CRLF line ends, and fields holding a comma, a quote or
//! a line break quoted, with quotes doubled.

use serde_json::Value;

/// Appends one field, quoted when it must be.
fn field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

fn cell_text(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::Null => "".into(),
        Value::String(text) => text.as_str().into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        other => other.to_string().into(),
    }
}

/// Appends the header record.
pub fn header(out: &mut String, columns: &[String]) {
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, column);
    }
    out.push_str("\r\n");
}

/// Appends one record.
pub fn record(out: &mut String, row: &[Value]) {
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, &cell_text(value));
    }
    out.push_str("\r\n");
}

/// The whole table: the header, then one record per row.
#[cfg(test)]
pub fn table(columns: &[String], rows: &[Vec<Value>]) -> String {
    let mut out = String::new();
    header(&mut out, columns);
    for row in rows {
        record(&mut out, row);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn fields_with_commas_quotes_and_line_breaks_are_quoted() {
        let columns = vec!["Name".to_owned(), "Note, with comma".to_owned()];
        let rows = vec![
            vec![json!("Smith, \"Tay\"\nlor"), json!(null)],
            vec![json!(3), json!("plain")],
        ];
        assert_eq!(
            super::table(&columns, &rows),
            "Name,\"Note, with comma\"\r\n\"Smith, \"\"Tay\"\"\nlor\",\r\n3,plain\r\n"
        );
    }
}
