//! WeChat Pay notifications that were genuine but matched nothing to change: a refund or payment
//! we never issued (made in the merchant console), or money that arrived for an order already
//! closed. They are acknowledged to WeChat and kept here for finance, once per notification.

use sea_orm_migration::{prelude::*, schema::*};

use super::id;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(UnmatchedPaymentNotifications::Table)
                .col(id(UnmatchedPaymentNotifications::Id))
                .col(string(UnmatchedPaymentNotifications::NotificationId).unique_key())
                .col(string(UnmatchedPaymentNotifications::Kind))
                .col(string(UnmatchedPaymentNotifications::Reason))
                .col(string_null(UnmatchedPaymentNotifications::OutTradeNo))
                .col(string_null(UnmatchedPaymentNotifications::OutRefundNo))
                .col(big_integer(UnmatchedPaymentNotifications::AmountFen))
                .col(text(UnmatchedPaymentNotifications::Summary))
                .col(timestamp_with_time_zone(
                    UnmatchedPaymentNotifications::ReceivedAt,
                ))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(
            Table::drop()
                .table(UnmatchedPaymentNotifications::Table)
                .to_owned(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum UnmatchedPaymentNotifications {
    Table,
    Id,
    NotificationId,
    Kind,
    Reason,
    OutTradeNo,
    OutRefundNo,
    AmountFen,
    Summary,
    ReceivedAt,
}
