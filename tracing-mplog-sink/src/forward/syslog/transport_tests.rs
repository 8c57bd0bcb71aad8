//! The exporters' connections against peers that misbehave: a relay that
//! closed (restarted), nothing listening, a receiver that reads nothing,
//! a closed UDP port. Loopback only, each bounded in time.

use std::io::Read;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::message;
use crate::forward::record::sample;
use crate::forward::{Destination, EXPORT_TIMEOUT, ExportError, Exporter, Record, exporter};

fn tcp_exporter(port: u16) -> Box<dyn Exporter> {
    let dest = Destination::parse(&format!("syslog+tcp://127.0.0.1:{port}")).expect("url");
    exporter(&dest).expect("exporter")
}

/// `n` sample records with messages `prefix 0`, `prefix 1`, …
fn batch(prefix: &str, n: usize) -> Vec<Arc<Record>> {
    (0..n)
        .map(|i| {
            Arc::new(sample::record_with(|e| {
                e.message = Some(format!("{prefix} {i}"))
            }))
        })
        .collect()
}

/// The octet-counted bytes of `batch`.
fn framed(batch: &[Arc<Record>]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in batch {
        let mut msg = Vec::new();
        message::encode(r, 1, &mut msg);
        message::frame(&msg, &mut out);
    }
    out
}

/// Accepts one connection within 5 s.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).expect("nonblocking");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).expect("blocking");
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection came");
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Reads exactly `n` bytes within 5 s.
fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("read the batch");
    buf
}

#[test]
fn a_relay_that_closed_is_noticed_before_the_next_batch_is_written() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut exp = tcp_exporter(port);
    let first = batch("first", 3);
    exp.export(&first).expect("first batch");
    let mut a = accept(&listener);
    assert_eq!(read_n(&mut a, framed(&first).len()), framed(&first));
    // The relay restarts: its side of the connection closes.
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    let second = batch("second", 3);
    exp.export(&second).expect("second batch");
    // Written on a new connection, not into the closed one.
    let mut b = accept(&listener);
    assert_eq!(read_n(&mut b, framed(&second).len()), framed(&second));
    exp.close();
    let mut rest = Vec::new();
    b.read_to_end(&mut rest).expect("end of stream after close");
    assert!(rest.is_empty());
}

#[test]
fn nothing_listening_is_down_naming_the_address_and_the_next_export_reconnects() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let mut exp = tcp_exporter(port);
    let records = batch("m", 2);
    let Err(ExportError::Down(why)) = exp.export(&records) else {
        panic!("export to a closed port succeeded");
    };
    assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
    assert!(why.contains("connect"), "{why}");
    // The port comes back (the relay started): the same exporter connects.
    let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) else {
        return; // someone took the port meanwhile: nothing to check
    };
    exp.export(&records).expect("reconnected");
    let mut s = accept(&listener);
    assert_eq!(read_n(&mut s, framed(&records).len()), framed(&records));
}

#[test]
fn a_receiver_that_reads_nothing_fails_the_export_within_the_timeout() {
    // Accepted by the kernel (backlog), never read: the buffers fill up.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let mut exp = tcp_exporter(port);
    let big = Arc::new(sample::record_with(|e| {
        e.message = Some("x".repeat(64 * 1024));
    }));
    let records: Vec<_> = (0..512).map(|_| Arc::clone(&big)).collect();
    let started = Instant::now();
    let Err(ExportError::Down(why)) = exp.export(&records) else {
        panic!("32 MiB went into a socket nobody reads");
    };
    let took = started.elapsed();
    assert!(
        took >= EXPORT_TIMEOUT - Duration::from_millis(100)
            && took < EXPORT_TIMEOUT + Duration::from_secs(2),
        "{took:?}"
    );
    assert!(why.contains("timeout"), "{why}");
    drop(listener);
}

#[test]
fn udp_to_a_closed_port_goes_down_on_the_port_unreachable() {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = socket.local_addr().expect("addr").port();
    drop(socket);
    let dest = Destination::parse(&format!("syslog+udp://127.0.0.1:{port}")).expect("url");
    let mut exp = exporter(&dest).expect("exporter");
    let records = batch("m", 2);
    let deadline = Instant::now() + Duration::from_secs(5);
    let why = loop {
        match exp.export(&records) {
            Err(ExportError::Down(why)) => break why,
            Err(e) => panic!("{e}"),
            Ok(()) => {
                assert!(Instant::now() < deadline, "never down");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    };
    assert!(
        why.contains(&format!("UDP send to 127.0.0.1:{port}")),
        "{why}"
    );
    // A receiver appears on the port: the next export gets through.
    let Ok(receiver) = UdpSocket::bind(("127.0.0.1", port)) else {
        return;
    };
    exp.export(&records).expect("sent again");
    receiver
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    let n = receiver.recv(&mut buf).expect("datagram");
    let mut want = Vec::new();
    message::encode(&records[0], 1, &mut want);
    assert_eq!(&buf[..n], &want[..]);
}

/// A CA (its PEM) and, signed by it, a server certificate for 127.0.0.1
/// and a client certificate, with their keys, written in `dir`.
#[cfg(feature = "tls")]
fn private_ca(dir: &std::path::Path) -> [std::path::PathBuf; 5] {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer =
        CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA");
    let paths = ["ca", "server.crt", "server.key", "client.crt", "client.key"].map(|f| dir.join(f));
    std::fs::write(&paths[0], issuer.pem()).expect("write");
    for (name, cert, key) in [("127.0.0.1", 1, 2), ("client.test", 3, 4)] {
        let k = KeyPair::generate().expect("key");
        let c = CertificateParams::new(vec![name.to_owned()])
            .expect("params")
            .signed_by(&k, &issuer)
            .expect("leaf");
        std::fs::write(&paths[cert], c.pem()).expect("write");
        std::fs::write(&paths[key], k.serialize_pem()).expect("write");
    }
    paths
}

#[cfg(feature = "tls")]
#[test]
fn syslog_tls_presents_its_client_certificate_to_a_relay_that_requires_one() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = tempfile::tempdir().expect("dir");
    let [ca, server_crt, server_key, client_crt, client_key] = private_ca(dir.path());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca).expect("CA"))
        .expect("root");
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .expect("verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_file(&server_crt).expect("cert")],
            PrivateKeyDer::from_pem_file(&server_key).expect("key"),
        )
        .expect("server settings");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let dest = Destination::parse(&format!("syslog+tls://127.0.0.1:{port}"))
        .expect("url")
        .tls_ca(&ca)
        .tls_cert(&client_crt)
        .tls_key(&client_key);
    let records = batch("mutual", 3);
    let want = framed(&records);
    let relay = std::thread::spawn(move || {
        let tcp = accept(&listener);
        tcp.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let conn = rustls::ServerConnection::new(Arc::new(config)).expect("conn");
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut got = vec![0; want.len()];
        tls.read_exact(&mut got).expect("the batch over TLS");
        let client = tls.conn.peer_certificates().map(<[_]>::len);
        (got == want, client)
    });
    let mut exp = exporter(&dest).expect("exporter");
    exp.export(&records).expect("sent");
    let (same, client) = relay.join().expect("relay");
    assert!(same, "the relay read other bytes");
    assert_eq!(client, Some(1), "the relay saw our client certificate");
    exp.close();
}
