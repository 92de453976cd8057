//! The estate file: owners, authorities and identities (with their deployment targets)
//! declared in TOML. `apply` compares the file with the inventory and changes only what
//! differs, so applying the same file twice changes nothing; `export-config` writes the
//! inventory back in the same format. Pure: parsing, validation, and the plan.

use crate::deploy::TargetSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estate {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner: Vec<OwnerSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authority: Vec<AuthoritySpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity: Vec<IdentitySpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_unit: Option<String>,
}

/// An authority. Every field besides name, kind, environment and credential is a
/// non-secret connector setting, kept as the authority's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthoritySpec {
    pub name: String,
    /// local | acme | vault
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// Reference to the CA key (local), account key (acme) or token (vault).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    // --- local
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crl: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Reference to the root key of a generated hierarchy (default: beside the issuing
    /// key, `NAME-root.key`); only read when the hierarchy is generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_credential: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_days: Option<i64>,
    // --- acme
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http01_listen: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http01_webroot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns01_hook: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns01_propagation_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_kid: Option<String>,
    /// Reference to the EAB HMAC key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eab_hmac: Option<String>,
    // --- vault
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `sign` (default: CSR, key generated here) or `issue` (Vault generates the key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    // --- planner
    /// Orders this account may place per 3 hours (default 300).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders_per_3h: Option<i64>,
    /// Certificates per registered domain per 7 days (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certs_per_domain_per_week: Option<i64>,
    /// Certificates for one exact name set per 7 days (default 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates_per_week: Option<i64>,
}

const AUTHORITY_IDENTITY_FIELDS: [&str; 4] = ["name", "kind", "environment", "credential"];

impl AuthoritySpec {
    /// The connector settings as stored (JSON object of the non-identity fields).
    pub fn settings(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("serializable");
        if let Value::Object(m) = &mut v {
            for k in AUTHORITY_IDENTITY_FIELDS {
                m.remove(k);
            }
        }
        v
    }

    /// Rebuilds a spec from what the store keeps.
    pub fn from_stored(a: &crate::model::Authority) -> Result<AuthoritySpec, String> {
        let mut m = match &a.settings {
            Value::Object(m) => m.clone(),
            _ => serde_json::Map::new(),
        };
        m.insert("name".into(), Value::String(a.name.clone()));
        m.insert("kind".into(), Value::String(a.kind.as_str().into()));
        if let Some(e) = a.environment {
            m.insert("environment".into(), Value::String(e.as_str().into()));
        }
        if let Some(c) = &a.credential_ref {
            m.insert("credential".into(), Value::String(c.clone()));
        }
        serde_json::from_value(Value::Object(m))
            .map_err(|e| format!("authority {}: stored settings: {e}", a.name))
    }

    fn validate(&self) -> Result<(), String> {
        let kind: crate::model::AuthorityKind = self.kind.parse()?;
        let only = |field: &str, v: bool, kinds: &str| {
            if v && !kinds.split(',').any(|k| k == kind.as_str()) {
                Err(format!("{field}: only for {kinds} authorities"))
            } else {
                Ok(())
            }
        };
        only("ca_cert", self.ca_cert.is_some(), "local")?;
        only("crl", self.crl.is_some(), "local")?;
        only("root_credential", self.root_credential.is_some(), "local")?;
        only("directory", self.directory.is_some(), "acme")?;
        only("challenge", self.challenge.is_some(), "acme")?;
        only("http01_listen", self.http01_listen.is_some(), "acme")?;
        only("http01_webroot", self.http01_webroot.is_some(), "acme")?;
        only("dns01_hook", self.dns01_hook.is_some(), "acme")?;
        only("eab_kid", self.eab_kid.is_some(), "acme")?;
        only("url", self.url.is_some(), "vault")?;
        only("role", self.role.is_some(), "vault")?;
        if let Some(e) = &self.environment {
            e.parse::<crate::model::Environment>()
                .map_err(|m| format!("environment: {m}"))?;
        }
        if let Some(c) = &self.credential {
            super::credential::validate(c).map_err(|m| format!("credential: {m}"))?;
        }
        if let Some(c) = &self.eab_hmac {
            super::credential::validate(c).map_err(|m| format!("eab_hmac: {m}"))?;
        }
        match kind {
            crate::model::AuthorityKind::Local => {
                if self.ca_cert.is_none() {
                    return Err("ca_cert: a local authority needs the CA certificate path".into());
                }
                if self.credential.is_none() {
                    return Err("credential: a local authority needs its key reference".into());
                }
            }
            crate::model::AuthorityKind::Acme => {
                if self.directory.is_none() {
                    return Err("directory: an acme authority needs the directory URL".into());
                }
                match self.challenge.as_deref().unwrap_or("http-01") {
                    "http-01" | "dns-01" => {}
                    other => {
                        return Err(format!("challenge: {other:?} (expected http-01 or dns-01)"))
                    }
                }
                if self.challenge.as_deref() == Some("dns-01") && self.dns01_hook.is_none() {
                    return Err("dns01_hook: dns-01 needs the hook that sets TXT records".into());
                }
            }
            crate::model::AuthorityKind::Vault => {
                if self.url.is_none() || self.role.is_none() {
                    return Err("url, role: a vault authority needs both".into());
                }
            }
            crate::model::AuthorityKind::External => {}
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySpec {
    pub name: String,
    pub owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub authority: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_authority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub sans: Vec<String>,
    #[serde(default = "default_key")]
    pub key: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target: Vec<TargetSpec>,
}

fn default_key() -> String {
    "ecdsa-p256".into()
}

/// A bad estate file: which file, where, which field, what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct EstateError {
    pub path: String,
    pub message: String,
}

impl Estate {
    pub fn load(path: &Path) -> Result<Estate, EstateError> {
        let text = std::fs::read_to_string(path).map_err(|e| EstateError {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Estate::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Estate, EstateError> {
        let err = |message: String| EstateError {
            path: path.display().to_string(),
            message,
        };
        let estate: Estate =
            toml::from_str(text).map_err(|e| err(crate::config::located_toml_error(text, &e)))?;
        estate.validate().map_err(|m| {
            // Point at the declaration the message is about.
            let line = m
                .split_once(' ')
                .and_then(|(_, rest)| rest.split(':').next())
                .and_then(|name| {
                    text.lines()
                        .position(|l| l.contains(&format!("\"{name}\"")) && l.contains("name"))
                })
                .map(|l| format!("line {}: ", l + 1))
                .unwrap_or_default();
            err(format!("{line}{m}"))
        })?;
        Ok(estate)
    }

    /// Checks names, kinds, references and every target. Messages start with
    /// `<kind> <name>: <field>:`.
    pub fn validate(&self) -> Result<(), String> {
        let mut seen = std::collections::HashSet::new();
        for o in &self.owner {
            if !seen.insert(("owner", o.name.as_str())) {
                return Err(format!("owner {}: declared twice", o.name));
            }
        }
        for a in &self.authority {
            if !seen.insert(("authority", a.name.as_str())) {
                return Err(format!("authority {}: declared twice", a.name));
            }
            a.validate()
                .map_err(|m| format!("authority {}: {m}", a.name))?;
        }
        for i in &self.identity {
            let e = |m: String| format!("identity {}: {m}", i.name);
            if !seen.insert(("identity", i.name.as_str())) {
                return Err(e("declared twice".into()));
            }
            if i.sans.is_empty() {
                return Err(e("sans: at least one name is needed".into()));
            }
            for s in &i.sans {
                if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(e(format!(
                        "sans: {:?} is not a host name",
                        crate::sanitize::sanitize(s)
                    )));
                }
            }
            i.key
                .parse::<super::KeyType>()
                .map_err(|m| e(format!("key: {m}")))?;
            if let Some(env) = &i.environment {
                env.parse::<crate::model::Environment>()
                    .map_err(|m| e(format!("environment: {m}")))?;
            }
            for (n, t) in i.target.iter().enumerate() {
                t.validate()
                    .map_err(|m| e(format!("target {}: {m}", n + 1)))?;
            }
        }
        Ok(())
    }
}

/// What applying a file would do to one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Create,
    /// Field-by-field differences, as `field: old → new`.
    Update {
        fields: Vec<String>,
    },
    Unchanged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanItem {
    pub object_type: &'static str,
    pub name: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
}

impl Plan {
    /// Compares `want` (the file) with `have` (the inventory, as an estate).
    pub fn between(want: &Estate, have: &Estate) -> Plan {
        let mut items = Vec::new();
        diff_all(&mut items, "owner", &want.owner, &have.owner, |o| &o.name);
        diff_all(
            &mut items,
            "authority",
            &want.authority,
            &have.authority,
            |a| &a.name,
        );
        diff_all(
            &mut items,
            "identity",
            &want.identity,
            &have.identity,
            |i| &i.name,
        );
        Plan { items }
    }

    pub fn changes(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.change != Change::Unchanged)
    }

    pub fn is_empty(&self) -> bool {
        self.changes().next().is_none()
    }

    /// The plan as a diff an operator reads: `+` create, `~` update, `=` unchanged.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for it in &self.items {
            let name = crate::sanitize::sanitize(&it.name);
            match &it.change {
                Change::Create => out.push_str(&format!("+ {} {name}\n", it.object_type)),
                Change::Update { fields } => {
                    out.push_str(&format!("~ {} {name}\n", it.object_type));
                    for f in fields {
                        out.push_str(&format!("    {}\n", crate::sanitize::sanitize(f)));
                    }
                }
                Change::Unchanged => out.push_str(&format!("= {} {name}\n", it.object_type)),
            }
        }
        let n = self.changes().count();
        out.push_str(&match n {
            0 => "no changes\n".to_string(),
            1 => "1 change\n".to_string(),
            n => format!("{n} changes\n"),
        });
        out
    }
}

fn diff_all<T: Serialize>(
    items: &mut Vec<PlanItem>,
    object_type: &'static str,
    want: &[T],
    have: &[T],
    name: impl Fn(&T) -> &String,
) {
    let have: BTreeMap<&String, &T> = have.iter().map(|h| (name(h), h)).collect();
    for w in want {
        let change = match have.get(name(w)) {
            None => Change::Create,
            Some(h) => {
                let fields = diff_fields(
                    &serde_json::to_value(h).expect("serializable"),
                    &serde_json::to_value(w).expect("serializable"),
                );
                if fields.is_empty() {
                    Change::Unchanged
                } else {
                    Change::Update { fields }
                }
            }
        };
        items.push(PlanItem {
            object_type,
            name: name(w).clone(),
            change,
        });
    }
}

fn diff_fields(old: &Value, new: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|k| {
            let a = o.get(k).unwrap_or(&Value::Null);
            let b = n.get(k).unwrap_or(&Value::Null);
            (a != b).then(|| format!("{k}: {} → {}", short(a), short(b)))
        })
        .collect()
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(79).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[owner]]
name = "edge-team"
contact = "edge-oncall@example.com"

[[authority]]
name = "pebble"
kind = "acme"
directory = "https://127.0.0.1:14000/dir"
ca_bundle = "/etc/certdeck/pebble-root.pem"
challenge = "http-01"
http01_listen = "127.0.0.1:5002"

[[identity]]
name = "www"
owner = "edge-team"
profile = "public-tls"
authority = "pebble"
environment = "prod"
sans = ["www.example.test"]
key = "ecdsa-p256"

[[identity.target]]
kind = "file"
cert = "/etc/nginx/tls/www.fullchain.pem"
key = "/etc/nginx/tls/www.key"
reload = "nginx -s reload"
verify = "127.0.0.1:8443"
"#;

    #[test]
    fn the_documented_example_parses() {
        let e = Estate::parse(EXAMPLE, Path::new("estate.toml")).unwrap();
        assert_eq!(
            e.identity[0].target[0].verify.as_deref(),
            Some("127.0.0.1:8443")
        );
        assert_eq!(e.authority[0].settings()["http01_listen"], "127.0.0.1:5002");
    }

    #[test]
    fn a_typo_is_an_error_naming_file_line_and_field() {
        let bad = EXAMPLE.replace("sans = [", "sanz = [");
        let err = Estate::parse(&bad, Path::new("estate.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("estate.toml") && err.contains("line") && err.contains("sanz"),
            "{err}"
        );
    }

    #[test]
    fn semantic_errors_name_the_object_and_field() {
        let bad = EXAMPLE.replace("key = \"ecdsa-p256\"", "key = \"dsa\"");
        let err = Estate::parse(&bad, Path::new("e.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("identity www: key:"), "{err}");
        let bad = EXAMPLE.replace("challenge = \"http-01\"", "challenge = \"tls-alpn-01\"");
        let err = Estate::parse(&bad, Path::new("e.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("authority pebble: challenge"), "{err}");
    }

    #[test]
    fn the_plan_is_empty_when_file_and_inventory_agree() {
        let e = Estate::parse(EXAMPLE, Path::new("e.toml")).unwrap();
        assert!(Plan::between(&e, &e).is_empty());
        let mut changed = e.clone();
        changed.identity[0].sans.push("web.example.test".into());
        let p = Plan::between(&changed, &e);
        assert_eq!(p.changes().count(), 1);
        assert!(p.render().contains("~ identity www"));
        assert!(p.render().contains("sans:"));
        let p = Plan::between(&e, &Estate::default());
        assert_eq!(p.changes().count(), 3);
    }

    #[test]
    fn authority_settings_round_trip_through_the_store_shape() {
        let e = Estate::parse(EXAMPLE, Path::new("e.toml")).unwrap();
        let a = &e.authority[0];
        let stored = crate::model::Authority {
            id: 1,
            name: a.name.clone(),
            kind: crate::model::AuthorityKind::Acme,
            environment: None,
            settings: a.settings(),
            credential_ref: None,
        };
        assert_eq!(&AuthoritySpec::from_stored(&stored).unwrap(), a);
    }
}
