-- Schema 6: revocation requests, approvals that can be revoked, and the record of an
-- approval being used (a revocation request authorises one revocation).
-- SQLite cannot alter a CHECK constraint, so the request tables are rebuilt. The
-- children are rebuilt with the parent so that dropping the old parent breaks no
-- foreign key (migrations run in a transaction, where `foreign_keys` cannot be turned off).

CREATE TABLE requests_new (
    id                 INTEGER PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('issuance', 'delegation', 'exception',
                           'ca_approval', 'revocation')),
    state              TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'approved', 'denied', 'withdrawn', 'expired',
                           'revoked')),
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
    result             TEXT,
    used_at            TEXT,          -- when the approval was carried out (revocation)
    used_by            TEXT
);
INSERT INTO requests_new (id, kind, state, requester, activity, payload, justification, ticket,
    approvals_required, distinct_roles, responsible_may_approve, created_at, expires_at,
    decided_at, decided_by, decision_comment, result)
SELECT id, kind, state, requester, activity, payload, justification, ticket,
    approvals_required, distinct_roles, responsible_may_approve, created_at, expires_at,
    decided_at, decided_by, decision_comment, result FROM requests;

CREATE TABLE request_reviews_new (
    request_id INTEGER NOT NULL REFERENCES requests_new (id),
    reviewer   TEXT NOT NULL,
    role       TEXT NOT NULL,
    verdict    TEXT NOT NULL CHECK (verdict IN ('approve', 'deny')),
    comment    TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (request_id, reviewer)
) WITHOUT ROWID;
INSERT INTO request_reviews_new SELECT request_id, reviewer, role, verdict, comment, at
    FROM request_reviews;

CREATE TABLE authority_approvals_new (
    authority_id INTEGER NOT NULL REFERENCES authorities (id),
    profile      TEXT NOT NULL,
    approved_by  TEXT NOT NULL,
    approved_at  TEXT NOT NULL,
    request_id   INTEGER REFERENCES requests_new (id),
    PRIMARY KEY (authority_id, profile)
) WITHOUT ROWID;
INSERT INTO authority_approvals_new SELECT authority_id, profile, approved_by, approved_at,
    request_id FROM authority_approvals;

DROP TABLE authority_approvals;
DROP TABLE request_reviews;
DROP TABLE requests;
ALTER TABLE requests_new RENAME TO requests;
ALTER TABLE request_reviews_new RENAME TO request_reviews;
ALTER TABLE authority_approvals_new RENAME TO authority_approvals;
CREATE INDEX requests_state ON requests (state);
CREATE INDEX requests_requester ON requests (requester);
CREATE INDEX requests_kind ON requests (kind, state);
