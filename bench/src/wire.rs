//! A lean HTTP/1.1 client for the hottest load phases: one keep-alive TCP connection per load
//! slot, each request written from a reused buffer in one call, the answer's head parsed by
//! `httparse` and its body returned as bytes.
//!
//! Why: the load generator shares the machine's two cores with the server, PostgreSQL and
//! Redis. With `reqwest` (pool checkout, header maps, a `serde_json::Value` per answer) it took
//! about a quarter of the CPU during the flash sale, time the server then lacked; every figure
//! measured that way is the server's *and* the generator's. This client does the least a client
//! can, as `redis-benchmark` does for the ceiling. Login, seeding and checks keep `reqwest`.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One keep-alive connection to the server.
pub struct Wire {
    stream: TcpStream,
    host: String,
    request: Vec<u8>,
    answer: Vec<u8>,
}

/// What came back: the status and the body's bytes.
pub struct Answer<'a> {
    pub status: u16,
    pub body: &'a [u8],
}

impl Wire {
    /// Connects to `base_url` (`http://host:port`, as [`crate::env::Server`] gives it).
    pub async fn connect(base_url: &str) -> io::Result<Self> {
        let host = base_url
            .strip_prefix("http://")
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an http:// URL"))?
            .trim_end_matches('/')
            .to_owned();
        let stream = TcpStream::connect(&host).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            host,
            request: Vec::with_capacity(1024),
            answer: Vec::with_capacity(4096),
        })
    }

    /// POSTs a JSON `body` to `path` with a bearer token and reads the whole answer.
    pub async fn post_json(
        &mut self,
        path: &str,
        bearer: &str,
        body: &[u8],
    ) -> io::Result<Answer<'_>> {
        self.request.clear();
        self.request.extend_from_slice(b"POST ");
        self.request.extend_from_slice(path.as_bytes());
        self.request.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        self.request.extend_from_slice(self.host.as_bytes());
        self.request
            .extend_from_slice(b"\r\nContent-Type: application/json\r\nAuthorization: Bearer ");
        self.request.extend_from_slice(bearer.as_bytes());
        self.request.extend_from_slice(b"\r\nContent-Length: ");
        self.request
            .extend_from_slice(body.len().to_string().as_bytes());
        self.request.extend_from_slice(b"\r\n\r\n");
        self.request.extend_from_slice(body);
        self.stream.write_all(&self.request).await?;
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> io::Result<Answer<'_>> {
        self.answer.clear();
        let (head_len, status, body_len) = loop {
            self.fill().await?;
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut head = httparse::Response::new(&mut headers);
            match head.parse(&self.answer) {
                Ok(httparse::Status::Complete(n)) => {
                    let length = head
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .ok_or_else(|| invalid("an answer without Content-Length"))?;
                    break (n, head.code.unwrap_or(0), length);
                }
                Ok(httparse::Status::Partial) => {}
                Err(e) => return Err(invalid(&format!("an answer's head: {e}"))),
            }
        };
        while self.answer.len() < head_len + body_len {
            self.fill().await?;
        }
        Ok(Answer {
            status,
            body: &self.answer[head_len..head_len + body_len],
        })
    }

    async fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.answer.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// One [`Wire`] per load slot, each connected before the clock starts (as a warm client pool
/// would be: hundreds of connects at once would overflow the listen backlog and time SYN
/// retries, not requests). A slot's connection is opened again after a transport error.
pub struct Wires {
    base_url: String,
    slots: Vec<tokio::sync::Mutex<Option<Wire>>>,
}

impl Wires {
    pub async fn connect(base_url: &str, slots: usize) -> io::Result<Self> {
        let mut connected = Vec::with_capacity(slots);
        for _ in 0..slots {
            connected.push(tokio::sync::Mutex::new(Some(
                Wire::connect(base_url).await?,
            )));
        }
        Ok(Self {
            base_url: base_url.to_owned(),
            slots: connected,
        })
    }

    /// POSTs on `slot`'s connection and hands the answer to `read`.
    pub async fn post_json<R>(
        &self,
        slot: usize,
        path: &str,
        bearer: &str,
        body: &[u8],
        read: impl FnOnce(&Answer<'_>) -> R,
    ) -> io::Result<R> {
        let Some(cell) = self.slots.get(slot % self.slots.len().max(1)) else {
            return Err(invalid("no connection slots"));
        };
        let mut wire = cell.lock().await;
        if wire.is_none() {
            *wire = Some(Wire::connect(&self.base_url).await?);
        }
        let Some(connection) = wire.as_mut() else {
            return Err(invalid("no connection"));
        };
        match connection.post_json(path, bearer, body).await {
            Ok(answer) => Ok(read(&answer)),
            Err(e) => {
                *wire = None;
                Err(e)
            }
        }
    }

    /// A GraphQL operation checked the cheap way: Ok for a 200 answer without `errors`, else the
    /// error code (or the answer's start when it has none).
    pub async fn graphql(
        &self,
        slot: usize,
        path: &str,
        bearer: &str,
        body: &[u8],
    ) -> Result<(), String> {
        self.post_json(slot, path, bearer, body, |answer| {
            let failed = answer.status != 200 || find(answer.body, b"\"errors\":").is_some();
            if !failed {
                return Ok(());
            }
            Err(string_field(answer.body, "code").map_or_else(
                || {
                    String::from_utf8_lossy(answer.body)
                        .chars()
                        .take(300)
                        .collect()
                },
                str::to_owned,
            ))
        })
        .await
        .map_err(|e| format!("transport: {e}"))?
    }
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The string value of the first `"name":"…"` in a JSON body, without parsing the rest: enough
/// to tell a ticket from an error code in the load loop (the checks afterwards read the
/// database, not these answers).
pub fn string_field<'a>(body: &'a [u8], name: &str) -> Option<&'a str> {
    let needle = format!("\"{name}\":\"");
    let start = find(body, needle.as_bytes())? + needle.len();
    let len = body[start..].iter().position(|&b| b == b'"')?;
    std::str::from_utf8(&body[start..start + len]).ok()
}

#[cfg(test)]
mod tests {
    use super::string_field;

    #[test]
    fn a_field_is_read_from_the_body() {
        let ticket = br#"{"data":{"grabFlashSale":{"ticket":"t-1","status":"PENDING"}}}"#;
        assert_eq!(string_field(ticket, "ticket"), Some("t-1"));
        let refused =
            br#"{"data":null,"errors":[{"message":"x","extensions":{"code":"SOLD_OUT"}}]}"#;
        assert_eq!(string_field(refused, "ticket"), None);
        assert_eq!(string_field(refused, "code"), Some("SOLD_OUT"));
    }
}
