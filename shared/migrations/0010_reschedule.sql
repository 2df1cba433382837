-- Rescheduling moves an appointment in place (one UPDATE: the exclusion constraints check the
-- new time against every other appointment, and the old time is free the moment it commits).
-- `revision` counts an appointment's changes and travels in AppointmentRescheduled, so
-- consumers that see two moves out of order keep the later one.
ALTER TABLE appointments
    ADD COLUMN revision       integer NOT NULL DEFAULT 1 CHECK (revision > 0),
    ADD COLUMN rescheduled_at timestamptz,
    ADD COLUMN rescheduled_by uuid;

-- gcp-analytics counts moves per window like bookings and cancellations.
ALTER TABLE analytics_results ADD COLUMN reschedules bigint NOT NULL DEFAULT 0 CHECK (reschedules >= 0);
