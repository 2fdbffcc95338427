//! The demo build's parts (the `demo` feature): the in-process fake WeChat and the demo data
//! whose members log in through it. Left out of the production image.

use std::sync::Arc;

use anyhow::Context as _;
use domain::AppState;
use domain::platform::kv::KvAccessTokenCache;
use wechat_integration::fake::{FakeConfig, FakeWeChat};
use wechat_integration::{MiniProgramClient, WeChatPayClient};

use crate::WeChatWiring;

/// Starts the fake WeChat and points the clients at it. `notify_url` is where the fake sends
/// WeChat Pay notifications (this server).
pub(crate) async fn connect_fake_wechat(
    cache: Arc<KvAccessTokenCache>,
    notify_url: &str,
) -> anyhow::Result<WeChatWiring> {
    let fake = FakeWeChat::start(FakeConfig::default())
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

/// Loads the demo data (stores, staff, distributor, members with the fake's openids) unless it
/// is there already; true when it was loaded now.
pub async fn seed(state: &AppState) -> anyhow::Result<bool> {
    Ok(domain::seed::demo(state, FakeWeChat::openid_for).await?)
}
