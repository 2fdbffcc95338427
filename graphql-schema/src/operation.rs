//! Which operation a request ran, for the HTTP layer's metrics and spans: async-graphql calls
//! an extension's `execute` only once the document has been validated against the schema and
//! the operation chosen, so a name reported here belongs to a valid operation (a document
//! that fails validation reports nothing, and is counted as anonymous).

use std::sync::{Arc, OnceLock};

use async_graphql::Response;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};

/// Put into a request's data by the caller; filled in when the operation executes.
#[derive(Clone, Default)]
pub struct ExecutedOperation(Arc<OnceLock<Option<String>>>);

impl ExecutedOperation {
    /// `None` when the request never reached execution (it did not parse or validate);
    /// `Some(None)` for a valid operation without a name.
    pub fn get(&self) -> Option<Option<&str>> {
        self.0.get().map(Option::as_deref)
    }
}

/// Adds the report to a schema.
pub struct ReportOperation;

impl ExtensionFactory for ReportOperation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ReportOperation)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ReportOperation {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Some(slot) = ctx.data_opt::<ExecutedOperation>() {
            let _ = slot.0.set(operation_name.map(str::to_owned));
        }
        next.run(ctx, operation_name).await
    }
}
