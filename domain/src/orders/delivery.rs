//! Where a delivery order goes: set (or corrected) by the member while the order waits for
//! payment, and read back sealed. A flash-sale grab creates a delivery order at once (speed
//! first); the member gives the address at checkout, and an order with nowhere to go cannot be
//! paid.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::views::{load, row};
use super::{DeliveryAddress, FulfilmentKind, Order, OrderStatus, OrdersError, invalid};
use crate::AppState;
use crate::auth::MemberPrincipal;
use entities::order;

pub(super) fn check_address(a: &DeliveryAddress) -> Result<(), OrdersError> {
    use crate::platform::validate::{FieldKind, field, field_opt};
    let fields = [
        (
            FieldKind::Name,
            "delivery.recipient",
            a.recipient.as_str(),
            32,
        ),
        (FieldKind::Phone, "delivery.phone", a.phone.as_str(), 20),
        (
            FieldKind::Region,
            "delivery.province",
            a.province.as_str(),
            32,
        ),
        (FieldKind::Region, "delivery.city", a.city.as_str(), 32),
        (
            FieldKind::AddressLine,
            "delivery.detail",
            a.detail.as_str(),
            128,
        ),
    ];
    for (kind, name, value, max) in fields {
        field(kind, name, value, Some(max)).map_err(invalid)?;
    }
    field_opt(
        FieldKind::District,
        "delivery.district",
        a.district.as_deref(),
    )
    .map_err(invalid)?;
    crate::members::normalise_phone(&a.phone)
        .map_err(|_| invalid("delivery phone is not a phone number"))?;
    Ok(())
}

/// Seals an address for the order row (personal data: encrypted at rest).
pub(super) fn seal(app: &AppState, address: &DeliveryAddress) -> Result<String, OrdersError> {
    let json =
        serde_json::to_string(address).map_err(|_| invalid("unreadable delivery address"))?;
    Ok(app.pii.encrypt(&json))
}

/// Opens a sealed address; one that does not open is an error, never an empty address.
pub(super) fn open(app: &AppState, sealed: &str) -> Result<DeliveryAddress, OrdersError> {
    let json = app.pii.decrypt(sealed)?;
    serde_json::from_str(&json)
        .map_err(|_| OrdersError::Pii(crate::platform::pii::PiiError::Decrypt))
}

/// The member gives (or corrects) where one of her unpaid delivery orders goes.
#[tracing::instrument(skip_all, err, fields(member_id = me.member_id, order_id))]
pub async fn set_delivery_address(
    app: &AppState,
    me: &MemberPrincipal,
    order_id: i64,
    address: DeliveryAddress,
) -> Result<Order, OrdersError> {
    check_address(&address)?;
    let current = row(app, order_id).await?;
    if current.member_id != me.member_id {
        return Err(OrdersError::NotYours);
    }
    if current.fulfilment != FulfilmentKind::Delivery {
        return Err(invalid(
            "this order is collected at a store; it has no delivery address",
        ));
    }
    // Only while unpaid, in the same statement: a payment landing now keeps the address it paid for.
    let updated = order::Entity::update_many()
        .col_expr(
            order::Column::DeliveryAddress,
            Expr::value(seal(app, &address)?),
        )
        .filter(order::Column::Id.eq(order_id))
        .filter(order::Column::Status.eq(OrderStatus::PendingPayment))
        .exec(&app.db)
        .await?;
    if updated.rows_affected == 0 {
        return Err(OrdersError::WrongState(
            "no longer waiting for payment; its address cannot change".into(),
        ));
    }
    load(app, row(app, order_id).await?).await
}

impl DeliveryAddress {
    /// The recipient's phone as screens show it (`138****8000`): an order view never needs
    /// the whole number.
    pub fn phone_masked(&self) -> String {
        let digits: Vec<char> = self.phone.chars().filter(char::is_ascii_digit).collect();
        let national = if digits.len() == 13 && digits.starts_with(&['8', '6']) {
            &digits[2..]
        } else {
            &digits[..]
        };
        if national.len() < 7 {
            return "*".repeat(national.len());
        }
        let head: String = national[..3].iter().collect();
        let tail: String = national[national.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_phone(phone: &str) -> DeliveryAddress {
        DeliveryAddress {
            recipient: "王小美".into(),
            phone: phone.into(),
            province: "上海".into(),
            city: "上海".into(),
            district: None,
            detail: "南京西路 1515 号".into(),
        }
    }

    #[test]
    fn phones_are_masked_in_order_views() {
        assert_eq!(with_phone("13812345678").phone_masked(), "138****5678");
        assert_eq!(
            with_phone("+86 138 1234 5678").phone_masked(),
            "138****5678"
        );
        assert_eq!(with_phone("12345").phone_masked(), "*****");
    }
}
