-- The waitlist, its offers (holds), patients' notification preferences, and the record of
-- messages sent (shared/src/appointment/waitlist.rs, notify.rs).

-- A patient waiting for a time with one doctor, or with any doctor of a specialty, between two
-- instants. Offered in the order they joined.
CREATE TABLE waitlist_entries (
    id               uuid PRIMARY KEY,
    patient_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    doctor_id        uuid REFERENCES users (id) ON DELETE CASCADE,
    specialty        text CHECK (specialty IS NULL OR length(specialty) BETWEEN 1 AND 100),
    appointment_type text NOT NULL CHECK (appointment_type IN ('consultation', 'follow_up', 'lab_review')),
    range_from       timestamptz NOT NULL,
    range_to         timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'offered', 'booked', 'left')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((doctor_id IS NULL) <> (specialty IS NULL)),
    CHECK (range_to > range_from)
);
-- A freed time looks for waiting entries of its type whose range still contains it: ended
-- ranges (which stay `waiting`) are passed over by range_to, not scanned.
CREATE INDEX waitlist_entries_waiting_idx ON waitlist_entries (appointment_type, range_to, created_at)
    WHERE status = 'waiting';
CREATE INDEX waitlist_entries_patient_idx ON waitlist_entries (patient_id, created_at, id);

-- A time freed by a cancellation or a move, keyed by the event that freed it: a second
-- delivery of that event finds it here and offers nothing more.
CREATE TABLE waitlist_freed_slots (
    event_id         uuid PRIMARY KEY,
    doctor_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    appointment_type text NOT NULL,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- One freed time offered to one waiting patient. While `open` and unexpired it holds the time:
-- nobody else can book it (appointment/service.rs checks under the doctor's lock), and the
-- slot search leaves it out. One open offer per freed time; each entry is offered a freed time
-- at most once, so an expired or declined offer moves down the list.
CREATE TABLE waitlist_offers (
    id               uuid PRIMARY KEY,
    freed_slot       uuid NOT NULL REFERENCES waitlist_freed_slots (event_id) ON DELETE CASCADE,
    entry_id         uuid NOT NULL REFERENCES waitlist_entries (id) ON DELETE CASCADE,
    patient_id       uuid NOT NULL,
    doctor_id        uuid NOT NULL,
    appointment_type text NOT NULL,
    start_time       timestamptz NOT NULL,
    end_time         timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'declined', 'expired', 'withdrawn')),
    appointment_id   uuid,
    created_at       timestamptz NOT NULL DEFAULT now(),
    closed_at        timestamptz,
    -- When the offer's e-mail went out (NULL: the sweep sends it).
    notified_at      timestamptz,
    UNIQUE (freed_slot, entry_id),
    CHECK ((status = 'open') = (closed_at IS NULL))
);
CREATE UNIQUE INDEX waitlist_offers_one_open_idx ON waitlist_offers (freed_slot) WHERE status = 'open';
CREATE UNIQUE INDEX waitlist_offers_entry_open_idx ON waitlist_offers (entry_id) WHERE status = 'open';
CREATE INDEX waitlist_offers_holds_idx ON waitlist_offers (doctor_id, start_time) WHERE status = 'open';
CREATE INDEX waitlist_offers_expiry_idx ON waitlist_offers (expires_at) WHERE status = 'open';

-- Per patient and channel: whether CareFlow may send confirmations and reminders. Without a
-- row, e-mail is on (the address was verified at registration and the messages concern the
-- patient's own bookings); a patient turns it off in the portal.
CREATE TABLE notification_preferences (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email      boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Each message once: by what it is about (an appointment or an offer), its kind and the
-- appointment's revision (a move makes new reminders; a redelivered event or a schedule fired
-- twice sends nothing more). Claimed in the transaction that sends.
CREATE TABLE notifications_sent (
    subject_id uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('booked', 'rescheduled', 'cancelled', 'reminder_24h', 'reminder_2h', 'waitlist_offer')),
    revision   integer NOT NULL,
    channel    text NOT NULL DEFAULT 'email',
    -- skipped: the patient had opted out (kept, so opting in later does not send stale mail);
    -- failed: SES refused this message for good (e.g. an unverified recipient in the sandbox).
    outcome    text NOT NULL CHECK (outcome IN ('sent', 'skipped', 'failed')),
    sent_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subject_id, kind, revision)
);
