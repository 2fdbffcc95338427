//! Who may call each operation of the staff and distributor schemas: one table per schema, read
//! by a schema extension before any root field runs. An operation missing from its table is
//! refused (and `tests/tests/it/auth_matrix.rs` fails until it is classified), so nothing is
//! open by omission. The services check the same permissions again and scope data to the
//! caller's store or organisation; the table decides only whether the call may start.
//!
//! Staff: each operation needs one [`Permission`]; which roles hold it is
//! [`Permission::allowed_for`]. An account still holding a one-time password may call only the
//! operations marked [`Access::Session`] until it has changed it.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Value};
use domain::ErrorCode;
use domain::auth::{Audience, Permission, Principal, StaffRole};

use crate::context::RequestContext;

/// What calling an operation takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No session: login, refresh.
    Public,
    /// Any signed-in account, even one that must still change its one-time password.
    Session,
    /// A staff account whose role holds the permission.
    Staff(Permission),
    /// Any distributor account (OWNER, BUYER, VIEWER).
    Distributor,
    /// A distributor OWNER (the service checks the role and the organisation).
    DistributorOwner,
}

impl Access {
    /// Whether a staff role may start the operation.
    pub fn allows_staff(self, role: StaffRole) -> bool {
        match self {
            Self::Public | Self::Session => true,
            Self::Staff(p) => p.allowed_for(role),
            Self::Distributor | Self::DistributorOwner => false,
        }
    }
}

use Access::{Public, Session};
use Permission::*;

const fn s(p: Permission) -> Access {
    Access::Staff(p)
}

/// Every root field of the staff schema and what it needs.
pub const STAFF: &[(&str, Access)] = &[
    // signing in, the own account
    ("login", Public),
    ("refreshSession", Public),
    ("logout", Session),
    ("me", Session),
    ("changeMyPassword", Session),
    // staff and distributor accounts, audit
    ("staffAccounts", s(ManageStaff)),
    ("createStaffAccount", s(ManageStaff)),
    ("updateStaffAccount", s(ManageStaff)),
    ("deactivateStaffAccount", s(ManageStaff)),
    ("reactivateStaffAccount", s(ManageStaff)),
    ("resetStaffPassword", s(ManageStaff)),
    ("distributors", s(ViewDistributors)),
    ("distributorAccounts", s(ManageDistributors)),
    ("createDistributor", s(ManageDistributors)),
    ("updateDistributor", s(ManageDistributors)),
    ("setDistributorActive", s(ManageDistributors)),
    ("createDistributorAccount", s(ManageDistributors)),
    ("deactivateDistributorAccount", s(ManageDistributors)),
    ("reactivateDistributorAccount", s(ManageDistributors)),
    ("resetDistributorPassword", s(ManageDistributors)),
    ("auditLog", s(ReadAuditLog)),
    ("memberAuditLog", s(ReadAuditLog)),
    // members
    ("findMember", s(ReadMembers)),
    ("member", s(ReadMembers)),
    ("memberPointsLedger", s(ReadMembers)),
    ("memberBookings", s(ReadMembers)),
    ("updateMemberSkinProfile", s(EditMemberProfile)),
    ("addMemberTag", s(TagMembers)),
    ("removeMemberTag", s(TagMembers)),
    ("assignExclusiveBa", s(AssignExclusiveBa)),
    ("eraseMember", s(EraseMembers)),
    // catalog and places
    ("categories", s(ViewCatalog)),
    ("allergenOptions", s(ViewCatalog)),
    ("product", s(ViewCatalog)),
    ("products", s(ViewCatalog)),
    ("sku", s(ViewCatalog)),
    ("tiers", s(ViewCatalog)),
    ("stores", s(ViewCatalog)),
    ("locations", s(ViewCatalog)),
    ("createCategory", s(ManageCatalog)),
    ("createProduct", s(ManageCatalog)),
    ("updateProduct", s(ManageCatalog)),
    ("addSku", s(ManageCatalog)),
    ("updateSku", s(ManageCatalog)),
    ("createStore", s(ManageCatalog)),
    ("createWarehouse", s(ManageCatalog)),
    ("upsertTier", s(ManageTiers)),
    // media
    ("uploadMedia", s(UploadMedia)),
    ("attachProductImages", s(ManageCatalog)),
    ("reorderProductImages", s(ManageCatalog)),
    ("removeProductImage", s(ManageCatalog)),
    ("recordSkinPhoto", s(KeepSkinPhotos)),
    ("memberSkinPhotos", s(KeepSkinPhotos)),
    ("eraseSkinPhoto", s(KeepSkinPhotos)),
    // stock
    ("stockLevels", s(ViewStock)),
    ("lowStock", s(ViewStock)),
    ("nearExpiry", s(ViewStock)),
    ("stockMovements", s(ViewStock)),
    ("receiveStock", s(ManageStock)),
    ("transferStock", s(ManageStock)),
    ("adjustStock", s(ManageStock)),
    // orders, money, the counter
    ("storeOrder", s(ViewOrders)),
    ("orderRefunds", s(ViewOrders)),
    ("refundOrder", s(RefundOrders)),
    ("unmatchedPaymentNotifications", s(ReadPaymentExceptions)),
    ("previewInStoreSale", s(RecordSale)),
    ("recordInStoreSale", s(RecordSale)),
    ("redeemPoints", s(RecordSale)),
    // stored value (会员储值)
    ("memberBalance", s(ReadMembers)),
    ("topUpPlans", s(ViewCatalog)),
    ("upsertTopUpPlan", s(ManageTiers)),
    ("recordCounterTopUp", s(RecordSale)),
    ("returnMemberPrincipal", s(RefundOrders)),
    ("inspectCouponCode", s(RecordSale)),
    ("redeemCouponAtCounter", s(RecordSale)),
    ("redeemSampleVoucher", s(RecordSale)),
    // coupons, flash sales, scan codes, campaigns
    ("couponTemplates", s(ManageCoupons)),
    ("couponReport", s(ManageCoupons)),
    ("createCouponTemplate", s(ManageCoupons)),
    ("setCouponTemplateActive", s(ManageCoupons)),
    ("issueCoupons", s(ManageCoupons)),
    ("flashSales", s(ManageFlashSales)),
    ("scheduleFlashSale", s(ManageFlashSales)),
    ("codeBatches", s(ManageScanCodes)),
    ("createCodeBatch", s(ManageScanCodes)),
    ("setCodeBatchActive", s(ManageScanCodes)),
    ("createScanWxacode", s(ManageScanCodes)),
    ("createScanWxacodeAsset", s(ManageScanCodes)),
    ("scanInsight", s(ManageScanCodes)),
    ("crossTerritoryReport", s(ManageScanCodes)),
    ("flaggedScans", s(ManageScanCodes)),
    ("subscriptionTemplates", s(ManageCampaigns)),
    ("registerSubscriptionTemplate", s(ManageCampaigns)),
    ("previewSegment", s(ManageCampaigns)),
    ("campaigns", s(ManageCampaigns)),
    ("campaign", s(ManageCampaigns)),
    ("campaignReport", s(ManageCampaigns)),
    ("campaignAutomations", s(ManageCampaigns)),
    ("createCampaign", s(ManageCampaigns)),
    ("scheduleCampaign", s(ManageCampaigns)),
    ("pauseCampaign", s(ManageCampaigns)),
    ("resumeCampaign", s(ManageCampaigns)),
    ("cancelCampaign", s(ManageCampaigns)),
    ("configureCampaignAutomation", s(ManageCampaigns)),
    // sales reports
    ("salesReport", s(ViewSalesReports)),
    ("storePerformance", s(ViewSalesReports)),
    ("inventoryTurnover", s(ViewSalesReports)),
    ("myPerformance", s(ViewOwnPerformance)),
    ("setBaTarget", s(SetSalesTargets)),
    // commission
    ("upsertCommissionPlan", s(ManageCommission)),
    ("commissionPlans", s(ViewCommission)),
    ("setCommissionInputs", s(ManageCommission)),
    ("previewCommission", s(ViewCommission)),
    ("commissionStatement", s(ViewCommission)),
    ("lockCommissionMonth", s(LockCommission)),
    ("myCommission", s(ViewOwnPerformance)),
    ("exportReport", s(ViewSalesReports)),
    ("exportJob", s(ViewSalesReports)),
    ("churnRisk", s(ViewSalesReports)),
    ("rfmSegmentCounts", s(ViewSalesReports)),
    // the store's day close (日结) and expenses
    ("storeDay", s(ViewStoreMoney)),
    ("storeMonth", s(ViewStoreMoney)),
    ("closeStoreDay", s(CloseStoreDay)),
    ("recordStoreExpense", s(CloseStoreDay)),
    // bookings
    ("bookingServices", s(ViewBookings)),
    ("storeBookingSetup", s(ViewBookings)),
    ("baShifts", s(ViewBookings)),
    ("checkInBooking", s(ServeBookings)),
    ("redeemBooking", s(ServeBookings)),
    ("createBookingService", s(ManageBookings)),
    ("updateBookingService", s(ManageBookings)),
    ("setBookingPolicy", s(ManageBookings)),
    ("setOpeningHours", s(ManageBookings)),
    ("addStoreClosure", s(ManageBookings)),
    ("removeStoreClosure", s(ManageBookings)),
    ("setBaSkills", s(ManageBookings)),
    ("addBaShift", s(ManageBookings)),
    ("removeBaShift", s(ManageBookings)),
    ("blockBaTime", s(ManageBookings)),
    ("unblockBaTime", s(ManageBookings)),
    ("storeBookingDay", s(ViewBookingReports)),
    ("bookingReport", s(ViewBookingReports)),
    // distributor B2B: tiers, price lists, credit
    ("distributorTiers", s(ViewDistributors)),
    ("distributorCredit", s(ViewDistributors)),
    ("upsertDistributorTier", s(ManageB2b)),
    ("assignDistributorTier", s(ManageB2b)),
    ("publishPriceList", s(ManageB2b)),
    ("setCreditTerms", s(ManageCredit)),
    ("purchaseOrderQueue", s(ViewDistributors)),
    ("approvePurchaseOrder", s(ManageB2b)),
    ("rejectPurchaseOrder", s(ManageB2b)),
    ("createPolicy", s(ManageB2b)),
    ("attachPolicyMaterial", s(ManageB2b)),
    // B2B fulfilment and payments (issue 15)
    ("purchaseOrderFulfilment", s(ViewDistributors)),
    ("distributorAccountStanding", s(ViewDistributors)),
    ("allocatePurchaseOrder", s(ManageB2b)),
    ("shipPurchaseOrder", s(ManageB2b)),
    ("setMinShelfLife", s(ManageB2b)),
    ("recordDistributorPayment", s(ManageCredit)),
    // distributor B2B insight: credit control, policy scope and execution, leakage
    ("creditExposure", s(ManageCredit)),
    ("grantCreditOverride", s(ManageCredit)),
    ("setDistributorKind", s(ManageB2b)),
    ("policyExecution", s(ManageB2b)),
    ("distributorTerritoryLeakage", s(ViewDistributors)),
    // distributor account statement (对账单)
    ("distributorStatement", s(ViewDistributors)),
    // distributor rebates
    ("distributorRebateAccount", s(ViewDistributors)),
    ("settleRebates", s(SettleRebates)),
    ("acceptB2bReturn", s(ManageB2b)),
];

/// Every root field of the distributor schema and what it needs.
pub const DISTRIBUTOR: &[(&str, Access)] = &[
    ("login", Public),
    ("refreshSession", Public),
    ("logout", Session),
    ("me", Session),
    ("changeMyPassword", Session),
    ("regionalInsight", Access::Distributor),
    ("myTeam", Access::DistributorOwner),
    ("createTeamAccount", Access::DistributorOwner),
    ("deactivateTeamAccount", Access::DistributorOwner),
    // B2B ordering (submit: OWNER or BUYER, checked by the service)
    ("b2bCatalog", Access::Distributor),
    ("myCredit", Access::Distributor),
    ("quotePurchaseOrder", Access::Distributor),
    ("purchaseOrders", Access::Distributor),
    ("purchaseOrder", Access::Distributor),
    ("submitPurchaseOrder", Access::Distributor),
    ("updatePurchaseOrder", Access::Distributor),
    ("cancelPurchaseOrder", Access::Distributor),
    ("myPolicies", Access::Distributor),
    ("marketingMaterials", Access::Distributor),
    ("acknowledgePolicy", Access::Distributor),
    // B2B fulfilment (confirmReceipt: OWNER or BUYER, checked by the service)
    ("purchaseOrderFulfilment", Access::Distributor),
    ("myReceivables", Access::Distributor),
    ("myAccountStanding", Access::Distributor),
    ("confirmReceipt", Access::Distributor),
    ("territoryLeakage", Access::Distributor),
    ("replenishmentSuggestions", Access::Distributor),
    // account statement (对账单): every role of the organisation reads it
    ("accountStatement", Access::Distributor),
    ("exportAccountStatement", Access::Distributor),
    ("rebateAccount", Access::Distributor),
    ("returnPurchaseOrderLines", Access::Distributor),
];

/// The consumer operations a member may call before accepting the current privacy policy:
/// signing in, the session, reading and accepting the policy, and her data rights (a member
/// who will not accept a new version may still take her data and leave). Everything else is
/// refused with `FORBIDDEN` and reason `CONSENT_REQUIRED`.
pub const CONSUMER_WITHOUT_CONSENT: &[&str] = &[
    "login",
    "refreshSession",
    "logout",
    "privacyPolicy",
    "acceptPrivacyPolicy",
    "exportMyData",
    "deleteMyAccount",
];

/// What an operation of an audience's schema needs; `None` for one nobody classified.
pub fn access(audience: Audience, operation: &str) -> Option<Access> {
    let table = match audience {
        Audience::Staff => STAFF,
        Audience::Distributor => DISTRIBUTOR,
        Audience::Consumer => return Some(Public),
    };
    table
        .iter()
        .find(|(name, _)| *name == operation)
        .map(|(_, access)| *access)
}

/// The message of the table's refusal of a role.
pub const ROLE_REFUSAL: &str = "your role may not call this operation";

/// Adds the check to the staff and distributor schemas.
pub struct AccessTable;

impl ExtensionFactory for AccessTable {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AccessCheck)
    }
}

struct AccessCheck;

fn refusal(code: ErrorCode, message: &str) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code.as_str());
    let mut error = ServerError::new(message, None);
    error.extensions = Some(extensions);
    error
}

/// Whether the caller may start `operation`; the refusal otherwise.
pub fn check(request: &RequestContext, operation: &str) -> Result<(), ServerError> {
    let Some(access) = access(request.audience, operation) else {
        tracing::error!(
            operation,
            "operation missing from the access table: refused"
        );
        return Err(refusal(
            ErrorCode::Forbidden,
            "this operation is not available",
        ));
    };
    if request.audience == Audience::Consumer {
        if request.consent_required && !CONSUMER_WITHOUT_CONSENT.contains(&operation) {
            let refusal = crate::ApiError::from(domain::privacy::PrivacyError::ConsentRequired);
            return Err(async_graphql::Error::from(refusal)
                .into_server_error(async_graphql::Pos::default()));
        }
        return Ok(());
    }
    if access == Public {
        return Ok(());
    }
    let unauthenticated = || refusal(ErrorCode::Unauthenticated, "sign-in required");
    let principal = request.principal.as_ref().ok_or_else(unauthenticated)?;
    let allowed = match (principal, access) {
        (Principal::Staff(_) | Principal::Distributor(_), Session) => return Ok(()),
        (Principal::Staff(staff), _) => access.allows_staff(staff.role),
        (Principal::Distributor(_), Access::Distributor | Access::DistributorOwner) => true,
        (Principal::Distributor(_), _) => false,
        (Principal::Member(_), _) => return Err(unauthenticated()),
    };
    if request.password_change_required {
        return Err(refusal(
            ErrorCode::Forbidden,
            "this account still has its one-time password: change it with changeMyPassword first",
        ));
    }
    if allowed {
        Ok(())
    } else {
        Err(refusal(ErrorCode::Forbidden, ROLE_REFUSAL))
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for AccessCheck {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let root = info.path_node.parent.is_none();
        if root && !info.is_for_introspection && !info.name.starts_with("__") {
            // Without a request context (the SDL export) there is nobody to check.
            if let Some(request) = ctx.data_opt::<RequestContext>() {
                check(request, info.name)?;
            }
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The root fields of an SDL: lines one tab deep, outside descriptions and argument lists.
    fn root_fields(sdl: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for root in ["type Query {", "type Mutation {"] {
            let Some(start) = sdl.find(root) else {
                continue;
            };
            let body = &sdl[start + root.len()..];
            let body = &body[..body.find("\n}").unwrap_or(body.len())];
            let (mut in_description, mut depth) = (false, 0usize);
            for line in body.lines() {
                let t = line.trim();
                if t.starts_with("\"\"\"") {
                    let one_line = t.len() > 3 && t.ends_with("\"\"\"");
                    if !one_line {
                        in_description = !in_description;
                    }
                    continue;
                }
                if in_description || t.starts_with('"') {
                    continue;
                }
                if depth == 0 && line.starts_with('\t') && !line.starts_with("\t\t") {
                    let name: String = t.chars().take_while(char::is_ascii_alphanumeric).collect();
                    if !name.is_empty() {
                        names.insert(name);
                    }
                }
                depth += t.matches('(').count();
                depth = depth.saturating_sub(t.matches(')').count());
            }
        }
        names
    }

    /// Each table lists exactly its schema's root fields (the end-to-end test also calls them).
    #[test]
    fn the_tables_cover_every_operation() {
        for (name, sdl) in crate::sdl() {
            let table = match name {
                "staff" => STAFF,
                "distributor" => DISTRIBUTOR,
                _ => continue,
            };
            let listed: BTreeSet<String> = table.iter().map(|(n, _)| (*n).to_owned()).collect();
            assert_eq!(
                listed.len(),
                table.len(),
                "{name}: an operation is listed twice"
            );
            assert_eq!(
                root_fields(&sdl),
                listed,
                "{name}: classify every operation in access.rs"
            );
        }
    }

    /// Every permission (the derived list, so a new one is walked too) guards at least one
    /// staff operation (or, for personal data, the fields the service checks), and HQ holds
    /// each of them but one's own sales performance (HQ sells nothing; it reads
    /// `salesReport`).
    #[test]
    fn every_permission_guards_an_operation() {
        const FIELD_LEVEL: &[Permission] = &[ReadMemberPersonalData];
        const NOT_HQ: &[Permission] = &[ViewOwnPerformance];
        for p in Permission::ALL {
            assert!(
                FIELD_LEVEL.contains(p) || STAFF.iter().any(|(_, a)| *a == Access::Staff(*p)),
                "{p:?} guards no operation"
            );
            assert_eq!(p.allowed_for(StaffRole::Hq), !NOT_HQ.contains(p), "{p:?}");
        }
    }
}
