//! Credit exposure (信用敞口) for finance: per distributor with a credit row, the limit, the
//! override granted to live orders, what submitted orders hold, open receivables, what is still
//! available, prepaid, and utilisation (credit in use over limit + override, in percent).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::B2bError;
use crate::AppState;
use crate::auth::{Permission, StaffPrincipal};
use crate::platform::page::{IdKey, Keyset, Page};
use entities::{credit_account, distributor};

#[derive(Debug, Clone, PartialEq)]
pub struct CreditExposure {
    pub distributor_id: i64,
    pub code: String,
    pub name: String,
    pub limit_fen: i64,
    pub override_fen: i64,
    pub reserved_fen: i64,
    pub open_ar_fen: i64,
    /// limit + override - reserved - open receivables.
    pub available_fen: i64,
    pub prepaid: bool,
    /// (reserved + open receivables) / (limit + override) × 100, one decimal; None when the
    /// limit and override are both 0.
    pub utilisation_percent: Option<f64>,
}

pub(crate) fn utilisation(in_use: i64, ceiling: i64) -> Option<f64> {
    if ceiling <= 0 {
        return None;
    }
    // Tenths of a percent in integers, then one division: no float drift in the sums.
    let tenths = (i128::from(in_use) * 1000 + i128::from(ceiling) / 2) / i128::from(ceiling);
    Some(tenths as f64 / 10.0)
}

/// Every distributor with credit terms, by distributor id (HQ, finance).
pub async fn credit_exposure(
    app: &AppState,
    staff: &StaffPrincipal,
    page: Keyset<IdKey>,
) -> Result<Page<CreditExposure>, B2bError> {
    staff.require(Permission::ManageCredit)?;
    let mut q = credit_account::Entity::find()
        .order_by_asc(credit_account::Column::DistributorId)
        .limit(page.fetch());
    if let Some(after) = page.after {
        q = q.filter(credit_account::Column::DistributorId.gt(after));
    }
    let page = page.page(q.all(&app.db).await?);
    let ids: Vec<i64> = page.items.iter().map(|r| r.distributor_id).collect();
    let names: HashMap<i64, distributor::Model> = distributor::Entity::find()
        .filter(distributor::Column::Id.is_in(ids))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    let rows = page.items.iter().map(|r| {
        let d = names.get(&r.distributor_id);
        let in_use = r.reserved_fen + r.open_ar_fen;
        let ceiling = r.limit_fen + r.override_fen;
        CreditExposure {
            distributor_id: r.distributor_id,
            code: d.map(|d| d.code.clone()).unwrap_or_default(),
            name: d.map(|d| d.name.clone()).unwrap_or_default(),
            limit_fen: r.limit_fen,
            override_fen: r.override_fen,
            reserved_fen: r.reserved_fen,
            open_ar_fen: r.open_ar_fen,
            available_fen: ceiling - in_use,
            prepaid: r.prepaid,
            utilisation_percent: utilisation(in_use, ceiling),
        }
    });
    let rows: Vec<CreditExposure> = rows.collect();
    Ok(page.with(rows))
}

#[cfg(test)]
mod tests {
    use super::utilisation;

    #[test]
    fn utilisation_is_in_tenths_of_a_percent() {
        assert_eq!(utilisation(0, 0), None);
        assert_eq!(utilisation(1, 3), Some(33.3));
        assert_eq!(utilisation(2, 3), Some(66.7));
        assert_eq!(utilisation(150, 100), Some(150.0));
    }
}
