//! An exact facet collector: per segment it counts the term ordinals of each facet field's
//! column, then merges the counts by value. Also tracks the smallest and largest event time.

use std::collections::HashMap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::FacetField;

/// The counts of one facet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FacetCounts {
    /// The field.
    pub field: FacetField,
    /// The most frequent values with their event counts, most frequent first, ties by value.
    pub values: Vec<(String, u64)>,
    /// How many different values the matching events have.
    pub distinct: u64,
    /// How many matching events have at least one value.
    pub events: u64,
}

/// Everything the collector finds.
#[derive(Debug, Clone, Default)]
pub struct FacetFruit {
    /// One entry per requested facet.
    pub facets: Vec<FacetCounts>,
    /// Smallest and largest `eventTimestamp` (µs) of the matching events.
    pub time_range: Option<(i64, i64)>,
}

/// Counts the values of `fields` over the matching events, keeping the top `limit` of each.
pub struct FacetCollector {
    pub(crate) fields: Vec<FacetField>,
    pub(crate) limit: usize,
}

struct FieldCounter {
    field: FacetField,
    column: Option<StrColumn>,
    counts: Vec<u32>,
    events: u64,
}

pub struct FacetSegmentCollector {
    counters: Vec<FieldCounter>,
    event_time: Column<i64>,
    time_range: Option<(i64, i64)>,
}

/// Per segment: for each field, value → count, and events covered; and the time range.
type SegmentFruit = (Vec<(HashMap<String, u64>, u64)>, Option<(i64, i64)>);

impl Collector for FacetCollector {
    type Fruit = FacetFruit;
    type Child = FacetSegmentCollector;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        segment: &SegmentReader,
    ) -> tantivy::Result<FacetSegmentCollector> {
        let fast_fields = segment.fast_fields();
        let mut counters = Vec::with_capacity(self.fields.len());
        for field in &self.fields {
            let column = fast_fields.str(field.name())?;
            let terms = column.as_ref().map_or(0, |column| column.num_terms());
            counters.push(FieldCounter {
                field: *field,
                column,
                counts: vec![0; terms],
                events: 0,
            });
        }
        let event_time = fast_fields.i64("eventTime")?;
        Ok(FacetSegmentCollector {
            counters,
            event_time,
            time_range: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<SegmentFruit>) -> tantivy::Result<FacetFruit> {
        let mut merged: Vec<(HashMap<String, u64>, u64)> =
            vec![(HashMap::new(), 0); self.fields.len()];
        let mut time_range: Option<(i64, i64)> = None;
        for (fields, range) in segments {
            for (index, (values, events)) in fields.into_iter().enumerate() {
                let target = &mut merged[index];
                target.1 += events;
                for (value, count) in values {
                    *target.0.entry(value).or_default() += count;
                }
            }
            time_range = merge_range(time_range, range);
        }
        let facets = self
            .fields
            .iter()
            .zip(merged)
            .map(|(field, (values, events))| {
                let distinct = values.len() as u64;
                let mut values: Vec<(String, u64)> = values.into_iter().collect();
                values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                values.truncate(self.limit);
                FacetCounts {
                    field: *field,
                    values,
                    distinct,
                    events,
                }
            })
            .collect();
        Ok(FacetFruit { facets, time_range })
    }
}

fn merge_range(left: Option<(i64, i64)>, right: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (left, right) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (one, None) | (None, one) => one,
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, _: Score) {
        for counter in &mut self.counters {
            let Some(column) = &counter.column else {
                continue;
            };
            let mut any = false;
            for ord in column.term_ords(doc) {
                counter.counts[ord as usize] += 1;
                any = true;
            }
            counter.events += u64::from(any);
        }
        if let Some(time) = self.event_time.first(doc) {
            self.time_range = merge_range(self.time_range, Some((time, time)));
        }
    }

    fn harvest(self) -> SegmentFruit {
        let fields = self
            .counters
            .into_iter()
            .map(|counter| {
                let mut values = HashMap::new();
                if let Some(column) = &counter.column {
                    // Decode the terms of the counted ordinals in one sorted pass over the
                    // dictionary: looking each up alone re-reads its block every time.
                    let counted: Vec<(u64, u32)> = counter
                        .counts
                        .iter()
                        .enumerate()
                        .filter(|(_, count)| **count > 0)
                        .map(|(ord, count)| (ord as u64, *count))
                        .collect();
                    let mut counts = counted.iter().map(|(_, count)| u64::from(*count));
                    let decoded = column.dictionary().sorted_ords_to_term_cb(counted.iter().map(|(ord, _)| *ord), |term| {
                        let count = counts.next().unwrap_or_default();
                        values.insert(String::from_utf8_lossy(term).into_owned(), count);
                        Ok(())
                    });
                    if let Err(error) = decoded {
                        tracing::error!(%error, field = ?counter.field, "could not read a facet dictionary");
                    }
                }
                (values, counter.events)
            })
            .collect();
        (fields, self.time_range)
    }
}
