//! What a distributor may order: the SKUs on its tier's price list in force, with its ladder,
//! MOQ, case size and an availability band (never HQ's exact counts).

use std::collections::HashMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{B2bError, price_lists};
use crate::AppState;
use crate::auth::DistributorPrincipal;
use crate::platform::page::{IdKey, Keyset, Page};
use entities::location::LocationKind;
use entities::price_list_item::PriceStep;
use entities::{distributor, location, price_list, price_list_item, product, sku, stock_level};

/// At least this many cases in the warehouses shows as IN_STOCK; fewer (but some) as LOW.
pub const LOW_BELOW_CASES: i64 = 10;

/// How much of a SKU the warehouses hold, as a band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Availability {
    InStock,
    Low,
    /// The SKU is switched off: it cannot be ordered.
    Out,
    /// None in the warehouses now: an order is backordered.
    Backorder,
}

impl Availability {
    /// The band as the API spells it.
    pub fn code(self) -> &'static str {
        match self {
            Self::InStock => "IN_STOCK",
            Self::Low => "LOW",
            Self::Out => "OUT",
            Self::Backorder => "BACKORDER",
        }
    }
}

#[derive(Debug, Clone)]
pub struct B2bSku {
    pub sku_id: i64,
    pub sku_code: String,
    pub product_name: String,
    pub shade: Option<String>,
    pub size: Option<String>,
    /// The price of one unit at the MOQ.
    pub unit_price_fen: i64,
    pub ladder: Vec<PriceStep>,
    pub moq: i32,
    pub case_size: i32,
    pub availability: Availability,
    pub price_list_version: i32,
}

/// The caller's distributor row and the price list its tier has in force now.
pub(crate) async fn list_for<C: ConnectionTrait>(
    db: &C,
    who: &DistributorPrincipal,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(distributor::Model, price_list::Model), B2bError> {
    let dist = distributor::Entity::find_by_id(who.distributor_id)
        .one(db)
        .await?
        .filter(|d| d.active)
        .ok_or(B2bError::NotFound("distributor"))?;
    let tier = dist.tier_id.ok_or(B2bError::NoPriceList)?;
    let list = price_lists::in_force(db, tier, at)
        .await?
        .ok_or(B2bError::NoPriceList)?;
    Ok((dist, list))
}

/// A SKU's band from whether it is on and the units the warehouses hold.
pub(crate) fn band_of(active: bool, units: i64, case_size: i32) -> Availability {
    if !active {
        Availability::Out
    } else if units <= 0 {
        Availability::Backorder
    } else if units < LOW_BELOW_CASES * i64::from(case_size) {
        Availability::Low
    } else {
        Availability::InStock
    }
}

/// Whether each SKU is on and the units the warehouses hold of it, in one statement (a SKU
/// that does not exist is left out).
pub(crate) async fn stock_of<C: ConnectionTrait>(
    db: &C,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, (bool, i64)>, B2bError> {
    let warehouses = Query::select()
        .column(location::Column::Id)
        .from(location::Entity)
        .and_where(Expr::col(location::Column::Kind).eq(LocationKind::Warehouse))
        .to_owned();
    let q = Query::select()
        .column((sku::Entity, sku::Column::Id))
        .column((sku::Entity, sku::Column::Active))
        .expr_as(
            crate::platform::db::sum_i64((stock_level::Entity, stock_level::Column::Quantity)),
            Alias::new("held"),
        )
        .from(sku::Entity)
        .left_join(
            stock_level::Entity,
            Expr::col((stock_level::Entity, stock_level::Column::SkuId))
                .equals((sku::Entity, sku::Column::Id))
                .and(
                    Expr::col((stock_level::Entity, stock_level::Column::LocationId))
                        .in_subquery(warehouses),
                ),
        )
        .and_where(crate::platform::db::id_in(
            db.get_database_backend(),
            (sku::Entity, sku::Column::Id),
            ids,
        ))
        .group_by_col((sku::Entity, sku::Column::Id))
        .group_by_col((sku::Entity, sku::Column::Active))
        .to_owned();
    let rows = db
        .query_all_raw(db.get_database_backend().build(&q))
        .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get("", "id")?;
        let active: bool = row.try_get("", "active")?;
        let held: Option<i64> = row.try_get("", "held")?;
        out.insert(id, (active, held.unwrap_or(0)));
    }
    Ok(out)
}

/// The band of each SKU from its warehouse stock.
pub(crate) async fn bands<C: ConnectionTrait>(
    db: &C,
    items: &[(i64, i32)],
) -> Result<HashMap<i64, Availability>, B2bError> {
    let stock = stock_of(db, items.iter().map(|(id, _)| *id)).await?;
    Ok(items
        .iter()
        .map(|(id, case_size)| {
            let (active, units) = stock.get(id).copied().unwrap_or((false, 0));
            (*id, band_of(active, units, *case_size))
        })
        .collect())
}

/// The caller's catalog, by SKU id, optionally of one category.
pub async fn b2b_catalog(
    app: &AppState,
    who: &DistributorPrincipal,
    page: Keyset<IdKey>,
    category_id: Option<i64>,
) -> Result<Page<B2bSku>, B2bError> {
    let (_, list) = list_for(&app.db, who, app.clock.now()).await?;
    let mut q = price_list_item::Entity::find()
        .filter(price_list_item::Column::PriceListId.eq(list.id))
        .order_by_asc(price_list_item::Column::SkuId)
        .limit(page.fetch());
    if let Some(after) = page.after {
        q = q.filter(price_list_item::Column::SkuId.gt(after));
    }
    if let Some(category) = category_id {
        let in_category = Query::select()
            .column((sku::Entity, sku::Column::Id))
            .from(sku::Entity)
            .inner_join(
                product::Entity,
                Expr::col((product::Entity, product::Column::Id))
                    .equals((sku::Entity, sku::Column::ProductId)),
            )
            .and_where(Expr::col((product::Entity, product::Column::CategoryId)).eq(category))
            .to_owned();
        q = q.filter(price_list_item::Column::SkuId.in_subquery(in_category));
    }
    let page = page.page(q.all(&app.db).await?);
    let pairs: Vec<(i64, i32)> = page.items.iter().map(|i| (i.sku_id, i.case_size)).collect();
    let bands = bands(&app.db, &pairs).await?;
    let skus: HashMap<i64, sku::Model> = sku::Entity::find()
        .filter(sku::Column::Id.is_in(pairs.iter().map(|p| p.0)))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let names: HashMap<i64, String> = product::Entity::find()
        .filter(product::Column::Id.is_in(skus.values().map(|s| s.product_id)))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    page.try_map(|item| {
        let s = skus.get(&item.sku_id).ok_or(B2bError::NotFound("SKU"))?;
        let ladder = item.ladder.into_inner();
        Ok(B2bSku {
            sku_id: item.sku_id,
            sku_code: s.code.clone(),
            product_name: names.get(&s.product_id).cloned().unwrap_or_default(),
            shade: s.shade.clone(),
            size: s.size.clone(),
            unit_price_fen: price_lists::unit_price(&ladder, i64::from(item.moq)),
            ladder,
            moq: item.moq,
            case_size: item.case_size,
            availability: bands
                .get(&item.sku_id)
                .copied()
                .unwrap_or(Availability::Out),
            price_list_version: list.version,
        })
    })
}
