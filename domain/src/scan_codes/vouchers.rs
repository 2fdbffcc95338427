//! Sample vouchers: a SAMPLE gift is collected at a store counter, where a BA redeems the
//! member's voucher once.

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};

use super::ScanError;
use crate::AppState;
use crate::auth::{MemberPrincipal, Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use entities::{scan_code_batch, scan_redemption};

pub(super) fn random_voucher() -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut rng = rand::thread_rng();
    let body: String = (0..12)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..32)]))
        .collect();
    format!("SV{body}")
}

#[derive(Debug, Clone)]
pub struct SampleVoucher {
    pub code: String,
    pub member_id: i64,
    pub sample_name: String,
    pub sku_id: i64,
    pub issued_at: DateTime<Utc>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub store_id: Option<i64>,
}

async fn voucher_view<C: ConnectionTrait>(
    db: &C,
    r: scan_redemption::Model,
) -> Result<SampleVoucher, ScanError> {
    let name: Option<Option<String>> = scan_code_batch::Entity::find_by_id(r.batch_id)
        .select_only()
        .column(scan_code_batch::Column::SampleName)
        .into_tuple()
        .one(db)
        .await?;
    // Vouchers are read by their code, and only SAMPLE batches (which name their sample) give
    // them: a row without either is one Rouge cannot read.
    let unreadable = |what: &str| DbErr::Type(format!("redemption {} has no {what}", r.id));
    Ok(SampleVoucher {
        code: r.voucher_code.ok_or_else(|| unreadable("voucher code"))?,
        member_id: r.member_id,
        sample_name: name.flatten().ok_or_else(|| unreadable("sample name"))?,
        sku_id: r.sku_id,
        issued_at: r.redeemed_at,
        redeemed_at: r.voucher_redeemed_at,
        store_id: r.voucher_store_id,
    })
}

/// The member's sample vouchers, newest first (by redemption id, the voucher's key).
pub async fn my_sample_vouchers(
    app: &AppState,
    who: &MemberPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<(i64, SampleVoucher)>, ScanError> {
    let mut query = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::MemberId.eq(who.member_id))
        .filter(scan_redemption::Column::VoucherCode.is_not_null())
        .order_by_desc(scan_redemption::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(scan_redemption::Column::Id.lt(after));
    }
    let rows = page.page(query.all(&app.db).await?);
    let mut out = Vec::with_capacity(rows.items.len());
    for r in rows.items {
        out.push((r.id, voucher_view(&app.db, r).await?));
    }
    Ok(Page {
        items: out,
        has_next: rows.has_next,
    })
}

/// A BA hands out the sample at the counter: the voucher is used once.
#[tracing::instrument(skip_all, err)]
pub async fn redeem_sample_voucher(
    app: &AppState,
    staff: &StaffPrincipal,
    voucher_code: &str,
) -> Result<SampleVoucher, ScanError> {
    staff.require(Permission::RecordSale)?;
    let code = voucher_code.trim().to_uppercase();
    if code.is_empty() || code.len() > 32 {
        return Err(ScanError::VoucherNotFound);
    }
    let now = app.clock.now();
    let txn = app.db.begin().await?;
    let updated = scan_redemption::Entity::update_many()
        .col_expr(
            scan_redemption::Column::VoucherRedeemedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .col_expr(
            scan_redemption::Column::VoucherRedeemedBy,
            sea_orm::sea_query::Expr::value(staff.staff_id),
        )
        .col_expr(
            scan_redemption::Column::VoucherStoreId,
            sea_orm::sea_query::Expr::value(staff.store_id),
        )
        .filter(scan_redemption::Column::VoucherCode.eq(code.clone()))
        .filter(scan_redemption::Column::VoucherRedeemedAt.is_null())
        .exec(&txn)
        .await?;
    let row = scan_redemption::Entity::find()
        .filter(scan_redemption::Column::VoucherCode.eq(code))
        .one(&txn)
        .await?
        .ok_or(ScanError::VoucherNotFound)?;
    if updated.rows_affected != 1 {
        return Err(ScanError::VoucherUsed);
    }
    let view = voucher_view(&txn, row).await?;
    txn.commit().await?;
    Ok(view)
}
