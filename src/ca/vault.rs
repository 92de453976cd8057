//! Vault's PKI secrets engine over its HTTP API (reqwest): `sign/:role` with a CSR (the
//! default: the key is generated here and never leaves the host) or `issue/:role` (Vault
//! generates the key; it is written only to the job's staged key file), and `revoke`.
//! The token comes from the authority's credential reference.

use super::{setting, Connector, Issued, OrderRequest, Revocation};
use crate::lifecycle::{credential, Category, Diagnosis};
use crate::model::Authority;
use serde_json::{json, Value};
use std::time::Duration;

pub struct VaultCa {
    name: String,
    url: String,
    mount: String,
    role: String,
    namespace: Option<String>,
    endpoint: String,
    token_ref: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

fn unavailable(a: &str, m: impl std::fmt::Display) -> Diagnosis {
    Diagnosis::new(Category::CaUnavailable, format!("Vault authority {a}: {m}"))
}

impl VaultCa {
    pub fn open(a: &Authority) -> Result<VaultCa, Diagnosis> {
        let name = a.name.clone();
        let url = setting(a, "url")
            .ok_or_else(|| unavailable(&name, "no url"))?
            .trim_end_matches('/')
            .to_string();
        let role = setting(a, "role")
            .ok_or_else(|| unavailable(&name, "no role"))?
            .to_string();
        let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
        if let Some(bundle) = setting(a, "ca_bundle") {
            let pem =
                std::fs::read(bundle).map_err(|e| unavailable(&name, format!("{bundle}: {e}")))?;
            for c in
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unavailable(&name, e))?
            {
                builder = builder.add_root_certificate(c);
            }
        }
        Ok(VaultCa {
            mount: setting(a, "mount")
                .unwrap_or("pki")
                .trim_matches('/')
                .to_string(),
            namespace: setting(a, "namespace").map(str::to_string),
            endpoint: setting(a, "endpoint").unwrap_or("sign").to_string(),
            token_ref: a.credential_ref.clone().ok_or_else(|| {
                Diagnosis::new(
                    Category::Unauthorized,
                    format!("Vault authority {name}: no token reference"),
                )
            })?,
            client: builder.build().map_err(|e| unavailable(&name, e))?,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| unavailable(&name, e))?,
            name,
            url,
            role,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, Diagnosis> {
        let token = credential::resolve(&self.token_ref).map_err(|e| {
            Diagnosis::new(
                Category::Unauthorized,
                format!("Vault authority {}: token: {e}", self.name),
            )
        })?;
        let token = token
            .trimmed()
            .map_err(|e| Diagnosis::new(Category::Unauthorized, e))?
            .to_string();
        let token = zeroize::Zeroizing::new(token);
        let mut req = self
            .client
            .post(format!("{}/v1/{}/{path}", self.url, self.mount))
            .header("X-Vault-Token", token.as_str())
            .json(&body);
        if let Some(ns) = &self.namespace {
            req = req.header("X-Vault-Namespace", ns);
        }
        let rsp = req.send().await.map_err(|e| unavailable(&self.name, e))?;
        let status = rsp.status().as_u16();
        let retry_after = rsp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        let body: Value = rsp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let errors = body
            .get("errors")
            .and_then(|e| e.as_array())
            .map(|e| {
                e.iter()
                    .filter_map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        let category = match status {
            400 => Category::PolicyDenied,
            401 | 403 => Category::Unauthorized,
            429 => Category::RateLimited,
            _ => Category::CaUnavailable,
        };
        Err(Diagnosis::new(
            category,
            format!(
                "Vault authority {}: {path}: HTTP {status}: {errors}",
                self.name
            ),
        )
        .with_retry_after(retry_after))
    }
}

fn pem_csr(der: &[u8]) -> String {
    use base64::Engine;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE REQUEST-----\n");
    for c in b.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(c).expect("ascii"));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE REQUEST-----\n");
    out
}

impl Connector for VaultCa {
    fn issue(
        &self,
        req: &OrderRequest<'_>,
        _record_order: &mut dyn FnMut(&str) -> Result<(), Diagnosis>,
    ) -> Result<Issued, Diagnosis> {
        let (ips, names): (Vec<&String>, Vec<&String>) = req
            .sans
            .iter()
            .partition(|s| s.parse::<std::net::IpAddr>().is_ok());
        let mut body = json!({
            "common_name": req.sans.first().cloned().unwrap_or_default(),
            "alt_names": names.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            "ip_sans": ips.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
            "format": "pem",
        });
        if let Some(v) = req.validity {
            body["ttl"] = json!(format!("{}s", v.whole_seconds()));
        }
        let issue = self.endpoint == "issue";
        if !issue {
            body["csr"] = json!(pem_csr(req.csr_der));
        }
        let path = format!("{}/{}", if issue { "issue" } else { "sign" }, self.role);
        let v = self.runtime.block_on(self.post(&path, body))?;
        let data = v.get("data").cloned().unwrap_or(Value::Null);
        let mut pem = data
            .get("certificate")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_string();
        match data.get("ca_chain").and_then(|c| c.as_array()) {
            Some(chain) => chain.iter().filter_map(|c| c.as_str()).for_each(|c| {
                pem.push('\n');
                pem.push_str(c);
            }),
            None => {
                if let Some(ca) = data.get("issuing_ca").and_then(|c| c.as_str()) {
                    pem.push('\n');
                    pem.push_str(ca);
                }
            }
        }
        let chain = super::local::pem_certificates(pem.as_bytes());
        if chain.is_empty() {
            return Err(unavailable(&self.name, "the response held no certificate"));
        }
        let key_pem = data
            .get("private_key")
            .and_then(|k| k.as_str())
            .filter(|_| issue)
            .map(|k| zeroize::Zeroizing::new(k.to_string()));
        Ok(Issued { chain, key_pem })
    }

    fn revoke(&self, r: &Revocation<'_>) -> Result<(), Diagnosis> {
        let serial = crate::x509::parse_der(r.leaf_der, false)
            .map(|(i, _)| i.serial)
            .map_err(|e| unavailable(&self.name, e))?;
        let colon = serial
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(":");
        self.runtime
            .block_on(self.post("revoke", json!({"serial_number": colon})))
            .map(|_| ())
    }
}
