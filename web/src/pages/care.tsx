// Care relationships: the patient's access log and care team, and the admins' care-team and
// emergency-access (break-the-glass) reviews.
import { useState, type FormEvent } from "react";
import {
  ApiError,
  UUID,
  actionLabel,
  api,
  dateTime,
  errorMessage,
  request,
  type AccessLogEntry,
  type CareEntry,
  type EmergencyGrant,
  type Page,
  type PatientProfile,
} from "../api";
import { Badge, Button, Card, ErrorBanner, Notice, PageTitle, ResponsiveTable, SelectField, Spinner, TextAreaField, TextField } from "../components/ui";
import { useLoad, usePaged } from "../hooks";
import { navigate } from "../router";
import { useDoctors } from "./appointments";

const PAGE = 50;

const exactTime = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Doctor ids to names (GET /doctors); unknown ids read as "Doctor 1a2b3c4d". */
function useDoctorName() {
  const doctors = useDoctors();
  return (id: string) => doctors.data?.find((d) => d.doctor_id === id)?.full_name ?? `Doctor ${id.slice(0, 8)}`;
}

/** "More" while the list has a next page; the end of the list otherwise. */
function MoreButton({ list, end }: { list: { items: unknown[] | null; next: string | null; error: string | null; loading: boolean; more: () => Promise<void> }; end: string }) {
  return (
    <div className="mt-3 space-y-2">
      {list.items && <ErrorBanner error={list.error} />}
      {list.next ? (
        <Button type="button" variant="secondary" busy={list.loading} onClick={() => void list.more()}>
          More
        </Button>
      ) : (
        list.items && list.items.length > 0 && <p className="text-xs text-slate-500">{end}</p>
      )}
    </div>
  );
}

// ---------------------------------------------------------------- access log

const OUTCOME: Record<AccessLogEntry["outcome"], { label: string; tone: "green" | "red" | "slate" }> = {
  allowed: { label: "Allowed", tone: "green" },
  denied: { label: "Refused", tone: "red" },
  not_found: { label: "Not found", tone: "slate" },
};

function AccessLog({ patientId, selfId }: { patientId: string; selfId: string }) {
  const doctorName = useDoctorName();
  const log = usePaged((cursor) => api.get<Page<AccessLogEntry>>(`/patients/${patientId}/access-log`, { limit: PAGE, cursor }), [patientId]);
  const who = (e: AccessLogEntry) =>
    e.actor_id === selfId ? "You" : e.actor_role === "doctor" ? doctorName(e.actor_id) : e.actor_role === "admin" ? "CareFlow administrator" : "Another patient";
  if (!log.items && log.loading) return <Spinner label="Loading the access log…" />;
  if (!log.items) return <ErrorBanner error={log.error} />;
  return (
    <>
      <ResponsiveTable
        caption="Who looked at the record, newest first"
        rows={log.items}
        rowKey={(e) => e.event_id}
        empty="Nobody has opened this record yet."
        rowProps={(e) => ({ "data-emergency": String(e.emergency), className: e.emergency ? "bg-red-50" : "" })}
        columns={[
          { header: "When", cell: (e) => exactTime(e.at) },
          {
            header: "Who",
            cell: (e) => (
              <>
                <span className="font-medium">{who(e)}</span>
                {e.actor_id !== selfId && <span className="block text-xs text-slate-500">{e.actor_role}</span>}
              </>
            ),
          },
          {
            header: "What",
            cell: (e) => (
              <span className="inline-flex flex-wrap items-center justify-end gap-2 md:justify-start">
                {actionLabel(e.action)}
                {e.emergency && <Badge tone="red">Emergency access</Badge>}
              </span>
            ),
          },
          { header: "Result", cell: (e) => <Badge tone={OUTCOME[e.outcome]?.tone}>{OUTCOME[e.outcome]?.label ?? e.outcome}</Badge> },
        ]}
      />
      <MoreButton list={log} end="That is the whole log." />
    </>
  );
}

export function AccessLogPage({ patientId }: { patientId: string }) {
  return (
    <div className="space-y-4">
      <PageTitle>Who looked at my record</PageTitle>
      <p className="text-sm text-slate-700">
        Every time someone opens or changes your record it is listed here, newest first, including attempts that were refused. Doctors see your record only while they
        care for you; a doctor who opened it in an emergency is marked <Badge tone="red">Emergency access</Badge>.
      </p>
      <Card>
        <AccessLog patientId={patientId} selfId={patientId} />
      </Card>
    </div>
  );
}

// ---------------------------------------------------------------- care team

const KIND: Record<CareEntry["kind"], string> = { appointment: "Appointment", care_team: "Care team", emergency: "Emergency access" };

const startOf = (e: CareEntry) => (e.kind === "appointment" ? e.start_time : e.kind === "care_team" ? e.since : e.granted_at);

function CareDetails({ e }: { e: CareEntry }) {
  if (e.kind === "appointment") return <>Visit {dateTime(e.start_time)}</>;
  if (e.kind === "care_team")
    return (
      <>
        {dateTime(e.since)} – {dateTime(e.until)}
        {e.reason && <span className="block text-xs text-slate-600">Reason: {e.reason}</span>}
      </>
    );
  return (
    <>
      Opened {dateTime(e.granted_at)}, {e.active ? "ends" : "ended"} {dateTime(e.expires_at)}
      <span className="block text-xs text-slate-600">Reason given: {e.reason}</span>
    </>
  );
}

function CareStatus({ e }: { e: CareEntry }) {
  if (e.kind === "appointment" && e.cancelled) return <Badge>Cancelled</Badge>;
  return e.active ? <Badge tone="green">Active</Badge> : <Badge>Ended</Badge>;
}

/** A care team, active links first, newest first within. `onEnd` adds "End" to active assignments. */
function CareTeamTable({ entries, onEnd, ending }: { entries: CareEntry[]; onEnd?: (e: CareEntry, name: string) => void; ending?: string | null }) {
  const doctorName = useDoctorName();
  const rows = [...entries].sort((a, b) => Number(b.active) - Number(a.active) || startOf(b).localeCompare(startOf(a)));
  const key = (e: CareEntry) => (e.kind === "appointment" ? e.appointment_id : e.kind === "emergency" ? e.grant_id : `team-${e.doctor_id}`);
  return (
    <ResponsiveTable
      caption="Care team"
      rows={rows}
      rowKey={key}
      empty="No doctor is linked to this patient."
      rowProps={(e) => ({ "data-kind": e.kind, "data-active": String(e.active), className: e.kind === "emergency" ? "bg-red-50" : "" })}
      columns={[
        { header: "Doctor", cell: (e) => <span className="font-medium">{doctorName(e.doctor_id)}</span> },
        { header: "Kind", cell: (e) => (e.kind === "emergency" ? <Badge tone="red">{KIND[e.kind]}</Badge> : KIND[e.kind]) },
        { header: "Status", cell: (e) => <CareStatus e={e} /> },
        { header: "Details", cell: (e) => <CareDetails e={e} /> },
        ...(onEnd
          ? [
              {
                header: "Actions",
                cell: (e: CareEntry) =>
                  e.kind === "care_team" && e.active ? (
                    <Button type="button" variant="danger" busy={ending === e.doctor_id} onClick={() => onEnd(e, doctorName(e.doctor_id))} aria-label={`End ${doctorName(e.doctor_id)}'s assignment`}>
                      End
                    </Button>
                  ) : (
                    "—"
                  ),
              },
            ]
          : []),
      ]}
    />
  );
}

function useCareTeam(patientId: string) {
  return useLoad(async () => (await api.get<{ items: CareEntry[] }>(`/patients/${patientId}/care-team`)).items, [patientId]);
}

export function MyCareTeamPage({ patientId }: { patientId: string }) {
  const team = useCareTeam(patientId);
  return (
    <div className="space-y-4">
      <PageTitle>My care team</PageTitle>
      <p className="text-sm text-slate-700">
        The doctors who may see your record: through an appointment, because the clinic put them on your care team, or for a limited time in an emergency. Only links
        marked Active give access now.
      </p>
      <Card>
        {team.loading && !team.data ? <Spinner label="Loading your care team…" /> : team.error ? <ErrorBanner error={team.error} /> : <CareTeamTable entries={team.data!} />}
      </Card>
    </div>
  );
}

// ---------------------------------------------------------------- admins: care teams

export function CareTeamsPage({ patientId }: { patientId?: string }) {
  const [id, setId] = useState(patientId ?? "");
  const [error, setError] = useState<string | undefined>();
  function submit(e: FormEvent) {
    e.preventDefault();
    const v = id.trim();
    if (!UUID.test(v)) return setError("Enter a patient ID such as 0f8e2c4a-1b2c-4d3e-8f9a-0123456789ab.");
    setError(undefined);
    navigate(`/admin/care-teams/${v}`);
  }
  return (
    <div className="space-y-4">
      <PageTitle>Care teams</PageTitle>
      <Card>
        <form noValidate role="search" aria-label="Find a patient's care team" className="flex flex-wrap items-end gap-2" onSubmit={submit}>
          <div className="min-w-0 flex-1">
            <TextField label="Patient ID" value={id} onChange={(e) => setId(e.target.value)} error={error} autoComplete="off" spellCheck={false} />
          </div>
          <Button>Show care team</Button>
        </form>
      </Card>
      {patientId && <PatientCareTeam key={patientId} patientId={patientId} />}
    </div>
  );
}

function PatientCareTeam({ patientId }: { patientId: string }) {
  const profile = useLoad(async () => {
    try {
      return await api.get<PatientProfile>(`/patients/${patientId}`);
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return null;
      throw e;
    }
  }, [patientId]);
  const team = useCareTeam(patientId);
  const [error, setError] = useState<string | null>(null);
  const [ending, setEnding] = useState<string | null>(null);

  async function end(e: CareEntry, name: string) {
    if (!window.confirm(`End ${name}'s care-team assignment now?`)) return;
    setEnding(e.doctor_id);
    setError(null);
    try {
      await request("DELETE", `/patients/${patientId}/care-team/${e.doctor_id}`);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? "That assignment had already ended." : errorMessage(err));
    } finally {
      setEnding(null);
      await team.reload();
    }
  }

  const who = profile.data ? profile.data.full_name : profile.data === null ? "a patient without a profile yet" : "…";
  return (
    <>
      <ErrorBanner error={profile.error} />
      <Card
        title={`Care team of ${who}`}
        actions={
          <Button type="button" variant="secondary" onClick={() => void team.reload()}>
            Refresh
          </Button>
        }
      >
        <div className="space-y-3">
          <ErrorBanner error={error} />
          {team.loading && !team.data ? <Spinner label="Loading the care team…" /> : team.error ? <ErrorBanner error={team.error} /> : <CareTeamTable entries={team.data!} onEnd={(e, n) => void end(e, n)} ending={ending} />}
        </div>
      </Card>
      <Card title="Assign a doctor">
        <AssignForm patientId={patientId} onAssigned={() => void team.reload()} />
      </Card>
    </>
  );
}

const localInput = (d: Date) => new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

function AssignForm({ patientId, onAssigned }: { patientId: string; onAssigned: () => void }) {
  const doctors = useDoctors();
  const [f, setF] = useState({ doctor_id: "", until: "", reason: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) => {
    setF({ ...f, [k]: e.target.value });
    setErrors({ ...errors, [k]: "" });
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    if (!UUID.test(f.doctor_id.trim())) v.doctor_id = "Choose a doctor.";
    if (!f.until) v.until = "Choose when the assignment ends.";
    else if (new Date(f.until) <= new Date()) v.until = "Choose a time in the future.";
    if (f.reason.trim().length > 500) v.reason = "Keep the reason under 500 characters.";
    setErrors(v);
    setDone(null);
    if (Object.values(v).some(Boolean)) return;
    setBusy(true);
    setError(null);
    try {
      const until = new Date(f.until).toISOString().replace(/\.\d{3}Z$/, "Z");
      const entry = await request<CareEntry>("PUT", `/patients/${patientId}/care-team/${f.doctor_id.trim()}`, { body: { until, reason: f.reason.trim() || undefined } });
      const name = doctors.data?.find((d) => d.doctor_id === entry.doctor_id)?.full_name ?? "The doctor";
      setDone(`${name} is on the care team until ${dateTime(entry.kind === "care_team" ? entry.until : until)}.`);
      setF({ doctor_id: "", until: "", reason: "" });
      onAssigned();
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [err.field === "doctorId" ? "doctor_id" : err.field]: err.message });
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form noValidate onSubmit={submit} className="space-y-4" aria-label="Assign a doctor">
      <ErrorBanner error={error} />
      {done && <Notice>{done}</Notice>}
      <p className="text-sm text-slate-700">The doctor may read and add to this patient's record until the time you choose. Assigning a doctor again replaces the end time.</p>
      <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
        {doctors.data ? (
          <SelectField label="Doctor" value={f.doctor_id} onChange={set("doctor_id")} error={errors.doctor_id}>
            <option value="">Choose a doctor…</option>
            {doctors.data.map((d) => (
              <option key={d.doctor_id} value={d.doctor_id}>
                {d.full_name} — {d.specialty}
              </option>
            ))}
          </SelectField>
        ) : doctors.loading ? (
          <Spinner label="Loading doctors…" />
        ) : (
          <TextField label="Doctor ID" value={f.doctor_id} onChange={set("doctor_id")} error={errors.doctor_id} hint={`Could not load the list of doctors: ${doctors.error}`} />
        )}
        <TextField label="Until" type="datetime-local" min={localInput(new Date())} value={f.until} onChange={set("until")} error={errors.until} hint="Your local time." />
      </div>
      <TextAreaField label="Reason (optional)" rows={2} value={f.reason} onChange={set("reason")} error={errors.reason} maxLength={500} />
      <Button busy={busy}>Assign doctor</Button>
    </form>
  );
}

// ---------------------------------------------------------------- admins: emergency grants

export function EmergencyGrantsPage() {
  const doctorName = useDoctorName();
  const grants = usePaged((cursor) => api.get<Page<EmergencyGrant>>("/emergency-access", { limit: PAGE, cursor }), []);
  const open = (g: EmergencyGrant) => new Date(g.expires_at) > new Date();
  return (
    <div className="space-y-4">
      <PageTitle>Emergency access grants</PageTitle>
      <p className="text-sm text-slate-700">Every time a doctor broke the glass on a record outside their care, newest first, with the reason they gave. Each grant is also in the patient's access log.</p>
      <Card
        actions={
          <Button type="button" variant="secondary" onClick={() => void grants.reload()}>
            Refresh
          </Button>
        }
      >
        {!grants.items && grants.loading ? (
          <Spinner label="Loading emergency access grants…" />
        ) : !grants.items ? (
          <ErrorBanner error={grants.error} />
        ) : (
          <>
            <ResponsiveTable
              caption="Emergency access grants, newest first"
              rows={grants.items}
              rowKey={(g) => g.grant_id}
              empty="No emergency access so far."
              columns={[
                { header: "Granted", cell: (g) => dateTime(g.granted_at) },
                { header: "Doctor", cell: (g) => <span className="font-medium">{doctorName(g.doctor_id)}</span> },
                {
                  header: "Patient",
                  cell: (g) => (
                    <a className="font-mono text-xs break-all text-teal-700 underline" href={`#/admin/care-teams/${g.patient_id}`} title="Care team of this patient">
                      {g.patient_id}
                    </a>
                  ),
                },
                { header: "Reason", cell: (g) => <span className="whitespace-pre-wrap">{g.reason}</span> },
                {
                  header: "Expires",
                  cell: (g) => (
                    <>
                      {dateTime(g.expires_at)} {open(g) ? <Badge tone="amber">Open</Badge> : <Badge>Expired</Badge>}
                    </>
                  ),
                },
              ]}
            />
            <MoreButton list={grants} end="That is every grant." />
          </>
        )}
      </Card>
    </div>
  );
}
