//! The master key that seals signing keys at rest (AES-256-GCM, the kid as associated data).
use super::KeyError;
use crate::config::Config;
use crate::crypto::{b64url, b64url_decode, random_bytes};
use std::path::Path;

pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

const FILE_NAME: &str = "master.key";

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn parse(text: &str) -> Result<Self, KeyError> {
        let bytes = b64url_decode(text.trim())
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or_else(|| {
                KeyError::Master("must be 32 bytes, base64url without padding".into())
            })?;
        Ok(Self(bytes))
    }

    /// From `GATEHOUSE_MASTER_KEY`, else `keys_dir/master.key`, generated (mode 0600) on first start.
    /// `may_create` is false when the database already holds sealed keys: a missing master key
    /// is then an error, never silently replaced by a new one.
    pub fn load_or_create(config: &Config, may_create: bool) -> Result<Self, KeyError> {
        if let Some(secret) = &config.master_key {
            return Self::parse(secret.expose())
                .map_err(|e| KeyError::Master(format!("GATEHOUSE_MASTER_KEY: {e}")));
        }
        if let Some(file) = &config.master_key_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| KeyError::Master(format!("cannot read {}: {e}", file.display())))?;
            return Self::parse(&text)
                .map_err(|e| KeyError::Master(format!("{}: {e}", file.display())));
        }
        let path = config.keys_dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Self::parse(&text).map_err(|e| KeyError::Master(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && may_create => Self::create(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(KeyError::Master(format!(
                "the database holds signing keys but there is no master key at {} \
                 (set GATEHOUSE_MASTER_KEY, GATEHOUSE_MASTER_KEY_FILE or GATEHOUSE_KEYS_DIR)",
                path.display()
            ))),
            Err(e) => Err(KeyError::Master(format!(
                "cannot read {}: {e}",
                path.display()
            ))),
        }
    }

    fn create(path: &Path) -> Result<Self, KeyError> {
        use std::io::Write;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)
            .map_err(|e| KeyError::Master(format!("cannot create {}: {e}", dir.display())))?;
        let key = Self(random_bytes::<32>());
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts
            .open(path)
            .map_err(|e| KeyError::Master(format!("cannot create {}: {e}", path.display())))?;
        f.write_all(b64url(&key.0).as_bytes())
            .and_then(|_| f.sync_all())
            .map_err(|e| KeyError::Master(format!("cannot write {}: {e}", path.display())))?;
        tracing::info!(path = %path.display(), "generated a new master key");
        Ok(key)
    }

    /// base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, KeyError> {
        crate::crypto::seal(&self.0, plaintext, aad)
            .ok_or_else(|| KeyError::Master("encryption failed".into()))
    }

    /// A key for one purpose, derived from the master key (HMAC-SHA256 over a fixed label), so
    /// every replica derives the same one and none is stored.
    pub fn derive(&self, label: &[u8]) -> [u8; 32] {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.0);
        let tag = aws_lc_rs::hmac::sign(&key, label);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// None when the key is wrong or the data was altered.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
        crate::crypto::open(&self.0, sealed, aad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_tamper() {
        let k = MasterKey::from_bytes([9u8; 32]);
        let s = k.seal(b"secret", b"kid").unwrap();
        assert_eq!(k.open(&s, b"kid").unwrap(), b"secret");
        assert!(k.open(&s, b"other").is_none());
        assert!(MasterKey::from_bytes([8u8; 32]).open(&s, b"kid").is_none());
    }

    #[test]
    fn parse_rejects_bad_lengths() {
        assert!(MasterKey::parse("short").is_err());
        assert!(MasterKey::parse(&b64url(&[0u8; 32])).is_ok());
    }
}
