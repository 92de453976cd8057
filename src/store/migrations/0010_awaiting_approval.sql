-- certdeck schema 10: a job the issuance gate holds until a reviewer approves is
-- `awaiting_approval`, not `policy_denied`. Before this version the gate recorded such a
-- hold as `policy_denied`, so an approval's release could not tell it from a real denial
-- and status, `jobs` and the console showed a waiting identity as failing.
--
-- Only rows the old gate wrote for an approval hold are reclassified: stopped at
-- `planned`, `policy_denied`, and a message in the gate's own words for a hold ("profile
-- P wants N approval(s) by R before issuing NAME: ..." or, earlier, "... before
-- issuance: open an issuance request"). Genuine denials never read like that: the policy
-- gate's reasons start with their code ("san.suffix: ..."), and the other denials name
-- a key type, a profile not loaded or a CA's refusal. The message keeps its text, under
-- the new condition's prefix. Finished jobs and the audit log are history: unchanged.
UPDATE jobs
   SET diagnosis = 'awaiting_approval',
       message = 'awaiting issuance approval: ' || message
 WHERE state = 'failed'
   AND diagnosis = 'policy_denied'
   AND failed_step = 'planned'
   AND message LIKE 'profile % wants % approval(s) by % before issu%';
