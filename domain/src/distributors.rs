//! Distributors (经销商): organisations that buy stock from the brand. Every read is scoped to
//! the caller's own organisation.

use sea_orm::EntityTrait;

use crate::AppState;
use crate::auth::DistributorPrincipal;
use crate::platform::error::{DomainError, ErrorCode, StoreError};
use entities::distributor;

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum DistributorsError {
    #[error("distributor not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(DistributorsError);

impl DomainError for DistributorsError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound => ErrorCode::NotFound,
            Self::Store(e) => e.code(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Distributor {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub level: String,
    pub region: String,
    /// The territory as GB/T 2260 codes.
    pub region_codes: Vec<crate::platform::regions::RegionCode>,
    pub credit_limit_fen: i64,
    /// A switched-off distributor's accounts are all refused.
    pub active: bool,
    pub contact_name: Option<String>,
    pub contact_phone_masked: Option<String>,
}

impl Distributor {
    pub fn from_row(row: distributor::Model) -> Self {
        let region_codes = crate::scan_codes::distributor_territory(&row);
        Self {
            region_codes,
            id: row.id,
            code: row.code,
            name: row.name,
            level: row.level,
            region: row.region,
            credit_limit_fen: row.credit_limit_fen,
            active: row.active,
            contact_name: row.contact_name,
            contact_phone_masked: row.contact_phone_masked,
        }
    }
}

/// The caller's own organisation.
pub async fn own(
    app: &AppState,
    who: &DistributorPrincipal,
) -> Result<Distributor, DistributorsError> {
    let row = distributor::Entity::find_by_id(who.distributor_id)
        .one(&app.db)
        .await?
        .ok_or(DistributorsError::NotFound)?;
    Ok(Distributor::from_row(row))
}
