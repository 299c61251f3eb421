//! Intake's records store without NATS: the secret that names paying accounts is drawn with
//! the first report and kept across restarts, so one account keeps one reference.

use domain::{City, PayerRef, Service, system_clock};
use events::{IntakeEvent, Payload};
use serde_json::json;
use store::{Producer, Store};

fn city() -> City {
    City::parse("huzhou").unwrap()
}

fn open(dir: &tempfile::TempDir) -> Store {
    let producer = Producer { city: city(), service: Service::Intake };
    Store::open(&dir.path().join("intake.redb"), producer, system_clock()).unwrap()
}

fn body(amount_fen: u64, from_account: Option<&str>) -> Vec<u8> {
    let mut transfer =
        json!({"account": "icbc:6222020200001234", "amount_fen": amount_fen, "at_ms": 1_700_000_000_000u64});
    if let Some(from) = from_account {
        transfer["from_account"] = json!(from);
    }
    json!({
        "victim": {"name": "王伟", "id_number": "330102198001011234", "phone": "13900000000"},
        "fraud_type": "online_loan",
        "transfers": [transfer],
    })
    .to_string()
    .into_bytes()
}

/// The paying-account references of every `case_reported` in the store's log, in order.
fn references(store: &Store) -> Vec<Option<PayerRef>> {
    let mut found = Vec::new();
    store
        .replay(|envelope| {
            if let Payload::Intake(IntakeEvent::CaseReported { transfers, .. }) = &envelope.payload {
                found.push(transfers[0].from_account.clone());
            }
        })
        .unwrap();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_keeps_one_reference_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_700_000_100_000;
    {
        let store = open(&dir);
        // A report of the old kind first: the secret is drawn with it all the same.
        intake::submit_report(&store, &city(), &body(1_000, None), now).await.unwrap();
        intake::submit_report(&store, &city(), &body(2_000, Some("ccb:6217000011112222")), now).await.unwrap();
        let again = intake::submit_report(&store, &city(), &body(2_000, Some("ccb:6217000011112222")), now).await;
        assert!(again.unwrap().duplicate);
    }
    let store = open(&dir);
    intake::submit_report(&store, &city(), &body(3_000, Some("ccb:6217000011112222")), now).await.unwrap();
    intake::submit_report(&store, &city(), &body(4_000, Some("ccb:6217000011113333")), now).await.unwrap();
    let found = references(&store);
    assert_eq!(found.len(), 4, "the duplicate recorded nothing");
    assert_eq!(found[0], None);
    let first = found[1].clone().expect("named by reference");
    assert_eq!(found[2].as_ref(), Some(&first), "the same account after a restart: the same reference");
    assert_ne!(found[3].as_ref(), Some(&first), "another account: another reference");
}

/// A store from before the indexes (its reports and none of their index rows) is indexed
/// once at the next start, and `list` and `search` then find its cases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_the_indexes_is_indexed_once_at_start() {
    use intake::shell::index::{CASES_BY_TIME, INDEX_META, REPORT_KEYS, rebuild_records, rebuild_timeline};
    use protocol::intake::{ListRequest, SearchRequest};
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let producer = Producer { city: city(), service: Service::Intake };
    let timeline = Store::open(&dir.path().join("intake-timeline.redb"), producer, system_clock()).unwrap();
    let now = 1_700_000_100_000;
    for amount in [1_000, 2_000] {
        intake::submit_report(&store, &city(), &body(amount, None), now).await.unwrap();
    }
    // What a store of the build before the indexes holds.
    store
        .write(|ctx| -> Result<(), store::WriteError<std::convert::Infallible>> {
            ctx.tx().delete_table(CASES_BY_TIME).map_err(store::StoreError::from)?;
            ctx.tx().delete_table(REPORT_KEYS).map_err(store::StoreError::from)?;
            ctx.tx().delete_table(INDEX_META).map_err(store::StoreError::from)?;
            Ok(())
        })
        .await
        .unwrap();
    let stores = intake::IntakeStores { records: store.clone(), timeline: timeline.clone() };
    let listed = intake::list(&stores, b"{}").await.unwrap();
    assert!(listed.cases.is_empty(), "no index yet");

    assert_eq!(rebuild_records(&store).await.unwrap(), Some(2));
    assert_eq!(rebuild_timeline(&timeline).await.unwrap(), Some(0));
    assert_eq!(rebuild_records(&store).await.unwrap(), None, "once");
    assert_eq!(rebuild_timeline(&timeline).await.unwrap(), None, "once");
    let listed = intake::list(&stores, &serde_json::to_vec(&ListRequest::default()).unwrap()).await.unwrap();
    assert_eq!(listed.cases.len(), 2);
    let query = SearchRequest { query: "6222020200001234".into(), kind: None };
    let found = intake::search(&stores, &city(), &serde_json::to_vec(&query).unwrap()).await.unwrap();
    assert_eq!(found.matches.len(), 2);
}
