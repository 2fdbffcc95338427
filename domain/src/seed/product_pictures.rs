//! Demo product pictures, made at seed time (a gradient in the product's colour with its
//! initial drawn from pixels, see `media::demo`) and stored through the normal intake, so the
//! demo catalog shows pictures served like uploaded ones.

use sea_orm::{EntityTrait, QueryOrder};

use super::SeedError;
use crate::AppState;
use entities::product;

/// Colours the demo cycles through (rouge, coral, plum, sage, sand, sky).
const COLOURS: [[u8; 3]; 6] = [
    [190, 30, 60],
    [235, 110, 90],
    [120, 50, 110],
    [110, 150, 120],
    [200, 160, 110],
    [80, 140, 200],
];

/// One 800×800 picture per product, after the demo's transaction has committed.
pub(super) async fn seed(app: &AppState) -> Result<(), SeedError> {
    let products = product::Entity::find()
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
