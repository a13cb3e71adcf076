//! The page of a search: the sort key of a hit (time, then sequence number, in the direction
//! asked) and, for requests that filter on nothing but time, the newest (oldest) hits read
//! segment by segment, skipping the segments that cannot hold one.

use tantivy::DocAddress;

use super::Seq;

/// The best `limit` hits (`top` collects that many) of a request that filters on nothing but time: segment
/// by segment, the newest first (the oldest, ascending). A segment whose every event is older
/// (newer) than the last of the hits found so far cannot add one and is not read: the newest
/// page of years of history reads the segments of its last days.
pub(super) fn top_by_time(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    top: &impl tantivy::collector::Collector<Fruit = Vec<(SortKey, DocAddress)>>,
    limit: usize,
    time_name: &str,
    descending: bool,
) -> tantivy::Result<Vec<(SortKey, DocAddress)>> {
    let weight = query.weight(tantivy::query::EnableScoring::disabled_from_searcher(
        searcher,
    ))?;
    let mut segments = Vec::new();
    for (ord, reader) in searcher.segment_readers().iter().enumerate() {
        let times = reader.fast_fields().i64(time_name)?;
        // A segment with events without a time (they sort as the oldest) is always read.
        let bounded = times.index.get_cardinality() == tantivy::columnar::Cardinality::Full;
        let bounds = bounded.then(|| (times.min_value(), times.max_value()));
        segments.push((ord as u32, reader, bounds));
    }
    // The most promising first: newest last event (descending), oldest first event (ascending).
    segments.sort_by_key(|(_, _, bounds)| match bounds {
        None => i64::MIN,
        Some((_, max)) if descending => max.saturating_neg(),
        Some((min, _)) => *min,
    });
    let mut best: Vec<(SortKey, DocAddress)> = Vec::new();
    for (ord, reader, bounds) in segments {
        if best.len() >= limit
            && let (Some((min, max)), Some((last, _))) = (bounds, best.last())
        {
            let (time, _) = last.time_and_seq();
            if (descending && max < time) || (!descending && min > time) {
                continue;
            }
        }
        let fruit = top.collect_segment(&*weight, ord, reader)?;
        best.extend(top.merge_fruits(vec![fruit])?);
        best.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        best.truncate(limit);
    }
    Ok(best)
}

/// The sort key of a hit: time and seq, in the direction asked.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub(super) enum SortKey {
    Descending((i64, Seq)),
    Ascending(std::cmp::Reverse<(i64, Seq)>),
}

impl SortKey {
    pub(super) fn time_and_seq(self) -> (i64, Seq) {
        match self {
            SortKey::Descending(key) => key,
            SortKey::Ascending(std::cmp::Reverse(key)) => key,
        }
    }
}
