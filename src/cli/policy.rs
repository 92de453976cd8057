//! `certdeck policy ...`: load and inspect profiles, assign them, check compliance,
//! record exceptions. Every change goes through `ops::policy`.

use super::output::{print_json, print_rows, print_table, terminal_width, Column};
use super::{resolve_certificate, CliError, CliResult, Env};
use crate::access::current_actor;
use crate::model::{CertRow, Environment, Finding, Severity};
use crate::ops::policy as ops;
use crate::policy::exception::{ExceptionObject, NewException};
use crate::policy::{MatchRule, Profile};
use crate::query::{Filter, Term};
use crate::sanitize::sanitize;
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use time::OffsetDateTime;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Load every *.toml profile file in DIR (or the config's policy_dir): all valid, or nothing changes.
    Load {
        #[arg(value_name = "DIR", conflicts_with = "starter")]
        dir: Option<PathBuf>,
        /// Load the built-in starter set instead (public TLS, internal mTLS, non-prod).
        #[arg(long)]
        starter: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the loaded profiles, with the policy version and assignment rules.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one profile in full.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Evaluate the inventory now and list open findings; exit 1 if any is an error.
    Check(CheckArgs),
    /// Give profiles: to an identity, or by a match rule to certificates without one.
    Assign(AssignArgs),
    /// Remove an operator assignment rule by id (see `policy list`).
    Unassign { rule: i64 },
    /// Record an exception: findings of RULE on one object are suppressed until a date.
    Except(ExceptArgs),
    /// List exceptions (active, expired and revoked).
    Exceptions {
        #[arg(long)]
        json: bool,
    },
    /// Revoke an exception: its findings are open again at once.
    Revoke { exception: i64 },
    /// List every rule id with its severity and meaning.
    Rules {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    #[arg(long, value_name = "CA")]
    pub authority: Option<String>,
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Also list findings suppressed by an exception.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[arg(long, value_name = "PROFILE", required_unless_present = "from_rules")]
    pub profile: Option<String>,
    /// Give every identity without a profile the one the assignment rules give its
    /// current certificate.
    #[arg(long, conflicts_with_all = ["profile", "identity"])]
    pub from_rules: bool,
    /// The identity to give the profile (use --profile none to take it away).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["authority", "san_suffix", "owner", "env"])]
    pub identity: Option<String>,
    #[arg(long, value_name = "CA")]
    pub authority: Option<String>,
    #[arg(long, value_name = "SUFFIX")]
    pub san_suffix: Option<String>,
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    #[arg(long, value_name = "prod|nonprod")]
    pub env: Option<Environment>,
}

#[derive(Debug, Args)]
pub struct ExceptArgs {
    /// Rule id (see `certdeck policy rules`).
    #[arg(long)]
    pub rule: String,
    /// Certificate id or fingerprint prefix.
    #[arg(
        long,
        conflicts_with = "identity",
        required_unless_present = "identity"
    )]
    pub certificate: Option<String>,
    #[arg(long)]
    pub identity: Option<String>,
    /// Last day (YYYY-MM-DD, through 23:59:59 UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE")]
    pub until: String,
    #[arg(long)]
    pub reason: String,
    /// The request or ticket that granted it.
    #[arg(long, value_name = "REF")]
    pub request: Option<String>,
}

pub fn run(c: PolicyCommand, env: &Env) -> CliResult {
    match c {
        PolicyCommand::Load { dir, starter, json } => load(dir, starter, json, env),
        PolicyCommand::List { json } => list(json, env),
        PolicyCommand::Show { name, json } => show(&name, json, env),
        PolicyCommand::Check(a) => check(a, env),
        PolicyCommand::Assign(a) => assign(a, env),
        PolicyCommand::Unassign { rule } => {
            let mut ctx = env.open()?;
            ops::remove_rule(&mut ctx, &current_actor(), rule)?;
            println!("removed assignment rule {rule}");
            Ok(super::exit::OK)
        }
        PolicyCommand::Except(a) => except(a, env),
        PolicyCommand::Exceptions { json } => exceptions(json, env),
        PolicyCommand::Revoke { exception } => {
            let mut ctx = env.open()?;
            ops::revoke_exception(&mut ctx, &current_actor(), exception)?;
            println!("revoked exception {exception}");
            Ok(super::exit::OK)
        }
        PolicyCommand::Rules { json } => rules(json),
    }
}

fn short(v: &str) -> &str {
    &v[..v.len().min(12)]
}

fn load(dir: Option<PathBuf>, starter: bool, json: bool, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = current_actor();
    let report = if starter {
        ops::load_starter(&mut ctx, &actor)?
    } else {
        let dir = dir
            .or_else(|| env.config.policy_dir.clone())
            .ok_or_else(|| {
                CliError::usage(
                    "give a policy directory (or set policy_dir in the config, or use --starter)",
                )
            })?;
        ops::load(&mut ctx, &actor, &dir)?
    };
    if json {
        print_json(&report)?;
    } else {
        let e = &report.evaluation;
        println!(
            "loaded policy {} ({} profiles, {} assignment rules, from {} files)",
            short(&report.version),
            report.profiles.len(),
            report.rules,
            report.files.len()
        );
        println!(
            "evaluated {} certificates ({} with a profile): {} errors, {} warnings; {} non-compliant",
            e.certificates, e.with_profile, e.errors, e.warnings, e.noncompliant
        );
    }
    Ok(super::exit::OK)
}

fn list(json: bool, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let read = ctx.store.read();
    let version = read.current_policy_version()?;
    let profiles = read.profiles()?;
    let rules = read.profile_rules()?;
    let rows = read.certificate_rows(Default::default())?;
    let now = ctx.now();
    let counts = |name: &str| -> (usize, usize) {
        let mine = rows.iter().filter(|r| r.profile.as_deref() == Some(name));
        let mut certs = 0;
        let mut bad = 0;
        for r in mine {
            certs += 1;
            if !r.is_compliant(now) {
                bad += 1;
            }
        }
        (certs, bad)
    };
    let mut out = std::io::stdout().lock();
    if json {
        let v = json!({
            "version": version,
            "profiles": profiles.iter().map(|p| {
                let (c, b) = counts(&p.name);
                json!({"name": p.name, "description": p.description, "environment": p.environment,
                       "authorities": p.authorities, "source": p.source, "certificates": c, "noncompliant": b})
            }).collect::<Vec<_>>(),
            "rules": rules,
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
        return Ok(super::exit::OK);
    }
    match &version {
        Some(v) => {
            let _ = writeln!(
                out,
                "policy {} loaded {} by {} from {}",
                short(&v.version),
                v.loaded_at,
                sanitize(&v.loaded_by),
                sanitize(&v.files.join(", "))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "no policy loaded (certdeck policy load DIR, or --starter)"
            );
            return Ok(super::exit::OK);
        }
    }
    let columns = [
        Column::new("PROFILE", 0, 8),
        Column::new("ENV", 2, 4),
        Column::new("AUTHORITIES", 3, 8),
        Column::new("CERTS", 0, 5),
        Column::new("NONCOMPLIANT", 0, 5),
        Column::new("DESCRIPTION", 4, 10),
    ];
    let cells: Vec<Vec<String>> = profiles
        .iter()
        .map(|p| {
            let (c, b) = counts(&p.name);
            vec![
                p.name.clone(),
                p.environment.to_string(),
                p.authorities.join(","),
                c.to_string(),
                b.to_string(),
                p.description.clone(),
            ]
        })
        .collect();
    print_table(&mut out, &columns, &cells, terminal_width())
        .map_err(|e| CliError::failed(e.to_string()))?;
    if !rules.is_empty() {
        let _ = writeln!(out, "\nassignment rules (first match wins):");
        for r in &rules {
            let _ = writeln!(
                out,
                "  #{} [{}] {}",
                r.id,
                r.origin,
                sanitize(&describe_rule(&r.rule))
            );
        }
    }
    Ok(super::exit::OK)
}

fn describe_rule(r: &MatchRule) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &r.authority {
        parts.push(format!("authority={a}"));
    }
    if let Some(s) = &r.san_suffix {
        parts.push(format!("san_suffix={s}"));
    }
    if let Some(o) = &r.owner {
        parts.push(format!("owner={o}"));
    }
    if let Some(e) = r.environment {
        parts.push(format!("env={e}"));
    }
    format!("{} -> {}", parts.join(" "), r.profile)
}

fn show(name: &str, json: bool, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let p = ctx
        .store
        .read()
        .profile(name)?
        .ok_or_else(|| CliError::failed(format!("no profile named {}", sanitize(name))))?;
    if json {
        print_json(&p)?;
        return Ok(super::exit::OK);
    }
    for l in profile_lines(&p) {
        println!("{}", sanitize(&l));
    }
    Ok(super::exit::OK)
}

/// A profile as an operator reads it (shared with the console's policy view).
pub fn profile_lines(p: &Profile) -> Vec<String> {
    let list = |v: &[String]| {
        if v.is_empty() {
            "(any)".to_string()
        } else {
            v.join(", ")
        }
    };
    vec![
        format!("Profile {}  ({})", p.name, p.source),
        format!("  Description:     {}", p.description),
        format!("  Environment:     {}", p.environment),
        format!("  Authorities:     {}", p.authorities.join(", ")),
        format!(
            "  Key types:       {}",
            p.key_types
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        format!("  Signatures:      {}", p.signature_algorithms.join(", ")),
        format!(
            "  Max validity:    {}",
            p.max_validity_days
                .map(|d| format!("{d} days"))
                .unwrap_or_else(|| "CA/Browser Forum ceiling".into())
        ),
        format!("  Renew before:    {}", p.renew_before),
        format!("  EKU:             {}", list(&p.eku)),
        format!("  Key usage:       {}", list(&p.key_usage)),
        format!(
            "  Owner required:  {}",
            if p.owner_required { "yes" } else { "no" }
        ),
        format!(
            "  Approvals:       {}",
            if p.approvals == 0 {
                "none".to_string()
            } else {
                format!(
                    "{} by {}",
                    p.approvals,
                    p.approver_role.as_deref().unwrap_or("?")
                )
            }
        ),
        format!("  Public TLS:      {}", if p.public { "yes" } else { "no" }),
        format!(
            "  SANs:            suffixes {}; patterns {}; wildcards {}; IP {}; at most {}",
            list(&p.sans.dns_suffixes),
            list(&p.sans.patterns),
            if p.sans.wildcards { "yes" } else { "no" },
            if p.sans.ip { "yes" } else { "no" },
            p.sans.max
        ),
    ]
}

/// "excepted until 2027-01-31 by carol", or empty when open.
pub fn exception_text(f: &Finding, now: OffsetDateTime) -> Option<String> {
    let e = f.exception.as_ref()?;
    if e.until > now {
        Some(format!("excepted until {} by {}", e.until.date(), e.by))
    } else {
        Some(format!(
            "exception expired {} (was by {})",
            e.until.date(),
            e.by
        ))
    }
}

fn check(a: CheckArgs, env: &Env) -> CliResult {
    // Judge the inventory as it is now, in memory: a check needs no write access (and
    // works on a read-only database); what is stored is recomputed by every change.
    let ctx = env.open()?;
    let now = ctx.now();
    let (evals, version) = ops::snapshot(ctx.store.read())?;
    let mut rows: Vec<CertRow> = ctx.store.read().certificate_rows(Default::default())?;
    let mut by_id: std::collections::HashMap<i64, _> =
        evals.into_iter().map(|e| (e.certificate_id, e)).collect();
    for r in rows.iter_mut() {
        if let Some(e) = by_id.remove(&r.id) {
            r.profile = e.profile.map(|p| p.0);
            r.findings = e.findings;
        }
    }
    let mut filter = Filter::default();
    if let Some(o) = &a.owner {
        filter = filter.and(Term::Owner(o.clone()));
    }
    if let Some(c) = &a.authority {
        filter = filter.and(Term::Authority(c.clone()));
    }
    if let Some(p) = &a.profile {
        filter = filter.and(Term::Profile(p.clone()));
    }
    rows.retain(|r| filter.matches(r, now));
    let mut items: Vec<(&CertRow, &Finding)> = rows
        .iter()
        .flat_map(|r| r.findings.iter().map(move |f| (r, f)))
        .filter(|(_, f)| f.applies(now) && (a.all || f.is_open(now)))
        .collect();
    items.sort_by(|x, y| {
        (x.1.severity, &x.1.rule, x.0.display_name()).cmp(&(
            y.1.severity,
            &y.1.rule,
            y.0.display_name(),
        ))
    });
    let open_errors = items
        .iter()
        .filter(|(_, f)| f.severity == Severity::Error && f.is_open(now))
        .count();
    let noncompliant = rows.iter().filter(|r| !r.is_compliant(now)).count();
    let code = if open_errors > 0 {
        super::exit::FAILED
    } else {
        super::exit::OK
    };
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = json!({
            "policy_version": version,
            "evaluated_at": crate::clock::rfc3339(now),
            "certificates": rows.len(),
            "noncompliant": noncompliant,
            "open_errors": open_errors,
            "findings": items.iter().map(|(r, f)| json!({
                "certificate_id": r.id,
                "fingerprint_sha256": r.fingerprint_sha256,
                "name": r.display_name(),
                "owner": r.owner,
                "authority": r.authority,
                "profile": f.profile,
                "rule": f.rule,
                "severity": f.severity,
                "message": f.message,
                "value": f.value,
                "policy_version": f.policy_version,
                "open": f.is_open(now),
                "exception": f.exception,
            })).collect::<Vec<_>>(),
        });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
        return Ok(code);
    }
    let columns = [
        Column::new("SEV", 0, 4),
        Column::new("RULE", 0, 10),
        Column::new("ID", 3, 3),
        Column::new("CERTIFICATE", 0, 12),
        Column::new("OWNER", 2, 6),
        Column::new("VALUE", 1, 8),
        Column::new("MESSAGE", 4, 12),
    ];
    let cells: Vec<Vec<String>> = items
        .iter()
        .map(|(r, f)| {
            let mut msg = f.message.clone();
            if let Some(t) = exception_text(f, now) {
                msg = format!("{msg} [{t}]");
            }
            vec![
                f.severity.as_str().to_string(),
                f.rule.to_string(),
                r.id.to_string(),
                r.display_name().to_string(),
                r.owner.clone().unwrap_or_else(|| "-".into()),
                f.value.clone().unwrap_or_else(|| "-".into()),
                msg,
            ]
        })
        .collect();
    if !cells.is_empty() {
        print_table(&mut out, &columns, &cells, terminal_width())
            .map_err(|e| CliError::failed(e.to_string()))?;
    }
    let _ = writeln!(
        out,
        "policy {}: {} certificates, {} non-compliant, {} open error findings",
        version.as_deref().map(short).unwrap_or("(none loaded)"),
        rows.len(),
        noncompliant,
        open_errors
    );
    Ok(code)
}

fn assign(a: AssignArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = current_actor();
    if a.from_rules {
        let n = ops::profiles_from_rules(&mut ctx, &actor)?;
        println!("{n} identities took the profile the assignment rules give them");
        return Ok(super::exit::OK);
    }
    let profile_name = a.profile.unwrap_or_default();
    if let Some(identity) = &a.identity {
        let profile = (profile_name != "none").then_some(profile_name.as_str());
        let s = ops::assign_identity(&mut ctx, &actor, identity, profile)?;
        println!(
            "identity {} now has profile {}; {} certificates non-compliant",
            sanitize(identity),
            profile.unwrap_or("(none)"),
            s.noncompliant
        );
        return Ok(super::exit::OK);
    }
    let rule = MatchRule {
        profile: profile_name,
        authority: a.authority,
        san_suffix: a
            .san_suffix
            .map(|s| s.trim_start_matches('.').to_ascii_lowercase()),
        owner: a.owner,
        environment: a.env,
    };
    let id = ops::add_rule(&mut ctx, &actor, &rule)?;
    println!("assignment rule {id}: {}", sanitize(&describe_rule(&rule)));
    Ok(super::exit::OK)
}

/// `YYYY-MM-DD` (through the end of that day, UTC) or RFC 3339.
pub fn parse_until(s: &str) -> Result<OffsetDateTime, CliError> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(s, &fmt).map_err(|_| {
        CliError::usage(format!(
            "--until {s:?}: expected YYYY-MM-DD or an RFC 3339 time"
        ))
    })?;
    Ok(d.with_hms(23, 59, 59)
        .map_err(|e| CliError::usage(e.to_string()))?
        .assume_utc())
}

fn except(a: ExceptArgs, env: &Env) -> CliResult {
    let mut ctx = env.open()?;
    let actor = current_actor();
    let expires_at = parse_until(&a.until)?;
    let (object_type, object_id) = match (&a.certificate, &a.identity) {
        (Some(c), _) => {
            let read = ctx.store.read();
            let id = resolve_certificate(read, c)?;
            let row = read
                .certificate_row(id)?
                .ok_or_else(|| CliError::failed("certificate vanished"))?;
            (ExceptionObject::Certificate, row.fingerprint_sha256)
        }
        (None, Some(i)) => (ExceptionObject::Identity, i.clone()),
        (None, None) => return Err(CliError::usage("give --certificate or --identity")),
    };
    let e = NewException {
        rule: a.rule,
        object_type,
        object_id,
        reason: a.reason,
        granted_by: actor.name.clone(),
        expires_at,
        request_ref: a.request,
    };
    let id = ops::except(&mut ctx, &actor, &e)?;
    println!(
        "exception {id}: {} on {} {} excepted until {} by {}",
        e.rule,
        e.object_type.as_str(),
        sanitize(&e.object_id),
        e.expires_at.date(),
        sanitize(&e.granted_by)
    );
    Ok(super::exit::OK)
}

fn exceptions(json: bool, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let now = ctx.now();
    let list = ctx.store.read().exceptions()?;
    if json {
        print_json(&list)?;
        return Ok(super::exit::OK);
    }
    let columns = [
        Column::new("ID", 0, 3),
        Column::new("STATE", 0, 7),
        Column::new("RULE", 0, 10),
        Column::new("OBJECT", 1, 12),
        Column::new("UNTIL", 0, 10),
        Column::new("BY", 2, 6),
        Column::new("REASON", 3, 10),
    ];
    let cells: Vec<Vec<String>> = list
        .iter()
        .map(|e| {
            let state = if e.revoked_at.is_some() {
                "revoked"
            } else if e.is_active(now) {
                "active"
            } else {
                "expired"
            };
            vec![
                e.id.to_string(),
                state.into(),
                e.rule.clone(),
                format!("{} {}", e.object_type.as_str(), short(&e.object_id)),
                e.expires_at.date().to_string(),
                e.granted_by.clone(),
                e.reason.clone(),
            ]
        })
        .collect();
    print_rows(&columns, &cells)?;
    Ok(super::exit::OK)
}

fn rules(json: bool) -> CliResult {
    if json {
        let v: Vec<_> = crate::policy::RULES
            .iter()
            .map(|(id, sev, what)| json!({"rule": id, "severity": sev, "meaning": what}))
            .collect();
        print_json(&v)?;
    } else {
        for (id, sev, what) in crate::policy::RULES {
            println!("{id:<22} {:<8} {what}", sev.as_str());
        }
    }
    Ok(super::exit::OK)
}
