// What can be done to one appointment from a list: move it to another free time, cancel it
// with a reason, record whether the patient came, and save it to a calendar (.ics).
import { useState, type FormEvent } from "react";
import {
  ApiError,
  dateTime,
  errorMessage,
  request,
  requestBlob,
  typeLabel,
  type Appointment,
  type CancelReasonCode,
  type Role,
  type Slot,
} from "../api";
import { FreeSlotPicker, slotText } from "../components/slots";
import { Button, Dialog, ErrorBanner, SelectField, TextAreaField } from "../components/ui";
import { useIdempotencyKey } from "../hooks";
import { localDate } from "../time";

const when = (a: Appointment) => dateTime(a.start_time);

/** Short words for a cancellation's `reason_code`, shown in lists. */
export const CANCEL_REASON_LABELS: Record<CancelReasonCode, string> = {
  patient: "Patient cannot come",
  clinic: "Clinic",
  illness: "Illness",
  other: "Other",
};

/** The choices of the cancel dialog, worded for who is cancelling. */
function cancelReasons(role: Role): { value: CancelReasonCode; label: string }[] {
  const self = role === "patient";
  return [
    { value: "patient", label: self ? "I cannot come, or no longer need it" : "The patient cannot come, or no longer needs it" },
    { value: "clinic", label: self ? "The clinic asked me to (doctor unavailable, scheduling error)" : "The clinic: doctor unavailable or a scheduling error" },
    { value: "illness", label: "Illness" },
    { value: "other", label: "Other reason" },
  ];
}

/** The 409s of moving, cancelling and booking, in words. */
export function conflictMessage(err: ApiError): string {
  switch (err.type) {
    case "/problems/patient-busy":
      return "You already have an appointment at that time. Pick another time.";
    case "/problems/already-started":
      return "This appointment has already started, so it can no longer be changed or cancelled.";
    case "/problems/cancelled":
      return "This appointment was cancelled.";
    case "/problems/not-started":
      return "This appointment has not started yet; record attendance once it has.";
    case "/problems/already-marked":
      return "Attendance was already recorded with the other outcome; it cannot be changed.";
    default:
      return "That time is no longer free: someone else just booked it, or it is held for a patient on the waitlist. Pick another time; the free times were refreshed.";
  }
}

/** Saves a Blob as a file through an object URL (the browser's download). */
function saveBlob(blob: Blob, filename: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** "Add to calendar": the appointment's `.ics`, fetched with the bearer token and saved. */
function CalendarButton({ appointment: a, onError }: { appointment: Appointment; onError: (message: string) => void }) {
  const [busy, setBusy] = useState(false);
  async function download() {
    setBusy(true);
    try {
      saveBlob(await requestBlob(`/appointments/${a.appointment_id}.ics`, "text/calendar"), "appointment.ics");
    } catch (e) {
      onError(`Could not get the calendar file: ${errorMessage(e)}`);
    } finally {
      setBusy(false);
    }
  }
  return (
    <Button type="button" variant="secondary" busy={busy} onClick={() => void download()} aria-label={`Add the appointment on ${when(a)} to your calendar`}>
      Add to calendar
    </Button>
  );
}

type Outcome = "attended" | "no_show";

/** "Attended" / "No-show" on a scheduled appointment that has started (doctors and admins). */
function AttendanceButtons({ appointment: a, onDone, onError }: { appointment: Appointment; onDone: (a: Appointment) => void; onError: (message: string) => void }) {
  const [busy, setBusy] = useState<Outcome | null>(null);
  async function mark(outcome: Outcome) {
    const question =
      outcome === "attended"
        ? `Record that the patient came to the appointment on ${when(a)}? It cannot be changed to a no-show later.`
        : `Record that the patient did not come to the appointment on ${when(a)}? It cannot be changed later.`;
    if (!window.confirm(question)) return;
    setBusy(outcome);
    try {
      onDone(await request<Appointment>("POST", `/appointments/${a.appointment_id}/attendance`, { body: { outcome } }));
    } catch (e) {
      onError(e instanceof ApiError && e.status === 409 ? conflictMessage(e) : errorMessage(e));
    } finally {
      setBusy(null);
    }
  }
  return (
    <>
      <Button type="button" busy={busy === "attended"} disabled={!!busy} onClick={() => void mark("attended")} aria-label={`Record the appointment on ${when(a)} as attended`}>
        Attended
      </Button>
      <Button type="button" variant="danger" busy={busy === "no_show"} disabled={!!busy} onClick={() => void mark("no_show")} aria-label={`Record the appointment on ${when(a)} as a no-show`}>
        No-show
      </Button>
    </>
  );
}

/** The buttons of one row: what its status, its start and the role allow. */
export function AppointmentActions({
  appointment: a,
  role,
  now,
  onReschedule,
  onCancel,
  onChanged,
  onError,
}: {
  appointment: Appointment;
  role: Role;
  now: number;
  onReschedule: () => void;
  onCancel: () => void;
  onChanged: (a: Appointment) => void;
  onError: (message: string) => void;
}) {
  if (a.status !== "scheduled") return <>—</>;
  const started = Date.parse(a.start_time) <= now;
  return (
    <span className="inline-flex flex-wrap justify-end gap-2 md:justify-start">
      {!started && (
        <>
          <Button type="button" variant="secondary" onClick={onReschedule} aria-label={`Reschedule appointment on ${when(a)}`}>
            Reschedule
          </Button>
          <Button type="button" variant="danger" onClick={onCancel} aria-label={`Cancel appointment on ${when(a)}`}>
            Cancel
          </Button>
        </>
      )}
      {started && role !== "patient" && <AttendanceButtons appointment={a} onDone={onChanged} onError={onError} />}
      <CalendarButton appointment={a} onError={onError} />
    </span>
  );
}

/** Moves an appointment to another free time of the same doctor and type. */
export function RescheduleDialog({
  appointment: a,
  doctorName,
  onClose,
  onDone,
}: {
  appointment: Appointment;
  doctorName: (id: string) => string;
  onClose: () => void;
  onDone: (moved: Appointment) => void;
}) {
  const [selected, setSelected] = useState<Slot | null>(null);
  const [refreshKey, setRefreshKey] = useState(0);
  const [slotError, setSlotError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const idempotency = useIdempotencyKey();

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!selected) {
      setSlotError("Choose a new time above.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const body = { start_time: selected.start_time };
      const moved = await request<Appointment>("POST", `/appointments/${a.appointment_id}/reschedule`, { body, headers: { "idempotency-key": idempotency.keyFor(body) } });
      onDone(moved);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setError(conflictMessage(err));
        if (err.type !== "/problems/already-started" && err.type !== "/problems/cancelled") setRefreshKey((k) => k + 1);
      } else if (err instanceof ApiError && err.field === "start_time") {
        setError(err.message);
        setRefreshKey((k) => k + 1);
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Reschedule appointment" onClose={onClose}>
      <div className="space-y-4">
        <p className="text-sm text-slate-700">
          {typeLabel(a.appointment_type)} with {doctorName(a.doctor_id)}, now on <strong>{dateTime(a.start_time)}</strong>. Choose a new free time with the same doctor; the
          type of visit stays the same.
        </p>
        <FreeSlotPicker
          source={{ doctorId: a.doctor_id }}
          type={a.appointment_type}
          selected={selected}
          onSelect={(s) => {
            setSelected(s);
            setSlotError(undefined);
          }}
          refreshKey={refreshKey}
          doctorName={doctorName}
          initialDay={localDate(new Date(a.start_time))}
        />
        <form noValidate onSubmit={submit} aria-label="Move the appointment" className="space-y-3 border-t border-slate-200 pt-4">
          <ErrorBanner error={error} />
          <p className="text-sm" aria-live="polite">
            {selected ? (
              <>
                New time: <strong>{slotText(selected)}</strong>
              </>
            ) : (
              "No new time chosen yet."
            )}
          </p>
          {slotError && <p className="text-sm text-red-700">{slotError}</p>}
          <div className="flex flex-wrap gap-2">
            <Button busy={busy}>Move appointment</Button>
            <Button type="button" variant="secondary" onClick={onClose}>
              Keep current time
            </Button>
          </div>
        </form>
      </div>
    </Dialog>
  );
}

/** Cancels an appointment with a structured reason (and optional details). */
export function CancelDialog({
  appointment: a,
  role,
  doctorName,
  onClose,
  onDone,
}: {
  appointment: Appointment;
  role: Role;
  doctorName: (id: string) => string;
  onClose: () => void;
  onDone: (cancelled: Appointment) => void;
}) {
  const [code, setCode] = useState<CancelReasonCode | "">("");
  const [details, setDetails] = useState("");
  const [errors, setErrors] = useState<{ reason_code?: string; reason?: string }>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: typeof errors = {};
    if (!code) v.reason_code = "Choose a reason.";
    if (details.length > 500) v.reason = "Keep the details under 500 characters.";
    setErrors(v);
    if (!code || v.reason) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await request<Appointment>("POST", `/appointments/${a.appointment_id}/cancel`, { body: { reason_code: code, reason: details.trim() || undefined } }));
    } catch (err) {
      if (err instanceof ApiError && (err.field === "reason_code" || err.field === "reason")) setErrors({ [err.field]: err.message });
      setError(err instanceof ApiError && err.status === 409 ? conflictMessage(err) : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Dialog title="Cancel appointment" onClose={onClose}>
      <form noValidate onSubmit={submit} aria-label="Cancel appointment" className="space-y-4">
        <p className="text-sm text-slate-700">
          {typeLabel(a.appointment_type)} with {doctorName(a.doctor_id)} on <strong>{dateTime(a.start_time)}</strong>. The time becomes free for others.
        </p>
        <ErrorBanner error={error} />
        <SelectField label="Reason" value={code} onChange={(e) => setCode(e.target.value as CancelReasonCode | "")} error={errors.reason_code}>
          <option value="">Choose a reason…</option>
          {cancelReasons(role).map((r) => (
            <option key={r.value} value={r.value}>
              {r.label}
            </option>
          ))}
        </SelectField>
        <TextAreaField label="Details (optional)" rows={2} maxLength={500} value={details} onChange={(e) => setDetails(e.target.value)} error={errors.reason} />
        <div className="flex flex-wrap gap-2">
          <Button variant="danger" busy={busy}>
            Cancel appointment
          </Button>
          <Button type="button" variant="secondary" onClick={onClose}>
            Keep appointment
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
