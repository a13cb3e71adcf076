//! Aligned text tables for the CLI (comfy-table): a header row and columns padded to the widest
//! cell, measured in display width, so names in any script line up; long cells wrap within the
//! terminal width when `COLUMNS` gives it.

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};

/// Prints `rows` under `header`, columns aligned, two spaces apart.
pub fn print(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) {
    println!("{}", render(header, rows));
}

/// The table as text (no trailing newline).
pub fn render(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut table = Table::new();
    table
        .load_preset(NOTHING)
        .set_header(header.iter().copied())
        .set_content_arrangement(ContentArrangement::Dynamic);
    // A terminal says its width in COLUMNS; piped output is not wrapped.
    match std::env::var("COLUMNS")
        .ok()
        .and_then(|text| text.parse::<u16>().ok())
    {
        Some(width) if width >= 20 => {
            table.set_width(width);
        }
        _ => {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    for row in rows {
        table.add_row(row);
    }
    // No space before the first column; two between columns.
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_at_any_cell_width() {
        let text = super::render(
            &["NAME", "COUNT"],
            vec![
                vec!["Zoë Ångström".to_owned(), "1".to_owned()],
                vec!["Ærø".to_owned(), "22".to_owned()],
                vec!["x".to_owned(), "333".to_owned()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        // The second column starts at the same column on every line (in characters, not bytes).
        let starts: Vec<usize> = lines
            .iter()
            .map(|line| {
                let at = line.rfind("  ").expect("two columns") + 2;
                line[..at].chars().count()
            })
            .collect();
        assert!(starts.windows(2).all(|pair| pair[0] == pair[1]), "{text}");
    }
}
