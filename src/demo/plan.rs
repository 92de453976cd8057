//! The estate's plan: which certificates exist, who owns them, which CA issued them and
//! when they expire. Pure: the seed and the clock in, a list of leaf plans out, so the
//! same inputs always describe the same estate (signing happens afterwards, in
//! [`super::issue`]).

use super::issue::{CaRef, CAS};
use super::material::{keys_of, KeyClass};
use super::org::{Exposure, DOMAIN, TEAMS};
use crate::model::{Environment, ExpiryBand};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use time::{Duration, OffsetDateTime};

/// One leaf certificate to issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeafPlan {
    pub ca: CaRef,
    /// Index into the leaf key pool.
    pub key: usize,
    pub serial: [u8; 16],
    pub common_name: String,
    pub sans: Vec<String>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Index into [`TEAMS`]; `None` for the unowned certificates the demo must show.
    pub team: Option<usize>,
    pub environment: Option<Environment>,
    /// The managed identity this certificate is adopted into.
    pub identity: Option<String>,
}

/// A random stream of its own for each use of the seed, so adding a use never shifts
/// the values another one draws.
pub(crate) fn rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

pub(crate) fn serial(rng: &mut ChaCha8Rng) -> [u8; 16] {
    let mut s: [u8; 16] = rng.random();
    // Positive and of full length, as CAs make them.
    s[0] = (s[0] & 0x7f).max(1);
    s
}

/// Fewer than this many managed identities would leave later features (profiles,
/// renewal jobs) little to show; more would only slow a large estate down.
const MAX_IDENTITIES: usize = 120;

/// Plans `leaves` leaf certificates at `now` for `seed`.
///
/// The first instances are fixed so even a small estate has every case an operator
/// looks for (one per expiry band, a weak key, an unowned certificate, a wildcard and a
/// managed identity with renewal history); after that, chance decides by the seed.
pub(crate) fn plan(seed: u64, now: OffsetDateTime, leaves: usize) -> Vec<LeafPlan> {
    let mut rng = rng(seed, 0);
    let now = now.replace_nanosecond(0).unwrap_or(now);
    let mut out: Vec<LeafPlan> = Vec::with_capacity(leaves);
    let mut names: HashMap<(usize, &str), u32> = HashMap::new();
    let mut wildcards: HashMap<usize, u32> = HashMap::new();
    let total_weight: u32 = TEAMS.iter().map(|t| t.weight).sum();
    let mut identities = 0usize;
    let mut k = 0usize;
    while out.len() < leaves {
        let team_ix = if k < TEAMS.len() {
            k
        } else {
            pick_team(&mut rng, total_weight)
        };
        let team = &TEAMS[team_ix];
        let owned = match k {
            4 => false,
            _ if k < TEAMS.len() => true,
            _ => !rng.random_bool(0.07),
        };
        let environment = match k {
            0 => Environment::Prod,
            1 => Environment::Nonprod,
            _ if rng.random_bool(0.55) => Environment::Prod,
            _ => Environment::Nonprod,
        };
        let weak = k == 3 || (k >= TEAMS.len() && rng.random_bool(0.012));
        let wildcard = !weak && (k == 5 || (k >= TEAMS.len() && rng.random_bool(0.05)));
        let band = match k {
            0 => ExpiryBand::Expired,
            1 => ExpiryBand::Within7Days,
            2 => ExpiryBand::Within30Days,
            3..=6 => ExpiryBand::Ok,
            _ => pick_band(&mut rng),
        };
        let generations = match k {
            6 => 3,
            _ => match rng.random_range(0..100) {
                0..78 => 1,
                78..95 => 2,
                _ => 3,
            },
        };
        let managed =
            owned && identities < MAX_IDENTITIES && (k == 6 || (k > 6 && rng.random_bool(0.055)));
        let ca = pick_ca(&mut rng, team.exposure, environment, weak, wildcard);
        let key = pick_key(&mut rng, ca, weak);

        let env_zone = match environment {
            Environment::Prod => None,
            Environment::Nonprod => Some(["stg", "dev", "qa"][rng.random_range(0..3)]),
        };
        let zone = match env_zone {
            Some(e) => format!("{}.{e}.{DOMAIN}", team.zone),
            None => format!("{}.{DOMAIN}", team.zone),
        };
        let (host, common_name, sans) = if wildcard {
            let n = wildcards.entry(team_ix).or_insert(0);
            *n += 1;
            let cn = format!("*.{zone}");
            (format!("wildcard-{n}"), cn.clone(), vec![cn, zone.clone()])
        } else {
            let service = team.services[rng.random_range(0..team.services.len())];
            let n = names.entry((team_ix, service)).or_insert(0);
            *n += 1;
            let host = match *n {
                1 => service.to_string(),
                n => format!("{service}-{n}"),
            };
            let fqdn = format!("{host}.{zone}");
            let mut sans = vec![fqdn.clone()];
            if team.exposure == Exposure::Internal && rng.random_bool(0.3) {
                sans.push(format!(
                    "{host}.{}.svc.cluster.local",
                    team.zone.replace('.', "-")
                ));
            }
            (host, fqdn, sans)
        };
        let identity = managed.then(|| {
            identities += 1;
            format!(
                "{}-{host}-{}",
                team.zone.replace('.', "-"),
                environment.as_str()
            )
        });

        let lifetime = Duration::days(CAS[ca.0].leaf_lifetime_days);
        let not_after = now + band_offset(&mut rng, band, lifetime);
        let mut windows = vec![(not_after - lifetime, not_after)];
        for _ in 1..generations {
            let (next_start, _) = windows[windows.len() - 1];
            // Renewed some days before expiry, as automation and people both do.
            let overlap = Duration::seconds(rng.random_range(0..lifetime.whole_seconds() / 3));
            let end = next_start + overlap;
            windows.push((end - lifetime, end));
        }
        // Oldest first, so the inventory's ids follow issuance order.
        for (not_before, not_after) in windows.into_iter().rev() {
            if out.len() == leaves {
                break;
            }
            out.push(LeafPlan {
                ca,
                key,
                serial: serial(&mut rng),
                common_name: common_name.clone(),
                sans: sans.clone(),
                not_before,
                not_after,
                team: owned.then_some(team_ix),
                environment: if owned || rng.random_bool(0.5) {
                    Some(environment)
                } else {
                    None
                },
                identity: identity.clone(),
            });
        }
        k += 1;
    }
    out
}

fn pick_team(rng: &mut ChaCha8Rng, total_weight: u32) -> usize {
    let mut x = rng.random_range(0..total_weight);
    for (i, t) in TEAMS.iter().enumerate() {
        if x < t.weight {
            return i;
        }
        x -= t.weight;
    }
    TEAMS.len() - 1
}

fn pick_band(rng: &mut ChaCha8Rng) -> ExpiryBand {
    match rng.random_range(0..100) {
        0..4 => ExpiryBand::Expired,
        4..8 => ExpiryBand::Within7Days,
        8..17 => ExpiryBand::Within30Days,
        _ => ExpiryBand::Ok,
    }
}

/// Time from `now` to the end of validity, inside `band`, for a certificate of
/// `lifetime` that is already valid.
fn band_offset(rng: &mut ChaCha8Rng, band: ExpiryBand, lifetime: Duration) -> Duration {
    const HOUR: i64 = 3_600;
    const DAY: i64 = 86_400;
    let secs = match band {
        ExpiryBand::Expired => -rng.random_range(HOUR..120 * DAY),
        ExpiryBand::Within7Days => rng.random_range(HOUR..7 * DAY),
        ExpiryBand::Within30Days => rng.random_range(7 * DAY + HOUR..30 * DAY),
        ExpiryBand::Ok => rng.random_range(30 * DAY + HOUR..lifetime.whole_seconds() - HOUR),
    };
    Duration::seconds(secs)
}

fn weighted<T: Copy>(rng: &mut ChaCha8Rng, choices: &[(T, u32)]) -> T {
    let total: u32 = choices.iter().map(|c| c.1).sum();
    let mut x = rng.random_range(0..total);
    for &(c, w) in choices {
        if x < w {
            return c;
        }
        x -= w;
    }
    choices[choices.len() - 1].0
}

/// Which CA a team would use for this certificate.
fn pick_ca(
    rng: &mut ChaCha8Rng,
    exposure: Exposure,
    environment: Environment,
    weak: bool,
    wildcard: bool,
) -> CaRef {
    use super::issue::{ACME_E5, ACME_E6, ACME_R10, ACME_R11, ENTERPRISE_01, LOCAL_INT, VAULT_INT};
    #[derive(Clone, Copy)]
    enum Source {
        Acme,
        Vault,
        Enterprise,
        Local,
    }
    if weak {
        return ENTERPRISE_01;
    }
    let prod = environment == Environment::Prod;
    let source = match (exposure, prod) {
        (Exposure::Public, true) => weighted(
            rng,
            &[
                (Source::Acme, 80),
                (Source::Vault, 10),
                (Source::Enterprise, 10),
            ],
        ),
        (Exposure::Public, false) => weighted(rng, &[(Source::Acme, 40), (Source::Local, 60)]),
        (Exposure::Internal, true) => weighted(
            rng,
            &[
                (Source::Vault, 75),
                (Source::Acme, 15),
                (Source::Enterprise, 10),
            ],
        ),
        (Exposure::Internal, false) => weighted(rng, &[(Source::Vault, 60), (Source::Local, 40)]),
        (Exposure::Corporate, true) => {
            weighted(rng, &[(Source::Enterprise, 85), (Source::Acme, 15)])
        }
        (Exposure::Corporate, false) => {
            weighted(rng, &[(Source::Enterprise, 50), (Source::Local, 50)])
        }
    };
    // Wildcards come from the public CA or the enterprise CA, never from workload PKI.
    let source = match (source, wildcard, exposure) {
        (Source::Vault | Source::Local, true, Exposure::Corporate) => Source::Enterprise,
        (Source::Vault | Source::Local, true, _) => Source::Acme,
        (s, _, _) => s,
    };
    match source {
        Source::Acme => weighted(
            rng,
            &[(ACME_R10, 15), (ACME_R11, 35), (ACME_E5, 20), (ACME_E6, 30)],
        ),
        Source::Vault => VAULT_INT,
        Source::Enterprise => ENTERPRISE_01,
        Source::Local => LOCAL_INT,
    }
}

/// A key from the pool of a kind the CA would certify.
fn pick_key(rng: &mut ChaCha8Rng, ca: CaRef, weak: bool) -> usize {
    use super::issue::{ACME_E5, ACME_E6, ACME_R10, ACME_R11, ENTERPRISE_01, LOCAL_INT};
    let class = if weak {
        KeyClass::RsaWeak
    } else if ca == ACME_R10 || ca == ACME_R11 {
        weighted(rng, &[(KeyClass::Rsa2048, 90), (KeyClass::RsaLarge, 10)])
    } else if ca == ACME_E5 || ca == ACME_E6 {
        KeyClass::Ec
    } else if ca == ENTERPRISE_01 {
        weighted(rng, &[(KeyClass::Rsa2048, 80), (KeyClass::RsaLarge, 20)])
    } else if ca == LOCAL_INT {
        weighted(rng, &[(KeyClass::Ec, 60), (KeyClass::Ed25519, 40)])
    } else {
        weighted(
            rng,
            &[
                (KeyClass::Ec, 70),
                (KeyClass::Ed25519, 15),
                (KeyClass::Rsa2048, 15),
            ],
        )
    };
    let pool = keys_of(class);
    pool[rng.random_range(0..pool.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_same_seed_and_clock_plan_the_same_estate() {
        let now = datetime!(2026-06-01 12:00 UTC);
        assert_eq!(plan(7, now, 300), plan(7, now, 300));
        assert_ne!(plan(7, now, 300), plan(8, now, 300));
    }

    #[test]
    fn a_plan_has_exactly_the_leaves_asked_for_all_valid_from_the_past() {
        let now = datetime!(2026-06-01 12:00 UTC);
        for n in [0, 1, 7, 150, 1000] {
            let p = plan(3, now, n);
            assert_eq!(p.len(), n);
            assert!(p
                .iter()
                .all(|l| l.not_before < now && l.not_before < l.not_after));
        }
    }

    #[test]
    fn serials_are_positive_and_unique() {
        let p = plan(11, datetime!(2026-06-01 12:00 UTC), 2000);
        let mut serials: Vec<_> = p.iter().map(|l| l.serial).collect();
        assert!(serials.iter().all(|s| s[0] & 0x80 == 0 && s[0] != 0));
        serials.sort();
        serials.dedup();
        assert_eq!(serials.len(), 2000);
    }
}
