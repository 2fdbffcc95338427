//! What a quote reads, in as few round trips as the rules allow.
//!
//! *The pricing world* — every tier's price lists and every channel policy — changes a few times
//! a quarter and is read by every quote and submit, so a replica keeps it in memory, labelled
//! with the pricing version (`b2b_pricing_versions`, bumped by database triggers in the same
//! transaction as any change to a price list, its items or a policy: no code path can forget
//! it). Every quote and submit reads the version first, in the same statement as the caller's
//! credit and rebate balance, and uses the kept world only when it was read at exactly that
//! version; otherwise it reads the world again. So a quote is never priced from a world older
//! than the one committed when it started, and a submit (which prices again inside its
//! transaction and compares hashes) sees a publish committed before it.
//!
//! A world is kept only when it is known to be whole: read after the version, then the
//! version read again unchanged (the counter only grows and every change bumps it, so nothing
//! was committed in between). A list's items (immutable by design, read when a list is first
//! quoted) are kept the same way.
//!
//! *Per quote*: one statement for the distributor row, the version, the credit row and the
//! rebate balance, and one for the stock and on/off state of every SKU quoted or given; the
//! organisation's policy confirmations only when a must-confirm policy is in force for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectExpr, SelectExprTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryFilter,
    QueryOrder,
};

use super::B2bError;
use super::credit::CreditStatus;
use entities::{
    b2b_policy, credit_account, distributor, price_list, price_list_item, rebate_account,
};

/// A price list's items by SKU.
pub(crate) type Items = HashMap<i64, price_list_item::Model>;

/// The price lists and policies as of one pricing version.
pub(crate) struct World {
    pub version: i64,
    /// Every price list, by tier then newest version first.
    lists: Vec<price_list::Model>,
    /// Every policy, in the order they apply (priority, then id).
    policies: Vec<b2b_policy::Model>,
    /// Items of the lists quoted so far, by list id.
    items: Mutex<HashMap<i64, Arc<Items>>>,
}

impl World {
    /// The version of `tier`'s list in force at `at`: the newest one already valid.
    pub fn list_in_force(&self, tier: i64, at: DateTime<Utc>) -> Option<&price_list::Model> {
        self.lists
            .iter()
            .filter(|l| l.tier_id == tier && l.valid_from <= at)
            .max_by_key(|l| l.version)
    }

    /// The policies for `tier` in force at `at`, in the order they apply (scope by kind and
    /// region is the caller's: `scope::addressed_to`).
    pub fn policies_in_force(
        &self,
        tier: Option<i64>,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = &b2b_policy::Model> {
        self.policies.iter().filter(move |p| {
            (p.tier_id.is_none() || p.tier_id == tier) && p.valid_from <= at && p.valid_to > at
        })
    }

    /// Every policy (rebate caps look back a year).
    pub fn policies(&self) -> &[b2b_policy::Model] {
        &self.policies
    }
}

/// The pricing world this replica keeps (see the module docs).
#[derive(Default)]
pub struct PricingCache {
    current: RwLock<Option<Arc<World>>>,
}

impl PricingCache {
    fn kept(&self, version: i64) -> Option<Arc<World>> {
        self.current
            .read()
            .ok()?
            .as_ref()
            .filter(|w| w.version == version)
            .cloned()
    }

    fn keep(&self, world: &Arc<World>) {
        if let Ok(mut current) = self.current.write()
            && current.as_ref().is_none_or(|c| c.version < world.version)
        {
            *current = Some(world.clone());
        }
    }

    /// The world at `version` (read by the caller on `db` just before), kept or read again.
    pub(crate) async fn world<C: ConnectionTrait>(
        &self,
        db: &C,
        version: i64,
    ) -> Result<Arc<World>, B2bError> {
        if let Some(w) = self.kept(version) {
            return Ok(w);
        }
        let lists = price_list::Entity::find()
            .order_by_asc(price_list::Column::TierId)
            .order_by_desc(price_list::Column::Version)
            .all(db)
            .await?;
        let policies = b2b_policy::Entity::find()
            .order_by_asc(b2b_policy::Column::Priority)
            .order_by_asc(b2b_policy::Column::Id)
            .all(db)
            .await?;
        let after = current_version(db).await?;
        let world = Arc::new(World {
            version: after,
            lists,
            policies,
            items: Mutex::new(HashMap::new()),
        });
        // Whole only when nothing was committed since the caller's read.
        if after == version {
            self.keep(&world);
        }
        Ok(world)
    }

    /// The items of `list_id` in `world`, kept with it or read.
    pub(crate) async fn items<C: ConnectionTrait>(
        &self,
        db: &C,
        world: &World,
        list_id: i64,
    ) -> Result<Arc<Items>, B2bError> {
        if let Some(items) = world
            .items
            .lock()
            .ok()
            .and_then(|m| m.get(&list_id).cloned())
        {
            return Ok(items);
        }
        let items: Arc<Items> = Arc::new(
            price_list_item::Entity::find()
                .filter(price_list_item::Column::PriceListId.eq(list_id))
                .all(db)
                .await?
                .into_iter()
                .map(|i| (i.sku_id, i))
                .collect(),
        );
        if current_version(db).await? == world.version
            && let Ok(mut m) = world.items.lock()
        {
            m.insert(list_id, items.clone());
        }
        Ok(items)
    }
}

const VERSIONS: &str = "b2b_pricing_versions";
/// The prefix of the distributor row's columns in [`standing`]'s answer.
const DISTRIBUTOR: &str = "d_";

async fn current_version<C: ConnectionTrait>(db: &C) -> Result<i64, B2bError> {
    let q = Query::select()
        .column(Alias::new("version"))
        .from(Alias::new(VERSIONS))
        .and_where(Expr::col(Alias::new("id")).eq(1))
        .to_owned();
    let row = db
        .query_one_raw(db.get_database_backend().build(&q))
        .await?
        .ok_or(B2bError::NoPriceList)?;
    Ok(row.try_get::<i64>("", "version")?)
}

/// The distributor row, the pricing version, its credit row and its available rebate, read
/// together (one round trip of a quote's four).
pub(crate) struct Standing {
    pub distributor: Option<distributor::Model>,
    pub version: i64,
    pub credit: CreditStatus,
    pub rebate_available_fen: i64,
}

pub(crate) async fn standing<C: ConnectionTrait>(
    db: &C,
    distributor_id: i64,
) -> Result<Standing, B2bError> {
    use credit_account::Column as C;
    let v = Alias::new("v");
    let q = Query::select()
        .column((v.clone(), Alias::new("version")))
        .columns(
            [
                C::DistributorId,
                C::LimitFen,
                C::OverrideFen,
                C::ReservedFen,
                C::OpenArFen,
                C::Prepaid,
                C::PaymentTermDays,
                C::GraceDays,
                C::UpdatedAt,
            ]
            .map(|c| (credit_account::Entity, c)),
        )
        .column((rebate_account::Entity, rebate_account::Column::AvailableFen))
        .exprs(distributor::Column::iter().map(|c| {
            SelectExpr::from(Expr::col((distributor::Entity, c)))
                .alias(Alias::new(format!("{DISTRIBUTOR}{}", c.as_str())))
        }))
        .from_as(Alias::new(VERSIONS), v.clone())
        .left_join(
            credit_account::Entity,
            Expr::col((credit_account::Entity, C::DistributorId)).eq(distributor_id),
        )
        .left_join(
            rebate_account::Entity,
            Expr::col((
                rebate_account::Entity,
                rebate_account::Column::DistributorId,
            ))
            .eq(distributor_id),
        )
        .left_join(
            distributor::Entity,
            Expr::col((distributor::Entity, distributor::Column::Id)).eq(distributor_id),
        )
        .and_where(Expr::col((v, Alias::new("id"))).eq(1))
        .to_owned();
    let row = db
        .query_one_raw(db.get_database_backend().build(&q))
        .await?
        .ok_or(B2bError::NoPriceList)?;
    let credit = match row.try_get::<Option<i64>>("", "distributor_id")? {
        None => None,
        Some(id) => Some(credit_account::Model {
            distributor_id: id,
            limit_fen: row.try_get("", "limit_fen")?,
            override_fen: row.try_get("", "override_fen")?,
            reserved_fen: row.try_get("", "reserved_fen")?,
            open_ar_fen: row.try_get("", "open_ar_fen")?,
            prepaid: row.try_get("", "prepaid")?,
            payment_term_days: row.try_get("", "payment_term_days")?,
            grace_days: row.try_get("", "grace_days")?,
            updated_at: row.try_get("", "updated_at")?,
        }),
    };
    // No distributor under that id leaves its columns NULL; a row that is there but does not
    // read (an unknown kind) is an error, not a missing distributor.
    let distributor = match row.try_get::<Option<i64>>(DISTRIBUTOR, "id")? {
        None => None,
        Some(_) => Some(distributor::Model::from_query_result(&row, DISTRIBUTOR)?),
    };
    Ok(Standing {
        distributor,
        version: row.try_get("", "version")?,
        credit: CreditStatus::of(credit),
        rebate_available_fen: row
            .try_get::<Option<i64>>("", "available_fen")?
            .unwrap_or(0),
    })
}
