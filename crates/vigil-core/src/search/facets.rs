//! An exact facet collector: per segment it counts the term ordinals of each facet field's
//! column, then merges the counts by value. Also tracks the smallest and largest event time, and
//! counts events per time bucket for a histogram.

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
    /// Matching events per time bucket, when a histogram was asked for.
    pub histogram: Option<Vec<u64>>,
}

/// Buckets of equal width over event time: bucket `i` holds events in
/// `[from + i·width, from + (i+1)·width)`; events outside them are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram {
    /// Start of the first bucket (µs).
    pub from: i64,
    /// Width of each bucket (µs), at least 1.
    pub width: i64,
    /// Number of buckets.
    pub buckets: usize,
}

impl Histogram {
    /// `buckets` buckets covering `[from, to]`, each a whole number of milliseconds wide; the
    /// last may reach past `to`.
    pub fn covering(from: i64, to: i64, buckets: usize) -> Histogram {
        const MILLI: i64 = 1_000;
        let buckets = buckets.max(1) as i64;
        let span = (to.saturating_sub(from)).max(0).saturating_add(1);
        // Both are positive: round up by hand (signed div_ceil is not stable).
        let up = |value: i64, by: i64| value / by + i64::from(value % by != 0);
        let width = up(up(span, buckets), MILLI).saturating_mul(MILLI);
        Histogram {
            from,
            width: width.max(MILLI),
            buckets: buckets as usize,
        }
    }

    fn bucket(&self, time: i64) -> Option<usize> {
        if time < self.from {
            return None;
        }
        let index = ((time - self.from) / self.width) as usize;
        (index < self.buckets).then_some(index)
    }
}

/// Counts the values of `fields` over the matching events, keeping the top `limit` of each.
pub struct FacetCollector {
    pub(crate) fields: Vec<FacetField>,
    pub(crate) limit: usize,
    pub(crate) histogram: Option<Histogram>,
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
    histogram: Option<(Histogram, Vec<u64>)>,
}

/// Per segment: for each field, value → count, and events covered; the time range; the
/// histogram's counts.
type SegmentFruit = (
    Vec<(HashMap<String, u64>, u64)>,
    Option<(i64, i64)>,
    Option<Vec<u64>>,
);

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
            histogram: self
                .histogram
                .map(|histogram| (histogram, vec![0; histogram.buckets])),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, segments: Vec<SegmentFruit>) -> tantivy::Result<FacetFruit> {
        let mut merged: Vec<(HashMap<String, u64>, u64)> =
            vec![(HashMap::new(), 0); self.fields.len()];
        let mut time_range: Option<(i64, i64)> = None;
        let mut histogram = self.histogram.map(|h| vec![0u64; h.buckets]);
        for (fields, range, counts) in segments {
            if let (Some(total), Some(counts)) = (&mut histogram, counts) {
                for (sum, count) in total.iter_mut().zip(counts) {
                    *sum += count;
                }
            }
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
        Ok(FacetFruit {
            facets,
            time_range,
            histogram,
        })
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
            if let Some((histogram, counts)) = &mut self.histogram
                && let Some(bucket) = histogram.bucket(time)
            {
                counts[bucket] += 1;
            }
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
        (
            fields,
            self.time_range,
            self.histogram.map(|(_, counts)| counts),
        )
    }
}
