use super::*;
use crate::intake::{IntakeLimits, process};

fn sample() -> Result<Processed, Box<dyn std::error::Error>> {
    let img = image::RgbImage::from_fn(600, 400, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)?;
    Ok(process(&png, &IntakeLimits::default())?)
}

fn store(dir: &std::path::Path) -> Result<MediaStore, Box<dyn std::error::Error>> {
    Ok(MediaStore::local(
        dir,
        UrlSigner::new(b"sign"),
        MasterKey::from_bytes(&[3u8; 32])?,
        "/media/",
    )?)
}

#[tokio::test]
async fn public_is_content_addressed_and_unsigned() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let s = store(dir.path())?;
    let p = sample()?;
    let a = s.put_public(&p).await?;
    let b = s.put_public(&p).await?;
    assert_eq!(a, b, "same bytes, same keys");
    assert_eq!(
        s.get(&a[0].key).await?.as_ref(),
        p.variants[0].bytes.as_slice()
    );
    let url = s.url(&a[1].key, 0);
    assert_eq!(url, format!("/media/{}", a[1].key));
    assert_eq!(
        s.authorize(&a[1].key, None, None, 10),
        Ok(StorageClass::Public)
    );
    Ok(())
}

#[tokio::test]
async fn private_needs_a_valid_signature() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let s = store(dir.path())?;
    let stored = s.put_private(&sample()?).await?;
    let key = &stored[0].key;
    assert!(key.starts_with("private/"));
    let url = s.url(key, 100);
    let sig = url.split("sig=").nth(1).ok_or("no sig")?;
    assert_eq!(
        s.authorize(key, Some(100), Some(sig), 99),
        Ok(StorageClass::Private)
    );
    assert_eq!(
        s.authorize(key, Some(100), Some(sig), 100),
        Err(SignatureError::Expired)
    );
    assert_eq!(
        s.authorize(key, None, None, 1),
        Err(SignatureError::BadSignature)
    );
    let other = &stored[1].key;
    assert_eq!(
        s.authorize(other, Some(100), Some(sig), 1),
        Err(SignatureError::BadSignature)
    );
    assert_eq!(
        s.authorize("../etc/passwd", Some(100), Some(sig), 1),
        Err(SignatureError::BadSignature)
    );
    Ok(())
}

#[tokio::test]
async fn sensitive_is_sealed_and_erasable_by_owner_prefix() -> Result<(), Box<dyn std::error::Error>>
{
    let dir = tempfile::tempdir()?;
    let s = store(dir.path())?;
    let p = sample()?;
    let put = s.put_sensitive("m42", &p).await?;
    let other = s.put_sensitive("m43", &p).await?;
    assert_ne!(
        put.variants[0].key, other.variants[0].key,
        "never content-addressed"
    );
    // at rest: not the JPEG
    let raw = s.get(&put.variants[0].key).await?;
    assert!(!raw.starts_with(&[0xFF, 0xD8]));
    let opened = s
        .get_sensitive(&put.variants[0].key, &put.prefix, &put.wrapped_key)
        .await?;
    assert_eq!(opened, p.variants[0].bytes);
    // another asset's wrapped key does not open it
    assert!(
        s.get_sensitive(&put.variants[0].key, &put.prefix, &other.wrapped_key)
            .await
            .is_err()
    );
    assert!(
        s.get_sensitive(&put.variants[0].key, &other.prefix, &other.wrapped_key)
            .await
            .is_err()
    );
    // erasure: nothing left under the owner's prefix, the other owner untouched
    let owner = MediaStore::sensitive_owner_prefix("m42")?;
    assert_eq!(s.delete_prefix(&owner).await?, 3);
    assert!(s.list(&owner).await?.is_empty());
    assert_eq!(
        s.list(&MediaStore::sensitive_owner_prefix("m43")?)
            .await?
            .len(),
        3
    );
    assert!(MediaStore::sensitive_owner_prefix("../m1").is_err());
    Ok(())
}
