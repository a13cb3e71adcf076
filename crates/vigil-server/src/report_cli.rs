//! `vigil report list` and `vigil report run`: governance reports from a running server, printed
//! as a table, as JSON or as CSV.

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// What `vigil report run` asks for.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Entity type (`user`, `datasource`, …).
    pub entity: String,
    /// The entity's name or id; none for the reports about every entity.
    pub name: Option<String>,
    /// Report key.
    pub report: String,
    /// Start of the date range.
    pub from: Option<String>,
    /// End of the date range.
    pub to: Option<String>,
    /// Rows (`all` for every row).
    pub limit: Option<String>,
    /// Print CSV.
    pub csv: bool,
    /// Print the JSON answer.
    pub json: bool,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Reads an error answer: its message, and the suggestions or candidates it offers.
fn error_text(status: reqwest::StatusCode, body: &str) -> String {
    let Ok(answer) = serde_json::from_str::<Value>(body) else {
        return format!("the server answered {status}: {body}");
    };
    let mut text = format!(
        "the server answered {status}: {}",
        answer["error"].as_str().unwrap_or("(no message)")
    );
    for list in ["suggestions", "candidates"] {
        if let Some(items) = answer[list].as_array()
            && !items.is_empty()
            && !text.contains("did you mean")
            && !text.contains("give the id")
        {
            let names: Vec<String> = items
                .iter()
                .map(|e| {
                    format!(
                        "{} ({})",
                        e["name"].as_str().unwrap_or(""),
                        e["id"].as_str().unwrap_or("")
                    )
                })
                .collect();
            text.push_str(&format!("\n{list}: {}", names.join(", ")));
        }
    }
    text
}

/// `vigil report list [--entity TYPE]`.
pub fn list_command(url: &str, api_key: &str, entity: Option<&str>) -> anyhow::Result<()> {
    let answer: Value = runtime()?.block_on(async {
        let response = reqwest::Client::new()
            .get(format!("{}/api/audit/reports", url.trim_end_matches('/')))
            .header("Authorization", format!("Bearer {api_key}"))
            .send()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let status = response.status();
        let body = response.text().await.context("reading the answer")?;
        if !status.is_success() {
            bail!(error_text(status, &body));
        }
        serde_json::from_str(&body).context("reading the answer")
    })?;
    let wanted = entity.map(|e| e.to_ascii_lowercase().replace(['_', ' '], "-"));
    let mut rows = Vec::new();
    for report in answer["reports"].as_array().into_iter().flatten() {
        let entity_type = report["entityType"].as_str().unwrap_or_default();
        if wanted
            .as_deref()
            .is_some_and(|w| w.trim_end_matches('s') != entity_type)
        {
            continue;
        }
        let scope = if report["scope"] == "all" {
            "all"
        } else {
            "one"
        };
        let range = if report["dateRange"] == true {
            "yes"
        } else {
            "no"
        };
        rows.push(vec![
            entity_type.to_owned(),
            scope.to_owned(),
            report["report"].as_str().unwrap_or_default().to_owned(),
            range.to_owned(),
            report["title"].as_str().unwrap_or_default().to_owned(),
        ]);
    }
    crate::table::print(&["ENTITY", "SCOPE", "REPORT", "DATE RANGE", "TITLE"], rows);
    Ok(())
}

/// `vigil report run …`; false when the server refused.
pub fn run_command(url: &str, api_key: &str, args: RunArgs) -> anyhow::Result<()> {
    let mut request = json!({
        "entityType": args.entity,
        "report": args.report,
        "format": if args.csv { "csv" } else { "json" },
    });
    for (name, value) in [
        ("name", &args.name),
        ("from", &args.from),
        ("to", &args.to),
        ("limit", &args.limit),
    ] {
        if let Some(value) = value {
            request[name] = json!(value);
        }
    }
    let body = runtime()?.block_on(async {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/api/audit/reports/run",
                url.trim_end_matches('/')
            ))
            .header("Authorization", format!("Bearer {api_key}"))
            .json(&request)
            .send()
            .await
            .with_context(|| format!("connecting to {url}"))?;
        let status = response.status();
        let body = response.text().await.context("reading the answer")?;
        if !status.is_success() {
            bail!(error_text(status, &body));
        }
        Ok(body)
    })?;
    if args.csv {
        print!("{body}");
        return Ok(());
    }
    let answer: Value = serde_json::from_str(&body).context("reading the answer")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    print_table(&answer);
    Ok(())
}

/// Prints the rows as aligned columns (cells cut at 60 characters), then the notes.
fn print_table(answer: &Value) {
    const WIDEST: usize = 60;
    let cell = |value: &Value| -> String {
        let text = match value {
            Value::Null => String::new(),
            Value::String(text) => text.replace(['\n', '\r'], " "),
            other => other.to_string(),
        };
        if text.chars().count() > WIDEST {
            let cut: String = text.chars().take(WIDEST - 1).collect();
            format!("{cut}…")
        } else {
            text
        }
    };
    let columns: Vec<String> = answer["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    let rows: Vec<Vec<String>> = answer["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| row.as_array().into_iter().flatten().map(cell).collect())
        .collect();
    let shown = rows.len();
    let header: Vec<&str> = columns.iter().map(String::as_str).collect();
    crate::table::print(&header, rows);
    if answer["truncated"] == true {
        eprintln!("(first {shown} rows; --limit all or --csv for every row)");
    }
    for note in answer["notes"].as_array().into_iter().flatten() {
        eprintln!("note: {}", note.as_str().unwrap_or_default());
    }
}
