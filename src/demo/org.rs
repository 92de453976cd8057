//! The fictional organisation the demo estate belongs to: Northwind Traders, its teams
//! (owners with contacts and business units), what they run, and the CAs it uses.

use crate::model::AuthorityKind;

/// The registered domain every demo name lives under (`.example` is reserved, RFC 2606).
pub(crate) const DOMAIN: &str = "northwind.example";

/// Where a team's services are exposed, which decides the CAs they use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exposure {
    /// Internet-facing: ACME in prod.
    Public,
    /// Service-to-service: the Vault PKI.
    Internal,
    /// Corporate systems: the enterprise CA.
    Corporate,
}

pub(crate) struct Team {
    pub name: &'static str,
    pub contact: &'static str,
    pub business_unit: &'static str,
    /// DNS label(s) of the team's zone under [`DOMAIN`].
    pub zone: &'static str,
    pub services: &'static [&'static str],
    pub exposure: Exposure,
    /// Relative share of the estate.
    pub weight: u32,
}

pub(crate) const TEAMS: &[Team] = &[
    Team {
        name: "payments-platform",
        contact: "payments-oncall@northwind.example",
        business_unit: "Payments",
        zone: "payments",
        services: &[
            "api",
            "gateway",
            "ledger",
            "fraud-score",
            "settlement",
            "webhooks",
        ],
        exposure: Exposure::Public,
        weight: 12,
    },
    Team {
        name: "checkout-web",
        contact: "checkout-team@northwind.example",
        business_unit: "Digital Commerce",
        zone: "shop",
        services: &["www", "checkout", "cart", "static", "images"],
        exposure: Exposure::Public,
        weight: 10,
    },
    Team {
        name: "identity-access",
        contact: "iam@northwind.example",
        business_unit: "Security",
        zone: "id",
        services: &["login", "sso", "oauth", "mfa", "directory"],
        exposure: Exposure::Public,
        weight: 7,
    },
    Team {
        name: "security-pki",
        contact: "pki@northwind.example",
        business_unit: "Security",
        zone: "pki",
        services: &["ocsp", "crl", "acme-proxy", "vault", "hsm-gw"],
        exposure: Exposure::Internal,
        weight: 3,
    },
    Team {
        name: "data-platform",
        contact: "data-eng@northwind.example",
        business_unit: "Data & Analytics",
        zone: "data",
        services: &["kafka", "spark", "warehouse", "airflow", "trino"],
        exposure: Exposure::Internal,
        weight: 10,
    },
    Team {
        name: "observability",
        contact: "sre-observability@northwind.example",
        business_unit: "Platform Engineering",
        zone: "obs",
        services: &["grafana", "prometheus", "loki", "tempo", "alertmanager"],
        exposure: Exposure::Internal,
        weight: 8,
    },
    Team {
        name: "edge-network",
        contact: "netops@northwind.example",
        business_unit: "Infrastructure",
        zone: "edge",
        services: &["lb", "cdn-origin", "vpn", "dns", "waf"],
        exposure: Exposure::Public,
        weight: 8,
    },
    Team {
        name: "corporate-it",
        contact: "it-servicedesk@northwind.example",
        business_unit: "Corporate IT",
        zone: "corp",
        services: &["intranet", "wiki", "mail", "jira", "print"],
        exposure: Exposure::Corporate,
        weight: 9,
    },
    Team {
        name: "hr-systems",
        contact: "hr-tech@northwind.example",
        business_unit: "People",
        zone: "hr.corp",
        services: &["workday-sso", "payroll", "recruiting", "benefits"],
        exposure: Exposure::Corporate,
        weight: 4,
    },
    Team {
        name: "finance-erp",
        contact: "finance-apps@northwind.example",
        business_unit: "Finance",
        zone: "fin.corp",
        services: &["erp", "invoicing", "treasury", "expenses"],
        exposure: Exposure::Corporate,
        weight: 5,
    },
    Team {
        name: "mobile-backend",
        contact: "mobile-api@northwind.example",
        business_unit: "Digital Commerce",
        zone: "m",
        services: &["api", "push", "config", "graphql"],
        exposure: Exposure::Public,
        weight: 7,
    },
    Team {
        name: "search-relevance",
        contact: "search@northwind.example",
        business_unit: "Digital Commerce",
        zone: "search",
        services: &["query", "indexer", "suggest"],
        exposure: Exposure::Internal,
        weight: 4,
    },
    Team {
        name: "logistics",
        contact: "logistics-eng@northwind.example",
        business_unit: "Supply Chain",
        zone: "logistics",
        services: &["tracking", "routing", "warehouse-api", "carrier-gw"],
        exposure: Exposure::Internal,
        weight: 6,
    },
    Team {
        name: "devtools-ci",
        contact: "devex@northwind.example",
        business_unit: "Platform Engineering",
        zone: "dev",
        services: &["ci", "artifacts", "registry", "git", "sonar"],
        exposure: Exposure::Internal,
        weight: 6,
    },
    Team {
        name: "customer-support",
        contact: "support-tools@northwind.example",
        business_unit: "Customer Operations",
        zone: "support",
        services: &["helpdesk", "chat", "kb", "voice"],
        exposure: Exposure::Corporate,
        weight: 4,
    },
    Team {
        name: "marketing-web",
        contact: "web-marketing@northwind.example",
        business_unit: "Marketing",
        zone: "www",
        services: &["blog", "campaigns", "newsroom", "careers"],
        exposure: Exposure::Public,
        weight: 5,
    },
];

/// The team that owns the CAs and, in the legacy estate, the SHA-1 leftovers.
pub(crate) const PKI_TEAM: &str = "security-pki";
pub(crate) const LEGACY_TEAM: &str = "corporate-it";

/// One CA source, as registered with `authority add`.
pub(crate) struct AuthoritySpec {
    pub name: &'static str,
    pub kind: AuthorityKind,
    pub settings: fn() -> serde_json::Value,
    pub credential_ref: Option<&'static str>,
}

pub(crate) const ACME: usize = 0;
pub(crate) const VAULT: usize = 1;
pub(crate) const ENTERPRISE: usize = 2;
pub(crate) const LOCAL: usize = 3;
pub(crate) const LEGACY: usize = 4;

pub(crate) const AUTHORITIES: &[AuthoritySpec] = &[
    AuthoritySpec {
        name: "ACME Demo",
        kind: AuthorityKind::Acme,
        settings: || {
            serde_json::json!({
                "directory": "https://acme.demo.invalid/directory",
                "note": "demo: issuer names modelled on a public ACME CA"
            })
        },
        credential_ref: Some("file:/etc/certdeck/acme-account.key"),
    },
    AuthoritySpec {
        name: "Vault PKI",
        kind: AuthorityKind::Vault,
        settings: || {
            serde_json::json!({
                "address": "https://vault.pki.northwind.example:8200",
                "mount": "pki_int",
                "role": "services"
            })
        },
        credential_ref: Some("env:VAULT_TOKEN"),
    },
    AuthoritySpec {
        name: "Northwind Enterprise CA",
        kind: AuthorityKind::External,
        settings: || {
            serde_json::json!({
                "product": "Active Directory Certificate Services",
                "template": "NorthwindWebServer",
                "crl": "http://pki.northwind.example/crl/issuing-ca-01.crl"
            })
        },
        credential_ref: None,
    },
    AuthoritySpec {
        name: "certdeck Local CA",
        kind: AuthorityKind::Local,
        settings: || serde_json::json!({"use": "development and test"}),
        credential_ref: Some("file:/var/lib/certdeck/local-ca.key"),
    },
    AuthoritySpec {
        name: "Northwind Legacy CA",
        kind: AuthorityKind::External,
        settings: || serde_json::json!({"note": "decommissioning: SHA-1, no new issuance"}),
        credential_ref: None,
    },
];
