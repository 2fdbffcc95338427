//! The language of a request's error messages, chosen once per request by the HTTP layer from
//! `Accept-Language` and the endpoint, and put into the request's data.
//!
//! Consumers (the mini-program) read Chinese unless their `Accept-Language` prefers English over
//! Chinese; staff and distributors read English unless it prefers Chinese over English. Other
//! languages in the header do not count: only how Chinese and English compare.

use domain::auth::Audience;

/// The language of the messages a client is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// Simplified Chinese (`zh`, `zh-CN`, ...).
    Zh,
    /// English.
    En,
}

impl Locale {
    /// The language an endpoint answers in when the caller says nothing.
    pub const fn default_for(audience: Audience) -> Self {
        match audience {
            Audience::Consumer => Self::Zh,
            Audience::Staff | Audience::Distributor => Self::En,
        }
    }

    /// The language for a request to an endpoint of `audience` with this `Accept-Language`
    /// header: the one of Chinese and English the header gives the higher weight (`q`), the
    /// earlier listed on a tie, the endpoint's default when it names neither.
    pub fn negotiate(accept_language: Option<&str>, audience: Audience) -> Self {
        let fallback = Self::default_for(audience);
        let Some(header) = accept_language else {
            return fallback;
        };
        // (weight, position) of the best range for each language.
        let mut zh: Option<(u16, usize)> = None;
        let mut en: Option<(u16, usize)> = None;
        for (position, item) in header.split(',').enumerate().take(32) {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or_default().trim();
            let primary = range.split('-').next().unwrap_or_default();
            let weight = parts
                .find_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                .map_or(Some(1000), parse_q);
            let Some(weight) = weight.filter(|w| *w > 0) else {
                continue;
            };
            let slot = if primary.eq_ignore_ascii_case("zh") {
                &mut zh
            } else if primary.eq_ignore_ascii_case("en") {
                &mut en
            } else {
                continue;
            };
            // A better weight wins; on a tie the earlier range stays.
            if slot.is_none_or(|(w, _)| weight > w) {
                *slot = Some((weight, position));
            }
        }
        match (zh, en) {
            (None, None) => fallback,
            (Some(_), None) => Self::Zh,
            (None, Some(_)) => Self::En,
            (Some((zw, zp)), Some((ew, ep))) => {
                if zw > ew || (zw == ew && zp < ep) {
                    Self::Zh
                } else {
                    Self::En
                }
            }
        }
    }

    /// The text for this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Self::Zh => zh,
            Self::En => en,
        }
    }
}

/// A `q` value in thousandths (`0.9` is 900); `None` when it is not one.
fn parse_q(q: &str) -> Option<u16> {
    let q = q.trim();
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let thousandths = match whole {
        "0" => format!("{fraction:0<3}").parse::<u16>().ok()?,
        "1" if fraction.chars().all(|c| c == '0') => 1000,
        _ => return None,
    };
    Some(thousandths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(header: &str) -> Locale {
        Locale::negotiate(Some(header), Audience::Consumer)
    }

    fn staff(header: &str) -> Locale {
        Locale::negotiate(Some(header), Audience::Staff)
    }

    #[test]
    fn each_endpoint_has_its_default() {
        assert_eq!(Locale::negotiate(None, Audience::Consumer), Locale::Zh);
        assert_eq!(Locale::negotiate(None, Audience::Staff), Locale::En);
        assert_eq!(Locale::negotiate(None, Audience::Distributor), Locale::En);
        // Languages other than Chinese and English leave the default.
        assert_eq!(consumer("fr-FR,fr;q=0.9"), Locale::Zh);
        assert_eq!(staff("ja"), Locale::En);
        assert_eq!(consumer(""), Locale::Zh);
        assert_eq!(consumer("*"), Locale::Zh);
    }

    #[test]
    fn the_preferred_of_chinese_and_english_wins() {
        assert_eq!(consumer("en-US,en;q=0.9"), Locale::En);
        assert_eq!(consumer("en-US,en;q=0.9,zh-CN;q=0.8"), Locale::En);
        assert_eq!(consumer("zh-CN,zh;q=0.9,en;q=0.8"), Locale::Zh);
        assert_eq!(consumer("en;q=0.5,zh;q=0.6"), Locale::Zh);
        assert_eq!(staff("zh-CN"), Locale::Zh);
        assert_eq!(staff("zh-Hans-CN;q=0.9,en;q=0.8"), Locale::Zh);
        assert_eq!(staff("en-GB,zh;q=0.9"), Locale::En);
        // Ties go to the earlier range; weights win over order.
        assert_eq!(staff("zh, en"), Locale::Zh);
        assert_eq!(consumer("en, zh"), Locale::En);
        assert_eq!(consumer("en;q=0.1, zh;q=0.2"), Locale::Zh);
        // Case and spacing do not matter.
        assert_eq!(staff(" ZH-cn ; Q=1 "), Locale::Zh);
    }

    #[test]
    fn refused_and_malformed_ranges_do_not_count() {
        // q=0 means "not this one".
        assert_eq!(staff("zh;q=0"), Locale::En);
        assert_eq!(consumer("zh;q=0,en;q=0.1"), Locale::En);
        assert_eq!(consumer("en;q=0"), Locale::Zh);
        // A weight that is not one is ignored with its range.
        assert_eq!(staff("zh;q=2"), Locale::En);
        assert_eq!(staff("zh;q=abc"), Locale::En);
        assert_eq!(staff("zh;q=0.0001"), Locale::En);
        assert_eq!(parse_q("0.9"), Some(900));
        assert_eq!(parse_q("0.25"), Some(250));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("0"), Some(0));
        assert_eq!(parse_q("1.5"), None);
    }
}
