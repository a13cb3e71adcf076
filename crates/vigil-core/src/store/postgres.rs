//! The PostgreSQL backend of the storage seam: connecting (TLS when the URL asks for it, bounded
//! timeouts), portable statements (`?N` rewritten to `$N`, [`Value`] in and out), the schema's
//! migrations under an advisory lock, and a small pool of connection threads. Each connection
//! lives on a thread of its own, so the synchronous client never runs inside the async runtime
//! and a caller anywhere can wait for its answer with a bound.

use std::error::Error as StdError;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, GenericClient};

use super::postgres_schema::{MIGRATIONS, SCHEMA_VERSION};
use super::{Row, Sql, StoreError, Value, redact};

/// How long connecting may take before the database counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a caller waits for the pool's answer before giving up with "unreachable". A query
/// that is merely slow (a large verify) runs on its own connection, not through the pool.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// A connection whose peer stopped answering is given up after this long (TCP user timeout), so
/// a database host that vanished does not hold a request for the kernel's default of minutes.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(10);
/// The advisory lock every node takes while it migrates the schema.
const MIGRATION_LOCK: i64 = 0x7669_6769_6c01;

/// Parses a `postgres://` URL. `sslrootcert=FILE` (a CA in PEM, as libpq spells it) is taken out
/// here because the client's own parser does not know it. The error never repeats a password.
pub fn parse(url: &str) -> Result<(Config, Option<PathBuf>), String> {
    let mut root_certificate = None;
    let mut kept = url.to_owned();
    if let Some(query_start) = url.find('?') {
        let (head, query) = url.split_at(query_start);
        let mut pairs = Vec::new();
        for pair in query[1..].split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("sslrootcert", file)) => root_certificate = Some(PathBuf::from(file)),
                _ => pairs.push(pair),
            }
        }
        kept = if pairs.is_empty() {
            head.to_owned()
        } else {
            format!("{head}?{}", pairs.join("&"))
        };
    }
    let config: Config = kept
        .parse()
        .map_err(|error| format!("the database URL `{}` is invalid: {error}", redact(url)))?;
    Ok((config, root_certificate))
}

/// Opens one connection: TLS with the system's roots (or `sslrootcert`) unless `sslmode=disable`,
/// a bounded connect, TCP keepalives and a user timeout.
pub fn connect(url: &str, application: &str) -> Result<Client, StoreError> {
    let (mut config, root_certificate) = parse(url).map_err(StoreError::Unreachable)?;
    config
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_user_timeout(TCP_USER_TIMEOUT)
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .application_name(application)
        .notice_callback(|notice| tracing::debug!(notice = notice.message(), "database notice"));
    let result = if config.get_ssl_mode() == postgres::config::SslMode::Disable {
        config.connect(postgres::NoTls)
    } else {
        config.connect(tls(root_certificate)?)
    };
    result.map_err(|error| classify(&error))
}

fn tls(
    root_certificate: Option<PathBuf>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let mut roots = rustls::RootCertStore::empty();
    match root_certificate {
        Some(path) => {
            let pem = std::fs::read(&path).map_err(|error| {
                StoreError::Unreachable(format!(
                    "the database CA file {} cannot be read: {error}",
                    path.display()
                ))
            })?;
            for certificate in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
                let certificate = certificate.map_err(|error| {
                    StoreError::Unreachable(format!(
                        "the database CA file {} is not PEM: {error}",
                        path.display()
                    ))
                })?;
                roots.add(certificate).map_err(|error| {
                    StoreError::Unreachable(format!(
                        "the database CA file {} holds an unusable certificate: {error}",
                        path.display()
                    ))
                })?;
            }
        }
        None => {
            for certificate in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(certificate);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| StoreError::Unreachable(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Tells a lost or refused connection (retry later: 503) from an error of the statement itself.
pub fn classify(error: &postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) => {
            let code = db.code().code();
            // Class 08: connection exception; 57P0x: the server is shutting down or starting.
            if code.starts_with("08") || code.starts_with("57P") {
                StoreError::Unreachable(db.message().to_owned())
            } else {
                StoreError::Postgres(format!("{} ({code})", db.message()))
            }
        }
        None if error.is_closed() || error.source().is_some() => {
            let cause = error
                .source()
                .map_or_else(|| error.to_string(), ToString::to_string);
            StoreError::Unreachable(cause)
        }
        None => StoreError::Postgres(error.to_string()),
    }
}

/// `?N` placeholders as PostgreSQL's `$N`, outside quoted text.
pub fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Integer(value) => match *ty {
                Type::INT2 => i16::try_from(*value)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*value)?.to_sql(ty, out),
                Type::BOOL => (*value != 0).to_sql(ty, out),
                _ => value.to_sql(ty, out),
            },
            Value::Text(text) if *ty == Type::BYTEA => text.as_bytes().to_sql(ty, out),
            Value::Text(text) => text.as_str().to_sql(ty, out),
            Value::Blob(bytes) => bytes.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn value_at(row: &postgres::Row, index: usize) -> Result<Value, postgres::Error> {
    let ty = row.columns()[index].type_();
    Ok(match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index)?.into(),
        Type::INT4 => row.try_get::<_, Option<i32>>(index)?.map(i64::from).into(),
        Type::INT2 => row.try_get::<_, Option<i16>>(index)?.map(i64::from).into(),
        Type::BOOL => row.try_get::<_, Option<bool>>(index)?.map(i64::from).into(),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(index)?.into(),
        _ => row.try_get::<_, Option<String>>(index)?.into(),
    })
}

fn params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect()
}

/// Portable statements on any PostgreSQL client or transaction.
pub struct Pg<'a, C: GenericClient>(pub &'a mut C);

impl<C: GenericClient> Sql for Pg<'_, C> {
    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, StoreError> {
        self.0
            .execute(placeholders(sql).as_str(), &params(values))
            .map_err(|error| classify(&error))
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>, StoreError> {
        let rows = self
            .0
            .query(placeholders(sql).as_str(), &params(values))
            .map_err(|error| classify(&error))?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|index| value_at(row, index))
                    .collect::<Result<Vec<Value>, _>>()
                    .map(Row)
                    .map_err(|error| classify(&error))
            })
            .collect()
    }
}

/// Brings the database's schema to this binary's version, one migration per transaction, under
/// an advisory lock so that nodes starting together migrate once. A database migrated by a newer
/// vigil is refused: this binary does not know what its tables mean.
pub fn migrate(client: &mut Client) -> Result<(), crate::LogError> {
    let mut transaction = client.transaction().map_err(|error| classify(&error))?;
    let run = |transaction: &mut postgres::Transaction<'_>, sql: &str| {
        transaction
            .batch_execute(sql)
            .map_err(|error| classify(&error))
    };
    run(
        &mut transaction,
        &format!(
            "SELECT pg_advisory_xact_lock({MIGRATION_LOCK});
             CREATE TABLE IF NOT EXISTS vigil_schema (
                 id INTEGER PRIMARY KEY CHECK (id = 1),
                 version BIGINT NOT NULL
             );
             INSERT INTO vigil_schema (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;"
        ),
    )?;
    let found: i64 = transaction
        .query_one("SELECT version FROM vigil_schema WHERE id = 1", &[])
        .and_then(|row| row.try_get(0))
        .map_err(|error| classify(&error))?;
    if found > SCHEMA_VERSION {
        return Err(crate::LogError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index as i64 + 1;
        run(&mut transaction, migration)?;
        transaction
            .execute(
                "UPDATE vigil_schema SET version = $1 WHERE id = 1",
                &[&version],
            )
            .map_err(|error| classify(&error))?;
        tracing::info!(version, "database schema migrated");
    }
    transaction.commit().map_err(|error| classify(&error))?;
    Ok(())
}

type PoolJob = Box<dyn FnOnce(Result<&mut Client, StoreError>) + Send>;

/// A few connections, each owned by a thread of its own. A connection that broke is opened again
/// for the next job; while the database is unreachable every job is answered at once with
/// [`StoreError::Unreachable`].
pub struct PgPool {
    sender: Mutex<Option<mpsc::Sender<PoolJob>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl PgPool {
    /// `size` connection threads to `url`; connections open when first needed.
    pub fn new(url: &str, size: usize) -> PgPool {
        let (sender, receiver) = mpsc::channel::<PoolJob>();
        let receiver = Arc::new(Mutex::new(receiver));
        let threads = (0..size.max(1))
            .map(|index| {
                let receiver = receiver.clone();
                let url = url.to_owned();
                std::thread::Builder::new()
                    .name(format!("vigil-pg-{index}"))
                    .spawn(move || pool_thread(&url, &receiver))
                    .expect("spawn a database connection thread")
            })
            .collect();
        PgPool {
            sender: Mutex::new(Some(sender)),
            threads: Mutex::new(threads),
        }
    }

    /// Runs `job` on a pooled connection and waits for its answer, at most [`ANSWER_TIMEOUT`].
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: PoolJob = Box::new(move |client| {
            let _ = reply.send(client.and_then(job));
        });
        self.sender
            .lock()
            .expect("pool sender lock")
            .as_ref()
            .ok_or_else(|| StoreError::Unreachable("the connection pool is shut down".into()))?
            .send(job)
            .map_err(|_| StoreError::Unreachable("the connection pool is shut down".into()))?;
        answer.recv_timeout(ANSWER_TIMEOUT).map_err(|_| {
            StoreError::Unreachable(format!(
                "the database did not answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            ))
        })?
    }

    /// Portable statements in one transaction on a pooled connection.
    pub fn transaction<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut dyn Sql) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run(move |client| {
            let mut transaction = client.transaction().map_err(|error| classify(&error))?;
            let value = job(&mut Pg(&mut transaction))?;
            transaction.commit().map_err(|error| classify(&error))?;
            Ok(value)
        })
    }

    /// Stops the threads once the jobs already sent are done.
    pub fn shutdown(&self) {
        self.sender.lock().expect("pool sender lock").take();
        for thread in self.threads.lock().expect("pool threads lock").drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for PgPool {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn pool_thread(url: &str, receiver: &Mutex<mpsc::Receiver<PoolJob>>) {
    let mut client: Option<Client> = None;
    loop {
        let job = match receiver.lock().expect("pool receiver lock").recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        if client.as_ref().is_some_and(Client::is_closed) {
            client = None;
        }
        if client.is_none() {
            match connect(url, "vigil") {
                Ok(opened) => client = Some(opened),
                Err(error) => {
                    job(Err(error));
                    continue;
                }
            }
        }
        let connection = client.as_mut().expect("connected above");
        job(Ok(connection));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollar_numbers_outside_quotes() {
        assert_eq!(
            placeholders("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND d = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND d = $12"
        );
    }

    #[test]
    fn a_root_certificate_is_taken_out_of_the_url() {
        let (config, root) =
            parse("postgres://vigil:pw@db:5433/audit?sslmode=require&sslrootcert=/etc/ca.pem")
                .unwrap();
        assert_eq!(root, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(config.get_ports(), &[5433]);
        assert_eq!(config.get_dbname(), Some("audit"));
        let error = parse("postgres://vigil:pw@db/audit?nonsense=1").unwrap_err();
        assert!(error.contains("vigil:****@db"), "{error}");
        assert!(!error.contains("pw@"), "{error}");
    }
}
