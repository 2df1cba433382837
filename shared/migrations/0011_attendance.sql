-- Attendance and structured cancellation reasons.
--
-- After its start, the doctor or an admin marks an appointment `attended` or `no_show`. A marked
-- appointment still holds its time: the exclusion constraints now cover every appointment that
-- is not cancelled (one marked attended five minutes in must not let someone book the rest of
-- its half hour).
ALTER TABLE appointments DROP CONSTRAINT appointments_status_check;
ALTER TABLE appointments ADD CONSTRAINT appointments_status_check
    CHECK (status IN ('scheduled', 'attended', 'no_show', 'cancelled'));
ALTER TABLE appointments
    ADD COLUMN attendance_marked_at timestamptz,
    ADD COLUMN attendance_marked_by uuid,
    ADD COLUMN cancel_reason_code   text CHECK (cancel_reason_code IN ('patient', 'clinic', 'illness', 'other')),
    ADD CHECK ((status IN ('attended', 'no_show')) = (attendance_marked_at IS NOT NULL));

ALTER TABLE appointments DROP CONSTRAINT appointments_doctor_no_overlap;
ALTER TABLE appointments DROP CONSTRAINT appointments_patient_no_overlap;
ALTER TABLE appointments ADD CONSTRAINT appointments_doctor_no_overlap EXCLUDE USING gist
    (doctor_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&) WHERE (status <> 'cancelled');
ALTER TABLE appointments ADD CONSTRAINT appointments_patient_no_overlap EXCLUDE USING gist
    (patient_id WITH =, tstzrange(start_time, end_time, '[)') WITH &&) WHERE (status <> 'cancelled');

-- gcp-analytics counts attendances and no-shows per window like cancellations and moves.
ALTER TABLE analytics_results
    ADD COLUMN attended bigint NOT NULL DEFAULT 0 CHECK (attended >= 0),
    ADD COLUMN no_shows bigint NOT NULL DEFAULT 0 CHECK (no_shows >= 0);
