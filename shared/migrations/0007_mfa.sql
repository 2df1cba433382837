-- Second factor for staff (doctors and admins): TOTP (RFC 6238) with single-use recovery codes.
--
-- mfa_factors: one per account. `secret` is the 160-bit TOTP key (the database is encrypted at
-- rest; the key is never logged or returned after enrolment). `confirmed_at` stays NULL until a
-- first valid code proves the app holds it; only a confirmed factor lets the account sign in.
-- `last_step` is the last accepted 30-second step: a code is never accepted twice.
CREATE TABLE mfa_factors (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret       bytea NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Ten per confirmed factor, shown once; stored as SHA-256 (each has 60 random bits).
CREATE TABLE mfa_recovery_codes (
    user_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash bytea NOT NULL,
    used_at   timestamptz,
    PRIMARY KEY (user_id, code_hash)
);

-- What a correct password yields for staff instead of tokens: a short-lived, single-use
-- challenge (stored as SHA-256), spent by the first valid code; five wrong codes spend it too.
CREATE TABLE mfa_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    used_at    timestamptz
);
CREATE INDEX mfa_challenges_expires_idx ON mfa_challenges (expires_at);

-- The factors a session rests on (the access token's `amr`), kept across refreshes.
ALTER TABLE refresh_tokens ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';

-- Security events on accounts that are not patient-record accesses (those are in DynamoDB's
-- audit trail): who did what to whose account, when.
CREATE TABLE account_events (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    actor_id   uuid NOT NULL,
    event      text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_events_user_idx ON account_events (user_id, at);
