-- certdeck schema 9: findings are derived when read, not stored. An evaluation stores
-- what it decides from the whole inventory and the policy's rules, which a certificate's
-- row does not say: its profile (certificate_profiles, as before) and whether a newer
-- certificate renewed it (this table). The findings follow from those, the row, its
-- extension facts and the exceptions by one pure function (policy::compliance::judge), so
-- what is read is what the evaluation made. A 100k-certificate import no longer writes
-- ~400k finding rows, and findings can never lag behind the row they describe.

-- Certificates the last evaluation found renewed (a newer certificate of the same
-- identity, or the same subject CN and SANs, exists): they owe no renewal and their
-- expiry is no finding.
CREATE TABLE renewed_certificates (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates (id)
);

-- The stored findings say which certificates were renewed: an evaluated leaf still in
-- the estate has a cert.expired finding (with its window) unless it was renewed.
-- "Evaluated" is read as "has any finding or a profile": a renewed, owned, profiled and
-- otherwise compliant certificate from before schema 2 is taken as not renewed until the
-- next evaluation (`policy evaluate`, a policy load) — an expiry shown, never one hidden.
-- (Each IN list is built once, as a temporary index: no lookup per certificate.)
INSERT INTO renewed_certificates (certificate_id)
SELECT c.id FROM certificates c
WHERE c.is_ca = 0 AND c.status NOT IN ('superseded', 'revoked')
  AND c.id NOT IN (SELECT certificate_id FROM findings WHERE rule = 'cert.expired')
  AND (c.id IN (SELECT certificate_id FROM findings)
       OR c.id IN (SELECT certificate_id FROM certificate_profiles));

DROP TABLE findings;
