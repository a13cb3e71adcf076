//! Test harness: runs the real `vigil` binary on a loopback port with a temporary data directory.
#![allow(dead_code)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod browser;
/// A database per test, as vigil-core's tests make it.
#[path = "../../../vigil-core/tests/support/postgres.rs"]
pub mod database;
pub mod emulators;
pub mod fakes;
pub mod oidc;
pub mod postgres;
pub mod rsyslog;
pub mod siem;

/// The admin key every test server is bootstrapped with.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
/// How long a server may take to start.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A path to a seed fixture of vigil-model.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../vigil-model/fixtures/seed")
        .join(name)
}

/// Runs a `vigil` CLI command to completion.
pub fn vigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the vigil binary runs")
}

/// A running `vigil serve`.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The data directory.
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `vigil serve` on a free loopback port over `data_dir`.
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// Starts `vigil serve` with extra arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(data_dir, extra, &[])
    }

    /// Starts `vigil serve` with extra flags and environment variables. Test servers call the
    /// emulators and fakes on loopback, so they allow private endpoints.
    pub fn start_with_env(data_dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        command.envs(env.iter().copied());
        let mut args = vec!["--allow-private-endpoints"];
        args.extend_from_slice(extra);
        Server::spawn(command, data_dir, &args)
    }

    /// Starts `vigil serve` as it runs by default: loopback, private and link-local endpoints
    /// are refused.
    pub fn start_strict(data_dir: &Path) -> Server {
        Server::spawn(Command::new(env!("CARGO_BIN_EXE_vigil")), data_dir, &[])
    }

    /// Starts `vigil serve` with a soft limit of `soft_limit` open files (the hard limit stays),
    /// as a service manager may start it.
    pub fn start_with_open_file_limit(data_dir: &Path, soft_limit: u64) -> Server {
        use std::os::unix::process::CommandExt;
        let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
        // SAFETY: only async-signal-safe calls (getrlimit, setrlimit) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                let mut limit = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                limit.rlim_cur = soft_limit.min(limit.rlim_max);
                if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        Server::spawn(command, data_dir, &[])
    }

    fn spawn(mut command: Command, data_dir: &Path, extra: &[&str]) -> Server {
        command.arg("serve");
        // A free port, unless the test chose one (`--listen`).
        if !extra.contains(&"--listen") {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        let mut child = command
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("VIGIL_BOOTSTRAP_API_KEY", ADMIN_KEY)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the vigil binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("vigil listening on ") {
                    let _ = sender.send(address.to_owned());
                }
            }
        });
        let base = receiver.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("vigil did not start listening within {START_TIMEOUT:?}")
        });
        Server {
            child: Some(child),
            base,
            data_dir: data_dir.to_owned(),
        }
    }

    /// A URL on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and waits for a graceful exit.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().expect("vigil exits")
    }

    /// Sends SIGKILL: the process dies at once, mid-write if it is writing.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("vigil dies");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An HTTP client.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// A minimal valid UAM event with this id.
pub fn event(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "action": "QUERY",
        "actor": { "type": "USER_ACTOR", "id": "taylor@example.com", "name": "Taylor" },
        "targetType": "DATASOURCE",
        "targets": [{ "type": "DATASOURCE", "id": "2034", "name": "Exhibitions", "technology": "SNOWFLAKE" }],
        "actionStatus": "SUCCESS",
        "eventTimestamp": "2024-03-21T13:39:45.040Z",
        "auditPayload": { "type": "QueryAuditPayload", "queryId": id, "query": "SELECT 1" }
    })
}

/// A `UserCreated` event for the governance projection.
pub fn user_created(id: &str, name: &str, time: &str) -> Value {
    json!({
        "id": format!("create-{id}"), "action": "CREATE", "targetType": "USER", "eventTimestamp": time,
        "actor": { "type": "SYSTEM_ACCOUNT", "id": "immuta_system_account", "name": "Immuta System Account" },
        "targets": [{ "type": "USER", "id": id, "name": name }],
        "auditPayload": { "type": "UserCreatedAuditPayload", "version": 1, "name": name, "email": id },
    })
}

/// A `GroupMemberAdded` event: the user joins group `g1`, named `Audit, "Core"`.
pub fn member_added(id: &str, name: &str, time: &str) -> Value {
    json!({
        "id": format!("join-{id}"), "action": "MEMBER_ADD", "targetType": "GROUP", "eventTimestamp": time,
        "actor": { "type": "USER_ACTOR", "id": "admin@acme.example", "name": "Admin" },
        "targets": [{ "type": "GROUP", "id": "g1", "name": "Audit, \"Core\"" }],
        "relatedResources": [{ "type": "USER", "id": id, "name": name }],
        "auditPayload": { "type": "GroupMemberAddedAuditPayload", "version": 1, "groupId": "g1", "userId": id },
    })
}

/// The newest sequence number, from `/metrics`: an exporter is done when its checkpoint reaches it.
pub async fn head_seq(server: &Server) -> u64 {
    let text = get_text(server, "/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix("vigil_log_last_seq "))
        .expect("vigil_log_last_seq in /metrics")
        .trim()
        .parse()
        .unwrap()
}

/// The body of `GET path`, read as text with the admin key.
pub async fn get_text(server: &Server, path: &str) -> String {
    client()
        .get(server.url(path))
        .header("Authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The body of `GET path`, read as JSON with the admin key.
pub async fn get_json(server: &Server, path: &str) -> Value {
    serde_json::from_str(&get_text(server, path).await).unwrap()
}

/// `method path` with a JSON body and the admin key: the status and the JSON answer.
pub async fn send_json(
    server: &Server,
    method: reqwest::Method,
    path: &str,
    body: &Value,
) -> (u16, Value) {
    let response = client()
        .request(method, server.url(path))
        .header("Authorization", ADMIN_KEY)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Sends a GraphQL query with the admin key; the answer must be 200.
pub async fn graphql(server: &Server, query: &str) -> serde_json::Value {
    let response = client()
        .post(server.url("/api/audit/graphql"))
        .header("Authorization", ADMIN_KEY)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Creates a key with these permissions through the CLI beside the running server.
pub fn create_key(server: &Server, name: &str, permissions: &[&str]) -> String {
    let mut args = vec![
        "keys",
        "create",
        "--data-dir",
        server.data_dir.to_str().unwrap(),
        "--name",
        name,
    ];
    for permission in permissions {
        args.extend(["--permission", permission]);
    }
    let output = vigil(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .split_whitespace()
        .find(|word| word.starts_with("vgl_"))
        .unwrap_or_else(|| panic!("no secret in {stdout}"))
        .to_owned()
}

/// A certificate authority and a server certificate for 127.0.0.1 it signed, made with the
/// openssl command: (authority's certificate, server certificate, server key).
pub fn certificates(
    dir: &std::path::Path,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let file = |suffix: &str| dir.join(format!("{name}.{suffix}"));
    let openssl = |args: &[&str]| {
        let output = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(output.status.success(), "{args:?}: {output:?}");
    };
    let (ca, ca_key, csr, cert, key, ext) = (
        format!("{name}.ca.crt"),
        format!("{name}.ca.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("{name}.ext"),
    );
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        &format!("/CN=vigil test CA {name}"),
        "-keyout",
        &ca_key,
        "-out",
        &ca,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &key,
        "-out",
        &csr,
    ]);
    std::fs::write(
        file("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &ext,
        "-out",
        &cert,
    ]);
    (file("ca.crt"), file("crt"), file("key"))
}
