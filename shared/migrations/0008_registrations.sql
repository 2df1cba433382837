-- Self-registration that does not tell a stranger which e-mail addresses have accounts.
-- POST /auth/register answers the same whether or not the address is taken: for a new address
-- it keeps the request here and mails a link; for a taken one it mails the owner a notice. The
-- account is created only by the link together with the password chosen at registration
-- (POST /auth/verify-email), so whoever registers someone else's address can neither
-- complete it nor have the owner complete it with the stranger's password.
CREATE TABLE pending_registrations (
    token_hash    bytea PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    full_name     text NOT NULL,
    expires_at    timestamptz NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_registrations_email_idx ON pending_registrations (email);
CREATE INDEX pending_registrations_expires_idx ON pending_registrations (expires_at);

-- Addresses stored before e-mails were normalised to NFC (login and registration compare the
-- NFC form): bring them to it, unless that form is taken already by another account (two
-- accounts that differ only in normalisation), which is left for an operator to merge.
UPDATE users u SET email = normalize(u.email, NFC)
WHERE u.email IS NOT NFC NORMALIZED
  AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = normalize(u.email, NFC))
  AND (SELECT count(*) FROM users o WHERE normalize(o.email, NFC) = normalize(u.email, NFC)) = 1;
