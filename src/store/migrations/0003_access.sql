-- certdeck schema 3: operators and their roles, the RACI matrix as data, service accounts,
-- requests with their reviews, and CA source approvals per profile.
-- Times written by certdeck are RFC 3339 UTC text, like schema 1.

-- People who act through certdeck, named by the OS user of their real uid.
CREATE TABLE operators (
    name       TEXT PRIMARY KEY,
    uid        INTEGER,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);

-- One role held by one operator, optionally narrowed by a scope (JSON:
-- {"owners":[...],"environments":[...],"dns_suffixes":[...]}; an empty list is no limit).
CREATE TABLE role_grants (
    id         INTEGER PRIMARY KEY,
    operator   TEXT NOT NULL REFERENCES operators (name),
    role       TEXT NOT NULL CHECK (role IN ('central-pki', 'platform', 'app-owner', 'compliance', 'read-only')),
    scope      TEXT NOT NULL DEFAULT '{}',
    granted_by TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    request_id INTEGER,
    UNIQUE (operator, role, scope)
);
CREATE INDEX role_grants_operator ON role_grants (operator);

-- The RACI matrix: for each activity and role, the letters R, A, C, I (any combination,
-- written like "R/A"), or '' for none.
CREATE TABLE raci (
    activity TEXT NOT NULL,
    role     TEXT NOT NULL,
    letters  TEXT NOT NULL,
    PRIMARY KEY (activity, role)
) WITHOUT ROWID;
INSERT INTO raci (activity, role, letters) VALUES
    ('define_profiles',      'central-pki', 'R/A'), ('define_profiles',      'platform', 'C'),   ('define_profiles',      'app-owner', 'C'),   ('define_profiles',      'compliance', 'C'),
    ('approve_delegation',   'central-pki', 'R/A'), ('approve_delegation',   'platform', 'C'),   ('approve_delegation',   'app-owner', 'C'),   ('approve_delegation',   'compliance', 'C'),
    ('approve_ca_source',    'central-pki', 'R/A'), ('approve_ca_source',    'platform', 'C'),   ('approve_ca_source',    'app-owner', 'I'),   ('approve_ca_source',    'compliance', 'C'),
    ('implement_deployment', 'central-pki', 'C'),   ('implement_deployment', 'platform', 'R/A'), ('implement_deployment', 'app-owner', 'C'),   ('implement_deployment', 'compliance', 'I'),
    ('renewal_response',     'central-pki', 'C'),   ('renewal_response',     'platform', 'R/A'), ('renewal_response',     'app-owner', 'R'),   ('renewal_response',     'compliance', 'I'),
    ('maintain_inventory',   'central-pki', 'C'),   ('maintain_inventory',   'platform', 'R'),   ('maintain_inventory',   'app-owner', 'R/A'), ('maintain_inventory',   'compliance', 'I'),
    ('audit_evidence',       'central-pki', 'C'),   ('audit_evidence',       'platform', 'I'),   ('audit_evidence',       'app-owner', 'I'),   ('audit_evidence',       'compliance', 'R/A'),
    ('break_glass',          'central-pki', 'R/A'), ('break_glass',          'platform', 'C'),   ('break_glass',          'app-owner', 'C'),   ('break_glass',          'compliance', 'C');

-- Automation identities: exactly one environment each, so prod and non-prod are never the
-- same account. The credential is a reference (env:, file:, exec:), never the secret.
CREATE TABLE service_accounts (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    environment    TEXT NOT NULL REFERENCES environments (name),
    owner_id       INTEGER REFERENCES owners (id),
    os_user        TEXT UNIQUE,
    profiles       TEXT NOT NULL DEFAULT '[]',
    dns_suffixes   TEXT NOT NULL DEFAULT '[]',
    credential_ref TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_by     TEXT NOT NULL,
    rotated_at     TEXT,
    rotate_by      TEXT,
    retire_at      TEXT,
    retired_at     TEXT,
    last_used      TEXT
);

-- Requests: issuance, delegation, policy exception, CA source approval.
CREATE TABLE requests (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('issuance', 'delegation', 'exception', 'ca_approval')),
    state              TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'approved', 'denied', 'withdrawn', 'expired')),
    requester          TEXT NOT NULL,
    activity           TEXT NOT NULL,
    payload            TEXT NOT NULL,
    justification      TEXT NOT NULL,
    ticket             TEXT,
    approvals_required INTEGER NOT NULL,
    distinct_roles     INTEGER NOT NULL,
    responsible_may_approve INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    decided_at         TEXT,
    decided_by         TEXT,
    decision_comment   TEXT,
    result             TEXT
);
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_requester ON requests (requester);

CREATE TABLE request_reviews (
    request_id INTEGER NOT NULL REFERENCES requests (id),
    reviewer   TEXT NOT NULL,
    role       TEXT NOT NULL,
    verdict    TEXT NOT NULL CHECK (verdict IN ('approve', 'deny')),
    comment    TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (request_id, reviewer)
) WITHOUT ROWID;

-- A CA source approved for use with a profile (by an approved ca_approval request).
CREATE TABLE authority_approvals (
    authority_id INTEGER NOT NULL REFERENCES authorities (id),
    profile      TEXT NOT NULL,
    approved_by  TEXT NOT NULL,
    approved_at  TEXT NOT NULL,
    request_id   INTEGER REFERENCES requests (id),
    PRIMARY KEY (authority_id, profile)
) WITHOUT ROWID;
