//! The staff console in a real browser (headless Chromium, `testkit::browser`) on a real
//! deployment (the lab's embedded one, secured): what staff do, as they do it, through the
//! pages' own forms, and what the pages then show without a reload.
//!
//! - an intake officer logs in, files a victim's report through the form and watches the
//!   money trail fill in on the case page, live;
//! - dissuasion staff claim a task a carrier's signal opened, and complete it with an outcome;
//! - two approvers approve a return in two browsers, a bank liaison sees no button, and one
//!   approver alone does not release it;
//! - a province officer sees the city's figures on the province board.
//!
//! Each test takes screenshots of its main page into [`SHOTS_ENV`] (default: a directory
//! under the system's temp dir, never the repository), for a person to look at.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use afc::console::Scope;
use afc::console::labels::Lang;
use common::{TRACE_TIMEOUT, city, now_ms, poll, submit_ok};
use domain::calendar::UtcOffset;
use domain::{Carrier, City, Service};
use loadtests::console::{RunningConsole, seed_of, start};
use loadtests::deployment::{Embedded, EmbeddedOptions};
use protocol::restitution::{self as rst, ListReply, ListRequest, RestitutionError};
use protocol::signal::{SignalMessage, SignalWhat};
use simulator::wave::{Wave, WaveConfig, generate};
use testkit::{Browser, Tab};

/// How long a page may take to show what a test waits for: a trace, a freeze, a live update,
/// the province catching up. Seconds on an idle machine; this is for a loaded one.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// Where the screenshots go: this variable's directory, else [`SHOTS_DIR`] in the temp dir.
const SHOTS_ENV: &str = "AFC_CONSOLE_SHOTS";
const SHOTS_DIR: &str = "afc-console-screenshots";

/// Tries at choosing an outcome and submitting it, when a live refresh replaced the form
/// between the choice and the click (the page is live: the claim's own event may land then).
const SUBMIT_ATTEMPTS: usize = 3;

fn shots_dir() -> PathBuf {
    let dir = std::env::var_os(SHOTS_ENV).map_or_else(|| std::env::temp_dir().join(SHOTS_DIR), PathBuf::from);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A screenshot of what `tab` shows, as `name`.png in [`shots_dir`].
async fn shoot(tab: &Tab, name: &str) {
    let path = shots_dir().join(format!("{name}.png"));
    tab.screenshot(&path).await.unwrap();
    eprintln!("screenshot: {}", path.display());
}

/// A JavaScript string literal of `text`.
fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// Logs `who` in on `console` through the login form, pasting their key, with pages in
/// Chinese (`zh`) or English (`en`).
async fn log_in(tab: &Tab, console: &RunningConsole, deployment: &Embedded, who: &str, lang: &str) {
    tab.goto(&format!("{}/lang?to={lang}", console.url)).await.unwrap();
    tab.goto(&format!("{}/login", console.url)).await.unwrap();
    tab.fill("form.login input[name=name]", who).await.unwrap();
    tab.fill("form.login input[name=key]", &seed_of(deployment, who).unwrap()).await.unwrap();
    tab.submit_and_wait("form.login button[type=submit]").await.unwrap();
    let landed = tab.url().await.unwrap();
    assert!(!landed.contains("/login"), "{who} is logged in: {landed} {}", tab.text("main").await.unwrap());
}

/// The browser, or the test fails saying how to get one.
async fn browser() -> Browser {
    Browser::launch().await.unwrap_or_else(|error| {
        panic!("{error}: these tests need Chromium (cargo xtask install-chromium, or set AFC_CHROMIUM)")
    })
}

/// `5000.00`: fen as the form's yuan.
fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A wave report's payments as the form's lines (`<account> <yuan> <local time>`), and the
/// accounts paid: the wave pays accounts only (no payment orders), as a form can list them.
fn payment_lines(report: &serde_json::Value) -> (String, Vec<String>) {
    let mut lines = Vec::new();
    let mut accounts = Vec::new();
    for transfer in report["transfers"].as_array().unwrap() {
        let account = transfer["account"].as_str().expect("a payment to an account").to_owned();
        let at = UtcOffset::CHINA.local(transfer["at_ms"].as_u64().unwrap());
        lines.push(format!("{account} {} {at}", yuan(transfer["amount_fen"].as_u64().unwrap())));
        accounts.push(account);
    }
    (lines.join("\n"), accounts)
}

fn lines_of(list: &serde_json::Value) -> String {
    list.as_array()
        .map(|items| items.iter().filter_map(|i| i.as_str()).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

/// A deployment of `city` over `wave`'s world, and the city's console on the system clock.
async fn deploy(city: &City, wave: &Wave, options: EmbeddedOptions) -> (Embedded, RunningConsole) {
    let deployment = Embedded::start(std::slice::from_ref(city), wave.world.clone(), options).await.unwrap();
    let any = "127.0.0.1:0".parse().unwrap();
    let console = start(&deployment, Scope::City(city.clone()), domain::system_clock(), any).await.unwrap();
    (deployment, console)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_intake_officer_files_a_report_in_the_form_and_watches_its_trail_fill_in_live() {
    common::init();
    let hangzhou = city("hangzhou");
    let config = WaveConfig { platform_share: 0.0, ..WaveConfig::typical(31, vec![hangzhou.clone()], 1) };
    let wave = generate(&config, now_ms()).unwrap();
    // Banks a little slow, as real ones are, and the freezes two seconds after the stops: the
    // trail fills in over a few seconds, while the page is open.
    let options =
        EmbeddedOptions { bank_latency: Duration::from_millis(100), freeze_after_ms: 2_000, ..Default::default() };
    let (deployment, console) = deploy(&hangzhou, &wave, options).await;
    let browser = browser().await;
    let tab = browser.new_context_tab().await.unwrap();
    log_in(&tab, &console, &deployment, "hangzhou-intake-1", "zh").await;

    // The victim's report, typed into the form: their payments a line each.
    let report = &wave.reports[0].body;
    let (payments, accounts) = payment_lines(report);
    tab.goto(&format!("{}/file", console.url)).await.unwrap();
    let victim = &report["victim"];
    tab.fill("form.report input[name=name]", victim["name"].as_str().unwrap()).await.unwrap();
    tab.fill("form.report input[name=id_number]", victim["id_number"].as_str().unwrap()).await.unwrap();
    tab.fill("form.report input[name=phone]", victim["phone"].as_str().unwrap()).await.unwrap();
    tab.fill("form.report select[name=fraud_type]", report["fraud_type"].as_str().unwrap()).await.unwrap();
    tab.fill("form.report textarea[name=transfers]", &payments).await.unwrap();
    tab.fill("form.report textarea[name=phones]", &lines_of(&report["contacts"]["phones"])).await.unwrap();
    tab.fill("form.report textarea[name=urls]", &lines_of(&report["contacts"]["urls"])).await.unwrap();
    tab.fill("form.report textarea[name=narrative]", report["narrative"].as_str().unwrap()).await.unwrap();
    shoot(&tab, "1-file-form").await;
    tab.submit_and_wait("form.report button[type=submit]").await.unwrap();

    // The case page: the trail fills in as freezing works, without a reload.
    let case_url = tab.url().await.unwrap();
    assert!(case_url.starts_with(&format!("{}/case/hangzhou-", console.url)), "{case_url}");
    tab.wait_for(
        "document.querySelectorAll('svg.trail [data-hop]').length > 0 \
         && document.querySelectorAll('svg.trail .node.frozen, svg.trail .node.stopped').length > 0 \
         && Number(document.body.dataset.updates || 0) > 0",
        PAGE_WAIT,
    )
    .await
    .unwrap();
    assert_eq!(tab.url().await.unwrap(), case_url, "the same page, updated in place");
    // Then the money held is frozen (a second after the stop), still live.
    tab.wait_for("document.querySelectorAll('svg.trail .node.frozen').length > 0", PAGE_WAIT).await.unwrap();
    let hops = tab.text("table.hops").await.unwrap();
    for account in &accounts {
        assert!(hops.contains(account.as_str()), "the trail starts at {account}, which the victim paid: {hops}");
    }
    let shown = tab.text("main").await.unwrap();
    assert!(!shown.contains(victim["name"].as_str().unwrap()), "no victim's name on the case page");
    shoot(&tab, "1-case").await;
    tab.eval("document.querySelector('table.hops').scrollIntoView()").await.unwrap();
    shoot(&tab, "1-case-hops").await;
    deployment.stop().await;
}

/// The scam number of the task's report: a fake policeman's.
const SCAM: &str = "17100002222";
/// The person it reached, whom the task is to call back.
const REACHED: &str = "13800138001";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dissuasion_staff_claim_a_task_a_carrier_signal_opened_and_complete_it_with_an_outcome() {
    common::init();
    let hangzhou = city("hangzhou");
    let wave = generate(&WaveConfig::typical(32, vec![hangzhou.clone()], 1), now_ms()).unwrap();
    let (deployment, console) = deploy(&hangzhou, &wave, EmbeddedOptions::default()).await;

    // The fake policeman's number reached someone half an hour ago (the carrier says so on
    // the city's signal stream); then a victim reports that number: a call-back task opens.
    let carrier = &deployment.carrier_clients()[&(hangzhou.clone(), Carrier::Cmcc)];
    let what = SignalWhat::Contact { identifier: format!("phone:{SCAM}"), duration_s: 30 };
    let at_ms = deployment.clock.now_ms() - 30 * 60_000;
    let signal =
        SignalMessage { source: "cmcc".into(), signal_id: "s-1".into(), subscriber: REACHED.into(), at_ms, what };
    let mut headers = async_nats::HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, signal.message_id().as_str());
    let subject = protocol::subjects::signals(&hangzhou, &signal.source);
    let js = async_nats::jetstream::new(carrier.clone());
    js.publish_with_headers(subject, headers, protocol::to_json(&signal).into()).await.unwrap().await.unwrap();
    let mut report = wave.reports[0].body.clone();
    report["contacts"]["phones"] = serde_json::json!([SCAM]);
    let case_id = submit_ok(deployment.client(&hangzhou), &hangzhou, &report).await.unwrap().case_id;

    // The operator's queue shows it (live, if it opens while the page is open).
    let browser = browser().await;
    let tab = browser.new_context_tab().await.unwrap();
    log_in(&tab, &console, &deployment, "hangzhou-dissuasion-1", "zh").await;
    tab.goto(&format!("{}/tasks", console.url)).await.unwrap();
    tab.wait_for("document.querySelector('table.tasks tbody tr form[action=\"/tasks/claim\"]') !== null", PAGE_WAIT)
        .await
        .unwrap();
    let row = tab.eval("document.querySelector('table.tasks tbody tr').id").await.unwrap();
    let row = format!("#{}", row.as_str().unwrap());
    assert!(row.starts_with("#task-t"), "{row}");
    assert!(
        tab.eval(&format!("document.querySelector('{row} form.complete') === null")).await.unwrap() == true,
        "no complete form before the claim"
    );

    // Claimed: the row is theirs, and the form to complete it appears for them.
    tab.submit_and_wait(&format!("{row} form[action=\"/tasks/claim\"] button")).await.unwrap();
    tab.wait_for(&format!("document.querySelector('{row} form.complete') !== null"), PAGE_WAIT).await.unwrap();
    let claimed = tab.text(row.as_str()).await.unwrap();
    assert!(claimed.contains("hangzhou-dissuasion-1"), "claimed by the operator: {claimed}");
    assert!(claimed.contains(&REACHED[1..]), "the number to call, for the operator who claimed it: {claimed}");
    shoot(&tab, "2-tasks-claimed").await;

    // The case's page lists the warning among the people its blocked number reached, without
    // the number (a false positive, below, clears what dissuasion held against the person).
    tab.goto(&format!("{}/case/{case_id}", console.url)).await.unwrap();
    let task = row.trim_start_matches("#task-");
    let warned =
        format!("Array.from(document.querySelectorAll('table.warnings td')).some(td => td.textContent === '{task}')");
    tab.wait_for(&warned, PAGE_WAIT).await.unwrap();
    let warnings = tab.text("table.warnings").await.unwrap();
    let ready = afc::console::words::task_status(Lang::Zh, "ready");
    assert!(warnings.contains(&ready), "the task, in the staff's language: {warnings}");
    assert!(warnings.contains(&format!("phone:+86{SCAM}")), "reached by the case's number: {warnings}");
    assert!(!warnings.contains(&REACHED[1..]), "no number among the warnings: {warnings}");
    shoot(&tab, "2-case-warnings").await;
    tab.goto(&format!("{}/tasks", console.url)).await.unwrap();
    tab.wait_for(&format!("document.querySelector('{row} form.complete') !== null"), PAGE_WAIT).await.unwrap();

    // The outcome chosen and submitted: the task is closed with it.
    let chosen = format!("{row} form.complete:has(option[value=\"false_positive\"]:checked) button[type=submit]");
    let mut submitted = Err(String::new());
    for _ in 0..SUBMIT_ATTEMPTS {
        tab.fill(&format!("{row} form.complete select[name=outcome]"), "false_positive").await.unwrap();
        tab.fill(&format!("{row} form.complete input[name=note]"), "对方说号码是快递员的").await.unwrap();
        // The click finds the form only if it still holds the choice (one evaluation).
        submitted = tab.submit_and_wait(&chosen).await.map_err(|e| e.to_string());
        if submitted.is_ok() {
            break;
        }
    }
    submitted.unwrap();
    tab.goto(&format!("{}/tasks?status=closed", console.url)).await.unwrap();
    tab.wait_for(&format!("document.querySelector('{row}') !== null"), PAGE_WAIT).await.unwrap();
    let closed = tab.text(row.as_str()).await.unwrap();
    let false_positive = afc::console::words::task_status(Lang::Zh, "closed:false_positive");
    assert!(closed.contains(&false_positive), "closed with the outcome chosen: {closed}");
    assert!(!closed.contains(&REACHED[1..]), "the number is not shown once the task is closed: {closed}");
    assert!(
        tab.eval(&format!("document.querySelector('{row} form') === null")).await.unwrap() == true,
        "nothing left to do on a closed task"
    );
    shoot(&tab, "2-tasks-closed").await;

    deployment.stop().await;
}

/// Allocations of `city`'s restitution in `phase`, as staff list them.
async fn allocations(client: &async_nats::Client, city: &City, phase: &str) -> anyhow::Result<ListReply> {
    let request = ListRequest { phase: Some(phase.into()), case_id: None, account: None, after: None, limit: None };
    let answer =
        afc::client::ask(client, city, Service::Restitution, rst::VERB_LIST, serde_json::to_vec(&request)?).await?;
    let reply: protocol::Reply<ListReply, RestitutionError> = serde_json::from_slice(&answer)?;
    Ok(reply.into_result()?)
}

/// The allocation's phase as its page shows it: the second figure (after the account).
const PHASE: &str = "document.querySelectorAll('.figures div b')[1].textContent";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_approvers_in_two_browsers_release_a_return_that_one_alone_cannot() {
    common::init();
    let hangzhou = city("hangzhou");
    let wave = generate(&WaveConfig::typical(7, vec![hangzhou.clone()], 2), now_ms()).unwrap();
    let options = EmbeddedOptions {
        restitution: restitution::Tuning { notice_ms: 1, ..Default::default() },
        ..Default::default()
    };
    let (deployment, console) = deploy(&hangzhou, &wave, options).await;
    let desk = deployment.client(&hangzhou);
    for report in &wave.reports {
        submit_ok(desk, &hangzhou, &report.body).await.unwrap();
    }
    let allocation = poll(TRACE_TIMEOUT, "an allocation awaiting approval", || async {
        let reply = allocations(desk, &hangzhou, "awaiting_approval").await?;
        Ok(reply.allocations.first().map(|a| a.allocation.clone()).ok_or_else(|| "none yet".to_owned()))
    })
    .await
    .unwrap();
    let page = format!("{}/returns/{allocation}", console.url);
    let phase_is = |phases: &[&str]| {
        let phases: Vec<String> = phases.iter().map(|p| js(p)).collect();
        format!("[{}].includes({PHASE})", phases.join(","))
    };

    let browser = browser().await;
    let (first, second, liaison) = (
        browser.new_context_tab().await.unwrap(),
        browser.new_context_tab().await.unwrap(),
        browser.new_context_tab().await.unwrap(),
    );
    log_in(&first, &console, &deployment, "hangzhou-approver-1", "zh").await;
    log_in(&second, &console, &deployment, "hangzhou-approver-2", "en").await;
    log_in(&liaison, &console, &deployment, "hangzhou-bankdesk-1", "zh").await;
    for tab in [&first, &second, &liaison] {
        tab.goto(&page).await.unwrap();
        tab.wait_for(&phase_is(&["awaiting_approval"]), PAGE_WAIT).await.unwrap();
    }
    let no_button = "document.querySelector('form.approve') === null";
    assert!(liaison.eval(no_button).await.unwrap() == true, "no approve button for a bank liaison");

    // The first approver approves: their button goes, their name is listed, and the return
    // still waits for a second approver.
    first.submit_and_wait("form.approve button[type=submit]").await.unwrap();
    first
        .wait_for(
            &format!(
                "{no_button} && document.querySelector('ul.approvals').textContent.includes('hangzhou-approver-1')"
            ),
            PAGE_WAIT,
        )
        .await
        .unwrap();
    assert!(first.eval(&phase_is(&["awaiting_approval"])).await.unwrap() == true, "one approver alone: waiting");
    shoot(&first, "3-allocation-one-approval").await;

    // The second approver (the page as it was before, or refreshed live) approves: released.
    second.wait_for("document.querySelector('form.approve') !== null", PAGE_WAIT).await.unwrap();
    second.submit_and_wait("form.approve button[type=submit]").await.unwrap();
    second.wait_for(&phase_is(&["executing", "completed"]), PAGE_WAIT).await.unwrap();
    assert!(second.eval(no_button).await.unwrap() == true, "nothing left to approve");
    // The liaison's page, open all along, shows it too without a reload.
    liaison.wait_for(&phase_is(&["executing", "completed"]), PAGE_WAIT).await.unwrap();
    assert!(liaison.eval("Number(document.body.dataset.updates || 0) > 0").await.unwrap() == true);
    shoot(&second, "3-allocation-released").await;
    shoot(&liaison, "3-allocation-liaison").await;
    deployment.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_province_officer_sees_the_city_s_figures_on_the_province_board() {
    common::init();
    let hangzhou = city("hangzhou");
    let wave = generate(&WaveConfig::typical(33, vec![hangzhou.clone()], 3), now_ms()).unwrap();
    let (deployment, _city_console) = deploy(&hangzhou, &wave, EmbeddedOptions::default()).await;
    let any = "127.0.0.1:0".parse().unwrap();
    let board = start(&deployment, Scope::Province, domain::system_clock(), any).await.unwrap();
    for report in &wave.reports {
        submit_ok(deployment.client(&hangzhou), &hangzhou, &report.body).await.unwrap();
    }
    // What the coordinator counts for the month, once the province holds every report.
    let local = UtcOffset::CHINA.local(now_ms());
    let period = format!("{:04}-{:02}", local.year, local.month);
    let reports = u64::try_from(wave.reports.len()).unwrap();
    let figures = poll(TRACE_TIMEOUT, "the province counts every report", || async {
        let report = deployment.province_report(&period).await?;
        let row = report.rows.iter().find(|r| r.city.as_ref() == Some(&hangzhou)).map(|r| r.figures);
        Ok(row.filter(|f| f.reports == reports).ok_or_else(|| format!("{row:?}")))
    })
    .await
    .unwrap();
    assert_eq!(figures.reported_loss, wave.total_loss().unwrap());

    let browser = browser().await;
    let tab = browser.new_context_tab().await.unwrap();
    log_in(&tab, &board, &deployment, "province-officer-1", "zh").await;
    assert!(tab.url().await.unwrap().ends_with("/province"), "a province officer lands on the board");
    let row =
        "[...document.querySelectorAll('table.report tbody tr')].find(r => r.cells[0].textContent === 'hangzhou')";
    let cases = js(&reports.to_string());
    let loss = js(&figures.reported_loss.grouped().to_string());
    tab.wait_for(
        &format!("{row}.cells[1].textContent === {cases} && {row}.cells[2].textContent === {loss}"),
        PAGE_WAIT,
    )
    .await
    .unwrap();
    let convergence = tab.text("table.convergence").await.unwrap();
    assert!(convergence.contains("hangzhou"), "the city's stream is listed: {convergence}");
    shoot(&tab, "4-province-board").await;
    deployment.stop().await;
}
