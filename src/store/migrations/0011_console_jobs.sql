-- certdeck schema 11: the console's :jobs lists the jobs that finished in the last day
-- beside the open ones, and re-reads them every second while a renewal it started runs.
-- Without this index that read scans every job ever run (one per renewal: hundreds of
-- thousands a year at 100k identities); with it, it reads only the few recent ones.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
