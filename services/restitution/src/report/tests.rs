//! The report's promises: its totals add up (and say so when data does not), every text is
//! escaped, a 4-level 25-account trail lays out each place once with no two nodes
//! overlapping, and the same data gives the same bytes whatever order its trail is in.

use std::collections::BTreeSet;

use domain::Fen;

use super::example::fund_flow;
use super::format::yuan;
use super::graph::{NODE_W, NodeKind, layout};
use super::*;

/// The benchmark's and the browser check's shape: 4 levels, 25 accounts, 3 victims.
fn four_levels() -> FundFlow {
    fund_flow(&[1, 4, 8, 12], 3)
}

#[test]
fn the_totals_add_up_and_are_shown() {
    let report = four_levels();
    let section = &report.allocations[0];
    let totals = section.totals();
    assert!(totals.adds_up);
    let unallocated = &section.allocation.unallocated;
    assert_eq!(
        totals.frozen_fen,
        totals
            .allocated_fen
            .checked_add(unallocated.beyond_victims_fen)
            .unwrap()
            .checked_add(unallocated.held_back_by_caps_fen)
            .unwrap()
    );
    assert_eq!(totals.shares_fen, totals.allocated_fen);
    // The first account keeps a tenth of each victim's payment: 500,000 + 623,456 + 746,913.
    assert_eq!(totals.frozen_fen, Fen::new(1_870_369));
    let html = render_html(&report);
    assert!(html.contains("¥18,703.69"), "the frozen money, to the fen");
    assert!(html.contains("✓ 平衡 adds up"));
    for share in &section.allocation.shares {
        assert!(html.contains(&yuan(share.fen)), "share {}", share.case_id);
    }
}

#[test]
fn totals_that_do_not_add_up_are_shown_as_such() {
    let mut report = four_levels();
    let allocation = &mut report.allocations[0].allocation;
    allocation.allocated_fen = allocation.allocated_fen.checked_add(Fen::new(1)).unwrap();
    assert!(!report.allocations[0].totals().adds_up);
    assert!(render_html(&report).contains("does not add up"));
}

#[test]
fn everything_shown_is_escaped() {
    const HOSTILE: &str = "<script>alert(\"x\")</script>' onload='y";
    let mut report = four_levels();
    report.trail[3].note = Some(HOSTILE.to_owned());
    report.trail[4].transfer_id = Some(HOSTILE.to_owned());
    report.trail[5].to = HOSTILE.to_owned();
    report.trail[6].via_order = Some(HOSTILE.to_owned());
    let section = &mut report.allocations[0];
    section.id = HOSTILE.to_owned();
    section.state = HOSTILE.to_owned();
    section.approvals[0].by = HOSTILE.to_owned();
    section.approvals[0].key = HOSTILE.to_owned();
    section.objections[0].reason = HOSTILE.to_owned();
    section.objections[0].answer.as_mut().unwrap().by = HOSTILE.to_owned();
    section.returns[0].to_account_masked = HOSTILE.to_owned();
    section.returns[0].state = HOSTILE.to_owned();
    section.allocation.shares[0].deposits[0].transfer_id = Some(HOSTILE.to_owned());
    report.subject = Subject::Allocation(HOSTILE.to_owned());
    let html = render_html(&report);
    assert!(!html.contains("<script"), "a script element got through");
    assert!(!html.contains("' onload='"), "an attribute got through");
    assert!(!html.contains("alert(\"x\")"), "a quote got through");
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onload=&#39;y"));
}

#[test]
fn a_four_level_trail_lays_out_every_place_once_without_overlap() {
    let report = four_levels();
    let graph = layout(&report);
    let accounts: Vec<_> = graph.nodes.iter().filter(|n| n.kind == NodeKind::Account).collect();
    assert_eq!(accounts.len(), 25, "every account once");
    let keys: BTreeSet<&str> = graph.nodes.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys.len(), graph.nodes.len(), "no place twice");
    let reached: BTreeSet<&str> = report.trail.iter().filter(|h| h.to != "cash").map(|h| h.to.as_str()).collect();
    assert_eq!(reached.len(), 25);
    assert!(reached.iter().all(|to| keys.contains(to)), "every account reached is drawn");
    assert_eq!(graph.nodes.iter().filter(|n| n.kind == NodeKind::Victim).count(), 3);
    assert_eq!(graph.columns, 6, "the victims, four levels and the last level's cash-outs");
    assert!(graph.nodes.iter().filter(|n| n.column == 5).all(|n| n.kind == NodeKind::Cash));
    assert_eq!(graph.edges.len(), report.trail.len(), "one edge per hop");
    assert_eq!(graph.omitted_nodes, 0);
    for (i, a) in graph.nodes.iter().enumerate() {
        assert!(a.x >= 0 && a.y >= 0 && a.x + NODE_W <= graph.width && a.y + a.h <= graph.height, "{} inside", a.key);
        for b in &graph.nodes[i + 1..] {
            let apart = a.x + NODE_W <= b.x || b.x + NODE_W <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
            assert!(apart, "{} and {} overlap", a.key, b.key);
        }
    }
    for edge in &graph.edges {
        let (from, to) = (&graph.nodes[edge.from], &graph.nodes[edge.to]);
        assert_eq!(edge.from_xy.0, from.x + NODE_W, "leaves from the right side");
        assert!((from.y..=from.y + from.h).contains(&edge.from_xy.1));
        assert_eq!(edge.to_xy.0, to.x, "arrives on the left side");
        assert!((to.y..=to.y + to.h).contains(&edge.to_xy.1));
        assert!(from.column < to.column, "left to right");
    }
    // Level by level: the first account in column 1, the last level's twelve in column 4.
    for level in 1..=4u32 {
        let width = [1, 4, 8, 12][level as usize - 1];
        assert_eq!(accounts.iter().filter(|n| n.column == level).count(), width, "level {level}");
    }
    // The paths of the victims' money into the allocated account are highlighted.
    let allocated = graph.nodes.iter().position(|n| n.allocated).expect("the allocated account is drawn");
    assert!(graph.edges.iter().filter(|e| e.to == allocated).all(|e| e.highlighted));
    assert_eq!(graph.edges.iter().filter(|e| e.highlighted).count(), 3, "one payment per victim");
}

#[test]
fn the_same_report_renders_to_the_same_bytes_whatever_the_trail_order() {
    let report = four_levels();
    let html = render_html(&report);
    assert_eq!(html, render_html(&four_levels()));
    let mut reversed = report.clone();
    reversed.trail.reverse();
    assert_eq!(render_html(&reversed), html);
    assert_eq!(to_json(&report), to_json(&four_levels()));
}

#[test]
fn the_html_draws_every_account_and_holds_no_script_or_external_asset() {
    let html = render_html(&four_levels());
    assert_eq!(html.matches("<g class=\"node account").count(), 25);
    assert_eq!(html.matches("<g class=\"node victim").count(), 3);
    assert_eq!(html.matches("<svg").count(), 1);
    assert!(!html.contains("<script") && !html.contains("src=") && !html.contains("href="));
    assert!(html.contains("资金流向分析报告 Fund-flow analysis report"));
    assert!(html.contains("<time datetime=\"2025-11-24T09:00:00+08:00\">2025-11-24 09:00:00</time>"));
}

#[test]
fn the_json_form_reads_back_as_the_same_report() {
    let report = four_levels();
    let json = to_json(&report);
    let read: FundFlow = serde_json::from_str(&json).unwrap();
    assert_eq!(read, report);
    assert!(json.contains("\"kind\": \"allocation\""));
    assert!(json.contains("\"state\": \"cashed_out\""));
}

#[test]
fn a_report_without_allocations_highlights_the_frozen_accounts() {
    let mut report = four_levels();
    report.allocations.clear();
    report.subject = Subject::Case(report.trail[0].case_id.clone());
    let graph = layout(&report);
    let frozen_hops = report.trail.iter().filter(|h| h.state == HopState::Frozen).count();
    assert!(graph.edges.iter().filter(|e| e.highlighted).count() >= frozen_hops);
    let html = render_html(&report);
    assert!(html.contains("案件 case wuhan-"));
    assert!(!html.contains("section class=\"allocation\""));
}

mod from_freezing_events {
    use ::events::freezing::{FreezingEvent, HopEnd, OnwardLeg};
    use domain::report::Destination;
    use domain::{AccountRef, CaseId, City, Fen, PaymentOrderRef};

    use super::super::trail::from_events;
    use super::super::*;

    const T: u64 = 1_763_946_000_000;

    fn account(n: u32) -> AccountRef {
        AccountRef::parse(&format!("icbc:62220200000{n:05}")).unwrap()
    }

    fn leg(to: u32, amount: u64, at: u64, id: &str) -> OnwardLeg {
        OnwardLeg {
            to: Destination::Account(account(to)),
            amount_fen: Fen::new(amount),
            at_ms: T + at,
            transfer_id: id.to_owned(),
        }
    }

    #[test]
    fn a_case_paid_through_an_order_then_split_stopped_frozen_queued_ended_and_cashed_out() {
        let case = CaseId::derive(&City::parse("wuhan").unwrap(), 7);
        let order = PaymentOrderRef::parse("alipay:ord123456").unwrap();
        let events = [
            FreezingEvent::TraceStarted {
                case_id: case.clone(),
                reported_at_ms: T,
                reported_loss_fen: Fen::new(100_000),
            },
            FreezingEvent::HopOpened {
                case_id: case.clone(),
                hop: 1,
                parent: None,
                depth: 1,
                target: Destination::Order(order.clone()),
                traced_fen: Fen::new(100_000),
                since_ms: T,
                arrival_transfer_id: None,
            },
            FreezingEvent::OrderResolved {
                case_id: case.clone(),
                hop: 1,
                order: order.clone(),
                account: account(1),
                settled_at_ms: T + 1_000,
                transfer_id: "settle-1".to_owned(),
                answered_in_ms: None,
            },
            FreezingEvent::AccountStopped {
                case_id: case.clone(),
                hop: 1,
                account: account(1),
                stop_no: 1,
                held_fen: Fen::new(20_000),
                claim_fen: Fen::new(10_000),
                onward: vec![leg(2, 50_000, 60_000, "leg-2"), leg(3, 30_000, 61_000, "leg-3")],
                cashed_out_fen: Fen::new(10_000),
                stopped_at_ms: T + 300_000,
                expires_at_ms: T + 86_400_000,
                answered_in_ms: None,
                first_onward_hop: Some(2),
                depth: Some(1),
            },
            FreezingEvent::AccountFrozen {
                case_id: case.clone(),
                account: account(1),
                frozen_fen: Fen::new(10_000),
                frozen_at_ms: T + 600_000,
                expires_at_ms: T + 86_400_000,
            },
            FreezingEvent::AccountStopped {
                case_id: case.clone(),
                hop: 2,
                account: account(2),
                stop_no: 1,
                held_fen: Fen::new(50_000),
                claim_fen: Fen::new(50_000),
                onward: vec![],
                cashed_out_fen: Fen::ZERO,
                stopped_at_ms: T + 400_000,
                expires_at_ms: T + 86_400_000,
                answered_in_ms: None,
                first_onward_hop: None,
                depth: Some(2),
            },
            FreezingEvent::FreezeQueued {
                case_id: case.clone(),
                account: account(2),
                claim_fen: Fen::new(50_000),
                queued_behind: City::parse("hangzhou").unwrap(),
                queued_at_ms: T + 700_000,
                expires_at_ms: T + 86_400_000,
            },
            FreezingEvent::HopEnded {
                case_id: case.clone(),
                hop: 3,
                reason: HopEnd::Failed,
                detail: "no answer".to_owned(),
                merged_into: None,
            },
        ];
        let hangzhou_case = CaseId::derive(&City::parse("hangzhou").unwrap(), 3);
        let claim = |city: &str, case_id: &CaseId, at: u64| events::province::CrossCityClaim {
            city: City::parse(city).unwrap(),
            case_id: case_id.clone(),
            first_stop_at_ms: T + at,
        };
        let cross = |claims| FreezingEvent::CrossCityClaims { account: account(2), claims, noticed_at_ms: T + 800_000 };
        let two = vec![claim("hangzhou", &hangzhou_case, 100_000), claim("wuhan", &case, 400_000)];
        let ezhou_case = CaseId::derive(&City::parse("ezhou").unwrap(), 1);
        let three = vec![two[0].clone(), claim("ezhou", &ezhou_case, 200_000), two[1].clone()];
        let events: Vec<FreezingEvent> = events.into_iter().chain([cross(two.clone()), cross(three)]).collect();
        let trail = from_events(&events);
        let shape: Vec<_> = trail
            .iter()
            .map(|h| (h.hop, h.parent, h.depth, h.to.as_str(), h.amount_fen.get(), h.state, h.held_fen.get()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (1, None, 1, account(1).as_str(), 100_000, HopState::Frozen, 10_000),
                (2, Some(1), 2, account(2).as_str(), 50_000, HopState::Queued, 50_000),
                (3, Some(1), 2, account(3).as_str(), 30_000, HopState::Ended, 0),
                (4, Some(1), 2, "cash", 10_000, HopState::CashedOut, 0),
            ]
        );
        assert_eq!(trail[0].via_order.as_deref(), Some(order.as_str()));
        assert_eq!((trail[0].at_ms, trail[0].transfer_id.as_deref()), (T + 1_000, Some("settle-1")));
        // Queued behind Hangzhou, whose case claims the account first; the newer notice's
        // three claims replace the two.
        let note = trail[1].note.as_deref().unwrap();
        assert!(note.starts_with("queued behind hangzhou; also claimed by hangzhou case "), "{note}");
        assert!(note.contains(&format!("ezhou case {ezhou_case}")), "{note}");
        assert!(note.ends_with("this center's claim is 3 of 3 by first stop"), "{note}");
        assert_eq!(note.matches("also claimed").count(), 1, "{note}");
        assert_eq!(trail[2].note.as_deref(), Some("failed: no answer"));

        let report = FundFlow {
            city: City::parse("wuhan").unwrap(),
            generated_at_ms: T + 86_400_000,
            subject: Subject::Case(case),
            trail,
            allocations: vec![],
        };
        let html = render_html(&report);
        assert_eq!(html.matches("<g class=\"node account").count(), 3);
        assert_eq!(html.matches("<g class=\"node cash").count(), 1);
        assert!(html.contains("经订单 via order alipay:ord123456"));
    }
}
