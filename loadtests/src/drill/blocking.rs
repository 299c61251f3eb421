//! The drill report's `blocking` section: what blocking did (its events in each city's stream)
//! and what it spared (the simulator's record of each victim's first contact).
//!
//! - **Identifiers blocked**: `identifier_blocked` events, every city and generation.
//! - **Report to carrier confirmation**, per block: from the report of the case that blocked
//!   the identifier (`case_screened`'s `reported_at_ms`; for a block made on the province's
//!   notice, whose case is another city's, from the block) to the `order_confirmed` of the last of
//!   the carriers it was ordered from (a number: its issuing carrier; a site: all three), in
//!   simulated ms. Blocks not confirmed by every carrier at the end are counted as pending.
//! - **Victims spared**: victims whose first contact came through an identifier their city's
//!   center had blocked by then ([`simulator::contact`]); their loss is the loss avoided.
//! - **Card sellers**: holders blocking put in the pool (a holder's `pool_entered`) against
//!   the plan's card sellers (holders whose accounts carried money of two or more cases), and
//!   how many of those sellers' phone cards the simulated carriers restrict at the end.
//! - **Pool size over time**: `pool_entered` less `pool_released`, every city together, at the
//!   report's series times.

use std::collections::{BTreeMap, BTreeSet};

use domain::{Carrier, HolderKey};
use domain::{CaseId, City, TimeMs};
use events::blocking::PoolSubject;
use events::{BlockingEvent, Envelope, Payload};
use protocol::carrier::CardSubject;
use serde::{Deserialize, Serialize};
use simulator::Telecom;
use simulator::contact::Contacts;
use simulator::holders::CardSeller;

use super::score::{SERIES_POINTS, Spread};

/// One point of the pool's size.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct PoolPoint {
    /// Simulated ms since the epoch.
    pub at_ms: TimeMs,
    /// Subjects in the pool then (accounts and card sellers, every city).
    pub size: u64,
}

/// One city's blocking figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CityBlocking {
    pub identifiers_blocked: u64,
    pub pool_entered: u64,
    pub victims_spared: u64,
    pub loss_avoided_fen: u64,
}

/// The `blocking` section of `report.json`. Every field defaults, so a report written before
/// blocking existed reads with an empty section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct BlockingSection {
    /// Identifiers blocked (a new block, or a block again after it ended), every city.
    pub identifiers_blocked: u64,
    /// The same by kind (`phone`, `domain`, `ip`, `app`, `social`).
    pub blocked_by_kind: BTreeMap<String, u64>,
    /// Reports naming an identifier blocked already (the block extended).
    pub blocks_extended: u64,
    /// From the blocking case's report to the last carrier's confirmation, simulated ms.
    pub report_to_confirmed_ms: Spread,
    /// Blocks ordered from carriers whose orders were not all confirmed at the end.
    pub blocks_unconfirmed: u64,
    /// Victims the gangs reached (or tried to), by the end.
    pub victims_contacted: u64,
    /// Victims whose first contact came through an identifier their center had blocked.
    pub victims_spared: u64,
    /// What those victims would have lost.
    pub loss_avoided_fen: u64,
    /// Victims reached through a number or site a gang had taken up after a block.
    pub reached_through_replacement: u64,
    /// Numbers and sites the gangs replaced after a block.
    pub lines_replaced: u64,
    /// Subjects that entered the high-risk pool (accounts, card sellers), every city.
    pub pool_entered: u64,
    /// The pool's size over simulated time.
    pub pool_series: Vec<PoolPoint>,
    /// Card sellers of the plan: holders whose accounts carried money of two or more cases
    /// (`simulator::holders::card_sellers`).
    pub card_sellers_truth: u64,
    /// Holders blocking put in the pool as card sellers, every city (distinct holders).
    pub card_sellers_found: u64,
    /// Of those, card sellers of the plan.
    pub card_sellers_found_true: u64,
    /// Phone cards of the plan's card sellers.
    pub seller_cards: u64,
    /// Of those, restricted at their carrier at the end (by any center).
    pub seller_cards_restricted: u64,
    /// Per city.
    pub by_city: BTreeMap<String, CityBlocking>,
}

/// Computes the section from each city's blocking events (stream order) and the simulator's
/// record of contacts, sampling the pool at [`SERIES_POINTS`] times from `origin_ms` to
/// `end_ms`.
pub fn section(
    events: &BTreeMap<City, Vec<Envelope>>,
    contacts: &Contacts,
    origin_ms: TimeMs,
    end_ms: TimeMs,
) -> BlockingSection {
    let mut out = BlockingSection::default();
    let mut confirmations: Vec<u64> = Vec::new();
    // (time, +1 / -1) of every pool entry and release.
    let mut pool_moves: Vec<(TimeMs, i64)> = Vec::new();
    for (city, envelopes) in events {
        let row = out.by_city.entry(city.to_string()).or_default();
        let mut reported: BTreeMap<&CaseId, TimeMs> = BTreeMap::new();
        let mut confirmed: BTreeMap<&str, TimeMs> = BTreeMap::new();
        // Each block's request ids, its case, and — for a block made on the province's notice,
        // whose case is another city's — when the city made it.
        let mut blocks: Vec<(Vec<String>, &CaseId, Option<TimeMs>)> = Vec::new();
        for envelope in envelopes {
            let Payload::Blocking(event) = &envelope.payload else { continue };
            match event {
                BlockingEvent::CaseScreened { case_id, reported_at_ms, .. } => {
                    reported.insert(case_id, *reported_at_ms);
                }
                BlockingEvent::IdentifierBlocked {
                    identifier,
                    generation,
                    case_id,
                    carriers,
                    province,
                    blocked_at_ms,
                    ..
                } => {
                    out.identifiers_blocked += 1;
                    row.identifiers_blocked += 1;
                    *out.blocked_by_kind.entry(identifier.kind().as_str().to_owned()).or_default() += 1;
                    let target = identifier.to_string();
                    let ids = carriers
                        .iter()
                        .map(|carrier| {
                            let to = blocking::core::Counterparty::Carrier(*carrier);
                            blocking::core::request_id(city, &to, &target, blocking::core::Verb::Block, *generation)
                        })
                        .collect();
                    blocks.push((ids, case_id, province.as_ref().map(|_| *blocked_at_ms)));
                }
                BlockingEvent::BlockExtended { .. } => out.blocks_extended += 1,
                BlockingEvent::OrderConfirmed { request_id, confirmed_at_ms } => {
                    confirmed.entry(request_id.as_str()).or_insert(*confirmed_at_ms);
                }
                BlockingEvent::PoolEntered { entered_at_ms, .. } => {
                    out.pool_entered += 1;
                    row.pool_entered += 1;
                    pool_moves.push((*entered_at_ms, 1));
                }
                BlockingEvent::PoolReleased { released_at_ms, .. } => pool_moves.push((*released_at_ms, -1)),
                _ => {}
            }
        }
        for (ids, case_id, on_notice) in blocks {
            if ids.is_empty() {
                continue; // apps and social accounts: listed, ordered from no carrier
            }
            let last = ids.iter().map(|id| confirmed.get(id.as_str()).copied()).collect::<Option<Vec<_>>>();
            match (last.and_then(|times| times.into_iter().max()), on_notice.or(reported.get(case_id).copied())) {
                (Some(done), Some(report)) => confirmations.push(done.saturating_sub(report)),
                _ => out.blocks_unconfirmed += 1,
            }
        }
    }
    out.report_to_confirmed_ms = Spread::of(&confirmations);

    let replaced: BTreeSet<usize> = contacts.outcomes().filter(|c| c.generation > 0).map(|c| c.case).collect();
    for contact in contacts.outcomes() {
        out.victims_contacted += 1;
        if contact.spared() {
            out.victims_spared += 1;
            out.loss_avoided_fen += contact.loss.get();
            let row = out.by_city.entry(contact.city.to_string()).or_default();
            row.victims_spared += 1;
            row.loss_avoided_fen += contact.loss.get();
        } else if replaced.contains(&contact.case) {
            out.reached_through_replacement += 1;
        }
    }
    out.lines_replaced = contacts.replaced();

    pool_moves.sort_unstable();
    let end_ms = end_ms.max(origin_ms + 1);
    let step = (end_ms - origin_ms).div_ceil(SERIES_POINTS as u64).max(1);
    let (mut size, mut next) = (0i64, 0usize);
    for k in 1..=SERIES_POINTS as u64 {
        let at_ms = origin_ms + k * step;
        while next < pool_moves.len() && pool_moves[next].0 <= at_ms {
            size += pool_moves[next].1;
            next += 1;
        }
        out.pool_series.push(PoolPoint { at_ms, size: u64::try_from(size).unwrap_or(0) });
    }
    out
}

/// The card-seller figures of the section: the plan's card sellers (`sellers`), the holders
/// blocking put in the pool (`pool_entered` of a holder, every city), and which of the plan's
/// sellers' phone cards the carriers restrict at the end.
pub fn card_sellers(
    out: &mut BlockingSection,
    events: &BTreeMap<City, Vec<Envelope>>,
    sellers: &[CardSeller],
    telecom: &Telecom,
) {
    let found: BTreeSet<&HolderKey> = events
        .values()
        .flatten()
        .filter_map(|envelope| match &envelope.payload {
            Payload::Blocking(BlockingEvent::PoolEntered { subject: PoolSubject::Holder(holder), .. }) => Some(holder),
            _ => None,
        })
        .collect();
    let truth: BTreeSet<&HolderKey> = sellers.iter().map(|s| &s.key).collect();
    out.card_sellers_truth = truth.len() as u64;
    out.card_sellers_found = found.len() as u64;
    out.card_sellers_found_true = found.intersection(&truth).count() as u64;
    for phone in sellers.iter().flat_map(|s| &s.phones) {
        out.seller_cards += 1;
        let card = CardSubject::Phone(phone.clone());
        let carriers = Carrier::issuing(phone.as_str()).map_or(Carrier::ALL.to_vec(), |c| vec![c]);
        if carriers.into_iter().any(|carrier| !telecom.restricted(carrier, &card).is_empty()) {
            out.seller_cards_restricted += 1;
        }
    }
}

/// The case numbers (script order) of the victims a block spared.
pub fn spared(contacts: &Contacts) -> BTreeSet<usize> {
    contacts.outcomes().filter(|c| c.spared()).map(|c| c.case).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{Carrier, FraudType};
    use events::Service;

    fn envelope(city: &City, seq: u64, event: BlockingEvent) -> Envelope {
        Envelope {
            id: format!("{city}.blocking.{seq}"),
            city: city.clone(),
            service: Service::Blocking,
            seq,
            time_ms: 0,
            correlation: None,
            causation: None,
            schema: 1,
            payload: Payload::Blocking(event),
        }
    }

    #[test]
    fn a_block_counts_from_its_report_to_its_last_carriers_confirmation() {
        let city = City::parse("huzhou").unwrap();
        let case_id = CaseId::derive(&city, 1);
        let site = "domain:kefu123.com.cn";
        let mut events = vec![
            envelope(
                &city,
                1,
                BlockingEvent::CaseScreened {
                    case_id: case_id.clone(),
                    reported_at_ms: 1_000,
                    identifiers: 1,
                    rejected: 0,
                },
            ),
            envelope(
                &city,
                2,
                BlockingEvent::IdentifierBlocked {
                    identifier: serde_json::from_value(serde_json::json!(site)).unwrap(),
                    generation: 1,
                    case_id: case_id.clone(),
                    fraud_type: FraudType::FakeCustomerService,
                    blocked_at_ms: 1_200,
                    expires_at_ms: 9_999_999,
                    carriers: Carrier::ALL.to_vec(),
                    looks_like: None,
                    province: None,
                },
            ),
        ];
        for (seq, (carrier, at)) in Carrier::ALL.into_iter().zip([1_100, 1_400, 1_200]).enumerate() {
            let request_id = format!("huzhou/{carrier}/{site}/block1");
            events.push(envelope(
                &city,
                3 + seq as u64,
                BlockingEvent::OrderConfirmed { request_id, confirmed_at_ms: at },
            ));
        }
        let section = section(&BTreeMap::from([(city, events)]), &Contacts::default(), 0, 10_000);
        assert_eq!(section.identifiers_blocked, 1);
        assert_eq!(section.blocked_by_kind["domain"], 1);
        assert_eq!((section.report_to_confirmed_ms.n, section.report_to_confirmed_ms.max), (1, 400));
        assert_eq!(section.blocks_unconfirmed, 0);
        assert_eq!(section.pool_series.len(), SERIES_POINTS);
    }

    #[test]
    fn an_old_report_without_the_section_reads_with_an_empty_one() {
        let section: BlockingSection = serde_json::from_str("{}").unwrap();
        assert_eq!(section, BlockingSection::default());
    }

    #[test]
    fn card_sellers_found_are_counted_against_the_plans_and_their_cards_at_the_carriers() {
        use protocol::carrier::{Phone, PhoneChannels, RequestId, RestrictRequest};
        let city = City::parse("huzhou").unwrap();
        let seller = |key: &str, phones: &[&str]| CardSeller {
            key: HolderKey::parse(key).unwrap(),
            cases: 2,
            accounts: 3,
            phones: phones.iter().map(|p| Phone::parse(p).unwrap()).collect(),
        };
        let sellers = [
            seller("icbc:0123456789abcdef", &["+8613800138000", "+8618900000000"]),
            seller("ccb:0123456789abcdef", &["+8613900139000"]),
        ];
        let entered = |seq, key: &str| {
            let event = BlockingEvent::PoolEntered {
                subject: PoolSubject::Holder(HolderKey::parse(key).unwrap()),
                generation: 1,
                case_id: CaseId::derive(&city, seq),
                entered_at_ms: 1,
                release_at_ms: 2,
                channels: domain::Channel::LOCAL_VOICE_ONLY.to_vec(),
                cards: Vec::new(),
            };
            envelope(&city, seq, event)
        };
        let events = BTreeMap::from([(
            city.clone(),
            vec![entered(1, "icbc:0123456789abcdef"), entered(2, "abc:0123456789abcdef0123")],
        )]);
        let mut telecom = Telecom::new();
        let request = RestrictRequest {
            request_id: RequestId::parse("huzhou/cmcc/phone:+8613800138000/restrict1").unwrap(),
            center: city.clone(),
            subject: CardSubject::Phone(Phone::parse("+8613800138000").unwrap()),
            channels: PhoneChannels::new(domain::Channel::LOCAL_VOICE_ONLY.to_vec()).unwrap(),
        };
        telecom.restrict(Carrier::Cmcc, &request, 1).unwrap();
        let mut out = BlockingSection::default();
        card_sellers(&mut out, &events, &sellers, &telecom);
        assert_eq!((out.card_sellers_truth, out.card_sellers_found, out.card_sellers_found_true), (2, 2, 1));
        assert_eq!((out.seller_cards, out.seller_cards_restricted), (3, 1));
    }
}
