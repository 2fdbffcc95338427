//! `scripts/bench catalog`: the mini-program's product list, `products(first: 20)` with SKUs,
//! prices and stock, on PostgreSQL with 1,000 products and 3,000 SKUs.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use sea_orm::{DatabaseConnection, EntityTrait, Set};
use serde_json::json;

use crate::env::{Server, fresh_database, graphql, http_client};
use crate::{load, seed};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(long, default_value_t = 1000)]
    products: usize,
    #[arg(long, default_value_t = 3)]
    skus_per_product: usize,
    /// Seconds of load per connection count.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, value_delimiter = ',', default_value = "32,128")]
    connections: Vec<usize>,
}

const QUERY: &str = "query($after: String) { products(first: 20, after: $after) {
  edges { node { id name skus { id priceFen available } } } pageInfo { hasNextPage endCursor } } }";

async fn seed(
    db: &DatabaseConnection,
    products: usize,
    skus_per_product: usize,
) -> anyhow::Result<()> {
    use entities::{product, product_ingredient, sku, stock_batch, stock_level, stock_movement};
    let now = Utc::now();
    let cat = seed::category(db, "BENCH", "基准", 99, now).await?;
    let wh = seed::warehouse(db, "BENCH-WH", "基准仓", now).await?;
    let made = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let expires = NaiveDate::from_ymd_opt(2029, 1, 1).unwrap_or_default();
    for chunk in (0..products).collect::<Vec<_>>().chunks(200) {
        let rows: Vec<product::ActiveModel> = chunk
            .iter()
            .map(|i| product::ActiveModel {
                code: Set(format!("BENCH-{i:05}")),
                name: Set(format!("基准商品 {i}")),
                description: Set("一款用于压测的护肤品".into()),
                category_id: Set(cat.id),
                efficacy_claims: Set(vec!["保湿".to_owned()].into()),
                suitable_skin_types: Set(0b11111),
                active: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            })
            .collect();
        product::Entity::insert_many(rows).exec(db).await?;
    }
    let product_ids: Vec<i64> = product::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|p| p.code.starts_with("BENCH-"))
        .map(|p| p.id)
        .collect();
    for chunk in product_ids.chunks(100) {
        let ingredients: Vec<product_ingredient::ActiveModel> = chunk
            .iter()
            .flat_map(|p| {
                ["AQUA", "GLYCERIN", "NIACINAMIDE", "PANTHENOL", "PARFUM"]
                    .iter()
                    .enumerate()
                    .map(move |(pos, inci)| product_ingredient::ActiveModel {
                        product_id: Set(*p),
                        position: Set(i32::try_from(pos).unwrap_or(0)),
                        inci_name: Set((*inci).into()),
                    })
            })
            .collect();
        product_ingredient::Entity::insert_many(ingredients)
            .exec(db)
            .await?;
        let skus: Vec<sku::ActiveModel> = chunk
            .iter()
            .flat_map(|p| {
                (0..skus_per_product).map(move |s| sku::ActiveModel {
                    product_id: Set(*p),
                    code: Set(format!("BENCH-{p}-{s}")),
                    barcode: Set(None),
                    shade: Set(None),
                    size: Set(Some(format!("{}ml", 30 + s * 20))),
                    price_fen: Set(10_000 + i64::try_from(s).unwrap_or(0) * 5_000),
                    cost_fen: Set(2_500),
                    safety_stock: Set(5),
                    active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
            })
            .collect();
        sku::Entity::insert_many(skus).exec(db).await?;
    }
    let sku_ids: Vec<i64> = sku::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .filter(|s| s.code.starts_with("BENCH-"))
        .map(|s| s.id)
        .collect();
    for chunk in sku_ids.chunks(200) {
        let batches: Vec<stock_batch::ActiveModel> = chunk
            .iter()
            .map(|s| stock_batch::ActiveModel {
                sku_id: Set(*s),
                lot: Set(format!("L{s}")),
                manufactured_on: Set(made),
                expires_on: Set(expires),
                created_at: Set(now),
                ..Default::default()
            })
            .collect();
        stock_batch::Entity::insert_many(batches).exec(db).await?;
    }
    let batches = stock_batch::Entity::find().all(db).await?;
    for chunk in batches.chunks(200) {
        let levels: Vec<stock_level::ActiveModel> = chunk
            .iter()
            .map(|b| stock_level::ActiveModel {
                location_id: Set(wh.id),
                batch_id: Set(b.id),
                sku_id: Set(b.sku_id),
                quantity: Set(100),
                updated_at: Set(now),
            })
            .collect();
        stock_level::Entity::insert_many(levels).exec(db).await?;
        let moves: Vec<stock_movement::ActiveModel> = chunk
            .iter()
            .map(|b| stock_movement::ActiveModel {
                location_id: Set(wh.id),
                batch_id: Set(b.id),
                sku_id: Set(b.sku_id),
                delta: Set(100),
                kind: Set(entities::stock_movement::MovementKind::Receipt),
                reference: Set(Some("bench seed".into())),
                staff_id: Set(None),
                note: Set(None),
                created_at: Set(now),
                ..Default::default()
            })
            .collect();
        stock_movement::Entity::insert_many(moves).exec(db).await?;
    }
    println!(
        "seeded {} products, {} SKUs, {} batches",
        product_ids.len(),
        sku_ids.len(),
        batches.len()
    );
    Ok(())
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let (url, db) = fresh_database("bench_catalog").await?;
    seed(&db, args.products, args.skus_per_product).await?;
    db.close().await?;
    let server = Server::start(&url, &[]).await?;
    let endpoint = Arc::new(format!("{}/graphql/consumer", server.base_url));
    // Page cursors across the whole catalog, so the load reads every page, not one.
    let max = *args.connections.iter().max().unwrap_or(&32);
    let http = http_client(max)?;
    let mut cursors: Vec<Option<String>> = vec![None];
    let mut after: Option<String> = None;
    loop {
        let page = graphql(
            &http,
            &endpoint,
            None,
            &json!({ "query": QUERY, "variables": { "after": after } }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
        // The cursor is opaque: take it from the page, never build it from an id.
        let Some(last) = page["data"]["products"]["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_owned)
        else {
            break;
        };
        if page["data"]["products"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        cursors.push(Some(last.clone()));
        after = Some(last);
    }
    println!("catalog pages: {}", cursors.len());
    let cursors = Arc::new(cursors);
    // Warm-up.
    let _ = load::run("warm-up", 8, Duration::from_secs(3), {
        let (http, endpoint, cursors) = (http.clone(), endpoint.clone(), cursors.clone());
        move |c, n| request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
    })
    .await;
    for connections in args.connections {
        let report = load::run(
            "products(first: 20)",
            connections,
            Duration::from_secs(args.seconds),
            {
                let (http, endpoint, cursors) = (http.clone(), endpoint.clone(), cursors.clone());
                move |c, n| request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
            },
        )
        .await;
        report.print();
    }
    if let Some(pid) = server.pid()
        && let Some(rss) = load::peak_rss_mib(pid)
    {
        println!("server peak RSS: {rss:.0} MiB");
    }
    Ok(())
}

async fn request(
    http: reqwest::Client,
    endpoint: Arc<String>,
    cursors: Arc<Vec<Option<String>>>,
    connection: usize,
    n: u64,
) -> Result<(), String> {
    let index = (connection * 7 + usize::try_from(n).unwrap_or(0)) % cursors.len();
    let body = json!({ "query": QUERY, "variables": { "after": cursors[index] } });
    let page = graphql(&http, &endpoint, None, &body).await?;
    if page["data"]["products"]["edges"]
        .as_array()
        .is_none_or(|e| e.is_empty())
    {
        return Err("empty page".into());
    }
    Ok(())
}
