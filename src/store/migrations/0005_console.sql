-- certdeck schema 5: covering indexes for the console's dashboard, so its figures come
-- from small index scans instead of reading every certificate row (DER included): the
-- first frame on a 100k-certificate inventory stays well under 200 ms (benches/tui.rs).

-- Expiring soon, by owner / by authority (else issuer CN).
CREATE INDEX certificates_expiry_owner ON certificates (not_after, owner_id);
CREATE INDEX certificates_expiry_authority ON certificates (not_after, authority_id, issuer_cn);
-- Weak crypto: key algorithm, size and signature algorithm without touching the rows.
CREATE INDEX certificates_crypto ON certificates (key_algorithm, key_bits, signature_algorithm);
