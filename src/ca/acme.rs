//! ACME (RFC 8555) through instant-acme: the account key by credential reference
//! (created on first use when it is a `file:` reference that does not exist yet), custom
//! trust for private ACME servers, external account binding, HTTP-01 by a built-in
//! responder or a webroot, DNS-01 by a hook with a propagation wait, revocation, and the
//! ACME problem types mapped to diagnoses.

use super::{setting, Connector, Issued, OrderRequest, Revocation};
use crate::lifecycle::{credential, Category, Diagnosis};
use crate::model::Authority;
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, ExternalAccountKey, Identifier, NewAccount,
    NewOrder, Order, OrderStatus, Problem, RetryPolicy,
};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone)]
enum Challenge {
    Http01Listen(String),
    Http01Webroot(PathBuf),
    Dns01 { hook: String, propagation: Duration },
}

pub struct AcmeCa {
    name: String,
    directory: String,
    ca_bundle: Option<PathBuf>,
    challenge: Challenge,
    credential_ref: String,
    contact: Vec<String>,
    eab: Option<(String, String)>,
    runtime: tokio::runtime::Runtime,
    account: std::cell::RefCell<Option<Account>>,
    /// How long to wait for the CA to validate and to issue.
    patience: Duration,
}

fn unavailable(a: &str, m: impl std::fmt::Display) -> Diagnosis {
    Diagnosis::new(Category::CaUnavailable, format!("ACME authority {a}: {m}"))
}

impl AcmeCa {
    pub fn open(a: &Authority) -> Result<AcmeCa, Diagnosis> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let name = a.name.clone();
        let directory = setting(a, "directory")
            .ok_or_else(|| unavailable(&name, "no directory URL"))?
            .to_string();
        let challenge = match setting(a, "challenge").unwrap_or("http-01") {
            "dns-01" => Challenge::Dns01 {
                hook: setting(a, "dns01_hook")
                    .ok_or_else(|| unavailable(&name, "dns-01 needs dns01_hook"))?
                    .to_string(),
                propagation: Duration::from_secs(
                    a.settings
                        .get("dns01_propagation_seconds")
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0),
                ),
            },
            _ => match (setting(a, "http01_webroot"), setting(a, "http01_listen")) {
                (Some(w), _) => Challenge::Http01Webroot(PathBuf::from(w)),
                (None, l) => Challenge::Http01Listen(l.unwrap_or("0.0.0.0:80").to_string()),
            },
        };
        let credential_ref = a.credential_ref.clone().ok_or_else(|| {
            Diagnosis::new(
                Category::Unauthorized,
                format!("ACME authority {name}: no credential reference for the account key"),
            )
        })?;
        let contact = a
            .settings
            .get("contact")
            .and_then(|v| v.as_array())
            .map(|v| {
                v.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let eab = match (setting(a, "eab_kid"), setting(a, "eab_hmac")) {
            (Some(k), Some(h)) => Some((k.to_string(), h.to_string())),
            _ => None,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| unavailable(&name, e))?;
        Ok(AcmeCa {
            name,
            directory,
            ca_bundle: setting(a, "ca_bundle").map(PathBuf::from),
            challenge,
            credential_ref,
            contact,
            eab,
            runtime,
            account: std::cell::RefCell::new(None),
            patience: Duration::from_secs(
                a.settings
                    .get("timeout_seconds")
                    .and_then(|v| v.as_u64())
                    .unwrap_or(90),
            ),
        })
    }

    fn builder(&self) -> Result<instant_acme::AccountBuilder, Diagnosis> {
        match &self.ca_bundle {
            Some(p) => Account::builder_with_root(p),
            None => Account::builder(),
        }
        .map_err(|e| unavailable(&self.name, format!("HTTP client: {e}")))
    }

    /// The account: from the stored credentials, from a key, or created on first use.
    async fn account(&self) -> Result<Account, Diagnosis> {
        if let Some(a) = self.account.borrow().as_ref() {
            return Ok(a.clone());
        }
        let unauthorized = |m: String| {
            Diagnosis::new(
                Category::Unauthorized,
                format!("ACME authority {}: {m}", self.name),
            )
        };
        let account = match self.credential_ref.strip_prefix("file:") {
            Some(path) if !std::path::Path::new(path).exists() => {
                let contact: Vec<&str> = self.contact.iter().map(String::as_str).collect();
                let eab = match &self.eab {
                    Some((kid, hmac_ref)) => {
                        let secret = credential::resolve(hmac_ref)
                            .map_err(|e| unauthorized(format!("eab_hmac: {e}")))?;
                        let raw = decode_b64url(secret.trimmed().map_err(unauthorized)?)
                            .map_err(|e| unauthorized(format!("eab_hmac: {e}")))?;
                        Some(ExternalAccountKey::new(kid.clone(), &raw))
                    }
                    None => None,
                };
                let (account, creds) = self
                    .builder()?
                    .create(
                        &NewAccount {
                            contact: &contact,
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        self.directory.clone(),
                        eab.as_ref(),
                    )
                    .await
                    .map_err(|e| diagnose(&self.name, e))?;
                let json = zeroize::Zeroizing::new(
                    serde_json::to_vec(&creds).map_err(|e| unavailable(&self.name, e))?,
                );
                credential::resolve_or_create(&self.credential_ref, || Ok(json.clone()))
                    .map_err(|e| unauthorized(format!("storing the new account key: {e}")))?;
                account
            }
            _ => {
                let secret = credential::resolve(&self.credential_ref).map_err(unauthorized)?;
                let text = secret.as_str().map_err(unauthorized)?;
                if text.trim_start().starts_with('{') {
                    let creds: instant_acme::AccountCredentials = serde_json::from_str(text)
                        .map_err(|e| unauthorized(format!("account credentials: {e}")))?;
                    self.builder()?
                        .from_credentials(creds)
                        .await
                        .map_err(|e| diagnose(&self.name, e))?
                } else {
                    let der = pem_private_key(text).map_err(unauthorized)?;
                    let pkcs8 = rustls::pki_types::PrivatePkcs8KeyDer::from(der);
                    let key = instant_acme::Key::from_pkcs8_der(pkcs8.clone_key())
                        .map_err(|e| unauthorized(format!("account key: {e}")))?;
                    self.builder()?
                        .create_from_key(
                            (key, rustls::pki_types::PrivateKeyDer::Pkcs8(pkcs8)),
                            self.directory.clone(),
                        )
                        .await
                        .map_err(|e| diagnose(&self.name, e))?
                        .0
                }
            }
        };
        *self.account.borrow_mut() = Some(account.clone());
        Ok(account)
    }

    async fn issue_async(
        &self,
        req: &OrderRequest<'_>,
        record_order: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<Issued, Diagnosis> {
        let account = self.account().await?;
        let d = |e| diagnose(&self.name, e);
        let mut order = match req.order_ref {
            Some(url) => account.order(url.to_string()).await.map_err(d)?,
            None => {
                let ids: Vec<Identifier> = req
                    .sans
                    .iter()
                    .map(|s| match s.parse::<std::net::IpAddr>() {
                        Ok(ip) => Identifier::Ip(ip),
                        Err(_) => Identifier::Dns(s.clone()),
                    })
                    .collect();
                let order = account.new_order(&NewOrder::new(&ids)).await.map_err(d)?;
                record_order(order.url())?;
                order
            }
        };
        let retry = RetryPolicy::new()
            .initial_delay(Duration::from_millis(100))
            .backoff(1.5)
            .timeout(self.patience);
        loop {
            let status = order.state().status;
            match status {
                OrderStatus::Pending => {
                    self.solve(&mut order).await?;
                    let st = order.poll_ready(&retry).await.map_err(d)?;
                    if st == OrderStatus::Invalid {
                        return Err(self.invalid(&mut order).await);
                    }
                }
                OrderStatus::Ready => {
                    order.finalize_csr(req.csr_der).await.map_err(d)?;
                }
                OrderStatus::Processing | OrderStatus::Valid => {
                    let pem = order.poll_certificate(&retry).await.map_err(d)?;
                    let chain = super::local::pem_certificates(pem.as_bytes());
                    if chain.is_empty() {
                        return Err(unavailable(
                            &self.name,
                            "the certificate download held no certificate",
                        ));
                    }
                    return Ok(Issued {
                        chain,
                        key_pem: None,
                    });
                }
                OrderStatus::Invalid => return Err(self.invalid(&mut order).await),
            }
        }
    }

    /// Why an order went invalid, from its authorizations' challenge errors.
    async fn invalid(&self, order: &mut Order) -> Diagnosis {
        let mut found = None;
        let mut auths = order.authorizations();
        while let Some(Ok(a)) = auths.next().await {
            for c in &a.challenges {
                if let Some(p) = &c.error {
                    found = Some(problem(&self.name, p));
                }
            }
        }

        if let Some(mut d) = found {
            if d.category == Category::CaUnavailable {
                d.category = Category::ChallengeFailed;
            }
            return d;
        }
        match &order.state().error {
            Some(p) => problem(&self.name, p),
            None => Diagnosis::new(
                Category::ChallengeFailed,
                format!("ACME authority {}: the order became invalid", self.name),
            ),
        }
    }

    /// Answers every pending authorization with the configured challenge.
    async fn solve(&self, order: &mut Order) -> Result<(), Diagnosis> {
        let (kind, listen) = match &self.challenge {
            Challenge::Dns01 { .. } => (ChallengeType::Dns01, None),
            Challenge::Http01Listen(l) => (ChallengeType::Http01, Some(l.clone())),
            Challenge::Http01Webroot(_) => (ChallengeType::Http01, None),
        };
        // Tokens to answer (HTTP-01) and records to clean up (DNS-01) after validation.
        let mut tokens: Vec<(String, String)> = Vec::new();
        let mut records: Vec<(String, String)> = Vec::new();
        let mut webroot_files: Vec<PathBuf> = Vec::new();
        let mut ready_urls = Vec::new();
        {
            let mut auths = order.authorizations();
            while let Some(a) = auths.next().await {
                let mut a = a.map_err(|e| diagnose(&self.name, e))?;
                if a.status != AuthorizationStatus::Pending {
                    continue;
                }
                let name = a.identifier().to_string();
                let Some(ch) = a.challenge(kind.clone()) else {
                    return Err(Diagnosis::new(
                        Category::ChallengeFailed,
                        format!(
                            "ACME authority {}: the CA offers no {kind:?} challenge for {name}",
                            self.name
                        ),
                    ));
                };
                let ka = ch.key_authorization();
                match &self.challenge {
                    Challenge::Dns01 { hook, .. } => {
                        let rec = format!("_acme-challenge.{}", name.trim_start_matches("*."));
                        let value = ka.dns_value();
                        run_hook(hook, "set", &rec, &value)?;
                        records.push((rec, value));
                    }
                    Challenge::Http01Listen(_) => {
                        tokens.push((ch.token.clone(), ka.as_str().to_string()))
                    }
                    Challenge::Http01Webroot(root) => {
                        let dir = root.join(".well-known/acme-challenge");
                        let p = dir.join(&ch.token);
                        std::fs::create_dir_all(&dir)
                            .and_then(|_| std::fs::write(&p, ka.as_str()))
                            .map_err(|e| {
                                Diagnosis::new(
                                    Category::ChallengeFailed,
                                    format!("webroot {}: {e}", p.display()),
                                )
                            })?;
                        webroot_files.push(p);
                    }
                }
                ready_urls.push(ch.url.clone());
            }
        }
        if let Challenge::Dns01 { propagation, .. } = &self.challenge {
            if !records.is_empty() && !propagation.is_zero() {
                tokio::time::sleep(*propagation).await;
            }
        }
        let responder = match listen {
            Some(addr) if !tokens.is_empty() => Some(Http01Responder::start(&addr, tokens).await?),
            _ => None,
        };
        // Tell the CA each challenge is ready, then wait for its verdict.
        let result = async {
            let mut auths = order.authorizations();
            while let Some(a) = auths.next().await {
                let mut a = a.map_err(|e| diagnose(&self.name, e))?;
                if a.status != AuthorizationStatus::Pending {
                    continue;
                }
                if let Some(mut ch) = a.challenge(kind.clone()) {
                    ch.set_ready().await.map_err(|e| diagnose(&self.name, e))?;
                }
            }

            let retry = RetryPolicy::new()
                .initial_delay(Duration::from_millis(100))
                .backoff(1.5)
                .timeout(self.patience);
            order
                .poll_ready(&retry)
                .await
                .map_err(|e| diagnose(&self.name, e))
                .map(|_| ())
        }
        .await;
        drop(responder);
        for p in webroot_files {
            let _ = std::fs::remove_file(p);
        }
        if let Challenge::Dns01 { hook, .. } = &self.challenge {
            for (rec, value) in &records {
                let _ = run_hook(hook, "clear", rec, value);
            }
        }
        result
    }
}

impl Connector for AcmeCa {
    fn issue(
        &self,
        req: &OrderRequest<'_>,
        record_order: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<Issued, Diagnosis> {
        self.runtime.block_on(self.issue_async(req, record_order))
    }

    fn revoke(&self, r: &Revocation<'_>) -> Result<(), Diagnosis> {
        self.runtime.block_on(async {
            let account = self.account().await?;
            let cert = rustls::pki_types::CertificateDer::from(r.leaf_der.to_vec());
            account
                .revoke(&instant_acme::RevocationRequest {
                    certificate: &cert,
                    reason: Some(revocation_reason(r.reason)),
                })
                .await
                .map_err(|e| diagnose(&self.name, e))
        })
    }
}

fn revocation_reason(r: &str) -> instant_acme::RevocationReason {
    use instant_acme::RevocationReason as R;
    match r {
        "key_compromise" => R::KeyCompromise,
        "ca_compromise" => R::CaCompromise,
        "affiliation_changed" => R::AffiliationChanged,
        "superseded" => R::Superseded,
        "cessation_of_operation" => R::CessationOfOperation,
        "privilege_withdrawn" => R::PrivilegeWithdrawn,
        _ => R::Unspecified,
    }
}

/// Maps an instant-acme error to a diagnosis: problem documents by type, transport
/// failures as `ca_unavailable`.
pub fn diagnose(authority: &str, e: instant_acme::Error) -> Diagnosis {
    match e {
        instant_acme::Error::Api(p) => problem(authority, &p),
        instant_acme::Error::Timeout(when) => {
            let secs = when.map(|t| {
                t.saturating_duration_since(std::time::Instant::now())
                    .as_secs() as i64
            });
            unavailable(authority, "timed out waiting for the CA").with_retry_after(secs)
        }
        other => unavailable(authority, other),
    }
}

/// Maps an ACME problem document (RFC 8555 §6.7) to a diagnosis category.
pub fn problem(authority: &str, p: &Problem) -> Diagnosis {
    let t = p
        .r#type
        .as_deref()
        .unwrap_or("")
        .trim_start_matches("urn:ietf:params:acme:error:");
    let category = match t {
        "rateLimited" => Category::RateLimited,
        "unauthorized"
        | "accountDoesNotExist"
        | "externalAccountRequired"
        | "userActionRequired" => Category::Unauthorized,
        "rejectedIdentifier"
        | "caa"
        | "badCSR"
        | "badSignatureAlgorithm"
        | "badPublicKey"
        | "unsupportedIdentifier"
        | "badRevocationReason" => Category::PolicyDenied,
        "dns" => Category::Dns,
        "connection" | "incorrectResponse" | "tls" => Category::ChallengeFailed,
        _ if p.status.is_some_and(|s| s == 401 || s == 403) => Category::Unauthorized,
        _ => Category::CaUnavailable,
    };
    let detail = p.detail.clone().unwrap_or_default();
    let sub: Vec<String> = p
        .subproblems
        .iter()
        .filter_map(|s| s.detail.clone())
        .collect();
    let mut msg = format!("ACME authority {authority}: {t}: {detail}");
    if !sub.is_empty() {
        msg.push_str(&format!(" ({})", sub.join("; ")));
    }
    let mut d = Diagnosis::new(category, msg);
    if category == Category::RateLimited {
        // instant-acme 0.8 reads a problem document from the body only: the response's
        // Retry-After header is gone before we see the error. Let's Encrypt names the time
        // in the detail instead ("retry after 2026-12-01 08:00:00 UTC"); without one, an
        // hour is the documented default wait for rate limits.
        d.retry_at = retry_after_in(&detail);
        if d.retry_at.is_none() {
            d.retry_after_secs = Some(3600);
        }
    }
    d
}

/// The time a problem's text names after "retry after" (RFC 3339, or Let's Encrypt's
/// `YYYY-MM-DD HH:MM:SS UTC`), when it names one.
pub fn retry_after_in(detail: &str) -> Option<time::OffsetDateTime> {
    let lower = detail.to_ascii_lowercase();
    let at = lower.find("retry after ")? + "retry after ".len();
    let rest = detail[at..].trim_start();
    let token: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ',' && *c != ';')
        .collect();
    let token = token.trim_end_matches(['.', ':']);
    if let Ok(t) =
        time::OffsetDateTime::parse(token, &time::format_description::well_known::Rfc3339)
    {
        return Some(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let head: String = rest.chars().take(19).collect();
    let tail = rest.get(19..).unwrap_or("").trim_start();
    if !tail.starts_with("UTC") {
        return None;
    }
    time::PrimitiveDateTime::parse(&head, fmt)
        .ok()
        .map(|t| t.assume_utc())
}

fn run_hook(hook: &str, action: &str, name: &str, value: &str) -> Result<(), Diagnosis> {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{hook} \"$@\""))
        .arg("dns01-hook")
        .args([action, name, value])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Diagnosis::new(Category::Dns, format!("DNS-01 hook: {e}")))?;
    if !out.status.success() {
        return Err(Diagnosis::new(
            Category::Dns,
            format!(
                "DNS-01 hook `{hook} {action} {name}` exited with {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(())
}

fn decode_b64url(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|e| format!("not base64url: {e}"))
}

fn pem_private_key(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    if body.is_empty() {
        return Err("the account key must be PKCS#8 PEM (BEGIN PRIVATE KEY) or certdeck account credentials (JSON)".into());
    }
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("account key: {e}"))
}

/// The built-in HTTP-01 responder: answers `/.well-known/acme-challenge/TOKEN` on the
/// configured address while validation runs, and stops when dropped.
struct Http01Responder {
    task: tokio::task::JoinHandle<()>,
}

impl Http01Responder {
    async fn start(
        addr: &str,
        tokens: Vec<(String, String)>,
    ) -> Result<Http01Responder, Diagnosis> {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Diagnosis::new(
                Category::ChallengeFailed,
                format!("HTTP-01 responder cannot listen on {addr}: {e}"),
            )
        })?;
        let tokens = std::sync::Arc::new(tokens);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    continue;
                };
                let tokens = tokens.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut n = 0;
                    while n < buf.len() {
                        match sock.read(&mut buf[n..]).await {
                            Ok(0) | Err(_) => break,
                            Ok(k) => n += k,
                        }
                        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let req = String::from_utf8_lossy(&buf[..n]);
                    let path = req.split_whitespace().nth(1).unwrap_or("");
                    let answer = path
                        .strip_prefix("/.well-known/acme-challenge/")
                        .and_then(|t| tokens.iter().find(|(tok, _)| tok == t))
                        .map(|(_, ka)| ka.clone());
                    let resp = match answer {
                        Some(body) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                    };
                    let _ = sock.write_all(resp.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Ok(Http01Responder { task })
    }
}

impl Drop for Http01Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str, status: Option<u16>) -> Problem {
        serde_json::from_value(serde_json::json!({
            "type": format!("urn:ietf:params:acme:error:{t}"), "detail": "d", "status": status
        }))
        .unwrap()
    }

    #[test]
    fn acme_problem_types_map_to_diagnoses() {
        let cases = [
            ("rateLimited", Category::RateLimited),
            ("unauthorized", Category::Unauthorized),
            ("externalAccountRequired", Category::Unauthorized),
            ("rejectedIdentifier", Category::PolicyDenied),
            ("caa", Category::PolicyDenied),
            ("dns", Category::Dns),
            ("connection", Category::ChallengeFailed),
            ("incorrectResponse", Category::ChallengeFailed),
            ("serverInternal", Category::CaUnavailable),
        ];
        for (t, c) in cases {
            assert_eq!(problem("pebble", &p(t, None)).category, c, "{t}");
        }
        assert_eq!(
            problem("x", &p("rateLimited", Some(429))).retry_after_secs,
            Some(3600)
        );
        assert_eq!(
            problem("x", &p("somethingNew", Some(403))).category,
            Category::Unauthorized
        );
    }

    #[test]
    fn a_rate_limit_that_names_its_retry_time_is_retried_then_and_not_before() {
        let named = |detail: &str| {
            let p: Problem = serde_json::from_value(serde_json::json!({
                "type": "urn:ietf:params:acme:error:rateLimited", "detail": detail, "status": 429
            }))
            .unwrap();
            problem("le", &p)
        };
        let d = named("too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2026-12-03 08:14:22 UTC: see https://letsencrypt.org/docs/rate-limits/");
        assert_eq!(d.category, Category::RateLimited);
        assert_eq!(
            d.retry_at,
            Some(time::macros::datetime!(2026-12-03 08:14:22 UTC))
        );
        assert_eq!(d.retry_after_secs, None);
        let d = named("too many new orders recently, retry after 2026-12-01T10:00:00Z");
        assert_eq!(
            d.retry_at,
            Some(time::macros::datetime!(2026-12-01 10:00 UTC))
        );
        // Two days away beats the one-hour backoff; a time already past does not shorten it.
        let b = crate::lifecycle::job::Backoff::default();
        let now = time::macros::datetime!(2026-12-01 08:14:22 UTC);
        let d = named("retry after 2026-12-03 08:14:22 UTC");
        assert_eq!(d.next_attempt(&b, now, 1), now + time::Duration::days(2));
        let d = named("retry after 2026-11-01 00:00:00 UTC");
        assert_eq!(d.next_attempt(&b, now, 1), now + time::Duration::hours(1));
        // No time named: the documented default hour.
        let d = named("slow down");
        assert_eq!((d.retry_at, d.retry_after_secs), (None, Some(3600)));
        assert_eq!(retry_after_in("retry after tomorrow"), None);
    }
}
