//! Legacy encryptedData from the mini-program (WECHAT.md §3): AES-128-CBC with PKCS#7, the key
//! being the member's session_key. Accepted only when the watermark names our app id.

use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockDecryptMut, KeyIvInit};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::WeChatError;

type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

pub fn decrypt_user_data(
    app_id: &str,
    session_key_b64: &str,
    iv_b64: &str,
    encrypted_b64: &str,
) -> Result<serde_json::Value, WeChatError> {
    let decode = |what: &str, s: &str| {
        STANDARD
            .decode(s)
            .map_err(|_| WeChatError::Crypto(format!("{what} is not base64")))
    };
    let key = decode("session_key", session_key_b64)?;
    let iv = decode("iv", iv_b64)?;
    let ciphertext = decode("encryptedData", encrypted_b64)?;
    if key.len() != 16 || iv.len() != 16 {
        return Err(WeChatError::Crypto(
            "session_key and iv are 16 bytes".into(),
        ));
    }
    let plaintext = Aes128CbcDec::new_from_slices(&key, &iv)
        .map_err(|_| WeChatError::Crypto("bad key or iv".into()))?
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .map_err(|_| WeChatError::Crypto("could not decrypt encryptedData".into()))?;
    let value: serde_json::Value = serde_json::from_slice(&plaintext)
        .map_err(|_| WeChatError::Decode("encryptedData is not JSON".into()))?;
    if value["watermark"]["appid"].as_str() != Some(app_id) {
        return Err(WeChatError::Signature(
            "watermark app id is not ours".into(),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use aes::cipher::BlockEncryptMut;

    use super::*;

    /// WeChat's official sample (the demo in the mini-program documentation).
    #[test]
    fn decrypts_the_official_sample() {
        let data = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";
        let value = decrypt_user_data(
            "wx4f4bc4dec97d474b",
            "tiihtNczf5v6AKRyjwEUhQ==",
            "r7BXXKkLb8qrSNn05n0qiA==",
            data,
        )
        .expect("the official sample decrypts");
        assert_eq!(value["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
        assert!(
            decrypt_user_data(
                "wx0000000000000000",
                "tiihtNczf5v6AKRyjwEUhQ==",
                "r7BXXKkLb8qrSNn05n0qiA==",
                data
            )
            .is_err()
        );
    }

    #[test]
    fn round_trips_and_checks_the_watermark() {
        let key = [7u8; 16];
        let iv = [9u8; 16];
        let plain =
            br#"{"phoneNumber":"13800138000","watermark":{"appid":"wxrouge","timestamp":1}}"#;
        let ct = cbc::Encryptor::<aes::Aes128>::new_from_slices(&key, &iv)
            .unwrap()
            .encrypt_padded_vec_mut::<Pkcs7>(plain);
        let (k, i, c) = (
            STANDARD.encode(key),
            STANDARD.encode(iv),
            STANDARD.encode(ct),
        );
        assert_eq!(
            decrypt_user_data("wxrouge", &k, &i, &c).unwrap()["phoneNumber"],
            "13800138000"
        );
        assert!(matches!(
            decrypt_user_data("wxother", &k, &i, &c),
            Err(WeChatError::Signature(_))
        ));
        assert!(decrypt_user_data("wxrouge", &STANDARD.encode([1u8; 16]), &i, &c).is_err());
    }
}
