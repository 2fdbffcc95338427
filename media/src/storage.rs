//! The three storage classes over `object_store`.
//!
//! | class | keys | served |
//! |---|---|---|
//! | PUBLIC (product images, posters) | `public/<sha256 of the variant>.jpg`, content-addressed | unsigned, immutable, cacheable forever |
//! | PRIVATE (distributor materials) | `private/<random>/<width>.jpg` | HMAC-signed expiring URL |
//! | SENSITIVE (skin photos) | `sensitive/<owner>/<random>/<width>.jpg.enc`, never content-addressed | sealed with the asset's data key; signed URL minted per read |
//!
//! Raw uploads waiting for processing live under `incoming/<random>` and are deleted once
//! processed. Keys are always chosen here, never by a client.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

use crate::crypto::{CryptoError, MasterKey};
use crate::intake::Processed;
use crate::signing::{SignatureError, UrlSigner};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    Public,
    Private,
    Sensitive,
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("not found")]
    NotFound,
    #[error("invalid key")]
    BadKey,
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// A stored derivative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVariant {
    pub label: u32,
    pub width: u32,
    pub height: u32,
    pub key: String,
    pub bytes: u64,
}

/// What a SENSITIVE put returns besides the variants: where the asset lives and its wrapped
/// data key (to be kept in the database, not in the object store).
#[derive(Debug, Clone)]
pub struct SensitivePut {
    pub prefix: String,
    pub wrapped_key: Vec<u8>,
    pub variants: Vec<StoredVariant>,
}

/// Part size of a streamed upload (S3's minimum part is 5 MiB).
const CHUNK: usize = 5 * 1024 * 1024;
/// How an S3-compatible store is reached (Tencent COS, Aliyun OSS, AWS, a test server).
#[derive(Clone)]
pub struct S3Options {
    /// e.g. `https://cos.ap-shanghai.myqcloud.com` or `http://127.0.0.1:9000`
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `http://host/bucket/key` rather than `http://bucket.host/key` (test servers, MinIO)
    pub path_style: bool,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "S3Options({} bucket {} region {} path_style {})",
            self.endpoint, self.bucket, self.region, self.path_style
        )
    }
}

/// Where a client sends a direct upload: a `PUT` of the raw bytes to `url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadTarget {
    pub method: &'static str,
    pub url: String,
}

#[derive(Clone)]
pub struct MediaStore {
    store: Arc<dyn ObjectStore>,
    /// S3: presigns direct uploads; `None` for local files (Rouge takes the PUT itself)
    presigner: Option<Arc<dyn object_store::signer::Signer>>,
    signer: UrlSigner,
    master: MasterKey,
    /// URL prefix the objects are served under, e.g. `/media` or `https://cdn.example/media`
    base_url: String,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaStore({}, {})", self.store, self.base_url)
    }
}

fn random_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn path(key: &str) -> Result<Path, StorageError> {
    // `Path::parse` refuses `..`, empty segments and other escapes.
    Path::parse(key).map_err(|_| StorageError::BadKey)
}

/// A key segment naming an owner (e.g. `m42`): letters, digits, `-` and `_` only.
fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl MediaStore {
    pub fn new(
        store: Arc<dyn ObjectStore>,
        signer: UrlSigner,
        master: MasterKey,
        base_url: &str,
    ) -> Self {
        Self {
            store,
            presigner: None,
            signer,
            master,
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    /// An S3-compatible bucket: objects there, direct uploads to presigned PUT URLs.
    pub fn s3(
        options: &S3Options,
        signer: UrlSigner,
        master: MasterKey,
        base_url: &str,
    ) -> Result<Self, StorageError> {
        // reqwest is built without a default TLS provider; Rouge uses ring everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&options.endpoint)
            .with_bucket_name(&options.bucket)
            .with_region(&options.region)
            .with_access_key_id(&options.access_key_id)
            .with_secret_access_key(&options.secret_access_key)
            .with_virtual_hosted_style_request(!options.path_style)
            .with_allow_http(options.endpoint.starts_with("http://"))
            .build()?;
        let s3 = Arc::new(s3);
        let mut store = Self::new(s3.clone(), signer, master, base_url);
        store.presigner = Some(s3);
        Ok(store)
    }

    /// Where the client uploads the raw bytes for `key` (an [`Self::incoming_key`]), valid
    /// until `expires` (unix seconds, at least a second from `now`). S3: a presigned PUT;
    /// local files: Rouge's own upload route with an HMAC over the key and expiry.
    pub async fn upload_target(
        &self,
        key: &str,
        expires: i64,
        now: i64,
    ) -> Result<UploadTarget, StorageError> {
        let id = key.strip_prefix("incoming/").ok_or(StorageError::BadKey)?;
        let url = match &self.presigner {
            Some(presigner) => {
                let ttl = std::time::Duration::from_secs(u64::try_from(expires - now).unwrap_or(1));
                presigner
                    .signed_url(object_store::signer::Method::PUT, &path(key)?, ttl)
                    .await?
                    .to_string()
            }
            None => format!(
                "{}/upload/{id}?{}",
                self.base_url,
                self.signer.put_query(key, expires)
            ),
        };
        Ok(UploadTarget { method: "PUT", url })
    }

    /// Checks a PUT to Rouge's own upload route (`/media/upload/<id>`) and returns the key it
    /// may write: `incoming/<id>`, signed for PUT and unexpired.
    pub fn authorize_upload(
        &self,
        id: &str,
        expires: Option<i64>,
        sig: Option<&str>,
        now: i64,
    ) -> Result<String, SignatureError> {
        if !valid_segment(id) {
            return Err(SignatureError::BadSignature);
        }
        let key = format!("incoming/{id}");
        match (expires, sig) {
            (Some(exp), Some(sig)) => self.signer.verify_put(&key, exp, sig, now).map(|()| key),
            _ => Err(SignatureError::BadSignature),
        }
    }

    /// The size of a stored object, `None` when there is none.
    pub async fn size_of(&self, key: &str) -> Result<Option<u64>, StorageError> {
        match self.store.head(&path(key)?).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether direct uploads go to the object store itself (presigned) rather than to Rouge.
    pub fn presigns_uploads(&self) -> bool {
        self.presigner.is_some()
    }

    /// Local files under `dir` (created if missing): the embedded default.
    pub fn local(
        dir: &std::path::Path,
        signer: UrlSigner,
        master: MasterKey,
        base_url: &str,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(dir)?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?
            .with_automatic_cleanup(true);
        Ok(Self::new(Arc::new(fs), signer, master, base_url))
    }

    /// The class a stored key belongs to, from its first segment.
    pub fn class_of(key: &str) -> Option<StorageClass> {
        match key.split('/').next() {
            Some("public") => Some(StorageClass::Public),
            Some("private") => Some(StorageClass::Private),
            Some("sensitive") => Some(StorageClass::Sensitive),
            _ => None,
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store.put(&path(key)?, PutPayload::from(bytes)).await?;
        Ok(())
    }

    pub async fn put_public(
        &self,
        processed: &Processed,
    ) -> Result<Vec<StoredVariant>, StorageError> {
        let mut out = Vec::with_capacity(processed.variants.len());
        for v in &processed.variants {
            // hashed by the intake, on its own threads
            let key = format!("public/{}.jpg", hex::encode(v.sha256));
            self.put(&key, v.bytes.clone()).await?;
            out.push(StoredVariant {
                label: v.label,
                width: v.width,
                height: v.height,
                key,
                bytes: v.bytes.len() as u64,
            });
        }
        Ok(out)
    }

    /// Stores a PNG Rouge drew itself (a share poster) as a PUBLIC, content-addressed object;
    /// `label` is its width.
    pub async fn put_public_png(
        &self,
        png: Vec<u8>,
        width: u32,
        height: u32,
    ) -> Result<StoredVariant, StorageError> {
        let key = format!("public/{}.png", hex::encode(Sha256::digest(&png)));
        let bytes = png.len() as u64;
        self.put(&key, png).await?;
        Ok(StoredVariant {
            label: width,
            width,
            height,
            key,
            bytes,
        })
    }

    pub async fn put_private(
        &self,
        processed: &Processed,
    ) -> Result<Vec<StoredVariant>, StorageError> {
        let prefix = format!("private/{}", random_id());
        let mut out = Vec::with_capacity(processed.variants.len());
        for v in &processed.variants {
            let key = format!("{prefix}/{}.jpg", v.label);
            self.put(&key, v.bytes.clone()).await?;
            out.push(StoredVariant {
                label: v.label,
                width: v.width,
                height: v.height,
                key,
                bytes: v.bytes.len() as u64,
            });
        }
        Ok(out)
    }

    /// Uploads a local file (a report export) as a PRIVATE object named `name` under a fresh
    /// random prefix, in chunks (never the whole file in memory); returns its key.
    pub async fn put_private_file(
        &self,
        name: &str,
        file: &std::path::Path,
    ) -> Result<String, StorageError> {
        use tokio::io::AsyncReadExt;
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            || name.is_empty()
            || name.starts_with('.')
        {
            return Err(StorageError::BadKey);
        }
        let key = format!("private/{}/{name}", random_id());
        let upload = self.store.put_multipart(&path(&key)?).await?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, CHUNK);
        let mut reader = tokio::fs::File::open(file).await?;
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(2).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(key)
    }

    /// The prefix every SENSITIVE object of `owner` lives under (for erasure and its check).
    pub fn sensitive_owner_prefix(owner: &str) -> Result<String, StorageError> {
        if !valid_segment(owner) {
            return Err(StorageError::BadKey);
        }
        Ok(format!("sensitive/{owner}"))
    }

    /// Seals every variant under a fresh data key; the wrapped key is returned, not stored.
    pub async fn put_sensitive(
        &self,
        owner: &str,
        processed: &Processed,
    ) -> Result<SensitivePut, StorageError> {
        let prefix = format!("{}/{}", Self::sensitive_owner_prefix(owner)?, random_id());
        let (dek, wrapped_key) = self.master.new_data_key(prefix.as_bytes())?;
        let mut variants = Vec::with_capacity(processed.variants.len());
        for v in &processed.variants {
            let key = format!("{prefix}/{}.jpg.enc", v.label);
            let sealed = dek.seal(&v.bytes, key.as_bytes())?;
            let bytes = sealed.len() as u64;
            self.put(&key, sealed).await?;
            variants.push(StoredVariant {
                label: v.label,
                width: v.width,
                height: v.height,
                key,
                bytes,
            });
        }
        Ok(SensitivePut {
            prefix,
            wrapped_key,
            variants,
        })
    }

    /// A fresh key for a raw upload (ticket flow); the client never picks it.
    pub fn incoming_key() -> String {
        format!("incoming/{}", random_id())
    }

    pub async fn put_raw(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store.put(&path(key)?, PutPayload::from(bytes)).await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes, StorageError> {
        match self.store.get(&path(key)?).await {
            Ok(got) => Ok(got.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => Err(StorageError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads and opens a SENSITIVE object with its asset's wrapped key.
    pub async fn get_sensitive(
        &self,
        key: &str,
        prefix: &str,
        wrapped_key: &[u8],
    ) -> Result<Vec<u8>, StorageError> {
        if !key.starts_with(&format!("{prefix}/")) {
            return Err(StorageError::BadKey);
        }
        let dek = self.master.unwrap_key(wrapped_key, prefix.as_bytes())?;
        let sealed = self.get(key).await?;
        Ok(dek.open(&sealed, key.as_bytes())?)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every key under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let prefix = path(prefix)?;
        let metas: Vec<_> = self.store.list(Some(&prefix)).try_collect().await?;
        Ok(metas.into_iter().map(|m| m.location.to_string()).collect())
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        let keys = self.list(prefix).await?;
        for key in &keys {
            self.delete(key).await?;
        }
        Ok(keys.len())
    }

    /// The URL of a stored object. PUBLIC: plain and immutable. PRIVATE and SENSITIVE: signed,
    /// valid until `expires` (unix seconds).
    pub fn url(&self, key: &str, expires: i64) -> String {
        match Self::class_of(key) {
            Some(StorageClass::Public) => format!("{}/{key}", self.base_url),
            _ => format!(
                "{}/{key}?{}",
                self.base_url,
                self.signer.query(key, expires)
            ),
        }
    }

    /// Checks a served request: PUBLIC keys need no signature, the others a valid unexpired one.
    pub fn authorize(
        &self,
        key: &str,
        expires: Option<i64>,
        sig: Option<&str>,
        now: i64,
    ) -> Result<StorageClass, SignatureError> {
        let class = Self::class_of(key).ok_or(SignatureError::BadSignature)?;
        if class == StorageClass::Public {
            return Ok(class);
        }
        match (expires, sig) {
            (Some(exp), Some(sig)) => self.signer.verify(key, exp, sig, now).map(|()| class),
            _ => Err(SignatureError::BadSignature),
        }
    }
}

#[cfg(test)]
#[path = "storage_tests.rs"]
mod tests;
