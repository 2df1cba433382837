import { useState, type FormEvent } from "react";
import { ApiError, api, dateTime, errorMessage, request, type HistoryEntry, type Page, type PatientProfile } from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, Notice, PageTitle, Spinner, TextAreaField, TextField } from "../components/ui";
import { useLoad } from "../hooks";
import { LabReportList, LabUploadForm } from "./lab";

export function PatientsPage() {
  const [prefix, setPrefix] = useState("");
  const [query, setQuery] = useState("");
  const list = useLoad(async () => (await api.get<Page<PatientProfile>>("/patients", { name_prefix: query || undefined, limit: 50 })).items, [query]);
  return (
    <div className="space-y-4">
      <PageTitle>Patients</PageTitle>
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
          <p className="text-sm text-slate-600">No patients found.</p>
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
    </div>
  );
}

export function PatientRecordPage({ patientId }: { patientId: string }) {
  const { me } = useAuth();
  const profile = useLoad(() => api.get<PatientProfile>(`/patients/${patientId}`), [patientId]);
  const history = useLoad(async () => (await api.get<Page<HistoryEntry>>(`/patients/${patientId}/history`, { limit: 50 })).items, [patientId]);
  const [labKey, setLabKey] = useState(0);
  if (profile.loading && !profile.data) return <Spinner label="Loading the record…" />;
  if (profile.error) return <ErrorBanner error={profile.error} />;
  const p = profile.data!;
  return (
    <div className="space-y-4">
      <PageTitle>{p.full_name}</PageTitle>
      <Card title="Profile">
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
