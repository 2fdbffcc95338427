//! `rouge members export`: everything Rouge holds about one member, written to a file for a
//! request made through customer service (PIPL art. 45). The document is the one the member
//! reads with `exportMyData`; the export is audited with the ticket reference.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use domain::AppState;

/// Writes the member's document to `out` (created new, readable by its owner only on Unix).
pub async fn write(
    app: &AppState,
    member_id: i64,
    reference: &str,
    out: &Path,
) -> anyhow::Result<()> {
    let doc = domain::privacy::export_for_request(app, member_id, reference)
        .await
        .with_context(|| format!("could not export member {member_id}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .with_context(|| format!("could not create {} (it must not exist yet)", out.display()))?;
    serde_json::to_writer_pretty(&mut file, &doc)?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok(())
}
