//! The file as serde reads it: every table and field with the type it is written in, unknown
//! fields refused, and the defaults of the fields a file may leave out.
//!
//! Counts are read as `i64` and ranges as TOML values, so that a negative or malformed
//! value reaches validation and is reported with its field path, not as a type error.

use domain::FraudType;
use serde::Deserialize;
use toml::Value;

use super::LogNormal;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) scenario: RawHeader,
    #[serde(default)]
    pub(super) cities: Vec<RawCity>,
    #[serde(default)]
    pub(super) gangs: Vec<RawGang>,
    #[serde(default)]
    pub(super) mules: RawMules,
    #[serde(default)]
    pub(super) victims: RawVictims,
    #[serde(default)]
    pub(super) banks: RawBanks,
    pub(super) population: Option<RawPopulation>,
    #[serde(default)]
    pub(super) staff: RawStaff,
    #[serde(default)]
    pub(super) restitution: RawRestitution,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHeader {
    pub(super) name: String,
    #[serde(default)]
    pub(super) description: String,
    pub(super) seed: i64,
    pub(super) start: Value,
    pub(super) duration_hours: Option<f64>,
    pub(super) duration_days: Option<f64>,
    pub(super) time_scale: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCity {
    pub(super) name: String,
    pub(super) population: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGang {
    pub(super) name: Option<String>,
    pub(super) fraud_type: String,
    pub(super) cities: Option<Vec<String>>,
    pub(super) victims: i64,
    pub(super) amount_yuan: Option<RawLogNormal>,
    pub(super) typology: Option<String>,
    pub(super) widths: Option<Vec<Value>>,
    pub(super) victims_per_network: Option<i64>,
    pub(super) phones: Option<Value>,
    pub(super) sites: Option<Value>,
    pub(super) active_hours: Option<[f64; 2]>,
    pub(super) adapt_hours: Option<[f64; 2]>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogNormal {
    pub(super) median: f64,
    pub(super) p90: f64,
    pub(super) min: Option<f64>,
    pub(super) max: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMules {
    pub(super) margin: Option<[f64; 2]>,
    pub(super) forward_delay_minutes: Option<[f64; 2]>,
    pub(super) cash_out_share: Option<f64>,
    pub(super) order_share: Option<f64>,
    pub(super) seller_share: Option<f64>,
    pub(super) seller_accounts: Option<Value>,
    pub(super) holder_phones: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVictims {
    pub(super) payments: Option<Value>,
    pub(super) payment_gap_minutes: Option<[f64; 2]>,
    pub(super) order_share: Option<f64>,
    pub(super) report_delay_minutes: Option<RawLogNormal>,
    pub(super) spared_by_blocks: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBanks {
    pub(super) answer_ms: Option<[f64; 2]>,
    pub(super) return_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPopulation {
    pub(super) per_victim: Option<i64>,
    pub(super) pay_share: Option<f64>,
    pub(super) pay_delay_hours: Option<[f64; 2]>,
    pub(super) contacts: Option<Value>,
    pub(super) instructions_share: Option<f64>,
    pub(super) signal_delay_minutes: Option<[f64; 2]>,
    pub(super) handset_off_share: Option<f64>,
    pub(super) sms_effect: Option<f64>,
    pub(super) call_effect: Option<f64>,
    pub(super) visit_effect: Option<f64>,
    pub(super) unreachable_share: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStaff {
    pub(super) calls_per_day: Option<i64>,
    pub(super) visits_per_day: Option<Vec<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRestitution {
    pub(super) notice_minutes: Option<f64>,
    pub(super) approve_after_minutes: Option<f64>,
}

/// Defaults of the `[mules]`, `[victims]` and gang fields, in the file's units.
pub(super) mod defaults {
    pub const MARGIN: [f64; 2] = [0.01, 0.05];
    pub const FORWARD_DELAY_MINUTES: [f64; 2] = [5.0, 60.0];
    pub const CASH_OUT_SHARE: f64 = 0.5;
    pub const MULE_ORDER_SHARE: f64 = 0.1;
    /// An assumption: a fifth of mule accounts are bought from card sellers who sold several
    /// (Kaifeng: 4,497 bank cards seized from 1,293 traders, ~3.5 each).
    pub const SELLER_SHARE: f64 = 0.2;
    pub const SELLER_ACCOUNTS: [u32; 2] = [2, 4];
    pub const HOLDER_PHONES: [u32; 2] = [1, 2];
    pub const PAYMENTS: [u32; 2] = [1, 3];
    pub const PAYMENT_GAP_MINUTES: [f64; 2] = [2.0, 30.0];
    pub const VICTIM_ORDER_SHARE: f64 = 0.3;
    /// Report delay in minutes: median 90, p90 12 hours, from 10 minutes to 3 days.
    pub const REPORT_DELAY_MINUTES: (f64, f64, f64, f64) = (90.0, 720.0, 10.0, 4_320.0);
    pub const ANSWER_MS: [f64; 2] = [100.0, 1_000.0];
    pub const VICTIMS_PER_NETWORK: i64 = 4;
    pub const PHONES: [u32; 2] = [1, 3];
    pub const SITES: [u32; 2] = [0, 2];
    /// Hours from a block of one of a gang's numbers or sites to the gang reaching victims
    /// through a fresh one: an assumption (a new SIM card or domain costs a gang little, but
    /// it notices a dead line only when calls stop connecting).
    pub const ADAPT_HOURS: [f64; 2] = [2.0, 24.0];
}

/// Default loss distribution of each fraud type, in yuan: `(median, p90, min, max)`.
///
/// These are assumptions, not figures from the source documents (which give totals, not
/// distributions): small sums for shopping and loan scams, large ones for investment and
/// impersonation scams, with Wenzhou's largest single loss (¥2.7M) within the largest max.
pub fn default_amount_yuan(fraud_type: FraudType) -> LogNormal {
    let (median, p90, min, max) = match fraud_type {
        FraudType::OnlineLoan => (2_000.0, 10_000.0, 100.0, 200_000.0),
        FraudType::OrderBrushing => (3_000.0, 20_000.0, 100.0, 500_000.0),
        FraudType::FakeCustomerService => (5_000.0, 30_000.0, 100.0, 500_000.0),
        FraudType::PigButchering => (50_000.0, 300_000.0, 1_000.0, 3_000_000.0),
        FraudType::ImpersonatingAuthorities => (30_000.0, 200_000.0, 1_000.0, 3_000_000.0),
        FraudType::StockTips => (20_000.0, 150_000.0, 1_000.0, 2_000_000.0),
        FraudType::FakeEcommerce => (800.0, 4_000.0, 50.0, 50_000.0),
        FraudType::LuxuryBait => (3_000.0, 15_000.0, 100.0, 200_000.0),
    };
    LogNormal { median, p90, min, max }
}
