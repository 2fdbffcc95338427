//! Demo product pictures, made at seed time (a gradient in the product's colour with its
//! initial drawn from pixels, see `media::demo`) and stored through the normal intake, so the
//! demo catalog shows pictures served like uploaded ones.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::SeedError;
use super::catalog::DEMO_CATEGORY_CODES;
use crate::AppState;
use entities::{category, product};

/// Colours the demo cycles through (rouge, coral, plum, sage, sand, sky).
const COLOURS: [[u8; 3]; 6] = [
    [190, 30, 60],
    [235, 110, 90],
    [120, 50, 110],
    [110, 150, 120],
    [200, 160, 110],
    [80, 140, 200],
];

/// One 800×800 picture per product of the demo's categories, after the demo's transaction has
/// committed. Products someone loaded before the first start (a bench's thousand) get none: a
/// picture each would hold the start for minutes.
pub(super) async fn seed(app: &AppState) -> Result<(), SeedError> {
    let categories: Vec<i64> = category::Entity::find()
        .select_only()
        .column(category::Column::Id)
        .filter(category::Column::Code.is_in(DEMO_CATEGORY_CODES))
        .into_tuple()
        .all(&app.db)
        .await?;
    let products = product::Entity::find()
        .filter(product::Column::CategoryId.is_in(categories))
        .order_by_asc(product::Column::Id)
        .all(&app.db)
        .await?;
    for (i, p) in products.iter().enumerate() {
        let initial = p
            .code
            .chars()
            .find(char::is_ascii_alphanumeric)
            .unwrap_or('R');
        let png = media::demo::product_picture(initial, COLOURS[i % COLOURS.len()], 800);
        crate::media::add_seed_picture(app, p.id, png, &p.name)
            .await
            .map_err(|e| SeedError::Media(e.to_string()))?;
    }
    Ok(())
}
