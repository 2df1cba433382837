-- Users (patients, doctors, admins) and their refresh tokens.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    -- Stored trimmed and lower-cased: e-mail addresses are unique case-insensitively.
    email         text NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    password_hash text NOT NULL,
    full_name     text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    role          text NOT NULL CHECK (role IN ('patient', 'doctor', 'admin')),
    specialty     text CHECK (specialty IS NULL OR role = 'doctor'),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_role_idx ON users (role);

-- Refresh tokens are opaque to clients and stored only as SHA-256. Each login starts a family;
-- a refresh rotates within it; presenting a token that was already rotated revokes the family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    family_id   uuid NOT NULL,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
