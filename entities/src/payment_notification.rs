use sea_orm::entity::prelude::*;

/// The WeChat Pay event a notification told of, stored as WeChat names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::None)")]
pub enum PaymentEventType {
    #[sea_orm(string_value = "TRANSACTION.SUCCESS")]
    TransactionSuccess,
    #[sea_orm(string_value = "REFUND.SUCCESS")]
    RefundSuccess,
    #[sea_orm(string_value = "REFUND.ABNORMAL")]
    RefundAbnormal,
    #[sea_orm(string_value = "REFUND.CLOSED")]
    RefundClosed,
}

/// A WeChat Pay notification already handled: deliveries repeat, the effects happen once.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_type: PaymentEventType,
    pub reference: String,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_stored_as_wechat_names_them() {
        assert_eq!(
            PaymentEventType::TransactionSuccess.to_value(),
            "TRANSACTION.SUCCESS"
        );
        assert_eq!(
            PaymentEventType::try_from_value(&"REFUND.CLOSED".to_owned()).ok(),
            Some(PaymentEventType::RefundClosed)
        );
        assert!(PaymentEventType::try_from_value(&"REFUND.LATER".to_owned()).is_err());
    }
}
