//! A PostgreSQL server of a test's own, for the cluster tests that stop and start it (a database
//! per test on the machine's server is `common::database`, vigil-core's test helper).

/// A PostgreSQL server of one test's own (initdb in a temporary directory, on a free loopback
/// port), for the tests that stop and start the database: the machine's shared server is never
/// stopped. Run as the `postgres` user when the tests run as root (initdb refuses root).
pub struct ThrowawayServer {
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl ThrowawayServer {
    /// initdb, then start.
    pub fn start() -> ThrowawayServer {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let owner = postgres_uid();
            std::os::unix::fs::chown(dir.path(), Some(owner.0), Some(owner.1)).unwrap();
        }
        let data = dir.path().join("data");
        let data_text = data.to_str().unwrap().to_owned();
        run_as_postgres(
            "initdb",
            &[
                "-D",
                &data_text,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server = ThrowawayServer { dir, port };
        server.start_again();
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_str().unwrap().to_owned()
    }

    /// Starts the stopped server (waits until it accepts connections).
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        run_as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "start",
            ],
        );
    }

    /// Stops the server the fast way: open connections are cut, as a failover or a restart
    /// would cut them.
    pub fn stop(&self) {
        run_as_postgres("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// A new database on it, and its URL.
    pub fn create_database(&self, name: &str) -> String {
        let admin = format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        );
        let mut client = ::postgres::Client::connect(&admin, ::postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        format!(
            "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
            self.port
        )
    }
}

impl Drop for ThrowawayServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(bin("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .uid_if_root()
            .output();
    }
}

fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() == 0 }
}

/// The uid and gid of the `postgres` user.
fn postgres_uid() -> (u32, u32) {
    let output = std::process::Command::new("id")
        .args(["-u", "postgres"])
        .output()
        .unwrap();
    let uid = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    let output = std::process::Command::new("id")
        .args(["-g", "postgres"])
        .output()
        .unwrap();
    let gid = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap();
    (uid, gid)
}

/// A PostgreSQL program: `VIGIL_TEST_PG_BIN` or the newest under /usr/lib/postgresql.
fn bin(program: &str) -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("VIGIL_TEST_PG_BIN") {
        return std::path::Path::new(&dir).join(program);
    }
    let mut versions: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs in /usr/lib/postgresql (or set VIGIL_TEST_PG_BIN)")
        .filter_map(|entry| entry.ok().map(|entry| entry.path().join("bin")))
        .collect();
    versions.sort();
    versions.pop().unwrap().join(program)
}

trait AsPostgres {
    fn uid_if_root(&mut self) -> &mut Self;
}

impl AsPostgres for std::process::Command {
    fn uid_if_root(&mut self) -> &mut Self {
        use std::os::unix::process::CommandExt;
        if is_root() {
            let (uid, gid) = postgres_uid();
            self.uid(uid).gid(gid);
        }
        self
    }
}

fn run_as_postgres(program: &str, args: &[&str]) {
    let output = std::process::Command::new(bin(program))
        .args(args)
        .current_dir("/")
        .uid_if_root()
        .output()
        .unwrap_or_else(|error| panic!("{program} runs: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
