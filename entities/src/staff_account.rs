use sea_orm::entity::prelude::*;

// A staff member's role; what each may do is `domain::auth::Permission`. Plain comments, not
// doc comments: the GraphQL enum carries no descriptions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum StaffRole {
    // Head office: marketing and operations, every store.
    Hq,
    // Finance: money (orders, refunds, payments, distributor credit), never members' skin data.
    Finance,
    // Store manager: their store's staff, bookings and reports.
    Manager,
    // Beauty advisor at the counter.
    Ba,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub display_name: String,
    /// Stored as HQ, FINANCE, MANAGER or BA.
    pub role: StaffRole,
    /// The store a MANAGER or BA belongs to; none for HQ.
    pub store_id: Option<i64>,
    pub active: bool,
    pub created_at: DateTimeUtc,
    /// The password is a one-time one (new account, reset): nothing but changing it until then.
    pub must_change_password: bool,
    /// Sessions that began before this are ended (a reset or change ends the others).
    pub password_changed_at: Option<DateTimeUtc>,
    /// The staff member's mobile number, encrypted (`PiiCipher`), and its masked form.
    pub phone_cipher: Option<String>,
    pub phone_masked: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use sea_orm::{ActiveEnum, Iterable};

    use super::StaffRole;

    /// The stored text is the one the column always held; anything else is refused.
    #[test]
    fn roles_keep_their_stored_text() {
        let stored: Vec<String> = StaffRole::iter().map(|r| r.to_value()).collect();
        assert_eq!(stored, ["HQ", "FINANCE", "MANAGER", "BA"]);
        assert_eq!(
            StaffRole::try_from_value(&"BA".to_owned()).ok(),
            Some(StaffRole::Ba)
        );
        assert!(StaffRole::try_from_value(&"OWNER".to_owned()).is_err());
        assert!(StaffRole::try_from_value(&"ba".to_owned()).is_err());
    }
}
