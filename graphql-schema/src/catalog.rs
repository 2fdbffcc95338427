//! The catalog: members browse it (with allergen warnings), HQ keeps it. Reads of SKUs,
//! ingredients and stock are batched through data loaders, so a page of products costs a
//! fixed number of queries whatever its size.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, InputObject, Object, OutputType, SimpleObject};
use domain::auth::Principal;
use domain::platform::page::Page;
use domain::{AppState, catalog, inventory};

use crate::context::{app, maybe_principal, public_read, request, staff};
use crate::error::{ApiError, ApiResult, parse_id};
use crate::members::SkinType;
use crate::pagination;

/// Loads SKUs by product, ingredients by product and sellable units by SKU.
pub struct CatalogLoader(pub Arc<AppState>);

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SkusOf(pub i64);
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IngredientsOf(pub i64);
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvailableOf(pub i64);

impl Loader<SkusOf> for CatalogLoader {
    type Value = Vec<catalog::Sku>;
    type Error = ApiError;

    async fn load(&self, keys: &[SkusOf]) -> Result<HashMap<SkusOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = catalog::skus_of_products(&self.0, &ids).await?;
        Ok(found.into_iter().map(|(k, v)| (SkusOf(k), v)).collect())
    }
}

impl Loader<IngredientsOf> for CatalogLoader {
    type Value = Vec<String>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[IngredientsOf],
    ) -> Result<HashMap<IngredientsOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = catalog::ingredients_of_products(&self.0, &ids).await?;
        Ok(found
            .into_iter()
            .map(|(k, v)| (IngredientsOf(k), v))
            .collect())
    }
}

impl Loader<AvailableOf> for CatalogLoader {
    type Value = i64;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[AvailableOf],
    ) -> Result<HashMap<AvailableOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = inventory::available_by_sku(&self.0, &ids, None).await?;
        Ok(found
            .into_iter()
            .map(|(k, v)| (AvailableOf(k), v))
            .collect())
    }
}

pub fn loader(app: Arc<AppState>) -> DataLoader<CatalogLoader> {
    DataLoader::new(CatalogLoader(app), tokio::spawn)
}

fn loader_of<'a>(ctx: &Context<'a>) -> &'a DataLoader<CatalogLoader> {
    // Every schema is built with the loader in its data (see `crate::finish`).
    ctx.data_unchecked::<DataLoader<CatalogLoader>>()
}

#[derive(SimpleObject)]
pub struct Category {
    pub id: ID,
    pub code: String,
    pub name: String,
    pub parent_id: Option<ID>,
    pub sort_order: i32,
}

impl From<catalog::Category> for Category {
    fn from(c: catalog::Category) -> Self {
        Self {
            id: c.id.into(),
            code: c.code,
            name: c.name,
            parent_id: c.parent_id.map(Into::into),
            sort_order: c.sort_order,
        }
    }
}

/// Which schema the catalog is drawn for. The consumer's `Sku` has no staff-only fields at all
/// (not even null ones), so they stay out of its SDL and introspection.
pub trait CatalogView: Send + Sync + 'static {
    type Sku: OutputType;
    fn sku(sku: catalog::Sku, available: Option<i64>) -> Self::Sku;
}

/// The consumer schema: [`Sku`].
pub struct ConsumerView;
/// The staff schema: [`StaffSku`] (with cost and safety stock).
pub struct StaffView;

impl CatalogView for ConsumerView {
    type Sku = Sku;
    fn sku(sku: catalog::Sku, available: Option<i64>) -> Sku {
        Sku(SkuFields(sku, available))
    }
}

impl CatalogView for StaffView {
    type Sku = StaffSku;
    fn sku(sku: catalog::Sku, available: Option<i64>) -> StaffSku {
        StaffSku(SkuFields(sku, available))
    }
}

/// A product; in a listing it carries its SKUs, stock and ingredients, loaded with the page.
pub struct Product<V: CatalogView>(
    pub catalog::Product,
    pub Option<std::sync::Arc<catalog::ListedProduct>>,
    PhantomData<V>,
);

impl<V: CatalogView> Product<V> {
    fn plain(p: catalog::Product) -> Self {
        Self(p, None, PhantomData)
    }

    fn listed(listed: std::sync::Arc<catalog::ListedProduct>) -> Self {
        Self(listed.product.clone(), Some(listed), PhantomData)
    }

    async fn ingredient_list(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        match &self.1 {
            Some(listed) => Ok(listed.ingredients.clone()),
            None => Ok(loader_of(ctx)
                .load_one(IngredientsOf(self.0.id))
                .await?
                .unwrap_or_default()),
        }
    }
}

#[Object(name = "Product")]
impl<V: CatalogView> Product<V> {
    async fn id(&self) -> ID {
        self.0.id.into()
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn category_id(&self) -> ID {
        self.0.category_id.into()
    }
    /// 功效, e.g. 保湿, 舒缓.
    async fn efficacy_claims(&self) -> &[String] {
        &self.0.efficacy_claims
    }
    async fn suitable_skin_types(&self) -> Vec<SkinType> {
        self.0.suitable_skin_types.clone()
    }
    async fn active(&self) -> bool {
        self.0.active
    }
    /// Pictures in display order (stored at fixed widths; links are immutable).
    async fn images(&self, ctx: &Context<'_>) -> ApiResult<Vec<crate::media::ProductImage>> {
        crate::media::product_images(loader_of(ctx), self.0.id).await
    }
    /// INCI names in label order.
    async fn ingredients(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        self.ingredient_list(ctx).await
    }
    async fn skus(&self, ctx: &Context<'_>) -> ApiResult<Vec<V::Sku>> {
        if let Some(listed) = &self.1 {
            return Ok(listed
                .skus
                .iter()
                .map(|l| V::sku(l.sku.clone(), Some(l.available)))
                .collect());
        }
        Ok(loader_of(ctx)
            .load_one(SkusOf(self.0.id))
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(|s| V::sku(s, None))
            .collect())
    }
    /// The ingredients of this product the signed-in member is allergic to (empty otherwise).
    async fn allergen_warnings(&self, ctx: &Context<'_>) -> ApiResult<Vec<String>> {
        let Some(Principal::Member(me)) = maybe_principal(ctx).await else {
            return Ok(vec![]);
        };
        let app = app(ctx);
        let allergies = request(ctx)?
            .member_allergies
            .get_or_init(|| async {
                catalog::member_allergies(app, me.member_id)
                    .await
                    .map_err(ApiError::from)
            })
            .await
            .as_ref()
            .map_err(Clone::clone)?;
        if allergies.is_empty() {
            return Ok(vec![]);
        }
        let ingredients = self.ingredient_list(ctx).await?;
        Ok(catalog::allergen_warnings(&ingredients, allergies))
    }
}

/// What every audience sees of a SKU; in a listing it carries its sellable units, loaded with
/// the page. Never a field type itself: each schema's `Sku` flattens it.
pub struct SkuFields(pub catalog::Sku, pub Option<i64>);

/// A SKU as members (and distributors) see it.
pub struct Sku(pub SkuFields);

#[Object(name = "Sku")]
impl Sku {
    async fn id(&self) -> ID {
        self.0.0.id.into()
    }
    #[graphql(flatten)]
    async fn fields(&self) -> &SkuFields {
        &self.0
    }
}

/// A SKU as staff see it: with cost and safety stock.
pub struct StaffSku(pub SkuFields);

#[Object(name = "Sku")]
impl StaffSku {
    async fn id(&self) -> ID {
        self.0.0.id.into()
    }
    #[graphql(flatten)]
    async fn fields(&self) -> &SkuFields {
        &self.0
    }
    /// Unit cost (staff only).
    async fn cost_fen(&self) -> i64 {
        self.0.0.cost_fen
    }
    /// Units under which the SKU shows in `lowStock` (staff only).
    async fn safety_stock(&self) -> i32 {
        self.0.0.safety_stock
    }
}

#[Object(name = "SkuFields")]
impl SkuFields {
    async fn product_id(&self) -> ID {
        self.0.product_id.into()
    }
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn barcode(&self) -> Option<&str> {
        self.0.barcode.as_deref()
    }
    /// 色号
    async fn shade(&self) -> Option<&str> {
        self.0.shade.as_deref()
    }
    /// 规格
    async fn size(&self) -> Option<&str> {
        self.0.size.as_deref()
    }
    async fn price_fen(&self) -> i64 {
        self.0.price_fen
    }
    /// Sellable units across locations (unexpired batches).
    async fn available(&self, ctx: &Context<'_>) -> ApiResult<i64> {
        match self.1 {
            Some(units) => Ok(units),
            None => Ok(loader_of(ctx)
                .load_one(AvailableOf(self.0.id))
                .await?
                .unwrap_or(0)),
        }
    }
    async fn active(&self) -> bool {
        self.0.active
    }
}

/// The catalog's queries, drawn for one schema (see [`CatalogView`]).
pub struct CatalogQuery<V>(PhantomData<V>);

impl<V> Default for CatalogQuery<V> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

#[Object]
impl<V: CatalogView> CatalogQuery<V> {
    /// Active products, by id.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: Option<i32>,
        after: Option<String>,
        category_id: Option<ID>,
        skin_type: Option<SkinType>,
    ) -> ApiResult<Connection<String, Product<V>>> {
        public_read(ctx).await?;
        let page = pagination::keyset::<i64>(first, after.as_deref())?;
        let filter = catalog::ProductFilter {
            category_id: category_id.as_ref().map(parse_id).transpose()?,
            skin_type,
        };
        let listing = catalog::listing(app(ctx), &filter, page.limit, page.after).await?;
        let listed = Page {
            items: listing.items.clone(),
            has_next: listing.has_next,
        };
        Ok(pagination::connection(
            listed,
            &page,
            |l| l.product.id,
            Product::listed,
        ))
    }

    async fn product(&self, ctx: &Context<'_>, id: ID) -> ApiResult<Product<V>> {
        public_read(ctx).await?;
        Ok(Product::plain(
            catalog::product(app(ctx), parse_id(&id)?).await?,
        ))
    }

    /// One SKU as the catalog shows it (staff also see its cost and safety stock).
    async fn sku(&self, ctx: &Context<'_>, id: ID) -> ApiResult<V::Sku> {
        public_read(ctx).await?;
        Ok(V::sku(catalog::sku(app(ctx), parse_id(&id)?).await?, None))
    }

    async fn categories(&self, ctx: &Context<'_>) -> ApiResult<Vec<Category>> {
        public_read(ctx).await?;
        Ok(catalog::categories(app(ctx))
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// The allergen vocabulary: common cosmetic allergen groups a member picks allergies from
    /// (send the `code` in `allergies`; free-text INCI names are accepted too). Product
    /// warnings match through it: an allergy `fragrance` warns on PARFUM or LINALOOL.
    async fn allergen_options(&self, ctx: &Context<'_>) -> ApiResult<Vec<AllergenOption>> {
        public_read(ctx).await?;
        Ok(domain::allergens::ALLERGEN_GROUPS
            .iter()
            .map(|g| AllergenOption {
                code: g.code.to_owned(),
                name_zh: g.name_zh.to_owned(),
                name_en: g.name_en.to_owned(),
                inci_names: g.inci_names.iter().map(|n| (*n).to_owned()).collect(),
            })
            .collect())
    }
}

/// One allergen group of the vocabulary.
#[derive(SimpleObject)]
pub struct AllergenOption {
    /// Stable code (lower case) to store as a member's allergy.
    pub code: String,
    /// Chinese name, e.g. 香精.
    pub name_zh: String,
    /// English name, e.g. Fragrance.
    pub name_en: String,
    /// The INCI names the group covers, as ingredient lists spell them.
    pub inci_names: Vec<String>,
}

#[derive(InputObject)]
pub struct NewCategoryInput {
    pub code: String,
    pub name: String,
    pub parent_id: Option<ID>,
    #[graphql(default)]
    pub sort_order: i32,
}

#[derive(InputObject)]
pub struct NewProductInput {
    pub code: String,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub category_id: ID,
    #[graphql(default)]
    pub efficacy_claims: Vec<String>,
    #[graphql(default)]
    pub suitable_skin_types: Vec<SkinType>,
    /// INCI names in label order.
    #[graphql(default)]
    pub ingredients: Vec<String>,
}

#[derive(InputObject)]
pub struct ProductChangesInput {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category_id: Option<ID>,
    pub efficacy_claims: Option<Vec<String>>,
    pub suitable_skin_types: Option<Vec<SkinType>>,
    pub ingredients: Option<Vec<String>>,
    pub active: Option<bool>,
}

#[derive(InputObject)]
pub struct NewSkuInput {
    pub product_id: ID,
    pub code: String,
    pub barcode: Option<String>,
    pub shade: Option<String>,
    pub size: Option<String>,
    /// Integer fen (1 yuan = 100 fen).
    pub price_fen: i64,
    pub cost_fen: i64,
    #[graphql(default)]
    pub safety_stock: i32,
}

#[derive(InputObject)]
pub struct SkuChangesInput {
    pub price_fen: Option<i64>,
    pub cost_fen: Option<i64>,
    pub safety_stock: Option<i32>,
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct StaffCatalogMutation;

#[Object]
impl StaffCatalogMutation {
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: NewCategoryInput,
    ) -> ApiResult<Category> {
        let staff = staff(ctx).await?;
        let input = catalog::NewCategory {
            code: input.code,
            name: input.name,
            parent_id: input.parent_id.as_ref().map(parse_id).transpose()?,
            sort_order: input.sort_order,
        };
        Ok(catalog::create_category(app(ctx), staff, input)
            .await?
            .into())
    }

    async fn create_product(
        &self,
        ctx: &Context<'_>,
        input: NewProductInput,
    ) -> ApiResult<Product<StaffView>> {
        let staff = staff(ctx).await?;
        let input = catalog::NewProduct {
            code: input.code,
            name: input.name,
            description: input.description,
            category_id: parse_id(&input.category_id)?,
            efficacy_claims: input.efficacy_claims,
            suitable_skin_types: input.suitable_skin_types,
            ingredients: input.ingredients,
        };
        Ok(Product::plain(
            catalog::create_product(app(ctx), staff, input).await?,
        ))
    }

    async fn update_product(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: ProductChangesInput,
    ) -> ApiResult<Product<StaffView>> {
        let staff = staff(ctx).await?;
        let changes = catalog::ProductChanges {
            name: input.name,
            description: input.description,
            category_id: input.category_id.as_ref().map(parse_id).transpose()?,
            efficacy_claims: input.efficacy_claims,
            suitable_skin_types: input.suitable_skin_types,
            ingredients: input.ingredients,
            active: input.active,
        };
        Ok(Product::plain(
            catalog::update_product(app(ctx), staff, parse_id(&id)?, changes).await?,
        ))
    }

    async fn add_sku(&self, ctx: &Context<'_>, input: NewSkuInput) -> ApiResult<StaffSku> {
        let staff = staff(ctx).await?;
        let input = catalog::NewSku {
            product_id: parse_id(&input.product_id)?,
            code: input.code,
            barcode: input.barcode,
            shade: input.shade,
            size: input.size,
            price_fen: input.price_fen,
            cost_fen: input.cost_fen,
            safety_stock: input.safety_stock,
        };
        Ok(StaffView::sku(
            catalog::add_sku(app(ctx), staff, input).await?,
            None,
        ))
    }

    async fn update_sku(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: SkuChangesInput,
    ) -> ApiResult<StaffSku> {
        let staff = staff(ctx).await?;
        let changes = catalog::SkuChanges {
            price_fen: input.price_fen,
            cost_fen: input.cost_fen,
            safety_stock: input.safety_stock,
            active: input.active,
        };
        let sku = catalog::update_sku(app(ctx), staff, parse_id(&id)?, changes).await?;
        Ok(StaffView::sku(sku, None))
    }
}
