-- Doctors' availability as data (shared/src/appointment/availability.rs): weekly hours in the
-- doctor's IANA time zone, one-off exceptions, the appointment types offered, the slot
-- interval, buffers and minimum notice, kept as one validated document per doctor and
-- replaced whole by PUT /doctors/{id}/availability. A doctor without one is not bookable.
CREATE TABLE doctor_availability (
    doctor_id  uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    document   jsonb NOT NULL CHECK (jsonb_typeof(document) = 'object'),
    version    integer NOT NULL DEFAULT 1 CHECK (version > 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid
);

-- Existing doctors keep what they had: their working hours where configured (in the first
-- time zone their rows name), otherwise Monday to Friday 09:00-17:00 UTC, which an admin or
-- the doctor adjusts; every appointment type, 15-minute slots, no buffer or notice. Before
-- this, a doctor without working hours was bookable at any hour of any day.
INSERT INTO doctor_availability (doctor_id, document)
SELECT u.id, jsonb_build_object(
    'time_zone', coalesce((SELECT min(w.time_zone) FROM doctor_working_hours w WHERE w.doctor_id = u.id), 'UTC'),
    'weekly_hours', coalesce(
        (SELECT jsonb_agg(jsonb_build_object(
                    'weekday', w.weekday,
                    'start', to_char(w.starts, 'HH24:MI'),
                    'end', to_char(w.ends, 'HH24:MI')) ORDER BY w.weekday, w.starts)
         FROM doctor_working_hours w WHERE w.doctor_id = u.id),
        (SELECT jsonb_agg(jsonb_build_object('weekday', d, 'start', '09:00', 'end', '17:00') ORDER BY d)
         FROM generate_series(1, 5) d)),
    'exceptions', '[]'::jsonb,
    'appointment_types', '["consultation", "follow_up", "lab_review"]'::jsonb,
    'slot_interval_minutes', 15,
    'buffer_minutes', 0,
    'minimum_notice_minutes', 0)
FROM users u
WHERE u.role = 'doctor';

DROP TABLE doctor_working_hours;
