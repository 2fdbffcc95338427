//! The mini-program reports what members answered to wx.requestSubscribeMessage.

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use domain::subscriptions::{self, ConsentAnswer};

use crate::context::{app, member};
use crate::error::ApiResult;

/// wx.requestSubscribeMessage's answer for one template.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionAnswer {
    Accept,
    Reject,
    /// The member switched the template off in WeChat's settings.
    Ban,
}

#[derive(InputObject)]
pub struct SubscriptionResultInput {
    pub template_id: String,
    pub answer: SubscriptionAnswer,
}

/// Unused one-time consents for a template (each send uses one).
#[derive(SimpleObject)]
pub struct SubscriptionConsent {
    pub template_id: String,
    pub remaining: i32,
}

fn view(counts: Vec<subscriptions::ConsentCount>) -> Vec<SubscriptionConsent> {
    counts
        .into_iter()
        .map(|c| SubscriptionConsent {
            template_id: c.template_id,
            remaining: c.remaining,
        })
        .collect()
}

#[derive(Default)]
pub struct ConsumerSubscriptionsQuery;

#[Object]
impl ConsumerSubscriptionsQuery {
    async fn my_subscription_consents(
        &self,
        ctx: &Context<'_>,
    ) -> ApiResult<Vec<SubscriptionConsent>> {
        let me = member(ctx).await?;
        Ok(view(subscriptions::counts(app(ctx), me.member_id).await?))
    }
}

#[derive(Default)]
pub struct ConsumerSubscriptionsMutation;

#[Object]
impl ConsumerSubscriptionsMutation {
    /// Reports the result of one wx.requestSubscribeMessage call; returns the member's counts.
    async fn record_subscriptions(
        &self,
        ctx: &Context<'_>,
        results: Vec<SubscriptionResultInput>,
    ) -> ApiResult<Vec<SubscriptionConsent>> {
        let me = member(ctx).await?;
        let answers: Vec<(String, ConsentAnswer)> = results
            .into_iter()
            .map(|r| {
                let answer = match r.answer {
                    SubscriptionAnswer::Accept => ConsentAnswer::Accept,
                    SubscriptionAnswer::Reject => ConsentAnswer::Reject,
                    SubscriptionAnswer::Ban => ConsentAnswer::Ban,
                };
                (r.template_id, answer)
            })
            .collect();
        Ok(view(subscriptions::record(app(ctx), me, &answers).await?))
    }
}
