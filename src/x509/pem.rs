//! Splits a file into what it holds: PEM blocks of any label (certificates, chains,
//! keys, CRLs, parameters) or one DER object. Written by hand rather than with a PEM
//! crate because an import must keep going past a broken block and say where it was
//! (block number and line), and must recognise key blocks it will refuse to store.

use base64::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// `CERTIFICATE`, `X509 CERTIFICATE`, a DER certificate.
    Certificate,
    /// OpenSSL `TRUSTED CERTIFICATE`: a certificate followed by trust settings.
    TrustedCertificate,
    /// Any private key, encrypted or not. Never stored.
    PrivateKey,
    /// CRLs, requests, parameters, public keys: skipped, counted.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// 1-based position of the block in its file.
    pub number: usize,
    /// 1-based line of the BEGIN marker (1 for DER input).
    pub line: usize,
    pub label: String,
    pub kind: BlockKind,
    /// Decoded bytes, or why they could not be decoded.
    pub der: Result<Vec<u8>, String>,
}

fn kind_of(label: &str) -> BlockKind {
    match label {
        "CERTIFICATE" | "X509 CERTIFICATE" => BlockKind::Certificate,
        "TRUSTED CERTIFICATE" => BlockKind::TrustedCertificate,
        l if l.contains("PRIVATE KEY") => BlockKind::PrivateKey,
        _ => BlockKind::Other,
    }
}

/// What a file holds.
#[derive(Debug)]
pub enum Contents {
    Pem(Vec<Block>),
    /// Not PEM text: the bytes are taken as one DER object.
    Der(Vec<u8>),
    Empty,
}

/// Classifies and splits `data`. Text with no BEGIN marker that is not DER is returned
/// as `Der` too: the caller's DER parse then reports it as not a certificate.
pub fn read_blocks(data: &[u8]) -> Contents {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return Contents::Empty;
    }
    // PEM is text containing a BEGIN line; anything else is taken as DER.
    if memfind(data, b"-----BEGIN ").is_none() {
        return Contents::Der(data.to_vec());
    }
    Contents::Pem(pem_blocks(data))
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One PEM block located in its file, not decoded yet: an import decodes certificate
/// bodies on worker threads and never decodes key bodies at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// 1-based position of the block in its file.
    pub number: usize,
    /// 1-based line of the BEGIN marker.
    pub line: usize,
    pub label: String,
    pub kind: BlockKind,
    /// Byte range of the body (between the BEGIN and END lines), or why the block is
    /// broken (no END line, mismatched END).
    pub body: Result<std::ops::Range<usize>, String>,
}

/// Locates every PEM block of `data` (which must hold a BEGIN line; see [`read_blocks`]).
pub fn scan(data: &[u8]) -> Vec<Span> {
    let mut spans = Vec::new();
    // (line, label, body start)
    let mut current: Option<(usize, String, usize)> = None;
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < data.len() {
        line_no += 1;
        let end = data[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| pos + i)
            .unwrap_or(data.len());
        let raw = &data[pos..end];
        let line_start = pos;
        pos = end + 1;
        // Only lines starting with a dash can be markers: skip the rest cheaply.
        let trimmed = trim_ascii(raw);
        if trimmed.first() != Some(&b'-') {
            continue;
        }
        let Ok(line) = std::str::from_utf8(trimmed) else {
            continue;
        };
        if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|r| r.strip_suffix("-----"))
        {
            if let Some((l, label_prev, _)) = current.take() {
                spans.push(span(
                    spans.len() + 1,
                    l,
                    &label_prev,
                    Err("no END line before the next BEGIN".into()),
                ));
            }
            current = Some((line_no, label.to_string(), pos.min(data.len())));
            continue;
        }
        if let Some(label) = line
            .strip_prefix("-----END ")
            .and_then(|r| r.strip_suffix("-----"))
        {
            // A stray END line with no open block is text between blocks.
            if let Some((l, begin_label, start)) = current.take() {
                let body = if begin_label != label {
                    Err(format!("END {label} does not match BEGIN {begin_label}"))
                } else {
                    Ok(start..line_start)
                };
                spans.push(span(spans.len() + 1, l, &begin_label, body));
            }
        }
    }
    if let Some((l, label, _)) = current.take() {
        spans.push(span(
            spans.len() + 1,
            l,
            &label,
            Err("truncated: no END line".into()),
        ));
    }
    spans
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map(|i| i + 1)
        .unwrap_or(start);
    &b[start..end.max(start)]
}

fn span(
    number: usize,
    line: usize,
    label: &str,
    body: Result<std::ops::Range<usize>, String>,
) -> Span {
    Span {
        number,
        line,
        label: label.to_string(),
        kind: kind_of(label),
        body,
    }
}

/// Decodes a block body: base64 with line breaks, after any RFC 1421 headers
/// (`Proc-Type`, `DEK-Info`) that legacy encrypted keys carry.
pub fn decode_body(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut text: Vec<u8> = Vec::with_capacity(body.len());
    let mut in_headers = true;
    for line in body.split(|b| *b == b'\n') {
        let line = trim_ascii(line);
        if in_headers && line.contains(&b':') {
            continue;
        }
        in_headers = false;
        text.extend(line.iter().filter(|c| !c.is_ascii_whitespace()));
    }
    base64::engine::general_purpose::STANDARD
        .decode(&text)
        .map_err(|e| format!("invalid base64: {e}"))
}

fn pem_blocks(data: &[u8]) -> Vec<Block> {
    scan(data)
        .into_iter()
        .map(|s| Block {
            number: s.number,
            line: s.line,
            der: s.body.and_then(|r| decode_body(&data[r])),
            label: s.label,
            kind: s.kind,
        })
        .collect()
}

/// PEM text of one block, 64 columns, as OpenSSL writes it.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_mixed_bundles_and_locates_each_block() {
        let text = b"subject=foo\n-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n\
-----BEGIN EC PRIVATE KEY-----\nAAEC\n-----END EC PRIVATE KEY-----\n\
-----BEGIN X509 CRL-----\nAAEC\n-----END X509 CRL-----\n";
        let Contents::Pem(blocks) = read_blocks(text) else {
            panic!("not pem")
        };
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            (blocks[0].number, blocks[0].line, blocks[0].kind),
            (1, 2, BlockKind::Certificate)
        );
        assert_eq!(blocks[0].der, Ok(vec![0, 1, 2]));
        assert_eq!(blocks[1].kind, BlockKind::PrivateKey);
        assert_eq!((blocks[2].kind, blocks[2].line), (BlockKind::Other, 8));
    }

    #[test]
    fn broken_blocks_say_what_is_wrong() {
        let text = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nAAEC\n";
        let Contents::Pem(blocks) = read_blocks(text) else {
            panic!()
        };
        assert!(blocks[0].der.as_ref().unwrap_err().contains("base64"));
        assert!(blocks[1].der.as_ref().unwrap_err().contains("truncated"));
    }

    #[test]
    fn legacy_encrypted_key_headers_are_skipped() {
        let text = b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        let Contents::Pem(blocks) = read_blocks(text) else {
            panic!()
        };
        assert_eq!(blocks[0].kind, BlockKind::PrivateKey);
        assert_eq!(blocks[0].der, Ok(vec![0, 1, 2]));
    }

    #[test]
    fn empty_and_binary_inputs_are_classified() {
        assert!(matches!(read_blocks(b"  \n"), Contents::Empty));
        assert!(matches!(
            read_blocks(&[0x30, 0x03, 1, 2, 3]),
            Contents::Der(_)
        ));
        assert!(matches!(read_blocks(b"hello world"), Contents::Der(_)));
    }
}
