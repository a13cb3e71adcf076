//! The search index against counts computed directly from the log: totals, facets, paging,
//! and rebuilding a deleted or corrupt index.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use vigil_core::EventLog;
use vigil_core::ingest::{BodyFormat, ingest, prepare, split_body};
use vigil_core::search::{Cursor, FacetField, Histogram, SearchIndex, SearchRequest};
use vigil_model::Timestamp;

const EVENTS: usize = 3_000;
const BASE_MICROS: i64 = 1_700_000_000_000_000;

/// splitmix64, so that every run checks the same combinations.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    }
}

fn generate(rng: &mut Rng) -> Vec<Value> {
    let actions = ["QUERY", "QUERY", "QUERY", "CREATE", "DELETE", "UPDATE"];
    let statuses = ["SUCCESS", "SUCCESS", "SUCCESS", "FAILURE", "UNAUTHORIZED"];
    (0..EVENTS)
        .map(|i| {
            let user = rng.below(7);
            let source = rng.below(11);
            // Several events share a timestamp, so paging must order ties by seq.
            let micros = BASE_MICROS + (rng.below(400) as i64) * 1_000_000;
            let time = chrono::DateTime::from_timestamp_micros(micros).unwrap().to_rfc3339();
            json!({
                "id": format!("ev-{i}"),
                "action": actions[rng.below(actions.len() as u64) as usize],
                "actionStatus": statuses[rng.below(statuses.len() as u64) as usize],
                "actor": { "type": "USER_ACTOR", "id": format!("u{user}@example.com"), "name": format!("User {user}") },
                "targetType": "DATASOURCE",
                "targets": [{ "type": "DATASOURCE", "id": format!("{source}"), "name": format!("Source {source}"), "technology": "SNOWFLAKE" }],
                "eventTimestamp": time,
                "auditPayload": { "type": "QueryAuditPayload", "query": format!("SELECT * FROM orders_{source} WHERE region = 'r{}'", i % 3) }
            })
        })
        .collect()
}

/// The value of a facet field for an event, computed from its JSON (not from the indexer's code).
fn expected_values(event: &Value, field: FacetField) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    match field {
        FacetField::Action => vec![text(&event["action"])],
        FacetField::ActionStatus => vec![text(&event["actionStatus"])],
        FacetField::ActorName => vec![text(&event["actor"]["name"])],
        FacetField::DataSourceId => event["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| text(&t["id"]))
            .collect(),
        other => panic!("no expectation for {other:?}"),
    }
}

fn micros(event: &Value) -> i64 {
    Timestamp::parse(event["eventTimestamp"].as_str().unwrap())
        .unwrap()
        .unix_micros()
}

fn setup() -> (tempfile::TempDir, Arc<EventLog>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(EventLog::open(dir.path()).unwrap());
    let events = generate(&mut Rng(7));
    store(&log, &events);
    (dir, log, events)
}

/// Stores the events through ingest, as the API would; every one is new.
fn store(log: &EventLog, events: &[Value]) {
    let body = Value::Array(events.to_vec()).to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime
        .block_on(ingest(
            log,
            prepare(
                split_body(&body, BodyFormat::Json).unwrap(),
                Timestamp::now(),
                &vigil_core::Submitter::cli("test"),
            ),
        ))
        .unwrap();
    assert_eq!(report.stored.len(), events.len());
}

fn open_index(dir: &std::path::Path, log: &Arc<EventLog>) -> Arc<SearchIndex> {
    let index = SearchIndex::open(dir, log.clone()).unwrap();
    assert!(
        index.wait_until_indexed(EVENTS as u64, Duration::from_secs(60)),
        "indexing did not finish"
    );
    index
}

#[test]
fn totals_and_facets_equal_counts_computed_from_the_log() {
    let (dir, log, events) = setup();
    let index = open_index(dir.path(), &log);
    let facets = vec![
        FacetField::Action,
        FacetField::ActionStatus,
        FacetField::ActorName,
        FacetField::DataSourceId,
    ];
    let mut rng = Rng(99);
    for round in 0..40 {
        let mut request = SearchRequest {
            facets: facets.clone(),
            facet_limit: 1_000,
            size: 10,
            ..Default::default()
        };
        for field in &facets {
            if rng.below(3) == 0 {
                let pool: Vec<String> = events
                    .iter()
                    .flat_map(|e| expected_values(e, *field))
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                let mut pool = pool;
                pool.sort();
                let values: Vec<String> = (0..=rng.below(2))
                    .map(|_| pool[rng.below(pool.len() as u64) as usize].clone())
                    .collect();
                request.filters.push((*field, values));
            }
        }
        // An exclusion now and then, on a field filtered or not.
        if rng.below(3) == 0 {
            let field = facets[rng.below(facets.len() as u64) as usize];
            let mut pool: Vec<String> = events
                .iter()
                .flat_map(|e| expected_values(e, field))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            pool.sort();
            let value = pool[rng.below(pool.len() as u64) as usize].clone();
            request.exclusions.push((field, vec![value]));
        }
        if rng.below(2) == 0 {
            request.from = Some(BASE_MICROS + rng.below(200) as i64 * 1_000_000);
            request.to = Some(request.from.unwrap() + rng.below(200) as i64 * 1_000_000);
        }
        assert_counts(&index, &events, &request, &format!("round {round}"));
    }
}

/// The events `request` matches, leaving out the filter on `except` (a facet counts as if its own
/// filter were absent). Names match in any case.
fn matching<'a>(
    events: &'a [Value],
    request: &SearchRequest,
    except: Option<FacetField>,
) -> Vec<&'a Value> {
    let has = |event: &Value, field: FacetField, values: &[String]| {
        expected_values(event, field).iter().any(|v| {
            values.iter().any(|wanted| {
                if field.case_insensitive() {
                    wanted.to_lowercase() == v.to_lowercase()
                } else {
                    wanted == v
                }
            })
        })
    };
    events
        .iter()
        .filter(|event| {
            request
                .filters
                .iter()
                .filter(|(field, _)| Some(*field) != except)
                .all(|(field, values)| has(event, *field, values))
                && !request
                    .exclusions
                    .iter()
                    .any(|(field, values)| has(event, *field, values))
                && request.from.is_none_or(|from| micros(event) >= from)
                && request.to.is_none_or(|to| micros(event) <= to)
        })
        .collect()
}

/// The total, every facet's counts and the time range of `request` equal what the events
/// themselves give.
fn assert_counts(index: &SearchIndex, events: &[Value], request: &SearchRequest, what: &str) {
    let matching_all = matching(events, request, None);
    let result = index.search(request).unwrap();
    assert_eq!(
        result.total,
        matching_all.len() as u64,
        "{what}: {request:?}"
    );
    for counts in &result.facets.facets {
        let matching = matching(events, request, Some(counts.field));
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        for event in &matching {
            for value in expected_values(event, counts.field) {
                *expected.entry(value).or_default() += 1;
            }
        }
        let got: BTreeMap<String, u64> = counts.values.iter().cloned().collect();
        assert_eq!(
            got, expected,
            "{what}, facet {:?}: {request:?}",
            counts.field
        );
        assert_eq!(counts.distinct, expected.len() as u64);
        assert_eq!(counts.events, matching.len() as u64);
    }
    let matching = matching_all;
    // The page: the newest (oldest) matching events, in order.
    let mut times: Vec<i64> = matching.iter().map(|e| micros(e)).collect();
    times.sort_unstable();
    if request.descending {
        times.reverse();
    }
    let page: Vec<i64> = times
        .into_iter()
        .skip(request.offset)
        .take(request.size)
        .collect();
    let hits: Vec<Value> = result
        .hits
        .iter()
        .map(|hit| serde_json::from_str(&hit.json).unwrap())
        .collect();
    assert_eq!(
        hits.iter().map(micros).collect::<Vec<_>>(),
        page,
        "{what}: the page"
    );
    let ids: HashSet<&str> = matching.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert!(
        hits.iter()
            .all(|hit| ids.contains(hit["id"].as_str().unwrap())),
        "{what}: a hit that does not match"
    );
    if let Some(spec) = &request.histogram {
        let mut expected = vec![0u64; spec.buckets];
        for time in matching.iter().map(|e| micros(e)) {
            let bucket = (time - spec.from).div_euclid(spec.width);
            if (0..spec.buckets as i64).contains(&bucket) {
                expected[bucket as usize] += 1;
            }
        }
        assert_eq!(
            result.facets.histogram.as_deref(),
            Some(&expected[..]),
            "{what}, histogram {spec:?}"
        );
    }
    assert_eq!(
        result.facets.time_range,
        matching
            .iter()
            .map(|e| micros(e))
            .min()
            .zip(matching.iter().map(|e| micros(e)).max()),
        "{what}"
    );
}

/// Requests that filter on nothing but time take the kept counts of the segments their range
/// covers whole: the counts stay exact when asked again, for ranges covering one segment, both
/// or a part, and after retention deleted documents.
#[test]
fn whole_segment_counts_stay_exact_across_repeats_ranges_and_deletions() {
    let (dir, log, mut events) = setup();
    let index = open_index(dir.path(), &log);
    // A second segment, later in time than the first.
    let later: Vec<Value> = generate(&mut Rng(8))
        .into_iter()
        .enumerate()
        .map(|(i, mut event)| {
            event["id"] = json!(format!("later-{i}"));
            let time = micros(&event) + 1_000_000_000;
            event["eventTimestamp"] = json!(
                chrono::DateTime::from_timestamp_micros(time)
                    .unwrap()
                    .to_rfc3339()
            );
            event
        })
        .collect();
    store(&log, &later);
    events.extend(later);
    assert!(index.wait_until_indexed(2 * EVENTS as u64, Duration::from_secs(60)));
    let request = |from: Option<i64>, to: Option<i64>| SearchRequest {
        facets: vec![
            FacetField::Action,
            FacetField::ActionStatus,
            FacetField::ActorName,
            FacetField::DataSourceId,
        ],
        facet_limit: 1_000,
        size: 5,
        from,
        to,
        // Without bounds: 7 buckets of 4 minutes from a whole minute (summed from the kept
        // minutes); from a bound that is no whole minute, counted per document.
        histogram: Some(match from {
            Some(from) => Histogram::covering(from, to.unwrap_or(from + 1_430_000_000), 7),
            None => {
                let minute = 60_000_000;
                let start = (BASE_MICROS - 30_000_000).div_euclid(minute) * minute;
                Histogram::covering(start, start + 28 * minute - 1, 7)
            }
        }),
        ..Default::default()
    };
    let second = BASE_MICROS + 1_000_000_000;
    let ranges = [
        (None, None),
        (None, None),
        (Some(BASE_MICROS), Some(second + 400_000_000)),
        (Some(second), None),
        (Some(second), Some(second + 400_000_000)),
        (Some(BASE_MICROS + 100_000_000), Some(second + 100_000_000)),
        (None, Some(BASE_MICROS + 399_000_000)),
        // Most of the first segment: its kept counts less the rest, buckets from kept minutes.
        (None, Some(BASE_MICROS + 300_000_000)),
    ];
    // First each segment's own kept counts, then the two segments' counts merged and kept
    // across requests (as segments of 20,000 events or more are).
    for merge_from in [u64::MAX, 1] {
        index.merge_whole_segments_from(merge_from);
        let merged = if merge_from == 1 { ", merged" } else { "" };
        for (round, (from, to)) in ranges.iter().enumerate() {
            assert_counts(
                &index,
                &events,
                &request(*from, *to),
                &format!("range {round}{merged}"),
            );
            // Less an excluded action (the audit page hides vigil's own reads this way), and an
            // excluded name in another case: kept per exclusion, still exact.
            let mut excluding = request(*from, *to);
            excluding.exclusions = vec![(FacetField::Action, vec!["QUERY".into()])];
            // Oldest first, past the first page; buckets of 30 s, counted per document.
            excluding.descending = false;
            excluding.offset = 7;
            let start = excluding.histogram.map(|h| h.from).unwrap();
            excluding.histogram = Some(Histogram::covering(start, start + 1_200_000_000, 40));
            assert_counts(
                &index,
                &events,
                &excluding,
                &format!("range {round}, no QUERY{merged}"),
            );
            let name = expected_values(&events[0], FacetField::ActorName)
                .into_iter()
                .next()
                .expect("the first event has an actor name");
            excluding
                .exclusions
                .push((FacetField::ActorName, vec![name.to_uppercase()]));
            assert_counts(
                &index,
                &events,
                &excluding,
                &format!("range {round}, no {name}{merged}"),
            );
        }
    }
    // Retention removes the first 1,000 events: the kept counts of the segment holding them no
    // longer apply.
    index.remove_below(1_001);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while index.search(&request(None, None)).unwrap().total != 2 * EVENTS as u64 - 1_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the deletion was not applied"
        );
        index.wait_until_indexed(u64::MAX, Duration::from_millis(100));
    }
    let kept = &events[1_000..];
    for (round, (from, to)) in ranges.iter().enumerate() {
        assert_counts(
            &index,
            kept,
            &request(*from, *to),
            &format!("after retention, range {round}"),
        );
    }
}

#[test]
fn the_facet_limit_keeps_the_most_active_values_and_counts_the_rest() {
    let (dir, log, _) = setup();
    let index = open_index(dir.path(), &log);
    let request = SearchRequest {
        facets: vec![FacetField::DataSourceId],
        facet_limit: 3,
        ..Default::default()
    };
    let counts = &index.search(&request).unwrap().facets.facets[0];
    assert_eq!(counts.values.len(), 3);
    assert_eq!(counts.distinct, 11);
    assert_eq!(counts.events, EVENTS as u64);
    assert!(counts.values.windows(2).all(|pair| pair[0].1 >= pair[1].1));
}

#[test]
fn cursor_and_offset_paging_return_every_match_once_in_order() {
    let (dir, log, events) = setup();
    let index = open_index(dir.path(), &log);
    let filters = vec![(FacetField::Action, vec!["QUERY".to_owned()])];
    let mut expected: Vec<(i64, u64)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["action"] == "QUERY")
        .map(|(i, e)| (micros(e), i as u64 + 1))
        .collect();
    for descending in [true, false] {
        expected.sort();
        if descending {
            expected.reverse();
        }
        let mut seen = Vec::new();
        let mut after: Option<Cursor> = None;
        loop {
            let request = SearchRequest {
                filters: filters.clone(),
                descending,
                size: 37,
                after,
                ..Default::default()
            };
            let result = index.search(&request).unwrap();
            seen.extend(result.hits.iter().map(|hit| hit.seq));
            match result.next_cursor {
                Some(cursor) => after = Some(cursor),
                None => break,
            }
        }
        assert_eq!(
            seen,
            expected.iter().map(|(_, seq)| *seq).collect::<Vec<_>>(),
            "descending={descending}"
        );
        let page = index
            .search(&SearchRequest {
                filters: filters.clone(),
                descending,
                size: 20,
                offset: 40,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            page.hits.iter().map(|h| h.seq).collect::<Vec<_>>(),
            seen[40..60].to_vec()
        );
    }
}

#[test]
fn keywords_search_the_query_text() {
    let (dir, log, events) = setup();
    let index = open_index(dir.path(), &log);
    let expected = events
        .iter()
        .filter(|e| {
            e["auditPayload"]["query"]
                .as_str()
                .unwrap()
                .contains("orders_4 ")
        })
        .count();
    let result = index
        .search(&SearchRequest {
            keywords: Some("orders_4".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(result.total, expected as u64);
}

#[test]
fn a_deleted_or_corrupt_index_is_rebuilt_from_the_log() {
    let (dir, log, _) = setup();
    let index = open_index(dir.path(), &log);
    let request = SearchRequest {
        facets: vec![FacetField::ActorName],
        ..Default::default()
    };
    let before = index.search(&request).unwrap();
    index.shutdown();
    drop(index);

    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let index = open_index(dir.path(), &log);
    assert_eq!(index.document_count(), EVENTS as u64);
    assert_eq!(
        index.search(&request).unwrap().facets.facets,
        before.facets.facets
    );
    index.shutdown();
    drop(index);

    std::fs::write(dir.path().join("index").join("meta.json"), b"{ not json").unwrap();
    let index = open_index(dir.path(), &log);
    assert_eq!(index.document_count(), EVENTS as u64);
    let after = index.search(&request).unwrap();
    assert_eq!(after.total, before.total);
    assert_eq!(after.facets.facets, before.facets.facets);
}
