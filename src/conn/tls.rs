//! TLS through native-tls: the `tls*` options, the connector they build, and the TLS handshake
//! with its error classification (cmap.md "Backpressure-enabled": an I/O failure during the TLS
//! handshake may be overload and is labelled; a certificate or host name failure is not).

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use native_tls::{Certificate, HandshakeError, Identity, TlsConnector, TlsStream};
use pkcs8::der::pem::LineEnding;
use pkcs8::{Document, EncryptedPrivateKeyInfo};

use crate::error::{Error, ErrorKind, Result};

/// TLS settings from the `tls*` options. Certificate and host name verification are on unless
/// turned off here.
///
/// `Debug` shows the key file password as `"***"`.
///
/// ```
/// use mongopool::TlsOptions;
/// let tls = TlsOptions {
///     ca_file: Some("/etc/ssl/mongo-ca.pem".into()),
///     certificate_key_file_password: Some("secret".into()),
///     ..TlsOptions::default()
/// };
/// assert!(!tls.allow_invalid_certificates);
/// assert!(!format!("{tls:?}").contains("secret"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// `tlsCAFile`: the certificate authorities (PEM) to trust instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// `tlsCertificateKeyFile`: the client certificate chain and its private key in one PEM
    /// file (PKCS#8 key, encrypted when a password is given).
    pub certificate_key_file: Option<PathBuf>,
    /// `tlsCertificateKeyFilePassword`: the password of an encrypted PKCS#8 key.
    pub certificate_key_file_password: Option<String>,
    /// `tlsAllowInvalidCertificates` (or `tlsInsecure`): skip certificate verification.
    pub allow_invalid_certificates: bool,
    /// `tlsAllowInvalidHostnames` (or `tlsInsecure`): skip host name verification.
    pub allow_invalid_hostnames: bool,
    /// `tlsDisableOCSPEndpointCheck` (or `tlsInsecure`). native-tls does no OCSP endpoint
    /// check, so this changes nothing.
    pub disable_ocsp_endpoint_check: bool,
    /// `tlsDisableCertificateRevocationCheck`. native-tls does no revocation check, so this
    /// changes nothing.
    pub disable_certificate_revocation_check: bool,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("ca_file", &self.ca_file)
            .field("certificate_key_file", &self.certificate_key_file)
            .field(
                "certificate_key_file_password",
                &self.certificate_key_file_password.as_ref().map(|_| "***"),
            )
            .field("allow_invalid_certificates", &self.allow_invalid_certificates)
            .field("allow_invalid_hostnames", &self.allow_invalid_hostnames)
            .field("disable_ocsp_endpoint_check", &self.disable_ocsp_endpoint_check)
            .field(
                "disable_certificate_revocation_check",
                &self.disable_certificate_revocation_check,
            )
            .finish()
    }
}

impl TlsOptions {
    /// Builds the connector: reads the CA and certificate files, decrypts the key. Failures
    /// are [`ErrorKind::Tls`] errors naming the file, never the password.
    pub(crate) fn connector(&self) -> Result<TlsConnector> {
        let mut builder = TlsConnector::builder();
        if let Some(path) = &self.ca_file {
            let pem = read_file(path, "tlsCAFile")?;
            let certs = Certificate::stack_from_pem(&pem)
                .map_err(|e| tls_error(format!("tlsCAFile {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(tls_error(format!("tlsCAFile {} holds no certificate", path.display())));
            }
            // The given authorities replace the system's, as in other MongoDB drivers.
            builder.disable_built_in_roots(true);
            for cert in certs {
                builder.add_root_certificate(cert);
            }
        }
        if let Some(path) = &self.certificate_key_file {
            builder.identity(self.identity(path)?);
        }
        builder
            .danger_accept_invalid_certs(self.allow_invalid_certificates)
            .danger_accept_invalid_hostnames(self.allow_invalid_hostnames);
        builder
            .build()
            .map_err(|e| tls_error(format!("cannot configure TLS: {e}")))
    }

    /// The client identity from `tlsCertificateKeyFile`: its certificates and its key, which is
    /// decrypted here when it is an encrypted PKCS#8 key.
    fn identity(&self, path: &Path) -> Result<Identity> {
        let bytes = read_file(path, "tlsCertificateKeyFile")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| tls_error(format!("tlsCertificateKeyFile {} is not PEM text", path.display())))?;
        let mut certs = String::new();
        let mut key: Option<zeroize::Zeroizing<String>> = None;
        for (label, block) in pem_blocks(text) {
            match label {
                "CERTIFICATE" => certs.push_str(block),
                "PRIVATE KEY" => key = Some(block.to_owned().into()),
                // native-tls takes PKCS#8 only; say how to convert rather than "not PKCS#8".
                "RSA PRIVATE KEY" | "EC PRIVATE KEY" => {
                    return Err(tls_error(format!(
                        "tlsCertificateKeyFile {} holds a {label} (PKCS#1/SEC1) key; convert it to PKCS#8 \
                         with `openssl pkcs8 -topk8`",
                        path.display()
                    )))
                }
                "ENCRYPTED PRIVATE KEY" => key = Some(self.decrypt_key(path, block)?),
                _ => {}
            }
        }
        if certs.is_empty() {
            return Err(tls_error(format!(
                "tlsCertificateKeyFile {} holds no certificate",
                path.display()
            )));
        }
        let key =
            key.ok_or_else(|| tls_error(format!("tlsCertificateKeyFile {} holds no private key", path.display())))?;
        Identity::from_pkcs8(certs.as_bytes(), key.as_bytes())
            .map_err(|e| tls_error(format!("tlsCertificateKeyFile {}: {e}", path.display())))
    }

    /// Decrypts an `ENCRYPTED PRIVATE KEY` block (PKCS#8, RFC 5958) with the RustCrypto `pkcs8`
    /// crate and returns it as an unencrypted PKCS#8 PEM block.
    fn decrypt_key(&self, path: &Path, block: &str) -> Result<zeroize::Zeroizing<String>> {
        let password = self.certificate_key_file_password.as_deref().ok_or_else(|| {
            tls_error(format!(
                "tlsCertificateKeyFile {} holds an encrypted key but no tlsCertificateKeyFilePassword is set",
                path.display()
            ))
        })?;
        let bad = |what: &str| tls_error(format!("tlsCertificateKeyFile {}: {what}", path.display()));
        let (_, der) = Document::from_pem(block).map_err(|_| bad("the encrypted key is not valid PEM"))?;
        let info =
            EncryptedPrivateKeyInfo::try_from(der.as_bytes()).map_err(|_| bad("the encrypted key is not PKCS#8"))?;
        // Deliberately vague: the error must not help guess the password.
        let plain = info
            .decrypt(password)
            .map_err(|_| bad("cannot decrypt the key (wrong password or unsupported cipher)"))?;
        plain
            .to_pem("PRIVATE KEY", LineEnding::LF)
            .map_err(|_| bad("cannot re-encode the decrypted key"))
    }
}

fn read_file(path: &Path, option: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tls_error(format!("cannot read {option} {}: {e}", path.display())))
}

fn tls_error(message: String) -> Error {
    Error::new(ErrorKind::Tls { message })
}

/// The PEM blocks of `text` as (label, whole block including its BEGIN and END lines).
fn pem_blocks(text: &str) -> Vec<(&str, &str)> {
    const BEGIN: &str = "-----BEGIN ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(label_end) = after.find("-----") else { break };
        let label = &after[..label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = rest[start..].find(&end_marker) else {
            break;
        };
        let stop = start + end + end_marker.len();
        blocks.push((label, &rest[start..stop]));
        rest = &rest[stop..];
    }
    blocks
}

/// Runs the TLS handshake over `tcp`, sending `host` as SNI (native-tls leaves SNI out for IP
/// literals) and verifying the certificate against it unless told not to.
///
/// The socket's read and write timeouts (connectTimeoutMS) bound the handshake: a handshake
/// that would block past them is a [`ErrorKind::Timeout`].
pub(crate) fn handshake(
    connector: &TlsConnector,
    host: &str,
    tcp: TcpStream,
    timeout: Option<Duration>,
) -> Result<TlsStream<TcpStream>> {
    match connector.connect(host, tcp) {
        Ok(stream) => Ok(stream),
        // A blocking socket only "would block" when its timeout expired.
        Err(HandshakeError::WouldBlock(_)) => {
            Err(Error::from_io(io::ErrorKind::TimedOut.into(), "TLS handshake", timeout))
        }
        Err(HandshakeError::Failure(e)) => Err(classify(e, timeout)),
    }
}

/// An I/O failure under the TLS layer (reset, closed, timed out) becomes an I/O or timeout
/// error; anything else (certificate, host name, protocol) is [`ErrorKind::Tls`].
fn classify(e: native_tls::Error, timeout: Option<Duration>) -> Error {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Error::from_io(io::Error::new(io.kind(), e.to_string()), "TLS handshake", timeout);
        }
        source = s.source();
    }
    // OpenSSL reports a peer that closes mid-handshake as an SSL error, not as an I/O one.
    let text = e.to_string();
    if text.to_ascii_lowercase().contains("unexpected eof") {
        return Error::from_io(
            io::Error::new(io::ErrorKind::UnexpectedEof, text),
            "TLS handshake",
            timeout,
        );
    }
    tls_error(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_blocks_are_split_by_label() {
        let text = "junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n\
                    -----BEGIN ENCRYPTED PRIVATE KEY-----\nBBB\n-----END ENCRYPTED PRIVATE KEY-----\n\
                    -----BEGIN BROKEN-----\nno end";
        let blocks = pem_blocks(text);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "CERTIFICATE");
        assert!(blocks[0].1.ends_with("-----END CERTIFICATE-----"));
        assert_eq!(blocks[1].0, "ENCRYPTED PRIVATE KEY");
        assert!(pem_blocks("").is_empty());
    }

    #[test]
    fn missing_files_are_tls_errors() {
        let opts = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..TlsOptions::default()
        };
        let err = opts.connector().unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::Tls { .. }), "{err}");
        assert_eq!(err.error_labels().count(), 0);
    }

    #[test]
    fn a_key_file_without_a_usable_key_is_a_tls_error() {
        let dir = std::env::temp_dir().join(format!("mongopool-tls-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        for (name, text, expect) in [
            (
                "pkcs1.pem",
                format!("{cert}-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
                "PKCS#8",
            ),
            ("nokey.pem", cert.to_owned(), "no private key"),
            (
                "nocert.pem",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
                "no certificate",
            ),
            (
                "encrypted.pem",
                format!("{cert}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"),
                "no tlsCertificateKeyFilePassword",
            ),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            let opts = TlsOptions {
                certificate_key_file: Some(path),
                ..TlsOptions::default()
            };
            let err = opts.connector().unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::Tls { .. }), "{err}");
            assert!(err.to_string().contains(expect), "{name}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn debug_hides_the_key_password() {
        let opts = TlsOptions {
            certificate_key_file_password: Some("swordfish".into()),
            ..TlsOptions::default()
        };
        assert!(!format!("{opts:?}").contains("swordfish"));
    }
}
