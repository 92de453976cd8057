//! Printing for people: aligned tables that fit the terminal, every cell sanitized.

use crate::model::{CertRow, ExpiryBand};
use crate::sanitize::sanitize;
use serde::Serialize;
use std::io::{IsTerminal, Write};
use time::OffsetDateTime;
use unicode_width::UnicodeWidthStr;

/// The width to fit tables to: the terminal's when stdout is one, else `$COLUMNS` when
/// set (as `ps` and `ls` honour it, so `COLUMNS=80 certdeck list > file` is narrow), else
/// `None` (piped output is never cut, so `grep` sees whole values).
pub fn terminal_width() -> Option<usize> {
    let w = if std::io::stdout().is_terminal() {
        ratatui::crossterm::terminal::size()
            .ok()
            .map(|(w, _)| w as usize)
    } else {
        None
    };
    w.or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
        .filter(|w| *w > 20)
}

/// A column: header, and how willing it is to shrink (higher drops first).
pub struct Column {
    pub header: &'static str,
    pub drop_priority: u8,
    pub min: usize,
}

impl Column {
    pub const fn new(header: &'static str, drop_priority: u8, min: usize) -> Column {
        Column {
            header,
            drop_priority,
            min,
        }
    }
}

/// A table for people on stdout, fitted to the terminal.
pub fn print_rows(columns: &[Column], rows: &[Vec<String>]) -> Result<(), super::CliError> {
    print_table(
        &mut std::io::stdout().lock(),
        columns,
        rows,
        terminal_width(),
    )
    .map_err(|e| super::CliError::failed(e.to_string()))
}

/// A value for machines on stdout: exact, unsanitized (JSON escapes control characters).
/// A value that cannot be encoded is an error, never an empty line a script would parse.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<(), super::CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| super::CliError::failed(format!("encoding JSON: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Prints rows aligned. When the table is wider than `width`: over-long cells (one hostile
/// 70-character CN) are cut first, then columns with the highest drop priority go, unless
/// cutting every column to its minimum would already fit; a cut cell ends with `…`.
pub fn print_table(
    out: &mut impl Write,
    columns: &[Column],
    rows: &[Vec<String>],
    width: Option<usize>,
) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| sanitize(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].width())
                .max()
                .unwrap_or(0)
                .max(c.header.len())
        })
        .collect();
    let mut shown: Vec<bool> = vec![true; columns.len()];
    if let Some(w) = width {
        let total = |widths: &[usize], shown: &[bool]| -> usize {
            widths
                .iter()
                .zip(shown)
                .filter(|(_, s)| **s)
                .map(|(w, _)| w + 2)
                .sum::<usize>()
        };
        fit_columns(columns, &mut widths, &mut shown, w, total);
    }
    let line = |vals: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, v) in vals.iter().enumerate() {
            if !shown[i] {
                continue;
            }
            let cell = fit(v, widths[i]);
            s.push_str(&cell);
            s.push_str(&" ".repeat(widths[i].saturating_sub(cell.width()) + 2));
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(columns.iter().map(|c| c.header).collect()))?;
    for r in &cells {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// Beyond this, a cell is cut before any column is dropped.
const COMFORTABLE: usize = 32;

fn fit_columns(
    columns: &[Column],
    widths: &mut [usize],
    shown: &mut [bool],
    w: usize,
    total: impl Fn(&[usize], &[bool]) -> usize,
) {
    let widest = |widths: &[usize], shown: &[bool], above: &dyn Fn(usize) -> usize| {
        widths
            .iter()
            .enumerate()
            .filter(|(i, cur)| shown[*i] && **cur > above(*i))
            .max_by_key(|(_, cur)| **cur)
            .map(|(i, _)| i)
    };
    while total(widths, shown) > w {
        let comfortable = |i: usize| columns[i].min.max(COMFORTABLE);
        if let Some(i) = widest(widths, shown, &comfortable) {
            widths[i] -= 1;
            continue;
        }
        let at_minimum: usize = widths
            .iter()
            .zip(shown.iter())
            .enumerate()
            .filter(|(_, (_, s))| **s)
            .map(|(i, (cur, _))| (*cur).min(columns[i].min) + 2)
            .sum();
        let minimum = |i: usize| columns[i].min;
        if at_minimum <= w {
            if let Some(i) = widest(widths, shown, &minimum) {
                widths[i] -= 1;
                continue;
            }
        }
        let droppable = (0..columns.len())
            .filter(|i| shown[*i] && columns[*i].drop_priority > 0)
            .max_by_key(|i| columns[*i].drop_priority);
        if let Some(i) = droppable {
            shown[i] = false;
            continue;
        }
        // A very narrow terminal: cut below the minimums rather than overflow.
        match widest(widths, shown, &|_| 3) {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
}

fn fit(s: &str, w: usize) -> String {
    if s.width() <= w {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if out.width() + c.to_string().width() + 1 > w {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// The machine-readable shape of a certificate in `list --json` and exports.
#[derive(Debug, Serialize)]
pub struct CertJson<'a> {
    pub id: i64,
    pub fingerprint_sha256: &'a str,
    pub serial: &'a str,
    pub subject: &'a str,
    pub common_name: Option<&'a str>,
    pub issuer: &'a str,
    pub sans: &'a [String],
    pub not_before: String,
    pub not_after: String,
    pub days_left: i64,
    pub key_algorithm: &'a str,
    pub key_bits: Option<u32>,
    pub signature_algorithm: &'a str,
    pub is_ca: bool,
    pub owner: Option<&'a str>,
    pub authority: Option<&'a str>,
    pub environment: Option<&'static str>,
    pub identity: Option<&'a str>,
    pub status: &'static str,
    pub weak: bool,
    pub profile: Option<&'a str>,
    /// No open error finding now.
    pub compliant: bool,
    /// Every finding that applies now, excepted ones included (`open` says which count).
    pub findings: Vec<FindingJson<'a>>,
}

/// A finding as `list --json` and `show --json` print it.
#[derive(Debug, Serialize)]
pub struct FindingJson<'a> {
    pub rule: &'a str,
    pub severity: &'static str,
    pub message: &'a str,
    pub value: Option<&'a str>,
    pub profile: Option<&'a str>,
    pub policy_version: Option<&'a str>,
    pub open: bool,
    pub exception: Option<&'a crate::model::ExceptionNote>,
}

impl<'a> CertJson<'a> {
    pub fn new(r: &'a CertRow, now: OffsetDateTime) -> CertJson<'a> {
        CertJson {
            id: r.id,
            fingerprint_sha256: &r.fingerprint_sha256,
            serial: &r.serial,
            subject: &r.subject,
            common_name: r.subject_cn.as_deref(),
            issuer: &r.issuer,
            sans: &r.sans,
            not_before: crate::clock::rfc3339(r.not_before),
            not_after: crate::clock::rfc3339(r.not_after),
            days_left: r.days_left(now),
            key_algorithm: &r.key_algorithm,
            key_bits: r.key_bits,
            signature_algorithm: &r.signature_algorithm,
            is_ca: r.is_ca,
            owner: r.owner.as_deref(),
            authority: r.authority.as_deref(),
            environment: r.environment.map(|e| e.as_str()),
            identity: r.identity.as_deref(),
            status: r.effective_status(now).as_str(),
            weak: r.is_weak(),
            profile: r.profile.as_deref(),
            compliant: r.is_compliant(now),
            findings: r
                .findings
                .iter()
                .filter(|f| f.applies(now))
                .map(|f| FindingJson {
                    rule: f.rule,
                    severity: f.severity.as_str(),
                    message: &f.message,
                    value: f.value.as_deref(),
                    profile: f.profile.as_deref(),
                    policy_version: f.policy_version.as_deref(),
                    open: f.is_open(now),
                    exception: f.exception.as_deref(),
                })
                .collect(),
        }
    }
}

/// "✓ 120d" / "▲ 12d" / "✗ -3d": days left with a symbol, never colour alone.
pub fn days_left_cell(r: &CertRow, now: OffsetDateTime, unicode: bool) -> String {
    let band = ExpiryBand::of(now, r.not_after);
    format!("{} {}d", band.symbol(unicode), r.days_left(now))
}

/// Key as operators write it: `RSA-2048`, `EC P-256`, `ED25519`.
pub fn key_cell(r: &CertRow) -> String {
    match (r.key_algorithm.as_str(), r.key_bits) {
        ("ecdsa", Some(b)) => format!("EC-{b}"),
        (alg, Some(b)) if alg != "ed25519" => format!("{}-{b}", alg.to_ascii_uppercase()),
        (alg, _) => alg.to_ascii_uppercase(),
    }
}

/// Writes CSV rows of certificates (exact values; CSV quoting keeps them intact).
pub fn write_csv(
    out: impl Write,
    rows: &[&CertRow],
    now: OffsetDateTime,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "id",
        "fingerprint_sha256",
        "serial",
        "subject",
        "common_name",
        "issuer",
        "sans",
        "not_before",
        "not_after",
        "days_left",
        "key_algorithm",
        "key_bits",
        "signature_algorithm",
        "is_ca",
        "owner",
        "authority",
        "environment",
        "identity",
        "status",
    ])?;
    for r in rows {
        let j = CertJson::new(r, now);
        w.write_record([
            j.id.to_string(),
            j.fingerprint_sha256.into(),
            j.serial.into(),
            j.subject.into(),
            j.common_name.unwrap_or("").into(),
            j.issuer.into(),
            j.sans.join(" "),
            j.not_before,
            j.not_after,
            j.days_left.to_string(),
            j.key_algorithm.into(),
            j.key_bits.map(|b| b.to_string()).unwrap_or_default(),
            j.signature_algorithm.into(),
            j.is_ca.to_string(),
            j.owner.unwrap_or("").into(),
            j.authority.unwrap_or("").into(),
            j.environment.unwrap_or("").into(),
            j.identity.unwrap_or("").into(),
            j.status.into(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
