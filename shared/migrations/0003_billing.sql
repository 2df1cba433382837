-- Billing: fee schedule, invoices with gap-free yearly numbers, and the consumer's bookkeeping.

-- Price per appointment type and length, in integer minor units of an ISO 4217 currency.
CREATE TABLE fee_schedule (
    appointment_type text NOT NULL,
    duration_minutes integer NOT NULL CHECK (duration_minutes > 0),
    currency         char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    amount_minor     bigint NOT NULL CHECK (amount_minor >= 0),
    description      text NOT NULL,
    PRIMARY KEY (appointment_type, duration_minutes)
);

INSERT INTO fee_schedule (appointment_type, duration_minutes, currency, amount_minor, description) VALUES
    ('consultation', 30, 'USD', 12000, 'Consultation (30 min)'),
    ('follow_up',    15, 'USD',  6000, 'Follow-up visit (15 min)'),
    ('lab_review',   20, 'USD',  8000, 'Lab results review (20 min)');

-- One counter per year. Taking a number updates the year's row inside the invoice's own
-- transaction: concurrent invoices queue on the row lock, and a rollback returns the number, so
-- the sequence has no gaps (a PostgreSQL SEQUENCE would).
CREATE TABLE invoice_numbers (
    year        integer PRIMARY KEY,
    last_number bigint NOT NULL
);

CREATE TABLE invoices (
    id              uuid PRIMARY KEY,
    number          text NOT NULL UNIQUE,
    appointment_id  uuid NOT NULL UNIQUE,
    patient_id      uuid NOT NULL,
    doctor_id       uuid NOT NULL,
    status          text NOT NULL CHECK (status IN ('open', 'paid', 'void')),
    currency        char(3) NOT NULL,
    subtotal_minor  bigint NOT NULL CHECK (subtotal_minor >= 0),
    tax_minor       bigint NOT NULL CHECK (tax_minor >= 0),
    amount_due      bigint NOT NULL CHECK (amount_due = subtotal_minor + tax_minor),
    line_items      jsonb NOT NULL,
    issued_at       timestamptz NOT NULL,
    due_date        date NOT NULL,
    paid_at         timestamptz,
    -- What the admin gave as the reason or reference when marking it paid.
    paid_note       text CHECK (length(paid_note) <= 500),
    voided_at       timestamptz,
    source_event_id uuid NOT NULL,
    CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    CHECK ((status = 'void') = (voided_at IS NOT NULL))
);

CREATE INDEX invoices_patient_idx ON invoices (patient_id, issued_at, id);
CREATE INDEX invoices_doctor_idx ON invoices (doctor_id, issued_at, id);
CREATE INDEX invoices_issued_idx ON invoices (issued_at, id);

-- Every event the billing consumer applied, written in the same transaction as its effect:
-- a redelivered event finds its id here and changes nothing.
CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    event_type   text NOT NULL,
    outcome      text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
);

-- Cancellations seen, so that a cancel arriving before its create leaves no open invoice.
CREATE TABLE cancelled_appointments (
    appointment_id uuid PRIMARY KEY,
    event_id       uuid NOT NULL,
    cancelled_at   timestamptz NOT NULL DEFAULT now()
);

-- Records that can never be applied (undecodable, unknown type or version, invalid): kept with
-- the reason and the raw bytes for a person to look at, so they do not block their partition.
CREATE TABLE failed_events (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    record_key  bytea,
    payload     bytea,
    reason      text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, "offset")
);
