-- certdeck schema 4: the lifecycle engine. Identities and authorities exist since schema 1;
-- this adds what automation needs around them: deployment targets, jobs with their
-- persisted state machine, revocations (for CRLs), authority health (circuit breaker),
-- the issuance ledger that budgets count, and alerts.

-- The desired state an estate file declares beyond schema 1's columns.
ALTER TABLE identities ADD COLUMN fallback_authority_id INTEGER REFERENCES authorities (id);
ALTER TABLE identities ADD COLUMN managed_by TEXT;          -- 'estate' when an estate file owns it
ALTER TABLE identities ADD COLUMN renew_attempts INTEGER NOT NULL DEFAULT 0;

-- Where an identity's certificate and key are deployed; one row per target.
CREATE TABLE identity_targets (
    id          INTEGER PRIMARY KEY,
    identity_id INTEGER NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('file')),
    settings    TEXT NOT NULL DEFAULT '{}',   -- cert, chain, fullchain, key, modes, reload, verify ...
    UNIQUE (identity_id, position)
);

-- One lifecycle run. `state` is where the run is; a failed run keeps `failed_step`, the
-- state it failed in, so a retry resumes there and never orders twice.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    identity_id     INTEGER NOT NULL REFERENCES identities (id),
    authority_id    INTEGER NOT NULL REFERENCES authorities (id),
    reason          TEXT NOT NULL,                  -- first | due | manual | retry
    state           TEXT NOT NULL CHECK (state IN ('planned', 'ordering', 'issued', 'deploying',
                        'deployed', 'verifying', 'verified', 'failed', 'cancelled')),
    failed_step     TEXT,
    diagnosis       TEXT,
    message         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,                        -- unix seconds
    order_ref       TEXT,                           -- the CA's handle on the order (ACME order URL)
    key_staging     TEXT,                           -- path of the pending key file (never its content)
    certificate_id  INTEGER REFERENCES certificates (id),
    actor           TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX jobs_identity ON jobs (identity_id, id);
CREATE INDEX jobs_open ON jobs (state) WHERE state NOT IN ('verified', 'cancelled');

-- Revocations, for the record and for the local CA's CRL.
CREATE TABLE revocations (
    certificate_id INTEGER PRIMARY KEY REFERENCES certificates (id),
    authority_id   INTEGER REFERENCES authorities (id),
    reason         TEXT NOT NULL,
    revoked_at     INTEGER NOT NULL
);

-- Circuit breaker per authority.
CREATE TABLE authority_health (
    authority_id         INTEGER PRIMARY KEY REFERENCES authorities (id),
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    state                TEXT NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    opened_at            INTEGER,
    last_failure         TEXT,
    updated_at           INTEGER NOT NULL
);

-- Every order placed and certificate obtained, for the budgets (per registered domain,
-- per account, duplicates).
CREATE TABLE issuance_ledger (
    id                INTEGER PRIMARY KEY,
    at                INTEGER NOT NULL,
    authority_id      INTEGER NOT NULL REFERENCES authorities (id),
    identity_id       INTEGER NOT NULL REFERENCES identities (id),
    kind              TEXT NOT NULL CHECK (kind IN ('order', 'certificate')),
    registered_domain TEXT,
    san_set           TEXT NOT NULL
);
CREATE INDEX issuance_ledger_at ON issuance_ledger (authority_id, at);

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,            -- failure_rate | circuit_open
    subject     TEXT NOT NULL,
    message     TEXT NOT NULL,
    resolved_at INTEGER
);
