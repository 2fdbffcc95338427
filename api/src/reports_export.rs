//! `rouge reports export`: a sales report written straight to a file (CSV or XLSX), as a named
//! staff account would see it (her role's access and store scope), with a progress bar. The
//! export is audited like one made through `exportReport`.

use std::path::Path;

use anyhow::Context as _;
use async_trait::async_trait;
use domain::AppState;
use domain::auth::StaffPrincipal;
use domain::reports::{self, Dimension, ExportDetail, ExportFormat, ExportProgress, Metric};
use indicatif::{ProgressBar, ProgressStyle};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

/// What the command line asks for.
pub struct ExportRequest {
    pub staff_username: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    /// Dimensions by name (`day`, `store`, ...).
    pub by: Vec<String>,
    /// Metrics by name (`net_revenue`, ...).
    pub metrics: Vec<String>,
    pub store_ids: Option<Vec<i64>>,
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

/// Writes the export to `out` (which must not exist yet); returns the data rows written.
pub async fn run(app: &AppState, req: &ExportRequest, out: &Path) -> anyhow::Result<u64> {
    let account = entities::staff_account::Entity::find()
        .filter(entities::staff_account::Column::Username.eq(req.staff_username.clone()))
        .one(&app.db)
        .await?
        .filter(|a| a.active)
        .with_context(|| format!("no active staff account {:?}", req.staff_username))?;
    let staff = StaffPrincipal {
        staff_id: account.id,
        role: account.role,
        store_id: account.store_id,
        session_id: "cli".into(),
    };
    let metrics = req
        .metrics
        .iter()
        .map(|m| parse_enum::<Metric>("metric", m))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let group_by = req
        .by
        .iter()
        .map(|d| parse_enum::<Dimension>("dimension", d))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let q = reports::ReportQuery {
        metrics,
        group_by,
        from: req.from,
        to: req.to,
        store_ids: req.store_ids.clone(),
        compare: false,
        basis: reports::ReturnsBasis::ReturnDate,
    };
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
