//! Whole segments: for a request that filters on nothing but time (and perhaps excludes values),
//! each sealed segment its range covers whole answers from counts and a time summary kept from
//! an earlier request, and the large ones from counts merged across requests, instead of a pass
//! over its documents. A segment mostly inside the range answers from its kept counts less those
//! of the documents outside.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tantivy::columnar::StrColumn;
use tantivy::index::SegmentId;
use tantivy::{DocId, SegmentOrdinal, SegmentReader};

use super::facets::{
    FacetCollector, FieldCounter, FieldCounts, Histogram, MINUTE, SegmentFruit, merge_range,
};
use super::schema::FacetField;
use tantivy::collector::{Collector, SegmentCollector};

/// Exclusions (`FIELD.not=VALUE`) as a key: the field names and values, in request order.
pub type Exclusions = Arc<Vec<(FacetField, Vec<String>)>>;

/// The facet counts of every alive, not excluded document of a segment, kept per segment,
/// deletions, field and exclusions. Sealed segments do not change; a deletion (retention) changes
/// the key, and segments merged away are forgotten at the next search.
/// Also kept: the event times of those documents, summed up per minute.
pub struct WholeSegmentCounts {
    kept: Mutex<HashMap<CountsKey, Arc<FieldCounts>>>,
    times: Mutex<HashMap<TimesKey, Arc<TimeSummary>>>,
    /// The counts of the large whole segments of recent requests, merged: what the newest
    /// requests have in common (the index's big sealed segments), so that a request merges only
    /// the small, fresh segments into them. The most recent last.
    merged: Mutex<Vec<(MergedKey, Arc<Merged>)>>,
    /// A whole segment with at least this many counted events joins the merged counts.
    merge_from: AtomicU64,
}

impl Default for WholeSegmentCounts {
    fn default() -> Self {
        WholeSegmentCounts {
            kept: Mutex::default(),
            times: Mutex::default(),
            merged: Mutex::default(),
            merge_from: AtomicU64::new(MERGED_SEGMENT_EVENTS),
        }
    }
}

/// What merged counts are of: large whole segments (sorted), a field, exclusions.
type MergedKey = (Vec<(SegmentId, DocId)>, FacetField, Exclusions);

/// How many merged counts are kept (a few fields, each with or without a few exclusions).
pub(super) const MERGED_KEPT: usize = 32;

/// A segment taken whole with at least this many counted events joins the merged counts: large
/// segments change rarely (a merge of the index), small fresh ones with every commit.
const MERGED_SEGMENT_EVENTS: u64 = 20_000;

/// One field's counts over several whole segments, by value and by count.
pub(super) struct Merged {
    by_value: HashMap<String, u64>,
    /// Most frequent first, ties by value: the order of the answer.
    by_count: Vec<(String, u64)>,
    /// Events with a value.
    pub(super) events: u64,
}

impl Merged {
    pub(super) fn of<'a>(fields: impl Iterator<Item = &'a FieldCounts>) -> Merged {
        let mut by_value: HashMap<String, u64> = HashMap::new();
        let mut events = 0;
        for (values, with_value) in fields {
            events += with_value;
            for (value, count) in values {
                match by_value.get_mut(value) {
                    Some(sum) => *sum += count,
                    None => {
                        by_value.insert(value.clone(), *count);
                    }
                }
            }
        }
        let mut by_count: Vec<(String, u64)> = by_value
            .iter()
            .map(|(value, count)| (value.clone(), *count))
            .collect();
        by_count.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Merged {
            by_value,
            by_count,
            events,
        }
    }

    pub(super) fn empty() -> Merged {
        Merged {
            by_value: HashMap::new(),
            by_count: Vec::new(),
            events: 0,
        }
    }

    /// The `limit` most frequent values of these counts plus `more` (counts of other segments),
    /// and how many values there are in all. Only the values of `more` and the first `limit` of
    /// the rest can be among the most frequent: the rest keep their merged counts and order.
    pub(super) fn top_with(
        &self,
        more: &HashMap<&str, u64>,
        limit: usize,
    ) -> (Vec<(String, u64)>, u64) {
        let mut distinct = self.by_value.len() as u64;
        let mut candidates: Vec<(&str, u64)> = Vec::with_capacity(more.len() + limit);
        for (value, count) in more {
            match self.by_value.get(*value) {
                Some(merged) => candidates.push((value, merged + count)),
                None => {
                    distinct += 1;
                    candidates.push((value, *count));
                }
            }
        }
        candidates.extend(
            self.by_count
                .iter()
                .filter(|(value, _)| !more.contains_key(value.as_str()))
                .take(limit)
                .map(|(value, count)| (value.as_str(), *count)),
        );
        let order = |a: &(&str, u64), b: &(&str, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
        if candidates.len() > limit && limit > 0 {
            candidates.select_nth_unstable_by(limit - 1, order);
        }
        candidates.truncate(limit);
        candidates.sort_unstable_by(order);
        let values = candidates
            .into_iter()
            .map(|(value, count)| (value.to_owned(), count))
            .collect();
        (values, distinct)
    }
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

    /// The merged counts of `field` over these large whole segments (sorted), merging them
    /// with `merge` when no recent request did.
    pub(super) fn merged(
        &self,
        segments: &[(SegmentId, DocId)],
        field: FacetField,
        exclusions: &Exclusions,
        merge: impl FnOnce() -> Merged,
    ) -> Arc<Merged> {
        let key = (segments.to_vec(), field, exclusions.clone());
        {
            let mut kept = self.merged.lock().expect("merged counts lock");
            if let Some(position) = kept.iter().position(|(kept, _)| *kept == key) {
                let entry = kept.remove(position);
                let merged = entry.1.clone();
                kept.push(entry);
                return merged;
            }
        }
        let merged = Arc::new(merge());
        let mut kept = self.merged.lock().expect("merged counts lock");
        if kept.len() >= MERGED_KEPT {
            kept.remove(0);
        }
        kept.push((key, merged.clone()));
        merged
    }

    /// Whether a whole segment with `events` counted events joins the merged counts.
    pub(super) fn merges(&self, events: u64) -> bool {
        events >= self.merge_from.load(Ordering::Relaxed)
    }

    /// Sets how many counted events make a whole segment join the merged counts.
    pub(super) fn merge_from(&self, events: u64) {
        self.merge_from.store(events, Ordering::Relaxed);
    }

    /// Forgets the segments not in `live` (merged away, or of a replaced index).
    pub fn retain(&self, live: &HashSet<SegmentId>) {
        self.merged
            .lock()
            .expect("merged counts lock")
            .retain(|((segments, _, _), _)| {
                segments.iter().all(|(segment, _)| live.contains(segment))
            });
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
    pub(super) fn covers(&self, reader: &SegmentReader) -> tantivy::Result<bool> {
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
    /// ones outside is the shorter way. Judged from a sample of about 4,096 evenly spaced
    /// documents: it only picks between two exact ways of counting, so a close call may go
    /// either way, but it must not cost a pass over a segment of millions.
    pub(super) fn mostly_covers(&self, reader: &SegmentReader) -> tantivy::Result<bool> {
        const SAMPLE: u32 = 4_096;
        let times = reader.fast_fields().i64(self.time_field)?;
        let step = (reader.max_doc() / SAMPLE).max(1) as usize;
        let (mut inside, mut looked) = (0usize, 0usize);
        for doc in (0..reader.max_doc()).step_by(step) {
            looked += 1;
            inside += usize::from(self.contains(times.first(doc)));
        }
        Ok(inside * 2 > looked)
    }
}

impl FacetCollector {
    /// The fruit of a segment every alive document of which matches: kept counts, and the time
    /// range and histogram from its kept time summary (a histogram not in whole minutes counts
    /// its documents).
    pub(super) fn whole_segment(
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
            })
            .collect::<tantivy::Result<Vec<Arc<FieldCounts>>>>()?;
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
        Ok(SegmentFruit {
            fields,
            time_range: summary.range,
            histogram,
            matching: summary.events,
            whole: Some((reader.segment_id(), reader.num_deleted_docs())),
        })
    }

    /// The fruit of a segment most of whose documents are in the range (the oldest segment
    /// of "the last 24 hours"): its kept counts less those of the documents outside the range,
    /// which are fewer to count than the ones inside.
    pub(super) fn whole_segment_less_outside(
        &self,
        whole: &WholeSegments,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<SegmentFruit> {
        let in_whole_minutes = self.histogram.is_none_or(|h| h.in_whole_minutes());
        let kept = self.whole_segment(whole, reader)?;
        let (histogram, events) = (kept.histogram, kept.matching);
        let mut fields: Vec<FieldCounts> =
            kept.fields.into_iter().map(Arc::unwrap_or_clone).collect();
        let excluded = Excluded::of(reader, &whole.exclusions)?;
        let filtered = reader.fast_fields().i64(whole.time_field)?;
        let event_time = reader.fast_fields().i64("eventTime")?;
        let alive = reader.alive_bitset();
        let mut outside = self.for_segment(segment_ord, reader)?;
        let mut inside_histogram = self.histogram.map(|h| (h, vec![0u64; h.buckets]));
        let mut time_range = None;
        let filters_event_time = whole.time_field == "eventTime";
        for doc in 0..reader.max_doc() {
            if alive.is_some_and(|alive| !alive.is_alive(doc)) {
                continue;
            }
            let filtered_time = filtered.first(doc);
            if !whole.contains(filtered_time) {
                if !excluded.contains(doc) {
                    outside.collect(doc, 0.0);
                }
                continue;
            }
            // Filtered on event time (the usual request), the value is read already.
            let time = if filters_event_time {
                filtered_time
            } else {
                event_time.first(doc)
            };
            let Some(time) = time else {
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
        let less = outside.harvest();
        let (less_histogram, less_events) = (less.histogram, less.matching);
        for ((values, with_value), minus) in fields.iter_mut().zip(less.fields) {
            let (minus, minus_with_value) = &*minus;
            for (value, count) in minus {
                if let Some(kept) = values.get_mut(value) {
                    *kept = kept.saturating_sub(*count);
                    if *kept == 0 {
                        values.remove(value);
                    }
                }
            }
            *with_value = with_value.saturating_sub(*minus_with_value);
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
        Ok(SegmentFruit {
            fields: fields.into_iter().map(Arc::new).collect(),
            time_range,
            histogram,
            matching: events.saturating_sub(less_events),
            whole: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The top values of merged counts plus other segments' counts equal those of one merge of
    /// everything, for every limit: ties by value, values only in one side, counts that overtake.
    #[test]
    fn merged_counts_plus_fresh_segments_rank_as_one_merge() {
        let mut state = 7u64;
        let mut next = move |below: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % below
        };
        for round in 0..200 {
            let segment = |next: &mut dyn FnMut(u64) -> u64| -> FieldCounts {
                let mut values = HashMap::new();
                for _ in 0..next(30) {
                    *values.entry(format!("v{}", next(40))).or_default() += 1 + next(5);
                }
                let events = values.values().sum();
                (values, events)
            };
            let large: Vec<FieldCounts> = (0..1 + next(3)).map(|_| segment(&mut next)).collect();
            let fresh: Vec<FieldCounts> = (0..next(3)).map(|_| segment(&mut next)).collect();
            let merged = Merged::of(large.iter());
            let mut more: HashMap<&str, u64> = HashMap::new();
            for (values, _) in &fresh {
                for (value, count) in values {
                    *more.entry(value.as_str()).or_default() += count;
                }
            }
            let mut all: HashMap<String, u64> = HashMap::new();
            for (values, _) in large.iter().chain(&fresh) {
                for (value, count) in values {
                    *all.entry(value.clone()).or_default() += count;
                }
            }
            let mut expected: Vec<(String, u64)> = all.into_iter().collect();
            expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            for limit in [0, 1, 2, 5, 100] {
                let (values, distinct) = merged.top_with(&more, limit);
                assert_eq!(distinct, expected.len() as u64, "round {round}");
                let want: Vec<(String, u64)> = expected.iter().take(limit).cloned().collect();
                assert_eq!(values, want, "round {round}, limit {limit}");
            }
        }
    }
}
