//! Media over HTTP: the `/media/<key>` route serving stored objects (PUBLIC as they are,
//! others only with an unexpired signature: 403 otherwise), and the staff multipart upload
//! guard (required `x-rouge-client` header against cross-site form posts, the token checked
//! before the body is read, a body cap).

use domain::media::{MediaError, Served};
use domain::{AppState, DomainError};
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::{Data, Path, Query};
use poem::{Body, Request, Response, handler};
use std::sync::Arc;

/// The most a staff multipart upload may carry (the whole body).
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;

/// The header a multipart request must carry: browsers cannot send it cross-site without a
/// CORS preflight, so a form on another site cannot post an upload with a staff's cookies.
pub const CLIENT_HEADER: &str = "x-rouge-client";

pub fn is_multipart(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

#[derive(Debug, serde::Deserialize)]
pub struct Signature {
    exp: Option<i64>,
    sig: Option<String>,
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/plain; charset=utf-8")
        .header("x-content-type-options", "nosniff")
        .header(header::CACHE_CONTROL, "no-store")
        .body(text)
}

/// `GET /media/<key>?exp=..&sig=..`
#[handler]
pub async fn object(
    state: Data<&Arc<AppState>>,
    Path(key): Path<String>,
    Query(signature): Query<Signature>,
) -> Response {
    match domain::media::serve(&state, &key, signature.exp, signature.sig.as_deref()).await {
        Ok(Served {
            bytes,
            content_type,
            immutable,
        }) => {
            let cache = if immutable {
                "public, max-age=31536000, immutable"
            } else {
                "private, no-store"
            };
            let mut response = Response::builder()
                .content_type(content_type)
                .header("x-content-type-options", "nosniff")
                .header(header::CACHE_CONTROL, cache)
                .body(bytes);
            let disposition = if content_type.starts_with("image/") {
                "inline"
            } else {
                "attachment"
            };
            response
                .headers_mut()
                .insert("content-disposition", HeaderValue::from_static(disposition));
            response
        }
        Err(MediaError::LinkExpired) => plain(StatusCode::FORBIDDEN, "link expired"),
        Err(MediaError::LinkInvalid) => plain(StatusCode::FORBIDDEN, "link not valid"),
        Err(MediaError::NotFound) => plain(StatusCode::NOT_FOUND, "not found"),
        Err(e) => {
            graphql_schema::error::log_error(e.code(), &e, None);
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// `PUT /media/upload/<id>?exp=..&sig=..`: the embedded default's direct upload (S3 takes the
/// PUT itself from a presigned URL). Only the key a ticket issued, signed for PUT, unexpired
/// and still open, is accepted (403 otherwise, body unread); the body is read up to the
/// ticket's declared size (413 beyond, nothing stored).
#[handler]
pub async fn upload(
    state: Data<&Arc<AppState>>,
    Path(key): Path<String>,
    Query(signature): Query<Signature>,
    body: Body,
) -> Response {
    let Some(id) = key.strip_prefix("upload/") else {
        return crate::http::closing(plain(StatusCode::FORBIDDEN, "uploads go to a ticket's URL"));
    };
    let slot =
        match domain::media::authorize_put(&state, id, signature.exp, signature.sig.as_deref())
            .await
        {
            Ok(slot) => slot,
            Err(MediaError::LinkExpired) => {
                return crate::http::closing(plain(StatusCode::FORBIDDEN, "link expired"));
            }
            Err(MediaError::LinkInvalid) => {
                return crate::http::closing(plain(StatusCode::FORBIDDEN, "link not valid"));
            }
            Err(e) => {
                graphql_schema::error::log_error(e.code(), &e, None);
                return crate::http::closing(plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                ));
            }
        };
    let bytes = match body.into_bytes_limit(slot.max_bytes).await {
        Ok(bytes) => bytes,
        Err(poem::error::ReadBodyError::PayloadTooLarge) => {
            return crate::http::closing(plain(
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than the ticket allows",
            ));
        }
        Err(_) => return crate::http::closing(plain(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    match domain::media::store_put(&state, &slot, bytes).await {
        Ok(()) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CACHE_CONTROL, "no-store")
            .finish(),
        Err(e) => {
            graphql_schema::error::log_error(e.code(), &e, None);
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
