-- certdeck schema 1: the inventory and the audit log.
-- Times of certificate validity are unix seconds (INTEGER) so range queries use indexes
-- and the SQL stays portable; times written by certdeck itself are RFC 3339 UTC text.

CREATE TABLE environments (
    name    TEXT PRIMARY KEY,
    is_prod INTEGER NOT NULL
);
INSERT INTO environments (name, is_prod) VALUES ('prod', 1), ('nonprod', 0);

CREATE TABLE owners (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    contact       TEXT,
    business_unit TEXT,
    created_at    TEXT NOT NULL
);

CREATE TABLE authorities (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL CHECK (kind IN ('local', 'acme', 'vault', 'external')),
    environment    TEXT REFERENCES environments (name),
    settings       TEXT NOT NULL DEFAULT '{}',
    credential_ref TEXT,
    created_at     TEXT NOT NULL
);

CREATE TABLE identities (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT NOT NULL UNIQUE,
    owner_id               INTEGER REFERENCES owners (id),
    profile                TEXT,
    authority_id           INTEGER REFERENCES authorities (id),
    environment            TEXT REFERENCES environments (name),
    sans                   TEXT NOT NULL DEFAULT '[]',
    key_type               TEXT,
    targets                TEXT NOT NULL DEFAULT '[]',
    current_certificate_id INTEGER,
    created_at             TEXT NOT NULL
);

CREATE TABLE certificates (
    id                    INTEGER PRIMARY KEY,
    fingerprint_sha256    TEXT NOT NULL UNIQUE,
    der                   BLOB NOT NULL,
    serial                TEXT NOT NULL,
    subject               TEXT NOT NULL,
    subject_cn            TEXT,
    issuer                TEXT NOT NULL,
    issuer_cn             TEXT,
    sans                  TEXT NOT NULL DEFAULT '',   -- newline-joined, for display and free text
    not_before            INTEGER NOT NULL,
    not_after             INTEGER NOT NULL,
    key_algorithm         TEXT NOT NULL,
    key_bits              INTEGER,
    key_curve             TEXT,
    signature_algorithm   TEXT NOT NULL,
    is_ca                 INTEGER NOT NULL,
    self_signed           INTEGER NOT NULL,
    ski                   TEXT,
    aki                   TEXT,
    issuer_certificate_id INTEGER REFERENCES certificates (id),
    owner_id              INTEGER REFERENCES owners (id),
    authority_id          INTEGER REFERENCES authorities (id),
    environment           TEXT REFERENCES environments (name),
    identity_id           INTEGER REFERENCES identities (id),
    status                TEXT NOT NULL DEFAULT 'active'
                          CHECK (status IN ('active', 'superseded', 'revoked', 'expired')),
    source                TEXT NOT NULL,
    first_seen            TEXT NOT NULL
);
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_owner ON certificates (owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX certificates_authority ON certificates (authority_id) WHERE authority_id IS NOT NULL;
CREATE INDEX certificates_identity ON certificates (identity_id) WHERE identity_id IS NOT NULL;
CREATE INDEX certificates_issuer ON certificates (issuer_certificate_id) WHERE issuer_certificate_id IS NOT NULL;
CREATE INDEX certificates_ski ON certificates (ski) WHERE is_ca = 1;
CREATE INDEX certificates_subject ON certificates (subject) WHERE is_ca = 1;
CREATE INDEX certificates_unlinked ON certificates (id) WHERE issuer_certificate_id IS NULL AND self_signed = 0;

-- Every SAN, one row each, so "which certificates cover api.example.com" is an index lookup.
-- Keyed by value first: that is the question asked, and one B-tree per SAN keeps a large
-- import fast (a certificate's own SANs are also in certificates.sans).
CREATE TABLE certificate_sans (
    value          TEXT NOT NULL,
    kind           TEXT NOT NULL,
    certificate_id INTEGER NOT NULL REFERENCES certificates (id),
    PRIMARY KEY (value, kind, certificate_id)
) WITHOUT ROWID;

-- Every place a certificate was seen: a file, an endpoint, stdin, or issued by certdeck.
CREATE TABLE sightings (
    certificate_id INTEGER NOT NULL REFERENCES certificates (id),
    kind           TEXT NOT NULL,
    location       TEXT NOT NULL,
    first_seen     TEXT NOT NULL,
    last_seen      TEXT NOT NULL,
    PRIMARY KEY (certificate_id, kind, location)
) WITHOUT ROWID;

-- Append-only, hash-chained: hash = SHA-256(canonical fields || prev_hash).
CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
    reason      TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    origin      TEXT NOT NULL DEFAULT '{}',
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);
CREATE INDEX audit_log_actor ON audit_log (actor);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: records cannot be changed');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only: records cannot be deleted');
END;
