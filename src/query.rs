//! The query language shared by `certdeck list --query`, the CLI's filter flags and the
//! console's `/` filter, so a query means the same thing everywhere:
//!
//! free text (CN, SAN, serial, fingerprint, subject), `owner:NAME`, `ca:NAME` (authority,
//! or issuer CN when no authority is assigned), `env:prod|nonprod`, `cn:TEXT`, `san:TEXT`,
//! `serial:HEX`, `fp:HEX`, `identity:NAME`, `status:active|revoked|...`, `expires<30d`
//! (also `<=`, `>`, `>=`; units `h`, `d`, `w`), `expired`, `unowned`, `weak`, `is:ca`,
//! `is:leaf`, `profile:NAME`, `noncompliant` / `compliant` (an open error finding or
//! none), `rule:ID` (an open finding of that rule, or of the rules under a prefix like
//! `rule:profile.san`), and `!` before any word to negate it. Words are ANDed.

use crate::model::{CertRow, CertStatus, Environment};
use time::{Duration, OffsetDateTime};

#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    Text(String),
    Owner(String),
    Authority(String),
    Env(Environment),
    Cn(String),
    San(String),
    Serial(String),
    Fingerprint(String),
    Identity(String),
    Status(CertStatus),
    /// not_after compared with now + duration.
    Expires(Cmp, Duration),
    Expired,
    Unowned,
    Weak,
    IsCa,
    /// The certificate's policy profile.
    Profile(String),
    /// No open error finding (`noncompliant` is its negation).
    Compliant,
    /// An open finding of this rule id, or of any rule under it (`rule:profile.san`).
    Rule(String),
    Not(Box<Term>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("query word {word:?}: {reason}")]
pub struct QueryError {
    pub word: String,
    pub reason: String,
}

/// A parsed query: every term must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub terms: Vec<Term>,
}

impl Filter {
    pub fn parse(q: &str) -> Result<Filter, QueryError> {
        let mut terms = Vec::new();
        for word in split_words(q) {
            terms.push(parse_word(&word)?);
        }
        Ok(Filter { terms })
    }

    pub fn and(mut self, t: Term) -> Filter {
        self.terms.push(t);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, row: &CertRow, now: OffsetDateTime) -> bool {
        // Words are ANDed, so their order is free: the field comparisons first, the text
        // and crypto scans only on rows that passed them.
        self.terms
            .iter()
            .filter(|t| t.is_cheap())
            .all(|t| t.matches(row, now))
            && self
                .terms
                .iter()
                .filter(|t| !t.is_cheap())
                .all(|t| t.matches(row, now))
    }

    /// [`Filter::matches`] with the row's text fields already case-folded into `hay`, so
    /// testing 100k rows in the console allocates nothing; same answer for every query.
    pub fn matches_in(&self, row: &CertRow, hay: &Haystack, now: OffsetDateTime) -> bool {
        self.terms
            .iter()
            .filter(|t| t.is_cheap())
            .all(|t| t.matches(row, now))
            && self
                .terms
                .iter()
                .filter(|t| !t.is_cheap())
                .all(|t| t.matches_in(row, hay, now))
    }

    /// Whether some word reads the certificate's findings (`compliant`, `rule:`): only
    /// then must findings be loaded before a row can be judged.
    pub fn needs_findings(&self) -> bool {
        self.terms.iter().any(Term::needs_findings)
    }

    /// [`Filter::matches`] for the words that do not read findings: rows it rejects are
    /// rejected by [`Filter::matches`] too, so a list loads findings only for the rows
    /// that pass it.
    pub fn matches_before_findings(&self, row: &CertRow, now: OffsetDateTime) -> bool {
        self.terms
            .iter()
            .filter(|t| !t.needs_findings())
            .all(|t| t.matches(row, now))
    }

    /// The earliest not_after any match can have (matches have not_after strictly after
    /// it), when the query bounds it from below (`!expired`, `expires>30d`).
    pub fn not_after_lower_bound(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.terms
            .iter()
            .filter_map(|t| match t {
                Term::Expires(Cmp::Gt, d) => Some(now + *d),
                Term::Expires(Cmp::Ge, d) => Some(now + *d - Duration::seconds(1)),
                Term::Not(inner) if **inner == Term::Expired => Some(now),
                _ => None,
            })
            .max()
    }

    /// The latest not_after any match can have, when the query bounds it; lets the store
    /// pre-select by index before the exact match runs.
    pub fn not_after_upper_bound(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.terms
            .iter()
            .filter_map(|t| match t {
                Term::Expires(Cmp::Lt | Cmp::Le, d) => Some(now + *d + Duration::seconds(1)),
                Term::Expired => Some(now + Duration::seconds(1)),
                _ => None,
            })
            .min()
    }
}

/// Splits on whitespace, keeping `"quoted words"` together.
fn split_words(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn parse_word(word: &str) -> Result<Term, QueryError> {
    let err = |reason: &str| QueryError {
        word: word.to_string(),
        reason: reason.to_string(),
    };
    if let Some(rest) = word.strip_prefix('!') {
        if rest.is_empty() {
            return Err(err("nothing after !"));
        }
        return Ok(Term::Not(Box::new(parse_word(rest)?)));
    }
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "expired" => return Ok(Term::Expired),
        "unowned" => return Ok(Term::Unowned),
        "weak" => return Ok(Term::Weak),
        "is:ca" => return Ok(Term::IsCa),
        "is:leaf" => return Ok(Term::Not(Box::new(Term::IsCa))),
        "compliant" => return Ok(Term::Compliant),
        "noncompliant" => return Ok(Term::Not(Box::new(Term::Compliant))),
        _ => {}
    }
    if let Some(rest) = lower.strip_prefix("expires") {
        let (cmp, num) = if let Some(n) = rest.strip_prefix("<=") {
            (Cmp::Le, n)
        } else if let Some(n) = rest.strip_prefix(">=") {
            (Cmp::Ge, n)
        } else if let Some(n) = rest.strip_prefix('<') {
            (Cmp::Lt, n)
        } else if let Some(n) = rest.strip_prefix('>') {
            (Cmp::Gt, n)
        } else {
            return Err(err("expected expires<30d, expires<=7d, expires>90d"));
        };
        return Ok(Term::Expires(
            cmp,
            parse_duration(num).map_err(|r| err(&r))?,
        ));
    }
    if let Some((key, value)) = word.split_once(':') {
        if value.is_empty() {
            return Err(err("empty value"));
        }
        let v = value.to_string();
        return match key.to_ascii_lowercase().as_str() {
            "owner" => Ok(Term::Owner(v)),
            "ca" | "authority" => Ok(Term::Authority(v)),
            "env" => v.parse().map(Term::Env).map_err(|e: String| err(&e)),
            "cn" => Ok(Term::Cn(v.to_lowercase())),
            "san" => Ok(Term::San(v.to_lowercase())),
            "serial" => Ok(Term::Serial(normalize_hex(&v))),
            "fp" | "fingerprint" => Ok(Term::Fingerprint(normalize_hex(&v))),
            "identity" => Ok(Term::Identity(v)),
            "status" => v.to_lowercase().parse().map(Term::Status).map_err(|e: String| err(&e)),
            "profile" => Ok(Term::Profile(v)),
            "rule" => Ok(Term::Rule(v.to_ascii_lowercase())),
            // A colon inside free text (an IPv6 SAN, a URI) is still free text.
            _ if key.contains('.') || key.chars().all(|c| c.is_ascii_hexdigit()) => {
                Ok(Term::Text(word.to_lowercase()))
            }
            other => Err(err(&format!(
                "unknown word {other}: (known: owner: ca: env: cn: san: serial: fp: identity: status: profile: rule: expires< expired unowned weak noncompliant is:ca)"
            ))),
        };
    }
    Ok(Term::Text(word.to_lowercase()))
}

fn normalize_hex(s: &str) -> String {
    s.chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase()
}

/// `30d`, `12h`, `2w`, or a bare number of days.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "d"),
    };
    let n: i64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 30d"))?;
    match unit {
        "h" => Ok(Duration::hours(n)),
        "d" => Ok(Duration::days(n)),
        "w" => Ok(Duration::weeks(n)),
        other => Err(format!("unknown unit {other:?} (use h, d or w)")),
    }
}

/// A row's free-text fields (CN, SANs, subject) lower-cased once, one per line, so
/// case-insensitive matching is a plain substring search. A needle without a newline
/// cannot span two lines, so a hit is always inside one field, as in [`contains_ci`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Haystack {
    text: Box<str>,
    /// `text[..cn_end]` is the CN (absent when `has_cn` is false).
    cn_end: usize,
    /// `text[cn_end + 1..sans_end]` are the SANs, one per line.
    sans_end: usize,
    has_cn: bool,
    /// [`CertRow::is_weak`], answered once: `weak` is a word operators filter by often.
    weak: bool,
    /// not_after in Unix nanoseconds: expiry words compare integers, next to the rest.
    not_after: i128,
}

impl Haystack {
    pub fn of(r: &CertRow) -> Haystack {
        let mut text = String::new();
        if let Some(cn) = &r.subject_cn {
            text.push_str(&cn.to_lowercase());
        }
        let cn_end = text.len();
        text.push('\n');
        for (i, s) in r.sans.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&s.to_lowercase());
        }
        let sans_end = text.len();
        text.push('\n');
        text.push_str(&r.subject.to_lowercase());
        Haystack {
            text: text.into_boxed_str(),
            cn_end,
            sans_end,
            has_cn: r.subject_cn.is_some(),
            weak: r.is_weak(),
            not_after: r.not_after.unix_timestamp_nanos(),
        }
    }

    fn cn(&self) -> Option<&str> {
        self.has_cn.then(|| &self.text[..self.cn_end])
    }

    fn sans(&self) -> &str {
        &self.text[self.cn_end + 1..self.sans_end]
    }

    /// Whether the pre-folded text can answer for `needle` exactly: it must already be
    /// lower-case, non-empty (an empty needle matches any field but not an empty SAN
    /// list), and on one line.
    fn answers(needle: &str) -> bool {
        !needle.is_empty()
            && !needle.contains('\n')
            && needle.chars().all(|c| {
                let mut l = c.to_lowercase();
                l.next() == Some(c) && l.next().is_none()
            })
    }
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    if hay.is_ascii() && needle_lower.is_ascii() {
        hay.as_bytes()
            .windows(needle_lower.len().max(1))
            .any(|w| w.eq_ignore_ascii_case(needle_lower.as_bytes()))
            || needle_lower.is_empty()
    } else {
        hay.to_lowercase().contains(needle_lower)
    }
}

impl Term {
    /// Whether testing the term reads the row's findings.
    fn needs_findings(&self) -> bool {
        match self {
            Term::Compliant | Term::Rule(_) => true,
            Term::Not(t) => t.needs_findings(),
            _ => false,
        }
    }

    /// Whether testing the term costs a field comparison rather than a scan of text.
    fn is_cheap(&self) -> bool {
        match self {
            Term::Text(_)
            | Term::Cn(_)
            | Term::San(_)
            | Term::Serial(_)
            | Term::Fingerprint(_)
            | Term::Weak => false,
            Term::Not(t) => t.is_cheap(),
            _ => true,
        }
    }

    /// [`Term::matches`], reading the text fields from `hay` when that gives the same answer.
    fn matches_in(&self, r: &CertRow, hay: &Haystack, now: OffsetDateTime) -> bool {
        match self {
            Term::Text(t) if Haystack::answers(t) => {
                hay.text.contains(t.as_str())
                    || r.serial.contains(t.as_str())
                    || r.fingerprint_sha256.starts_with(t.as_str())
            }
            Term::Cn(t) if Haystack::answers(t) => {
                hay.cn().is_some_and(|cn| cn.contains(t.as_str()))
            }
            Term::San(t) if Haystack::answers(t) => {
                !r.sans.is_empty() && hay.sans().contains(t.as_str())
            }
            Term::Weak => hay.weak,
            Term::Not(t) => !t.matches_in(r, hay, now),
            t => t.matches(r, now),
        }
    }

    pub fn matches(&self, r: &CertRow, now: OffsetDateTime) -> bool {
        match self {
            Term::Text(t) => {
                r.subject_cn.as_deref().is_some_and(|cn| contains_ci(cn, t))
                    || r.sans.iter().any(|s| contains_ci(s, t))
                    || r.serial.contains(t.as_str())
                    || r.fingerprint_sha256.starts_with(t.as_str())
                    || contains_ci(&r.subject, t)
            }
            Term::Owner(o) => r
                .owner
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(o)),
            Term::Authority(a) => match &r.authority {
                Some(x) => x.eq_ignore_ascii_case(a),
                None => r
                    .issuer_cn
                    .as_deref()
                    .is_some_and(|x| x.eq_ignore_ascii_case(a)),
            },
            Term::Env(e) => r.environment == Some(*e),
            Term::Cn(t) => r.subject_cn.as_deref().is_some_and(|cn| contains_ci(cn, t)),
            Term::San(t) => r.sans.iter().any(|s| contains_ci(s, t)),
            Term::Serial(s) => r.serial.contains(s.as_str()),
            Term::Fingerprint(f) => r.fingerprint_sha256.starts_with(f.as_str()),
            Term::Identity(i) => r
                .identity
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(i)),
            Term::Status(s) => r.effective_status(now) == *s,
            Term::Expires(cmp, d) => {
                let limit = now + *d;
                match cmp {
                    Cmp::Lt => r.not_after < limit,
                    Cmp::Le => r.not_after <= limit,
                    Cmp::Gt => r.not_after > limit,
                    Cmp::Ge => r.not_after >= limit,
                }
            }
            Term::Expired => r.not_after <= now,
            Term::Unowned => r.owner.is_none(),
            Term::Weak => r.is_weak(),
            Term::IsCa => r.is_ca,
            Term::Profile(p) => r
                .profile
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(p)),
            Term::Compliant => r.is_compliant(now),
            Term::Rule(rule) => r.findings.iter().any(|f| {
                f.is_open(now)
                    && (f.rule == *rule
                        || (f.rule.starts_with(rule.as_str())
                            && f.rule.as_bytes().get(rule.len()) == Some(&b'.')))
            }),
            Term::Not(t) => !t.matches(r, now),
        }
    }
}

/// A [`Filter`] made ready to test many rows at one `now`: which words the folded
/// [`Haystack`] answers is decided once per query rather than once per row, and expiry
/// limits are computed once. Same answer as [`Filter::matches`] for every row.
pub struct Prepared<'f> {
    cheap: Vec<Step<'f>>,
    costly: Vec<Step<'f>>,
    now: OffsetDateTime,
}

enum Step<'f> {
    /// Free text answered by the haystack (or serial / fingerprint prefix).
    Text(&'f str),
    Cn(&'f str),
    San(&'f str),
    Weak,
    /// not_after compared with a limit in Unix nanoseconds.
    NotAfter(Cmp, i128),
    Plain(&'f Term),
    Not(Box<Step<'f>>),
}

impl Filter {
    pub fn prepare(&self, now: OffsetDateTime) -> Prepared<'_> {
        let (cheap, costly): (Vec<&Term>, Vec<&Term>) =
            self.terms.iter().partition(|t| t.is_cheap());
        Prepared {
            cheap: cheap.into_iter().map(|t| Step::of(t, now)).collect(),
            costly: costly.into_iter().map(|t| Step::of(t, now)).collect(),
            now,
        }
    }
}

impl<'f> Step<'f> {
    fn of(t: &'f Term, now: OffsetDateTime) -> Step<'f> {
        match t {
            Term::Text(x) if Haystack::answers(x) => Step::Text(x),
            Term::Cn(x) if Haystack::answers(x) => Step::Cn(x),
            Term::San(x) if Haystack::answers(x) => Step::San(x),
            Term::Weak => Step::Weak,
            Term::Expires(cmp, d) => Step::NotAfter(*cmp, (now + *d).unix_timestamp_nanos()),
            Term::Expired => Step::NotAfter(Cmp::Le, now.unix_timestamp_nanos()),
            Term::Not(inner) => Step::Not(Box::new(Step::of(inner, now))),
            other => Step::Plain(other),
        }
    }

    fn matches(&self, r: &CertRow, hay: &Haystack, now: OffsetDateTime) -> bool {
        match self {
            Step::Text(t) => {
                hay.text.contains(t) || r.serial.contains(t) || r.fingerprint_sha256.starts_with(t)
            }
            Step::Cn(t) => hay.cn().is_some_and(|cn| cn.contains(t)),
            Step::San(t) => !r.sans.is_empty() && hay.sans().contains(t),
            Step::Weak => hay.weak,
            Step::NotAfter(cmp, limit) => match cmp {
                Cmp::Lt => hay.not_after < *limit,
                Cmp::Le => hay.not_after <= *limit,
                Cmp::Gt => hay.not_after > *limit,
                Cmp::Ge => hay.not_after >= *limit,
            },
            Step::Plain(t) => t.matches(r, now),
            Step::Not(s) => !s.matches(r, hay, now),
        }
    }
}

impl Prepared<'_> {
    /// Whether `row` (with `hay`, its [`Haystack`]) matches every word.
    pub fn matches(&self, row: &CertRow, hay: &Haystack) -> bool {
        self.cheap.iter().all(|s| s.matches(row, hay, self.now))
            && self.costly.iter().all(|s| s.matches(row, hay, self.now))
    }
}

/// Sort orders offered by `list --sort` and the console's column headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    NotAfter,
    NotBefore,
    Name,
    Owner,
    Authority,
    Environment,
    Serial,
    Key,
    Status,
}

impl SortKey {
    pub const NAMES: &'static str =
        "not_after (days_left), not_before, cn, owner, authority, env, serial, key, status";

    pub fn parse(s: &str) -> Result<(SortKey, bool), String> {
        let (desc, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let key = match s {
            "not_after" | "expiry" | "expires" | "days_left" => SortKey::NotAfter,
            "not_before" => SortKey::NotBefore,
            "cn" | "name" | "subject" => SortKey::Name,
            "owner" => SortKey::Owner,
            "authority" | "ca" => SortKey::Authority,
            "env" | "environment" => SortKey::Environment,
            "serial" => SortKey::Serial,
            "key" | "key_algorithm" => SortKey::Key,
            "status" => SortKey::Status,
            other => {
                return Err(format!(
                    "unknown sort field {other:?} (one of {})",
                    SortKey::NAMES
                ))
            }
        };
        Ok((key, desc))
    }

    /// The order of two rows by this key, ties broken by id so every sort is stable
    /// and the same everywhere (CLI and console).
    pub fn compare(self, a: &CertRow, b: &CertRow) -> std::cmp::Ordering {
        let o = match self {
            SortKey::NotAfter => a.not_after.cmp(&b.not_after),
            SortKey::NotBefore => a.not_before.cmp(&b.not_before),
            SortKey::Name => a
                .display_name()
                .to_lowercase()
                .cmp(&b.display_name().to_lowercase()),
            SortKey::Owner => a.owner.cmp(&b.owner),
            SortKey::Authority => a
                .authority
                .cmp(&b.authority)
                .then(a.issuer_cn.cmp(&b.issuer_cn)),
            SortKey::Environment => a.environment.cmp(&b.environment),
            SortKey::Serial => a.serial.cmp(&b.serial),
            SortKey::Key => (&a.key_algorithm, a.key_bits).cmp(&(&b.key_algorithm, b.key_bits)),
            SortKey::Status => a.status.as_str().cmp(b.status.as_str()),
        };
        o.then(a.id.cmp(&b.id))
    }

    pub fn sort(self, rows: &mut [CertRow], descending: bool) {
        if descending {
            rows.sort_by(|a, b| self.compare(b, a));
        } else {
            rows.sort_by(|a, b| self.compare(a, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn row() -> CertRow {
        CertRow {
            id: 1,
            fingerprint_sha256: "ab12cd".into(),
            serial: "0f".into(),
            subject: "CN=api.payments.example.com".into(),
            subject_cn: Some("api.payments.example.com".into()),
            issuer: "CN=Issuing CA".into(),
            issuer_cn: Some("Issuing CA".into()),
            sans: vec!["api.payments.example.com".into()],
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: datetime!(2026-12-10 0:00 UTC),
            key_algorithm: "rsa".into(),
            key_bits: Some(1024),
            signature_algorithm: "sha256WithRSAEncryption".into(),
            is_ca: false,
            owner: Some("payments".into()),
            authority: None,
            environment: Some(Environment::Prod),
            identity: None,
            status: CertStatus::Active,
            profile: None,
            findings: vec![],
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-22 0:00 UTC);

    fn m(q: &str) -> bool {
        Filter::parse(q).unwrap().matches(&row(), NOW)
    }

    #[test]
    fn words_combine_with_and() {
        assert!(m("owner:payments env:prod expires<30d"));
        assert!(m("owner:PAYMENTS ca:\"issuing ca\""));
        assert!(!m("owner:payments env:nonprod"));
        assert!(m("api weak !expired !unowned"));
        assert!(!m("expires<7d"));
        assert!(m("expires>=18d") && !m("expires>30d"));
        assert!(m("san:payments cn:api fp:AB:12 serial:0f"));
        assert!(m("is:leaf") && !m("is:ca"));
    }

    #[test]
    fn policy_words_read_open_findings() {
        let mut r = row();
        let finding = |rule: &'static str, sev| crate::model::Finding {
            rule,
            severity: sev,
            message: String::new(),
            value: None,
            profile: Some("public-tls".into()),
            policy_version: None,
            applies_from: None,
            applies_until: None,
            exception: None,
        };
        r.profile = Some("public-tls".into());
        r.findings = vec![
            finding("profile.san.ip", crate::model::Severity::Error),
            finding("renewal.due", crate::model::Severity::Warning),
        ];
        let m = |q: &str| Filter::parse(q).unwrap().matches(&r, NOW);
        assert!(m(
            "profile:public-tls noncompliant rule:profile.san rule:renewal.due"
        ));
        assert!(!m("compliant") && !m("rule:profile.sa") && !m("profile:internal"));
        r.findings[0].exception = Some(Box::new(crate::model::ExceptionNote {
            id: 1,
            until: NOW + Duration::days(1),
            by: "carol".into(),
        }));
        let m = |q: &str| Filter::parse(q).unwrap().matches(&r, NOW);
        assert!(
            m("compliant") && !m("rule:profile.san.ip"),
            "an excepted finding is not open"
        );
    }

    #[test]
    fn bad_words_are_named() {
        let e = Filter::parse("owner:x colour:red").unwrap_err();
        assert_eq!(e.word, "colour:red");
        assert!(Filter::parse("expires<soon").is_err());
        assert!(Filter::parse("env:staging").is_err());
        assert!(Filter::parse("!").is_err());
    }

    #[test]
    fn ipv6_and_hostnames_with_colons_are_free_text() {
        assert_eq!(
            Filter::parse("fe80::1").unwrap().terms,
            vec![Term::Text("fe80::1".into())]
        );
        assert_eq!(Filter::parse("api.example.com:443").unwrap().terms.len(), 1);
    }

    #[test]
    fn expiry_words_bound_the_index_preselection() {
        let f = Filter::parse("owner:x expires<30d").unwrap();
        assert_eq!(
            f.not_after_upper_bound(NOW),
            Some(NOW + Duration::days(30) + Duration::seconds(1))
        );
        assert_eq!(
            Filter::parse("owner:x").unwrap().not_after_upper_bound(NOW),
            None
        );
    }

    #[test]
    fn expiry_words_bound_the_preselection_from_below_too() {
        let f = Filter::parse("!expired expires<=30d").unwrap();
        assert_eq!(f.not_after_lower_bound(NOW), Some(NOW));
        assert_eq!(
            Filter::parse("expires>=7d expires>2d")
                .unwrap()
                .not_after_lower_bound(NOW),
            Some(NOW + Duration::days(7) - Duration::seconds(1))
        );
        assert_eq!(
            Filter::parse("expired").unwrap().not_after_lower_bound(NOW),
            None
        );
        // Every row the bounds exclude is one the filter rejects.
        for q in ["!expired", "expires>=18d", "expires>17d"] {
            let f = Filter::parse(q).unwrap();
            let lo = f.not_after_lower_bound(NOW).unwrap();
            let mut r = row();
            r.not_after = lo;
            assert!(!f.matches(&r, NOW), "{q}: not_after = bound must not match");
            r.not_after = lo + Duration::seconds(1);
            assert!(f.matches(&r, NOW), "{q}: just after the bound matches");
        }
    }

    #[test]
    fn only_policy_words_wait_for_findings() {
        assert!(!Filter::parse("owner:x expires<30d weak")
            .unwrap()
            .needs_findings());
        assert!(Filter::parse("owner:x noncompliant")
            .unwrap()
            .needs_findings());
        assert!(Filter::parse("!rule:cert.expired")
            .unwrap()
            .needs_findings());
        let f = Filter::parse("owner:payments compliant").unwrap();
        let mut r = row();
        assert!(f.matches_before_findings(&r, NOW));
        r.owner = Some("other".into());
        assert!(!f.matches_before_findings(&r, NOW));
    }

    #[test]
    fn folded_haystack_answers_every_query_as_the_row_does() {
        let plain = row();
        let mut unicode = row();
        unicode.subject_cn = Some("Straße.Example".into());
        unicode.subject = "CN=Straße.Example,O=ÉCOLE Σ".into();
        unicode.sans = vec!["İstanbul.example".into(), String::new()];
        let mut bare = row();
        bare.subject_cn = None;
        bare.sans = vec![];
        bare.subject = "O=Payments\nCN=x".into();
        let queries = [
            "api",
            "API",
            "payments",
            "payments.example",
            "example.com\napi",
            "straße",
            "école",
            "σ",
            "i̇stanbul",
            "istanbul",
            "cn:straße",
            "cn:api",
            "san:api",
            "san:payments",
            "!san:x",
            "!api",
            "o=payments",
            "0f",
            "ab12",
            "cd",
            "=",
            "n",
            "fe80::1",
            "weak",
            "!weak owner:payments",
            "expires<18d",
            "expires<=18d",
            "expires>18d",
            "expires>=18d env:prod",
            "expired",
            "!expired san:api",
            "!expires<30d",
        ];
        for r in [plain, unicode, bare] {
            let hay = Haystack::of(&r);
            for q in queries {
                let mut f = Filter::parse(q).unwrap();
                assert_eq!(
                    f.matches_in(&r, &hay, NOW),
                    f.matches(&r, NOW),
                    "{q:?} on {r:?}"
                );
                assert_eq!(
                    f.prepare(NOW).matches(&r, &hay),
                    f.matches(&r, NOW),
                    "prepared {q:?} on {r:?}"
                );
                // Terms built in code, not parsed, may be upper-case or empty.
                for t in [
                    Term::Text(q.into()),
                    Term::San(String::new()),
                    Term::Cn(q.into()),
                ] {
                    f = Filter::default().and(t);
                    assert_eq!(
                        f.matches_in(&r, &hay, NOW),
                        f.matches(&r, NOW),
                        "{f:?} on {r:?}"
                    );
                    assert_eq!(
                        f.prepare(NOW).matches(&r, &hay),
                        f.matches(&r, NOW),
                        "prepared {f:?} on {r:?}"
                    );
                }
            }
        }
    }
}
