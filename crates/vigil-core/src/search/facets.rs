//! An exact facet collector: per segment it counts the term ordinals of each facet field's
//! column, then merges the counts by value. Also tracks the smallest and largest event time, and
//! counts events per time bucket for a histogram. A request that filters on nothing but time
//! (and perhaps excludes values) takes, for each segment its range covers whole, the segment's
//! counts and time summary kept from an earlier request (`WholeSegmentCounts`) instead of counting
//! every document again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::index::SegmentId;
use tantivy::query::Weight;
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
const MINUTE: i64 = 60_000_000;

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
    fn in_whole_minutes(&self) -> bool {
        self.from.rem_euclid(MINUTE) == 0 && self.width % MINUTE == 0
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
    /// Set when the request filters on nothing but a time range: segments inside it count
    /// from the kept whole-segment counts.
    pub(crate) whole: Option<WholeSegments>,
}

/// One field's counts over a segment's alive documents: value → events, and events with a value.
type FieldCounts = (HashMap<String, u64>, u64);

/// Exclusions (`FIELD.not=VALUE`) as a key: the field names and values, in request order.
pub type Exclusions = Arc<Vec<(FacetField, Vec<String>)>>;

/// The facet counts of every alive, not excluded document of a segment, kept per segment,
/// deletions, field and exclusions. Sealed segments do not change; a deletion (retention) changes
/// the key, and segments merged away are forgotten at the next search.
/// Also kept: the event times of those documents, summed up per minute.
#[derive(Default)]
pub struct WholeSegmentCounts {
    kept: Mutex<HashMap<CountsKey, Arc<FieldCounts>>>,
    times: Mutex<HashMap<TimesKey, Arc<TimeSummary>>>,
}

/// What kept counts are of: a segment with its number of deleted documents, a field, exclusions.
type CountsKey = (SegmentId, DocId, FacetField, Exclusions);
/// What a kept time summary is of: a segment with its number of deleted documents, exclusions.
type TimesKey = (SegmentId, DocId, Exclusions);

/// The event times of a segment's counted documents: the smallest and largest, and how many
/// events each minute holds. A histogram in whole minutes sums minutes instead of documents.
struct TimeSummary {
    /// The documents counted.
    events: u64,
    range: Option<(i64, i64)>,
    /// (minute since the epoch, events), by minute; minutes without events are left out.
    minutes: Vec<(i64, u64)>,
}

impl TimeSummary {
    fn of(reader: &SegmentReader, excluded: &Excluded) -> tantivy::Result<TimeSummary> {
        let times = reader.fast_fields().i64("eventTime")?;
        let (mut events, mut range) = (0, None);
        let mut minutes: HashMap<i64, u64> = HashMap::new();
        for doc in excluded.counted(reader) {
            events += 1;
            if let Some(time) = times.first(doc) {
                range = merge_range(range, Some((time, time)));
                *minutes.entry(time.div_euclid(MINUTE)).or_default() += 1;
            }
        }
        let mut minutes: Vec<(i64, u64)> = minutes.into_iter().collect();
        minutes.sort_unstable();
        Ok(TimeSummary {
            events,
            range,
            minutes,
        })
    }

    /// The events per bucket of a histogram in whole minutes.
    fn histogram(&self, histogram: &Histogram) -> Vec<u64> {
        let mut counts = vec![0; histogram.buckets];
        let first = histogram.from.div_euclid(MINUTE);
        let start = self.minutes.partition_point(|(minute, _)| *minute < first);
        for (minute, events) in &self.minutes[start..] {
            match histogram.bucket(minute.saturating_mul(MINUTE)) {
                Some(bucket) => counts[bucket] += events,
                None => break,
            }
        }
        counts
    }
}

/// Which documents of a segment the exclusions remove: per field, the term ordinals of the
/// excluded values (names compare in any case, as the filters do).
struct Excluded {
    columns: Vec<(StrColumn, HashSet<u64>)>,
}

impl Excluded {
    fn of(
        reader: &SegmentReader,
        exclusions: &[(FacetField, Vec<String>)],
    ) -> tantivy::Result<Excluded> {
        let mut columns = Vec::new();
        for (field, values) in exclusions {
            let Some(column) = reader.fast_fields().str(field.name())? else {
                continue;
            };
            let mut ords = HashSet::new();
            if field.case_insensitive() {
                let wanted: HashSet<String> = values.iter().map(|v| v.to_lowercase()).collect();
                let mut terms = column.dictionary().stream()?;
                while terms.advance() {
                    if wanted.contains(&String::from_utf8_lossy(terms.key()).to_lowercase()) {
                        ords.insert(terms.term_ord());
                    }
                }
            } else {
                for value in values {
                    if let Some(ord) = column.dictionary().term_ord(value)? {
                        ords.insert(ord);
                    }
                }
            }
            if !ords.is_empty() {
                columns.push((column, ords));
            }
        }
        Ok(Excluded { columns })
    }

    fn contains(&self, doc: DocId) -> bool {
        self.columns
            .iter()
            .any(|(column, ords)| column.term_ords(doc).any(|ord| ords.contains(&ord)))
    }

    /// The documents counted: alive and not excluded.
    fn counted(&self, reader: &SegmentReader) -> impl Iterator<Item = DocId> {
        let alive = reader.alive_bitset();
        (0..reader.max_doc()).filter(move |doc| {
            alive.is_none_or(|alive| alive.is_alive(*doc)) && !self.contains(*doc)
        })
    }
}

impl WholeSegmentCounts {
    fn counts(
        &self,
        reader: &SegmentReader,
        field: FacetField,
        exclusions: &Exclusions,
        excluded: &Excluded,
    ) -> tantivy::Result<Arc<FieldCounts>> {
        let key = (
            reader.segment_id(),
            reader.num_deleted_docs(),
            field,
            exclusions.clone(),
        );
        if let Some(kept) = self.kept.lock().expect("facet counts lock").get(&key) {
            return Ok(kept.clone());
        }
        let column = reader.fast_fields().str(field.name())?;
        let mut counter = FieldCounter {
            field,
            counts: vec![0; column.as_ref().map_or(0, |column| column.num_terms())],
            column,
            events: 0,
        };
        for doc in excluded.counted(reader) {
            counter.collect(doc);
        }
        let counts = Arc::new(counter.harvest());
        self.kept
            .lock()
            .expect("facet counts lock")
            .insert(key, counts.clone());
        Ok(counts)
    }

    /// The time summary of a segment's counted documents, kept like the counts.
    fn times(
        &self,
        reader: &SegmentReader,
        exclusions: &Exclusions,
        excluded: &Excluded,
    ) -> tantivy::Result<Arc<TimeSummary>> {
        let key = (
            reader.segment_id(),
            reader.num_deleted_docs(),
            exclusions.clone(),
        );
        if let Some(kept) = self.times.lock().expect("time summary lock").get(&key) {
            return Ok(kept.clone());
        }
        let summary = Arc::new(TimeSummary::of(reader, excluded)?);
        self.times
            .lock()
            .expect("time summary lock")
            .insert(key, summary.clone());
        Ok(summary)
    }

    /// Forgets the segments not in `live` (merged away, or of a replaced index).
    pub fn retain(&self, live: &HashSet<SegmentId>) {
        self.kept
            .lock()
            .expect("facet counts lock")
            .retain(|(segment, _, _, _), _| live.contains(segment));
        self.times
            .lock()
            .expect("time summary lock")
            .retain(|(segment, _, _), _| live.contains(segment));
    }
}

/// A request that filters on nothing but `time_field` between `from` and `to` (inclusive), less
/// the events with an excluded value.
pub struct WholeSegments {
    pub(crate) counts: Arc<WholeSegmentCounts>,
    pub(crate) time_field: &'static str,
    pub(crate) from: Option<i64>,
    pub(crate) to: Option<i64>,
    pub(crate) exclusions: Exclusions,
}

impl WholeSegments {
    /// Whether every document of the segment is in the range (judged by the column's bounds,
    /// which also cover deleted documents: a segment is never taken whole wrongly).
    fn covers(&self, reader: &SegmentReader) -> tantivy::Result<bool> {
        if reader.num_docs() == 0 {
            return Ok(false);
        }
        let times = reader.fast_fields().i64(self.time_field)?;
        // Every document has both times; a column without values for some is not taken whole.
        if times.index.get_cardinality() != tantivy::columnar::Cardinality::Full {
            return Ok(false);
        }
        Ok(self.from.is_none_or(|from| from <= times.min_value())
            && self.to.is_none_or(|to| times.max_value() <= to))
    }
}

impl WholeSegments {
    /// Whether a document's time is in the range.
    fn contains(&self, time: Option<i64>) -> bool {
        time.is_some_and(|time| {
            self.from.is_none_or(|from| from <= time) && self.to.is_none_or(|to| time <= to)
        })
    }

    /// Whether more than half of the segment's documents are in the range: then counting the
    /// ones outside is the shorter way.
    fn mostly_covers(&self, reader: &SegmentReader) -> tantivy::Result<bool> {
        let times = reader.fast_fields().i64(self.time_field)?;
        let inside = (0..reader.max_doc())
            .filter(|doc| self.contains(times.first(*doc)))
            .count();
        Ok(inside * 2 > reader.max_doc() as usize)
    }
}

struct FieldCounter {
    field: FacetField,
    column: Option<StrColumn>,
    counts: Vec<u32>,
    events: u64,
}

impl FieldCounter {
    fn collect(&mut self, doc: DocId) {
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

    fn harvest(self) -> FieldCounts {
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

/// Per segment: for each field, value → count, and events covered; the time range; the
/// histogram's counts; the events that match.
type SegmentFruit = (Vec<FieldCounts>, Option<(i64, i64)>, Option<Vec<u64>>, u64);

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
        let mut merged: Vec<(HashMap<String, u64>, u64)> =
            vec![(HashMap::new(), 0); self.fields.len()];
        let mut time_range: Option<(i64, i64)> = None;
        let mut histogram = self.histogram.map(|h| vec![0u64; h.buckets]);
        let mut total = 0;
        for (fields, range, counts, matching) in segments {
            total += matching;
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
            total,
        })
    }
}

impl FacetCollector {
    /// The fruit of a segment every alive document of which matches: kept counts, and the time
    /// range and histogram from its kept time summary (a histogram not in whole minutes counts
    /// its documents).
    fn whole_segment(
        &self,
        whole: &WholeSegments,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFruit> {
        let excluded = Excluded::of(reader, &whole.exclusions)?;
        let fields = self
            .fields
            .iter()
            .map(|field| {
                whole
                    .counts
                    .counts(reader, *field, &whole.exclusions, &excluded)
                    .map(|kept| (*kept).clone())
            })
            .collect::<tantivy::Result<Vec<FieldCounts>>>()?;
        let summary = whole.counts.times(reader, &whole.exclusions, &excluded)?;
        let histogram = match self.histogram {
            None => None,
            Some(histogram) if histogram.in_whole_minutes() => Some(summary.histogram(&histogram)),
            Some(histogram) => {
                let times = reader.fast_fields().i64("eventTime")?;
                let mut counts = vec![0u64; histogram.buckets];
                for doc in excluded.counted(reader) {
                    if let Some(bucket) = times.first(doc).and_then(|time| histogram.bucket(time)) {
                        counts[bucket] += 1;
                    }
                }
                Some(counts)
            }
        };
        Ok((fields, summary.range, histogram, summary.events))
    }

    /// The fruit of a segment most of whose documents are in the range (the oldest segment
    /// of "the last 24 hours"): its kept counts less those of the documents outside the range,
    /// which are fewer to count than the ones inside.
    fn whole_segment_less_outside(
        &self,
        whole: &WholeSegments,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFruit> {
        let in_whole_minutes = self.histogram.is_none_or(|h| h.in_whole_minutes());
        let (mut fields, _, histogram, events) = self.whole_segment(whole, reader)?;
        let excluded = Excluded::of(reader, &whole.exclusions)?;
        let filtered = reader.fast_fields().i64(whole.time_field)?;
        let event_time = reader.fast_fields().i64("eventTime")?;
        let alive = reader.alive_bitset();
        let mut outside = self.for_segment(segment_ord, reader)?;
        let mut inside_histogram = self.histogram.map(|h| (h, vec![0u64; h.buckets]));
        let mut time_range = None;
        for doc in 0..reader.max_doc() {
            if alive.is_some_and(|alive| !alive.is_alive(doc)) {
                continue;
            }
            if !whole.contains(filtered.first(doc)) {
                if !excluded.contains(doc) {
                    outside.collect(doc, 0.0);
                }
                continue;
            }
            let Some(time) = event_time.first(doc) else {
                continue;
            };
            // The exclusions are looked at only where the answer could change.
            let widens = time_range.is_none_or(|(first, last)| time < first || time > last);
            let counts_in_histogram = !in_whole_minutes;
            if (widens || counts_in_histogram) && !excluded.contains(doc) {
                time_range = merge_range(time_range, Some((time, time)));
                if let Some((histogram, counts)) = &mut inside_histogram
                    && let Some(bucket) = histogram.bucket(time)
                {
                    counts[bucket] += 1;
                }
            }
        }
        let (less, _, less_histogram, less_events) = outside.harvest();
        for ((values, with_value), (minus, minus_with_value)) in fields.iter_mut().zip(less) {
            for (value, count) in minus {
                if let Some(kept) = values.get_mut(&value) {
                    *kept = kept.saturating_sub(count);
                    if *kept == 0 {
                        values.remove(&value);
                    }
                }
            }
            *with_value = with_value.saturating_sub(minus_with_value);
        }
        let histogram = if in_whole_minutes {
            histogram.zip(less_histogram).map(|(all, less)| {
                all.iter()
                    .zip(less)
                    .map(|(all, less)| all.saturating_sub(less))
                    .collect()
            })
        } else {
            inside_histogram.map(|(_, counts)| counts)
        };
        Ok((
            fields,
            time_range,
            histogram,
            events.saturating_sub(less_events),
        ))
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
        let fields = self
            .counters
            .into_iter()
            .map(FieldCounter::harvest)
            .collect();
        (
            fields,
            self.time_range,
            self.histogram.map(|(_, counts)| counts),
            self.count,
        )
    }
}
