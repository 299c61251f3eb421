//! Synthetic identities shared by the wave and scenario generators: bank account numbers,
//! payment-order ids, victims' names, resident ID numbers and phone numbers, and the intake
//! report body a victim files.
//!
//! Every function draws from the random source it is given, in a fixed order, so a seeded
//! source gives the same identities.

use std::collections::HashSet;

use domain::{AccountRef, BankId, City, Fen, FraudType, PaymentOrderRef, PlatformId, TimeMs};
use protocol::adapter::Counterparty;
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

use crate::ledger::{Ledger, LedgerError};
use crate::limits;

/// The simulated banks and the first digits of their card numbers.
pub(crate) const BANKS: [(&str, &str); 5] =
    [("icbc", "6222"), ("ccb", "6217"), ("abc", "6228"), ("boc", "6216"), ("cmb", "6225")];

/// The simulated payment platforms.
pub(crate) const PLATFORMS: [&str; 2] = ["wechatpay", "alipay"];

/// The simulated banks as ids.
pub(crate) fn banks() -> Vec<BankId> {
    BANKS.iter().map(|(code, _)| BankId::parse(code).expect("bank codes are valid")).collect()
}

/// The simulated payment platforms as ids.
pub(crate) fn platforms() -> Vec<PlatformId> {
    PLATFORMS.iter().map(|code| PlatformId::parse(code).expect("platform codes are valid")).collect()
}

/// Why no fresh id could be made.
#[derive(Debug)]
pub(crate) enum IdFailure {
    /// No unused id was drawn in [`limits::MAX_ID_ATTEMPTS`] attempts (or the id did not
    /// parse); names what was drawn.
    Exhausted(&'static str),
    /// The ledger refused to open the account.
    Ledger(LedgerError),
}

/// The account numbers and order ids handed out so far, so that none is handed out twice.
#[derive(Debug, Default)]
pub(crate) struct Ids {
    numbers: HashSet<String>,
    orders: HashSet<String>,
}

impl Ids {
    /// Opens an account with a fresh 16-19 digit number at a random bank.
    pub(crate) fn open_account(&mut self, rng: &mut StdRng, ledger: &mut Ledger) -> Result<AccountRef, IdFailure> {
        for _ in 0..limits::MAX_ID_ATTEMPTS {
            let (bank, prefix) = BANKS[rng.random_range(0..BANKS.len())];
            let length = rng.random_range(limits::MIN_ACCOUNT_DIGITS..=limits::MAX_ACCOUNT_DIGITS);
            let number = format!("{prefix}{}", digits(rng, length - prefix.len()));
            if !self.numbers.insert(number.clone()) {
                continue;
            }
            let account =
                AccountRef::parse(&format!("{bank}:{number}")).map_err(|_| IdFailure::Exhausted("account"))?;
            ledger.open_account(account.clone()).map_err(IdFailure::Ledger)?;
            return Ok(account);
        }
        Err(IdFailure::Exhausted("account number"))
    }

    /// A fresh order id in the style of a random platform.
    pub(crate) fn new_order_ref(&mut self, rng: &mut StdRng) -> Result<PaymentOrderRef, IdFailure> {
        for _ in 0..limits::MAX_ID_ATTEMPTS {
            let platform = PLATFORMS[rng.random_range(0..PLATFORMS.len())];
            let id = if platform == "wechatpay" {
                let letters: String = (0..3).map(|_| char::from(b'A' + rng.random_range(0..26u8))).collect();
                format!("4200{}{letters}", digits(rng, 14))
            } else {
                format!("2025{}", digits(rng, 24))
            };
            if !self.orders.insert(id.clone()) {
                continue;
            }
            return PaymentOrderRef::parse(&format!("{platform}:{id}")).map_err(|_| IdFailure::Exhausted("order"));
        }
        Err(IdFailure::Exhausted("order id"))
    }
}

/// `n` random decimal digits.
pub(crate) fn digits(rng: &mut StdRng, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// Splits `total` into `n` random parts that add up to it, each at least one fen while
/// there is enough.
pub(crate) fn split(rng: &mut StdRng, total: Fen, n: usize) -> Vec<Fen> {
    let total = total.get();
    let n_u64 = n as u64;
    if total < n_u64 {
        return (0..n_u64).map(|i| Fen::new(u64::from(i < total))).collect();
    }
    let weights: Vec<u64> = (0..n).map(|_| rng.random_range(1..=100)).collect();
    let weight_sum: u64 = weights.iter().sum();
    let rest = total - n_u64;
    let mut parts: Vec<u64> = weights
        .iter()
        .map(|w| 1 + u64::try_from(u128::from(rest) * u128::from(*w) / u128::from(weight_sum)).unwrap_or(0))
        .collect();
    let assigned: u64 = parts.iter().sum();
    if let Some(first) = parts.first_mut() {
        *first += total - assigned;
    }
    parts.into_iter().map(Fen::new).collect()
}

/// A Chinese personal name.
pub(crate) fn name(rng: &mut StdRng) -> String {
    const SURNAMES: [&str; 20] = [
        "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高",
        "林", "罗",
    ];
    const GIVEN: [&str; 20] = [
        "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
        "秀兰", "霞",
    ];
    let surname = SURNAMES[rng.random_range(0..SURNAMES.len())];
    let given = GIVEN[rng.random_range(0..GIVEN.len())];
    format!("{surname}{given}")
}

/// An 18-digit resident ID number with a valid check digit (never `X`).
pub(crate) fn id_number(rng: &mut StdRng, city: &City) -> String {
    const REGIONS: [&str; 8] = ["330102", "330106", "330203", "330302", "330402", "330502", "330602", "331002"];
    // The same city tends to the same region code; the check digit must be valid.
    let region =
        REGIONS[usize::try_from(domain::fnv1a64(city.as_str().as_bytes()) % REGIONS.len() as u64).unwrap_or(0)];
    let year = rng.random_range(1950..=2005u32);
    let month = rng.random_range(1..=12u32);
    let day = rng.random_range(1..=28u32);
    loop {
        let sequence = rng.random_range(0..1000u32);
        let body = format!("{region}{year:04}{month:02}{day:02}{sequence:03}");
        if let Some(check) = id_check_digit(&body) {
            return format!("{body}{check}");
        }
    }
}

/// An 11-digit mainland mobile number.
pub(crate) fn phone(rng: &mut StdRng) -> String {
    const PREFIXES: [&str; 10] = ["130", "135", "138", "139", "150", "158", "177", "186", "188", "199"];
    let prefix = PREFIXES[rng.random_range(0..PREFIXES.len())];
    format!("{prefix}{}", digits(rng, 8))
}

/// A scammer's virtual-operator number (+86 170…).
pub(crate) fn scam_phone(rng: &mut StdRng) -> String {
    format!("+86170{}", digits(rng, 8))
}

/// A scam site of a gang whose sites' hosts start with `host`: `https://<host><digits>.com.cn/`,
/// each its own registrable domain (so a block of one leaves the others reachable).
pub(crate) fn scam_site(rng: &mut StdRng, host: &str, n: usize) -> String {
    format!("https://{host}{}.com.cn/", digits(rng, n))
}

/// Scam apps named in reports.
pub(crate) const APPS: [&str; 4] = ["安心贷", "极速借", "财富通", "星链投资"];

/// Random scam contacts, unrelated between reports (the wave's victims each meet their own
/// scammer).
pub(crate) fn contacts(rng: &mut StdRng) -> Value {
    const HOSTS: [&str; 4] = ["licai", "kefu", "vip-tz", "jd-refund"];
    let phones: Vec<String> = (0..rng.random_range(1..=2)).map(|_| scam_phone(rng)).collect();
    let urls: Vec<String> = (0..rng.random_range(0..=2))
        .map(|_| {
            let host = HOSTS[rng.random_range(0..HOSTS.len())];
            format!("https://{host}{}.example.cn/{}", digits(rng, 2), digits(rng, 4))
        })
        .collect();
    let apps: Vec<&str> = (0..rng.random_range(0..=1)).map(|_| APPS[rng.random_range(0..APPS.len())]).collect();
    let social: Vec<String> = (0..rng.random_range(0..=1)).map(|_| format!("qq:{}", digits(rng, 9))).collect();
    json!({"phones": phones, "urls": urls, "apps": apps, "social": social})
}

/// The check character of an 18-digit resident ID (GB 11643, ISO 7064 MOD 11-2) for its
/// first 17 digits, or `None` when it would be `X`.
pub(crate) fn id_check_digit(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first17.chars().zip(WEIGHTS).map(|(c, w)| c.to_digit(10).unwrap_or(0) * w).sum();
    let check = CHECK[(sum % 11) as usize];
    (check != 'X').then_some(check)
}

/// The victim's account of what happened, in their words.
pub(crate) fn narrative(fraud_type: FraudType, loss_yuan: u64) -> String {
    let story = match fraud_type {
        FraudType::OnlineLoan => "对方自称网贷平台客服，称需先缴纳保证金和解冻费才能放款",
        FraudType::OrderBrushing => "在兼职群里被拉去刷单返利，前几单返了佣金，后面被要求连续做任务",
        FraudType::FakeCustomerService => "接到自称电商客服的电话，说要办理退款并关闭百万保障服务",
        FraudType::PigButchering => "在交友软件上认识对方，聊了两个月后被带去一个投资平台充值",
        FraudType::ImpersonatingAuthorities => "对方自称公安民警，说我涉嫌洗钱，要求把钱转到安全账户配合调查",
        FraudType::StockTips => "被拉进股票交流群，所谓老师推荐内部渠道打新股",
        FraudType::FakeEcommerce => "在二手平台买手机，对方让我通过链接付款后就不再回复",
        FraudType::LuxuryBait => "对方在网上以低价出售名牌包，付款后称需补交关税",
    };
    format!("{story}，我一共转了{loss_yuan}元，之后对方失联。")
}

/// One payment a victim made, as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Payment {
    /// Where it went: an account or a payment order (never cash).
    pub(crate) to: Counterparty,
    /// How much.
    pub(crate) amount: Fen,
    /// When.
    pub(crate) at_ms: TimeMs,
    /// The victim's own account it left from: the report names it for a bank transfer
    /// (`from_account`); for a payment order the platform names the payer (`resolve`).
    pub(crate) from: AccountRef,
}

/// The victim as the report names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) id_number: String,
    pub(crate) phone: String,
}

impl Identity {
    /// Draws a name, an ID number registered in `city` and a phone number, in that order.
    pub(crate) fn draw(rng: &mut StdRng, city: &City) -> Self {
        let name = name(rng);
        let id_number = id_number(rng, city);
        let phone = phone(rng);
        Identity { name, id_number, phone }
    }
}

/// The intake report body (`afc.<city>.cmd.intake.report`) a victim files.
pub(crate) fn report_body(victim: &Identity, fraud_type: FraudType, payments: &[Payment], contacts: Value) -> Value {
    let transfers: Vec<Value> = payments
        .iter()
        .map(|p| match &p.to {
            Counterparty::Order(order) => {
                json!({"order": order.as_str(), "amount_fen": p.amount.get(), "at_ms": p.at_ms})
            }
            Counterparty::Account(account) => json!({
                "account": account.as_str(),
                "from_account": p.from.as_str(),
                "amount_fen": p.amount.get(),
                "at_ms": p.at_ms,
            }),
            Counterparty::CashOut(_) => Value::Null,
        })
        .collect();
    let loss_yuan = payments.iter().map(|p| p.amount.get()).sum::<u64>() / 100;
    json!({
        "victim": {
            "name": victim.name,
            "id_number": victim.id_number,
            "phone": victim.phone,
        },
        "fraud_type": fraud_type.as_str(),
        "transfers": transfers,
        "contacts": contacts,
        "narrative": narrative(fraud_type, loss_yuan),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn split_adds_up_and_gives_each_part_a_fen() {
        let mut rng = StdRng::seed_from_u64(1);
        for (total, n) in [(1_000_000, 7), (5, 7), (7, 7), (0, 3), (123_457, 1)] {
            let parts = split(&mut rng, Fen::new(total), n);
            assert_eq!(parts.len(), n);
            assert_eq!(parts.iter().map(|p| p.get()).sum::<u64>(), total);
            if total >= n as u64 {
                assert!(parts.iter().all(|p| !p.is_zero()));
            }
        }
    }

    #[test]
    fn id_numbers_carry_a_valid_check_digit() {
        let mut rng = StdRng::seed_from_u64(2);
        let city = City::parse("wenzhou").unwrap();
        for _ in 0..50 {
            let id = id_number(&mut rng, &city);
            assert_eq!(id.len(), 18);
            assert_eq!(id_check_digit(&id[..17]), id.chars().last());
        }
    }
}
