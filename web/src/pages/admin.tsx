import { useEffect, useState, type FormEvent } from "react";
import { ApiError, api, errorMessage, request, resetMfa, type AnalyticsWindow, type Doctor } from "../api";
import { Button, Card, ErrorBanner, Notice, PageTitle, ResponsiveTable, Spinner, TextField } from "../components/ui";
import { useInterval, useLoad } from "../hooks";
import { useDoctors } from "./appointments";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function DoctorsPage() {
  const doctors = useDoctors();
  const empty = { full_name: "", email: "", specialty: "", password: "" };
  const [f, setF] = useState(empty);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement>) => setF({ ...f, [k]: e.target.value });
  const [resetting, setResetting] = useState<string | null>(null);
  const [resetDone, setResetDone] = useState<string | null>(null);
  const [resetError, setResetError] = useState<string | null>(null);

  /** A lost phone: the doctor's authenticator and recovery codes are removed and their sessions
   *  end; their next sign-in sets up a new app. */
  async function resetSecondFactor(d: Doctor) {
    if (!window.confirm(`Reset two-step sign-in for ${d.full_name}? They are signed out everywhere and set up their authenticator app again at their next sign-in.`)) return;
    setResetting(d.doctor_id);
    setResetDone(null);
    setResetError(null);
    try {
      await resetMfa(d.doctor_id);
      setResetDone(`Two-step sign-in was reset for ${d.full_name}. They set up their authenticator app again at their next sign-in.`);
    } catch (err) {
      setResetError(err instanceof ApiError && err.status === 404 ? `${d.full_name}'s account no longer exists.` : errorMessage(err));
    } finally {
      setResetting(null);
    }
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    if (!f.full_name.trim()) v.full_name = "Enter the doctor's full name.";
    if (!EMAIL.test(f.email.trim())) v.email = "Enter a valid e-mail address.";
    if (!f.specialty.trim()) v.specialty = "Enter a specialty.";
    if (f.password.length < 12) v.password = "Use at least 12 characters.";
    setErrors(v);
    setDone(null);
    if (Object.keys(v).length) return;
    setBusy(true);
    setError(null);
    try {
      await request("POST", "/users/doctors", { body: { full_name: f.full_name.trim(), email: f.email.trim(), specialty: f.specialty.trim(), password: f.password } });
      setDone(`Doctor account created for ${f.full_name.trim()}. Share the initial password securely.`);
      setF(empty);
      void doctors.reload();
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [err.field]: err.message });
      setError(err instanceof ApiError && err.status === 409 ? "An account with this e-mail already exists." : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="space-y-4">
      <PageTitle>Doctors</PageTitle>
      <Card title="Create a doctor account">
        <form noValidate onSubmit={submit} className="space-y-4" aria-label="Create a doctor account">
          <ErrorBanner error={error} />
          {done && <Notice>{done}</Notice>}
          <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
            <TextField label="Full name" value={f.full_name} onChange={set("full_name")} error={errors.full_name} />
            <TextField label="E-mail" type="email" value={f.email} onChange={set("email")} error={errors.email} autoComplete="off" />
            <TextField label="Specialty" value={f.specialty} onChange={set("specialty")} error={errors.specialty} />
            <TextField label="Initial password" type="password" value={f.password} onChange={set("password")} error={errors.password} hint="At least 12 characters." autoComplete="new-password" />
          </div>
          <Button busy={busy}>Create doctor</Button>
        </form>
      </Card>
      <Card title="All doctors">
        {doctors.loading && !doctors.data ? (
          <Spinner label="Loading doctors…" />
        ) : doctors.error ? (
          <ErrorBanner error={doctors.error} />
        ) : (
          <div className="space-y-3">
            <ErrorBanner error={resetError} />
            {resetDone && <Notice>{resetDone}</Notice>}
            <ResponsiveTable
              caption="Doctors"
              rows={doctors.data!}
              rowKey={(d) => d.doctor_id}
              empty="No doctors yet."
              columns={[
                { header: "Name", cell: (d) => d.full_name },
                { header: "Specialty", cell: (d) => d.specialty },
                {
                  header: "Actions",
                  cell: (d) => (
                    <span className="inline-flex flex-wrap items-center justify-end gap-2 md:justify-start">
                      <a
                        href={`#/admin/doctors/${d.doctor_id}/availability`}
                        aria-label={`Edit the availability of ${d.full_name}`}
                        className="rounded-md border border-slate-300 px-4 py-2 text-sm font-semibold text-slate-800 hover:bg-slate-100 focus:outline-none focus:ring-2 focus:ring-teal-500"
                      >
                        Availability
                      </a>
                      <Button type="button" variant="secondary" busy={resetting === d.doctor_id} onClick={() => void resetSecondFactor(d)} aria-label={`Reset two-step sign-in for ${d.full_name}`}>
                        Reset two-step sign-in
                      </Button>
                    </span>
                  ),
                },
              ]}
            />
          </div>
        )}
      </Card>
    </div>
  );
}

const hhmm = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

const MINUTE = 60_000;

/** The last `minutes` one-minute slots, ending with the current minute (or the newest window). */
export function lastMinutes(windows: AnalyticsWindow[], minutes = 60, now = Date.now()): AnalyticsWindow[] {
  const byStart = new Map<number, AnalyticsWindow>();
  for (const w of windows) {
    const t = Math.floor(new Date(w.window_start).getTime() / MINUTE) * MINUTE;
    const prev = byStart.get(t);
    byStart.set(t, prev ? { ...prev, total: prev.total + w.total, cancellations: prev.cancellations + w.cancellations, late_events: prev.late_events + w.late_events } : w);
  }
  const newest = Math.max(Math.floor(now / MINUTE) * MINUTE, ...byStart.keys());
  const out: AnalyticsWindow[] = [];
  for (let t = newest - (minutes - 1) * MINUTE; t <= newest; t += MINUTE) {
    out.push(byStart.get(t) ?? { window_start: new Date(t).toISOString(), window_end: new Date(t + MINUTE).toISOString(), total: 0, cancellations: 0, late_events: 0 });
  }
  return out;
}

/** True while the viewport is at most `px` wide. */
function useNarrow(px = 640) {
  const query = `(max-width: ${px}px)`;
  const [narrow, setNarrow] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const m = window.matchMedia(query);
    const on = () => setNarrow(m.matches);
    m.addEventListener("change", on);
    return () => m.removeEventListener("change", on);
  }, [query]);
  return narrow;
}

export function AppointmentsChart({ windows: raw, minutes }: { windows: AnalyticsWindow[]; minutes: number }) {
  const windows = lastMinutes(raw, minutes);
  // Drawn at roughly its displayed size, so its labels stay legible on phones too.
  const W = minutes > 30 ? 600 : 340;
  const H = minutes > 30 ? 220 : 200;
  const pad = { l: 32, r: 8, t: 12, b: 28 };
  const max = Math.max(1, ...windows.map((w) => w.total));
  const n = Math.max(windows.length, 1);
  const bw = (W - pad.l - pad.r) / n;
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - v / max);
  const total = windows.reduce((s, w) => s + w.total, 0);
  const cancels = windows.reduce((s, w) => s + w.cancellations, 0);
  const labelEvery = 10;
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc" className="h-auto w-full" data-testid="analytics-chart">
        <title id="chart-title">Appointments booked per minute</title>
        <desc id="chart-desc">
          One-minute windows of the last {minutes} minutes; {total} appointments booked, {cancels} cancelled.
        </desc>
        <line x1={pad.l} x2={W - pad.r} y1={y(0)} y2={y(0)} stroke="#94a3b8" />
        <text x={pad.l - 4} y={y(max) + 4} textAnchor="end" fontSize="11" fill="#475569">
          {max}
        </text>
        <text x={pad.l - 4} y={y(0) + 4} textAnchor="end" fontSize="11" fill="#475569">
          0
        </text>
        {windows.map((w, i) => (
          <g key={w.window_start} data-testid={w.total || w.cancellations ? "chart-bar" : undefined} data-total={w.total}>
            <rect x={pad.l + i * bw + 1} y={y(w.total)} width={Math.max(1, bw - 2)} height={y(0) - y(w.total)} fill="#0f766e">
              <title>{`${hhmm(w.window_start)}: ${w.total} booked, ${w.cancellations} cancelled`}</title>
            </rect>
            {w.cancellations > 0 && <rect x={pad.l + i * bw + 1} y={y(w.cancellations)} width={Math.max(1, bw - 2)} height={y(0) - y(w.cancellations)} fill="#f59e0b" />}
            {i % labelEvery === 0 && (
              <text x={pad.l + i * bw + bw / 2} y={H - 10} textAnchor="middle" fontSize="11" fill="#475569">
                {hhmm(w.window_start)}
              </text>
            )}
          </g>
        ))}
      </svg>
      <figcaption className="mt-2 flex flex-wrap gap-4 text-sm text-slate-700">
        <span>
          <span aria-hidden="true" className="mr-1 inline-block h-3 w-3 bg-teal-700" />
          Booked: <strong data-testid="analytics-total">{total}</strong>
        </span>
        <span>
          <span aria-hidden="true" className="mr-1 inline-block h-3 w-3 bg-amber-500" />
          Cancelled: <strong>{cancels}</strong>
        </span>
      </figcaption>
    </figure>
  );
}

export function AnalyticsPage() {
  const minutes = useNarrow() ? 30 : 60;
  const data = useLoad(async () => (await api.get<{ windows: AnalyticsWindow[] }>("/analytics/appointments-per-minute")).windows, []);
  useInterval(() => void data.reload(), 5000);
  const [updated, setUpdated] = useState<Date | null>(null);
  useInterval(() => setUpdated(new Date()), 5000, !!data.data);
  return (
    <div className="space-y-4">
      <PageTitle>Appointments per minute</PageTitle>
      <Card title={`Last ${minutes} minutes`} actions={<span className="text-xs text-slate-500" aria-live="off">Updates every 5 s{updated ? ` · ${updated.toLocaleTimeString()}` : ""}</span>}>
        {data.error && <ErrorBanner error={data.error} />}
        {data.loading && !data.data ? <Spinner label="Loading analytics…" /> : data.data && <AppointmentsChart windows={data.data} minutes={minutes} />}
      </Card>
    </div>
  );
}
