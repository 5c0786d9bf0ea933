//! The master key that seals signing keys at rest (AES-256-GCM, the kid as associated data).
use super::KeyError;
use crate::config::Config;
use crate::crypto::{b64url, b64url_decode, random_bytes};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
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
    pub fn load_or_create(config: &Config) -> Result<Self, KeyError> {
        if let Some(secret) = &config.master_key {
            return Self::parse(secret.expose());
        }
        let path = config.keys_dir.join(FILE_NAME);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Self::parse(&text).map_err(|e| KeyError::Master(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(&path),
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

    fn cipher(&self) -> Result<LessSafeKey, KeyError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| KeyError::Master("unusable key".into()))
    }

    /// base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, KeyError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>();
        let mut buf = plaintext.to_vec();
        self.cipher()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| KeyError::Master("encryption failed".into()))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(b64url(&out))
    }

    /// None when the key is wrong or the data was altered.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Option<Vec<u8>> {
        let data = b64url_decode(sealed)?;
        if data.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = data.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ct.to_vec();
        let plain = self
            .cipher()
            .ok()?
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .ok()?;
        Some(plain.to_vec())
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
