//! The fake's three RSA-2048 key pairs (merchant, platform certificate, platform public key).
//! Generating them costs about a second of CPU, which every demo start and every test paid;
//! with a keys folder they are generated once, kept as PKCS#8 PEM, and read on later starts.
//! Test and demo keys only: production keys come from configuration.

use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};

use crate::pay;

const NAMES: [&str; 3] = ["merchant.pem", "platform-cert.pem", "platform-pub-key.pem"];

/// The three private keys, read from `dir` when all three are there, generated otherwise (and
/// written to `dir` when one is given; a folder that cannot be written only loses the cache).
pub(super) async fn load_or_generate(
    dir: Option<&Path>,
) -> Result<[RsaPrivateKey; 3], std::io::Error> {
    if let Some(dir) = dir
        && let Some(keys) = read(dir)
    {
        return Ok(keys);
    }
    // Off the async threads, three at once.
    let keygen = || tokio::task::spawn_blocking(|| pay::generate_test_keypair().0);
    let (a, b, c) = tokio::join!(keygen(), keygen(), keygen());
    let keys = [
        a.map_err(std::io::Error::other)?,
        b.map_err(std::io::Error::other)?,
        c.map_err(std::io::Error::other)?,
    ];
    if let Some(dir) = dir {
        write(dir, &keys);
    }
    Ok(keys)
}

fn read(dir: &Path) -> Option<[RsaPrivateKey; 3]> {
    let key = |name: &str| {
        let pem = std::fs::read_to_string(dir.join(name)).ok()?;
        RsaPrivateKey::from_pkcs8_pem(&pem).ok()
    };
    Some([key(NAMES[0])?, key(NAMES[1])?, key(NAMES[2])?])
}

/// Each file is written under a unique name and renamed into place, so processes starting at
/// once (parallel tests) never read half a key.
fn write(dir: &Path, keys: &[RsaPrivateKey; 3]) {
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    for (name, key) in NAMES.iter().zip(keys) {
        let Ok(pem) = key.to_pkcs8_pem(LineEnding::LF) else {
            return;
        };
        let unique: PathBuf = dir.join(format!(
            ".{name}.{}.{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        if std::fs::write(&unique, pem.as_bytes()).is_err()
            || std::fs::rename(&unique, dir.join(name)).is_err()
        {
            let _ = std::fs::remove_file(&unique);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keys_are_kept_and_read_back() {
        let dir = std::env::temp_dir().join(format!("rouge-fake-keys-{}", rand::random::<u64>()));
        let first = load_or_generate(Some(&dir)).await.unwrap();
        let again = load_or_generate(Some(&dir)).await.unwrap();
        assert!(first == again, "the second start reads the kept keys");
        assert!(
            first[0] != first[1] && first[1] != first[2],
            "three distinct key pairs"
        );
        std::fs::remove_file(dir.join(NAMES[1])).unwrap();
        let regenerated = load_or_generate(Some(&dir)).await.unwrap();
        assert!(regenerated != first, "a missing file means new keys");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
