import { useRef, useState, type FormEvent } from "react";
import { ApiError, api, dateTime, errorMessage, getLabReport, request, uploadToS3, type LabReport, type LabUploadGrant, type Page } from "../api";
import { useAuth } from "../auth";
import { Badge, Button, Card, ErrorBanner, Notice, PageTitle, Spinner, StatusBadge } from "../components/ui";
import { useInterval, useLoad } from "../hooks";
import { LabResultsTable, isCritical } from "./lab-results";
import { LabVersions, ReviewEditor } from "./lab-review";

const MAX_BYTES = 10 * 1024 * 1024;

/** A report's values (what its status means for them), a doctor's review of them, and their
 *  versions. `onChanged` takes the report as a review left it; `onReload` reads it again. */
export function LabReportBody({ report, onChanged, onReload }: { report: LabReport; onChanged: (r: LabReport) => void; onReload: () => Promise<void> }) {
  const { me } = useAuth();
  const canReview = me!.role === "doctor" && (report.status === "needs_review" || report.status === "processed");
  const [editing, setEditing] = useState(false);
  // A new editor (from the report as read again) after "Reload".
  const [generation, setGeneration] = useState(0);
  const [done, setDone] = useState<string | null>(null);
  const [versions, setVersions] = useState(false);
  if (editing && canReview)
    return (
      <ReviewEditor
        key={generation}
        report={report}
        onCancel={() => setEditing(false)}
        onReload={() => void onReload().then(() => setGeneration((g) => g + 1))}
        onDone={(updated, signedOff) => {
          onChanged(updated);
          setEditing(false);
          setDone(signedOff ? "Signed off: the report is now reviewed, and the patient sees it so." : "Corrections saved. The report still needs to be signed off.");
        }}
      />
    );
  const readable = report.status !== "pending" && report.status !== "unreadable";
  return (
    <div className="space-y-3">
      {done && <Notice>{done}</Notice>}
      <LabResultsTable report={report} />
      {readable && (
        <div className="flex flex-wrap gap-2">
          {canReview && (
            <Button
              type="button"
              onClick={() => {
                setDone(null);
                setEditing(true);
              }}
            >
              Review values
            </Button>
          )}
          <Button type="button" variant="secondary" aria-expanded={versions} onClick={() => setVersions(!versions)}>
            {versions ? "Hide versions" : "Versions"}
          </Button>
        </div>
      )}
      {readable && versions && (
        <section aria-label="Versions of the values" className="rounded-md border border-slate-200 bg-slate-50 p-3">
          <h3 className="mb-2 text-sm font-semibold">Versions</h3>
          <LabVersions report={report} />
        </section>
      )}
    </div>
  );
}

/** "2 critical" beside a report's name, when it has critical values. */
function CriticalBadge({ report }: { report: LabReport }) {
  const n = report.results.filter((r) => isCritical(r.flag)).length;
  return n > 0 ? <Badge tone="red">{n} critical</Badge> : null;
}

/** A patient's reports (newest first), each expandable; polls while any is pending. */
export function LabReportList({ patientId, refreshKey = 0 }: { patientId: string; refreshKey?: number }) {
  const list = useLoad(async () => (await api.get<Page<LabReport>>(`/patients/${patientId}/lab-reports`, { limit: 50 })).items, [patientId, refreshKey]);
  const pending = (list.data ?? []).some((r) => r.status === "pending");
  useInterval(() => void list.reload(), 2000, pending);
  const [open, setOpen] = useState<string | null>(null);
  if (list.loading && !list.data) return <Spinner label="Loading lab reports…" />;
  if (list.error) return <ErrorBanner error={list.error} />;
  if (!list.data!.length) return <p className="text-sm text-slate-600">No lab reports yet.</p>;
  const replace = (updated: LabReport) => list.setData((all) => (all ?? []).map((r) => (r.report_id === updated.report_id ? updated : r)));
  return (
    <ul className="space-y-3">
      {list.data!.map((r, idx) => {
        const expanded = open === r.report_id || (open === null && idx === 0);
        return (
          <li key={r.report_id} className="rounded-md border border-slate-200 p-3" data-testid="lab-report" data-report={r.report_id} data-status={r.status}>
            <div className="flex flex-wrap items-center justify-between gap-2">
              <div className="min-w-0">
                <p className="font-semibold break-all">{r.filename}</p>
                <p className="text-xs text-slate-500">
                  Uploaded {dateTime(r.created_at)}
                  {r.collected_at && <> · collected {r.collected_at}</>}
                </p>
              </div>
              <div className="flex flex-wrap items-center gap-2">
                <CriticalBadge report={r} />
                <StatusBadge status={r.status} />
                <Button type="button" variant="secondary" aria-expanded={expanded} onClick={() => setOpen(expanded ? "" : r.report_id)}>
                  {expanded ? "Hide" : "Show"} values
                </Button>
              </div>
            </div>
            {expanded && (
              <div className="mt-3">
                <LabReportBody report={r} onChanged={replace} onReload={list.reload} />
              </div>
            )}
          </li>
        );
      })}
    </ul>
  );
}

export function LabUploadForm({ patientId, onUploaded }: { patientId: string; onUploaded: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setDone(null);
    if (!file) return setFieldError("Choose a PDF file.");
    if (file.type !== "application/pdf" && !file.name.toLowerCase().endsWith(".pdf")) return setFieldError("Only PDF files can be uploaded.");
    if (file.size === 0) return setFieldError("The file is empty.");
    if (file.size > MAX_BYTES) return setFieldError("The file is larger than 10 MB.");
    setFieldError(null);
    setError(null);
    try {
      setBusy("Preparing upload…");
      const grant = await request<LabUploadGrant>("POST", `/patients/${patientId}/lab-reports/upload-url`, {
        body: { filename: file.name.replace(/[\\/]/g, "_"), content_type: "application/pdf", size_bytes: file.size },
      });
      setBusy("Uploading…");
      await uploadToS3(grant, file);
      setDone(`${file.name} uploaded. Its values appear below once it has been read.`);
      setFile(null);
      if (input.current) input.current.value = "";
      onUploaded();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 404 ? "Complete your profile before uploading lab reports." : errorMessage(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <form noValidate onSubmit={submit} className="space-y-3" aria-label="Upload a lab report">
      <ErrorBanner error={error} />
      {done && <Notice>{done}</Notice>}
      <div>
        <label htmlFor="lab-file" className="block text-sm font-medium text-slate-700">
          Lab report (PDF, up to 10 MB)
        </label>
        <input
          ref={input}
          id="lab-file"
          type="file"
          accept="application/pdf,.pdf"
          aria-invalid={!!fieldError}
          aria-describedby={fieldError ? "lab-file-error" : undefined}
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          className="mt-1 block w-full min-w-0 text-sm file:mr-3 file:rounded-md file:border-0 file:bg-slate-200 file:px-3 file:py-2 file:font-semibold"
        />
        {fieldError && (
          <p id="lab-file-error" className="mt-1 text-sm text-red-700">
            {fieldError}
          </p>
        )}
      </div>
      <Button busy={!!busy}>{busy ?? "Upload"}</Button>
    </form>
  );
}

export function LabPage({ patientId }: { patientId: string }) {
  const [key, setKey] = useState(0);
  return (
    <div className="space-y-4">
      <PageTitle>Lab reports</PageTitle>
      <Card title="Upload a report">
        <LabUploadForm patientId={patientId} onUploaded={() => setKey((k) => k + 1)} />
      </Card>
      <Card title="My reports">
        <LabReportList patientId={patientId} refreshKey={key} />
      </Card>
    </div>
  );
}

/** One report, as the review queue links to it (doctors and admins). */
export function LabReportPage({ patientId, reportId }: { patientId: string; reportId: string }) {
  const { me } = useAuth();
  const report = useLoad(async () => {
    try {
      return await getLabReport(patientId, reportId);
    } catch (e) {
      if (e instanceof ApiError && e.status === 403)
        throw new ApiError("This patient's record is closed to you: you are not in their care. Open their record to ask for emergency access.", 403);
      throw e;
    }
  }, [patientId, reportId]);
  useInterval(() => void report.reload(), 2000, report.data?.status === "pending");
  const r = report.data;
  return (
    <div className="space-y-4">
      <div className="flex flex-wrap gap-4 text-sm">
        <a className="font-semibold text-teal-700 underline" href="#/lab-review">
          Review queue
        </a>
        <a className="font-semibold text-teal-700 underline" href={`#/patients/${patientId}`}>
          Patient record
        </a>
      </div>
      <PageTitle>Lab report</PageTitle>
      {report.loading && !r ? (
        <Spinner label="Loading the report…" />
      ) : report.error ? (
        <ErrorBanner error={report.error} />
      ) : (
        <Card
          title={r!.filename}
          actions={
            <div className="flex flex-wrap gap-2">
              <CriticalBadge report={r!} />
              <StatusBadge status={r!.status} />
            </div>
          }
        >
          <div data-testid="lab-report-page" data-status={r!.status} className="space-y-3">
            <p className="text-xs text-slate-500">
              Uploaded {dateTime(r!.created_at)}
              {r!.collected_at && <> · collected {r!.collected_at}</>}
              {me!.role === "admin" && <> · only a doctor in the patient&apos;s care can review it</>}
            </p>
            <LabReportBody report={r!} onChanged={(u) => report.setData(u)} onReload={report.reload} />
          </div>
        </Card>
      )}
    </div>
  );
}
