//! A company's private PKI in miniature, made with rcgen at startup: a
//! root CA (and the root it replaced, still in the bundle while clients
//! move over), an issuing CA under the root, a server certificate for the
//! service and a client certificate for the program that calls it. The
//! PEM files a client is handed are written to a directory of their own.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The certificates and keys of the stand-in network.
pub struct Pki {
    /// The roots a client trusts, PEM, one after the other: the current
    /// root, then the previous one.
    pub ca_bundle_pem: String,
    /// The current root: what the server verifies client certificates
    /// against.
    pub root_der: CertificateDer<'static>,
    /// The server's certificate, then the issuing CA.
    pub server_chain: Vec<CertificateDer<'static>>,
    pub server_key: PrivateKeyDer<'static>,
    /// The client's certificate, then the issuing CA, PEM.
    pub client_chain_pem: String,
    /// The client's private key, PEM (PKCS#8).
    pub client_key_pem: String,
}

/// A CA certificate with its key, to sign with.
struct Ca {
    cert: Certificate,
    key: KeyPair,
}

impl Ca {
    /// A self-signed root.
    fn root(name: &str) -> Result<Ca, rcgen::Error> {
        let key = KeyPair::generate()?;
        let cert = ca_params(name, BasicConstraints::Unconstrained)?.self_signed(&key)?;
        Ok(Ca { cert, key })
    }

    /// A CA under `self` that may sign leaves only.
    fn issuing(&self, name: &str) -> Result<Ca, rcgen::Error> {
        let key = KeyPair::generate()?;
        let mut params = ca_params(name, BasicConstraints::Constrained(0))?;
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok(Ca { cert, key })
    }

    /// A leaf for `usage`, named `common_name`, with `sans` (DNS names or
    /// IP addresses).
    fn leaf(
        &self,
        common_name: &str,
        sans: &[&str],
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<(Certificate, KeyPair), rcgen::Error> {
        let key = KeyPair::generate()?;
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        let cert = params.signed_by(&key, &self.cert, &self.key)?;
        Ok((cert, key))
    }
}

fn ca_params(name: &str, depth: BasicConstraints) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(depth);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

impl Pki {
    /// A fresh PKI: a server certificate for `server_names`, a client
    /// certificate whose common name is `client_name`.
    pub fn generate(server_names: &[&str], client_name: &str) -> Result<Pki, rcgen::Error> {
        let previous = Ca::root("Example Corp Root CA G1")?;
        let root = Ca::root("Example Corp Root CA G2")?;
        let issuing = root.issuing("Example Corp Issuing CA 1")?;
        let (server, server_key) = issuing.leaf(
            server_names.first().copied().unwrap_or("server"),
            server_names,
            ExtendedKeyUsagePurpose::ServerAuth,
        )?;
        let (client, client_key) =
            issuing.leaf(client_name, &[], ExtendedKeyUsagePurpose::ClientAuth)?;
        Ok(Pki {
            ca_bundle_pem: format!("{}{}", root.cert.pem(), previous.cert.pem()),
            root_der: root.cert.der().clone(),
            server_chain: vec![server.der().clone(), issuing.cert.der().clone()],
            server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            client_chain_pem: format!("{}{}", client.pem(), issuing.cert.pem()),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    /// Writes the client's files into a new directory under the system's
    /// temporary directory, removed again when the returned guard drops.
    pub fn write_client_files(&self) -> io::Result<PemFiles> {
        let dir = std::env::temp_dir().join(format!(
            "batch-fetch-internal-service-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        let files = PemFiles {
            ca_bundle: dir.join("ca-bundle.pem"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
            dir,
        };
        std::fs::write(&files.ca_bundle, &self.ca_bundle_pem)?;
        std::fs::write(&files.client_cert, &self.client_chain_pem)?;
        write_private(&files.client_key, self.client_key_pem.as_bytes())?;
        Ok(files)
    }
}

/// A private key is readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents)
}

/// The client's PEM files, in a directory removed on drop.
pub struct PemFiles {
    pub ca_bundle: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    dir: PathBuf,
}

impl Drop for PemFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
