//! Reasons and Chinese messages of the media errors (uploads, product images, skin photos,
//! signed links).

use super::words::{invalid_input_zh, not_found};
use super::{Text, t};
use crate::media::MediaError;
use media::IntakeError;

#[allow(unreachable_patterns)]
pub(super) fn media(e: &MediaError) -> Option<Text> {
    use MediaError as E;
    match e {
        E::Rejected(i) => intake(i),
        E::InvalidInput(m) => t("INVALID_INPUT", invalid_input_zh(m)),
        E::NotFound => t("NOT_FOUND", not_found("image")),
        E::NoConsent => t(
            "SENSITIVE_CONSENT_REQUIRED",
            "该会员尚未同意处理敏感个人信息，不能保存肌肤照片",
        ),
        E::AssetInUse => t("ASSET_IN_USE", "该图片已被使用"),
        E::LinkExpired => t("LINK_EXPIRED", "链接已过期，请重新获取"),
        E::LinkInvalid => t("LINK_INVALID", "链接无效"),
        E::Auth(e) => super::people::auth(e),
        E::TicketUsed => t("TICKET_USED", "该上传凭证已使用，请重新申请"),
        E::TicketExpired => t("TICKET_EXPIRED", "上传凭证已过期，请重新申请"),
        E::UploadMissing => t("UPLOAD_MISSING", "尚未收到上传的文件"),
        E::SizeMismatch { declared } => t(
            "UPLOAD_SIZE_MISMATCH",
            format!("上传的文件大小与申请时声明的 {declared} 字节不符"),
        ),
        E::HashMismatch => t("UPLOAD_HASH_MISMATCH", "上传的文件与申请时声明的校验值不符"),
        E::TooManyTickets => t("TOO_MANY_UPLOAD_TICKETS", "未完成的上传过多，请稍后再试"),
        E::CodeQuotaReached => t(
            "SHARE_CODE_QUOTA_REACHED",
            "今日小程序码生成次数已达上限，已生成的海报仍可使用，新海报请明天再试",
        ),
        E::SceneInvalid => t("SHARE_SCENE_INVALID", "分享码无效"),
        E::Store(_) | E::Storage(_) | E::WeChat(_) => None,
        _ => None,
    }
}

#[allow(unreachable_patterns)]
fn intake(e: &IntakeError) -> Option<Text> {
    use IntakeError as I;
    match e {
        I::Empty => t("FILE_EMPTY", "文件为空"),
        I::TooManyBytes { max } => t("FILE_TOO_LARGE", format!("文件不能超过 {max} 字节")),
        I::UnsupportedType => t("UNSUPPORTED_TYPE", "仅支持 JPEG、PNG 和 WebP 图片"),
        I::Animated => t("ANIMATED_IMAGE", "不支持动图"),
        I::Malformed => t("IMAGE_DAMAGED", "图片文件头已损坏"),
        I::TooLarge {
            width,
            height,
            max_side,
            max_pixels,
        } => t(
            "IMAGE_TOO_LARGE",
            format!(
                "图片尺寸为 {width}×{height}，每边最多 {max_side} 像素、总计最多 {max_pixels} 像素"
            ),
        ),
        I::Undecodable(_) => t("IMAGE_UNDECODABLE", "图片无法解码"),
        I::Internal(_) => None,
        _ => None,
    }
}
