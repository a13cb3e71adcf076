//! Governance report benchmark: a history with 100k users, 100k data sources (subscribed to by
//! users and groups) and N query events
//! (10M by default) appended to a fresh log, the projection built from it, then every report
//! kind timed for its busiest entity, as the UI runs it (100 rows) and whole (CSV).
//!
//! `cargo bench -p vigil-core --bench reports -- [QUERIES]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_core::governance::reports::{self, find};
use vigil_core::governance::{CATALOG, EntityType, Governance, ReportRequest, Scope};
use vigil_core::{EventLog, LogEntry};

const USERS: usize = 100_000;
const DATASOURCES: usize = 100_000;
const GROUPS: usize = 1_000;
const TAGS: usize = 200;
const PURPOSES: usize = 50;
const PROJECTS: usize = 5_000;
const POLICIES: usize = 100;
const CONNECTIONS: usize = 50;
/// 2026-01-01T00:00:00Z: queries spread over the year from here.
const START: i64 = 1_767_225_600_000_000;
const YEAR: i64 = 365 * 86_400_000_000;
const BATCH: usize = 20_000;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed: a fifth of the picks go to the first hundredth.
    fn skewed(&mut self, n: usize) -> usize {
        if self.below(5) == 0 {
            self.below(n / 100)
        } else {
            self.below(n)
        }
    }
}

fn iso(micros: i64) -> String {
    vigil_core::governance::reports::iso(micros)
}

struct Writer<'a> {
    log: &'a EventLog,
    pending: Vec<LogEntry>,
    count: usize,
}

impl Writer<'_> {
    fn push(&mut self, time: i64, body: String) {
        self.count += 1;
        let id = format!("bench-{}", self.count);
        let json = format!(r#"{{"id":"{id}","eventTimestamp":"{}",{body}}}"#, iso(time));
        let length = json.len();
        self.pending
            .push(LogEntry::new(id, json, length, time, time));
        if self.pending.len() >= BATCH {
            self.flush();
        }
    }
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            self.log
                .append_blocking(std::mem::take(&mut self.pending), None)
                .unwrap();
        }
    }
}

const ADMIN: &str = r#""actor":{"type":"USER_ACTOR","id":"admin@acme.example","name":"Admin"},"actionStatus":"SUCCESS""#;

fn user_ref(u: usize) -> String {
    format!(r#"{{"type":"USER","id":"user{u}@acme.example","name":"User {u}","profileId":"{u}"}}"#)
}
fn ds_ref(d: usize) -> String {
    format!(r#"{{"type":"DATASOURCE","id":"{d}","name":"Table {d}","technology":"SNOWFLAKE"}}"#)
}
fn policy_ref(p: usize) -> String {
    format!(r#"{{"type":"GLOBAL_POLICY","id":"gp{p}","name":"Policy {p}"}}"#)
}

/// The governance history: users, groups, data sources, tags, projects, subscriptions, policies.
fn admin_history(w: &mut Writer<'_>, rng: &mut Rng) {
    let t = START - 86_400_000_000;
    for u in 0..USERS {
        w.push(t, format!(r#""action":"CREATE","targetType":"USER",{ADMIN},"targets":[{}],"auditPayload":{{"type":"UserCreatedAuditPayload","name":"User {u}","email":"user{u}@acme.example"}}"#, user_ref(u)));
    }
    for g in 0..GROUPS {
        w.push(t, format!(r#""action":"CREATE","targetType":"GROUP",{ADMIN},"targets":[{{"type":"GROUP","id":"g{g}","name":"Group {g}"}}],"auditPayload":{{"type":"GroupCreatedAuditPayload","groupId":"g{g}","name":"Group {g}"}}"#));
    }
    for u in 0..USERS {
        for _ in 0..2 {
            let g = rng.below(GROUPS);
            w.push(t, format!(r#""action":"MEMBER_ADD","targetType":"GROUP",{ADMIN},"targets":[{{"type":"GROUP","id":"g{g}","name":"Group {g}"}}],"relatedResources":[{}],"auditPayload":{{"type":"GroupMemberAddedAuditPayload","groupId":"g{g}"}}"#, user_ref(u)));
        }
    }
    for d in 0..DATASOURCES {
        let c = d % CONNECTIONS;
        w.push(t, format!(r#""action":"CREATE","targetType":"DATASOURCE",{ADMIN},"targets":[{}],"relatedResources":[{{"type":"CONNECTION","id":"c{c}","name":"Connection {c}"}}],"auditPayload":{{"type":"DatasourceCreatedAuditPayload","technology":"SNOWFLAKE","connectionId":"c{c}","schema":"S","table":"T{d}"}}"#, ds_ref(d)));
        let (a, b) = (rng.below(TAGS), rng.below(TAGS));
        w.push(t, format!(r#""action":"TAG_APPLY","targetType":"DATASOURCE",{ADMIN},"targets":[{}],"auditPayload":{{"type":"TagAppliedAuditPayload","appliedTags":[{{"targetName":"Table {d}","targetType":"DATASOURCE","tags":[{{"name":"Tag {a}"}},{{"name":"Tag {b}"}}]}},{{"targetName":"EMAIL","targetType":"COLUMN","tags":[{{"name":"Discovered.Email"}}]}}]}}"#, ds_ref(d)));
    }
    for p in 0..PURPOSES {
        w.push(t, format!(r#""action":"UPSERT","targetType":"PURPOSE",{ADMIN},"targets":[{{"type":"PURPOSE","id":"pu{p}","name":"Purpose {p}"}}],"auditPayload":{{"type":"PurposeUpsertedAuditPayload","name":"Purpose {p}"}}"#));
    }
    for p in 0..PROJECTS {
        let purposes: Vec<String> = (0..2)
            .map(|i| format!(r#"{{"id":"pu{}"}}"#, (p + i * 7) % PURPOSES))
            .collect();
        let sources: Vec<String> = (0..10)
            .map(|_| format!(r#"{{"id":"{}"}}"#, rng.skewed(DATASOURCES)))
            .collect();
        w.push(t, format!(r#""action":"CREATE","targetType":"PROJECT",{ADMIN},"targets":[{{"type":"PROJECT","id":"pr{p}","name":"Project {p}"}}],"auditPayload":{{"type":"ProjectCreatedAuditPayload","projectId":"pr{p}","name":"Project {p}","purposes":[{}],"datasources":[{}]}}"#, purposes.join(","), sources.join(",")));
    }
    let mut subscription = 0;
    for u in 0..USERS {
        // One project (the user's), three data sources.
        let models = [(
            "PROJECT",
            format!(
                r#"{{"type":"PROJECT","id":"pr{}","name":"Project {}"}}"#,
                u % PROJECTS,
                u % PROJECTS
            ),
        )]
        .into_iter()
        .chain((0..3).map(|_| ("DATASOURCE", ds_ref(rng.skewed(DATASOURCES)))));
        for (kind, model) in models {
            subscription += 1;
            w.push(t, format!(r#""action":"CREATE","targetType":"SUBSCRIPTION",{ADMIN},"targets":[{{"type":"SUBSCRIPTION","id":"s{subscription}","subscriber":{},"model":{model}}}],"auditPayload":{{"type":"SubscriptionCreatedAuditPayload","modelType":"{kind}","role":"SUBSCRIBED","status":"APPROVED"}}"#, user_ref(u)));
        }
    }
    // A tenth of the groups subscribe to two data sources each: their members' rows are
    // "Group: …" subscriptions.
    for g in (0..GROUPS).step_by(10) {
        for _ in 0..2 {
            subscription += 1;
            let model = ds_ref(rng.skewed(DATASOURCES));
            w.push(t, format!(r#""action":"CREATE","targetType":"SUBSCRIPTION",{ADMIN},"targets":[{{"type":"SUBSCRIPTION","id":"s{subscription}","subscriber":{{"type":"GROUP","id":"g{g}","name":"Group {g}"}},"model":{model}}}],"auditPayload":{{"type":"SubscriptionCreatedAuditPayload","modelType":"DATASOURCE","role":"SUBSCRIBED","status":"APPROVED"}}"#));
        }
    }
    for p in 0..POLICIES {
        let kind = if p % 2 == 0 {
            "MASKING"
        } else {
            "ROW_REDACTION"
        };
        w.push(t, format!(r#""action":"CREATE","targetType":"GLOBAL_POLICY",{ADMIN},"targets":[{}],"auditPayload":{{"type":"GlobalPolicyCreatedAuditPayload","policy":{{"type":"DATA","actions":[{{"type":"DATA","dataPolicyType":"{kind}"}}],"circumstance":{{"type":"CONDITIONAL","conditions":[{{"type":"TAG","tag":"Tag {p}"}}]}}}}}}"#, policy_ref(p)));
        for i in 0..1_000 {
            let d = rng.below(DATASOURCES);
            let (action, payload) = match i % 10 {
                0 => (
                    "POLICY_DISABLED",
                    r#"{"type":"DatasourceGlobalPolicyDisabledAuditPayload"}"#,
                ),
                1 => (
                    "POLICY_CERTIFY",
                    r#"{"type":"DatasourcePolicyCertifiedAuditPayload"}"#,
                ),
                _ => (
                    "POLICY_APPLIED",
                    r#"{"type":"DatasourceGlobalPolicyAppliedAuditPayload","conflict":null}"#,
                ),
            };
            w.push(t, format!(r#""action":"{action}","targetType":"DATASOURCE",{ADMIN},"targets":[{}],"relatedResources":[{}],"auditPayload":{payload}"#, ds_ref(d), policy_ref(p)));
        }
    }
}

fn queries(w: &mut Writer<'_>, rng: &mut Rng, count: usize) {
    for i in 0..count {
        let time = START + (i as i64) * (YEAR / count as i64);
        let u = rng.skewed(USERS);
        let d = rng.skewed(DATASOURCES);
        let project = if i % 2 == 0 {
            format!(
                r#","accessControls":{{"project":{{"id":"pr{}"}}}}"#,
                u % PROJECTS
            )
        } else {
            String::new()
        };
        w.push(time, format!(r#""action":"QUERY","targetType":"DATASOURCE","actor":{{"type":"USER_ACTOR","id":"user{u}@acme.example","name":"User {u}"}},"actionStatus":"SUCCESS","targets":[{}],"auditPayload":{{"type":"QueryAuditPayload","queryId":"q{i}","query":"SELECT * FROM t{d} WHERE id = {i}"{project}}}"#, ds_ref(d)));
    }
}

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    // VIGIL_BENCH_DATA keeps the history between runs (built once per query count);
    // otherwise it lives in a temporary directory under VIGIL_BENCH_DIR.
    let (_temporary, path) = match std::env::var_os("VIGIL_BENCH_DATA") {
        Some(kept) => {
            let path = std::path::PathBuf::from(kept).join(count.to_string());
            std::fs::create_dir_all(&path).unwrap();
            (None, path)
        }
        None => {
            let dir = tempfile::tempdir_in(
                std::env::var("VIGIL_BENCH_DIR").unwrap_or_else(|_| ".".into()),
            )
            .unwrap();
            let path = dir.path().to_owned();
            (Some(dir), path)
        }
    };
    let log = Arc::new(EventLog::open(&path).unwrap());
    let total = match log.last_seq().unwrap() {
        0 => {
            let mut rng = Rng(7);
            let started = Instant::now();
            let mut writer = Writer {
                log: &log,
                pending: Vec::new(),
                count: 0,
            };
            admin_history(&mut writer, &mut rng);
            let admin = writer.count;
            queries(&mut writer, &mut rng, count);
            writer.flush();
            println!(
                "history: {admin} governance events + {count} query events appended in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            writer.count
        }
        kept => {
            println!("history: {kept} events kept in {}", path.display());
            kept as usize
        }
    };
    let started = Instant::now();
    let governance = Governance::open(&path, log.clone()).unwrap();
    let already = governance.projected_seq();
    while !governance.wait_until_projected(total as u64, Duration::from_secs(60)) {
        println!("  projected {} of {total}", governance.projected_seq());
    }
    let seconds = started.elapsed().as_secs_f64();
    if already < total as u64 {
        println!(
            "projection built in {seconds:.0} s ({:.0} events/s)",
            (total as u64 - already) as f64 / seconds
        );
    }
    let name_of = |entity: EntityType| -> Option<&'static str> {
        Some(match entity {
            // The busiest user and data source (index 0 of the skewed picks), a tag, a purpose…
            EntityType::User => "user0@acme.example",
            EntityType::Group => "g0",
            EntityType::Project => "pr0",
            EntityType::Datasource => "0",
            EntityType::Purpose => "pu0",
            EntityType::PolicyType => "MASKING",
            EntityType::GlobalPolicy => "gp0",
            EntityType::Connection => "c0",
            EntityType::Tag => "Tag 0",
            EntityType::Sdd => return None,
        })
    };
    println!(
        "{:<14} {:<4} {:<24} {:>8} {:>10} {:>8} {:>10}",
        "entity", "", "report", "rows@100", "ms@100", "rows", "ms (all)"
    );
    let mut slowest = (0.0f64, String::new());
    // VIGIL_BENCH_ONLY=report-key times only the report kinds of that key.
    let only = std::env::var("VIGIL_BENCH_ONLY").ok();
    for kind in CATALOG.iter() {
        if only.as_deref().is_some_and(|key| key != kind.key) {
            continue;
        }
        let entity = match kind.scope {
            Scope::One => Some(
                reports::resolve(&governance, kind.entity, name_of(kind.entity).unwrap()).unwrap(),
            ),
            Scope::All => None,
        };
        let _ = find(kind.entity, kind.scope, kind.key).unwrap();
        let mut timings = Vec::new();
        for limit in [Some(100), None] {
            let request = ReportRequest {
                kind,
                entity: entity.clone(),
                // The whole year for the access reports.
                from: START,
                to: START + YEAR,
                limit,
                timeout: Duration::from_secs(540),
            };
            // As the UI runs it (rows collected), or whole as the CSV export runs it (rows handed
            // on one by one; formatting them is left out).
            let started = Instant::now();
            let rows = match limit {
                Some(_) => reports::run(&governance, &request).unwrap().rows.len(),
                None => {
                    reports::run_each(&governance, &request, &mut |_| {}, &mut drop)
                        .unwrap()
                        .rows
                }
            };
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            timings.push((rows, ms));
            if ms > slowest.0 {
                slowest = (ms, format!("{} {}", kind.entity.as_str(), kind.key));
            }
        }
        println!(
            "{:<14} {:<4} {:<24} {:>8} {:>10.1} {:>8} {:>10.1}",
            kind.entity.as_str(),
            if kind.scope == Scope::All {
                "all"
            } else {
                "one"
            },
            kind.key,
            timings[0].0,
            timings[0].1,
            timings[1].0,
            timings[1].1
        );
    }
    println!("slowest: {} in {:.0} ms", slowest.1, slowest.0);
    governance.shutdown();
    log.shutdown();
}
