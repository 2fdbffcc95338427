//! Every variant of every module error enum has a reason and a Chinese message: one sample per
//! variant (the list is checked against the enum's variant names, so a new variant fails here
//! until it is given its texts), each checked for a well-formed reason and a Chinese message
//! that is neither empty nor the English one.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use wechat_integration::{ValueRuleError, WeChatError};

use super::{Explain, written};
use crate::accounts::AccountsError;
use crate::audit::AuditError;
use crate::auth::AuthError;
use crate::b2b::B2bError;
use crate::booking::BookingError;
use crate::campaigns::CampaignsError;
use crate::catalog::CatalogError;
use crate::coupons::CouponsError;
use crate::distributors::DistributorsError;
use crate::erasure::ErasureError;
use crate::flash_sales::FlashSalesError;
use crate::inventory::InventoryError;
use crate::loyalty::LoyaltyError;
use crate::members::MembersError;
use crate::orders::OrdersError;
use crate::payments::PaymentsError;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use crate::platform::kv::KvError;
use crate::pricing::PricingError;
use crate::privacy::PrivacyError;
use crate::scan_codes::ScanError;
use crate::stored_value::StoredValueError;
use crate::subscriptions::SubscriptionsError;

fn store() -> StoreError {
    StoreError::Db(sea_orm::DbErr::Custom(
        "relation \"secret_table\" is broken".into(),
    ))
}

fn wechat() -> WeChatError {
    WeChatError::Api {
        errcode: -1,
        errmsg: "system busy".into(),
    }
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 16, 30, 0).unwrap()
}

/// Checks one enum's samples: that they cover its variants, and each one's texts.
fn check<E>(samples: Vec<E>, problems: &mut Vec<String>)
where
    E: DomainError + strum::VariantNames,
    for<'a> &'a E: Into<&'static str>,
{
    let enum_name = std::any::type_name::<E>()
        .rsplit("::")
        .next()
        .unwrap_or("?");
    let covered: BTreeSet<&'static str> = samples.iter().map(Into::into).collect();
    for variant in E::VARIANTS {
        if !covered.contains(variant) {
            problems.push(format!("{enum_name}::{variant}: no sample (give it a reason and a Chinese message in error_text, and a sample here)"));
        }
    }
    for e in &samples {
        let variant: &'static str = e.into();
        let name = format!("{enum_name}::{variant}");
        let text = e.text();
        let english = e.to_string();
        let reason_ok = !text.reason.is_empty()
            && text
                .reason
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_')
            && !text.reason.starts_with('_')
            && !text.reason.ends_with('_');
        if !reason_ok {
            problems.push(format!(
                "{name}: reason {:?} is not SCREAMING_SNAKE",
                text.reason
            ));
        }
        if text.zh.trim().is_empty() || text.zh == english {
            problems.push(format!("{name}: Chinese message {:?}", text.zh));
        }
        if !text
            .zh
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
        {
            problems.push(format!("{name}: no Chinese in {:?}", text.zh));
        }
        let code = e.code();
        if code.is_client_facing() {
            if written(e).is_none() {
                problems.push(format!("{name}: no text written (only the generic one)"));
            }
        } else {
            // Internal and unavailable errors say nothing of their cause, in any language.
            assert_eq!(text.reason, code.as_str(), "{name}");
            assert_eq!(text.zh, code.message_zh(), "{name}");
        }
    }
}

#[test]
fn every_error_variant_has_a_reason_and_a_chinese_message() {
    let mut p = Vec::new();
    check(auth_samples(), &mut p);
    check(
        vec![
            MembersError::NotFound,
            MembersError::InvalidInput("nothing to update".into()),
            MembersError::PhoneTaken,
            MembersError::SystemTag,
            MembersError::TagNotFound,
            MembersError::SensitiveConsentRequired,
            MembersError::Auth(AuthError::Forbidden),
            MembersError::CodeAllocation,
            MembersError::Pii(crate::platform::pii::PiiError::Decrypt),
            MembersError::Store(store()),
        ],
        &mut p,
    );
    check(
        vec![
            PrivacyError::ConsentRequired,
            PrivacyError::OutdatedVersion,
            PrivacyError::SensitiveConsentRequired,
            PrivacyError::MemberNotFound,
            PrivacyError::ExportLimitReached(3),
            PrivacyError::Pii(crate::platform::pii::PiiError::Decrypt),
            PrivacyError::Auth(AuthError::Forbidden),
            PrivacyError::Store(store()),
        ],
        &mut p,
    );
    check(
        vec![
            ErasureError::NotFound,
            ErasureError::AlreadyErased,
            ErasureError::InvalidInput("type DELETE to confirm".into()),
            ErasureError::Auth(AuthError::Forbidden),
            ErasureError::Store(store()),
        ],
        &mut p,
    );
    check(booking_samples(), &mut p);
    check(
        vec![
            AccountsError::Auth(AuthError::Forbidden),
            AccountsError::Invalid("first must be between 1 and 100".into()),
            AccountsError::WeakPassword("a password has at least 10 characters".into()),
            AccountsError::UsernameTaken("ba-lin".into()),
            AccountsError::CodeTaken("D-EAST-01".into()),
            AccountsError::WrongPassword,
            AccountsError::TooManyAttempts,
            AccountsError::NotFound,
            AccountsError::DistributorNotFound,
            AccountsError::StoreNotFound,
            AccountsError::NotAllowed("a store manager manages the BAs of her own store only"),
            AccountsError::Hash,
            AccountsError::Store(store()),
        ],
        &mut p,
    );
    check(
        vec![
            SubscriptionsError::InvalidInput("at most 3 templates".into()),
            SubscriptionsError::Store(store()),
        ],
        &mut p,
    );
    check(
        vec![
            AuditError::Auth(AuthError::Forbidden),
            AuditError::Store(store()),
        ],
        &mut p,
    );
    check(b2b_samples(), &mut p);
    check(
        vec![
            DistributorsError::NotFound,
            DistributorsError::Store(store()),
        ],
        &mut p,
    );
    check(campaign_samples(), &mut p);
    check(scan_samples(), &mut p);
    check(order_samples(), &mut p);
    check(
        vec![
            PaymentsError::Orders(OrdersError::PaymentExpired),
            PaymentsError::RefundNotFound,
            PaymentsError::InvalidInput("malformed cursor".into()),
            PaymentsError::Auth(AuthError::Forbidden),
            PaymentsError::Store(store()),
        ],
        &mut p,
    );
    check(coupon_samples(), &mut p);
    check(
        vec![
            PricingError::InvalidInput("a quantity is between 1 and 99".into()),
            PricingError::NotFound("SKU"),
            PricingError::Loyalty(LoyaltyError::TierNotFound),
            PricingError::Store(store()),
        ],
        &mut p,
    );
    check(catalog_samples(), &mut p);
    check(inventory_samples(), &mut p);
    check(flash_sale_samples(), &mut p);
    check(loyalty_samples(), &mut p);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

#[test]
fn money_errors_have_a_reason_and_a_chinese_message() {
    let mut p = Vec::new();
    check(stored_value_samples(), &mut p);
    check(
        vec![
            crate::reports::ReportsError::InvalidQuery("group by at most three dimensions".into()),
            crate::reports::ReportsError::NotFound("BA"),
            crate::reports::ReportsError::Auth(AuthError::Forbidden),
            crate::reports::ReportsError::Store(store()),
            crate::reports::ReportsError::Export("disk full".into()),
            crate::reports::ReportsError::InvalidQuery(
                "more lines than one XLSX sheet holds: export CSV or a shorter range".into(),
            ),
        ],
        &mut p,
    );
    check(vec![crate::sales::SalesError::Store(store())], &mut p);
    check(
        vec![
            crate::commission::CommissionError::InvalidInput(
                "the designated and assistant shares must add up to 10,000 basis points".into(),
            ),
            crate::commission::CommissionError::NotFound("commission plan"),
            crate::commission::CommissionError::MonthLocked("2026-11".into()),
            crate::commission::CommissionError::VersionRace,
            crate::commission::CommissionError::Auth(AuthError::Forbidden),
            crate::commission::CommissionError::Store(store()),
        ],
        &mut p,
    );
    check(day_close_samples(), &mut p);
    assert!(p.is_empty(), "{}", p.join("\n"));
}

fn auth_samples() -> Vec<AuthError> {
    vec![
        AuthError::Unauthenticated,
        AuthError::BadCredentials,
        AuthError::AccountDisabled,
        AuthError::PasswordChangeRequired,
        AuthError::Throttled,
        AuthError::InvalidWeChatCode,
        AuthError::WeChatCodeUsed,
        AuthError::WeChatRefused,
        AuthError::WeChatRateLimited,
        AuthError::WeChatUnavailable(wechat()),
        AuthError::InvalidRefreshToken,
        AuthError::RefreshReuse,
        AuthError::Forbidden,
        AuthError::Store(store()),
        AuthError::Internal("signing key missing".into()),
    ]
}

fn booking_samples() -> Vec<BookingError> {
    vec![
        BookingError::InvalidInput("that time has passed".into()),
        BookingError::NotFound("booking"),
        BookingError::NotYours,
        BookingError::OtherStore,
        BookingError::SlotTaken,
        BookingError::SlotUnavailable,
        BookingError::WrongState("cancelled".into()),
        BookingError::AlreadyCheckedIn,
        BookingError::TooLate(120),
        BookingError::CodeExpired,
        BookingError::BadCode,
        BookingError::KeyReused,
        BookingError::NoShowLimit(at()),
        BookingError::MemberOverlap,
        BookingError::Shared(Arc::new(BookingError::SlotTaken)),
        BookingError::Auth(AuthError::Unauthenticated),
        BookingError::Store(store()),
    ]
}

fn campaign_samples() -> Vec<CampaignsError> {
    vec![
        CampaignsError::InvalidInput("days: 0 to 365".into()),
        CampaignsError::InvalidValue(ValueRuleError {
            key: "thing1".into(),
            rule: "at most 20 characters".into(),
        }),
        CampaignsError::NotFound("campaign"),
        CampaignsError::Conflict("template 7 is already registered".into()),
        CampaignsError::CouponsUnavailable("coupon template 3 does not exist".into()),
        CampaignsError::Coupons(CouponsError::SoldOut),
        CampaignsError::Auth(AuthError::Forbidden),
        CampaignsError::Store(store()),
    ]
}

fn scan_samples() -> Vec<ScanError> {
    vec![
        ScanError::InvalidInput("region: unknown".into()),
        ScanError::Malformed,
        ScanError::UnknownCode,
        ScanError::BatchNotFound,
        ScanError::SkuNotFound,
        ScanError::LotNotFound,
        ScanError::DistributorNotFound,
        ScanError::Inactive,
        ScanError::NotYetValid,
        ScanError::Expired,
        ScanError::RateLimited,
        ScanError::Throttled,
        ScanError::Blocked,
        ScanError::DailyCapReached,
        ScanError::Coupon(CouponsError::LimitReached),
        ScanError::VoucherNotFound,
        ScanError::VoucherUsed,
        ScanError::WeChatRefused("invalid page".into()),
        ScanError::CodeQuotaReached,
        ScanError::WeChat(wechat()),
        ScanError::Auth(AuthError::Forbidden),
        ScanError::Store(store()),
    ]
}

fn order_samples() -> Vec<OrdersError> {
    vec![
        OrdersError::InvalidInput("an order has 1 to 20 lines".into()),
        OrdersError::NotFound("order"),
        OrdersError::NotYours,
        OrdersError::SoldOut(42),
        OrdersError::WrongState("already paid".into()),
        OrdersError::PaymentExpired,
        OrdersError::DeliveryAddressMissing,
        OrdersError::Pii(crate::platform::pii::PiiError::Decrypt),
        OrdersError::KeyReused,
        OrdersError::AllergensNotAcknowledged("PARFUM".into()),
        OrdersError::PayUnavailable(wechat()),
        OrdersError::PayRefused("ORDERPAID".into()),
        OrdersError::Loyalty(LoyaltyError::InsufficientPoints { balance: 3 }),
        OrdersError::Catalog(CatalogError::NotFound("SKU")),
        OrdersError::Auth(AuthError::Forbidden),
        OrdersError::Coupons(CouponsError::Expired(
            "the coupon 满100减20 has expired".into(),
        )),
        OrdersError::StoredValue(StoredValueError::Insufficient { available_fen: 5 }),
        OrdersError::Store(store()),
    ]
}

fn coupon_samples() -> Vec<CouponsError> {
    vec![
        CouponsError::InvalidInput("the coupon 新客券 is not valid yet".into()),
        CouponsError::NotFound("coupon template"),
        CouponsError::NotYours,
        CouponsError::Expired("the coupon code has expired; ask the member to refresh it".into()),
        CouponsError::AlreadyUsed("新客券".into()),
        CouponsError::SoldOut,
        CouponsError::LimitReached,
        CouponsError::Pricing(PricingError::NotFound("SKU")),
        CouponsError::Inventory(InventoryError::Insufficient { sku_id: 7 }),
        CouponsError::Auth(AuthError::Forbidden),
        CouponsError::Store(store()),
    ]
}

fn catalog_samples() -> Vec<CatalogError> {
    vec![
        CatalogError::InvalidInput("at most 200 ingredients".into()),
        CatalogError::NotFound("product"),
        CatalogError::Taken("product code"),
        CatalogError::Inventory(Box::new(InventoryError::NotFound("location"))),
        CatalogError::Shared(Arc::new(CatalogError::NotFound("category"))),
        CatalogError::Auth(AuthError::Forbidden),
        CatalogError::Store(store()),
    ]
}

fn inventory_samples() -> Vec<InventoryError> {
    vec![
        InventoryError::InvalidInput("choose two different locations".into()),
        InventoryError::NotFound("stock level"),
        InventoryError::Insufficient { sku_id: 9 },
        InventoryError::Taken("location code"),
        InventoryError::Auth(AuthError::Forbidden),
        InventoryError::Store(StoreError::Kv(KvError::Unavailable("down".into()))),
    ]
}

fn flash_sale_samples() -> Vec<FlashSalesError> {
    vec![
        FlashSalesError::InvalidInput("a quantity is between 1 and 99".into()),
        FlashSalesError::NotFound("flash sale"),
        FlashSalesError::NotStarted(at()),
        FlashSalesError::Ended,
        FlashSalesError::SoldOut,
        FlashSalesError::LimitReached,
        FlashSalesError::KeyReused,
        FlashSalesError::InProgress,
        FlashSalesError::Throttled,
        FlashSalesError::CountersDown(KvError::Unavailable("down".into())),
        FlashSalesError::ShuttingDown,
        FlashSalesError::Shared(Arc::new(FlashSalesError::Ended)),
        FlashSalesError::Orders(OrdersError::SoldOut(1)),
        FlashSalesError::Auth(AuthError::Unauthenticated),
        FlashSalesError::Store(store()),
    ]
}

fn loyalty_samples() -> Vec<LoyaltyError> {
    vec![
        LoyaltyError::TierNotFound,
        LoyaltyError::MemberNotFound,
        LoyaltyError::InvalidInput("a points gift is 1 to 100,000 points".into()),
        LoyaltyError::InsufficientPoints { balance: 12 },
        LoyaltyError::KeyReused,
        LoyaltyError::Auth(AuthError::Forbidden),
        LoyaltyError::Store(store()),
    ]
}

#[test]
fn wrapped_errors_keep_the_reason_of_what_they_wrap() {
    let inner = CouponsError::Expired("the coupon 新客券 has expired".into());
    let expected = inner.text();
    assert_eq!(expected.reason, "COUPON_EXPIRED");
    assert_eq!(expected.zh, "优惠券“新客券”已过期");
    let wrapped = FlashSalesError::Orders(OrdersError::Coupons(inner));
    assert_eq!(wrapped.text(), expected);
    assert_eq!(
        BookingError::Shared(Arc::new(BookingError::SlotTaken)).reason(),
        "SLOT_TAKEN"
    );
}

#[test]
fn internal_causes_stay_out_of_every_language() {
    let e = OrdersError::Store(store());
    assert_eq!(e.code(), ErrorCode::Internal);
    assert_eq!(e.reason(), "INTERNAL");
    assert!(!e.message_zh().contains("secret_table"));
    let e = AuthError::WeChatUnavailable(wechat());
    assert_eq!(e.reason(), "UNAVAILABLE");
    assert_eq!(e.message_zh(), "服务暂时不可用，请稍后重试");
}

#[test]
fn data_in_messages_is_put_into_the_chinese_too() {
    assert_eq!(
        BookingError::TooLate(120).message_zh(),
        "预约最晚可在开始前 120 分钟修改或取消"
    );
    // 16:30 UTC is 00:30 the next day in Beijing.
    assert_eq!(
        FlashSalesError::NotStarted(at()).message_zh(),
        "秒杀尚未开始，将于 2026-12-06 00:30（北京时间） 开始"
    );
    assert_eq!(
        CouponsError::NotFound("coupon template").message_zh(),
        "找不到优惠券模板"
    );
    assert_eq!(
        CouponsError::NotFound("something new").message_zh(),
        "找不到所请求的内容"
    );
    assert_eq!(
        OrdersError::InvalidInput("a quantity is between 1 and 99".into()).message_zh(),
        "数量须在 1 到 99 之间"
    );
    // A sentence with no translation keeps its detail after a Chinese lead.
    assert_eq!(
        CatalogError::InvalidInput("at most 200 ingredients".into()).message_zh(),
        "请求内容有误：at most 200 ingredients"
    );
}

fn day_close_samples() -> Vec<crate::day_close::DayCloseError> {
    use crate::day_close::DayCloseError;
    vec![
        DayCloseError::InvalidInput("a month is written YYYY-MM".into()),
        DayCloseError::NotFound("store"),
        DayCloseError::FutureDay,
        DayCloseError::DifferenceReasonRequired {
            difference_fen: -1_250,
        },
        DayCloseError::AlreadyClosed,
        DayCloseError::DayClosed,
        DayCloseError::Corrupt("order R1 has no tender".into()),
        DayCloseError::Auth(AuthError::Forbidden),
        DayCloseError::Store(store()),
    ]
}

fn stored_value_samples() -> Vec<StoredValueError> {
    vec![
        StoredValueError::InvalidInput("give either a plan or an amount".into()),
        StoredValueError::NotFound("top-up plan"),
        StoredValueError::Insufficient {
            available_fen: 12_345,
        },
        StoredValueError::PrincipalLimit { max_fen: 500_000 },
        StoredValueError::TermsNotAccepted("2026-12"),
        StoredValueError::KeyReused,
        StoredValueError::PayUnavailable(wechat()),
        StoredValueError::PayRefused("ORDERPAID".into()),
        StoredValueError::Auth(AuthError::Forbidden),
        StoredValueError::Store(store()),
    ]
}

#[test]
fn media_errors_have_a_reason_and_a_chinese_message() {
    let mut p = Vec::new();
    check(
        vec![
            crate::media::MediaError::Rejected(media::IntakeError::Empty),
            crate::media::MediaError::Rejected(media::IntakeError::TooManyBytes { max: 10 }),
            crate::media::MediaError::Rejected(media::IntakeError::UnsupportedType),
            crate::media::MediaError::Rejected(media::IntakeError::Animated),
            crate::media::MediaError::Rejected(media::IntakeError::Malformed),
            crate::media::MediaError::Rejected(media::IntakeError::TooLarge {
                width: 4000,
                height: 99_999,
                max_side: 8192,
                max_pixels: 40_000_000,
            }),
            crate::media::MediaError::Rejected(media::IntakeError::Undecodable("eof".into())),
            crate::media::MediaError::Rejected(media::IntakeError::Internal("join".into())),
            crate::media::MediaError::InvalidInput("give one alt text per asset".into()),
            crate::media::MediaError::NotFound,
            crate::media::MediaError::NoConsent,
            crate::media::MediaError::AssetInUse,
            crate::media::MediaError::LinkExpired,
            crate::media::MediaError::LinkInvalid,
            crate::media::MediaError::Auth(AuthError::Forbidden),
            crate::media::MediaError::Store(store()),
            crate::media::MediaError::Storage("disk full".into()),
            crate::media::MediaError::TicketUsed,
            crate::media::MediaError::TicketExpired,
            crate::media::MediaError::UploadMissing,
            crate::media::MediaError::SizeMismatch { declared: 1234 },
            crate::media::MediaError::HashMismatch,
            crate::media::MediaError::TooManyTickets,
            crate::media::MediaError::CodeQuotaReached,
            crate::media::MediaError::WeChat("busy".into()),
            crate::media::MediaError::SceneInvalid,
        ],
        &mut p,
    );
    assert!(p.is_empty(), "{}", p.join("\n"));
}

fn b2b_samples() -> Vec<B2bError> {
    vec![
        B2bError::InvalidInput("qty must be between 1 and 1000000".into()),
        B2bError::NotFound("purchase order"),
        B2bError::NotAllowed("only an OWNER or BUYER orders for the organisation"),
        B2bError::NoPriceList,
        B2bError::NotOnPriceList(7),
        B2bError::BelowMoq { sku_id: 7, moq: 12 },
        B2bError::NotWholeCases {
            sku_id: 7,
            case_size: 6,
        },
        B2bError::QuoteChanged,
        B2bError::CreditExceeded,
        B2bError::LimitBelowExposure,
        B2bError::WrongState,
        B2bError::PolicyNotAcknowledged,
        B2bError::IdempotencyKeyReused,
        B2bError::CodesAlreadyShipped {
            batch_id: 3,
            from: 0,
            to: 9,
        },
        B2bError::CartonMismatch {
            line_id: 5,
            reason: "codes of another SKU",
        },
        B2bError::PaymentReferenceReused("BANK-001".into()),
        B2bError::PaymentExceedsOpen,
        B2bError::AccountOnHold,
        B2bError::CreditOverrideExists,
        B2bError::Export("disk full".into()),
        B2bError::RebateInsufficient,
        B2bError::RebateOverCap { cap_fen: 5_000 },
        B2bError::QuarterNotEnded,
        B2bError::Auth(AuthError::Forbidden),
        B2bError::Store(store()),
    ]
}
