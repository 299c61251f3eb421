//! Social accounts as `<platform>:<id>`: the platform from a known list (with the names
//! victims use for it), the id checked against the platform's documented shape.

use super::{Reason, phone};

pub(super) const EXPECTED: &str = "<platform>:<account id>, e.g. wechat:wxid_abc123, qq:123456789, telegram:@name";

pub(super) const PLATFORM_LIST: &str = "wechat, qq, douyin, kuaishou, weibo, telegram, whatsapp, line";

/// The platforms whose accounts are listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Wechat,
    Qq,
    Douyin,
    Kuaishou,
    Weibo,
    Telegram,
    Whatsapp,
    Line,
}

impl Platform {
    /// Each platform with the names it is given (the first is its canonical name).
    const NAMES: [(Platform, &'static [&'static str]); 8] = [
        (Platform::Wechat, &["wechat", "weixin", "wx", "微信"]),
        (Platform::Qq, &["qq"]),
        (Platform::Douyin, &["douyin", "抖音"]),
        (Platform::Kuaishou, &["kuaishou", "快手"]),
        (Platform::Weibo, &["weibo", "微博"]),
        (Platform::Telegram, &["telegram", "tg"]),
        (Platform::Whatsapp, &["whatsapp", "wa"]),
        (Platform::Line, &["line"]),
    ];

    pub fn parse(name: &str) -> Option<Platform> {
        let name = name.trim().to_lowercase();
        Platform::NAMES.iter().find(|(_, names)| names.contains(&name.as_str())).map(|(platform, _)| *platform)
    }

    pub fn as_str(self) -> &'static str {
        Platform::NAMES.iter().find(|(p, _)| *p == self).map(|(_, names)| names[0]).unwrap_or("unknown")
    }

    /// The account id in its canonical form, if it has the platform's shape.
    fn account(self, id: &str) -> Option<String> {
        let id = id.trim();
        let lower = id.to_ascii_lowercase();
        let word = |s: &str, min: usize, max: usize, extra: &[u8]| {
            (min..=max).contains(&s.len())
                && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || extra.contains(&b))
        };
        let digits = |s: &str, min: usize, max: usize| {
            (min..=max).contains(&s.len()) && !s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())
        };
        match self {
            // WeChat ids: 6-20 letters, digits, `_` or `-`, starting with a letter; the ids
            // WeChat assigns itself are `wxid_` and 14+ letters or digits. Case-insensitive.
            Platform::Wechat => {
                (word(&lower, 6, 32, b"_-") && lower.as_bytes()[0].is_ascii_lowercase()).then_some(lower)
            }
            // QQ numbers: 5-11 digits, never starting with 0.
            Platform::Qq => digits(id, 5, 11).then(|| id.to_owned()),
            Platform::Douyin | Platform::Kuaishou => word(&lower, 2, 32, b"_.").then_some(lower),
            // Weibo: the account's numeric uid (screen names change).
            Platform::Weibo => digits(id, 5, 16).then(|| id.to_owned()),
            // Telegram usernames: 5-32 letters, digits or `_`, case-insensitive, `@` optional.
            Platform::Telegram => {
                let name = lower.strip_prefix('@').unwrap_or(&lower).to_owned();
                (word(&name, 5, 32, b"_") && name.as_bytes()[0].is_ascii_lowercase()).then_some(name)
            }
            // WhatsApp accounts are phone numbers: one number, one account.
            Platform::Whatsapp => phone::normalize(id).ok(),
            Platform::Line => word(&lower, 4, 20, b"._-").then_some(lower),
        }
    }
}

/// `text` as `<platform>:<id>`.
pub(super) fn normalize(text: &str) -> Result<String, Reason> {
    let (platform, id) = text.split_once(':').ok_or(Reason::BadAccountId)?;
    let platform = Platform::parse(platform).ok_or(Reason::UnknownPlatform)?;
    let id = platform.account(id).ok_or(Reason::BadAccountId)?;
    Ok(format!("{}:{id}", platform.as_str()))
}
