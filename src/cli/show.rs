use super::{resolve_certificate, CliError, CliResult, Env};
use crate::model::{locale_is_utf8, ExpiryBand};
use crate::sanitize::sanitize;
use crate::store::AuditQuery;
use clap::Args;
use serde_json::json;
use std::io::Write;

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Certificate id or fingerprint prefix (at least 6 hex digits, colons allowed).
    pub certificate: String,
    #[arg(long, conflicts_with = "pem")]
    pub json: bool,
    /// Print the certificate as PEM.
    #[arg(long)]
    pub pem: bool,
}

pub fn run(a: ShowArgs, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let read = ctx.store.read();
    let id = resolve_certificate(read, &a.certificate)?;
    let row = read
        .certificate_row(id)?
        .ok_or_else(|| CliError::failed("certificate vanished"))?;
    let der = read.certificate_der(id)?.unwrap_or_default();
    let now = ctx.now();
    let mut out = std::io::stdout().lock();
    if a.pem {
        let _ = write!(out, "{}", crate::x509::pem::encode("CERTIFICATE", &der));
        return Ok(super::exit::OK);
    }
    let detail = crate::x509::detail::decode(&der).map_err(|e| CliError::failed(e.to_string()))?;
    let sightings = read.sightings(id)?;
    let chain = read.chain(id)?;
    let audit = read.audit_records(&AuditQuery {
        object_type: Some("certificate".into()),
        object_id: Some(row.fingerprint_sha256.clone()),
        limit: Some(20),
        ..Default::default()
    })?;
    if a.json {
        let v = json!({
            "certificate": super::output::CertJson::new(&row, now),
            "detail": detail,
            "sightings": sightings,
            "chain": chain.iter().map(|c| json!({"id": c.id, "subject": c.subject, "fingerprint_sha256": c.fingerprint_sha256})).collect::<Vec<_>>(),
            "audit": audit,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
        return Ok(super::exit::OK);
    }
    let s = |x: &str| sanitize(x).into_owned();
    let band = ExpiryBand::of(now, row.not_after);
    let mut lines: Vec<String> = vec![
        format!("Certificate #{}  {}", row.id, s(row.display_name())),
        format!("  Subject:        {}", s(&detail.subject)),
        format!("  Issuer:         {}", s(&detail.issuer)),
        format!("  Serial:         {}", detail.serial),
        format!("  Version:        {}", detail.version),
        format!("  Not before:     {}", detail.not_before),
        format!(
            "  Not after:      {}  ({} {} days left, {})",
            detail.not_after,
            band.symbol(locale_is_utf8()),
            row.days_left(now),
            row.effective_status(now).as_str()
        ),
        format!("  Public key:     {}", detail.public_key),
        format!("  Signature:      {}", detail.signature_algorithm),
        format!(
            "  SHA-256:        {}",
            crate::x509::detail::colon_hex(&detail.fingerprint_sha256)
        ),
        format!(
            "  SHA-1:          {}",
            crate::x509::detail::colon_hex(&detail.fingerprint_sha1)
        ),
        format!("  SPKI SHA-256:   {}", detail.spki_sha256),
        format!(
            "  Owner:          {}",
            row.owner
                .as_deref()
                .map(s)
                .unwrap_or_else(|| "(unowned)".into())
        ),
        format!(
            "  Identity:       {}",
            row.identity
                .as_deref()
                .map(s)
                .unwrap_or_else(|| "(unmanaged)".into())
        ),
        format!(
            "  Authority:      {}",
            row.authority
                .as_deref()
                .map(s)
                .unwrap_or_else(|| "-".into())
        ),
        format!(
            "  Environment:    {}",
            row.environment
                .map(|e| e.to_string())
                .unwrap_or_else(|| "-".into())
        ),
    ];
    if let Some(w) =
        crate::model::weak_reason(&row.key_algorithm, row.key_bits, &row.signature_algorithm)
    {
        lines.push(format!("  WEAK:           {}", s(&w)));
    }
    lines.push(format!(
        "  Profile:        {}",
        row.profile
            .as_deref()
            .map(s)
            .unwrap_or_else(|| "(none)".into())
    ));
    lines.push(format!(
        "Compliance:       {}",
        if row.is_compliant(now) {
            "compliant"
        } else {
            "NON-COMPLIANT"
        }
    ));
    for f in row.findings.iter().filter(|f| f.applies(now)) {
        let mut l = format!("  {} {}: {}", f.severity.as_str(), f.rule, s(&f.message));
        if let Some(v) = &f.value {
            l.push_str(&format!(" ({})", s(v)));
        }
        if let Some(t) = super::policy::exception_text(f, now) {
            l.push_str(&format!(" [{}]", s(&t)));
        }
        lines.push(l);
    }
    lines.push("Extensions:".into());
    for e in &detail.extensions {
        lines.push(format!(
            "  {}{}:",
            s(&e.name),
            if e.critical { " (critical)" } else { "" }
        ));
        for v in &e.values {
            lines.push(format!("      {}", s(v)));
        }
    }
    lines.push("Chain:".into());
    if chain.is_empty() {
        lines.push(if row.is_ca && row.issuer == row.subject {
            "  (self-signed root)".into()
        } else {
            "  (issuer not in the inventory)".into()
        });
    }
    for (i, c) in chain.iter().enumerate() {
        lines.push(format!("  {}└ #{} {}", "  ".repeat(i), c.id, s(&c.subject)));
    }
    lines.push("Seen at:".into());
    for si in &sightings {
        lines.push(format!(
            "  {} {} (first {}, last {})",
            si.kind,
            s(&si.location),
            si.first_seen,
            si.last_seen
        ));
    }
    if !audit.is_empty() {
        lines.push("Audit trail (newest first):".into());
        for r in &audit {
            lines.push(format!(
                "  #{} {} {} {} {}",
                r.seq,
                crate::clock::rfc3339(r.at),
                s(&r.actor),
                s(&r.action),
                r.outcome
            ));
        }
    }
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    Ok(super::exit::OK)
}
