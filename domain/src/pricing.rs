//! Pricing an order before it is written: checked lines at list price, the tier's member price,
//! discount lines, and how order-level discounts spread over the lines. Orders, coupons and
//! flash sales all price with these; this module depends on none of them.

use std::collections::{BTreeMap, HashMap};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::catalog;
use crate::loyalty::{self, LoyaltyError};
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::{product, sku};

pub use entities::order::Channel;
pub use entities::order_discount::DiscountKind;

/// Why lines could not be priced. Orders (and coupons through orders) report these as their own
/// errors, with the same messages and codes.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum PricingError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error(transparent)]
    Loyalty(#[from] LoyaltyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(PricingError);

impl DomainError for PricingError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Loyalty(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: &str) -> PricingError {
    PricingError::InvalidInput(msg.to_owned())
}

/// Units of one SKU the buyer asks for.
#[derive(Debug, Clone, Copy)]
pub struct LineInput {
    pub sku_id: i64,
    pub quantity: i32,
}

/// One discount on an order, shown as its own line.
#[derive(Debug, Clone)]
pub struct Discount {
    pub kind: DiscountKind,
    pub label: String,
    pub amount_fen: i64,
    pub reference: Option<String>,
}

/// A line priced at list price, with the names it is sold under.
pub(crate) struct DraftLine {
    pub sku_id: i64,
    pub product_name: String,
    pub sku_label: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
}

/// The lines' value at list price.
pub(crate) fn subtotal(lines: &[DraftLine]) -> i64 {
    lines
        .iter()
        .map(|l| l.unit_price_fen * i64::from(l.quantity))
        .sum()
}

/// Checks the lines of an order: 1 to 20 SKUs, 1 to 99 units each; the same SKU twice is merged.
pub(crate) fn merge_lines(lines: &[LineInput]) -> Result<Vec<LineInput>, PricingError> {
    if lines.is_empty() || lines.len() > 20 {
        return Err(invalid("an order has 1 to 20 lines"));
    }
    let mut merged: BTreeMap<i64, i32> = BTreeMap::new();
    for line in lines {
        if !(1..=99).contains(&line.quantity) {
            return Err(invalid("a quantity is between 1 and 99"));
        }
        *merged.entry(line.sku_id).or_default() += line.quantity;
    }
    if merged.values().any(|q| *q > 99) {
        return Err(invalid("at most 99 units of one SKU"));
    }
    Ok(merged
        .into_iter()
        .map(|(sku_id, quantity)| LineInput { sku_id, quantity })
        .collect())
}

/// The SKUs (active, with their product names) behind order lines, at list price.
pub(crate) async fn price_lines<C: ConnectionTrait>(
    db: &C,
    lines: &[LineInput],
) -> Result<Vec<DraftLine>, PricingError> {
    let ids: Vec<i64> = lines.iter().map(|l| l.sku_id).collect();
    let skus: HashMap<i64, sku::Model> = sku::Entity::find()
        .filter(sku::Column::Id.is_in(ids.clone()))
        .all(db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let product_ids: Vec<i64> = skus.values().map(|s| s.product_id).collect();
    let products: HashMap<i64, product::Model> = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    lines
        .iter()
        .map(|line| {
            let sku = skus
                .get(&line.sku_id)
                .filter(|s| s.active)
                .ok_or(PricingError::NotFound("SKU"))?;
            let product = products
                .get(&sku.product_id)
                .filter(|p| p.active)
                .ok_or(PricingError::NotFound("product"))?;
            Ok(DraftLine {
                sku_id: sku.id,
                product_name: product.name.clone(),
                sku_label: catalog::Sku::from(sku.clone()).label(),
                quantity: line.quantity,
                unit_price_fen: sku.price_fen,
            })
        })
        .collect()
}

/// The member price: the tier's discount on the whole order, as a discount line.
pub(crate) async fn tier_discount<C: ConnectionTrait>(
    db: &C,
    member_id: i64,
    subtotal: i64,
) -> Result<Vec<Discount>, PricingError> {
    let Some(tier) = loyalty::member_tier(db, member_id).await? else {
        return Ok(vec![]);
    };
    let amount = subtotal * i64::from(tier.discount_pct) / 100;
    Ok(if amount > 0 {
        vec![Discount {
            kind: DiscountKind::Tier,
            label: format!("{} {}% 会员价", tier.name, tier.discount_pct),
            amount_fen: amount,
            reference: Some(tier.code),
        }]
    } else {
        vec![]
    })
}

/// Spreads order-level discounts over the lines in proportion to their value (the last line
/// takes the rounding), so a partial refund returns what the units were really sold for.
pub(crate) fn allocate_discount(subtotals: &[i64], discount: i64) -> Vec<i64> {
    let total: i64 = subtotals.iter().sum();
    if total == 0 || discount == 0 {
        return vec![0; subtotals.len()];
    }
    let mut shares: Vec<i64> = subtotals
        .iter()
        .map(|s| {
            i64::try_from(i128::from(*s) * i128::from(discount) / i128::from(total)).unwrap_or(0)
        })
        .collect();
    let given: i64 = shares.iter().sum();
    if let Some(last) = shares.last_mut() {
        *last += discount - given;
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounts_spread_in_proportion_and_add_up() {
        assert_eq!(
            allocate_discount(&[10_000, 30_000], 4_000),
            vec![1_000, 3_000]
        );
        let shares = allocate_discount(&[333, 333, 334], 100);
        assert_eq!(shares.iter().sum::<i64>(), 100);
        assert_eq!(allocate_discount(&[100], 0), vec![0]);
    }

    #[test]
    fn line_merging_refuses_bad_quantities() {
        let l = |sku_id, quantity| LineInput { sku_id, quantity };
        assert_eq!(merge_lines(&[l(1, 2), l(1, 3), l(2, 1)]).unwrap().len(), 2);
        assert!(merge_lines(&[]).is_err());
        assert!(merge_lines(&[l(1, 0)]).is_err());
        assert!(merge_lines(&[l(1, -1)]).is_err());
        assert!(merge_lines(&[l(1, 60), l(1, 60)]).is_err());
    }
}
