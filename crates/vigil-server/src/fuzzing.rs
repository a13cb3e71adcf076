//! Entry points for the fuzz targets in `fuzz/`: the request parsers of the search routes, run
//! without a server. Not an API: hidden from the documentation.

/// Parses a `GET /api/audit/events` query string; `Err` is the message of the 400 it would get.
pub fn search_query(query: &str) -> Result<(), String> {
    crate::routes::parse_search(Some(query))
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// Parses a legacy `GET /audit` query string; `Err` is the message of the 400 it would get.
pub fn legacy_search_query(query: &str) -> Result<(), String> {
    crate::routes::parse_legacy_search(Some(query))
        .map(|_| ())
        .map_err(|error| error.to_string())
}
