import { useMemo, useState, type FormEvent } from "react";
import {
  APPOINTMENT_TYPES,
  ApiError,
  UUID,
  api,
  dateTime,
  errorMessage,
  request,
  typeLabel,
  type Appointment,
  type Doctor,
  type Page,
  type PatientProfile,
  type Slot,
} from "../api";
import { useAuth } from "../auth";
import { FreeSlotPicker, slotText, type SlotSource } from "../components/slots";
import { Button, Card, ErrorBanner, Notice, PageTitle, ResponsiveTable, SelectField, Spinner, StatusBadge, TextAreaField, TextField } from "../components/ui";
import { useIdempotencyKey, useLoad, useNow } from "../hooks";
import { AppointmentActions, CANCEL_REASON_LABELS, CancelDialog, RescheduleDialog, conflictMessage } from "./appointment-actions";

export function useDoctors() {
  return useLoad(async () => (await api.get<{ items: Doctor[] }>("/doctors")).items, []);
}

/** Doctor ids to names from a loaded list; unknown ids read as "Doctor 1a2b3c4d". */
export function doctorNames(doctors: Doctor[] | null) {
  return (id: string) => doctors?.find((d) => d.doctor_id === id)?.full_name ?? `Doctor ${id.slice(0, 8)}`;
}

/** The specialties of the doctors, each once (compared without regard to case), sorted. */
export function specialtiesOf(doctors: Doctor[]): string[] {
  const seen = new Map<string, string>();
  for (const d of doctors) if (d.specialty.trim() && !seen.has(d.specialty.trim().toLowerCase())) seen.set(d.specialty.trim().toLowerCase(), d.specialty.trim());
  return [...seen.values()].sort((a, b) => a.localeCompare(b));
}

export type WhomMode = "doctor" | "specialty";

/** "One doctor" or "Any doctor of a specialty", then the doctor or the specialty (a doctor id
 *  field when the list of doctors cannot be loaded). Shared by booking and the waitlist. */
export function WhomFields({
  doctors,
  mode,
  onMode,
  doctorId,
  onDoctor,
  specialty,
  onSpecialty,
  errors,
}: {
  doctors: ReturnType<typeof useDoctors>;
  mode: WhomMode;
  onMode: (m: WhomMode) => void;
  doctorId: string;
  onDoctor: (id: string) => void;
  specialty: string;
  onSpecialty: (s: string) => void;
  errors: { doctor_id?: string; specialty?: string };
}) {
  const specialties = useMemo(() => specialtiesOf(doctors.data ?? []), [doctors.data]);
  return (
    <>
      <fieldset className="min-w-0">
        <legend className="text-sm font-medium text-slate-700">Search by</legend>
        <div className="mt-1 flex flex-wrap gap-x-6 gap-y-1 text-sm">
          <label className="flex items-center gap-2">
            <input type="radio" name="whom" className="accent-teal-700" checked={mode === "doctor"} onChange={() => onMode("doctor")} /> One doctor
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="whom" className="accent-teal-700" checked={mode === "specialty"} onChange={() => onMode("specialty")} disabled={!doctors.data} /> Any doctor of a
            specialty
          </label>
        </div>
      </fieldset>
      {doctors.loading && !doctors.data ? (
        <Spinner label="Loading doctors…" />
      ) : mode === "specialty" ? (
        <SelectField label="Specialty" value={specialty} onChange={(e) => onSpecialty(e.target.value)} error={errors.specialty}>
          <option value="">Choose a specialty…</option>
          {specialties.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </SelectField>
      ) : doctors.error ? (
        <>
          <ErrorBanner error={`Could not load the list of doctors: ${doctors.error}`} />
          <TextField label="Doctor ID" value={doctorId} onChange={(e) => onDoctor(e.target.value)} error={errors.doctor_id} hint="Ask the clinic for your doctor's ID." />
        </>
      ) : (
        <SelectField label="Doctor" value={doctorId} onChange={(e) => onDoctor(e.target.value)} error={errors.doctor_id}>
          <option value="">Choose a doctor…</option>
          {doctors.data!.map((d) => (
            <option key={d.doctor_id} value={d.doctor_id}>
              {d.full_name} — {d.specialty}
            </option>
          ))}
        </SelectField>
      )}
    </>
  );
}

export function TypeField({ value, onChange, error }: { value: string; onChange: (t: string) => void; error?: string }) {
  return (
    <SelectField label="Type of visit" value={value} onChange={(e) => onChange(e.target.value)} error={error}>
      {APPOINTMENT_TYPES.map((t) => (
        <option key={t.value} value={t.value}>
          {t.label}
        </option>
      ))}
    </SelectField>
  );
}

type BookErrors = Partial<Record<"doctor_id" | "specialty" | "appointment_type" | "slot" | "reason", string>>;

export function BookPage() {
  const doctors = useDoctors();
  const doctorName = doctorNames(doctors.data);
  const [mode, setMode] = useState<WhomMode>("doctor");
  const [doctorId, setDoctorId] = useState("");
  const [specialty, setSpecialty] = useState("");
  const [type, setType] = useState("consultation");
  const [selected, setSelected] = useState<Slot | null>(null);
  const [reason, setReason] = useState("");
  const [refreshKey, setRefreshKey] = useState(0);
  const [errors, setErrors] = useState<BookErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [booked, setBooked] = useState<Appointment | null>(null);
  const [busy, setBusy] = useState(false);
  const idempotency = useIdempotencyKey();

  const id = doctorId.trim();
  const source: SlotSource | null = mode === "doctor" ? (UUID.test(id) ? { doctorId: id } : null) : specialty ? { specialty } : null;
  const clear = (k: keyof BookErrors) => setErrors((e) => ({ ...e, [k]: undefined }));
  const refresh = () => setRefreshKey((k) => k + 1);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: BookErrors = {};
    if (mode === "doctor" && !id) v.doctor_id = "Choose a doctor.";
    else if (mode === "doctor" && !UUID.test(id)) v.doctor_id = "Enter the doctor's ID as the clinic gave it.";
    if (mode === "specialty" && !specialty) v.specialty = "Choose a specialty.";
    if (!selected) v.slot = "Choose a free time above.";
    if (reason.length > 500) v.reason = "Keep the reason under 500 characters.";
    setErrors(v);
    if (!selected || Object.values(v).some(Boolean)) return;
    setBusy(true);
    setError(null);
    setBooked(null);
    try {
      const body = { doctor_id: selected.doctor_id, start_time: selected.start_time, appointment_type: type, reason: reason.trim() || undefined };
      const a = await request<Appointment>("POST", "/appointments", { body, headers: { "idempotency-key": idempotency.keyFor(body) } });
      idempotency.reset();
      setBooked(a);
      setReason("");
      refresh();
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        setError(conflictMessage(err));
        refresh();
      } else {
        if (err instanceof ApiError && err.field === "start_time") {
          setErrors({ slot: err.message });
          refresh();
        } else if (err instanceof ApiError && (err.field === "doctor_id" || err.field === "appointment_type" || err.field === "reason")) setErrors({ [err.field]: err.message });
        setError(err instanceof ApiError && err.status === 404 ? "Complete your profile before booking." : errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="mx-auto max-w-3xl space-y-4">
      <PageTitle>Book an appointment</PageTitle>
      {booked && (
        <Notice>
          Booked: {typeLabel(booked.appointment_type)} with {doctorName(booked.doctor_id)} on {dateTime(booked.start_time)}.{" "}
          <a className="font-semibold underline" href="#/appointments">
            See my appointments
          </a>
        </Notice>
      )}
      <Card title="Find a free time">
        <form
          noValidate
          role="search"
          aria-label="Find a free time"
          className="space-y-4"
          onSubmit={(e) => {
            e.preventDefault();
            refresh();
          }}
        >
          <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
            <div className="space-y-4">
              <WhomFields
                doctors={doctors}
                mode={mode}
                onMode={setMode}
                doctorId={doctorId}
                onDoctor={(d) => {
                  setDoctorId(d);
                  clear("doctor_id");
                }}
                specialty={specialty}
                onSpecialty={(s) => {
                  setSpecialty(s);
                  clear("specialty");
                }}
                errors={errors}
              />
            </div>
            <TypeField
              value={type}
              onChange={(t) => {
                setType(t);
                clear("appointment_type");
              }}
              error={errors.appointment_type}
            />
          </div>
          <FreeSlotPicker
            source={source}
            type={type}
            selected={selected}
            onSelect={(s) => {
              setSelected(s);
              if (s) clear("slot");
            }}
            refreshKey={refreshKey}
            doctorName={doctorName}
          />
          <p className="text-xs text-slate-500">
            Nothing suitable?{" "}
            <a className="font-semibold text-teal-700 underline" href="#/waitlist">
              Join the waitlist
            </a>{" "}
            and we offer you a time that frees up.
          </p>
        </form>
      </Card>
      <Card>
        <form noValidate onSubmit={submit} className="space-y-4" aria-label="Book an appointment">
          <ErrorBanner error={error} />
          <div aria-live="polite" className="text-sm">
            {selected ? (
              <p>
                {typeLabel(type)}: <strong>{slotText(selected, doctorName(selected.doctor_id))}</strong>
              </p>
            ) : (
              <p className="text-slate-600">No time chosen yet.</p>
            )}
            {errors.slot && <p className="mt-1 text-red-700">{errors.slot}</p>}
          </div>
          <TextAreaField label="Reason (optional)" rows={3} maxLength={500} value={reason} onChange={(e) => {
              setReason(e.target.value);
              clear("reason");
            }} error={errors.reason} />
          <Button busy={busy}>Book appointment</Button>
        </form>
      </Card>
    </div>
  );
}

type Action = { kind: "reschedule" | "cancel"; appointment: Appointment };

function StatusCell({ a }: { a: Appointment }) {
  return (
    <>
      <StatusBadge status={a.status} />
      {a.status === "cancelled" && (a.cancel_reason_code || a.cancel_reason) && (
        <span className="block text-xs text-slate-600">
          {[a.cancel_reason_code && CANCEL_REASON_LABELS[a.cancel_reason_code], a.cancel_reason].filter(Boolean).join(": ")}
        </span>
      )}
      {a.status === "scheduled" && a.rescheduled_at && <span className="block text-xs text-slate-600">Moved {dateTime(a.rescheduled_at)}</span>}
    </>
  );
}

export function AppointmentsPage() {
  const { me } = useAuth();
  const role = me!.role;
  const [showPast, setShowPast] = useState(false);
  const list = useLoad(async () => {
    const from = showPast ? undefined : new Date(Date.now() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, "Z");
    return (await api.get<Page<Appointment>>("/appointments", { from, limit: 100 })).items;
  }, [showPast]);
  const doctorName = doctorNames(useDoctors().data);
  const patientIds = useMemo(() => [...new Set((list.data ?? []).map((a) => a.patient_id))].slice(0, 25), [list.data]);
  const patients = useLoad(async () => {
    if (role === "patient") return {} as Record<string, string>;
    const entries = await Promise.all(
      patientIds.map(async (id) => {
        try {
          return [id, (await api.get<PatientProfile>(`/patients/${id}`)).full_name] as const;
        } catch {
          return [id, ""] as const;
        }
      }),
    );
    return Object.fromEntries(entries) as Record<string, string>;
  }, [patientIds.join(","), role]);
  // Re-rendered every 30 s: an appointment that starts meanwhile gets its attendance buttons.
  useNow(30_000);
  const now = Date.now();
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const patientName = (id: string) => patients.data?.[id] || `Patient ${id.slice(0, 8)}`;

  const finish = (message: string) => {
    setAction(null);
    setError(null);
    setDone(message);
    void list.reload();
  };
  const fail = (message: string) => {
    setDone(null);
    setError(message);
    void list.reload();
  };

  const title = role === "doctor" ? "My schedule" : role === "admin" ? "Appointments" : "My appointments";
  return (
    <div className="space-y-4">
      <PageTitle>{title}</PageTitle>
      <ErrorBanner error={error} />
      {done && <Notice>{done}</Notice>}
      <Card
        actions={
          <div className="flex flex-wrap items-center gap-3">
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" checked={showPast} onChange={(e) => setShowPast(e.target.checked)} /> Include past
            </label>
            <Button type="button" variant="secondary" onClick={() => void list.reload()}>
              Refresh
            </Button>
            {role === "patient" && (
              <a href="#/book" className="rounded-md bg-teal-700 px-4 py-2 text-sm font-semibold text-white hover:bg-teal-800">
                Book new
              </a>
            )}
          </div>
        }
      >
        {list.loading && !list.data ? (
          <Spinner label="Loading appointments…" />
        ) : list.error ? (
          <ErrorBanner error={list.error} />
        ) : (
          <ResponsiveTable
            caption={title}
            rows={list.data!}
            rowKey={(a) => a.appointment_id}
            rowProps={(a) => ({ "data-status": a.status, "data-start": a.start_time, "data-type": a.appointment_type })}
            empty={role === "doctor" ? "No appointments on your schedule." : "No appointments yet."}
            columns={[
              { header: "When", cell: (a) => dateTime(a.start_time) },
              { header: "Type", cell: (a) => typeLabel(a.appointment_type) },
              ...(role !== "doctor" ? [{ header: "Doctor", cell: (a: Appointment) => doctorName(a.doctor_id) }] : []),
              ...(role !== "patient"
                ? [
                    {
                      header: "Patient",
                      cell: (a: Appointment) => (
                        <a className="font-semibold text-teal-700 underline" href={`#/patients/${a.patient_id}`}>
                          {patientName(a.patient_id)}
                        </a>
                      ),
                    },
                  ]
                : []),
              { header: "Reason", cell: (a) => a.reason || "—" },
              { header: "Status", cell: (a) => <StatusCell a={a} /> },
              {
                header: "Actions",
                cell: (a) => (
                  <AppointmentActions
                    appointment={a}
                    role={role}
                    now={now}
                    onReschedule={() => setAction({ kind: "reschedule", appointment: a })}
                    onCancel={() => setAction({ kind: "cancel", appointment: a })}
                    onChanged={(m) => finish(`Recorded ${m.status === "no_show" ? "a no-show" : "attendance"} for the appointment on ${dateTime(m.start_time)}.`)}
                    onError={fail}
                  />
                ),
              },
            ]}
          />
        )}
      </Card>
      {action?.kind === "reschedule" && (
        <RescheduleDialog
          appointment={action.appointment}
          doctorName={doctorName}
          onClose={() => setAction(null)}
          onDone={(m) => finish(`Moved: ${typeLabel(m.appointment_type)} with ${doctorName(m.doctor_id)} is now on ${dateTime(m.start_time)}.`)}
        />
      )}
      {action?.kind === "cancel" && (
        <CancelDialog
          appointment={action.appointment}
          role={role}
          doctorName={doctorName}
          onClose={() => setAction(null)}
          onDone={(c) => finish(`Cancelled the appointment on ${dateTime(c.start_time)}.`)}
        />
      )}
    </div>
  );
}
