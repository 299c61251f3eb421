//! A gang's share of the script: its phone numbers and sites, and its victims, each drawn
//! from a city's people, paying into one of the gang's networks and reporting later with a
//! report body that names some of the gang's contacts.

use std::collections::BTreeMap;

use domain::{AccountRef, City, Fen, FraudType, PaymentOrderRef, TimeMs};
use protocol::adapter::Counterparty;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};

use super::draw::{draw_log_normal, draw_u32, draw_u64, sub_rng};
use super::network::Network;
use super::{CaseInfo, Draft, FirstContact, GangInfo, Generator, ScriptError, VictimPayment};
use crate::contact::LineKind;
use crate::limits;
use crate::scenario::GangSpec;
use crate::schedule::ScheduledTransfer;
use crate::synth::{self, Identity, Payment};

/// Savings a victim has besides what is lost, in yuan.
const VICTIM_SAVINGS_YUAN: std::ops::RangeInclusive<u32> = 100..=20_000;

/// How long before the scenario's start the victims' savings were deposited: 30 days.
const SAVINGS_AGE_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Most of a gang's phone numbers, and of its sites, one report names.
const CONTACTS_PER_REPORT: u32 = 2;

/// The hosts of a gang's sites, by the scam they serve.
pub(super) fn site_host(fraud_type: FraudType) -> &'static str {
    match fraud_type {
        FraudType::OnlineLoan => "daikuan",
        FraudType::OrderBrushing => "jianzhi",
        FraudType::FakeCustomerService => "kefu",
        FraudType::PigButchering => "licai",
        FraudType::ImpersonatingAuthorities => "anquan-zhanghu",
        FraudType::StockTips => "gupiao",
        FraudType::FakeEcommerce => "shop",
        FraudType::LuxuryBait => "mingpin",
    }
}

impl Generator<'_> {
    pub(super) fn gang(&mut self, index: usize, gang: &GangSpec) -> Result<GangInfo, ScriptError> {
        let scenario = self.scenario;
        let mut rng = sub_rng(scenario.seed, "gang", index as u64);
        let phone_count = draw_u32(&mut rng, gang.phones);
        let phones = self.scam_phones(&mut rng, phone_count)?;
        let host = site_host(gang.fraud_type);
        let sites: Vec<String> =
            (0..draw_u32(&mut rng, gang.sites)).map(|_| synth::scam_site(&mut rng, host, 3)).collect();
        let adapt_seed = domain::fnv1a64(format!("{}|adapt|{index}", scenario.seed).as_bytes());
        self.world.contacts.add_gang(adapt_seed, host, gang.adapt_ms, &phones, &sites);

        // Victims in order of their first payment; consecutive victims share a network.
        let mut firsts: Vec<TimeMs> = (0..gang.victims)
            .map(|_| {
                scenario.start_ms + rng.random_range(gang.active_ms.min..gang.active_ms.max.max(gang.active_ms.min + 1))
            })
            .collect();
        firsts.sort_unstable();
        let mut networks: Vec<Vec<AccountRef>> = Vec::new();
        for (n, chunk) in firsts.chunks(gang.victims_per_network as usize).enumerate() {
            let network = self.network(&mut rng, gang)?;
            networks.push(network.mules.iter().map(|m| m.account.clone()).collect());
            for &first_ms in chunk {
                let draft = self.victim(&mut rng, index, n, gang, &network, first_ms, &phones, &sites)?;
                self.drafts.push(draft);
            }
        }
        // From a generator of their own: holders change nothing else of the script.
        let mut holders_rng = sub_rng(scenario.seed, "holders", index as u64);
        let accounts: Vec<AccountRef> = networks.iter().flatten().cloned().collect();
        for holder in crate::holders::draw(&mut holders_rng, &scenario.mules, &accounts) {
            self.world.holders.add(holder);
        }
        Ok(GangInfo {
            name: gang.name.clone(),
            fraud_type: gang.fraud_type,
            typology: gang.typology,
            cities: gang.cities.clone(),
            phones,
            sites,
            networks,
        })
    }

    /// `count` phone numbers no other gang uses.
    fn scam_phones(&mut self, rng: &mut StdRng, count: u32) -> Result<Vec<String>, ScriptError> {
        let mut phones = Vec::new();
        for _ in 0..count {
            let fresh = (0..limits::MAX_ID_ATTEMPTS)
                .map(|_| synth::scam_phone(rng))
                .find(|phone| self.scam_phones.insert(phone.clone()))
                .ok_or(ScriptError::IdsExhausted("scam phone number"))?;
            phones.push(fresh);
        }
        Ok(phones)
    }

    pub(super) fn open_account(&mut self, rng: &mut StdRng) -> Result<AccountRef, ScriptError> {
        self.ids.open_account(rng, &mut self.world.ledger).map_err(ScriptError::from_id)
    }

    #[allow(clippy::too_many_arguments)]
    fn victim(
        &mut self,
        rng: &mut StdRng,
        gang_index: usize,
        network_index: usize,
        gang: &GangSpec,
        network: &Network,
        first_ms: TimeMs,
        phones: &[String],
        sites: &[String],
    ) -> Result<Draft, ScriptError> {
        let scenario = self.scenario;
        let victims = &scenario.victims;
        let (city, identity) = self.person(rng, gang)?;
        let loss_yuan = draw_log_normal(rng, &gang.amount_yuan).round().max(1.0);
        // Validation bounds amounts by MAX_LOSS_YUAN, which fits u32.
        let loss = Fen::yuan(loss_yuan.min(f64::from(limits::MAX_LOSS_YUAN)) as u32);
        let victim_account = self.open_account(rng)?;
        // Every transfer of this victim's money is tagged with their account, so that a
        // block that spares them takes it all out of the schedule.
        self.victim = Some(victim_account.clone());
        let savings = Fen::yuan(rng.random_range(VICTIM_SAVINGS_YUAN));
        self.world.ledger.deposit(
            &victim_account,
            loss.checked_add(savings)?,
            scenario.start_ms.saturating_sub(SAVINGS_AGE_MS),
        )?;

        let count = draw_u32(rng, victims.payments) as usize;
        let amounts = synth::split(rng, loss, count);
        let mut at_ms = first_ms;
        let mut payments = Vec::with_capacity(count);
        let mut mules = BTreeMap::new();
        let mut orders = Vec::new();
        for (i, amount) in amounts.into_iter().enumerate() {
            if i > 0 {
                at_ms += draw_u64(rng, victims.payment_gap_ms);
            }
            if amount.is_zero() {
                continue;
            }
            let entry = *network.entries.choose(rng).expect("every network has an entry");
            let to = self.destination(
                rng,
                &network.mules[network.nodes[entry].mule].account,
                victims.order_share,
                &mut orders,
            )?;
            self.schedule(ScheduledTransfer {
                due_at_ms: at_ms,
                from: victim_account.clone(),
                to: to.clone(),
                amount,
            })?;
            payments.push(VictimPayment { to, amount, at_ms });
            self.cascade(rng, network, entry, amount, at_ms, &mut mules, &mut orders)?;
        }
        self.victim = None;
        let report_at_ms = at_ms + draw_log_normal(rng, &victims.report_delay_ms).round() as u64;
        self.horizon_ms = self.horizon_ms.max(report_at_ms);

        let (contacts, named_phones, named_sites) = self.contacts(rng, phones, sites);
        // The first contact: a site for the scams that start online, when the victim names
        // one; else the first number they name.
        let online = matches!(
            gang.fraud_type,
            FraudType::OrderBrushing
                | FraudType::PigButchering
                | FraudType::StockTips
                | FraudType::FakeEcommerce
                | FraudType::LuxuryBait
        );
        let site_first = online || named_phones.is_empty();
        let contact = match named_sites.first().filter(|_| site_first) {
            Some(site) => FirstContact { at_ms: first_ms, via: site.clone(), kind: LineKind::Site },
            None => FirstContact {
                at_ms: first_ms,
                via: named_phones.first().cloned().unwrap_or_default(),
                kind: LineKind::Phone,
            },
        };
        let named = named_phones.into_iter().chain(named_sites).collect();
        let listed: Vec<Payment> = payments
            .iter()
            .map(|p| Payment { to: p.to.clone(), amount: p.amount, at_ms: p.at_ms, from: victim_account.clone() })
            .collect();
        let body = synth::report_body(&identity, gang.fraud_type, &listed, contacts);
        let case = CaseInfo {
            case: 0,
            gang: gang_index,
            network: network_index,
            fraud_type: gang.fraud_type,
            typology: gang.typology,
            city,
            victim_account,
            loss,
            payments,
            report_at_ms,
            mules,
            orders,
            contact,
        };
        Ok(Draft { case, body, named })
    }

    /// A person of one of the gang's cities who was not a victim before: a city is chosen
    /// in proportion to its population, then a person number in it.
    fn person(&mut self, rng: &mut StdRng, gang: &GangSpec) -> Result<(City, Identity), ScriptError> {
        let populations: Vec<(City, u64)> = gang
            .cities
            .iter()
            .map(|city| {
                let spec = self.scenario.cities.iter().find(|c| &c.city == city);
                (city.clone(), spec.map_or(1, |c| c.population))
            })
            .collect();
        let total: u64 = populations.iter().map(|(_, p)| p).sum();
        let mut pick = rng.random_range(0..total);
        let (city, population) = populations
            .iter()
            .find(|(_, p)| {
                if pick < *p {
                    true
                } else {
                    pick -= p;
                    false
                }
            })
            .cloned()
            .expect("the pick is below the total population");
        let taken = self.people.entry(city.clone()).or_default();
        for _ in 0..limits::MAX_ID_ATTEMPTS {
            let number = rng.random_range(0..population);
            if taken.insert(number) {
                let mut person_rng = sub_rng(self.scenario.seed, city.as_str(), number);
                let identity = Identity::draw(&mut person_rng, &city);
                return Ok((city, identity));
            }
        }
        Err(ScriptError::PopulationExhausted { city, population })
    }

    /// `to` directly, or through a new payment order into it with probability `share`.
    pub(super) fn destination(
        &mut self,
        rng: &mut StdRng,
        to: &AccountRef,
        share: f64,
        orders: &mut Vec<PaymentOrderRef>,
    ) -> Result<Counterparty, ScriptError> {
        if !rng.random_bool(share) {
            return Ok(Counterparty::Account(to.clone()));
        }
        let order = self.ids.new_order_ref(rng).map_err(ScriptError::from_id)?;
        self.world.ledger.create_order(order.clone(), to.clone())?;
        self.orders.insert(order.clone(), to.clone());
        orders.push(order.clone());
        Ok(Counterparty::Order(order))
    }

    pub(super) fn schedule(&mut self, transfer: ScheduledTransfer) -> Result<(), ScriptError> {
        self.horizon_ms = self.horizon_ms.max(transfer.due_at_ms);
        match &self.victim {
            Some(victim) => self.world.schedule.push_for(transfer, victim)?,
            None => self.world.schedule.push(transfer)?,
        }
        Ok(())
    }

    /// The scam contacts a victim names: one or two of the gang's phones, up to two of its
    /// sites, sometimes an app or a QQ account. Also the phones and the sites named.
    fn contacts(&mut self, rng: &mut StdRng, phones: &[String], sites: &[String]) -> (Value, Vec<String>, Vec<String>) {
        let pick = |rng: &mut StdRng, from: &[String], min: u32| -> Vec<String> {
            let most = CONTACTS_PER_REPORT.min(from.len() as u32);
            let n = if most < min { most } else { rng.random_range(min..=most) };
            from.choose_multiple(rng, n as usize).cloned().collect()
        };
        let phones = pick(rng, phones, 1);
        let urls = pick(rng, sites, 0);
        let apps: Vec<&str> =
            (0..rng.random_range(0..=1)).map(|_| synth::APPS[rng.random_range(0..synth::APPS.len())]).collect();
        let social: Vec<String> =
            (0..rng.random_range(0..=1)).map(|_| format!("qq:{}", synth::digits(rng, 9))).collect();
        let body = json!({"phones": phones, "urls": urls, "apps": apps, "social": social});
        (body, phones, urls)
    }
}
