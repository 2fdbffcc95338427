//! `scripts/bench catalog`: the mini-program's product list, `products(first: 20)` with SKUs,
//! prices and stock, 1,000 products and 3,000 SKUs, on both backends (the embedded default:
//! SQLite and the in-process store; production: PostgreSQL and Redis), each followed at the same
//! connections by a plain poem handler answering the same bytes (the machine's HTTP ceiling).

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
    /// Backends to run on, in turn.
    #[arg(long, value_delimiter = ',', default_value = "embedded,production")]
    backends: Vec<String>,
}

const QUERY: &str = "query($after: String) { products(first: 20, after: $after) {
  edges { node { id name skus { id priceFen available } } } pageInfo { hasNextPage endCursor } } }";

pub async fn seed(
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

/// Which backend a catalog run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite under a temporary data folder and the in-process key-value store.
    Embedded,
    /// The bench PostgreSQL and Redis.
    Production,
}

impl Backend {
    pub fn parse(name: &str) -> anyhow::Result<Self> {
        match name {
            "embedded" => Ok(Self::Embedded),
            "production" => Ok(Self::Production),
            other => anyhow::bail!("unknown backend {other} (embedded or production)"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Production => "production",
        }
    }
}

/// A server on a seeded catalog; the data folder (embedded) goes with it.
pub struct Seeded {
    pub server: Server,
    data_dir: Option<std::path::PathBuf>,
}

impl Drop for Seeded {
    fn drop(&mut self) {
        if let Some(dir) = &self.data_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Seeds the catalog on a backend and starts the release server on it.
pub async fn seeded_server(
    backend: Backend,
    products: usize,
    skus_per_product: usize,
) -> anyhow::Result<Seeded> {
    match backend {
        Backend::Production => {
            let (url, db) = fresh_database("bench_catalog").await?;
            seed(&db, products, skus_per_product).await?;
            db.close().await?;
            Ok(Seeded {
                server: Server::start(&url, &[]).await?,
                data_dir: None,
            })
        }
        Backend::Embedded => {
            let dir = std::env::temp_dir().join(format!(
                "rouge-bench-embedded-{}-{}",
                std::process::id(),
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}/rouge.db?mode=rwc", dir.display());
            let db = api::connect_database(&url, 4).await?;
            api::migrate(&db).await?;
            seed(&db, products, skus_per_product).await?;
            db.close().await?;
            let server = Server::start_embedded(&dir, &[]).await?;
            Ok(Seeded {
                server,
                data_dir: Some(dir),
            })
        }
    }
}

/// Every page's cursor across the whole catalog (opaque: taken from the pages), and the first
/// page's answer bytes (what the plain handler answers with).
pub async fn cursors(
    http: &reqwest::Client,
    endpoint: &str,
) -> anyhow::Result<(Vec<Option<String>>, Vec<u8>)> {
    let first = http
        .post(endpoint)
        .json(&json!({ "query": QUERY, "variables": { "after": null } }))
        .send()
        .await?
        .bytes()
        .await?
        .to_vec();
    let mut cursors: Vec<Option<String>> = vec![None];
    let mut after: Option<String> = None;
    loop {
        let page = graphql(
            http,
            endpoint,
            None,
            &json!({ "query": QUERY, "variables": { "after": after } }),
        )
        .await
        .map_err(anyhow::Error::msg)?;
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
    Ok((cursors, first))
}

/// The plain poem handler answering `body`, in its own process.
async fn plain_server(body: &[u8]) -> anyhow::Result<(Server, std::path::PathBuf)> {
    let file = std::env::temp_dir().join(format!(
        "rouge-bench-plain-{}-{}.json",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, body)?;
    let me = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(me);
    cmd.arg("plain-server").arg("--body").arg(&file);
    Ok((Server::spawn_program(&mut cmd, &[]).await?, file))
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    for name in &args.backends {
        let backend = Backend::parse(name)?;
        if backend == Backend::Embedded && crate::truth::synchronous_commit() == "on" {
            println!(
                "catalog on embedded: SQLite does not use synchronous_commit; measured in the off pass"
            );
            continue;
        }
        run_on(&args, backend).await?;
    }
    Ok(())
}

async fn run_on(args: &Args, backend: Backend) -> anyhow::Result<()> {
    println!(
        "== catalog on {} ({})",
        backend.name(),
        crate::truth::commit_label()
    );
    let seeded = seeded_server(backend, args.products, args.skus_per_product).await?;
    let endpoint = Arc::new(format!("{}/graphql/consumer", seeded.server.base_url));
    let max = *args.connections.iter().max().unwrap_or(&32);
    let http = http_client(max)?;
    let (cursors, first_page) = cursors(&http, &endpoint).await?;
    println!(
        "catalog pages: {}; first page {} bytes",
        cursors.len(),
        first_page.len()
    );
    let cursors = Arc::new(cursors);
    let (plain, plain_file) = plain_server(&first_page).await?;
    let plain_endpoint = Arc::new(format!("{}/graphql/consumer", plain.base_url));
    // Warm-up.
    let _ = load::run("warm-up", 8, Duration::from_secs(3), {
        let (http, endpoint, cursors) = (http.clone(), endpoint.clone(), cursors.clone());
        move |c, n| request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
    })
    .await;
    for &connections in &args.connections {
        let report = load::run(
            &format!("products(first: 20) {}", backend.name()),
            connections,
            Duration::from_secs(args.seconds),
            {
                let (http, endpoint, cursors) = (http.clone(), endpoint.clone(), cursors.clone());
                move |c, n| request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
            },
        )
        .await;
        report.print();
        // The ceiling, right after, at the same connections: the same bytes from a plain handler.
        let ceiling = load::run(
            "plain poem handler",
            connections,
            Duration::from_secs(args.seconds),
            {
                let (http, endpoint, cursors) =
                    (http.clone(), plain_endpoint.clone(), cursors.clone());
                move |c, n| request(http.clone(), endpoint.clone(), cursors.clone(), c, n)
            },
        )
        .await;
        ceiling.print();
        let ratio = report.per_second() / ceiling.per_second();
        println!(
            "ratio catalog/plain handler @{connections} = {ratio:.3} (aim >= 0.5; p99 aim <= 20 ms)"
        );
        crate::truth::summary(
            &format!("catalog {} @{connections}", backend.name()),
            &format!(
                "{:.0} req/s, p99 {:.1} ms; plain handler {:.0} req/s",
                report.per_second(),
                report.p99_ms(),
                ceiling.per_second()
            ),
            ">= 0.5 x plain handler; p99 <= 20 ms",
            Some(ratio),
        );
    }
    crate::truth::print_peak_rss(seeded.server.pid());
    drop(plain);
    let _ = std::fs::remove_file(plain_file);
    Ok(())
}

pub async fn request(
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
