//! Who is logged in to the console, and the forms each was given: pure, the clock and the
//! random tokens passed in.
//!
//! A session is a random token (the cookie) for one person in one role. It ends when unused
//! for [`SESSION_IDLE_MS`], [`SESSION_MAX_AGE_MS`] after its login, at logout, or when the
//! person opens more than [`MAX_SESSIONS_PER_PERSON`]. Every form the console renders carries
//! a token of its own, spent by the post it makes: a post replayed, forged elsewhere (no
//! token), or carried from another session is refused and nothing is applied. Failed logins
//! are counted per name ([`LoginGuard`]), so a name cannot be guessed at speed.

use std::collections::{HashMap, VecDeque};

use domain::TimeMs;
use security::staff::StaffRole;

use super::labels::Lang;
use super::limits::{
    FORMS_PER_SESSION, LOGIN_FAILURES, LOGIN_NAMES_TRACKED, LOGIN_WINDOW_MS, MAX_SESSIONS, MAX_SESSIONS_PER_PERSON,
    SESSION_IDLE_MS, SESSION_MAX_AGE_MS,
};

/// One person's session; `D` is what the shell keeps for it (their connection).
#[derive(Debug)]
pub struct Session<D> {
    pub who: String,
    pub role: StaffRole,
    pub lang: Lang,
    pub desk: D,
    opened_ms: TimeMs,
    seen_ms: TimeMs,
    forms: VecDeque<String>,
}

impl<D> Session<D> {
    /// Hands out form token `token` (random, from the shell): the next post must carry it.
    pub fn issue_form(&mut self, token: String) -> String {
        if self.forms.len() >= FORMS_PER_SESSION {
            self.forms.pop_front();
        }
        self.forms.push_back(token.clone());
        token
    }

    /// Spends form token `token`: true once for a token this session was given.
    pub fn spend_form(&mut self, token: &str) -> bool {
        match self.forms.iter().position(|issued| issued == token) {
            Some(at) => {
                self.forms.remove(at);
                true
            }
            None => false,
        }
    }
}

/// Why a session cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// No such session: never opened, logged out, or ended to make room.
    Unknown,
    /// It was, and it expired.
    Expired,
}

/// Why a login cannot open a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    /// [`MAX_SESSIONS`] are open.
    Full,
}

/// The open sessions.
#[derive(Debug)]
pub struct Sessions<D> {
    open: HashMap<String, Session<D>>,
}

impl<D> Default for Sessions<D> {
    fn default() -> Self {
        Sessions { open: HashMap::new() }
    }
}

impl<D> Sessions<D> {
    /// Opens session `token` for `who` in `role`. Expired sessions go first; a person over
    /// [`MAX_SESSIONS_PER_PERSON`] loses their least recently used. Returns what the ended
    /// sessions kept, for the shell to close.
    pub fn open(
        &mut self,
        token: String,
        who: &str,
        role: StaffRole,
        lang: Lang,
        desk: D,
        now_ms: TimeMs,
    ) -> Result<Vec<D>, OpenError> {
        let mut ended = self.sweep(now_ms);
        let mut own: Vec<(TimeMs, String)> =
            self.open.iter().filter(|(_, s)| s.who == who).map(|(t, s)| (s.seen_ms, t.clone())).collect();
        own.sort();
        while own.len() >= MAX_SESSIONS_PER_PERSON {
            let (_, oldest) = own.remove(0);
            ended.extend(self.open.remove(&oldest).map(|s| s.desk));
        }
        if self.open.len() >= MAX_SESSIONS {
            return Err(OpenError::Full);
        }
        let session = Session {
            who: who.to_owned(),
            role,
            lang,
            desk,
            opened_ms: now_ms,
            seen_ms: now_ms,
            forms: VecDeque::new(),
        };
        self.open.insert(token, session);
        Ok(ended)
    }

    /// Session `token`, marked used now; an expired one is ended (its desk returned to close).
    pub fn use_session(&mut self, token: &str, now_ms: TimeMs) -> Result<&mut Session<D>, (SessionError, Option<D>)> {
        let session = self.session(token, now_ms)?;
        session.seen_ms = now_ms;
        Ok(session)
    }

    /// Session `token` as it is, not marked used (a live page refreshing itself is not the
    /// person at the desk); an expired one is ended.
    pub fn session(&mut self, token: &str, now_ms: TimeMs) -> Result<&mut Session<D>, (SessionError, Option<D>)> {
        let expired = match self.open.get(token) {
            None => return Err((SessionError::Unknown, None)),
            Some(session) => expired(session, now_ms),
        };
        if expired {
            let desk = self.open.remove(token).map(|s| s.desk);
            return Err((SessionError::Expired, desk));
        }
        Ok(self.open.get_mut(token).expect("looked up above"))
    }

    /// Some session `accepts`, unexpired or not.
    pub fn any(&self, accepts: impl Fn(&Session<D>) -> bool) -> Option<&Session<D>> {
        self.open.values().find(|session| accepts(session))
    }

    /// Whether session `token` is open and unexpired at `now_ms` (not marking it used).
    pub fn is_open(&self, token: &str, now_ms: TimeMs) -> bool {
        self.open.get(token).is_some_and(|session| !expired(session, now_ms))
    }

    /// What session `token` keeps, as it is (not marking it used).
    pub fn desk(&self, token: &str) -> Option<&D> {
        self.open.get(token).map(|s| &s.desk)
    }

    /// Ends session `token` (logout).
    pub fn close(&mut self, token: &str) -> Option<D> {
        self.open.remove(token).map(|s| s.desk)
    }

    /// Ends every expired session, returning what they kept.
    /// Whether `who` could open a session now (asked before the login connects as them):
    /// ends the expired sessions (their desks returned to close) and says `Full` when there is
    /// no room and none of `who`'s own would give way.
    pub fn room_for(&mut self, who: &str, now_ms: TimeMs) -> (Vec<D>, Result<(), OpenError>) {
        let ended = self.sweep(now_ms);
        let own = self.open.values().filter(|s| s.who == who).count();
        let room = self.open.len() < MAX_SESSIONS || own >= MAX_SESSIONS_PER_PERSON;
        (ended, if room { Ok(()) } else { Err(OpenError::Full) })
    }

    pub fn sweep(&mut self, now_ms: TimeMs) -> Vec<D> {
        let gone: Vec<String> = self.open.iter().filter(|(_, s)| expired(s, now_ms)).map(|(t, _)| t.clone()).collect();
        gone.into_iter().filter_map(|token| self.open.remove(&token)).map(|s| s.desk).collect()
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

fn expired<D>(session: &Session<D>, now_ms: TimeMs) -> bool {
    now_ms.saturating_sub(session.seen_ms) >= SESSION_IDLE_MS
        || now_ms.saturating_sub(session.opened_ms) >= SESSION_MAX_AGE_MS
}

/// Failed logins per name.
#[derive(Debug, Default)]
pub struct LoginGuard {
    failures: HashMap<String, (TimeMs, u32)>,
}

impl LoginGuard {
    /// Whether `name` may try to log in now: not after [`LOGIN_FAILURES`] failures within
    /// [`LOGIN_WINDOW_MS`] of the first of them. Returns when it may try again otherwise.
    pub fn may_try(&self, name: &str, now_ms: TimeMs) -> Result<(), TimeMs> {
        match self.failures.get(name) {
            Some((first, count)) if *count >= LOGIN_FAILURES && now_ms < first.saturating_add(LOGIN_WINDOW_MS) => {
                Err(first.saturating_add(LOGIN_WINDOW_MS))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login of `name`.
    pub fn failed(&mut self, name: &str, now_ms: TimeMs) {
        if !self.failures.contains_key(name) && self.failures.len() >= LOGIN_NAMES_TRACKED {
            self.failures.retain(|_, (first, _)| now_ms < first.saturating_add(LOGIN_WINDOW_MS));
            if self.failures.len() >= LOGIN_NAMES_TRACKED
                && let Some(oldest) = self.failures.iter().min_by_key(|(_, (first, _))| *first).map(|(n, _)| n.clone())
            {
                self.failures.remove(&oldest);
            }
        }
        let entry = self.failures.entry(name.to_owned()).or_insert((now_ms, 0));
        if now_ms >= entry.0.saturating_add(LOGIN_WINDOW_MS) {
            *entry = (now_ms, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// Forgets `name`'s failures (it logged in).
    pub fn succeeded(&mut self, name: &str) {
        self.failures.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: TimeMs = 1_800_000_000_000;

    fn open(sessions: &mut Sessions<u32>, token: &str, who: &str, desk: u32, now: TimeMs) -> Vec<u32> {
        sessions.open(token.into(), who, StaffRole::Approver, Lang::Zh, desk, now).unwrap()
    }

    #[test]
    fn a_session_expires_when_idle_and_at_its_maximum_age_even_if_used() {
        let mut sessions = Sessions::default();
        open(&mut sessions, "a", "hangzhou-approver-1", 1, T0);
        assert!(sessions.use_session("a", T0 + SESSION_IDLE_MS - 1).is_ok());
        let (error, desk) = sessions.use_session("a", T0 + 2 * SESSION_IDLE_MS - 1).unwrap_err();
        assert_eq!((error, desk), (SessionError::Expired, Some(1)), "idle from its last use");
        assert_eq!(sessions.use_session("a", T0).unwrap_err().0, SessionError::Unknown, "ended for good");

        open(&mut sessions, "b", "hangzhou-approver-1", 2, T0);
        let mut now = T0;
        while now + SESSION_IDLE_MS / 2 < T0 + SESSION_MAX_AGE_MS {
            now += SESSION_IDLE_MS / 2;
            assert!(sessions.use_session("b", now).is_ok());
        }
        now += SESSION_IDLE_MS / 2;
        assert_eq!(sessions.use_session("b", now).unwrap_err().0, SessionError::Expired, "used, but too old");
    }

    #[test]
    fn a_session_only_looked_at_still_expires_when_its_person_is_away() {
        let mut sessions = Sessions::default();
        open(&mut sessions, "a", "p", 1, T0);
        for minute in 1..30 {
            assert!(sessions.session("a", T0 + minute * 60_000).is_ok(), "a live refresh");
        }
        assert_eq!(sessions.session("a", T0 + SESSION_IDLE_MS).unwrap_err().0, SessionError::Expired);
    }

    #[test]
    fn a_form_token_is_spent_once_and_only_in_the_session_that_was_given_it() {
        let mut sessions = Sessions::default();
        open(&mut sessions, "a", "hangzhou-approver-1", 1, T0);
        open(&mut sessions, "b", "hangzhou-approver-2", 2, T0);
        let form = sessions.use_session("a", T0).unwrap().issue_form("f1".into());
        assert!(!sessions.use_session("b", T0).unwrap().spend_form(&form), "another session's form");
        assert!(sessions.use_session("a", T0).unwrap().spend_form(&form));
        assert!(!sessions.use_session("a", T0).unwrap().spend_form(&form), "replayed");
        assert!(!sessions.use_session("a", T0).unwrap().spend_form(""), "forged: no token");
    }

    #[test]
    fn only_the_newest_forms_are_kept() {
        let mut sessions = Sessions::default();
        open(&mut sessions, "a", "x", 1, T0);
        let session = sessions.use_session("a", T0).unwrap();
        for n in 0..=FORMS_PER_SESSION {
            session.issue_form(format!("f{n}"));
        }
        assert!(!session.spend_form("f0"), "the oldest is stale");
        assert!(session.spend_form(&format!("f{FORMS_PER_SESSION}")));
    }

    #[test]
    fn a_person_over_their_bound_loses_their_least_recently_used_session_and_the_console_its_bound() {
        let mut sessions = Sessions::default();
        for n in 0..MAX_SESSIONS_PER_PERSON as u32 {
            assert!(open(&mut sessions, &format!("s{n}"), "p", n, T0 + u64::from(n)).is_empty());
        }
        sessions.use_session("s0", T0 + 100).unwrap();
        let ended = open(&mut sessions, "new", "p", 99, T0 + 200);
        assert_eq!(ended, vec![1], "s1 was used least recently");
        assert_eq!(sessions.len(), MAX_SESSIONS_PER_PERSON);

        let mut full = Sessions::default();
        for n in 0..MAX_SESSIONS {
            full.open(format!("t{n}"), &format!("p{n}"), StaffRole::Intake, Lang::En, 0u32, T0).unwrap();
        }
        assert_eq!(full.room_for("q", T0), (vec![], Err(OpenError::Full)), "told before connecting");
        assert_eq!(full.room_for("p0", T0).1, Err(OpenError::Full), "one session of p0's own gives no way");
        assert_eq!(full.open("one-more".into(), "q", StaffRole::Intake, Lang::En, 0, T0), Err(OpenError::Full));
        let later = T0 + SESSION_IDLE_MS;
        assert!(full.open("one-more".into(), "q", StaffRole::Intake, Lang::En, 0, later).is_ok(), "expired ones go");
        assert_eq!(full.len(), 1);
    }

    #[test]
    fn a_name_is_refused_after_repeated_failures_until_the_window_passes() {
        let mut guard = LoginGuard::default();
        for n in 0..LOGIN_FAILURES {
            assert!(guard.may_try("p", T0 + u64::from(n)).is_ok());
            guard.failed("p", T0 + u64::from(n));
        }
        assert_eq!(guard.may_try("p", T0 + 10), Err(T0 + LOGIN_WINDOW_MS));
        assert!(guard.may_try("other", T0 + 10).is_ok(), "per name");
        assert!(guard.may_try("p", T0 + LOGIN_WINDOW_MS).is_ok());
        guard.failed("p", T0 + LOGIN_WINDOW_MS);
        assert!(guard.may_try("p", T0 + LOGIN_WINDOW_MS + 1).is_ok(), "a new window counts from one");
    }

    #[test]
    fn the_guard_remembers_a_bounded_number_of_names() {
        let mut guard = LoginGuard::default();
        for n in 0..LOGIN_NAMES_TRACKED + 10 {
            guard.failed(&format!("n{n}"), T0 + n as u64);
        }
        assert!(guard.failures.len() <= LOGIN_NAMES_TRACKED);
    }
}
