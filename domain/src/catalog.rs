//! The catalog: categories, products with their ingredients (INCI names), efficacy claims and
//! suitable skin types, and SKUs (shade, size, price and cost in fen). HQ keeps it; members
//! browse it, each product telling them whether it contains one of their allergens.

use std::collections::{HashMap, HashSet};

use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::AppState;
use crate::auth::{AuthError, Permission, StaffPrincipal};
use crate::members::SkinType;
use crate::platform::error::{DomainError, ErrorCode, StoreError, UniqueViolation};
use crate::platform::page::MAX_LIMIT;
use crate::platform::{db, validate};
use entities::{category, member_allergy, product, product_ingredient, sku};

#[derive(Debug, thiserror::Error, strum::IntoStaticStr, strum::VariantNames)]
pub enum CatalogError {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error(transparent)]
    Inventory(#[from] Box<crate::inventory::InventoryError>),
    /// A failure shared by every request that waited on the same cached load.
    #[error(transparent)]
    Shared(std::sync::Arc<CatalogError>),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::store_error_conversions!(CatalogError);

impl DomainError for CatalogError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidInput(_) => ErrorCode::BadUserInput,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Taken(_) => ErrorCode::Conflict,
            Self::Inventory(e) => e.code(),
            Self::Shared(e) => e.code(),
            Self::Auth(e) => e.code(),
            Self::Store(e) => e.code(),
        }
    }
}

fn invalid(msg: impl Into<String>) -> CatalogError {
    CatalogError::InvalidInput(msg.into())
}

#[derive(Debug, Clone)]
pub struct Category {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub sort_order: i32,
}

impl From<category::Model> for Category {
    fn from(c: category::Model) -> Self {
        Self {
            id: c.id,
            code: c.code,
            name: c.name,
            parent_id: c.parent_id,
            sort_order: c.sort_order,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: i64,
    pub code: String,
    pub name: String,
    pub description: String,
    pub category_id: i64,
    pub efficacy_claims: Vec<String>,
    pub suitable_skin_types: Vec<SkinType>,
    pub active: bool,
}

impl From<product::Model> for Product {
    fn from(p: product::Model) -> Self {
        Self {
            id: p.id,
            code: p.code,
            name: p.name,
            description: p.description,
            category_id: p.category_id,
            efficacy_claims: p.efficacy_claims.into_inner(),
            suitable_skin_types: SkinType::from_bits(p.suitable_skin_types),
            active: p.active,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sku {
    pub id: i64,
    pub product_id: i64,
    pub code: String,
    pub barcode: Option<String>,
    pub shade: Option<String>,
    pub size: Option<String>,
    pub price_fen: i64,
    pub cost_fen: i64,
    pub safety_stock: i32,
    pub active: bool,
}

impl Sku {
    /// "色号 01 / 30ml" style label for order lines.
    pub fn label(&self) -> String {
        [self.shade.as_deref(), self.size.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

impl From<sku::Model> for Sku {
    fn from(s: sku::Model) -> Self {
        Self {
            id: s.id,
            product_id: s.product_id,
            code: s.code,
            barcode: s.barcode,
            shade: s.shade,
            size: s.size,
            price_fen: s.price_fen,
            cost_fen: s.cost_fen,
            safety_stock: s.safety_stock,
            active: s.active,
        }
    }
}

fn text(field: &str, value: &str, max: usize) -> Result<String, CatalogError> {
    validate::text(field, value, max).map_err(CatalogError::InvalidInput)
}

fn code(field: &str, value: &str) -> Result<String, CatalogError> {
    validate::code(field, value, 40).map_err(CatalogError::InvalidInput)
}

fn money(field: &str, fen: i64) -> Result<i64, CatalogError> {
    if !(0..=100_000_000).contains(&fen) {
        return Err(invalid(format!(
            "{field} must be between 0 and 1,000,000 yuan, in fen"
        )));
    }
    Ok(fen)
}

/// Upper-cased INCI names in label order; duplicates dropped.
fn ingredients(raw: &[String]) -> Result<Vec<String>, CatalogError> {
    if raw.len() > 200 {
        return Err(invalid("at most 200 ingredients"));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for item in raw {
        let name = text("an ingredient", item, 128)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    Ok(out)
}

fn claims(raw: &[String]) -> Result<Vec<String>, CatalogError> {
    if raw.len() > 20 {
        return Err(invalid("at most 20 efficacy claims"));
    }
    raw.iter()
        .map(|c| text("an efficacy claim", c, 32))
        .collect()
}

pub struct NewCategory {
    pub code: String,
    pub name: String,
    pub parent_id: Option<i64>,
    pub sort_order: i32,
}

pub async fn create_category(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewCategory,
) -> Result<Category, CatalogError> {
    staff.require(Permission::ManageCatalog)?;
    let code = code("code", &input.code)?;
    let name = text("name", &input.name, 32)?;
    if let Some(parent) = input.parent_id {
        category::Entity::find_by_id(parent)
            .one(&app.db)
            .await?
            .ok_or(CatalogError::NotFound("parent category"))?;
    }
    let row = category::ActiveModel {
        code: Set(code),
        name: Set(name),
        parent_id: Set(input.parent_id),
        sort_order: Set(input.sort_order),
        created_at: Set(app.clock.now()),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .on_unique_violation(|| CatalogError::Taken("category code"))?;
    app.caches.listings.invalidate();
    Ok(row.into())
}

pub async fn categories(app: &AppState) -> Result<Vec<Category>, CatalogError> {
    Ok(category::Entity::find()
        .order_by_asc(category::Column::SortOrder)
        .order_by_asc(category::Column::Id)
        .all(&app.db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

pub struct NewProduct {
    pub code: String,
    pub name: String,
    pub description: String,
    pub category_id: i64,
    pub efficacy_claims: Vec<String>,
    pub suitable_skin_types: Vec<SkinType>,
    pub ingredients: Vec<String>,
}

pub async fn create_product(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewProduct,
) -> Result<Product, CatalogError> {
    staff.require(Permission::ManageCatalog)?;
    let code = code("code", &input.code)?;
    let name = text("name", &input.name, 64)?;
    if input.description.chars().count() > 2000 {
        return Err(invalid("description is at most 2000 characters"));
    }
    let claims = claims(&input.efficacy_claims)?;
    let ingredients = ingredients(&input.ingredients)?;
    category::Entity::find_by_id(input.category_id)
        .one(&app.db)
        .await?
        .ok_or(CatalogError::NotFound("category"))?;
    let now = app.clock.now();
    let txn = db::begin_write(&app.db).await?;
    let row = product::ActiveModel {
        code: Set(code),
        name: Set(name),
        description: Set(input.description.trim().to_owned()),
        category_id: Set(input.category_id),
        efficacy_claims: Set(claims.into()),
        suitable_skin_types: Set(SkinType::to_bits(&input.suitable_skin_types)),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .on_unique_violation(|| CatalogError::Taken("product code"))?;
    write_ingredients(&txn, row.id, ingredients).await?;
    txn.commit().await?;
    app.caches.listings.invalidate();
    Ok(row.into())
}

async fn write_ingredients<C: sea_orm::ConnectionTrait>(
    db: &C,
    product_id: i64,
    names: Vec<String>,
) -> Result<(), CatalogError> {
    product_ingredient::Entity::delete_many()
        .filter(product_ingredient::Column::ProductId.eq(product_id))
        .exec(db)
        .await?;
    if names.is_empty() {
        return Ok(());
    }
    product_ingredient::Entity::insert_many(names.into_iter().enumerate().map(|(i, inci_name)| {
        product_ingredient::ActiveModel {
            product_id: Set(product_id),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            inci_name: Set(inci_name),
        }
    }))
    .exec(db)
    .await?;
    Ok(())
}

#[derive(Default)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<i64>,
    pub efficacy_claims: Option<Vec<String>>,
    pub suitable_skin_types: Option<Vec<SkinType>>,
    pub ingredients: Option<Vec<String>>,
    pub active: Option<bool>,
}

pub async fn update_product(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    changes: ProductChanges,
) -> Result<Product, CatalogError> {
    staff.require(Permission::ManageCatalog)?;
    let name = changes
        .name
        .as_deref()
        .map(|n| text("name", n, 64))
        .transpose()?;
    let claims = changes.efficacy_claims.as_deref().map(claims).transpose()?;
    let ingredients = changes
        .ingredients
        .as_deref()
        .map(ingredients)
        .transpose()?;
    if changes
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 2000)
    {
        return Err(invalid("description is at most 2000 characters"));
    }
    if let Some(category) = changes.category_id {
        category::Entity::find_by_id(category)
            .one(&app.db)
            .await?
            .ok_or(CatalogError::NotFound("category"))?;
    }
    let txn = db::begin_write(&app.db).await?;
    let mut row = product::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(CatalogError::NotFound("product"))?
        .into_active_model();
    if let Some(name) = name {
        row.name = Set(name);
    }
    if let Some(description) = changes.description {
        row.description = Set(description.trim().to_owned());
    }
    if let Some(category) = changes.category_id {
        row.category_id = Set(category);
    }
    if let Some(claims) = claims {
        row.efficacy_claims = Set(claims.into());
    }
    if let Some(types) = changes.suitable_skin_types {
        row.suitable_skin_types = Set(SkinType::to_bits(&types));
    }
    if let Some(active) = changes.active {
        row.active = Set(active);
    }
    row.updated_at = Set(app.clock.now());
    let row = row.update(&txn).await?;
    if let Some(ingredients) = ingredients {
        write_ingredients(&txn, id, ingredients).await?;
    }
    txn.commit().await?;
    app.caches.listings.invalidate();
    Ok(row.into())
}

pub struct NewSku {
    pub product_id: i64,
    pub code: String,
    pub barcode: Option<String>,
    pub shade: Option<String>,
    pub size: Option<String>,
    pub price_fen: i64,
    pub cost_fen: i64,
    pub safety_stock: i32,
}

pub async fn add_sku(
    app: &AppState,
    staff: &StaffPrincipal,
    input: NewSku,
) -> Result<Sku, CatalogError> {
    staff.require(Permission::ManageCatalog)?;
    let code = code("code", &input.code)?;
    let barcode = input
        .barcode
        .as_deref()
        .map(|b| {
            let b = b.trim();
            if (8..=14).contains(&b.len()) && b.chars().all(|c| c.is_ascii_digit()) {
                Ok(b.to_owned())
            } else {
                Err(invalid("a barcode is 8 to 14 digits (EAN/UPC)"))
            }
        })
        .transpose()?;
    let shade = input
        .shade
        .as_deref()
        .map(|s| text("shade", s, 32))
        .transpose()?;
    let size = input
        .size
        .as_deref()
        .map(|s| text("size", s, 32))
        .transpose()?;
    let price = money("price", input.price_fen)?;
    let cost = money("cost", input.cost_fen)?;
    if !(0..=1_000_000).contains(&input.safety_stock) {
        return Err(invalid("safety stock must be between 0 and 1,000,000"));
    }
    product::Entity::find_by_id(input.product_id)
        .one(&app.db)
        .await?
        .ok_or(CatalogError::NotFound("product"))?;
    let now = app.clock.now();
    let row = sku::ActiveModel {
        product_id: Set(input.product_id),
        code: Set(code),
        barcode: Set(barcode),
        shade: Set(shade),
        size: Set(size),
        price_fen: Set(price),
        cost_fen: Set(cost),
        safety_stock: Set(input.safety_stock),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .on_unique_violation(|| CatalogError::Taken("SKU code or barcode"))?;
    app.caches.listings.invalidate();
    Ok(row.into())
}

#[derive(Default)]
pub struct SkuChanges {
    pub price_fen: Option<i64>,
    pub cost_fen: Option<i64>,
    pub safety_stock: Option<i32>,
    pub active: Option<bool>,
}

pub async fn update_sku(
    app: &AppState,
    staff: &StaffPrincipal,
    id: i64,
    changes: SkuChanges,
) -> Result<Sku, CatalogError> {
    staff.require(Permission::ManageCatalog)?;
    let price = changes.price_fen.map(|p| money("price", p)).transpose()?;
    let cost = changes.cost_fen.map(|c| money("cost", c)).transpose()?;
    if changes
        .safety_stock
        .is_some_and(|s| !(0..=1_000_000).contains(&s))
    {
        return Err(invalid("safety stock must be between 0 and 1,000,000"));
    }
    let mut row = sku::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .ok_or(CatalogError::NotFound("SKU"))?
        .into_active_model();
    if let Some(price) = price {
        row.price_fen = Set(price);
    }
    if let Some(cost) = cost {
        row.cost_fen = Set(cost);
    }
    if let Some(safety) = changes.safety_stock {
        row.safety_stock = Set(safety);
    }
    if let Some(active) = changes.active {
        row.active = Set(active);
    }
    row.updated_at = Set(app.clock.now());
    app.caches.listings.invalidate();
    Ok(row.update(&app.db).await?.into())
}

/// Filters for the mini-program catalog.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub category_id: Option<i64>,
    pub skin_type: Option<SkinType>,
}

/// One page of active products, by id; `after` is the last id of the previous page.
pub async fn products_page(
    app: &AppState,
    filter: &ProductFilter,
    first: u64,
    after: Option<i64>,
) -> Result<(Vec<Product>, bool), CatalogError> {
    if !(1..=MAX_LIMIT).contains(&first) {
        return Err(invalid("first must be between 1 and 100"));
    }
    let mut query = product::Entity::find()
        .filter(product::Column::Active.eq(true))
        .order_by_asc(product::Column::Id)
        .limit(first + 1);
    if let Some(after) = after {
        query = query.filter(product::Column::Id.gt(after));
    }
    if let Some(category) = filter.category_id {
        // The category itself and its direct children.
        let children: Vec<i64> = category::Entity::find()
            .select_only()
            .column(category::Column::Id)
            .filter(category::Column::ParentId.eq(category))
            .into_tuple()
            .all(&app.db)
            .await?;
        let mut ids = children;
        ids.push(category);
        query = query.filter(product::Column::CategoryId.is_in(ids));
    }
    if let Some(skin) = filter.skin_type {
        use sea_orm::sea_query::{Expr, ExprTrait};
        query = query.filter(
            Expr::col(product::Column::SuitableSkinTypes)
                .bit_and(skin.bit())
                .ne(0),
        );
    }
    let mut rows = query.all(&app.db).await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(usize::try_from(first).unwrap_or(usize::MAX));
    Ok((rows.into_iter().map(Into::into).collect(), has_next))
}

pub async fn product(app: &AppState, id: i64) -> Result<Product, CatalogError> {
    product::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .map(Into::into)
        .ok_or(CatalogError::NotFound("product"))
}

/// One SKU by id, active or not (like [`product`]).
pub async fn sku(app: &AppState, id: i64) -> Result<Sku, CatalogError> {
    sku::Entity::find_by_id(id)
        .one(&app.db)
        .await?
        .map(Into::into)
        .ok_or(CatalogError::NotFound("SKU"))
}

/// The active SKUs of many products in one query (for batched GraphQL loading).
pub async fn skus_of_products(
    app: &AppState,
    product_ids: &[i64],
) -> Result<HashMap<i64, Vec<Sku>>, CatalogError> {
    let rows = sku::Entity::find()
        .filter(sku::Column::ProductId.is_in(product_ids.iter().copied()))
        .filter(sku::Column::Active.eq(true))
        .order_by_asc(sku::Column::Id)
        .all(&app.db)
        .await?;
    let mut out: HashMap<i64, Vec<Sku>> = HashMap::new();
    for row in rows {
        out.entry(row.product_id).or_default().push(row.into());
    }
    Ok(out)
}

pub async fn skus(app: &AppState, ids: &[i64]) -> Result<HashMap<i64, Sku>, CatalogError> {
    Ok(sku::Entity::find()
        .filter(sku::Column::Id.is_in(ids.iter().copied()))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.into()))
        .collect())
}

pub async fn products(app: &AppState, ids: &[i64]) -> Result<HashMap<i64, Product>, CatalogError> {
    Ok(product::Entity::find()
        .filter(product::Column::Id.is_in(ids.iter().copied()))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.into()))
        .collect())
}

/// Ingredients of many products in one query, in label order.
pub async fn ingredients_of_products(
    app: &AppState,
    product_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>, CatalogError> {
    let rows = product_ingredient::Entity::find()
        .filter(product_ingredient::Column::ProductId.is_in(product_ids.iter().copied()))
        .order_by_asc(product_ingredient::Column::ProductId)
        .order_by_asc(product_ingredient::Column::Position)
        .all(&app.db)
        .await?;
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    for row in rows {
        out.entry(row.product_id).or_default().push(row.inci_name);
    }
    Ok(out)
}

/// The ingredients of a product a member is allergic to (empty when none, or no member),
/// matched through the allergen vocabulary: an allergy `fragrance` covers PARFUM and LINALOOL.
pub fn allergen_warnings(ingredients: &[String], allergies: &[String]) -> Vec<String> {
    ingredients
        .iter()
        .filter(|i| allergies.iter().any(|a| crate::allergens::covers(a, i)))
        .cloned()
        .collect()
}

/// The member's allergies, for warnings.
pub async fn member_allergies(app: &AppState, member_id: i64) -> Result<Vec<String>, CatalogError> {
    Ok(member_allergy::Entity::find()
        .filter(member_allergy::Column::MemberId.eq(member_id))
        .all(&app.db)
        .await?
        .into_iter()
        .map(|a| a.ingredient)
        .collect())
}

/// For each product in `product_ids` that contains one of the member's allergens, those allergens.
pub async fn allergens_for_member(
    app: &AppState,
    member_id: i64,
    product_ids: &[i64],
) -> Result<HashMap<i64, Vec<String>>, CatalogError> {
    let allergies = member_allergies(app, member_id).await?;
    if allergies.is_empty() {
        return Ok(HashMap::new());
    }
    let ingredients = ingredients_of_products(app, product_ids).await?;
    Ok(ingredients
        .into_iter()
        .map(|(id, list)| (id, allergen_warnings(&list, &allergies)))
        .filter(|(_, w)| !w.is_empty())
        .collect())
}

/// A SKU as a listing shows it: with its sellable units.
#[derive(Debug, Clone)]
pub struct ListedSku {
    pub sku: Sku,
    pub available: i64,
}

/// A product as a listing shows it: SKUs with stock, and ingredients (for allergen warnings).
#[derive(Debug, Clone)]
pub struct ListedProduct {
    pub product: Product,
    pub skus: Vec<ListedSku>,
    pub ingredients: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Listing {
    pub items: Vec<std::sync::Arc<ListedProduct>>,
    pub has_next: bool,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub struct ListingKey {
    category_id: Option<i64>,
    skin_type: Option<i32>,
    first: u64,
    after: Option<i64>,
}

/// Listings are read far more than the catalog changes: each page is kept for two seconds
/// (stock shown in a listing may be that old; placing an order checks the real stock), and
/// concurrent misses for one page share a single load.
pub struct ListingCache {
    pages: moka::future::Cache<ListingKey, std::sync::Arc<Listing>>,
    /// The catalog version of this process: bumped by every catalog write, so caches of what
    /// was built from the catalog (the API's anonymous responses) key on it.
    generation: std::sync::atomic::AtomicU64,
}

/// How old a listing page may be when it is shown.
pub const LISTING_TTL: std::time::Duration = std::time::Duration::from_secs(2);

impl Default for ListingCache {
    fn default() -> Self {
        Self {
            pages: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(LISTING_TTL)
                .build(),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl ListingCache {
    /// Catalog writes in this process show at once; other replicas within the time to live.
    pub fn invalidate(&self) {
        self.pages.invalidate_all();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// The catalog version of this process (see [`ListingCache::invalidate`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// A page of the mini-program catalog with everything a listing shows, from the cache.
pub async fn listing(
    app: &AppState,
    filter: &ProductFilter,
    first: u64,
    after: Option<i64>,
) -> Result<std::sync::Arc<Listing>, CatalogError> {
    if !(1..=MAX_LIMIT).contains(&first) {
        return Err(invalid("first must be between 1 and 100"));
    }
    let key = ListingKey {
        category_id: filter.category_id,
        skin_type: filter.skin_type.map(SkinType::bit),
        first,
        after,
    };
    app.caches
        .listings
        .pages
        .try_get_with(key, async {
            let (products, has_next) = products_page(app, filter, first, after).await?;
            let ids: Vec<i64> = products.iter().map(|p| p.id).collect();
            let mut skus = skus_of_products(app, &ids).await?;
            let mut ingredients = ingredients_of_products(app, &ids).await?;
            let sku_ids: Vec<i64> = skus.values().flatten().map(|s| s.id).collect();
            let available = crate::inventory::available_by_sku(app, &sku_ids, None)
                .await
                .map_err(Box::new)?;
            let items = products
                .into_iter()
                .map(|product| {
                    std::sync::Arc::new(ListedProduct {
                        skus: skus
                            .remove(&product.id)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|sku| ListedSku {
                                available: available.get(&sku.id).copied().unwrap_or(0),
                                sku,
                            })
                            .collect(),
                        ingredients: ingredients.remove(&product.id).unwrap_or_default(),
                        product,
                    })
                })
                .collect();
            Ok(std::sync::Arc::new(Listing { items, has_next }))
        })
        .await
        .map_err(CatalogError::Shared)
}
