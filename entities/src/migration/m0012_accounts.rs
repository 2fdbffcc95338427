//! Staff and distributor accounts a brand manages itself (issue 14): a one-time password that must
//! be changed, when a password last changed (older sessions end), the staff member's phone
//! (encrypted, with a masked copy for display), a distributor's active flag and contact, a
//! distributor account's role (OWNER, BUYER, VIEWER), and the client address of audit entries.
//! Every new column is nullable or has a default, so code released before it keeps working;
//! existing distributor accounts become OWNER (each organisation had one account).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum StaffAccounts {
    Table,
    MustChangePassword,
    PasswordChangedAt,
    PhoneCipher,
    PhoneMasked,
}

#[derive(DeriveIden)]
enum Distributors {
    Table,
    Active,
    ContactName,
    ContactPhoneCipher,
    ContactPhoneMasked,
}

#[derive(DeriveIden)]
enum DistributorAccounts {
    Table,
    DistributorId,
    Role,
    MustChangePassword,
    PasswordChangedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    ActorId,
    Action,
    ClientAddr,
}

/// One column per statement: SQLite alters one column at a time.
fn add(table: impl IntoIden, column: ColumnDef) -> TableAlterStatement {
    Table::alter().table(table).add_column(column).to_owned()
}

fn flag(name: impl IntoIden, default: bool) -> ColumnDef {
    ColumnDef::new(name)
        .boolean()
        .not_null()
        .default(default)
        .to_owned()
}

fn text_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name).string().null().to_owned()
}

fn time_null(name: impl IntoIden) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for alter in [
            add(
                StaffAccounts::Table,
                flag(StaffAccounts::MustChangePassword, false),
            ),
            add(
                StaffAccounts::Table,
                time_null(StaffAccounts::PasswordChangedAt),
            ),
            add(StaffAccounts::Table, text_null(StaffAccounts::PhoneCipher)),
            add(StaffAccounts::Table, text_null(StaffAccounts::PhoneMasked)),
            add(Distributors::Table, flag(Distributors::Active, true)),
            add(Distributors::Table, text_null(Distributors::ContactName)),
            add(
                Distributors::Table,
                text_null(Distributors::ContactPhoneCipher),
            ),
            add(
                Distributors::Table,
                text_null(Distributors::ContactPhoneMasked),
            ),
            add(
                DistributorAccounts::Table,
                ColumnDef::new(DistributorAccounts::Role)
                    .string()
                    .not_null()
                    .default("OWNER")
                    .to_owned(),
            ),
            add(
                DistributorAccounts::Table,
                flag(DistributorAccounts::MustChangePassword, false),
            ),
            add(
                DistributorAccounts::Table,
                time_null(DistributorAccounts::PasswordChangedAt),
            ),
            add(AuditLog::Table, text_null(AuditLog::ClientAddr)),
        ] {
            m.alter_table(alter).await?;
        }
        m.create_index(
            Index::create()
                .name("idx_distributor_accounts_distributor")
                .table(DistributorAccounts::Table)
                .col(DistributorAccounts::DistributorId)
                .to_owned(),
        )
        .await?;
        // HQ's audit search: by actor, by action, by time (newest first by id).
        m.create_index(
            Index::create()
                .name("idx_audit_log_actor")
                .table(AuditLog::Table)
                .col(AuditLog::ActorId)
                .col(AuditLog::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_audit_log_action")
                .table(AuditLog::Table)
                .col(AuditLog::Action)
                .col(AuditLog::At)
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("idx_audit_log_action", AuditLog::Table.into_iden()),
            ("idx_audit_log_actor", AuditLog::Table.into_iden()),
            (
                "idx_distributor_accounts_distributor",
                DistributorAccounts::Table.into_iden(),
            ),
        ] {
            m.drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        let drops: [(DynIden, DynIden); 12] = [
            (
                AuditLog::Table.into_iden(),
                AuditLog::ClientAddr.into_iden(),
            ),
            (
                DistributorAccounts::Table.into_iden(),
                DistributorAccounts::PasswordChangedAt.into_iden(),
            ),
            (
                DistributorAccounts::Table.into_iden(),
                DistributorAccounts::MustChangePassword.into_iden(),
            ),
            (
                DistributorAccounts::Table.into_iden(),
                DistributorAccounts::Role.into_iden(),
            ),
            (
                Distributors::Table.into_iden(),
                Distributors::ContactPhoneMasked.into_iden(),
            ),
            (
                Distributors::Table.into_iden(),
                Distributors::ContactPhoneCipher.into_iden(),
            ),
            (
                Distributors::Table.into_iden(),
                Distributors::ContactName.into_iden(),
            ),
            (
                Distributors::Table.into_iden(),
                Distributors::Active.into_iden(),
            ),
            (
                StaffAccounts::Table.into_iden(),
                StaffAccounts::PhoneMasked.into_iden(),
            ),
            (
                StaffAccounts::Table.into_iden(),
                StaffAccounts::PhoneCipher.into_iden(),
            ),
            (
                StaffAccounts::Table.into_iden(),
                StaffAccounts::PasswordChangedAt.into_iden(),
            ),
            (
                StaffAccounts::Table.into_iden(),
                StaffAccounts::MustChangePassword.into_iden(),
            ),
        ];
        for (table, column) in drops {
            m.alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
