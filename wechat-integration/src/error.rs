/// A failure talking to WeChat, sorted by what the caller can do about it (see [`WeChatError::kind`]).
#[derive(Debug, thiserror::Error)]
pub enum WeChatError {
    /// The mini-program API answered with an errcode other than 0.
    #[error("WeChat error {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    /// WeChat Pay answered 4xx/5xx with its `{code, message}` body.
    #[error("WeChat Pay error {status} {code}: {message}")]
    Pay {
        status: u16,
        code: String,
        message: String,
    },
    /// No usable HTTP answer (connect, timeout, body), kept without its URL: the query may
    /// carry the app secret or the access token.
    #[error("could not reach WeChat")]
    Transport(#[source] reqwest::Error),
    #[error("unexpected answer from WeChat: {0}")]
    Decode(String),
    /// A response or notification whose signature or timestamp does not check out.
    #[error("signature check failed: {0}")]
    Signature(String),
    #[error("cryptography failed: {0}")]
    Crypto(String),
    #[error("WeChat configuration: {0}")]
    Config(String),
}

/// What kind of failure it is, decided by errcode or status, never by message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeChatErrorKind {
    /// 40029: the code is invalid or expired.
    InvalidCode,
    /// 40163: the code was already used.
    CodeUsed,
    /// 40226: WeChat blocks this high-risk user.
    Blocked,
    /// 45011: per-minute limit; back off.
    RateLimited,
    /// 45009: daily quota reached; stop for the day.
    DailyQuota,
    /// -1, HTTP 5xx, transport failures: retry later.
    Busy,
    /// 43101: no unused subscription consent left (do not retry).
    ConsentExhausted,
    /// 47003: a template value breaks its key's rule.
    InvalidValue,
    /// 40003: the openid is not valid.
    InvalidOpenid,
    /// 40037: the template id is not valid.
    InvalidTemplate,
    /// 40169: the mini-program code scene is not valid.
    InvalidScene,
    /// 41030: the page is not in the released mini-program.
    InvalidPage,
    /// 40001, 40014, 42001: the access token is invalid or expired.
    TokenInvalid,
    Signature,
    Other,
}

impl WeChatError {
    /// A transport error without its URL (query strings carry secrets and tokens).
    pub(crate) fn transport(e: reqwest::Error) -> Self {
        Self::Transport(e.without_url())
    }

    /// The same failure again, for callers that shared one attempt (a reqwest error cannot be
    /// cloned, so a transport failure is echoed as errcode -1, which is also `Busy`).
    pub(crate) fn echo(&self) -> Self {
        match self {
            Self::Api { errcode, errmsg } => Self::Api {
                errcode: *errcode,
                errmsg: errmsg.clone(),
            },
            Self::Pay {
                status,
                code,
                message,
            } => Self::Pay {
                status: *status,
                code: code.clone(),
                message: message.clone(),
            },
            Self::Transport(e) => Self::Api {
                errcode: -1,
                errmsg: format!("could not reach WeChat: {e}"),
            },
            Self::Decode(m) => Self::Decode(m.clone()),
            Self::Signature(m) => Self::Signature(m.clone()),
            Self::Crypto(m) => Self::Crypto(m.clone()),
            Self::Config(m) => Self::Config(m.clone()),
        }
    }

    pub fn kind(&self) -> WeChatErrorKind {
        use WeChatErrorKind as K;
        match self {
            Self::Api { errcode, .. } => match errcode {
                40029 => K::InvalidCode,
                40163 => K::CodeUsed,
                40226 => K::Blocked,
                45011 => K::RateLimited,
                45009 => K::DailyQuota,
                -1 => K::Busy,
                43101 => K::ConsentExhausted,
                47003 => K::InvalidValue,
                40003 => K::InvalidOpenid,
                40037 => K::InvalidTemplate,
                40169 => K::InvalidScene,
                41030 => K::InvalidPage,
                40001 | 40014 | 42001 => K::TokenInvalid,
                _ => K::Other,
            },
            Self::Pay { status, code, .. } => match (status, code.as_str()) {
                (500..=599, _) | (_, "SYSTEM_ERROR" | "SYSTEMERROR") => K::Busy,
                (429, _)
                | (_, "FREQUENCY_LIMITED" | "RATELIMIT_EXCEEDED" | "FREQUENCY_LIMIT_EXCEED") => {
                    K::RateLimited
                }
                (_, "SIGN_ERROR") => K::Signature,
                _ => K::Other,
            },
            Self::Transport(_) => K::Busy,
            Self::Signature(_) => K::Signature,
            Self::Decode(_) | Self::Crypto(_) | Self::Config(_) => K::Other,
        }
    }

    /// Worth trying again with the same request.
    pub fn is_retryable(&self) -> bool {
        self.kind() == WeChatErrorKind::Busy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(errcode: i64) -> WeChatError {
        WeChatError::Api {
            errcode,
            errmsg: "whatever the text says rid: 1".into(),
        }
    }

    #[test]
    fn kinds_follow_errcodes_and_statuses() {
        use WeChatErrorKind as K;
        for (code, kind) in [
            (40029, K::InvalidCode),
            (40163, K::CodeUsed),
            (40226, K::Blocked),
            (45011, K::RateLimited),
            (45009, K::DailyQuota),
            (-1, K::Busy),
            (43101, K::ConsentExhausted),
            (47003, K::InvalidValue),
            (40003, K::InvalidOpenid),
            (40037, K::InvalidTemplate),
            (40169, K::InvalidScene),
            (41030, K::InvalidPage),
            (40001, K::TokenInvalid),
            (40014, K::TokenInvalid),
            (42001, K::TokenInvalid),
            (12345, K::Other),
        ] {
            assert_eq!(api(code).kind(), kind, "{code}");
            assert_eq!(api(code).is_retryable(), kind == K::Busy, "{code}");
            assert_eq!(api(code).echo().kind(), kind);
        }
        let pay = |status, code: &str| WeChatError::Pay {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(pay(502, "").kind(), K::Busy);
        assert_eq!(pay(429, "FREQUENCY_LIMITED").kind(), K::RateLimited);
        assert_eq!(pay(401, "SIGN_ERROR").kind(), K::Signature);
        assert_eq!(pay(400, "INVALID_REQUEST").kind(), K::Other);
        assert!(pay(500, "SYSTEM_ERROR").is_retryable());
        assert_eq!(WeChatError::Signature("x".into()).kind(), K::Signature);
    }
}
