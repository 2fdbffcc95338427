//! Mini-program codes (wxacode) that open the scan page from a batch's or a store's display.

use sea_orm::EntityTrait;
use wechat_integration::{WeChatErrorKind, WxaCodeRequest};

use super::{ScanError, invalid, text_opt};
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::validate;
use entities::scan_code_batch;

/// What a mini-program code opens.
#[derive(Debug, Clone)]
pub enum WxaTarget {
    /// The scan page for a batch's display (e.g. a shelf talker).
    Batch(i64),
    /// The scan page at a store's display.
    Store(String),
}

/// Makes a mini-program code through WeChat; returns the JPEG as base64. Scenes stay ≤ 32
/// characters (WECHAT.md §5).
pub async fn wxacode(
    app: &AppState,
    staff: &StaffPrincipal,
    target: WxaTarget,
    page: Option<String>,
) -> Result<String, ScanError> {
    let jpeg = wxacode_image(app, staff, target, page).await?;
    Ok(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        jpeg,
    ))
}

/// The mini-program code's JPEG as WeChat made it (the caller stores it as a media asset).
pub async fn wxacode_image(
    app: &AppState,
    staff: &StaffPrincipal,
    target: WxaTarget,
    page: Option<String>,
) -> Result<Vec<u8>, ScanError> {
    staff.require(Permission::ManageScanCodes)?;
    let scene = match target {
        WxaTarget::Batch(id) => {
            scan_code_batch::Entity::find_by_id(id)
                .one(&app.db)
                .await?
                .ok_or(ScanError::BatchNotFound)?;
            format!("scan=b{id}")
        }
        WxaTarget::Store(code) => {
            let code = validate::code("store code", &code, 24).map_err(ScanError::InvalidInput)?;
            format!("scan=s{code}")
        }
    };
    let page = text_opt("page", page, 128)?;
    if page
        .as_deref()
        .is_some_and(|p| p.starts_with('/') || p.contains('?'))
    {
        return Err(invalid("a page has no leading / and no query"));
    }
    // The day's code quota is shared with share posters: once WeChat said 45009, nobody asks.
    if crate::media::wxacode::quota_stopped(app).await? {
        return Err(ScanError::CodeQuotaReached);
    }
    let answer = app
        .wechat
        .wxacode_unlimited(&WxaCodeRequest {
            scene,
            page,
            check_path: false,
            env_version: None,
            width: Some(430),
        })
        .await;
    match answer {
        Ok(jpeg) => Ok(jpeg),
        Err(e) if e.kind() == WeChatErrorKind::DailyQuota => {
            crate::media::wxacode::record_quota_stop(app).await;
            Err(ScanError::CodeQuotaReached)
        }
        Err(e) => Err(match e.kind() {
            WeChatErrorKind::InvalidScene | WeChatErrorKind::InvalidPage => {
                ScanError::WeChatRefused(e.to_string())
            }
            _ => ScanError::WeChat(e),
        }),
    }
}
