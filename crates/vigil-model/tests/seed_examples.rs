//! Every example event of seed 001 parses into a known, typed event; the malformed ones say where.

use serde_json::value::RawValue;
use vigil_model::{AuditPayload, ModelError, UamEvent};

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/seed/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

#[test]
fn every_seed_example_is_a_known_typed_event() {
    let text = fixture("uam-examples.json");
    let examples: Vec<&RawValue> = serde_json::from_str(&text).unwrap();
    assert_eq!(examples.len(), 79);
    for raw in examples {
        let event =
            UamEvent::from_json(raw.get()).unwrap_or_else(|error| panic!("{error}\n{}", raw.get()));
        let event_type = event
            .event_type
            .unwrap_or_else(|| panic!("unknown event type: {}", raw.get()));
        assert!(
            !matches!(event.audit_payload, Some(AuditPayload::Unknown { .. })),
            "{} has an untyped payload",
            event_type.name()
        );
    }
}

#[test]
fn the_two_malformed_seed_examples_report_line_and_column() {
    for (name, line) in [("uam-malformed-1.json", 39), ("uam-malformed-2.json", 15)] {
        match UamEvent::from_json(&fixture(name)) {
            Err(ModelError::Syntax {
                line: got,
                column,
                message,
            }) => {
                assert_eq!(got, line, "{name}: {message}");
                assert_eq!(column, 1, "{name}: {message}");
                assert!(message.contains("expected `,`"), "{message}");
            }
            other => panic!("{name}: expected a syntax error, got {other:?}"),
        }
    }
}
