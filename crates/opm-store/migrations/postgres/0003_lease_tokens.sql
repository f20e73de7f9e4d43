-- Lease tokens from a sequence: taking one locks nothing until commit, so
-- grants on different targets do not queue behind each other's commits.
-- It starts after the last token the counter row handed out, so no token
-- ever comes back.
CREATE SEQUENCE lease_tokens;
SELECT setval('lease_tokens', last + 1, false) FROM lease_counter WHERE id = 1;
