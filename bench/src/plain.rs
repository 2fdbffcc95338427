//! The HTTP ceiling of the machine for the catalog: a plain poem handler answering every POST
//! with the bytes the real server answered, in its own process (`rouge-bench plain-server`, the
//! same way the server runs), loaded by the same generator. The catalog's ratio is taken
//! against it.

use std::path::PathBuf;

use bytes::Bytes;
use poem::listener::TcpAcceptor;
use poem::web::Data;
use poem::{EndpointExt, Response, Route, post};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The response body to answer with.
    #[arg(long)]
    body: PathBuf,
}

#[poem::handler]
async fn answer(request: poem::Body, page: Data<&Bytes>) -> Response {
    // Read the request as the server does, then answer the same bytes.
    let _ = request.into_bytes().await;
    Response::builder()
        .content_type("application/json")
        .body(page.0.clone())
}

/// Serves until killed; prints `rouge listening on <url>` when ready.
pub async fn serve(args: Args) -> anyhow::Result<()> {
    let page = Bytes::from(std::fs::read(&args.body)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("rouge listening on http://{}", listener.local_addr()?);
    let app = Route::new()
        .at("/graphql/consumer", post(answer))
        .data(page);
    poem::Server::new_with_acceptor(TcpAcceptor::from_tokio(listener)?)
        .run(app)
        .await?;
    Ok(())
}
