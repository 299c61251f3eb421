//! Login, logout, and what every handler starts with: the request's session ([`Console::staff`]),
//! for a post also its form token and origin ([`Console::poster`]), the role's permission
//! ([`Console::permit`]), and the question to a service as the person ([`Console::ask`]).
//! Refusals say why, are logged with the identity (target `afc::console::audit`), and change
//! nothing.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::Service;
use maud::html;
use rand::RngCore as _;
use security::staff::StaffRole;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::labels::Lang;
use super::limits::{ASK_TIMEOUT, LOGIN_CONNECT_TIMEOUT, MAX_QUERY_CHARS};
use super::sessions::SessionError;
use super::view::{self, Viewer, notice, respond};
use super::{Console, Desk};

const SESSION_COOKIE: &str = "afc_session";
const LANG_COOKIE: &str = "afc_lang";
/// The header the live script sends when a page fetches itself again (`view`'s script).
const LIVE_HEADER: &str = "x-afc-live";

/// The person behind a request.
#[derive(Debug, Clone)]
pub struct Staff {
    token: String,
    pub who: String,
    pub role: StaffRole,
    pub lang: Lang,
    pub client: async_nats::Client,
}

/// A value of the request's cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The language of a request without a session: its cookie, else the browser's first choice.
fn request_lang(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .or_else(|| {
            let accept = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
            accept.split(',').next().and_then(|first| Lang::parse(first.split(';').next().unwrap_or_default()))
        })
        .unwrap_or_default()
}

/// Whether `path` names a page of this console and nothing elsewhere: `/…`, not `//host`
/// nor `/\host` (which browsers read as `//host`).
fn local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && !path.chars().any(char::is_control)
}

/// The attributes of the console's cookies: `Secure` when the request came through the
/// center's TLS proxy (`X-Forwarded-Proto: https`).
fn cookie_attributes(headers: &HeaderMap, tls: bool) -> &'static str {
    let https = tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    if https { "Path=/; HttpOnly; SameSite=Strict; Secure" } else { "Path=/; HttpOnly; SameSite=Strict" }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    domain::hex::encode(&bytes)
}

/// Whether a post came from a page of this console: an `Origin` (browsers send it with every
/// post) naming the host the request was sent to.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return true };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    origin.split_once("://").is_some_and(|(_, rest)| rest == host)
}

impl Console {
    /// The request's session, or the login page (saying the session expired, if it did).
    pub fn staff(&self, headers: &HeaderMap) -> Result<Staff, Response> {
        let lang = request_lang(headers);
        let Some(token) = cookie(headers, SESSION_COOKIE) else { return Err(to_login(None)) };
        let now = self.now_ms();
        // A live page fetching itself again is not the person at the desk: it does not keep
        // the session from expiring.
        let live = headers.contains_key(LIVE_HEADER);
        let mut sessions = self.inner.sessions.lock().expect("sessions lock");
        let session = if live { sessions.session(token, now) } else { sessions.use_session(token, now) };
        match session {
            Ok(session) => Ok(Staff {
                token: token.to_owned(),
                who: session.who.clone(),
                role: session.role,
                lang: session.lang,
                client: session.desk.client.clone(),
            }),
            Err((SessionError::Expired, desk)) => {
                drop(sessions);
                close(desk);
                tracing::info!(target: "afc::console::audit", "a session expired");
                Err(to_login(Some(("expired", lang))))
            }
            Err((SessionError::Unknown, _)) => Err(to_login(None)),
        }
    }

    /// The session of a post of `action`, which sends `service`'s `verb`: the session, a role
    /// that may send it, an origin of this console, and a form token this session was given
    /// and has not spent (spent now). Else the refusal, logged; a refused role spends no token.
    pub fn poster(
        &self,
        headers: &HeaderMap,
        form: &str,
        (service, verb): (Service, &str),
        action: &str,
    ) -> Result<Staff, Response> {
        let staff = self.staff(headers)?;
        self.permit(&staff, service, verb, action)?;
        let spent = same_origin(headers) && {
            let mut sessions = self.inner.sessions.lock().expect("sessions lock");
            sessions.use_session(&staff.token, self.now_ms()).is_ok_and(|session| session.spend_form(form))
        };
        if !spent {
            tracing::warn!(target: "afc::console::audit", who = %staff.who, role = %staff.role, action, "refused: a form replayed, stale or from elsewhere");
            return Err(self.refusal(&staff, StatusCode::FORBIDDEN, "stale_form"));
        }
        Ok(staff)
    }

    /// Whether `staff`'s session is still open (a live page's stream ends when it is not).
    pub fn still_open(&self, staff: &Staff) -> bool {
        self.inner.sessions.lock().expect("sessions lock").is_open(&staff.token, self.now_ms())
    }

    /// Keeps the number dissuasion told `staff` with `task`, to show on their queue.
    pub fn keep_number(&self, staff: &Staff, task: &str, number: &str) {
        let mut sessions = self.inner.sessions.lock().expect("sessions lock");
        if let Ok(session) = sessions.session(&staff.token, self.now_ms()) {
            session.desk.keep_number(task, number);
        }
    }

    /// The numbers `staff` was told of `tasks`, by task.
    pub fn numbers<'a>(
        &self,
        staff: &Staff,
        tasks: impl Iterator<Item = &'a str>,
    ) -> std::collections::BTreeMap<String, String> {
        let sessions = self.inner.sessions.lock().expect("sessions lock");
        let Some(desk) = sessions.desk(&staff.token) else { return Default::default() };
        tasks.filter_map(|task| Some((task.to_owned(), desk.number(task)?.to_owned()))).collect()
    }

    /// A new form token of `staff`'s session, for a form on the page being rendered.
    pub fn form(&self, staff: &Staff) -> String {
        let token = random_token();
        let mut sessions = self.inner.sessions.lock().expect("sessions lock");
        match sessions.session(&staff.token, self.now_ms()) {
            Ok(session) => session.issue_form(token),
            Err(_) => token,
        }
    }

    /// What the page frame needs of `staff`.
    pub fn viewer(&self, staff: &Staff) -> Viewer {
        Viewer { who: staff.who.clone(), role: staff.role, lang: staff.lang, tz: self.tz() }
    }

    /// Refuses `action` unless `staff`'s role may send `service`'s `verb`.
    pub fn permit(&self, staff: &Staff, service: Service, verb: &str, action: &str) -> Result<(), Response> {
        if staff.role.may(service, verb) {
            return Ok(());
        }
        tracing::warn!(target: "afc::console::audit", who = %staff.who, role = %staff.role, action, "refused: outside the role");
        Err(self.refusal(staff, StatusCode::FORBIDDEN, "not_allowed"))
    }

    /// A page saying why something was refused.
    pub fn refusal(&self, staff: &Staff, status: StatusCode, key: &str) -> Response {
        let viewer = self.viewer(staff);
        let lang = staff.lang;
        respond(status, view::page(Some(&viewer), lang, lang.t("refused"), None, notice("error", lang.t(key))))
    }

    /// A page with the service's refusal or error text.
    pub fn failure(&self, staff: &Staff, status: StatusCode, text: &str) -> Response {
        let viewer = self.viewer(staff);
        let lang = staff.lang;
        respond(status, view::page(Some(&viewer), lang, lang.t("refused"), None, notice("error", text)))
    }

    /// Asks `service`'s `verb` with `request` as `staff`; the answer's `ok`, or a page with the
    /// service's error (422) or saying it did not answer (503).
    pub async fn ask<Q, T, E>(&self, staff: &Staff, service: Service, verb: &str, request: &Q) -> Result<T, Response>
    where
        Q: serde::Serialize,
        T: DeserializeOwned,
        E: DeserializeOwned + std::fmt::Display,
    {
        let Some(city) = self.city() else { return Err(self.refusal(staff, StatusCode::NOT_FOUND, "not_allowed")) };
        let body = serde_json::to_vec(request).expect("a request serializes");
        let subject = protocol::subjects::command(city, service, verb);
        let answer = tokio::time::timeout(ASK_TIMEOUT, staff.client.request(subject, body.into())).await;
        let Ok(Ok(message)) = answer else {
            tracing::warn!(who = %staff.who, %service, verb, "no answer");
            return Err(self.refusal(staff, StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        };
        match serde_json::from_slice::<protocol::Reply<T, E>>(&message.payload) {
            Ok(protocol::Reply::Ok(ok)) => Ok(ok),
            Ok(protocol::Reply::Error(error)) => {
                tracing::info!(target: "afc::console::audit", who = %staff.who, %service, verb, "refused by the service");
                Err(self.failure(staff, StatusCode::UNPROCESSABLE_ENTITY, &error.to_string()))
            }
            Err(error) => {
                tracing::warn!(who = %staff.who, %service, verb, %error, "an unreadable answer");
                Err(self.refusal(staff, StatusCode::BAD_GATEWAY, "unavailable"))
            }
        }
    }

    /// Signs `statement` with the key of `staff`'s session.
    pub fn sign(&self, staff: &Staff, statement: &str) -> anyhow::Result<String> {
        let sessions = self.inner.sessions.lock().expect("sessions lock");
        match sessions.desk(&staff.token) {
            Some(desk) => desk.sign(statement),
            None => anyhow::bail!("the session ended"),
        }
    }
}

/// Ends a session's connection (in the background: a close may wait on the server).
fn close(desk: Option<Desk>) {
    if let Some(desk) = desk {
        tokio::spawn(async move {
            let _ = desk.client.drain().await;
        });
    }
}

fn to_login(why: Option<(&str, Lang)>) -> Response {
    match why {
        Some((reason, _)) => Redirect::to(&format!("/login?why={reason}")).into_response(),
        None => Redirect::to("/login").into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    why: Option<String>,
}

pub async fn login_page(headers: HeaderMap, Query(query): Query<LoginQuery>) -> Response {
    let lang = request_lang(&headers);
    let why = match query.why.as_deref() {
        Some("expired") => Some(notice("info", lang.t("expired"))),
        Some("out") => Some(notice("ok", lang.t("logged_out"))),
        _ => None,
    };
    respond(StatusCode::OK, login_form(lang, why, ""))
}

fn login_form(lang: Lang, message: Option<maud::Markup>, name: &str) -> maud::Markup {
    let body = html! {
        @if let Some(message) = message { (message) }
        form.login method="post" action="/login" autocomplete="off" {
            p { label { (lang.t("name")) br; input name="name" value=(name) required maxlength="64" autofocus; } }
            p { label { (lang.t("key")) br; input name="key" type="password" required maxlength="128"; } }
            p.dim { (lang.t("login_hint")) }
            button type="submit" { (lang.t("login")) }
        }
    };
    view::page(None, lang, lang.t("login"), None, body)
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    key: String,
}

impl std::fmt::Debug for LoginForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginForm").field("name", &self.name).finish_non_exhaustive()
    }
}

pub async fn login(State(console): State<Console>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let lang = request_lang(&headers);
    let name = form.name.trim();
    let refused =
        |text: String| respond(StatusCode::UNAUTHORIZED, login_form(lang, Some(notice("error", &text)), name));
    if !same_origin(&headers) || name.is_empty() || name.chars().count() > MAX_QUERY_CHARS {
        return refused(wrong(lang));
    }
    let now = console.now_ms();
    let roster = console.roster();
    let who = logged_name(&roster, name);
    if let Err(until) = console.inner.logins.lock().expect("logins lock").may_try(name, now) {
        tracing::warn!(target: "afc::console::audit", %who, "login refused: too many failures");
        return refused(format!("{} ({})", wrong(lang), view::local(console.tz(), until)));
    }
    let member = roster.member(name).cloned();
    let pair = nkeys::KeyPair::from_seed(form.key.trim()).ok();
    let Some(member) = member.filter(|m| pair.as_ref().is_some_and(|p| p.public_key() == m.public_key)) else {
        console.inner.logins.lock().expect("logins lock").failed(name, now);
        tracing::warn!(target: "afc::console::audit", %who, "login refused: not on the roster with this key");
        return refused(wrong(lang));
    };
    // No room: refused before a connection is made as the person.
    let (ended, room) = console.inner.sessions.lock().expect("sessions lock").room_for(&member.name, now);
    ended.into_iter().for_each(|desk| close(Some(desk)));
    if room.is_err() {
        tracing::warn!(target: "afc::console::audit", %who, "login refused: the console is full of sessions");
        return refused(lang.t("unavailable").to_owned());
    }
    let client = match connect(&console, &member.name, form.key.trim()).await {
        Ok(client) => client,
        Err(error) => {
            console.inner.logins.lock().expect("logins lock").failed(name, now);
            tracing::warn!(target: "afc::console::audit", %who, %error, "login refused by the NATS server");
            return refused(wrong(lang));
        }
    };
    let token = random_token();
    let desk = Desk::new(client, form.key.trim().to_owned());
    let opened = console.inner.sessions.lock().expect("sessions lock").open(
        token.clone(),
        &member.name,
        member.role,
        lang,
        desk,
        now,
    );
    match opened {
        Ok(ended) => ended.into_iter().for_each(|desk| close(Some(desk))),
        Err(_) => return refused(lang.t("unavailable").to_owned()),
    }
    console.inner.logins.lock().expect("logins lock").succeeded(name);
    tracing::info!(target: "afc::console::audit", who = %member.name, role = %member.role, "logged in");
    let home = if member.role == StaffRole::Province { "/province" } else { "/" };
    let mut response = Redirect::to(home).into_response();
    let cookie = format!("{SESSION_COOKIE}={token}; {}", cookie_attributes(&headers, console.tls()));
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("a hex token"));
    response
}

/// What the audit log says of a name typed at login: itself if it is a person's on the
/// roster, else nothing of it (a key pasted into the wrong field must not reach the journal).
fn logged_name<'a>(roster: &security::staff::Roster, name: &'a str) -> &'a str {
    if roster.member(name).is_some() { name } else { "(not on the roster)" }
}

fn wrong(lang: Lang) -> String {
    match lang {
        Lang::Zh => "身份名或密钥不正确。".to_owned(),
        Lang::En => "Unknown identity or wrong key.".to_owned(),
    }
}

/// Connects to the node's server as `who` with `seed`, over TLS trusting the deployment's CA.
async fn connect(console: &Console, who: &str, seed: &str) -> anyhow::Result<async_nats::Client> {
    let person = who.to_owned();
    let options = async_nats::ConnectOptions::with_nkey(seed.to_owned())
        .name(format!("afc console {who}"))
        .custom_inbox_prefix(console.scope().inbox(who))
        .require_tls(true)
        .add_root_certificates(console.inner.ca.clone())
        .event_callback(move |event| {
            let who = person.clone();
            async move {
                if let async_nats::Event::ServerError(error) = event {
                    tracing::warn!(target: "afc::console::audit", %who, %error, "the server refused");
                }
            }
        });
    let connecting = options.connect(console.inner.nats.as_str());
    Ok(tokio::time::timeout(LOGIN_CONNECT_TIMEOUT, connecting).await??)
}

/// Logs out: a post of this console's origin with the session's cookie (a forged logout
/// could only end a session, so it carries no form token: the header's button outlives the
/// pages' tokens).
pub async fn logout(State(console): State<Console>, headers: HeaderMap) -> Response {
    let staff = match console.staff(&headers) {
        Ok(staff) => staff,
        Err(response) => return response,
    };
    if !same_origin(&headers) {
        tracing::warn!(target: "afc::console::audit", who = %staff.who, "refused: a logout from elsewhere");
        return console.refusal(&staff, StatusCode::FORBIDDEN, "stale_form");
    }
    let desk = console.inner.sessions.lock().expect("sessions lock").close(&staff.token);
    close(desk);
    tracing::info!(target: "afc::console::audit", who = %staff.who, "logged out");
    let mut response = Redirect::to("/login?why=out").into_response();
    let cookie = format!("{SESSION_COOKIE}=; {}; Max-Age=0", cookie_attributes(&headers, console.tls()));
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
    response
}

#[derive(Debug, Deserialize)]
pub struct LangQuery {
    to: String,
}

/// Switches the language (a cookie, and the session's), back to the page it was asked from.
pub async fn switch_lang(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(query): Query<LangQuery>,
) -> Response {
    let lang = Lang::parse(&query.to).unwrap_or_default();
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        let mut sessions = console.inner.sessions.lock().expect("sessions lock");
        if let Ok(session) = sessions.use_session(token, console.now_ms()) {
            session.lang = lang;
        }
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|at| rest[at..].to_owned()))
        .filter(|path| local_path(path) && !path.starts_with("/lang"))
        .unwrap_or_else(|| "/".to_owned());
    let mut response = Redirect::to(&back).into_response();
    let cookie = format!("{LANG_COOKIE}={}; {}", lang.as_str(), cookie_attributes(&headers, console.tls()));
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ascii"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_from_another_site_is_not_of_this_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(same_origin(&headers), "no Origin: a form of this console in an old browser");
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&headers));
    }

    #[test]
    fn only_a_path_of_this_console_is_gone_back_to() {
        assert!(local_path("/case/hangzhou-00000000000000aa?x=1"));
        for elsewhere in ["//evil.example/", "/\\evil.example", "https://evil.example", "/\r\nSet-Cookie: x"] {
            assert!(!local_path(elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn a_name_typed_at_login_is_logged_only_when_it_is_a_persons() {
        let pair = nkeys::KeyPair::new_user();
        let member = security::staff::StaffMember {
            name: "hangzhou-intake-1".into(),
            role: StaffRole::Intake,
            public_key: pair.public_key(),
        };
        let roster = security::staff::Roster { members: vec![member] };
        assert_eq!(logged_name(&roster, "hangzhou-intake-1"), "hangzhou-intake-1");
        let seed = pair.seed().unwrap();
        assert_eq!(logged_name(&roster, &seed), "(not on the roster)", "a key in the name field");
        assert_eq!(logged_name(&roster, "hangzhou-intake-9"), "(not on the roster)");
    }

    #[test]
    fn cookies_are_secure_behind_a_tls_proxy() {
        let mut headers = HeaderMap::new();
        assert!(!cookie_attributes(&headers, false).contains("Secure"));
        assert!(cookie_attributes(&headers, true).ends_with("; Secure"), "served over TLS itself");
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(cookie_attributes(&headers, false).ends_with("; Secure"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; afc_session=abc; afc_lang=en"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(request_lang(&headers), Lang::En);
    }
}
