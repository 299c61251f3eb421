//! Carrier orders: pending until confirmed, retried with bounded backoff under the same id,
//! failed for good when refused or never confirmed.

use super::*;
use crate::limits::{MAX_ORDER_ATTEMPTS, ORDER_RETRY_BACKOFF_MS};

const BLOCK: &str = "huzhou/cmcc/phone:+8613800138000/block1";

fn answered(result: Result<(), OrderErrorKind>) -> Input {
    Input::OrderAnswered { request_id: BLOCK.into(), result }
}

fn status(world: &World) -> OrderStatus {
    world.state.blocks.get(&id("phone:+8613800138000")).unwrap().carriers[&Carrier::Cmcc]
}

#[test]
fn given_a_block_order_when_the_carrier_times_out_then_it_is_retried_under_the_same_id_until_confirmed() {
    let mut world = World::new();
    check(&mut world, reported(1, &["13800138000"], &[]), T0);
    assert_eq!(status(&world), OrderStatus::Pending);
    assert_eq!(pending_orders(&world.state).len(), 1, "a restart sends it again");

    let (events, orders) = check(&mut world, answered(Err(OrderErrorKind::Timeout)), T0 + 1_000);
    let retry_at = T0 + 1_000 + ORDER_RETRY_BACKOFF_MS[0];
    assert_eq!(
        events,
        [BlockingEvent::OrderRetrying {
            request_id: BLOCK.into(),
            attempt: 1,
            retry_at_ms: retry_at,
            error: OrderErrorKind::Timeout
        }]
    );
    assert!(orders.is_empty());
    assert_eq!(status(&world), OrderStatus::Pending, "shown as pending while retried");
    assert!(pending_orders(&world.state).is_empty(), "waiting for its retry, not re-sent at a restart");
    assert_eq!(world.state.next_deadline(), Some(retry_at));

    let (events, orders) = check(&mut world, Input::TimerFired, retry_at);
    assert_eq!(events, [BlockingEvent::OrderResent { request_id: BLOCK.into(), attempt: 2 }]);
    assert_eq!(orders[0].request_id, BLOCK, "the same request id");

    let (events, _) = check(&mut world, answered(Ok(())), retry_at + 300);
    assert_eq!(events, [BlockingEvent::OrderConfirmed { request_id: BLOCK.into(), confirmed_at_ms: retry_at + 300 }]);
    assert_eq!(status(&world), OrderStatus::Confirmed { at_ms: retry_at + 300 });
    assert!(world.state.orders.is_empty());
    assert!(
        matches!(refused(&mut world, answered(Ok(())), retry_at + 400), Rejection::NotAwaited { .. }),
        "answered once"
    );
}

#[test]
fn a_carrier_that_never_confirms_is_asked_a_bounded_number_of_times_then_the_order_fails() {
    let mut world = World::new();
    check(&mut world, reported(1, &["13800138000"], &[]), T0);
    let mut now = T0;
    let mut pauses = Vec::new();
    loop {
        let (events, _) = check(&mut world, answered(Err(OrderErrorKind::NoResponders)), now);
        match &events[..] {
            [BlockingEvent::OrderRetrying { retry_at_ms, .. }] => {
                pauses.push(retry_at_ms - now);
                now = *retry_at_ms;
                check(&mut world, Input::TimerFired, now);
            }
            [BlockingEvent::OrderFailed { attempts, error: OrderErrorKind::NoResponders, .. }] => {
                assert_eq!(*attempts, MAX_ORDER_ATTEMPTS);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(pauses.len() as u32, MAX_ORDER_ATTEMPTS - 1);
    assert_eq!(&pauses[..5], &ORDER_RETRY_BACKOFF_MS, "backoff, then the last pause repeats");
    assert_eq!(status(&world), OrderStatus::Failed);
    assert_eq!(world.state.next_deadline(), Some(T0 + 180 * DAY_MS), "only the expiry is left");
}

#[test]
fn a_refusal_fails_the_order_at_once_and_a_malformed_reply_is_retried() {
    let mut world = World::new();
    check(&mut world, reported(1, &["13800138000"], &[]), T0);
    let (events, _) = check(&mut world, answered(Err(OrderErrorKind::InvalidReply)), T0);
    assert!(matches!(events[0], BlockingEvent::OrderRetrying { .. }));
    check(&mut world, Input::TimerFired, T0 + ORDER_RETRY_BACKOFF_MS[0]);
    let (events, _) = check(&mut world, answered(Err(OrderErrorKind::Refused)), T0 + ORDER_RETRY_BACKOFF_MS[0]);
    assert!(matches!(events[0], BlockingEvent::OrderFailed { attempts: 2, error: OrderErrorKind::Refused, .. }));
}

#[test]
fn a_lift_while_the_block_order_waits_for_its_retry_cancels_the_retry() {
    let mut world = World::new();
    check(&mut world, reported(1, &["13800138000"], &[]), T0);
    check(&mut world, answered(Err(OrderErrorKind::Timeout)), T0);
    let lift = Input::Lift { identifier: id("phone:+8613800138000"), appeal: staff("wrong number") };
    let (_, orders) = check(&mut world, lift, T0 + 1);
    assert_eq!(orders[0].verb, Verb::Lift);
    assert!(!world.state.orders.contains_key(&BLOCK.to_owned()));
    assert_eq!(world.state.next_deadline(), None, "no retry and no expiry left");
}
