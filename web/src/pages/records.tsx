import { useState, type FormEvent } from "react";
import { ApiError, UUID, api, dateTime, errorMessage, request, type EmergencyGrant, type HistoryEntry, type Page, type PatientProfile } from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, Notice, PageTitle, Spinner, TextAreaField, TextField } from "../components/ui";
import { useLoad } from "../hooks";
import { navigate } from "../router";
import { LabReportList, LabUploadForm } from "./lab";

/** A doctor reaches a patient outside their list (an emergency) by the patient's ID. */
function OpenById() {
  const [id, setId] = useState("");
  const [error, setError] = useState<string | undefined>();
  return (
    <form
      noValidate
      aria-label="Open a patient by ID"
      className="flex flex-wrap items-end gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        const v = id.trim();
        if (!UUID.test(v)) return setError("Enter a patient ID such as 0f8e2c4a-1b2c-4d3e-8f9a-0123456789ab.");
        setError(undefined);
        navigate(`/patients/${v}`);
      }}
    >
      <div className="min-w-0 flex-1">
        <TextField label="Patient ID" value={id} onChange={(e) => setId(e.target.value)} error={error} autoComplete="off" spellCheck={false} />
      </div>
      <Button>Open</Button>
    </form>
  );
}

export function PatientsPage() {
  const { me } = useAuth();
  const doctor = me!.role === "doctor";
  const [prefix, setPrefix] = useState("");
  const [query, setQuery] = useState("");
  const list = useLoad(async () => (await api.get<Page<PatientProfile>>("/patients", { name_prefix: query || undefined, limit: 50 })).items, [query]);
  return (
    <div className="space-y-4">
      <PageTitle>Patients</PageTitle>
      {doctor && <p className="text-sm text-slate-700">Your patients: those with an appointment with you and those on whose care team you are.</p>}
      <Card>
        <form
          role="search"
          className="mb-4 flex flex-wrap items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery(prefix.trim());
          }}
        >
          <div className="min-w-0 flex-1">
            <TextField label="Name starts with" value={prefix} onChange={(e) => setPrefix(e.target.value)} maxLength={200} />
          </div>
          <Button>Search</Button>
        </form>
        {list.loading && !list.data ? (
          <Spinner label="Loading patients…" />
        ) : list.error ? (
          <ErrorBanner error={list.error} />
        ) : list.data!.length === 0 ? (
          <p className="text-sm text-slate-600">{doctor && !query ? "No patients in your care yet." : "No patients found."}</p>
        ) : (
          <ul className="divide-y divide-slate-100">
            {list.data!.map((p) => (
              <li key={p.patient_id} className="flex flex-wrap items-center justify-between gap-2 py-2">
                <a className="font-semibold text-teal-700 underline" href={`#/patients/${p.patient_id}`}>
                  {p.full_name}
                </a>
                <span className="text-sm text-slate-500">born {p.date_of_birth}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card title="Open a patient by ID">
        {doctor && <p className="mb-3 text-sm text-slate-700">For a patient who is not in your list, for example in an emergency.</p>}
        <OpenById />
      </Card>
    </div>
  );
}

// Emergency grants this tab opened, by doctor and patient: in memory only, like the tokens.
const grants = new Map<string, EmergencyGrant>();

export function PatientRecordPage({ patientId }: { patientId: string }) {
  const { me } = useAuth();
  const grantKey = `${me!.user_id}:${patientId}`;
  const [grant, setGrant] = useState(() => grants.get(grantKey) ?? null);
  // A doctor outside the patient's care gets 403: they are offered emergency access instead.
  // Only the profile is asked first, so a refusal leaves one denied entry in the access log.
  const profile = useLoad(async () => {
    try {
      return { profile: await api.get<PatientProfile>(`/patients/${patientId}`) };
    } catch (e) {
      if (me!.role === "doctor" && e instanceof ApiError && e.status === 403) return { profile: null };
      throw e;
    }
  }, [patientId, grant]);
  if (profile.loading && !profile.data?.profile) return <Spinner label="Loading the record…" />;
  if (profile.error) return <ErrorBanner error={profile.error} />;
  const p = profile.data!.profile;
  if (!p)
    return (
      <EmergencyAccess
        patientId={patientId}
        expired={grant && new Date(grant.expires_at) <= new Date() ? grant : null}
        onGranted={(g) => {
          grants.set(grantKey, g);
          setGrant(g);
        }}
      />
    );
  const underGrant = grant && new Date(grant.expires_at) > new Date() ? grant : null;
  return <PatientRecord p={p} patientId={patientId} grant={underGrant} />;
}

function PatientRecord({ p, patientId, grant }: { p: PatientProfile; patientId: string; grant: EmergencyGrant | null }) {
  const { me } = useAuth();
  const history = useLoad(async () => (await api.get<Page<HistoryEntry>>(`/patients/${patientId}/history`, { limit: 50 })).items, [patientId]);
  const [labKey, setLabKey] = useState(0);
  return (
    <div className="space-y-4">
      <PageTitle>{p.full_name}</PageTitle>
      {grant && (
        <Notice>
          <strong>Emergency access open until {dateTime(grant.expires_at)}.</strong> Everything you open is recorded as emergency access, shown to the patient and reviewed by
          administrators.
        </Notice>
      )}
      <Card
        title="Profile"
        actions={
          me!.role === "admin" && (
            <a className="text-sm font-semibold text-teal-700 underline" href={`#/admin/care-teams/${patientId}`}>
              Care team
            </a>
          )
        }
      >
        <dl className="grid grid-cols-1 gap-3 text-sm sm:grid-cols-3">
          {[
            ["Date of birth", p.date_of_birth],
            ["Sex", p.sex],
            ["Blood type", p.blood_type ?? "—"],
            ["Allergies", p.allergies.length ? p.allergies.join(", ") : "None recorded"],
            ["Phone", p.phone ?? "—"],
            ["E-mail", p.email ?? "—"],
          ].map(([k, v]) => (
            <div key={k} className="min-w-0">
              <dt className="font-medium text-slate-500">{k}</dt>
              <dd className="break-words">{v}</dd>
            </div>
          ))}
        </dl>
      </Card>
      {me!.role !== "patient" && (
        <Card title="Add a history entry">
          <HistoryForm patientId={patientId} onAdded={() => void history.reload()} />
        </Card>
      )}
      <Card title="Medical history">
        {history.loading && !history.data ? (
          <Spinner label="Loading history…" />
        ) : history.error ? (
          <ErrorBanner error={history.error} />
        ) : history.data!.length === 0 ? (
          <p className="text-sm text-slate-600">No history recorded.</p>
        ) : (
          <ol className="space-y-3">
            {history.data!.map((h) => (
              <li key={h.entry_id} className="rounded-md border border-slate-200 p-3 text-sm" data-testid="history-entry">
                <p className="font-semibold">{h.diagnosis}</p>
                <p className="text-xs text-slate-500">
                  {dateTime(h.recorded_at)} · by a {h.author_role}
                </p>
                {h.notes && <p className="mt-1 whitespace-pre-wrap break-words">{h.notes}</p>}
                {h.medications.length > 0 && <p className="mt-1">Medications: {h.medications.join(", ")}</p>}
                {h.allergies.length > 0 && <p>Allergies: {h.allergies.join(", ")}</p>}
              </li>
            ))}
          </ol>
        )}
      </Card>
      <Card title="Lab results">
        {me!.role !== "patient" && (
          <details className="mb-4">
            <summary className="cursor-pointer text-sm font-semibold text-teal-700">Upload a report for this patient</summary>
            <div className="mt-3">
              <LabUploadForm patientId={patientId} onUploaded={() => setLabKey((k) => k + 1)} />
            </div>
          </details>
        )}
        <LabReportList patientId={patientId} refreshKey={labKey} />
      </Card>
    </div>
  );
}

/** Break the glass: a doctor states why, and may then use the record for a limited time. */
function EmergencyAccess({ patientId, expired, onGranted }: { patientId: string; expired: EmergencyGrant | null; onGranted: (g: EmergencyGrant) => void }) {
  const [reason, setReason] = useState("");
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const r = reason.trim();
    const v = r.length < 10 ? "Say why you need the record, in at least 10 characters." : r.length > 500 ? "Keep the reason under 500 characters." : undefined;
    setFieldError(v);
    if (v) return;
    setBusy(true);
    setError(null);
    try {
      onGranted(await request<EmergencyGrant>("POST", `/patients/${patientId}/emergency-access`, { body: { reason: r } }));
    } catch (err) {
      if (err instanceof ApiError && err.field === "reason") setFieldError(err.message);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="mx-auto max-w-2xl space-y-4">
      <PageTitle>Patient record</PageTitle>
      <div role="alert" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">
        {expired
          ? `Your emergency access ended at ${dateTime(expired.expires_at)}.`
          : "This record is closed to you: you have no appointment with this patient and are not on their care team (or there is no such patient)."}
      </div>
      <Card title="Emergency access">
        <form noValidate onSubmit={submit} className="space-y-4" aria-label="Emergency access">
          <p className="text-sm text-slate-700">If you need this record to treat the patient now, you can open it yourself (“break the glass”):</p>
          <ul className="list-disc space-y-1 pl-5 text-sm text-slate-700">
            <li>access is time-limited (usually one hour) and then closes by itself;</li>
            <li>everything you open is recorded as emergency access;</li>
            <li>the patient sees it and your reason in their access log, and administrators review every emergency access.</li>
          </ul>
          <ErrorBanner error={error} />
          <TextAreaField
            label="Reason for emergency access"
            rows={3}
            value={reason}
            onChange={(e) => {
              setReason(e.target.value);
              setFieldError(undefined);
            }}
            error={fieldError}
            hint="At least 10 characters; shown to the patient."
            maxLength={500}
          />
          <Button busy={busy} variant="danger">
            Open emergency access
          </Button>
        </form>
      </Card>
    </div>
  );
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);

function HistoryForm({ patientId, onAdded }: { patientId: string; onAdded: () => void }) {
  const [f, setF] = useState({ diagnosis: "", notes: "", medications: "", allergies: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof f) => (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => setF({ ...f, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    if (!f.diagnosis.trim()) v.diagnosis = "Enter a diagnosis.";
    else if (f.diagnosis.length > 500) v.diagnosis = "Keep the diagnosis under 500 characters.";
    if (f.notes.length > 4000) v.notes = "Keep the notes under 4000 characters.";
    setErrors(v);
    setDone(false);
    if (Object.keys(v).length) return;
    setBusy(true);
    setError(null);
    try {
      await request("POST", `/patients/${patientId}/history`, {
        body: { diagnosis: f.diagnosis.trim(), notes: f.notes.trim() || undefined, medications: list(f.medications), allergies: list(f.allergies) },
      });
      setF({ diagnosis: "", notes: "", medications: "", allergies: "" });
      setDone(true);
      onAdded();
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [err.field]: err.message });
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form noValidate onSubmit={submit} className="space-y-4" aria-label="Add a history entry">
      <ErrorBanner error={error} />
      {done && <Notice>Entry added.</Notice>}
      <TextField label="Diagnosis *" value={f.diagnosis} onChange={set("diagnosis")} error={errors.diagnosis} />
      <TextAreaField label="Notes" rows={3} value={f.notes} onChange={set("notes")} error={errors.notes} />
      <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
        <TextField label="Medications" hint="Separate with commas" value={f.medications} onChange={set("medications")} error={errors.medications} />
        <TextField label="Allergies" hint="Separate with commas" value={f.allergies} onChange={set("allergies")} error={errors.allergies} />
      </div>
      <Button busy={busy}>Add entry</Button>
    </form>
  );
}
