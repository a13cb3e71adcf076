//! The specification's own examples, embedded: the demo data set of `vigil serve --demo`.

/// Every well-formed example event of seed 001, as a JSON array, each with the seed's exact text.
pub const SEED_EXAMPLE_EVENTS: &str = include_str!("../fixtures/seed/uam-examples.json");
