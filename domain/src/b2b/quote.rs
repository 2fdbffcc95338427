//! Pricing an order the way submit will: the tier's price list in force, each SKU's ladder on
//! its quantity summed over the lines, MOQ and whole cases, the availability band and whether
//! the credit covers it. The `hash` covers everything that decides the order (price-list
//! version, lines, prices, bands, totals, whether credit suffices), so a submit with a quote
//! whose world has moved is refused. The exact credit remaining is shown but not hashed: other
//! orders move it all the time, and only whether it still covers this order matters.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use sha2::{Digest, Sha256};

use super::catalog::{Availability, band_of, stock_of};
use super::{B2bError, policies, price_lists, pricing};
use crate::AppState;
use crate::auth::DistributorPrincipal;
use entities::{b2b_policy, price_list_item};

/// The most lines one order holds, and units one line.
pub const MAX_LINES: usize = 200;
pub const MAX_QTY: i32 = 1_000_000;

#[derive(Debug, Clone, Copy)]
pub struct LineInput {
    pub sku_id: i64,
    pub qty: i32,
}

#[derive(Debug, Clone)]
pub struct QuoteLine {
    pub sku_id: i64,
    pub qty: i32,
    /// The price of a unit at the first step of the ladder.
    pub list_unit_price_fen: i64,
    /// The price of a unit at the step this quantity reaches.
    pub unit_price_fen: i64,
    pub line_total_fen: i64,
    pub availability: Availability,
}

/// One line of the explanation: what was applied, to which SKU, worth how much.
#[derive(Debug, Clone)]
pub struct PricingStep {
    pub sku_id: Option<i64>,
    /// The policy applied (none for a ladder step).
    pub policy_id: Option<i64>,
    /// LADDER for a quantity step; policies add their own kinds.
    pub kind: &'static str,
    pub label: String,
    /// What it took off (positive) the list price.
    pub amount_fen: i64,
}

#[derive(Debug, Clone)]
pub struct Quote {
    pub hash: String,
    pub price_list_id: i64,
    pub price_list_version: i32,
    pub lines: Vec<QuoteLine>,
    /// Gift units the policies add (price 0).
    pub gifts: Vec<QuoteLine>,
    pub subtotal_fen: i64,
    pub discount_fen: i64,
    pub total_fen: i64,
    pub explain: Vec<PricingStep>,
    pub prepaid: bool,
    /// Credit available before this order, and after it (prepaid: unchanged).
    pub credit_available_fen: i64,
    pub credit_after_fen: i64,
    /// Whether the credit covers the order (always for prepaid distributors).
    pub credit_sufficient: bool,
    /// Must-confirm policies in force that the organisation has not acknowledged: submit is
    /// refused until they are.
    pub unacknowledged_policy_ids: Vec<i64>,
    /// Rebate spent on this order (part of the hash), the most this order may spend (the
    /// policies' cap) and what the account has available now (not hashed).
    pub rebate_used_fen: i64,
    pub rebate_cap_fen: i64,
    pub rebate_available_fen: i64,
    /// Gift units each policy gave (policy id, units): what `policyExecution` records.
    pub(crate) policy_gifts: Vec<(i64, i64)>,
    /// The credit terms' days of grace past a due day (submit's hold check).
    pub(crate) grace_days: i32,
}

/// A quote for the caller's organisation (any of its accounts may ask).
pub async fn quote_purchase_order(
    app: &AppState,
    who: &DistributorPrincipal,
    lines: &[LineInput],
) -> Result<Quote, B2bError> {
    price(app, &app.db, who, lines, app.clock.now()).await
}

/// A quote that pays `rebate_fen` of the order with rebate (at most what is available and
/// the policies' cap).
pub async fn quote_with_rebate(
    app: &AppState,
    who: &DistributorPrincipal,
    lines: &[LineInput],
    rebate_fen: i64,
) -> Result<Quote, B2bError> {
    price_using(app, &app.db, who, lines, rebate_fen, app.clock.now()).await
}

fn aggregate(lines: &[LineInput]) -> Result<BTreeMap<i64, i64>, B2bError> {
    if lines.is_empty() || lines.len() > MAX_LINES {
        return Err(B2bError::InvalidInput(format!(
            "an order has 1 to {MAX_LINES} lines"
        )));
    }
    let mut qty: BTreeMap<i64, i64> = BTreeMap::new();
    for line in lines {
        if !(1..=MAX_QTY).contains(&line.qty) {
            return Err(B2bError::InvalidInput(format!(
                "qty must be between 1 and {MAX_QTY}"
            )));
        }
        *qty.entry(line.sku_id).or_default() += i64::from(line.qty);
    }
    if qty.values().any(|q| *q > i64::from(MAX_QTY)) {
        return Err(B2bError::InvalidInput(format!(
            "at most {MAX_QTY} units of one SKU"
        )));
    }
    Ok(qty)
}

/// Prices `lines` for the caller at `now`, on `db` (a transaction when submitting).
pub(crate) async fn price<C: ConnectionTrait>(
    app: &AppState,
    db: &C,
    who: &DistributorPrincipal,
    lines: &[LineInput],
    now: DateTime<Utc>,
) -> Result<Quote, B2bError> {
    price_using(app, db, who, lines, 0, now).await
}

/// [`price`], paying `rebate_fen` with rebate. Round trips: the distributor row with its
/// standing (pricing version, credit, rebate balance), the stock of the SKUs quoted and given, and the
/// organisation's confirmations only when a must-confirm policy is in force for it; the price
/// lists and policies come from the replica's pricing world at that version (`pricing`).
pub(crate) async fn price_using<C: ConnectionTrait>(
    app: &AppState,
    db: &C,
    who: &DistributorPrincipal,
    lines: &[LineInput],
    rebate_fen: i64,
    now: DateTime<Utc>,
) -> Result<Quote, B2bError> {
    let qty = aggregate(lines)?;
    let mut standing = pricing::standing(db, who.distributor_id).await?;
    let dist = standing
        .distributor
        .take()
        .filter(|d| d.active)
        .ok_or(B2bError::NotFound("distributor"))?;
    let tier = dist.tier_id.ok_or(B2bError::NoPriceList)?;
    let cache = &app.caches.b2b_pricing;
    let world = cache.world(db, standing.version).await?;
    let list = world
        .list_in_force(tier, now)
        .ok_or(B2bError::NoPriceList)?
        .clone();
    let items = cache.items(db, &world, list.id).await?;
    let case_sizes = check_quantities(&qty, &items)?;
    let (mut out, mut explain, subtotal) = priced_lines(&qty, &items)?;
    let in_force: Vec<&b2b_policy::Model> = world
        .policies_in_force(dist.tier_id, now)
        .filter(|p| super::scope::addressed_to(p, &dist))
        .collect();
    let acked = if in_force.iter().any(|p| p.requires_ack) {
        policies::acks(db, dist.id).await?
    } else {
        HashMap::new()
    };
    let applied = policies::apply(in_force, &acked, &qty, subtotal);
    let stock = stock_of(
        db,
        qty.keys().copied().chain(applied.gifts.iter().map(|g| g.0)),
    )
    .await?;
    for line in &mut out {
        let (active, units) = stock.get(&line.sku_id).copied().unwrap_or((false, 0));
        let case_size = case_sizes.get(&line.sku_id).copied().unwrap_or(1);
        line.availability = band_of(active, units, case_size);
        if line.availability == Availability::Out {
            return Err(B2bError::NotOnPriceList(line.sku_id));
        }
    }
    let discount = applied.discount_fen;
    let rebate = super::rebates::rebate_use(
        world.policies(),
        &dist,
        now,
        (subtotal - discount, rebate_fen),
        standing.rebate_available_fen,
    )?;
    let total = subtotal - discount - rebate.used_fen;
    explain_policies(&mut explain, &applied.steps, &rebate);
    let gifts = gift_lines(&applied.gifts, &stock);
    let credit = standing.credit;
    let credit_sufficient = credit.prepaid || total <= credit.available_fen;
    let credit_after = if credit.prepaid {
        credit.available_fen
    } else {
        credit.available_fen - total
    };
    let hash = {
        let mut d = QuoteDigest::default();
        d.int(list.id).int(i64::from(list.version));
        d.lines(&out).lines(&gifts).steps(&explain);
        d.int(subtotal).int(discount).int(total);
        d.flag(credit.prepaid).flag(credit_sufficient);
        d.ints(&applied.unacknowledged);
        d.int(rebate.used_fen).int(rebate.cap_fen);
        d.finish()
    };
    Ok(Quote {
        hash,
        price_list_id: list.id,
        price_list_version: list.version,
        lines: out,
        gifts,
        subtotal_fen: subtotal,
        discount_fen: discount,
        total_fen: total,
        explain,
        prepaid: credit.prepaid,
        credit_available_fen: credit.available_fen,
        credit_after_fen: credit_after,
        credit_sufficient,
        unacknowledged_policy_ids: applied.unacknowledged,
        rebate_used_fen: rebate.used_fen,
        rebate_cap_fen: rebate.cap_fen,
        rebate_available_fen: rebate.available_fen,
        policy_gifts: applied.gifts.iter().map(|g| (g.2, g.1)).collect(),
        grace_days: credit.grace_days,
    })
}

/// The policies' explanation lines after the ladder's, then the rebate spent.
fn explain_policies(
    explain: &mut Vec<PricingStep>,
    steps: &[(i64, &'static str, String, i64)],
    rebate: &super::rebates::RebateUse,
) {
    explain.extend(steps.iter().map(|(id, kind, label, amount)| PricingStep {
        sku_id: None,
        policy_id: Some(*id),
        kind,
        label: label.clone(),
        amount_fen: *amount,
    }));
    if rebate.used_fen > 0 {
        explain.push(PricingStep {
            sku_id: None,
            policy_id: None,
            kind: "REBATE_USE",
            label: format!(
                "返利抵扣 {} 分（返利政策：每单最多抵扣 {}%，本单上限 {} 分）",
                rebate.used_fen, rebate.cap_percent, rebate.cap_fen
            ),
            amount_fen: rebate.used_fen,
        });
    }
}

/// Each line at its ladder price, a LADDER explanation step where the ladder lowered it, and the
/// subtotal.
fn priced_lines(
    qty: &BTreeMap<i64, i64>,
    items: &HashMap<i64, price_list_item::Model>,
) -> Result<(Vec<QuoteLine>, Vec<PricingStep>, i64), B2bError> {
    let mut out = Vec::with_capacity(qty.len());
    let mut explain = Vec::new();
    let mut subtotal: i64 = 0;
    for (sku_id, n) in qty {
        let Some(item) = items.get(sku_id) else {
            return Err(B2bError::NotOnPriceList(*sku_id));
        };
        let list_price = item.ladder.first().map_or(0, |s| s.unit_price_fen);
        let unit = price_lists::unit_price(&item.ladder, *n);
        let total = unit
            .checked_mul(*n)
            .ok_or_else(|| B2bError::InvalidInput("the order is too large".into()))?;
        subtotal = subtotal
            .checked_add(total)
            .ok_or_else(|| B2bError::InvalidInput("the order is too large".into()))?;
        if unit < list_price {
            explain.push(PricingStep {
                sku_id: Some(*sku_id),
                policy_id: None,
                kind: "LADDER",
                label: format!("阶梯价：{n} 件，单价 {unit} 分（原价 {list_price} 分）"),
                amount_fen: (list_price - unit) * n,
            });
        }
        out.push(QuoteLine {
            sku_id: *sku_id,
            qty: i32::try_from(*n).unwrap_or(MAX_QTY),
            list_unit_price_fen: list_price,
            unit_price_fen: unit,
            line_total_fen: total,
            // Set from the stock once the gifts are known (one read for both).
            availability: Availability::Out,
        });
    }
    Ok((out, explain, subtotal))
}

/// The gift lines the policies add (price 0), with their bands (a gift counts in units).
fn gift_lines(gifts: &[(i64, i64, i64)], stock: &HashMap<i64, (bool, i64)>) -> Vec<QuoteLine> {
    gifts
        .iter()
        .map(|(sku_id, units, _)| {
            let (active, held) = stock.get(sku_id).copied().unwrap_or((false, 0));
            QuoteLine {
                sku_id: *sku_id,
                qty: i32::try_from(*units).unwrap_or(MAX_QTY),
                list_unit_price_fen: 0,
                unit_price_fen: 0,
                line_total_fen: 0,
                availability: band_of(active, held, 1),
            }
        })
        .collect()
}

/// Every SKU on the list, at least its MOQ, in whole cases: each SKU's case size.
fn check_quantities(
    qty: &BTreeMap<i64, i64>,
    items: &HashMap<i64, price_list_item::Model>,
) -> Result<HashMap<i64, i32>, B2bError> {
    let mut pairs = HashMap::with_capacity(qty.len());
    for (sku_id, n) in qty {
        let item = items.get(sku_id).ok_or(B2bError::NotOnPriceList(*sku_id))?;
        if *n < i64::from(item.moq) {
            return Err(B2bError::BelowMoq {
                sku_id: *sku_id,
                moq: item.moq,
            });
        }
        if n % i64::from(item.case_size) != 0 {
            return Err(B2bError::NotWholeCases {
                sku_id: *sku_id,
                case_size: item.case_size,
            });
        }
        pairs.insert(*sku_id, item.case_size);
    }
    Ok(pairs)
}

/// The quote's hash, fed with fixed-width integers and length-prefixed texts. Rendering the
/// quote as JSON only to hash it cost an 80-line quote a twentieth of the server's CPU (string
/// escaping and copies); the hash is compared only with one this server computed, so its input
/// needs to be unambiguous, not portable.
#[derive(Default)]
struct QuoteDigest(Sha256);

impl QuoteDigest {
    fn int(&mut self, v: i64) -> &mut Self {
        self.0.update(v.to_le_bytes());
        self
    }

    fn flag(&mut self, v: bool) -> &mut Self {
        self.int(i64::from(v))
    }

    fn option(&mut self, v: Option<i64>) -> &mut Self {
        match v {
            None => self.int(0),
            Some(v) => self.int(1).int(v),
        }
    }

    fn text(&mut self, v: &str) -> &mut Self {
        self.int(i64::try_from(v.len()).unwrap_or(i64::MAX));
        self.0.update(v.as_bytes());
        self
    }

    fn ints(&mut self, v: &[i64]) -> &mut Self {
        self.int(i64::try_from(v.len()).unwrap_or(i64::MAX));
        for x in v {
            self.int(*x);
        }
        self
    }

    fn lines(&mut self, lines: &[QuoteLine]) -> &mut Self {
        self.int(i64::try_from(lines.len()).unwrap_or(i64::MAX));
        for l in lines {
            self.int(l.sku_id).int(i64::from(l.qty));
            self.int(l.list_unit_price_fen)
                .int(l.unit_price_fen)
                .int(l.line_total_fen);
            self.text(l.availability.code());
        }
        self
    }

    fn steps(&mut self, steps: &[PricingStep]) -> &mut Self {
        self.int(i64::try_from(steps.len()).unwrap_or(i64::MAX));
        for s in steps {
            self.option(s.sku_id).option(s.policy_id);
            self.text(s.kind).text(&s.label).int(s.amount_fen);
        }
        self
    }

    fn finish(&mut self) -> String {
        hex::encode(std::mem::take(&mut self.0).finalize())
    }
}
