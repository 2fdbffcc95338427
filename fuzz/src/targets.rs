//! The targets: every parser that takes bytes from outside (WeChat Pay notifications and their
//! AES-GCM resources, the mini-program's encrypted phone data, scanned pack codes, signed counter
//! codes, GraphQL request bodies).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{TimeZone, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use wechat_integration::pay::{decrypt_resource, encrypt_resource, generate_test_keypair, sign};
use wechat_integration::{
    NotificationHeaders, PayConfig, PlatformKey, WeChatPay, WeChatPayClient, decrypt_user_data,
};

use crate::Target;

pub fn targets() -> Vec<Target> {
    vec![
        Target {
            name: "pay_notify",
            seeds: pay_notify_seeds,
            run: pay_notify,
            mutate: None,
        },
        Target {
            name: "pay_decrypt",
            seeds: pay_decrypt_seeds,
            run: pay_decrypt,
            mutate: None,
        },
        Target {
            name: "phone_decrypt",
            seeds: phone_decrypt_seeds,
            run: phone_decrypt,
            mutate: None,
        },
        Target {
            name: "pack_code",
            seeds: pack_code_seeds,
            run: pack_code,
            mutate: None,
        },
        Target {
            name: "signed_code",
            seeds: signed_code_seeds,
            run: signed_code,
            mutate: None,
        },
        Target {
            name: "graphql",
            seeds: graphql_seeds,
            run: graphql,
            mutate: Some(graphql_mutate),
        },
        Target {
            name: "intake",
            seeds: intake_seeds,
            run: intake,
            mutate: None,
        },
    ]
}

/// The image intake's budget under fuzzing: the production checks, with a pixel budget small
/// enough that a decoded input stays well under the one-second hang threshold on a debug build
/// (production: 8,192 px a side, 40 MP, 512 MiB).
fn intake_limits() -> media::IntakeLimits {
    media::IntakeLimits {
        max_bytes: 4 * 1024 * 1024,
        max_side: 4096,
        max_pixels: 4_000_000,
        max_alloc: 128 * 1024 * 1024,
    }
}

/// Untrusted upload bytes through the whole intake (sniff, header budget, decode under limits,
/// orientation, re-encode, derivatives): refusals are fine, panics are not, and what is
/// accepted comes out as JPEG variants no wider than their label.
fn intake(data: &[u8]) {
    if let Ok(done) = media::intake::process(data, &intake_limits()) {
        assert!(!done.variants.is_empty());
        for v in &done.variants {
            assert!(v.bytes.starts_with(&[0xFF, 0xD8]), "a JPEG");
            assert!(v.width <= v.label.max(done.width));
        }
    }
}

fn encoded(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    out
}

fn intake_seeds() -> Vec<Vec<u8>> {
    let rgb = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(48, 32, |x, y| {
        image::Rgb([(x * 5) as u8, (y * 7) as u8, 90])
    }));
    let rgba = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(16, 24, |x, y| {
        image::Rgba([(x * 9) as u8, 30, (y * 3) as u8, (x * y) as u8])
    }));
    let jpeg = encoded(rgb.clone(), image::ImageFormat::Jpeg);
    // the JPEG with an APP1 Exif segment (orientation 6) right after SOI
    let mut exif = vec![0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x22];
    exif.extend_from_slice(
        b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0",
    );
    exif.extend_from_slice(&jpeg[2..]);
    vec![
        jpeg,
        exif,
        encoded(rgb.clone(), image::ImageFormat::Png),
        encoded(rgba.clone(), image::ImageFormat::Png),
        encoded(rgb, image::ImageFormat::WebP),
        encoded(rgba, image::ImageFormat::WebP),
        media::demo::product_picture('R', [190, 30, 60], 64),
    ]
}

/// Splits an input into `n` fields at 0x00 bytes (missing ones empty).
fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = data.splitn(n, |b| *b == 0).collect();
    out.resize(n, b"");
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// --- WeChat Pay notifications ---

const API_V3_KEY: &[u8; 32] = b"fuzz-api-v3-key-0123456789abcdef";
const SERIAL: &str = "FUZZSERIAL";

struct Pay {
    client: WeChatPayClient,
    key: rsa::RsaPrivateKey,
}

fn pay() -> &'static Pay {
    static PAY: OnceLock<Pay> = OnceLock::new();
    PAY.get_or_init(|| {
        let (private, public) = generate_test_keypair();
        let client = WeChatPayClient::new(PayConfig {
            mch_id: "1900000001".into(),
            app_id: "wxfuzz".into(),
            merchant_serial_no: "MERCHANT".into(),
            merchant_private_key: private.clone(),
            api_v3_key: secrecy::SecretSlice::from(API_V3_KEY.to_vec()),
            platform_keys: vec![PlatformKey {
                serial: SERIAL.into(),
                public_key: public,
            }],
            notify_url: "https://example.invalid/pay/notify".into(),
            api_base: url::Url::parse("http://127.0.0.1:9/").expect("url"),
            timeout: Duration::from_secs(1),
        })
        .expect("pay client");
        Pay {
            client,
            key: private,
        }
    })
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 12, 0, 0).unwrap()
}

fn signed_headers(body: &[u8]) -> NotificationHeaders {
    let timestamp = now().timestamp().to_string();
    let nonce = "fuzznonce".to_owned();
    let message = wechat_integration::pay::response_message(&timestamp, &nonce, body);
    NotificationHeaders {
        signature: sign(&pay().key, &message),
        timestamp,
        nonce,
        serial: SERIAL.into(),
    }
}

fn envelope(event_type: &str, original_type: &str, resource: &[u8]) -> Vec<u8> {
    let nonce = "0123456789ab";
    let ciphertext = encrypt_resource(API_V3_KEY, nonce, original_type, resource).unwrap();
    serde_json::to_vec(&serde_json::json!({
        "id": "EV-1",
        "create_time": "2026-12-05T20:00:00+08:00",
        "event_type": event_type,
        "resource_type": "encrypt-resource",
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce
        }
    }))
    .unwrap()
}

/// Byte 0 picks the mode: 0 the body as sent (signed, so parsing is reached), 1 a transaction
/// resource and 2 a refund resource (encrypted and signed, so the resource parsers are reached),
/// otherwise headers and body all from the input (the signature checks).
fn pay_notify(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let client = &pay().client;
    let _ = match mode % 4 {
        0 => client.verify_notification(&signed_headers(rest), rest, now()),
        1 | 2 => {
            let body = if mode % 4 == 1 {
                envelope("TRANSACTION.SUCCESS", "transaction", rest)
            } else {
                envelope("REFUND.SUCCESS", "refund", rest)
            };
            client.verify_notification(&signed_headers(&body), &body, now())
        }
        _ => {
            let f = fields(rest, 5);
            let headers = NotificationHeaders {
                timestamp: text(f[0]),
                nonce: text(f[1]),
                signature: text(f[2]),
                serial: text(f[3]),
            };
            client.verify_notification(&headers, f[4], now())
        }
    };
}

fn pay_notify_seeds() -> Vec<Vec<u8>> {
    let transaction = br#"{"mchid":"1900000001","appid":"wxfuzz","out_trade_no":"R20261205000001","transaction_id":"4200000001","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"ok","bank_type":"OTHERS","attach":"","success_time":"2026-12-05T20:00:00+08:00","payer":{"openid":"o-fuzz"},"amount":{"total":12900,"payer_total":12900,"currency":"CNY","payer_currency":"CNY"}}"#;
    let refund = br#"{"mchid":"1900000001","out_trade_no":"R20261205000001","transaction_id":"4200000001","out_refund_no":"RF1","refund_id":"5000000001","refund_status":"SUCCESS","success_time":"2026-12-05T20:00:00+08:00","amount":{"total":12900,"refund":12900,"payer_total":12900,"payer_refund":12900}}"#;
    let mut seeds = Vec::new();
    let mut with_mode = |mode: u8, body: &[u8]| {
        let mut s = vec![mode];
        s.extend_from_slice(body);
        seeds.push(s);
    };
    with_mode(
        0,
        &envelope("TRANSACTION.SUCCESS", "transaction", transaction),
    );
    with_mode(0, &envelope("REFUND.SUCCESS", "refund", refund));
    with_mode(1, transaction);
    with_mode(2, refund);
    let mut headers = b"1796472000\0nonce\0WECHATPAY/SIGNTEST/abc\0".to_vec();
    headers.extend_from_slice(SERIAL.as_bytes());
    headers.push(0);
    headers.extend_from_slice(&envelope("TRANSACTION.SUCCESS", "transaction", transaction));
    with_mode(3, &headers);
    seeds
}

/// key (32 bytes, else the fixed key) \0 nonce \0 associated data \0 base64 ciphertext. A
/// resource that decrypts must encrypt back to the same ciphertext.
fn pay_decrypt(data: &[u8]) {
    let f = fields(data, 4);
    let key: &[u8] = if f[0].len() == 32 { f[0] } else { API_V3_KEY };
    let (nonce, aad, ciphertext) = (text(f[1]), text(f[2]), text(f[3]));
    if let Ok(plain) = decrypt_resource(key, &nonce, &aad, &ciphertext) {
        let sealed = encrypt_resource(key, &nonce, &aad, &plain).expect("encrypts back");
        assert_eq!(
            STANDARD.decode(&sealed).unwrap(),
            STANDARD.decode(ciphertext.trim()).unwrap()
        );
    }
    // Sealing whatever came in must never panic either (nonce of any length).
    if let Ok(sealed) = encrypt_resource(key, &nonce, &aad, f[3]) {
        assert_eq!(decrypt_resource(key, &nonce, &aad, &sealed).unwrap(), f[3]);
    }
}

fn pay_decrypt_seeds() -> Vec<Vec<u8>> {
    let sealed = encrypt_resource(API_V3_KEY, "0123456789ab", "transaction", b"{\"a\":1}").unwrap();
    vec![
        format!("\x000123456789ab\0transaction\0{sealed}").into_bytes(),
        b"\0short\0\0AAAA".to_vec(),
    ]
}

// --- the mini-program's encrypted phone data ---

const SESSION_KEY: [u8; 16] = *b"fuzz-session-key";
const IV: [u8; 16] = *b"fuzz-iv-16-bytes";

fn cbc_encrypt(plain: &[u8]) -> String {
    use aes::cipher::block_padding::Pkcs7;
    use aes::cipher::{BlockEncryptMut, KeyIvInit};
    let sealed = cbc::Encryptor::<aes::Aes128>::new_from_slices(&SESSION_KEY, &IV)
        .unwrap()
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    STANDARD.encode(sealed)
}

/// Byte 0 even: the rest is the plaintext (encrypted with a known key, so the JSON and watermark
/// checks are reached); odd: app id \0 key \0 iv \0 data, all base64 as the client sends them.
fn phone_decrypt(data: &[u8]) {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let result = decrypt_user_data(
            "wxfuzz",
            &STANDARD.encode(SESSION_KEY),
            &STANDARD.encode(IV),
            &cbc_encrypt(rest),
        );
        if let Ok(value) = result {
            assert_eq!(value["watermark"]["appid"], "wxfuzz");
        }
    } else {
        let f = fields(rest, 4);
        let _ = decrypt_user_data(&text(f[0]), &text(f[1]), &text(f[2]), &text(f[3]));
    }
}

fn phone_decrypt_seeds() -> Vec<Vec<u8>> {
    let plain = br#"{"phoneNumber":"13912345678","purePhoneNumber":"13912345678","countryCode":"86","watermark":{"timestamp":1796472000,"appid":"wxfuzz"}}"#;
    let mut even = vec![0];
    even.extend_from_slice(plain);
    let odd = format!(
        "\x01wxfuzz\0{}\0{}\0{}",
        STANDARD.encode(SESSION_KEY),
        STANDARD.encode(IV),
        cbc_encrypt(plain)
    );
    vec![even, odd.into_bytes()]
}

// --- scanned pack codes ---

fn pack_key() -> &'static domain::scan_codes::PackCodeKey {
    static KEY: OnceLock<domain::scan_codes::PackCodeKey> = OnceLock::new();
    KEY.get_or_init(|| domain::scan_codes::PackCodeKey::new(b"fuzz-pack-code-key"))
}

/// A text that decodes names a pack whose code decodes to the same pack.
fn pack_code(data: &[u8]) {
    let key = pack_key();
    if let Ok((batch, serial)) = key.decode(&text(data)) {
        assert_eq!(key.decode(&key.code(batch, serial)), Ok((batch, serial)));
    }
}

fn pack_code_seeds() -> Vec<Vec<u8>> {
    let key = pack_key();
    let code = key.code(17, 4_242);
    let dashed: String = code
        .chars()
        .enumerate()
        .flat_map(|(i, c)| (i > 0 && i % 5 == 0).then_some('-').into_iter().chain([c]))
        .collect();
    vec![
        code.clone().into_bytes(),
        code.to_lowercase().into_bytes(),
        dashed.into_bytes(),
        key.code(0, 0).into_bytes(),
        key.code(u32::MAX, u32::MAX).into_bytes(),
    ]
}

// --- signed counter codes ---

fn signer() -> &'static domain::platform::signed_codes::CodeSigner {
    static SIGNER: OnceLock<domain::platform::signed_codes::CodeSigner> = OnceLock::new();
    SIGNER.get_or_init(|| domain::platform::signed_codes::CodeSigner::new(b"fuzz-secret"))
}

/// kind \0 code. A code that verifies has the MAC of exactly what it says.
fn signed_code(data: &[u8]) {
    let f = fields(data, 2);
    let (kind, code) = (text(f[0]), text(f[1]));
    if let Ok(subject) = signer().verify(&kind, &code, now()) {
        let expires: i64 = code.trim().split('.').nth(2).unwrap().parse().unwrap();
        let again = signer().issue(&kind, subject, Utc.timestamp_opt(expires, 0).unwrap());
        assert_eq!(signer().verify(&kind, &again, now()), Ok(subject));
    }
}

fn signed_code_seeds() -> Vec<Vec<u8>> {
    let later = now() + chrono::Duration::minutes(5);
    let earlier = now() - chrono::Duration::minutes(5);
    vec![
        format!("member\0{}", signer().issue("member", 42, later)).into_bytes(),
        format!("voucher\0{}", signer().issue("voucher", -1, later)).into_bytes(),
        format!("member\0{}", signer().issue("member", i64::MAX, earlier)).into_bytes(),
    ]
}

// --- GraphQL request bodies ---

struct Graphql {
    runtime: tokio::runtime::Runtime,
    consumer: graphql_schema::ConsumerSchema,
    staff: graphql_schema::StaffSchema,
    distributor: graphql_schema::DistributorSchema,
    /// Keeps the database, store and fake WeChat alive.
    _app: rouge_tests::TestApp,
}

/// The three schemas over a real app on SQLite and the in-process store (with the demo data),
/// executed without HTTP and without a token, as an anonymous caller would.
fn graphql_app() -> &'static Graphql {
    static APP: OnceLock<Graphql> = OnceLock::new();
    APP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let app = runtime.block_on(rouge_tests::TestApp::start(rouge_tests::Backend::Embedded));
        let limits = graphql_schema::SchemaLimits::default();
        let state: Arc<domain::AppState> = app.state.clone();
        Graphql {
            consumer: graphql_schema::consumer_schema(state.clone(), &limits),
            staff: graphql_schema::staff_schema(state.clone(), &limits),
            distributor: graphql_schema::distributor_schema(state, &limits),
            runtime,
            _app: app,
        }
    })
}

/// Byte 0 picks the schema (mod 3) and whether the rest is an HTTP body (JSON, single or batch,
/// at most 10 as the HTTP layer allows) or a bare query.
fn graphql(data: &[u8]) {
    use async_graphql::{BatchRequest, Request};
    use domain::auth::Audience;
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let requests: Vec<Request> = if mode & 4 == 0 {
        vec![Request::new(text(rest))]
    } else {
        match serde_json::from_slice::<BatchRequest>(rest) {
            Ok(BatchRequest::Single(r)) => vec![r],
            Ok(BatchRequest::Batch(rs)) => rs.into_iter().take(10).collect(),
            Err(_) => return,
        }
    };
    let app = graphql_app();
    for request in requests {
        let audience =
            [Audience::Consumer, Audience::Staff, Audience::Distributor][usize::from(*mode % 3)];
        let request = request.data(graphql_schema::RequestContext::new(
            audience,
            None,
            domain::RequestMeta::default(),
        ));
        let run = async {
            match audience {
                Audience::Consumer => app.consumer.execute(request).await,
                Audience::Staff => app.staff.execute(request).await,
                Audience::Distributor => app.distributor.execute(request).await,
            }
        };
        let response = app
            .runtime
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), run).await })
            .expect("a GraphQL request took over 5 s");
        // Whatever went wrong, the answer is well-formed and names no internals.
        let json = serde_json::to_string(&response).expect("response serialises");
        assert!(
            !json.contains("DbErr") && !json.contains("panicked"),
            "{json}"
        );
    }
}

const QUERIES: &[&str] = &[
    "{ __typename }",
    "{ products(first: 5) { edges { node { id name priceFen } } } }",
    "query Q($id: ID!) { product(id: $id) { id name ...F } } fragment F on Product { id }",
    "{ me { id nickname } }",
    "mutation { login(code: \"test:fuzz:1\") { accessToken member { id } } }",
    "mutation { login(username: \"nobody\", password: \"x\") { accessToken } }",
    "{ __schema { types { name fields { name } } } }",
    "{ a: __typename b: __typename ... on Query { __typename } }",
];

fn graphql_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (i, q) in QUERIES.iter().enumerate() {
        let mut s = vec![u8::try_from(i % 3).unwrap()];
        s.extend_from_slice(q.as_bytes());
        seeds.push(s);
        let mut body = vec![4 + u8::try_from(i % 3).unwrap()];
        body.extend_from_slice(
            serde_json::json!({ "query": q, "variables": { "id": "1" } })
                .to_string()
                .as_bytes(),
        );
        seeds.push(body);
    }
    let mut batch = vec![5];
    batch.extend_from_slice(br#"[{"query":"{ __typename }"},{"query":"{ me { id } }"}]"#);
    seeds.push(batch);
    seeds
}

/// Field names of the three schemas, from the checked-in SDL.
fn field_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<String> = graphql_schema::sdl()
            .iter()
            .flat_map(|(_, sdl)| {
                sdl.lines()
                    .filter_map(|l| {
                        let l = l.trim();
                        let end = l.find([':', '('])?;
                        let name = &l[..end];
                        (!name.is_empty()
                            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                        .then(|| name.to_owned())
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        names.extend(["__typename", "__schema", "__type", "edges", "node", "id"].map(String::from));
        names.sort();
        names.dedup();
        names
    })
}

fn selection(rng: &mut StdRng, depth: usize, out: &mut String) {
    let names = field_names();
    out.push_str("{ ");
    for _ in 0..rng.gen_range(1..=4) {
        match rng.gen_range(0..10) {
            0 => out.push_str("...F "),
            1 if depth < 14 => {
                out.push_str("... on Query ");
                selection(rng, depth + 1, out);
            }
            2 => out.push_str("__typename @include(if: true) "),
            _ => {
                if rng.gen_bool(0.2) {
                    out.push_str(&format!("a{}: ", rng.gen_range(0..100)));
                }
                out.push_str(&names[rng.gen_range(0..names.len())]);
                match rng.gen_range(0..6) {
                    0 => out.push_str("(first: 100000) "),
                    1 => out.push_str("(id: $id) "),
                    2 => out.push_str("(id: \"1\", first: -1) "),
                    _ => out.push(' '),
                }
                if depth < 14 && rng.gen_bool(0.6) {
                    selection(rng, depth + 1, out);
                }
            }
        }
    }
    out.push_str("} ");
}

/// Structure-aware: a fresh document of random fields of the schemas, nested selections, aliases,
/// inline and named fragments (sometimes cyclic), variables and directives.
fn graphql_mutate(rng: &mut StdRng, _base: &[u8]) -> Vec<u8> {
    let mut q = String::new();
    if rng.gen_bool(0.3) {
        q.push_str("mutation ");
    } else {
        q.push_str("query Q($id: ID) ");
    }
    selection(rng, 0, &mut q);
    if rng.gen_bool(0.5) {
        q.push_str("fragment F on Query ");
        let mut inner = String::new();
        selection(rng, 8, &mut inner);
        if rng.gen_bool(0.1) {
            // A cycle: must be refused, not followed.
            inner.insert_str(2, "...F ");
        }
        q.push_str(&inner);
    }
    let mut out = vec![rng.gen_range(0..3)];
    if rng.gen_bool(0.5) {
        out[0] += 4;
        out.extend_from_slice(
            serde_json::json!({ "query": q, "variables": { "id": "1" } })
                .to_string()
                .as_bytes(),
        );
    } else {
        out.extend_from_slice(q.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds get past the signature and decryption, so mutations start at the parsers.
    #[test]
    fn seeds_reach_the_parsers() {
        for seed in intake_seeds() {
            let done = media::intake::process(&seed, &intake_limits()).unwrap();
            assert!(!done.variants.is_empty());
        }
        let seeds = pay_notify_seeds();
        for seed in &seeds[..4] {
            let (mode, rest) = seed.split_first().unwrap();
            let body = match mode {
                1 => envelope("TRANSACTION.SUCCESS", "transaction", rest),
                2 => envelope("REFUND.SUCCESS", "refund", rest),
                _ => rest.to_vec(),
            };
            pay()
                .client
                .verify_notification(&signed_headers(&body), &body, now())
                .unwrap();
        }
        let plain = &phone_decrypt_seeds()[0][1..];
        decrypt_user_data(
            "wxfuzz",
            &STANDARD.encode(SESSION_KEY),
            &STANDARD.encode(IV),
            &cbc_encrypt(plain),
        )
        .unwrap();
        let app = graphql_app();
        let response = app.runtime.block_on(
            app.consumer
                .execute(async_graphql::Request::new("{ __typename }")),
        );
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }
}
