use sea_orm::entity::prelude::*;

use crate::typed::JsonText;

/// Who did something: STAFF, MEMBER, DISTRIBUTOR or SYSTEM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "AuditActorKind"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum ActorKind {
    Staff,
    Member,
    Distributor,
    System,
}

/// What was read or changed. Stored as the dotted names the log always had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "AuditAction"))]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum Action {
    /// A staff search by phone number.
    #[sea_orm(string_value = "member.search.phone")]
    MemberSearchPhone,
    #[sea_orm(string_value = "member.phone.read")]
    MemberPhoneRead,
    #[sea_orm(string_value = "member.birthday.read")]
    MemberBirthdayRead,
    /// A staff read of a member's stored value.
    #[sea_orm(string_value = "member.balance.read")]
    MemberBalanceRead,
    #[sea_orm(string_value = "member.skin_profile.update")]
    MemberSkinProfileUpdate,
    #[sea_orm(string_value = "member.exclusive_ba.assign")]
    MemberExclusiveBaAssign,
    #[sea_orm(string_value = "member.tag.add")]
    MemberTagAdd,
    #[sea_orm(string_value = "member.tag.remove")]
    MemberTagRemove,
    /// A staff member was given short-lived links to a member's skin photo.
    #[sea_orm(string_value = "member.skin_photo.read")]
    MemberSkinPhotoRead,
    #[sea_orm(string_value = "member.skin_photo.record")]
    MemberSkinPhotoRecord,
    #[sea_orm(string_value = "member.skin_photo.erase")]
    MemberSkinPhotoErase,
    #[sea_orm(string_value = "staff.create")]
    StaffCreate,
    /// Name, role or store changed.
    #[sea_orm(string_value = "staff.update")]
    StaffUpdate,
    #[sea_orm(string_value = "staff.deactivate")]
    StaffDeactivate,
    #[sea_orm(string_value = "staff.reactivate")]
    StaffReactivate,
    /// Someone else set a new one-time password.
    #[sea_orm(string_value = "staff.password.reset")]
    StaffPasswordReset,
    /// The account holder changed their own password.
    #[sea_orm(string_value = "staff.password.change")]
    StaffPasswordChange,
    #[sea_orm(string_value = "distributor.create")]
    DistributorCreate,
    #[sea_orm(string_value = "distributor.update")]
    DistributorUpdate,
    #[sea_orm(string_value = "distributor.deactivate")]
    DistributorDeactivate,
    #[sea_orm(string_value = "distributor.reactivate")]
    DistributorReactivate,
    /// The B2B tier (and so the price list) a distributor orders at.
    #[sea_orm(string_value = "distributor.tier")]
    DistributorTierAssign,
    /// Credit limit, payment terms or prepaid changed (finance), with the reason.
    #[sea_orm(string_value = "distributor.credit_terms")]
    DistributorCreditTerms,
    /// A distributor's minimum remaining shelf life for allocation (HQ).
    #[sea_orm(string_value = "distributor.shelf_life")]
    DistributorShelfLife,
    /// A distributor's payment (回款) recorded by finance.
    #[sea_orm(string_value = "distributor.payment")]
    DistributorPayment,
    /// A purchase order shipped (it invoices the distributor).
    #[sea_orm(string_value = "purchase_order.ship")]
    PurchaseOrderShip,
    /// Credit above the limit granted to one purchase order (finance), with the reason.
    #[sea_orm(string_value = "distributor.credit_override")]
    DistributorCreditOverride,
    /// A quarter's distributor rebates settled (HQ, finance).
    #[sea_orm(string_value = "rebate.settle")]
    RebateSettle,
    /// A distributor's return after receipt accepted (stock back, credit note, rebate reversed).
    #[sea_orm(string_value = "purchase_order.return")]
    PurchaseOrderReturn,
    /// The kind of distributor (经销商 / 代理商 / KA) changed.
    #[sea_orm(string_value = "distributor.kind")]
    DistributorKindSet,
    #[sea_orm(string_value = "distributor_account.create")]
    DistributorAccountCreate,
    #[sea_orm(string_value = "distributor_account.deactivate")]
    DistributorAccountDeactivate,
    #[sea_orm(string_value = "distributor_account.reactivate")]
    DistributorAccountReactivate,
    /// HQ set a new one-time password.
    #[sea_orm(string_value = "distributor_account.password.reset")]
    DistributorAccountPasswordReset,
    #[sea_orm(string_value = "distributor_account.password.change")]
    DistributorAccountPasswordChange,
    /// Everything held about a member was exported: by the member, or for a request made
    /// through customer service (`rouge members export`).
    #[sea_orm(string_value = "member.data.export")]
    MemberDataExport,
    /// A member's personal data was erased (by the member or by HQ, with the reason).
    #[sea_orm(string_value = "member.erase")]
    MemberErase,
    /// A wrong password, an unknown or disabled account (the attempted password never).
    #[sea_orm(string_value = "login.failed")]
    LoginFailed,
    /// An account's or address's attempts ran out for the window (once per window).
    #[sea_orm(string_value = "login.throttled")]
    LoginThrottled,
    /// A sales report was exported to a file (who, the query, how many rows).
    #[sea_orm(string_value = "report.export")]
    ReportExport,
}

/// What an entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
#[cfg_attr(feature = "graphql", graphql(name = "AuditSubjectType"))]
#[sea_orm(
    rs_type = "String",
    db_type = "String(StringLen::None)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub enum SubjectKind {
    Member,
    StaffAccount,
    Distributor,
    DistributorAccount,
    ReportExport,
}

/// Who read or changed personal data, and when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub at: DateTimeUtc,
    pub actor_kind: ActorKind,
    pub actor_id: Option<i64>,
    pub action: Action,
    pub subject_kind: SubjectKind,
    pub subject_id: Option<i64>,
    pub request_id: Option<String>,
    /// JSON with whatever else matters for the entry (never the personal data itself).
    pub detail: JsonText<serde_json::Value>,
    /// The caller's address as the server saw it (behind a trusted proxy, the forwarded one).
    pub client_addr: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
