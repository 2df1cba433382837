import { useRef, useState, type FormEvent } from "react";
import { ApiError, api, dateTime, errorMessage, request, uploadToS3, type LabReport, type LabUploadGrant, type Page } from "../api";
import { Button, Card, ErrorBanner, Notice, PageTitle, Spinner, StatusBadge } from "../components/ui";
import { useInterval, useLoad } from "../hooks";

const MAX_BYTES = 10 * 1024 * 1024;

export function LabResultsTable({ report }: { report: LabReport }) {
  if (report.status === "pending") return <Spinner label="Reading the report…" />;
  if (report.status !== "processed")
    return (
      <p className="text-sm text-slate-700">
        {report.status === "needs_review" ? "The report was read but no values were recognised; the clinic will review it." : "The file could not be read."}
        {report.reason && <span className="block text-slate-500">Reason: {report.reason}</span>}
      </p>
    );
  const out = report.results.filter((r) => r.flag === "H" || r.flag === "L").length;
  return (
    <div>
      <p className="mb-2 text-sm text-slate-700">
        {report.results.length} values; <strong>{out}</strong> outside the reference range (marked ▲ high, ▼ low).
      </p>
      <table className="w-full text-left text-sm" aria-label={`Results of ${report.filename}`}>
        <thead className="border-b border-slate-200">
          <tr>
            <th scope="col" className="py-2 pr-2">Test</th>
            <th scope="col" className="py-2 pr-2">Result</th>
            <th scope="col" className="hidden py-2 pr-2 sm:table-cell">Reference</th>
            <th scope="col" className="py-2">Flag</th>
          </tr>
        </thead>
        <tbody>
          {report.results.map((r, i) => {
            const high = r.flag === "H";
            const low = r.flag === "L";
            const outOfRange = high || low;
            return (
              <tr key={i} data-flag={r.flag ?? ""} className={`border-b border-slate-100 ${outOfRange ? "bg-red-50 font-semibold text-red-900" : ""}`}>
                <td className="py-1.5 pr-2 break-words">{r.name}</td>
                <td className="py-1.5 pr-2 whitespace-nowrap">
                  {r.value} {r.unit ?? ""}
                  <span className="block text-xs font-normal text-slate-500 sm:hidden">ref {r.reference_range ?? "—"}</span>
                </td>
                <td className="hidden py-1.5 pr-2 sm:table-cell">{r.reference_range ?? "—"}</td>
                <td className="py-1.5 whitespace-nowrap">
                  {high ? (
                    <span aria-label="High, above the reference range">▲ High</span>
                  ) : low ? (
                    <span aria-label="Low, below the reference range">▼ Low</span>
                  ) : r.flag === "normal" ? (
                    "Normal"
                  ) : (
                    "—"
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
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
  return (
    <ul className="space-y-3">
      {list.data!.map((r, idx) => {
        const expanded = open === r.report_id || (open === null && idx === 0);
        return (
          <li key={r.report_id} className="rounded-md border border-slate-200 p-3" data-testid="lab-report">
            <div className="flex flex-wrap items-center justify-between gap-2">
              <div className="min-w-0">
                <p className="break-all font-semibold">{r.filename}</p>
                <p className="text-xs text-slate-500">Uploaded {dateTime(r.created_at)}</p>
              </div>
              <div className="flex items-center gap-2">
                <StatusBadge status={r.status} />
                <Button type="button" variant="secondary" aria-expanded={expanded} onClick={() => setOpen(expanded ? "" : r.report_id)}>
                  {expanded ? "Hide" : "Show"} values
                </Button>
              </div>
            </div>
            {expanded && (
              <div className="mt-3">
                <LabResultsTable report={r} />
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
