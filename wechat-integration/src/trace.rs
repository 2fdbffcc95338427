//! Trace context on outgoing calls: each request to WeChat carries the W3C `traceparent` (and
//! `tracestate`) of the current span, through the process's global propagator (set by the app's
//! telemetry; with none set, nothing is added).

use opentelemetry::propagation::Injector;

struct Headers(Vec<(String, String)>);

impl Injector for Headers {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

pub(crate) trait Traced {
    /// The request with the current trace context's headers.
    fn traced(self) -> Self;
}

impl Traced for reqwest::RequestBuilder {
    fn traced(self) -> Self {
        let mut headers = Headers(Vec::new());
        opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.inject_context(&opentelemetry::Context::current(), &mut headers);
        });
        headers
            .0
            .into_iter()
            .fold(self, |request, (name, value)| request.header(name, value))
    }
}
