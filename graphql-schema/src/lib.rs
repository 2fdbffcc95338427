//! The GraphQL surface of Rouge: three schemas, one per audience, merged from one module per
//! capability (named as in `domain`). Resolvers only translate: shapes in, domain call, shapes out.

#![recursion_limit = "256"]

pub mod access;
pub mod context;
pub mod error;
pub mod input_limits;
pub mod limits;
pub mod locale;
pub mod operation;
pub mod pagination;
pub mod scalars;

mod accounts;
mod audit;
mod auth;
mod b2b;
mod b2b_fulfilment;
mod b2b_insight;
mod b2b_rebates;
mod b2b_statement;
mod booking;
mod campaigns;
mod catalog;
mod commission;
mod coupons;
mod day_close;
mod distributors;
mod flash_sales;
mod inventory;
mod loyalty;
mod media;
mod members;
mod orders;
mod payments;
mod privacy;
mod reports;
mod scan_codes;
mod stored_value;
mod subscriptions;

use std::sync::Arc;

use async_graphql::{EmptySubscription, MergedObject, Schema, SchemaBuilder};
use domain::AppState;

pub use context::RequestContext;
pub use error::ApiError;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct ConsumerQuery(
    members::ConsumerMembersQuery,
    privacy::ConsumerPrivacyQuery,
    subscriptions::ConsumerSubscriptionsQuery,
    catalog::CatalogQuery<catalog::ConsumerView>,
    inventory::ConsumerStoresQuery,
    orders::ConsumerOrdersQuery,
    loyalty::LoyaltyQuery,
    loyalty::ConsumerLoyaltyQuery,
    coupons::ConsumerCouponsQuery,
    flash_sales::ConsumerFlashSalesQuery,
    scan_codes::ConsumerScanCodesQuery,
    booking::ConsumerBookingQuery,
    stored_value::ConsumerStoredValueQuery,
    media::ConsumerMediaQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct ConsumerMutation(
    auth::ConsumerAuthMutation,
    members::ConsumerMembersMutation,
    privacy::ConsumerPrivacyMutation,
    subscriptions::ConsumerSubscriptionsMutation,
    orders::ConsumerOrdersMutation,
    payments::ConsumerPaymentsMutation,
    coupons::ConsumerCouponsMutation,
    flash_sales::ConsumerFlashSalesMutation,
    scan_codes::ConsumerScanCodesMutation,
    booking::ConsumerBookingMutation,
    stored_value::ConsumerStoredValueMutation,
    media::ConsumerMediaMutation,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct StaffQuery(
    auth::StaffAuthQuery,
    accounts::StaffAccountsQuery,
    members::StaffMembersQuery,
    audit::StaffAuditQuery,
    catalog::CatalogQuery<catalog::StaffView>,
    inventory::StaffInventoryQuery,
    orders::StaffOrdersQuery,
    payments::StaffPaymentsQuery,
    orders::StaffInStoreQuery,
    loyalty::LoyaltyQuery,
    loyalty::StaffLoyaltyQuery,
    coupons::StaffCouponsQuery,
    flash_sales::StaffFlashSalesQuery,
    scan_codes::StaffScanCodesQuery,
    campaigns::StaffCampaignsQuery,
    booking::StaffBookingQuery,
    stored_value::StaffStoredValueQuery,
    reports::StaffReportsQuery,
    commission::StaffCommissionQuery,
    day_close::StaffDayCloseQuery,
    media::StaffMediaQuery,
    b2b::StaffB2bQuery,
    b2b_fulfilment::StaffFulfilmentQuery,
    b2b_insight::StaffB2bInsightQuery,
    b2b_statement::StaffStatementQuery,
    b2b_rebates::StaffRebatesQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct StaffMutation(
    auth::StaffAuthMutation,
    accounts::StaffAccountsMutation,
    members::StaffMembersMutation,
    catalog::StaffCatalogMutation,
    inventory::StaffInventoryMutation,
    orders::StaffOrdersMutation,
    payments::StaffPaymentsMutation,
    loyalty::StaffLoyaltyMutation,
    coupons::StaffCouponsMutation,
    flash_sales::StaffFlashSalesMutation,
    scan_codes::StaffScanCodesMutation,
    campaigns::StaffCampaignsMutation,
    booking::StaffBookingMutation,
    stored_value::StaffStoredValueMutation,
    reports::StaffReportsMutation,
    commission::StaffCommissionMutation,
    day_close::StaffDayCloseMutation,
    media::StaffMediaMutation,
    b2b::StaffB2bMutation,
    b2b_fulfilment::StaffFulfilmentMutation,
    b2b_insight::StaffB2bInsightMutation,
    b2b_rebates::StaffRebatesMutation,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct DistributorQuery(
    distributors::DistributorOwnQuery,
    scan_codes::DistributorScanCodesQuery,
    accounts::DistributorTeamQuery,
    b2b::DistributorB2bQuery,
    b2b_fulfilment::DistributorFulfilmentQuery,
    b2b_insight::DistributorB2bInsightQuery,
    b2b_statement::DistributorStatementQuery,
    b2b_rebates::DistributorRebatesQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct DistributorMutation(
    auth::DistributorAuthMutation,
    accounts::DistributorTeamMutation,
    b2b::DistributorB2bMutation,
    b2b_fulfilment::DistributorFulfilmentMutation,
    b2b_statement::DistributorStatementMutation,
    b2b_rebates::DistributorRebatesMutation,
);

pub type ConsumerSchema = Schema<ConsumerQuery, ConsumerMutation, EmptySubscription>;
pub type StaffSchema = Schema<StaffQuery, StaffMutation, EmptySubscription>;
pub type DistributorSchema = Schema<DistributorQuery, DistributorMutation, EmptySubscription>;

/// Limits every schema enforces. Aliases count towards complexity, since each aliased field is
/// resolved again.
#[derive(Debug, Clone)]
pub struct SchemaLimits {
    /// Ordinary operations; introspection-only ones may go to [`limits::INTROSPECTION_MAX_DEPTH`].
    pub max_depth: usize,
    pub max_complexity: usize,
    /// Nodes (fields, spreads, arguments, values) in the document once fragments are expanded,
    /// checked before async-graphql parses or validates it (see [`limits`]).
    pub max_selections: usize,
    /// Off in production: the SDL is published in `graphql-schema/*.graphql` instead.
    pub introspection: bool,
}

impl Default for SchemaLimits {
    fn default() -> Self {
        Self {
            max_depth: 10,
            max_complexity: 500,
            max_selections: 2_000,
            introspection: true,
        }
    }
}

fn finish<Q, M>(
    builder: SchemaBuilder<Q, M, EmptySubscription>,
    app: Option<Arc<AppState>>,
    limits: &SchemaLimits,
) -> Schema<Q, M, EmptySubscription>
where
    Q: async_graphql::ObjectType + 'static,
    M: async_graphql::ObjectType + 'static,
{
    // A backstop: the HTTP layer's `limits::check_query` holds ordinary operations to
    // `max_depth` and lets introspection (GraphiQL's query is 13 deep) go deeper.
    let mut builder = builder
        .limit_depth(limits.max_depth.max(limits::INTROSPECTION_MAX_DEPTH))
        .limit_complexity(limits.max_complexity)
        .disable_suggestions()
        .extension(input_limits::InputCeiling)
        .extension(operation::ReportOperation)
        .extension(access::AccessTable);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if let Some(app) = app {
        builder = builder.data(catalog::loader(app.clone())).data(app);
    }
    builder.finish()
}

pub fn consumer_schema(app: Arc<AppState>, limits: &SchemaLimits) -> ConsumerSchema {
    finish(
        Schema::build(
            ConsumerQuery::default(),
            ConsumerMutation::default(),
            EmptySubscription,
        ),
        Some(app),
        limits,
    )
}

pub fn staff_schema(app: Arc<AppState>, limits: &SchemaLimits) -> StaffSchema {
    finish(
        Schema::build(
            StaffQuery::default(),
            StaffMutation::default(),
            EmptySubscription,
        ),
        Some(app),
        limits,
    )
}

pub fn distributor_schema(app: Arc<AppState>, limits: &SchemaLimits) -> DistributorSchema {
    finish(
        Schema::build(
            DistributorQuery::default(),
            DistributorMutation::default(),
            EmptySubscription,
        ),
        Some(app),
        limits,
    )
}

/// The SDL of each schema, as checked in under `graphql-schema/<name>.graphql`.
pub fn sdl() -> [(&'static str, String); 3] {
    let limits = SchemaLimits::default();
    [
        (
            "consumer",
            finish(
                Schema::build(
                    ConsumerQuery::default(),
                    ConsumerMutation::default(),
                    EmptySubscription,
                ),
                None,
                &limits,
            )
            .sdl(),
        ),
        (
            "staff",
            finish(
                Schema::build(
                    StaffQuery::default(),
                    StaffMutation::default(),
                    EmptySubscription,
                ),
                None,
                &limits,
            )
            .sdl(),
        ),
        (
            "distributor",
            finish(
                Schema::build(
                    DistributorQuery::default(),
                    DistributorMutation::default(),
                    EmptySubscription,
                ),
                None,
                &limits,
            )
            .sdl(),
        ),
    ]
}
