//! A search request, and how it becomes a tantivy query.

use std::ops::Bound;

use tantivy::Term;
use tantivy::query::{AllQuery, BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::IndexRecordOption;

use super::schema::{FacetField, Fields};

/// The largest page of hits.
pub const MAX_PAGE_SIZE: usize = 1_000;
/// The deepest `offset`; deeper pages use the cursor.
pub const MAX_OFFSET: usize = 100_000;

/// Which timestamp a range or a sort uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeField {
    /// `eventTimestamp`.
    #[default]
    Event,
    /// `receivedTimestamp`.
    Received,
}

/// Where the next page starts: after this sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// The time of the last hit (µs).
    pub time: i64,
    /// Its sequence number.
    pub seq: u64,
}

impl Cursor {
    /// The opaque text form given to clients.
    pub fn encode(&self) -> String {
        format!("{}_{}", self.time, self.seq)
    }

    /// Parses the text form.
    pub fn decode(text: &str) -> Option<Cursor> {
        let (time, seq) = text.split_once('_')?;
        Some(Cursor {
            time: time.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

/// The actions of vigil's own reads: searches (and result exports) and report runs.
pub const OWN_READ_ACTIONS: [&str; 2] = ["AUDIT_QUERY", "RUN_REPORT"];

/// A search of the audit log.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    /// Filters: AND across fields, OR within a field.
    pub filters: Vec<(FacetField, Vec<String>)>,
    /// Exclusions: no event with any of these values (`FIELD.not=VALUE`).
    pub exclusions: Vec<(FacetField, Vec<String>)>,
    /// No own read ([`OWN_READ_ACTIONS`]) recorded for this actor id (an API key's name).
    pub hide_reads_of: Option<String>,
    /// Events at or after this time (µs).
    pub from: Option<i64>,
    /// Events at or before this time (µs).
    pub to: Option<i64>,
    /// Which timestamp the range and the sort use.
    pub time_field: TimeField,
    /// Keywords over query text and names (all must match).
    pub keywords: Option<String>,
    /// Newest first when true.
    pub descending: bool,
    /// Hits per page.
    pub size: usize,
    /// Hits to skip.
    pub offset: usize,
    /// Start after this hit instead of at `offset`.
    pub after: Option<Cursor>,
    /// Facets to count.
    pub facets: Vec<FacetField>,
    /// Values per facet.
    pub facet_limit: usize,
    /// Events per time bucket (by event time), when wanted.
    pub histogram: Option<super::Histogram>,
}

impl Default for SearchRequest {
    fn default() -> Self {
        SearchRequest {
            filters: Vec::new(),
            exclusions: Vec::new(),
            hide_reads_of: None,
            from: None,
            to: None,
            time_field: TimeField::Event,
            keywords: None,
            descending: true,
            size: 50,
            offset: 0,
            after: None,
            facets: Vec::new(),
            facet_limit: 100,
            histogram: None,
        }
    }
}

fn term_query(term: Term) -> Box<dyn Query> {
    Box::new(TermQuery::new(term, IndexRecordOption::Basic))
}

fn any_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries
            .into_iter()
            .map(|query| (Occur::Should, query))
            .collect(),
    ))
}

fn all_of(queries: Vec<Box<dyn Query>>) -> Box<dyn Query> {
    Box::new(BooleanQuery::new(
        queries
            .into_iter()
            .map(|query| (Occur::Must, query))
            .collect(),
    ))
}

/// Builds the query of a request.
pub fn build_query(
    request: &SearchRequest,
    fields: &Fields,
    parser: &QueryParser,
) -> Box<dyn Query> {
    let mut clauses: Vec<Box<dyn Query>> = Vec::new();
    let term = |facet: FacetField, value: &str| {
        term_query(Term::from_field_text(
            fields.keyword(facet),
            &facet.indexed_value(value),
        ))
    };
    for (facet, values) in &request.filters {
        let terms: Vec<Box<dyn Query>> = values.iter().map(|value| term(*facet, value)).collect();
        clauses.push(if terms.len() == 1 {
            terms.into_iter().next().expect("one")
        } else {
            any_of(terms)
        });
    }
    let mut excluded: Vec<Box<dyn Query>> = request
        .exclusions
        .iter()
        .flat_map(|(facet, values)| values.iter().map(|value| term(*facet, value)))
        .collect();
    if let Some(actor) = &request.hide_reads_of {
        excluded.push(all_of(vec![
            any_of(
                OWN_READ_ACTIONS
                    .iter()
                    .map(|action| term(FacetField::Action, action))
                    .collect(),
            ),
            term(FacetField::ActorId, actor),
        ]));
    }
    let time = match request.time_field {
        TimeField::Event => fields.event_time,
        TimeField::Received => fields.received_time,
    };
    if request.from.is_some() || request.to.is_some() {
        let bound = |value: Option<i64>| match value {
            Some(value) => Bound::Included(Term::from_field_i64(time, value)),
            None => Bound::Unbounded,
        };
        clauses.push(Box::new(RangeQuery::new(
            bound(request.from),
            bound(request.to),
        )));
    }
    if let Some(keywords) = request.keywords.as_deref().filter(|k| !k.trim().is_empty()) {
        // Lenient: a stray quote or colon in a search box is not an error.
        let (query, _) = parser.parse_query_lenient(keywords);
        clauses.push(query);
    }
    if let Some(cursor) = request.after {
        let (time_bound, seq_bound) = if request.descending {
            (
                (
                    Bound::Unbounded,
                    Bound::Excluded(Term::from_field_i64(time, cursor.time)),
                ),
                (
                    Bound::Unbounded,
                    Bound::Excluded(Term::from_field_u64(fields.seq, cursor.seq)),
                ),
            )
        } else {
            (
                (
                    Bound::Excluded(Term::from_field_i64(time, cursor.time)),
                    Bound::Unbounded,
                ),
                (
                    Bound::Excluded(Term::from_field_u64(fields.seq, cursor.seq)),
                    Bound::Unbounded,
                ),
            )
        };
        let same_time_later_seq = all_of(vec![
            term_query(Term::from_field_i64(time, cursor.time)),
            Box::new(RangeQuery::new(seq_bound.0, seq_bound.1)),
        ]);
        clauses.push(any_of(vec![
            Box::new(RangeQuery::new(time_bound.0, time_bound.1)),
            same_time_later_seq,
        ]));
    }
    let positive = if clauses.is_empty() {
        Box::new(AllQuery)
    } else {
        all_of(clauses)
    };
    if excluded.is_empty() {
        return positive;
    }
    // A boolean query of exclusions alone matches nothing: they go beside the positive part.
    let mut occurs = vec![(Occur::Must, positive)];
    occurs.extend(excluded.into_iter().map(|query| (Occur::MustNot, query)));
    Box::new(BooleanQuery::new(occurs))
}
