import { useMemo, useState, type FormEvent } from "react";
import {
  APPOINTMENT_TYPES,
  ApiError,
  api,
  dateTime,
  errorMessage,
  request,
  typeLabel,
  type Appointment,
  type Doctor,
  type Page,
  type PatientProfile,
} from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, Notice, PageTitle, ResponsiveTable, SelectField, Spinner, StatusBadge, TextAreaField, TextField } from "../components/ui";
import { useLoad } from "../hooks";

export function useDoctors() {
  return useLoad(async () => (await api.get<{ items: Doctor[] }>("/doctors")).items, []);
}

function localDate(d: Date) {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

/** Times offered for a day: 09:00–16:30 every 30 minutes (the API rejects taken slots with 409). */
function slotsFor(day: string): string[] {
  const out: string[] = [];
  const now = Date.now();
  for (let m = 9 * 60; m <= 16 * 60 + 30; m += 30) {
    const t = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
    if (new Date(`${day}T${t}`).getTime() > now + 5 * 60_000) out.push(t);
  }
  return out;
}

export function BookPage() {
  const doctors = useDoctors();
  const tomorrow = localDate(new Date(Date.now() + 86_400_000));
  const [f, setF] = useState({ doctor_id: "", appointment_type: "consultation", day: tomorrow, time: "", reason: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [booked, setBooked] = useState<Appointment | null>(null);
  const [busy, setBusy] = useState(false);
  const slots = useMemo(() => (f.day ? slotsFor(f.day) : []), [f.day]);
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) => {
    setF({ ...f, [k]: e.target.value });
    setErrors({ ...errors, [k]: "" });
  };
  const doctorName = (id: string) => doctors.data?.find((d) => d.doctor_id === id)?.full_name ?? "your doctor";

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    if (!f.doctor_id.trim()) v.doctor_id = "Choose a doctor.";
    if (!f.day) v.day = "Choose a day.";
    else if (f.day < localDate(new Date())) v.day = "Choose a day in the future.";
    if (!f.time) v.time = "Choose a time.";
    if (f.reason.length > 500) v.reason = "Keep the reason under 500 characters.";
    setErrors(v);
    if (Object.values(v).some(Boolean)) return;
    setBusy(true);
    setError(null);
    setBooked(null);
    try {
      const start = new Date(`${f.day}T${f.time}`).toISOString().replace(/\.\d{3}Z$/, "Z");
      const a = await request<Appointment>("POST", "/appointments", {
        body: { doctor_id: f.doctor_id.trim(), start_time: start, appointment_type: f.appointment_type, reason: f.reason.trim() || undefined },
        headers: { "idempotency-key": crypto.randomUUID() },
      });
      setBooked(a);
      setF({ ...f, time: "", reason: "" });
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        const msg =
          err.type === "/problems/patient-busy"
            ? "You already have an appointment at that time. Pick another time."
            : "That time is already taken. Pick another time.";
        setErrors({ time: msg });
        setError(msg);
      } else {
        if (err instanceof ApiError && err.field === "start_time") setErrors({ time: err.message });
        else if (err instanceof ApiError && err.field) setErrors({ [err.field]: err.message });
        setError(err instanceof ApiError && err.status === 404 ? "Complete your profile before booking." : errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="mx-auto max-w-2xl space-y-4">
      <PageTitle>Book an appointment</PageTitle>
      {booked && (
        <Notice>
          Booked: {typeLabel(booked.appointment_type)} with {doctorName(booked.doctor_id)} on {dateTime(booked.start_time)}.{" "}
          <a className="font-semibold underline" href="#/appointments">
            See my appointments
          </a>
        </Notice>
      )}
      <Card>
        <form noValidate onSubmit={submit} className="space-y-4" aria-label="Book an appointment">
          <ErrorBanner error={error} />
          {doctors.loading && !doctors.data ? (
            <Spinner label="Loading doctors…" />
          ) : doctors.error ? (
            <>
              <ErrorBanner error={`Could not load the list of doctors: ${doctors.error}`} />
              <TextField label="Doctor ID" value={f.doctor_id} onChange={set("doctor_id")} error={errors.doctor_id} hint="Ask the clinic for your doctor's ID." />
            </>
          ) : (
            <SelectField label="Doctor" value={f.doctor_id} onChange={set("doctor_id")} error={errors.doctor_id}>
              <option value="">Choose a doctor…</option>
              {doctors.data!.map((d) => (
                <option key={d.doctor_id} value={d.doctor_id}>
                  {d.full_name} — {d.specialty}
                </option>
              ))}
            </SelectField>
          )}
          <SelectField label="Type of visit" value={f.appointment_type} onChange={set("appointment_type")}>
            {APPOINTMENT_TYPES.map((t) => (
              <option key={t.value} value={t.value}>
                {t.label}
              </option>
            ))}
          </SelectField>
          <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
            <TextField label="Day" type="date" min={localDate(new Date())} value={f.day} onChange={set("day")} error={errors.day} />
            <SelectField label="Time" value={f.time} onChange={set("time")} error={errors.time} hint="Times shown in your time zone.">
              <option value="">{slots.length ? "Choose a time…" : "No times left that day"}</option>
              {slots.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </SelectField>
          </div>
          <TextAreaField label="Reason (optional)" rows={3} value={f.reason} onChange={set("reason")} error={errors.reason} />
          <Button busy={busy}>Book appointment</Button>
        </form>
      </Card>
    </div>
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
  const doctors = useDoctors();
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
  const [error, setError] = useState<string | null>(null);
  const [cancelling, setCancelling] = useState<string | null>(null);
  const doctorName = (id: string) => doctors.data?.find((d) => d.doctor_id === id)?.full_name ?? `Doctor ${id.slice(0, 8)}`;
  const patientName = (id: string) => patients.data?.[id] || `Patient ${id.slice(0, 8)}`;

  async function cancel(a: Appointment) {
    if (!window.confirm(`Cancel the appointment on ${dateTime(a.start_time)}?`)) return;
    setCancelling(a.appointment_id);
    setError(null);
    try {
      await request("POST", `/appointments/${a.appointment_id}/cancel`, { body: { reason: "Cancelled in the portal" } });
      await list.reload();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setCancelling(null);
    }
  }

  const title = role === "doctor" ? "My schedule" : role === "admin" ? "Appointments" : "My appointments";
  return (
    <div className="space-y-4">
      <PageTitle>{title}</PageTitle>
      <ErrorBanner error={error} />
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
              { header: "Status", cell: (a) => <StatusBadge status={a.status} /> },
              {
                header: "Actions",
                cell: (a) =>
                  a.status === "scheduled" && new Date(a.start_time) > new Date() ? (
                    <Button type="button" variant="danger" busy={cancelling === a.appointment_id} onClick={() => void cancel(a)} aria-label={`Cancel appointment on ${dateTime(a.start_time)}`}>
                      Cancel
                    </Button>
                  ) : (
                    "—"
                  ),
              },
            ]}
          />
        )}
      </Card>
    </div>
  );
}
