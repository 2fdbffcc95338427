//! The demo build's parts (the `demo` feature): the in-process fake WeChat and the demo data
//! whose members log in through it. Left out of the production image.

use std::sync::Arc;

use anyhow::Context as _;
use domain::AppState;
use domain::platform::kv::KvAccessTokenCache;
use domain::subscriptions::{ConsentAnswer, SubscriptionConsentSink};
use wechat_integration::fake::{FakeConfig, FakeWeChat};
use wechat_integration::{MiniProgramClient, WeChatPayClient};

use crate::WeChatWiring;

/// Starts the fake WeChat and points the clients at it. `notify_url` is where the fake sends
/// WeChat Pay notifications (this server); its key pairs are kept in `keys_dir` (under the data
/// folder), so a restart does not generate them again.
pub(crate) async fn connect_fake_wechat(
    cache: Arc<KvAccessTokenCache>,
    notify_url: &str,
    keys_dir: std::path::PathBuf,
) -> anyhow::Result<WeChatWiring> {
    let fake = FakeWeChat::start(FakeConfig {
        keys_dir: Some(keys_dir),
        ..FakeConfig::default()
    })
    .await
    .context("could not start the fake WeChat")?;
    let client = MiniProgramClient::new(fake.mini_program_config(), cache)?;
    let pay = WeChatPayClient::new(fake.pay_config(notify_url))?;
    Ok(WeChatWiring {
        client: Arc::new(client),
        pay: Arc::new(pay),
        fake: Some(fake),
    })
}

/// The fake WeChat learns the consents members report through `recordSubscriptions`, as real
/// WeChat learns them from the mini-program's wx.requestSubscribeMessage (so demo campaigns and
/// booking reminders send). Only the demo build has it, and only with the fake WeChat.
pub struct FakeConsentSink(pub FakeWeChat);

impl SubscriptionConsentSink for FakeConsentSink {
    fn reported(&self, openid: &str, answers: &[(String, ConsentAnswer)]) {
        for (template, answer) in answers {
            match answer {
                ConsentAnswer::Accept => self.0.add_consents(openid, template, 1),
                ConsentAnswer::Ban => self.0.clear_consents(openid, template),
                ConsentAnswer::Reject => {}
            }
        }
    }
}

/// The sink for `fake`.
pub fn consent_sink(fake: &FakeWeChat) -> Arc<dyn SubscriptionConsentSink> {
    Arc::new(FakeConsentSink(fake.clone()))
}

/// Gives a fake WeChat that just started (empty) the consents Rouge has counted, so a demo
/// restarted on its SQLite file still sends what members granted before.
pub async fn restore_fake_consents(state: &AppState, fake: &FakeWeChat) -> anyhow::Result<()> {
    for (openid, template, remaining) in domain::subscriptions::counted_consents(state).await? {
        fake.add_consents(&openid, &template, u32::try_from(remaining).unwrap_or(0));
    }
    Ok(())
}

/// Loads the demo data (stores, staff, distributor, members with the fake's openids) unless it
/// is there already; true when it was loaded now.
pub async fn seed(state: &AppState) -> anyhow::Result<bool> {
    Ok(domain::seed::demo(state, FakeWeChat::openid_for).await?)
}
