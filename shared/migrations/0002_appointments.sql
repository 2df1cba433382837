-- Appointments, the transactional outbox, idempotency keys and optional working hours.

-- Lets the exclusion constraints below combine "same doctor" (=) with "overlapping time" (&&).
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE appointments (
    id               uuid PRIMARY KEY,
    patient_id       uuid NOT NULL REFERENCES users (id),
    doctor_id        uuid NOT NULL REFERENCES users (id),
    appointment_type text NOT NULL,
    reason           text,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    created_by       uuid NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at     timestamptz,
    cancelled_by     uuid,
    cancel_reason    text,
    CHECK (end_time > start_time),
    -- The database itself refuses double booking, whatever the concurrency: no two scheduled
    -- appointments of one doctor, or of one patient, overlap. Cancelled ones free the slot.
    CONSTRAINT appointments_doctor_no_overlap EXCLUDE USING gist
        (doctor_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&) WHERE (status = 'scheduled'),
    CONSTRAINT appointments_patient_no_overlap EXCLUDE USING gist
        (patient_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&) WHERE (status = 'scheduled')
);

CREATE INDEX appointments_patient_idx ON appointments (patient_id, start_time, id);
CREATE INDEX appointments_doctor_idx ON appointments (doctor_id, start_time, id);
CREATE INDEX appointments_start_idx ON appointments (start_time, id);

-- Events written in the same transaction as the change they describe; published afterwards by
-- the function itself or, if Kafka was unavailable, by outbox-relay.
CREATE TABLE outbox (
    seq          bigserial PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    topic        text NOT NULL,
    message_key  text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    attempts     integer NOT NULL DEFAULT 0
);

CREATE INDEX outbox_pending_idx ON outbox (seq) WHERE published_at IS NULL;

-- Idempotency-Key handling for appointment creation: the first successful response is kept
-- and returned to retries of the same request.
CREATE TABLE idempotency_keys (
    caller_id       uuid NOT NULL,
    key             text NOT NULL,
    request_hash    bytea NOT NULL,
    response_status integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller_id, key)
);

-- Optional weekly working hours per doctor; a doctor with none configured is bookable any time.
CREATE TABLE doctor_working_hours (
    doctor_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    weekday    smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7), -- ISO: 1 = Monday
    starts     time NOT NULL,
    ends       time NOT NULL,
    time_zone  text NOT NULL DEFAULT 'UTC',
    CHECK (ends > starts),
    PRIMARY KEY (doctor_id, weekday, starts)
);
