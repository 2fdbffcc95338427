//! `rouge reports export`: a sales report written straight to a file (CSV or XLSX), as a named
//! staff account would see it (her role's access and store scope), with a progress bar. The
//! export is audited like one made through `exportReport`. `rouge reports chart` draws one
//! metric of a report along its time buckets as an SVG file.

use std::path::Path;

use anyhow::Context as _;
use async_trait::async_trait;
use domain::AppState;
use domain::auth::StaffPrincipal;
use domain::reports::{self, Dimension, ExportDetail, ExportFormat, ExportProgress, Metric};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// The report a command reads, and as whom: the arguments `reports export` and `reports chart`
/// share.
#[derive(clap::Args, Debug, Clone)]
pub struct ReportArgs {
    /// The staff account the report is read as (HQ, FINANCE or MANAGER): her role's access and
    /// store scope.
    #[arg(long = "staff")]
    pub staff_username: String,
    /// First business day (YYYY-MM-DD).
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last business day, included.
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// Dimensions, comma-separated: day, week, month, store, ba, sku, category, channel (a
    /// chart: one of day, week, month and at most one other).
    #[arg(long, value_delimiter = ',', default_value = "day")]
    pub by: Vec<String>,
    /// Only these stores (ids, comma-separated).
    #[arg(long = "stores", value_delimiter = ',')]
    pub store_ids: Option<Vec<i64>>,
}

/// What `rouge reports export` asks for.
pub struct ExportRequest {
    pub report: ReportArgs,
    /// Metrics by name (`net_revenue`, ...).
    pub metrics: Vec<String>,
    pub format: ExportFormat,
    pub detail: ExportDetail,
}

fn parse_enum<T: serde::de::DeserializeOwned>(what: &str, name: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(name.trim().to_ascii_uppercase()))
        .with_context(|| format!("unknown {what} {name:?}"))
}

pub fn parse_format(s: &str) -> anyhow::Result<ExportFormat> {
    match s.to_ascii_lowercase().as_str() {
        "csv" => Ok(ExportFormat::Csv),
        "xlsx" => Ok(ExportFormat::Xlsx),
        other => anyhow::bail!("unknown format {other:?}: csv or xlsx"),
    }
}

pub fn parse_detail(s: &str) -> anyhow::Result<ExportDetail> {
    match s.to_ascii_lowercase().as_str() {
        "summary" => Ok(ExportDetail::Summary),
        "lines" => Ok(ExportDetail::Lines),
        other => anyhow::bail!("unknown detail {other:?}: summary or lines"),
    }
}

struct Bar(ProgressBar);

#[async_trait]
impl ExportProgress for Bar {
    async fn total(&mut self, rows: u64) {
        self.0.set_length(rows);
    }
    async fn done(&mut self, rows: u64) {
        self.0.set_position(rows);
    }
}

/// The active staff account named `username`, as a principal.
async fn staff_named(app: &AppState, username: &str) -> anyhow::Result<StaffPrincipal> {
    let account = entities::staff_account::Entity::find()
        .filter(entities::staff_account::Column::Username.eq(username))
        .one(&app.db)
        .await?
        .filter(|a| a.active)
        .with_context(|| format!("no active staff account {username:?}"))?;
    Ok(StaffPrincipal {
        staff_id: account.id,
        role: account.role,
        store_id: account.store_id,
        session_id: "cli".into(),
    })
}

/// The staff member and the report query the command line names.
async fn asked(
    app: &AppState,
    report: &ReportArgs,
    metrics: &[String],
) -> anyhow::Result<(StaffPrincipal, reports::ReportQuery)> {
    let staff = staff_named(app, &report.staff_username).await?;
    Ok((staff, query_of(report, metrics)?))
}

/// The report query the command line names.
fn query_of(report: &ReportArgs, metrics: &[String]) -> anyhow::Result<reports::ReportQuery> {
    let metrics = metrics
        .iter()
        .map(|m| parse_enum::<Metric>("metric", m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let group_by = report
        .by
        .iter()
        .map(|d| parse_enum::<Dimension>("dimension", d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(reports::ReportQuery {
        metrics,
        group_by,
        from: report.from,
        to: report.to,
        store_ids: report.store_ids.clone(),
        compare: false,
        basis: reports::ReturnsBasis::ReturnDate,
    })
}

/// What `rouge reports chart` asks for.
pub struct ChartRequest {
    pub report: ReportArgs,
    pub metric: String,
    pub title: Option<String>,
}

/// Draws the report's metric to `out` (which must not exist yet) as an SVG file.
pub async fn chart(app: &AppState, req: &ChartRequest, out: &Path) -> anyhow::Result<()> {
    let (staff, q) = asked(app, &req.report, std::slice::from_ref(&req.metric)).await?;
    if out.exists() {
        anyhow::bail!("{} exists already", out.display());
    }
    let report = reports::sales_report(app, &staff, &q)
        .await
        .map_err(|e| anyhow::anyhow!("report failed: {e}"))?;
    let title = req
        .title
        .clone()
        .unwrap_or_else(|| format!("{} · {} – {}", req.metric, q.from, q.to));
    let svg = reports::render_svg(&report, q.metrics[0], &title)
        .map_err(|e| anyhow::anyhow!("cannot draw: {e}"))?;
    std::fs::write(out, svg).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// Writes the export to `out` (which must not exist yet); returns the data rows written.
pub async fn run(app: &AppState, req: &ExportRequest, out: &Path) -> anyhow::Result<u64> {
    let (staff, q) = asked(app, &req.report, &req.metrics).await?;
    if out.exists() {
        anyhow::bail!("{} exists already", out.display());
    }
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut progress = Bar(bar.clone());
    let rows = reports::export_to_file(
        app,
        &staff,
        &q,
        (req.format, req.detail),
        out,
        &mut progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!("export failed: {e}"))?;
    bar.finish();
    Ok(rows)
}
