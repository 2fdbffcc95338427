//! GraphiQL with its assets in the binary: public CDNs are slow or blocked in mainland China, so
//! the page (ours, `graphiql.html`) loads React, ReactDOM and GraphiQL's UMD builds from this
//! server only (`api/assets/graphiql/`, versions and licences in its README). Served only where
//! GraphiQL is on (with introspection: development by default).

use poem::http::{StatusCode, header};
use poem::web::Path;
use poem::{IntoResponse, Response, handler};

/// Where the assets are served; the page refers to them under this path.
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// The page every GraphQL endpoint answers a browser's GET with.
pub const PAGE: &str = include_str!("graphiql.html");

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The file names carry the version, so a browser may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Every asset: file name, content type, bytes.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql-4.0.3.min.js",
        JAVASCRIPT,
        include_bytes!("../assets/graphiql/graphiql-4.0.3.min.js"),
    ),
    (
        "graphiql-4.0.3.min.css",
        CSS,
        include_bytes!("../assets/graphiql/graphiql-4.0.3.min.css"),
    ),
    (
        "react-18.3.1.production.min.js",
        JAVASCRIPT,
        include_bytes!("../assets/graphiql/react-18.3.1.production.min.js"),
    ),
    (
        "react-dom-18.3.1.production.min.js",
        JAVASCRIPT,
        include_bytes!("../assets/graphiql/react-dom-18.3.1.production.min.js"),
    ),
];

/// The page, never cached (it names the asset versions).
pub fn page() -> Response {
    Response::builder()
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(PAGE)
}

/// `GET /graphiql/assets/:file`.
#[handler]
pub fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => Response::builder()
            .content_type(*content_type)
            .header(header::CACHE_CONTROL, IMMUTABLE)
            .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
            .body(*bytes),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page names exactly the assets served, all on this server.
    #[test]
    fn the_page_refers_to_every_asset_and_nothing_else() {
        let mut referenced: Vec<&str> = PAGE
            .split(['"', '\''])
            .filter(|s| s.starts_with(ASSETS_PATH))
            .collect();
        referenced.sort_unstable();
        let mut served: Vec<String> = ASSETS
            .iter()
            .map(|(name, _, _)| format!("{ASSETS_PATH}/{name}"))
            .collect();
        served.sort_unstable();
        assert_eq!(referenced, served);
        assert!(!PAGE.contains("http:") && !PAGE.contains("https:"));
    }
}
