//! The carriers' answers on the bus (`afc.carrier.<carrier>.<verb>`), from the world's
//! [`Telecom`](crate::telecom::Telecom).

use std::sync::Mutex;

use domain::{Carrier, TimeMs};
use protocol::adapter::{AdapterError, AdapterErrorKind};
use protocol::carrier::{BlockRequest, RestrictRequest, SmsRequest};
use protocol::subjects::carrier_verb;

use super::{invalid, parse, reply_body};
use crate::world::{self, World};

/// Answers one carrier request at `now`: the JSON reply body, or the error to answer.
pub(super) fn answer_carrier(
    world: &Mutex<World>,
    carrier: &str,
    verb: &str,
    body: &[u8],
    now: TimeMs,
) -> Result<Vec<u8>, AdapterError> {
    let carrier = Carrier::parse(carrier).map_err(|error| invalid(format!("{error}")))?;
    let mut guard = world::lock(world);
    let world = &mut *guard;
    if !world.carriers.contains(&carrier) {
        return Err(AdapterError {
            kind: AdapterErrorKind::Unavailable,
            message: format!("carrier {carrier} is not in this world"),
        });
    }
    let telecom = &mut world.telecom;
    match verb {
        carrier_verb::BLOCK => Ok(reply_body(telecom.block(carrier, &parse::<BlockRequest>(verb, body)?, now))),
        carrier_verb::LIFT => Ok(reply_body(telecom.lift(carrier, &parse::<BlockRequest>(verb, body)?, now))),
        carrier_verb::RESTRICT => {
            Ok(reply_body(telecom.restrict(carrier, &parse::<RestrictRequest>(verb, body)?, now)))
        }
        carrier_verb::UNRESTRICT => {
            Ok(reply_body(telecom.unrestrict(carrier, &parse::<RestrictRequest>(verb, body)?, now)))
        }
        carrier_verb::SMS => {
            let request = parse::<SmsRequest>(verb, body)?;
            let repeat = telecom.sms_log().len();
            let reply = telecom.sms(carrier, &request, now);
            // A first delivery reaches the person (a repeat warns nobody again).
            if reply.delivered && telecom.sms_log().len() > repeat {
                world.population.sms_delivered(&request.to, now);
            }
            Ok(reply_body(Ok::<_, AdapterError>(reply)))
        }
        _ => Err(invalid(format!("unknown carrier verb {verb:?}: expected {}", carrier_verb::ALL.join(", ")))),
    }
}

#[cfg(test)]
mod tests {
    //! Carrier and restriction requests through [`crate::answer`], as the NATS servers
    //! dispatch them, and a restricted mule's scheduled forward refused.

    use std::sync::Mutex;

    use domain::{AccountRef, BankId, Fen, TimeMs};
    use protocol::Reply;
    use protocol::adapter::{AdapterError, AdapterErrorKind, Counterparty};
    use protocol::carrier::{BlockResponse, RestrictResponse};
    use protocol::subjects::{self, bank_verb, carrier_verb};

    use crate::answer;
    use crate::ledger::BlockReason;
    use crate::schedule::{Outcome, ScheduledTransfer};
    use crate::world::{self, World};
    use domain::Carrier;

    const T0: TimeMs = 1_763_700_000_000;

    fn mule() -> AccountRef {
        AccountRef::parse("icbc:6222020200001234").unwrap()
    }

    fn world() -> Mutex<World> {
        let mut world = World::new(vec![BankId::parse("icbc").unwrap()], vec![]);
        world.ledger.open_account(mule()).unwrap();
        world.ledger.open_account(AccountRef::parse("icbc:6222020200009999").unwrap()).unwrap();
        world.ledger.deposit(&mule(), Fen::yuan(500), T0).unwrap();
        Mutex::new(world)
    }

    fn error_kind(body: &[u8]) -> AdapterErrorKind {
        let reply: Reply<serde_json::Value, AdapterError> = serde_json::from_slice(body).unwrap();
        reply.into_result().unwrap_err().kind
    }

    #[test]
    fn a_carrier_blocks_and_answers_its_own_verbs_only() {
        let world = world();
        let body = br#"{"request_id":"huzhou/ctcc/domain:fake-bank.com.cn/block1","center":"huzhou","identifier":{"kind":"domain","value":"fake-bank.com.cn"}}"#;
        let subject = subjects::carrier(Carrier::Ctcc, carrier_verb::BLOCK);
        let reply: BlockResponse = serde_json::from_slice(&answer(&world, &subject, body, T0)).unwrap();
        let reply = reply.into_result().unwrap();
        assert!(reply.blocked);
        assert_eq!(world::lock(&world).telecom.blocked_since(Carrier::Ctcc, &reply.identifier), Some(T0));

        let unknown = subjects::carrier(Carrier::Ctcc, "wiretap");
        assert_eq!(error_kind(&answer(&world, &unknown, body, T0)), AdapterErrorKind::InvalidRequest);
        let app = br#"{"request_id":"x","center":"huzhou","identifier":{"kind":"app","value":"com.example.loan"}}"#;
        let body = answer(&world, &subject, app, T0);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(value["error"]["message"].as_str().unwrap().contains("identifier.kind"), "{value}");
        world::lock(&world).carriers.retain(|c| *c != Carrier::Ctcc);
        assert_eq!(error_kind(&answer(&world, &subject, b"{}", T0)), AdapterErrorKind::Unavailable);
    }

    #[test]
    fn a_restricted_mules_scheduled_forward_is_refused_as_a_hold_refuses_it() {
        let world = world();
        let body = br#"{"request_id":"huzhou/icbc/icbc:6222020200001234/restrict1","center":"huzhou","account":"icbc:6222020200001234","channels":["online_banking","mobile_banking","third_party_payment","atm"]}"#;
        let subject = subjects::bank(&mule().bank(), bank_verb::RESTRICT);
        let reply: RestrictResponse = serde_json::from_slice(&answer(&world, &subject, body, T0 + 1)).unwrap();
        assert_eq!(reply.into_result().unwrap().restricted.len(), 4);
        let other_bank = subjects::bank(&BankId::parse("ccb").unwrap(), bank_verb::RESTRICT);
        assert_eq!(error_kind(&answer(&world, &other_bank, body, T0)), AdapterErrorKind::UnknownAccount);

        let mut world = world::lock(&world);
        let to = Counterparty::Account(AccountRef::parse("icbc:6222020200009999").unwrap());
        world
            .schedule
            .push(ScheduledTransfer { due_at_ms: T0 + 10, from: mule(), to, amount: Fen::yuan(400) })
            .unwrap();
        let outcomes = world.execute_due(T0 + 10);
        assert!(matches!(&outcomes[..], [Outcome::Blocked { reason: BlockReason::Restricted { .. }, .. }]));
        assert_eq!(world.ledger.balance(&mule()), Some(Fen::yuan(500)));
    }

    #[test]
    fn a_carrier_sends_an_sms_once_and_the_person_it_reaches_is_warned() {
        use crate::population::{Effects, Person, Population, Step};
        use protocol::carrier::SmsResponse;

        let world = world();
        let mut population = Population::new(1, Effects { sms: 1.0, ..Effects::default() });
        let person = Person {
            phone: "+8613800138000".into(),
            name: "李娜".into(),
            id_number: "33050219800101002X".into(),
            carrier: Carrier::Cmcc,
            city: domain::City::parse("huzhou").unwrap(),
            gang: 0,
            fraud_type: domain::FraudType::OnlineLoan,
            first_contact_ms: T0,
            pays: None,
            handset_off: false,
        };
        population.add(person, &[]).unwrap();
        world::lock(&world).population = population;
        let body = br#"{"request_id":"huzhou/cmcc/sms/t1","center":"huzhou","to":"+8613800138000"}"#;
        let subject = subjects::carrier(Carrier::Cmcc, carrier_verb::SMS);
        let reply: SmsResponse = serde_json::from_slice(&answer(&world, &subject, body, T0)).unwrap();
        let reply = reply.into_result().unwrap();
        assert!(reply.delivered);
        let again: SmsResponse = serde_json::from_slice(&answer(&world, &subject, body, T0 + 9)).unwrap();
        assert_eq!(again.into_result().unwrap(), reply, "a repeat is answered as the first");
        let world = world::lock(&world);
        assert_eq!(world.telecom.sms_log().len(), 1);
        assert_eq!(world.population.steps().len(), 1, "the person was warned once");
        assert_eq!(world.population.warned(0), Some((T0, Step::Sms)));
    }
}
