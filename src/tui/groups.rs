//! Which tree node each certificate falls under, for every grouping the inventory offers,
//! computed once when the inventory loads (off the input path). A `/` filter then counts
//! the tree with one array increment per matching row instead of hashing a string, and
//! narrowing the table to a node compares two integers.

use crate::model::CertRow;

/// How the inventory tree groups certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    Owners,
    Authorities,
    Environments,
    /// The profile the compliance engine evaluates the certificate against: its
    /// identity's, else the first matching assignment rule's.
    Profiles,
}

impl Grouping {
    pub const ALL: [Grouping; 4] = [
        Grouping::Owners,
        Grouping::Authorities,
        Grouping::Environments,
        Grouping::Profiles,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Grouping::Owners => "Owners",
            Grouping::Authorities => "CAs",
            Grouping::Environments => "Environments",
            Grouping::Profiles => "Profiles",
        }
    }

    /// The grouping `o` moves to.
    pub fn next(self) -> Grouping {
        match self {
            Grouping::Owners => Grouping::Authorities,
            Grouping::Authorities => Grouping::Environments,
            Grouping::Environments => Grouping::Profiles,
            Grouping::Profiles => Grouping::Owners,
        }
    }

    /// The group a row belongs to (`None` = no owner / CA / environment / profile).
    pub fn key(self, r: &CertRow) -> Option<&str> {
        match self {
            Grouping::Owners => r.owner.as_deref(),
            Grouping::Authorities => r.authority.as_deref().or(r.issuer_cn.as_deref()),
            Grouping::Environments => r.environment.map(|e| e.as_str()),
            Grouping::Profiles => r.profile.as_deref(),
        }
    }

    /// The nameless group's label; it is a finding, so the tree lists it first.
    pub fn none_label(self) -> &'static str {
        match self {
            Grouping::Owners => "(unowned)",
            Grouping::Authorities => "(unknown CA)",
            Grouping::Environments => "(no env)",
            Grouping::Profiles => "(no profile)",
        }
    }

    fn slot(self) -> usize {
        match self {
            Grouping::Owners => 0,
            Grouping::Authorities => 1,
            Grouping::Environments => 2,
            Grouping::Profiles => 3,
        }
    }
}

/// The groups of one grouping: their names in tree order (the nameless group first, then
/// case-insensitive alphabetical), and each row's position in that list.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub names: Vec<Option<String>>,
    /// Same index as the inventory's rows.
    pub of_row: Vec<u32>,
}

impl Groups {
    fn build(rows: &[CertRow], grouping: Grouping) -> Groups {
        let mut ids: std::collections::HashMap<Option<&str>, u32> =
            std::collections::HashMap::new();
        let mut first: Vec<u32> = Vec::with_capacity(rows.len());
        for r in rows {
            let n = ids.len() as u32;
            first.push(*ids.entry(grouping.key(r)).or_insert(n));
        }
        let mut seen: Vec<(Option<&str>, u32)> = ids.into_iter().collect();
        seen.sort_by(|(a, _), (b, _)| tree_order(*a, *b));
        let mut remap = vec![0u32; seen.len()];
        for (pos, (_, id)) in seen.iter().enumerate() {
            remap[*id as usize] = pos as u32;
        }
        Groups {
            names: seen.iter().map(|(k, _)| k.map(str::to_string)).collect(),
            of_row: first.into_iter().map(|id| remap[id as usize]).collect(),
        }
    }
}

/// The nameless group first, then names case-insensitively, ties by exact name.
fn tree_order(a: Option<&str>, b: Option<&str>) -> std::cmp::Ordering {
    match (a, b) {
        (None, None) => std::cmp::Ordering::Equal,
        (None, _) => std::cmp::Ordering::Less,
        (_, None) => std::cmp::Ordering::Greater,
        (Some(x), Some(y)) => x.to_lowercase().cmp(&y.to_lowercase()).then(x.cmp(y)),
    }
}

/// Per-row facts the inventory view needs on every filter, precomputed at load.
#[derive(Debug, Clone, Default)]
pub struct RowIndex {
    by: [Groups; 4],
    /// Each row's not_after in Unix nanoseconds: the expiring count compares integers.
    pub not_after: Vec<i128>,
}

impl RowIndex {
    pub fn build(rows: &[CertRow]) -> RowIndex {
        RowIndex {
            by: Grouping::ALL.map(|g| Groups::build(rows, g)),
            not_after: rows
                .iter()
                .map(|r| r.not_after.unix_timestamp_nanos())
                .collect(),
        }
    }

    pub fn groups(&self, g: Grouping) -> &Groups {
        &self.by[g.slot()]
    }

    /// Whether the index was built for `n` rows (a default one is empty).
    pub fn covers(&self, n: usize) -> bool {
        self.not_after.len() == n && self.by.iter().all(|g| g.of_row.len() == n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(owner: Option<&str>, profile: Option<&str>) -> CertRow {
        use time::macros::datetime;
        CertRow {
            id: 1,
            fingerprint_sha256: "ab".into(),
            serial: "01".into(),
            subject: "CN=x".into(),
            subject_cn: Some("x".into()),
            issuer: "CN=CA".into(),
            issuer_cn: Some("CA".into()),
            sans: vec![],
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: datetime!(2027-01-01 0:00 UTC),
            key_algorithm: "ecdsa".into(),
            key_bits: Some(256),
            signature_algorithm: "ecdsa-with-SHA256".into(),
            is_ca: false,
            owner: owner.map(str::to_string),
            authority: None,
            environment: None,
            identity: None,
            status: crate::model::CertStatus::Active,
            profile: profile.map(str::to_string),
            findings: vec![],
        }
    }

    #[test]
    fn groups_are_numbered_in_tree_order_with_the_nameless_group_first() {
        let rows = vec![
            row(Some("web"), Some("public-tls")),
            row(None, None),
            row(Some("Payments"), Some("internal")),
            row(Some("web"), None),
            row(Some("api"), Some("public-tls")),
        ];
        let idx = RowIndex::build(&rows);
        assert!(idx.covers(5));
        let owners = idx.groups(Grouping::Owners);
        assert_eq!(
            owners.names,
            vec![
                None,
                Some("api".into()),
                Some("Payments".into()),
                Some("web".into())
            ]
        );
        assert_eq!(owners.of_row, vec![3, 0, 2, 3, 1]);
        let profiles = idx.groups(Grouping::Profiles);
        assert_eq!(
            profiles.names,
            vec![None, Some("internal".into()), Some("public-tls".into())]
        );
        for (i, r) in rows.iter().enumerate() {
            for g in Grouping::ALL {
                let gs = idx.groups(g);
                assert_eq!(gs.names[gs.of_row[i] as usize].as_deref(), g.key(r));
            }
        }
    }
}
