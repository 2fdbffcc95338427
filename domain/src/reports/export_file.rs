//! Writing a report export to a local file, row by row: CSV through `csv`, XLSX through
//! `rust_xlsxwriter` in constant-memory mode (each row goes to a temporary file as it is
//! written). SUMMARY exports write the rows of `sales_report`; LINES exports read the sales facts
//! in keyset pages on a task of their own, at most two pages ahead of the writer, so memory stays
//! flat whatever the range. A member appears only as her id and her masked phone (`138****1234`).

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::metrics::{Metric, ReturnsBasis, api_name};
use super::sales_report::{ReportQuery, ReportValue, check, sales_report, scope};
use super::{ReportsError, invalid};
use crate::AppState;
use crate::auth::{AuthError, StaffPrincipal, StaffRole};
use entities::report_export_job::{ExportDetail, ExportFormat};
use entities::sales_fact;
use entities::{member, sku, store};

/// Facts read per page of a LINES export.
const PAGE: u64 = 1_000;
/// The most data rows one XLSX sheet holds (1,048,576 less the header).
const XLSX_MAX_ROWS: u64 = 1_048_575;

/// Told how far an export is: the number of rows once known, then rows written so far.
#[async_trait]
pub trait ExportProgress: Send {
    async fn total(&mut self, rows: u64);
    async fn done(&mut self, rows: u64);
}

/// Progress nobody watches.
pub struct NoProgress;

#[async_trait]
impl ExportProgress for NoProgress {
    async fn total(&mut self, _: u64) {}
    async fn done(&mut self, _: u64) {}
}

/// One cell of an exported row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Empty,
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Self::Text(s.into())
    }
    fn id(v: Option<i64>) -> Self {
        v.map_or(Self::Empty, Self::Int)
    }
}

/// A CSV or XLSX file being written row by row (XLSX in constant memory). Other capabilities'
/// exports (the distributor statement) write through it too.
pub enum Sink {
    Csv(Box<csv::Writer<std::io::BufWriter<std::fs::File>>>),
    Xlsx {
        workbook: Box<rust_xlsxwriter::Workbook>,
        row: u32,
    },
}

fn failed(e: impl std::fmt::Display) -> ReportsError {
    ReportsError::Export(e.to_string())
}

impl Sink {
    fn open(format: ExportFormat, file: &Path) -> Result<Self, ReportsError> {
        Self::open_sheet(format, file, "report")
    }

    /// Opens `file`; an XLSX gets one sheet named `sheet`.
    pub fn open_sheet(
        format: ExportFormat,
        file: &Path,
        sheet: &str,
    ) -> Result<Self, ReportsError> {
        match format {
            ExportFormat::Csv => {
                let out = std::fs::File::create(file).map_err(failed)?;
                Ok(Self::Csv(Box::new(csv::Writer::from_writer(
                    std::io::BufWriter::new(out),
                ))))
            }
            ExportFormat::Xlsx => {
                let mut workbook = rust_xlsxwriter::Workbook::new();
                if let Some(dir) = file.parent() {
                    workbook.set_tempdir(dir).map_err(failed)?;
                }
                workbook
                    .add_worksheet_with_constant_memory()
                    .map_err(failed)?
                    .set_name(sheet)
                    .map_err(failed)?;
                Ok(Self::Xlsx {
                    workbook: Box::new(workbook),
                    row: 0,
                })
            }
        }
    }

    pub fn header(&mut self, names: &[&str]) -> Result<(), ReportsError> {
        let cells: Vec<Cell> = names.iter().map(|n| Cell::text(*n)).collect();
        self.row(&cells)
    }

    pub fn row(&mut self, cells: &[Cell]) -> Result<(), ReportsError> {
        match self {
            Self::Csv(w) => {
                let record: Vec<String> = cells
                    .iter()
                    .map(|c| match c {
                        Cell::Text(s) => s.clone(),
                        Cell::Int(i) => i.to_string(),
                        Cell::Num(n) => n.to_string(),
                        Cell::Empty => String::new(),
                    })
                    .collect();
                w.write_record(&record).map_err(failed)
            }
            Self::Xlsx { workbook, row } => {
                let sheet = workbook.worksheet_from_index(0).map_err(failed)?;
                for (col, cell) in cells.iter().enumerate() {
                    let col = u16::try_from(col).map_err(failed)?;
                    match cell {
                        Cell::Text(s) => sheet.write_string(*row, col, s).map(|_| ()),
                        // Ids and fen stay far below 2^53: exact as a spreadsheet number.
                        #[allow(clippy::cast_precision_loss)]
                        Cell::Int(i) => sheet.write_number(*row, col, *i as f64).map(|_| ()),
                        Cell::Num(n) => sheet.write_number(*row, col, *n).map(|_| ()),
                        Cell::Empty => Ok(()),
                    }
                    .map_err(failed)?;
                }
                *row += 1;
                Ok(())
            }
        }
    }

    pub async fn finish(self, file: &Path) -> Result<(), ReportsError> {
        match self {
            Self::Csv(mut w) => {
                w.flush().map_err(failed)?;
                let inner = (*w).into_inner().map_err(failed)?;
                let out = inner.into_inner().map_err(failed)?;
                out.sync_all().map_err(failed)
            }
            Self::Xlsx { mut workbook, .. } => {
                let file = file.to_path_buf();
                tokio::task::spawn_blocking(move || workbook.save(&file))
                    .await
                    .map_err(failed)?
                    .map_err(failed)
            }
        }
    }
}

/// Checks the query as `salesReport` does and applies the caller's store scope, so the export
/// holds exactly what she may see. LINES name members: finance (no member detail) is refused.
pub(super) fn authorize(
    staff: &StaffPrincipal,
    q: &ReportQuery,
    detail: ExportDetail,
) -> Result<ReportQuery, ReportsError> {
    check(staff, q)?;
    let stores = scope(staff, q.store_ids.as_deref())?;
    if detail == ExportDetail::Lines && staff.role == StaffRole::Finance {
        return Err(AuthError::Forbidden.into());
    }
    let mut scoped = q.clone();
    scoped.store_ids = stores;
    Ok(scoped)
}

/// Writes the export to `file` and returns how many data rows it holds.
pub async fn write_export(
    app: &AppState,
    staff: &StaffPrincipal,
    q: &ReportQuery,
    detail: ExportDetail,
    format: ExportFormat,
    file: &Path,
    progress: &mut dyn ExportProgress,
) -> Result<u64, ReportsError> {
    let q = authorize(staff, q, detail)?;
    let mut sink = Sink::open(format, file)?;
    let rows = match detail {
        ExportDetail::Summary => summary(app, staff, &q, &mut sink, progress).await?,
        ExportDetail::Lines => lines(app, &q, format, &mut sink, progress).await?,
    };
    sink.finish(file).await?;
    progress.done(rows).await;
    Ok(rows)
}

fn metric_column(m: Metric) -> String {
    let name = api_name(&m);
    let unit = m.definition().unit;
    format!("{name} ({unit})")
}

fn value_cell(v: &ReportValue) -> Cell {
    match (v.fen, v.number) {
        (Some(fen), _) => Cell::Int(fen),
        (None, Some(n)) => Cell::Num(n),
        (None, None) => Cell::Empty,
    }
}

async fn summary(
    app: &AppState,
    staff: &StaffPrincipal,
    q: &ReportQuery,
    sink: &mut Sink,
    progress: &mut dyn ExportProgress,
) -> Result<u64, ReportsError> {
    let report = sales_report(app, staff, q).await?;
    let total = report.rows.len() as u64;
    progress.total(total).await;
    let mut header: Vec<String> = Vec::new();
    for d in &report.dimensions {
        let name = api_name(d);
        header.push(format!("{name} key"));
        header.push(name);
    }
    header.extend(report.metrics.iter().map(|m| metric_column(*m)));
    let names: Vec<&str> = header.iter().map(String::as_str).collect();
    sink.header(&names)?;
    let mut written = 0u64;
    for row in &report.rows {
        let mut cells = Vec::with_capacity(names.len());
        for k in &row.keys {
            cells.push(Cell::text(k.key.clone()));
            cells.push(Cell::text(k.label.clone()));
        }
        cells.extend(row.values.iter().map(value_cell));
        sink.row(&cells)?;
        written += 1;
        if written.is_multiple_of(PAGE) {
            progress.done(written).await;
        }
    }
    let mut totals = vec![Cell::Empty; report.dimensions.len() * 2];
    if let Some(first) = totals.get_mut(1) {
        *first = Cell::text("TOTAL");
    } else {
        totals.push(Cell::text("TOTAL"));
    }
    totals.extend(report.totals.iter().map(value_cell));
    sink.row(&totals)?;
    Ok(written)
}

const LINE_COLUMNS: &[&str] = &[
    "fact id",
    "business date",
    "sale date",
    "event",
    "order id",
    "store id",
    "store",
    "channel",
    "BA id",
    "member id",
    "member phone (masked)",
    "SKU id",
    "SKU",
    "quantity",
    "gross (FEN)",
    "discount (FEN)",
    "coupon discount (FEN)",
    "net (FEN)",
    "cost (FEN)",
];

/// Names of stores and SKUs met so far (few: bounded by the catalog, not by the rows).
#[derive(Default)]
struct Names {
    stores: HashMap<i64, String>,
    skus: HashMap<i64, String>,
}

impl Names {
    async fn learn(
        &mut self,
        db: &DatabaseConnection,
        page: &[sales_fact::Model],
    ) -> Result<(), ReportsError> {
        let stores: Vec<i64> = page
            .iter()
            .filter_map(|f| f.store_id)
            .filter(|id| !self.stores.contains_key(id))
            .collect();
        if !stores.is_empty() {
            for s in store::Entity::find()
                .filter(store::Column::Id.is_in(stores))
                .all(db)
                .await?
            {
                self.stores.insert(s.id, s.name);
            }
        }
        let skus: Vec<i64> = page
            .iter()
            .map(|f| f.sku_id)
            .filter(|id| !self.skus.contains_key(id))
            .collect();
        if !skus.is_empty() {
            for s in sku::Entity::find()
                .filter(sku::Column::Id.is_in(skus))
                .all(db)
                .await?
            {
                self.skus.insert(s.id, s.code);
            }
        }
        Ok(())
    }
}

/// Masks whatever phone text reaches an export: only the first three and last four digits
/// stay (a stored mask passes through unchanged).
pub fn mask_phone(phone: &str) -> String {
    let national = phone.strip_prefix("+86").unwrap_or(phone);
    let chars: Vec<char> = national.chars().collect();
    if chars.len() < 8 {
        return "****".into();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}****{tail}")
}

async fn lines(
    app: &AppState,
    q: &ReportQuery,
    format: ExportFormat,
    sink: &mut Sink,
    progress: &mut dyn ExportProgress,
) -> Result<u64, ReportsError> {
    let column = match q.basis {
        ReturnsBasis::ReturnDate => sales_fact::Column::BusinessDate,
        ReturnsBasis::SaleDate => sales_fact::Column::SaleDate,
    };
    let mut base = sales_fact::Entity::find().filter(column.between(q.from, q.to));
    if let Some(ids) = &q.store_ids {
        base = base.filter(sales_fact::Column::StoreId.is_in(ids.clone()));
    }
    let total = base.clone().count(&app.db).await?;
    if format == ExportFormat::Xlsx && total > XLSX_MAX_ROWS {
        return Err(invalid(
            "more lines than one XLSX sheet holds: export CSV or a shorter range",
        ));
    }
    progress.total(total).await;
    sink.header(LINE_COLUMNS)?;
    // The next pages are read and made into cells while this one is written: the database and
    // the file writer work at once. At most PAGES_AHEAD pages wait, so memory stays flat.
    let (pages, mut ready) = tokio::sync::mpsc::channel(PAGES_AHEAD);
    let reader = tokio::spawn(read_line_pages(app.db.clone(), base, pages));
    let mut written = 0u64;
    while let Some(page) = ready.recv().await {
        let page: Vec<Vec<Cell>> = page?;
        for cells in &page {
            sink.row(cells)?;
        }
        written += page.len() as u64;
        progress.done(written).await;
    }
    // A reader that stopped without sending its error (a panic) must not pass for the end.
    reader
        .await
        .map_err(|e| ReportsError::Export(format!("the line reader stopped: {e}")))?;
    Ok(written)
}

/// Pages of export lines read ahead of the writer.
const PAGES_AHEAD: usize = 2;

/// Reads the facts of `base` in keyset pages and sends each as rows of cells, with the store
/// and SKU names and the member's masked phone. Stops at the end, at an error (sent on), or
/// when the writer has gone.
async fn read_line_pages(
    db: DatabaseConnection,
    base: sea_orm::Select<sales_fact::Entity>,
    pages: tokio::sync::mpsc::Sender<Result<Vec<Vec<Cell>>, ReportsError>>,
) {
    let mut names = Names::default();
    let mut after = 0i64;
    loop {
        let page = match line_page(&db, &base, after, &mut names).await {
            Ok(Some((last, rows))) => {
                after = last;
                Ok(rows)
            }
            Ok(None) => return,
            Err(e) => Err(e),
        };
        let failed = page.is_err();
        if pages.send(page).await.is_err() || failed {
            return;
        }
    }
}

/// The page of facts after id `after` as rows of cells, and its last id; None past the end.
async fn line_page(
    db: &DatabaseConnection,
    base: &sea_orm::Select<sales_fact::Entity>,
    after: i64,
    names: &mut Names,
) -> Result<Option<(i64, Vec<Vec<Cell>>)>, ReportsError> {
    let page = base
        .clone()
        .filter(sales_fact::Column::Id.gt(after))
        .order_by_asc(sales_fact::Column::Id)
        .limit(PAGE)
        .all(db)
        .await?;
    let Some(last) = page.last().map(|f| f.id) else {
        return Ok(None);
    };
    names.learn(db, &page).await?;
    let member_ids: Vec<i64> = page.iter().map(|f| f.member_id).collect();
    let phones: HashMap<i64, String> = member::Entity::find()
        .select_only()
        .column(member::Column::Id)
        .column(member::Column::PhoneMasked)
        .filter(member::Column::Id.is_in(member_ids))
        .into_tuple::<(i64, Option<String>)>()
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(id, phone)| phone.map(|p| (id, mask_phone(&p))))
        .collect();
    let rows = page
        .iter()
        .map(|f| {
            vec![
                Cell::Int(f.id),
                Cell::text(f.business_date.to_string()),
                Cell::text(f.sale_date.to_string()),
                Cell::text(format!("{:?}", f.event).to_uppercase()),
                Cell::Int(f.order_id),
                Cell::id(f.store_id),
                f.store_id
                    .and_then(|s| names.stores.get(&s).cloned())
                    .map_or(Cell::Empty, Cell::Text),
                Cell::text(f.channel.as_str()),
                Cell::id(f.ba_id),
                Cell::Int(f.member_id),
                phones
                    .get(&f.member_id)
                    .cloned()
                    .map_or(Cell::Empty, Cell::Text),
                Cell::Int(f.sku_id),
                names
                    .skus
                    .get(&f.sku_id)
                    .cloned()
                    .map_or(Cell::Empty, Cell::Text),
                Cell::Int(i64::from(f.quantity)),
                Cell::Int(f.gross_fen),
                Cell::Int(f.discount_fen),
                Cell::Int(f.coupon_discount_fen),
                Cell::Int(f.net_fen),
                Cell::Int(f.cost_fen),
            ]
        })
        .collect();
    Ok(Some((last, rows)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_three_and_four_digits() {
        assert_eq!(mask_phone("+8613812341234"), "138****1234");
        assert_eq!(mask_phone("13812341234"), "138****1234");
        assert_eq!(mask_phone("138****1234"), "138****1234");
        assert_eq!(mask_phone("12345"), "****");
    }
}
