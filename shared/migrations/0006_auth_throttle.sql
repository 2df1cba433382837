-- Abuse limits on the unauthenticated auth endpoints (login, refresh, registration), kept here so
-- they hold across every Lambda instance. One row per subject: an account (by a hash of its
-- normalised e-mail) or a client address (by a hash of it), so the table holds no e-mail or IP
-- in clear. `failures` counts recent failed attempts (registrations count every attempt);
-- a quiet day starts the count over. `blocked_until` is when the subject may try again.
CREATE TABLE auth_throttle (
    subject       text        PRIMARY KEY,
    failures      integer     NOT NULL,
    blocked_until timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_throttle_updated_idx ON auth_throttle (updated_at);
