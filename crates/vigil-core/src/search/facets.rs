//! An exact facet collector: per segment it counts the term ordinals of each facet field's
//! column, then merges the counts by value. Also tracks the smallest and largest event time, and
//! counts events per time bucket for a histogram. Segments a time-only request covers whole
//! answer from kept counts instead (`whole`).

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::Weight;
use tantivy::{DocId, Score, SegmentOrdinal, SegmentReader};

use super::schema::FacetField;
use super::whole::{Merged, WholeSegments};

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
    /// How many events match.
    pub total: u64,
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

/// A minute in µs: the resolution of the kept time summaries.
pub(super) const MINUTE: i64 = 60_000_000;

impl Histogram {
    /// `buckets` buckets covering `[from, to]`, each a whole number of milliseconds wide; the
    /// last may reach past `to`. When `from` is a whole minute and the buckets come out whole
    /// minutes (a day in 24 or 96 buckets from midnight), sealed segments answer from their kept
    /// counts per minute instead of reading every document's time.
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

    /// Whether every bucket starts and ends on a whole minute.
    pub(super) fn in_whole_minutes(&self) -> bool {
        self.from.rem_euclid(MINUTE) == 0 && self.width % MINUTE == 0
    }

    pub(super) fn bucket(&self, time: i64) -> Option<usize> {
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
    /// Set when the request filters on nothing but a time range: segments inside it count
    /// from the kept whole-segment counts.
    pub(crate) whole: Option<WholeSegments>,
}

/// One field's counts over a segment's alive documents: value → events, and events with a value.
pub(super) type FieldCounts = (HashMap<String, u64>, u64);

pub(super) struct FieldCounter {
    pub(super) field: FacetField,
    pub(super) column: Option<StrColumn>,
    pub(super) counts: Vec<u32>,
    pub(super) events: u64,
}

impl FieldCounter {
    pub(super) fn collect(&mut self, doc: DocId) {
        let Some(column) = &self.column else {
            return;
        };
        let mut any = false;
        for ord in column.term_ords(doc) {
            self.counts[ord as usize] += 1;
            any = true;
        }
        self.events += u64::from(any);
    }

    pub(super) fn harvest(self) -> FieldCounts {
        let mut values = HashMap::new();
        if let Some(column) = &self.column {
            // Decode the terms of the counted ordinals in one sorted pass over the dictionary:
            // looking each up alone re-reads its block every time.
            let counted: Vec<(u64, u32)> = self
                .counts
                .iter()
                .enumerate()
                .filter(|(_, count)| **count > 0)
                .map(|(ord, count)| (ord as u64, *count))
                .collect();
            let mut counts = counted.iter().map(|(_, count)| u64::from(*count));
            let decoded = column.dictionary().sorted_ords_to_term_cb(
                counted.iter().map(|(ord, _)| *ord),
                |term| {
                    let count = counts.next().unwrap_or_default();
                    values.insert(String::from_utf8_lossy(term).into_owned(), count);
                    Ok(())
                },
            );
            if let Err(error) = decoded {
                tracing::error!(%error, field = ?self.field, "could not read a facet dictionary");
            }
        }
        (values, self.events)
    }
}

pub struct FacetSegmentCollector {
    /// Documents collected.
    count: u64,
    counters: Vec<FieldCounter>,
    event_time: Column<i64>,
    time_range: Option<(i64, i64)>,
    histogram: Option<(Histogram, Vec<u64>)>,
}

/// What one segment's pass finds.
pub struct SegmentFruit {
    /// For each field, value → count, and the events with a value.
    pub(super) fields: Vec<Arc<FieldCounts>>,
    pub(super) time_range: Option<(i64, i64)>,
    pub(super) histogram: Option<Vec<u64>>,
    /// The events that match.
    pub(super) matching: u64,
    /// Set when `fields` are the kept counts of this whole segment (its id and deletions).
    pub(super) whole: Option<(SegmentId, DocId)>,
}

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
            count: 0,
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

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFruit> {
        if let Some(whole) = &self.whole {
            if whole.covers(reader)? {
                return self.whole_segment(whole, reader);
            }
            if whole.mostly_covers(reader)? {
                return self.whole_segment_less_outside(whole, segment_ord, reader);
            }
        }
        let mut collector = self.for_segment(segment_ord, reader)?;
        match reader.alive_bitset() {
            Some(alive) => weight.for_each_no_score(reader, &mut |docs| {
                for &doc in docs {
                    if alive.is_alive(doc) {
                        collector.collect(doc, 0.0);
                    }
                }
            })?,
            None => weight.for_each_no_score(reader, &mut |docs| collector.collect_block(docs))?,
        }
        Ok(collector.harvest())
    }

    fn merge_fruits(&self, segments: Vec<SegmentFruit>) -> tantivy::Result<FacetFruit> {
        let mut time_range: Option<(i64, i64)> = None;
        let mut histogram = self.histogram.map(|h| vec![0u64; h.buckets]);
        let mut total = 0;
        for segment in &segments {
            total += segment.matching;
            if let (Some(total), Some(counts)) = (&mut histogram, &segment.histogram) {
                for (sum, count) in total.iter_mut().zip(counts) {
                    *sum += count;
                }
            }
            time_range = merge_range(time_range, segment.time_range);
        }
        // Large whole segments count from their merged counts, kept across requests.
        let large = |segment: &SegmentFruit| {
            segment.whole.filter(|_| {
                self.whole
                    .as_ref()
                    .is_some_and(|whole| whole.counts.merges(segment.matching))
            })
        };
        let mut merged_segments: Vec<(SegmentId, DocId)> =
            segments.iter().filter_map(large).collect();
        merged_segments.sort_unstable();
        let facets = self
            .fields
            .iter()
            .enumerate()
            .map(|(index, field)| {
                let merged = match &self.whole {
                    Some(whole) if merged_segments.len() > 1 => {
                        whole
                            .counts
                            .merged(&merged_segments, *field, &whole.exclusions, || {
                                Merged::of(
                                    segments
                                        .iter()
                                        .filter(|segment| large(segment).is_some())
                                        .map(|segment| &*segment.fields[index]),
                                )
                            })
                    }
                    _ => Arc::new(Merged::empty()),
                };
                let mut more: HashMap<&str, u64> = HashMap::new();
                let mut events = merged.events;
                for segment in &segments {
                    if merged_segments.len() > 1 && large(segment).is_some() {
                        continue;
                    }
                    let (values, with_value) = &*segment.fields[index];
                    events += with_value;
                    for (value, count) in values {
                        *more.entry(value.as_str()).or_default() += count;
                    }
                }
                let (values, distinct) = merged.top_with(&more, self.limit);
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
            total,
        })
    }
}

pub(super) fn merge_range(
    left: Option<(i64, i64)>,
    right: Option<(i64, i64)>,
) -> Option<(i64, i64)> {
    match (left, right) {
        (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
        (one, None) | (None, one) => one,
    }
}

impl SegmentCollector for FacetSegmentCollector {
    type Fruit = SegmentFruit;

    fn collect(&mut self, doc: DocId, _: Score) {
        self.count += 1;
        for counter in &mut self.counters {
            counter.collect(doc);
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
        SegmentFruit {
            fields: self
                .counters
                .into_iter()
                .map(|counter| Arc::new(counter.harvest()))
                .collect(),
            time_range: self.time_range,
            histogram: self.histogram.map(|(_, counts)| counts),
            matching: self.count,
            whole: None,
        }
    }
}
