//! Test certificates made at run time with the `openssl` command-line tool: a CA, a server
//! certificate for `localhost` and `127.0.0.1`, a server certificate for a wrong host name, a
//! client certificate (with a plain and an encrypted PKCS#8 key), and a second, unrelated CA.
//! The files live in a private temp directory removed on drop. Panics (failing the test) when
//! `openssl` cannot run: a TLS test never skips.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The password of the encrypted client key.
pub const CLIENT_KEY_PASSWORD: &str = "key-pass-Δ1";

/// The generated files.
pub struct Certs {
    pub dir: PathBuf,
    /// The CA that signed every certificate below.
    pub ca: PathBuf,
    /// Server certificate and key for `localhost` / `127.0.0.1`.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Server certificate and key for `wrong.example.com` only.
    pub wrong_host_cert: PathBuf,
    pub wrong_host_key: PathBuf,
    /// Client certificate followed by its unencrypted PKCS#8 key.
    pub client: PathBuf,
    /// Client certificate followed by its key encrypted with [`CLIENT_KEY_PASSWORD`].
    pub client_encrypted: PathBuf,
    /// A CA that signed nothing here.
    pub other_ca: PathBuf,
}

impl Certs {
    pub fn generate() -> Certs {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mongopool-certs-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create the certificate dir");
        let p = |name: &str| dir.join(name);
        ca(&dir, "ca", "mongopool test CA");
        ca(&dir, "other-ca", "mongopool unrelated CA");
        signed(
            &dir,
            "server",
            "localhost",
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
        );
        signed(
            &dir,
            "wrong",
            "wrong.example.com",
            "subjectAltName=DNS:wrong.example.com\nextendedKeyUsage=serverAuth",
        );
        signed(&dir, "client", "mongopool-client", "extendedKeyUsage=clientAuth");
        openssl(
            &dir,
            &[
                "pkcs8",
                "-topk8",
                "-in",
                "client.key",
                "-out",
                "client-encrypted.key",
                "-v2",
                "aes-256-cbc",
                "-passout",
                &format!("pass:{CLIENT_KEY_PASSWORD}"),
            ],
        );
        concat(&p("client.pem"), &[&p("client.crt"), &p("client.key")]);
        concat(
            &p("client-encrypted.pem"),
            &[&p("client.crt"), &p("client-encrypted.key")],
        );
        Certs {
            ca: p("ca.crt"),
            server_cert: p("server.crt"),
            server_key: p("server.key"),
            wrong_host_cert: p("wrong.crt"),
            wrong_host_key: p("wrong.key"),
            client: p("client.pem"),
            client_encrypted: p("client-encrypted.pem"),
            other_ca: p("other-ca.crt"),
            dir,
        }
    }

    /// Server flags for TLS with the good certificate (`wrong_host` picks the other one).
    pub fn server_args(&self, wrong_host: bool) -> Vec<String> {
        let (cert, key) = if wrong_host {
            (&self.wrong_host_cert, &self.wrong_host_key)
        } else {
            (&self.server_cert, &self.server_key)
        };
        vec![
            "--tls-cert-file".into(),
            cert.display().to_string(),
            "--tls-key-file".into(),
            key.display().to_string(),
            "--tls-ca-file".into(),
            self.ca.display().to_string(),
        ]
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ca(dir: &Path, name: &str, cn: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

fn signed(dir: &Path, name: &str, cn: &str, extensions: &str) {
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(&ext, format!("{extensions}\n")).expect("write the extensions file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (install it; TLS tests need it): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn concat(out: &Path, parts: &[&Path]) {
    let mut all = Vec::new();
    for part in parts {
        all.extend(std::fs::read(part).expect("read a generated file"));
    }
    std::fs::write(out, all).expect("write a combined PEM file");
}
