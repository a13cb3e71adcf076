//! The syslog connection (TCP, or TLS by rustls) and the mark that makes its delivery exact
//! across a kill.
//!
//! Syslog over TCP has no acknowledgement of its own. What vigil can know is the kernel's: the
//! bytes in the socket's send queue the receiver's TCP has not acknowledged (`SIOCOUTQ`). So:
//! - before a batch is written, the mark (a small memory-mapped file: a store to it is on disk as
//!   soon as it is made, even if the process dies the next instant) records it as *handed*; the
//!   write then copies the whole batch into the kernel in one call (the send queue is kept far
//!   below the socket's buffer, so it fits);
//! - the kernel delivers what it was handed even after vigil is killed; so a restart resumes
//!   after the handed batch: nothing doubled, nothing lost;
//! - while the receiver is not acknowledging (down, stalled), the mark says so, and a restart then
//!   resumes after what the receiver did acknowledge: what was in flight is sent again (doubled,
//!   at worst, never lost);
//! - a connection that breaks is reopened and resumes after the acknowledged bytes.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use crate::log::Seq;
use crate::outbound::{OutboundPolicy, is_non_public};

/// What may wait unacknowledged in the send queue before the next batch is written. The socket's
/// buffer is asked to be [`SEND_BUFFER`], so a batch ([`super::MAX_BATCH_BYTES`]) always fits
/// beside this in one write.
const MAX_UNACKNOWLEDGED: u64 = 128 * 1024;
/// The send buffer asked of the kernel (it may give up to twice this, or less when capped).
const SEND_BUFFER: libc::c_int = 512 * 1024;
/// A receiver that acknowledges nothing for this long makes the mark say "not acknowledging".
pub const STALL: Duration = Duration::from_millis(200);
/// A receiver that acknowledges nothing for this long has its connection given up and reopened.
const GIVE_UP: Duration = Duration::from_secs(30);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The trust roots in `pem` (one certificate or more).
pub fn parse_roots(pem: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let certificate = certificate
            .map_err(|error| format!("target.caCertificate: not a PEM certificate ({error})"))?;
        roots.add(certificate).map_err(|error| {
            format!("target.caCertificate: the certificate cannot be a trust root ({error})")
        })?;
    }
    if roots.is_empty() {
        return Err("target.caCertificate: holds no PEM certificate".into());
    }
    Ok(roots)
}

/// The TLS client settings: the given roots, or the system's.
pub fn tls_config(ca_certificate: Option<&str>) -> Result<Arc<rustls::ClientConfig>, String> {
    let roots = match ca_certificate {
        Some(pem) => parse_roots(pem)?,
        None => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(certificate);
            }
            roots
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS settings: {error}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// The handed and acknowledged positions of one forwarder, in a memory-mapped file.
pub struct Mark {
    map: memmap2::MmapMut,
}

const MARK_MAGIC: &[u8; 8] = b"VGLFWD01";
const MARK_BYTES: usize = 32;

impl Mark {
    /// Opens (or creates) the mark at `path`.
    pub fn open(path: &Path) -> std::io::Result<Mark> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let fresh = file.metadata()?.len() != MARK_BYTES as u64;
        file.set_len(MARK_BYTES as u64)?;
        // SAFETY: the file is vigil's own, in its data directory, and only this forwarder's one
        // worker maps it; nothing truncates it while mapped.
        let mut map = unsafe { memmap2::MmapMut::map_mut(&file)? };
        if fresh || &map[..8] != MARK_MAGIC {
            map.fill(0);
            map[..8].copy_from_slice(MARK_MAGIC);
        }
        Ok(Mark { map })
    }

    fn word(&self, at: usize) -> u64 {
        u64::from_le_bytes(self.map[at..at + 8].try_into().expect("eight bytes"))
    }

    fn set_word(&mut self, at: usize, value: u64) {
        self.map[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Where a restart resumes: after the handed batches while the receiver was acknowledging
    /// (the kernel delivers them), else after what it acknowledged.
    pub fn resume_after(&self) -> Seq {
        if self.word(24) == 1 {
            self.word(8)
        } else {
            self.word(16)
        }
    }

    /// Starts over at `seq`: handed and acknowledged.
    pub fn reset(&mut self, seq: Seq) {
        self.set_word(16, seq);
        self.set_word(8, seq);
        self.set_word(24, 1);
    }

    /// Records a batch ending at `seq` as handed to the kernel.
    pub fn handed(&mut self, seq: Seq) {
        self.set_word(8, seq);
    }

    /// Records what the receiver acknowledged.
    pub fn acknowledged(&mut self, seq: Seq) {
        self.set_word(16, seq);
    }

    /// Records whether the receiver is acknowledging.
    pub fn set_acknowledging(&mut self, acknowledging: bool) {
        self.set_word(24, u64::from(acknowledging));
    }

    /// Writes the mark to disk (for a power loss; a killed process needs nothing).
    pub fn flush(&self) {
        let _ = self.map.flush_async();
    }
}

/// An open connection to a syslog receiver.
pub struct Connection {
    tcp: TcpStream,
    tls: Option<rustls::ClientConnection>,
    /// Bytes written to the socket since it opened.
    written: u64,
    /// Batches not yet acknowledged: the byte count that ends each, its last sequence number and
    /// how many events it holds.
    in_flight: VecDeque<(u64, Seq, u64)>,
    /// When the receiver last acknowledged something (or the connection opened).
    last_progress: Instant,
    acknowledged_bytes: u64,
}

/// The addresses of `host`, without the non-public ones unless the policy allows them.
fn addresses(host: &str, port: u16, policy: OutboundPolicy) -> Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|error| format!("{host}: cannot be resolved ({error})"))?
        .collect();
    let allowed: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|address| policy.allow_private || !is_non_public(address.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(if all.is_empty() {
            format!("{host}: resolves to no address")
        } else {
            format!(
                "{host}: resolves only to loopback, private or link-local addresses, which vigil does not call unless started with --allow-private-endpoints"
            )
        });
    }
    Ok(allowed)
}

impl Connection {
    /// Connects (and shakes hands, with `tls`).
    pub fn open(
        host: &str,
        port: u16,
        tls: Option<Arc<rustls::ClientConfig>>,
        policy: OutboundPolicy,
    ) -> Result<Connection, String> {
        let mut last_error = String::new();
        let mut tcp = None;
        for address in addresses(host, port, policy)? {
            match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
                Ok(stream) => {
                    tcp = Some(stream);
                    break;
                }
                Err(error) => last_error = format!("connecting to {address}: {error}"),
            }
        }
        let mut tcp = tcp.ok_or(last_error)?;
        let _ = tcp.set_nodelay(true);
        tcp.set_write_timeout(Some(GIVE_UP))
            .and_then(|()| tcp.set_read_timeout(Some(CONNECT_TIMEOUT)))
            .map_err(|error| format!("setting up the connection: {error}"))?;
        // SAFETY: a valid socket and a c_int option of the right size.
        unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&SEND_BUFFER as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let tls = match tls {
            Some(config) => {
                let name = ServerName::try_from(host.to_owned())
                    .map_err(|error| format!("{host}: not a TLS server name ({error})"))?;
                let mut session = rustls::ClientConnection::new(config, name)
                    .map_err(|error| format!("TLS: {error}"))?;
                session.set_buffer_limit(None);
                while session.is_handshaking() {
                    session
                        .complete_io(&mut tcp)
                        .map_err(|error| format!("TLS handshake with {host}:{port}: {error}"))?;
                }
                Some(session)
            }
            None => None,
        };
        let mut connection = Connection {
            tcp,
            tls,
            written: 0,
            in_flight: VecDeque::new(),
            last_progress: Instant::now(),
            acknowledged_bytes: 0,
        };
        if let Some(session) = &mut connection.tls {
            while session.wants_write() {
                connection.written += session
                    .write_tls(&mut connection.tcp)
                    .map_err(|error| format!("TLS: {error}"))?
                    as u64;
            }
        }
        Ok(connection)
    }

    /// Bytes in the send queue the receiver has not acknowledged.
    fn unacknowledged(&self) -> Result<u64, String> {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (TIOCOUTQ) writes one c_int.
        let result = unsafe { libc::ioctl(self.tcp.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        if result != 0 {
            return Err(format!(
                "reading the send queue: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(queued.max(0) as u64)
    }

    /// Reads what the receiver sent (TLS records: session tickets, alerts) without waiting, so
    /// that nothing unread ever sits in the receive queue (closing a socket with unread data
    /// resets it, and the kernel then drops what it was still to deliver).
    fn read_incoming(&mut self) -> Result<(), String> {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            // SAFETY: a valid socket and a buffer of the given length.
            let read = unsafe {
                libc::recv(
                    self.tcp.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if read < 0 {
                let error = std::io::Error::last_os_error();
                return match error.kind() {
                    std::io::ErrorKind::WouldBlock => Ok(()),
                    std::io::ErrorKind::Interrupted => continue,
                    _ => Err(format!("the receiver's connection failed: {error}")),
                };
            }
            if read == 0 {
                return Err("the receiver closed the connection".into());
            }
            if let Some(session) = &mut self.tls {
                let mut bytes = &buffer[..read as usize];
                while !bytes.is_empty() {
                    session
                        .read_tls(&mut bytes)
                        .map_err(|error| format!("TLS: {error}"))?;
                    session
                        .process_new_packets()
                        .map_err(|error| format!("TLS: {error}"))?;
                }
            }
        }
    }

    /// Takes the acknowledged batches off the in-flight list: returns the last sequence number
    /// and the event count they finish, if any finished.
    pub fn poll_acknowledged(&mut self) -> Result<Option<(Seq, u64)>, String> {
        self.read_incoming()?;
        if let Some(error) = self.tcp.take_error().ok().flatten() {
            return Err(format!("the receiver's connection failed: {error}"));
        }
        let acknowledged = self.written - self.unacknowledged()?.min(self.written);
        if acknowledged > self.acknowledged_bytes {
            self.acknowledged_bytes = acknowledged;
            self.last_progress = Instant::now();
        }
        let mut done = None;
        let mut events = 0;
        while let Some(&(end, seq, count)) = self.in_flight.front() {
            if end > acknowledged {
                break;
            }
            self.in_flight.pop_front();
            events += count;
            done = Some(seq);
        }
        Ok(done.map(|seq| (seq, events)))
    }

    /// Whether batches are waiting for acknowledgement.
    pub fn in_flight(&self) -> bool {
        !self.in_flight.is_empty()
    }

    /// Whether the receiver has acknowledged nothing for `time` while batches wait.
    pub fn stalled_for(&self, time: Duration) -> bool {
        self.in_flight() && self.last_progress.elapsed() >= time
    }

    /// Whether the receiver has stalled so long that the connection is given up.
    pub fn given_up(&self) -> bool {
        self.stalled_for(GIVE_UP)
    }

    /// Whether a new batch fits beside what waits in the send queue.
    pub fn has_room(&self) -> Result<bool, String> {
        Ok(self.unacknowledged()? <= MAX_UNACKNOWLEDGED)
    }

    /// Sends a batch of frames ending at `seq` (`events` of them): `mark` records it as handed
    /// just before the bytes go to the kernel, in one write.
    pub fn send(
        &mut self,
        frames: &[u8],
        seq: Seq,
        events: u64,
        mark: &mut Mark,
    ) -> Result<(), String> {
        self.read_incoming()?;
        if self.in_flight.is_empty() {
            self.last_progress = Instant::now();
        }
        match &mut self.tls {
            Some(session) => {
                // Encrypted first, so that nothing but the write follows the mark.
                session
                    .writer()
                    .write_all(frames)
                    .map_err(|error| format!("TLS: {error}"))?;
                mark.handed(seq);
                while session.wants_write() {
                    self.written += session
                        .write_tls(&mut self.tcp)
                        .map_err(|error| format!("writing to the receiver: {error}"))?
                        as u64;
                }
            }
            None => {
                mark.handed(seq);
                self.tcp
                    .write_all(frames)
                    .map_err(|error| format!("writing to the receiver: {error}"))?;
                self.written += frames.len() as u64;
            }
        }
        self.in_flight.push_back((self.written, seq, events));
        Ok(())
    }

    /// Ends the connection politely (TLS close_notify), after what was sent.
    pub fn close(mut self) {
        if let Some(session) = &mut self.tls {
            session.send_close_notify();
            while session.wants_write() {
                if session.write_tls(&mut self.tcp).is_err() {
                    break;
                }
            }
        }
        let _ = self.read_incoming();
        let _ = self.tcp.shutdown(std::net::Shutdown::Write);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_resumes_after_handed_batches_only_while_they_are_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("forwarders/f.mark");
        {
            let mut mark = Mark::open(&path).unwrap();
            assert_eq!(mark.resume_after(), 0);
            mark.reset(10);
            mark.handed(20);
            assert_eq!(mark.resume_after(), 20);
        }
        let mut mark = Mark::open(&path).unwrap();
        assert_eq!(mark.resume_after(), 20, "the mark outlives the process");
        mark.set_acknowledging(false);
        assert_eq!(mark.resume_after(), 10, "a stalled receiver resends");
        mark.acknowledged(20);
        mark.set_acknowledging(true);
        mark.handed(30);
        drop(mark);
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(Mark::open(&path).unwrap().resume_after(), 0);
    }
}
