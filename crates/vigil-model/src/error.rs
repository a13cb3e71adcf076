//! Errors of the model: malformed JSON with its line and column, or an invalid value with its path.

/// Why a document was rejected. Messages say where, so that a user can fix the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The text is not JSON.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser expected.
        message: String,
    },
    /// The JSON is well-formed but a field is missing or has a wrong value.
    #[error("invalid value at `{path}`: {message}")]
    Invalid {
        /// Dotted path of the field, such as `auditPayload.technologyContext.rowsProduced`.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl ModelError {
    /// An invalid value at `path` (dotted; empty for the whole document).
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ModelError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Converts a serde_json error, keeping its position for syntax errors.
    pub fn from_json(error: &serde_json::Error, path: &str) -> Self {
        let message = strip_position(&error.to_string());
        if error.is_syntax() || error.is_eof() {
            ModelError::Syntax {
                line: error.line(),
                column: error.column(),
                message,
            }
        } else {
            ModelError::invalid(display_path(path), message)
        }
    }

    /// Like [`ModelError::from_json`], adding to a syntax error an excerpt of `text` around where
    /// it happened (a body sent with `curl --data` arrives on one line, so the line alone helps little).
    pub fn from_json_in(error: &serde_json::Error, text: &str) -> Self {
        match ModelError::from_json(error, "") {
            ModelError::Syntax {
                line,
                column,
                message,
            } => {
                let message = match excerpt(text, line, column) {
                    Some(near) => format!("{message} near `{near}`"),
                    None => message,
                };
                ModelError::Syntax {
                    line,
                    column,
                    message,
                }
            }
            other => other,
        }
    }

    /// Converts a serde_path_to_error error, prefixing its path with `prefix` (empty for the root).
    pub fn from_path_error(
        error: &serde_path_to_error::Error<serde_json::Error>,
        prefix: &str,
    ) -> Self {
        let inner = error.inner();
        if inner.is_syntax() || inner.is_eof() {
            return ModelError::from_json(inner, prefix);
        }
        let path = error.path().to_string();
        let joined = match (prefix.is_empty(), path.as_str()) {
            (_, ".") => prefix.to_owned(),
            (true, path) => path.to_owned(),
            (false, path) if path.starts_with('[') => format!("{prefix}{path}"),
            (false, path) => format!("{prefix}.{path}"),
        };
        ModelError::invalid(display_path(&joined), strip_position(&inner.to_string()))
    }
}

/// Up to 24 characters before and 8 after the 1-based `line`/`column` (a byte column).
fn excerpt(text: &str, line: usize, column: usize) -> Option<String> {
    const BEFORE: usize = 24;
    const AFTER: usize = 8;
    let line_text = text.lines().nth(line.checked_sub(1)?)?;
    let mut at = column.saturating_sub(1).min(line_text.len());
    while !line_text.is_char_boundary(at) {
        at -= 1;
    }
    let head: String = line_text[..at]
        .chars()
        .rev()
        .take(BEFORE)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let tail: String = line_text[at..].chars().take(AFTER).collect();
    let near = format!("{head}{tail}").trim().to_owned();
    (!near.is_empty()).then_some(near)
}

/// Deserializes `text` on the fast path; only when that fails, deserializes it again tracking the
/// path of the failing field, to say where. `prefix` is the path of `text` in its document.
pub fn parse_with_path<'a, T: serde::Deserialize<'a>>(
    text: &'a str,
    prefix: &str,
) -> Result<T, ModelError> {
    let fast_error = match serde_json::from_str::<T>(text) {
        Ok(value) => return Ok(value),
        Err(error) => error,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Err(error) => Err(ModelError::from_path_error(&error, prefix)),
        // The value itself was fine: the fast error is about what follows it.
        Ok(_) => Err(ModelError::from_json(&fast_error, prefix)),
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        "(document)".to_owned()
    } else {
        path.to_owned()
    }
}

/// serde_json appends " at line L column C"; the variants carry the position themselves.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_quote_the_text_around_them() {
        let text = r#"{"component": "featureStore", "recordType": "externalQuery" "profileId": 1}"#;
        let error = serde_json::from_str::<serde_json::Value>(text).unwrap_err();
        let message = ModelError::from_json_in(&error, text).to_string();
        assert!(
            message.starts_with("malformed JSON at line 1, column 61: expected `,` or `}`"),
            "{message}"
        );
        assert!(
            message.ends_with(r#"near `dType": "externalQuery" "profile`"#),
            "{message}"
        );
    }
}
