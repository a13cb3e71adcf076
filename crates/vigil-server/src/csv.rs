//! CSV as RFC 4180 writes it: a header row, CRLF line ends, and fields holding a comma, a quote or
//! a line break quoted, with quotes doubled; text that a spreadsheet would run as a formula is
//! neutralised (OWASP's rule for CSV injection).

use serde_json::Value;

/// The first characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Appends one text field, quoted when it must be. Text starting like a formula gets a leading
/// `'` and quotes, as OWASP's CSV injection sheet says, so a name such as
/// `=HYPERLINK("http://…")` is shown as text instead of being run.
fn field(out: &mut String, text: &str) {
    if text.starts_with(FORMULA_STARTS) {
        out.push_str("\"'");
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else if text.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// Appends one cell: numbers as they are (a negative number is no formula), anything else as
/// text.
fn cell(out: &mut String, value: &Value) {
    match value {
        Value::Null => {}
        Value::String(text) => field(out, text),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        Value::Number(number) => out.push_str(&number.to_string()),
        other => field(out, &other.to_string()),
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
        cell(out, value);
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

    #[test]
    fn cells_that_would_run_as_formulas_are_neutralised() {
        let columns = vec!["=Header".to_owned()];
        let rows = vec![
            vec![json!("=HYPERLINK(\"http://evil.example\",\"x\")")],
            vec![json!("+1+cmd|' /C calc'!A0")],
            vec![json!("-2+3")],
            vec![json!("@SUM(A1)")],
            vec![json!("\tTab")],
            vec![json!("\rReturn")],
            vec![json!(-5)],
            vec![json!("a=b")],
        ];
        assert_eq!(
            super::table(&columns, &rows),
            concat!(
                "\"'=Header\"\r\n",
                "\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\"\r\n",
                "\"'+1+cmd|' /C calc'!A0\"\r\n",
                "\"'-2+3\"\r\n",
                "\"'@SUM(A1)\"\r\n",
                "\"'\tTab\"\r\n",
                "\"'\rReturn\"\r\n",
                "-5\r\n",
                "a=b\r\n",
            )
        );
    }
}
