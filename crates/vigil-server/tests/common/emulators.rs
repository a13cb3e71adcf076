//! The S3/STS and Azure Blob emulators (moto and Azurite) as child processes on loopback ports,
//! installed by `scripts/test.sh`; and an Azure account SAS for Azurite's well-known account.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long an emulator may take to accept connections.
const EMULATOR_START: Duration = Duration::from_secs(60);

/// Azurite's well-known development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
const AZURITE_ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running emulator; killed on drop.
pub struct Emulator {
    child: Option<Child>,
    /// Its port on 127.0.0.1.
    pub port: u16,
    program: PathBuf,
    args: Vec<String>,
}

/// A client of moto's bucket `bucket` (moto takes any credentials).
pub fn moto_bucket(moto: &Emulator, bucket: &str) -> object_store::aws::AmazonS3 {
    object_store::aws::AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_endpoint(moto.url())
        .with_allow_http(true)
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .build()
        .unwrap()
}

/// Downloads every object under `prefix` of `store` into `dir`, keeping the folders below it.
pub async fn download(store: &dyn object_store::ObjectStore, prefix: &str, dir: &Path) {
    use futures::StreamExt;
    let mut listing = store.list(Some(&object_store::path::Path::from(prefix)));
    while let Some(meta) = listing.next().await {
        let meta = meta.unwrap();
        let relative = meta.location.as_ref()[prefix.len() + 1..].to_owned();
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The program `name`, from the environment variable `variable` (set by scripts/test.sh) or PATH.
pub fn program(variable: &str, name: &str) -> PathBuf {
    match std::env::var_os(variable) {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(name),
    }
}

impl Emulator {
    fn spawn(program: PathBuf, args: Vec<String>, port: u16) -> Emulator {
        let mut emulator = Emulator {
            child: None,
            port,
            program,
            args,
        };
        emulator.restart();
        emulator
    }

    /// moto (S3 and STS) on a free port.
    pub fn moto() -> Emulator {
        let port = free_port();
        let args = vec![
            "-H".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
        ];
        Emulator::spawn(program("VIGIL_TEST_MOTO_SERVER", "moto_server"), args, port)
    }

    /// Azurite's Blob service on a free port, keeping its data in `location`.
    pub fn azurite(location: &Path) -> Emulator {
        let port = free_port();
        let args = vec![
            "--blobHost".into(),
            "127.0.0.1".into(),
            "--blobPort".into(),
            port.to_string(),
            "--location".into(),
            location.to_string_lossy().into_owned(),
            "--silent".into(),
            "--skipApiVersionCheck".into(),
        ];
        Emulator::spawn(
            program("VIGIL_TEST_AZURITE_BLOB", "azurite-blob"),
            args,
            port,
        )
    }

    /// Creates bucket `name` in moto (S3's `PUT /<bucket>`).
    pub async fn create_bucket(&self, name: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{name}", self.url()))
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "creating bucket {name}: {response:?}"
        );
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it with SIGTERM, as an operator would (the destination goes down; Azurite saves its
    /// data on the way out).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port (and, for Azurite, the same data).
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {} ({error}); `bash scripts/test.sh` installs the emulators",
                    self.program.display()
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + EMULATOR_START;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not accept connections on port {} within {EMULATOR_START:?}",
                self.program.display(),
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An account SAS for Azurite's account: blob service, all resource types, read/write/list/create.
pub fn azurite_account_sas() -> String {
    use ring::hmac;
    let key = base64_decode(AZURITE_ACCOUNT_KEY);
    let (permissions, services, resource_types, expiry, version) =
        ("rwdlac", "b", "sco", "2099-01-01T00:00:00Z", "2021-08-06");
    let string_to_sign = format!(
        "{AZURITE_ACCOUNT}\n{permissions}\n{services}\n{resource_types}\n\n{expiry}\n\n\n{version}\n\n"
    );
    let signature = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, &key),
        string_to_sign.as_bytes(),
    );
    let signature: String =
        form_urlencoded::byte_serialize(base64_encode(signature.as_ref()).as_bytes()).collect();
    format!(
        "sv={version}&ss={services}&srt={resource_types}&sp={permissions}&se={expiry}&sig={signature}"
    )
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = BASE64.iter().position(|&b| b == c).expect("base64 digit") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}
