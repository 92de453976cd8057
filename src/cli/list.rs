use super::output::{days_left_cell, key_cell, print_table, terminal_width, CertJson, Column};
use super::{CliError, CliResult, Env};
use crate::model::{locale_is_utf8, Environment};
use crate::ops::Ctx;
use crate::query::{Filter, SortKey, Term};
use crate::store::RowSelect;
use clap::Args;
use serde::Serializer as _;
use std::io::Write;
use time::Duration;

#[derive(Debug, Default, Args)]
pub struct ListArgs {
    #[arg(long, value_name = "OWNER")]
    pub owner: Option<String>,
    /// Authority name (or issuer CN for certificates with no authority).
    #[arg(long, value_name = "CA")]
    pub authority: Option<String>,
    #[arg(long, value_name = "prod|nonprod")]
    pub env: Option<Environment>,
    /// Certificates still valid now that expire within DAYS (what needs renewing soon).
    /// Expired ones are not included: add --expired to list both.
    #[arg(long, value_name = "DAYS")]
    pub expiring: Option<i64>,
    /// Only expired certificates (with --expiring DAYS: expired, or expiring within DAYS).
    #[arg(long)]
    pub expired: bool,
    /// Only certificates without an owner.
    #[arg(long)]
    pub unowned: bool,
    /// Query words, as in the console's `/` filter (e.g. "ca:vault weak !expired").
    #[arg(long, value_name = "TEXT")]
    pub query: Option<String>,
    /// Sort field (prefix with - for descending): not_after, not_before, cn, owner, authority, env, serial, key, status.
    #[arg(
        long,
        value_name = "FIELD",
        default_value = "not_after",
        allow_hyphen_values = true
    )]
    pub sort: String,
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    #[arg(long)]
    pub csv: bool,
}

impl ListArgs {
    /// The flags as one query, so flags and `--query` share one meaning.
    pub fn filter(&self) -> Result<Filter, CliError> {
        let mut f = match &self.query {
            Some(q) => Filter::parse(q).map_err(|e| CliError::usage(e.to_string()))?,
            None => Filter::default(),
        };
        if let Some(o) = &self.owner {
            f = f.and(Term::Owner(o.clone()));
        }
        if let Some(a) = &self.authority {
            f = f.and(Term::Authority(a.clone()));
        }
        if let Some(e) = self.env {
            f = f.and(Term::Env(e));
        }
        // `--expiring` answers "what must be renewed before it breaks": still valid, due
        // within DAYS (as the console's dashboard counts it). Already broken is
        // `--expired`; both flags together list both.
        match (self.expiring, self.expired) {
            (Some(d), _) if d < 0 => {
                return Err(CliError::usage("--expiring takes a number of days ≥ 0"));
            }
            (Some(d), expired) => {
                if !expired {
                    f = f.and(Term::Not(Box::new(Term::Expired)));
                }
                f = f.and(Term::Expires(crate::query::Cmp::Le, Duration::days(d)));
            }
            (None, true) => f = f.and(Term::Expired),
            (None, false) => {}
        }
        if self.unowned {
            f = f.and(Term::Unowned);
        }
        Ok(f)
    }
}

pub fn run(a: ListArgs, env: &Env) -> CliResult {
    let ctx = env.open()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write_list(&ctx, &a, &mut out, terminal_width())?;
    out.flush().map_err(|e| CliError::failed(e.to_string()))?;
    Ok(super::exit::OK)
}

/// Writes the list `a` asks for (table fitted to `width`, JSON or CSV) and returns how
/// many certificates it held. Shared by the command and the scale bench.
pub fn write_list(
    ctx: &Ctx,
    a: &ListArgs,
    out: &mut impl Write,
    width: Option<usize>,
) -> Result<usize, CliError> {
    let filter = a.filter()?;
    let sort = if a.sort.is_empty() {
        "not_after"
    } else {
        &a.sort
    };
    let (sort, desc) = SortKey::parse(sort).map_err(CliError::usage)?;
    let now = ctx.now();
    let sel = RowSelect {
        not_after_before: filter
            .not_after_upper_bound(now)
            .map(|t| t.unix_timestamp() + 1),
        not_after_after: filter
            .not_after_lower_bound(now)
            .map(|t| t.unix_timestamp() - 1),
    };
    // Rows are judged on their own fields first; findings are read only for the rows
    // that pass (the output shows them), and the words about findings judged after.
    let read = ctx.store.read();
    let started = std::time::Instant::now();
    let mut rows = read.certificate_rows_without_findings(sel)?;
    rows.retain(|r| filter.matches_before_findings(r, now));
    read.attach_findings(&mut rows)?;
    tracing::debug!(
        rows = rows.len(),
        ms = started.elapsed().as_millis() as u64,
        "list: rows and their findings read"
    );
    if filter.needs_findings() {
        rows.retain(|r| filter.matches(r, now));
    }
    sort.sort(&mut rows, desc);
    if a.json {
        // Streamed: one certificate's JSON at a time, never the whole array in memory.
        let mut ser = serde_json::Serializer::pretty(&mut *out);
        ser.collect_seq(rows.iter().map(|r| CertJson::new(r, now)))
            .map_err(|e| CliError::failed(e.to_string()))?;
        writeln!(out).map_err(|e| CliError::failed(e.to_string()))?;
    } else if a.csv {
        let refs: Vec<_> = rows.iter().collect();
        super::output::write_csv(&mut *out, &refs, now)
            .map_err(|e| CliError::failed(e.to_string()))?;
    } else {
        let unicode = locale_is_utf8();
        let columns = [
            Column {
                header: "NAME",
                drop_priority: 0,
                min: 24,
            },
            Column {
                header: "DAYS",
                drop_priority: 0,
                min: 7,
            },
            Column {
                header: "NOT AFTER",
                drop_priority: 5,
                min: 10,
            },
            Column {
                header: "OWNER",
                drop_priority: 2,
                min: 8,
            },
            Column {
                header: "CA",
                drop_priority: 3,
                min: 8,
            },
            Column {
                header: "ENV",
                drop_priority: 4,
                min: 4,
            },
            Column {
                header: "KEY",
                drop_priority: 6,
                min: 6,
            },
            Column {
                header: "SANS",
                drop_priority: 7,
                min: 10,
            },
            Column {
                header: "FINGERPRINT",
                drop_priority: 1,
                min: 12,
            },
        ];
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.display_name().to_string(),
                    days_left_cell(r, now, unicode),
                    r.not_after.date().to_string(),
                    r.owner.clone().unwrap_or_else(|| "-".into()),
                    r.authority
                        .clone()
                        .or(r.issuer_cn.clone())
                        .unwrap_or_else(|| "-".into()),
                    r.environment
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "-".into()),
                    key_cell(r),
                    match r.sans.len() {
                        0 => "-".into(),
                        1 => r.sans[0].clone(),
                        n => format!("{} +{}", r.sans[0], n - 1),
                    },
                    r.fingerprint_sha256[..16].to_string(),
                ]
            })
            .collect();
        print_table(out, &columns, &cells, width).map_err(|e| CliError::failed(e.to_string()))?;
    }
    Ok(rows.len())
}
