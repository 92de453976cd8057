-- certdeck schema 8: one index fewer to maintain per stored certificate. The not_after
-- index of schema 1 is a prefix of certificates_expiry_owner (not_after, owner_id) from
-- schema 5, which answers every not_after range the same way (list --expiring, the
-- console's dashboard); a 100k-certificate import no longer writes it.
DROP INDEX IF EXISTS certificates_not_after;
