//! Debian's rsyslogd as a syslog receiver for the tests: imtcp on a free loopback port (plain, or
//! TLS through its gtls driver), every message written raw, one per line, to a file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::emulators::{free_port, program};

/// A running rsyslogd.
pub struct Rsyslog {
    child: Option<Child>,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    out: PathBuf,
    config: PathBuf,
    pid_file: PathBuf,
}

/// The TLS files rsyslog serves with: (authority's certificate, certificate, key).
pub type TlsFiles = (PathBuf, PathBuf, PathBuf);

impl Rsyslog {
    /// Starts rsyslogd in `dir` (its configuration, work directory and output live there) and
    /// waits until it accepts connections.
    pub fn start(dir: &Path, tls: Option<&TlsFiles>) -> Rsyslog {
        let port = free_port();
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let out = dir.join("received.log");
        let driver = match tls {
            Some((ca, cert, key)) => format!(
                " defaultNetstreamDriver=\"gtls\" defaultNetstreamDriverCAFile=\"{}\" defaultNetstreamDriverCertFile=\"{}\" defaultNetstreamDriverKeyFile=\"{}\"",
                ca.display(),
                cert.display(),
                key.display()
            ),
            None => String::new(),
        };
        let module = if tls.is_some() {
            " streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\""
        } else {
            ""
        };
        let config = format!(
            "global(workDirectory=\"{work}\" maxMessageSize=\"256k\"{driver})\n\
             module(load=\"imtcp\"{module})\n\
             input(type=\"imtcp\" port=\"{port}\" address=\"127.0.0.1\")\n\
             template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")\n\
             action(type=\"omfile\" file=\"{out}\" template=\"raw\")\n",
            work = work.display(),
            out = out.display(),
        );
        let config_path = dir.join("rsyslog.conf");
        std::fs::write(&config_path, config).unwrap();
        let mut rsyslog = Rsyslog {
            child: None,
            port,
            out,
            config: config_path,
            pid_file: dir.join("rsyslogd.pid"),
        };
        rsyslog.restart();
        rsyslog
    }

    /// Starts it again (after [`Rsyslog::stop`]) on the same port, appending to the same file,
    /// and waits until it accepts connections.
    pub fn restart(&mut self) {
        let child = Command::new(program("VIGIL_TEST_RSYSLOGD", "rsyslogd"))
            .arg("-n")
            .arg("-f")
            .arg(&self.config)
            .arg("-i")
            .arg(&self.pid_file)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("rsyslogd starts (Debian's rsyslog and rsyslog-gnutls; scripts/test.sh installs them)");
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "rsyslogd did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops it as a service manager does (SIGTERM) and waits until it has exited.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// The messages received so far, one per line.
    pub fn messages(&self) -> Vec<String> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
