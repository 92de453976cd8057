-- certdeck schema 2: policy as code. Profiles and assignment rules as loaded (the version
-- is the SHA-256 of the policy files), compliance findings as last evaluated, and
-- exceptions (always expiring) that suppress a finding for one rule on one object.

-- Every policy set ever loaded; `current` marks the one in force.
CREATE TABLE policy_versions (
    version       TEXT PRIMARY KEY,
    loaded_at     TEXT NOT NULL,
    loaded_by     TEXT NOT NULL,
    files         TEXT NOT NULL DEFAULT '[]',
    profile_count INTEGER NOT NULL,
    current       INTEGER NOT NULL DEFAULT 0
);

-- The profiles of the current version; `definition` is the validated profile as JSON.
CREATE TABLE profiles (
    name        TEXT PRIMARY KEY,
    version     TEXT NOT NULL REFERENCES policy_versions (version),
    environment TEXT NOT NULL REFERENCES environments (name),
    source      TEXT NOT NULL,
    definition  TEXT NOT NULL
);

-- Rules that attach a profile to certificates without an identity. `origin` = 'file'
-- rules are replaced by each load; 'operator' rules (`policy assign`) are kept.
CREATE TABLE profile_rules (
    id          INTEGER PRIMARY KEY,
    origin      TEXT NOT NULL CHECK (origin IN ('file', 'operator')),
    profile     TEXT NOT NULL,
    authority   TEXT,
    san_suffix  TEXT,
    owner       TEXT,
    environment TEXT REFERENCES environments (name),
    created_at  TEXT NOT NULL
);

-- Extension facts the engine needs and the certificates table does not keep; filled
-- once per certificate from its DER.
CREATE TABLE certificate_usage (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates (id),
    eku            TEXT NOT NULL DEFAULT '',
    key_usage      TEXT NOT NULL DEFAULT ''
);

-- The profile each certificate was last evaluated against, and how it got it.
CREATE TABLE certificate_profiles (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates (id),
    profile        TEXT NOT NULL,
    via            TEXT NOT NULL CHECK (via IN ('identity', 'rule'))
);

-- Findings of the last evaluation (replaced as a whole by each one).
CREATE TABLE findings (
    id             INTEGER PRIMARY KEY,
    certificate_id INTEGER NOT NULL REFERENCES certificates (id),
    rule           TEXT NOT NULL,
    severity       TEXT NOT NULL CHECK (severity IN ('error', 'warning', 'info')),
    message        TEXT NOT NULL,
    value          TEXT,
    profile        TEXT,
    policy_version TEXT,
    -- Time-bound findings (expiry, renewal due) apply only from / until these (unix s).
    applies_from   INTEGER,
    applies_until  INTEGER,
    evaluated_at   TEXT NOT NULL
);
CREATE INDEX findings_certificate ON findings (certificate_id);
CREATE INDEX findings_rule ON findings (rule);

-- An exception suppresses findings of `rule` on one object until `expires_at` (unix
-- seconds); revoked ones suppress nothing. Granting is a workflow of its own: this is
-- the record it produces.
CREATE TABLE exceptions (
    id          INTEGER PRIMARY KEY,
    rule        TEXT NOT NULL,
    object_type TEXT NOT NULL CHECK (object_type IN ('certificate', 'identity')),
    object_id   TEXT NOT NULL,
    reason      TEXT NOT NULL,
    granted_by  TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    request_ref TEXT,
    revoked_at  TEXT,
    revoked_by  TEXT
);
CREATE INDEX exceptions_object ON exceptions (object_type, object_id);
