// Clinician review of lab reports: the doctors' and admins' queue (critical reports first), the
// editor in which a doctor in the patient's care corrects values and signs a report off, and
// the versions of a report's values (the extraction, then each review), for every reader.
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import {
  ApiError,
  dateTime,
  errorMessage,
  humanField,
  labReportRevisions,
  labReviewQueue,
  reviewLabReport,
  type LabCorrection,
  type LabFlag,
  type LabReport,
  type LabResult,
  type LabReviewQueueEntry,
  type LabRevision,
} from "../api";
import { useAuth } from "../auth";
import { Badge, Button, Card, ErrorBanner, PageTitle, SelectField, Spinner, TextField } from "../components/ui";
import { useLoad, usePaged } from "../hooks";
import { doctorNames, useDoctors } from "./appointments";
import { FLAG_LABELS, FlagLabel, OcrMarker, isCritical, panelGroups, panelHeading } from "./lab-results";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

// ---------------------------------------------------------------- the queue

function QueueItem({ entry: e }: { entry: LabReviewQueueEntry }) {
  const critical = e.critical_values > 0;
  const when = e.collected_at ? `collected ${e.collected_at}` : `uploaded ${dateTime(e.created_at)}`;
  return (
    <li
      data-testid="review-queue-entry"
      data-report={e.report_id}
      data-critical={String(critical)}
      className={`rounded-md border p-3 ${critical ? "border-red-300 border-l-4 border-l-red-700 bg-red-50" : "border-slate-200"}`}
    >
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <a className="font-semibold break-words text-teal-700 underline" href={`#/patients/${e.patient_id}/lab-reports/${e.report_id}`}>
            Review the report {when}
          </a>
          <p className="text-sm text-slate-700">
            {plural(e.values, "value")} · uploaded {dateTime(e.created_at)}
          </p>
          <p className="text-xs break-all text-slate-500">
            Patient{" "}
            <a className="font-mono underline" href={`#/patients/${e.patient_id}`}>
              {e.patient_id}
            </a>
          </p>
          {e.reason && <p className="mt-1 text-sm break-words text-slate-700">Why: {e.reason}</p>}
        </div>
        <div className="flex flex-wrap gap-1">
          {critical && <Badge tone="red">{plural(e.critical_values, "critical value")}</Badge>}
          {e.read_by_ocr && <Badge tone="amber">Read by OCR</Badge>}
        </div>
      </div>
    </li>
  );
}

/** Reports waiting for a clinician: a doctor's are those of patients in their care. */
export function LabReviewQueuePage() {
  const queue = usePaged((cursor) => labReviewQueue(cursor), []);
  return (
    <div className="space-y-4">
      <PageTitle>Lab review</PageTitle>
      <p className="text-sm text-slate-700">
        Lab reports whose values a clinician must confirm (read from a scan, a critical value, a test the lab table does not know, or no values found). Reports with
        critical values come first, then the oldest.
      </p>
      <Card
        title="Waiting for review"
        actions={
          <Button type="button" variant="secondary" onClick={() => void queue.reload()}>
            Refresh
          </Button>
        }
      >
        {!queue.items && queue.loading ? (
          <Spinner label="Loading the review queue…" />
        ) : !queue.items ? (
          <ErrorBanner error={queue.error} />
        ) : queue.items.length === 0 ? (
          <p className="text-sm text-slate-600">No reports are waiting for review.</p>
        ) : (
          <>
            <ul className="space-y-3" aria-label="Reports waiting for review">
              {queue.items.map((e) => (
                <QueueItem key={e.report_id} entry={e} />
              ))}
            </ul>
            <ErrorBanner error={queue.error} />
            {queue.next && (
              <Button type="button" variant="secondary" className="mt-3" busy={queue.loading} onClick={() => void queue.more()}>
                More
              </Button>
            )}
          </>
        )}
      </Card>
    </div>
  );
}

// ---------------------------------------------------------------- the editor

interface Draft {
  value: string;
  unit: string;
  reference_range: string;
  /** "" only for a value read without a flag, left so. */
  flag: LabFlag | "";
}
type EditedField = keyof Draft;
const EDITED: EditedField[] = ["value", "unit", "reference_range", "flag"];

const draftOf = (r: LabResult): Draft => ({ value: r.value, unit: r.unit ?? "", reference_range: r.reference_range ?? "", flag: r.flag ?? "" });

/** What the draft changes in `r`, as the API takes it (an emptied unit or range is ""), or null. */
function correctionOf(index: number, r: LabResult, d: Draft): LabCorrection | null {
  const c: LabCorrection = { index };
  if (d.value.trim() !== r.value) c.value = d.value.trim();
  if (d.unit.trim() !== (r.unit ?? "")) c.unit = d.unit.trim();
  if (d.reference_range.trim() !== (r.reference_range ?? "")) c.reference_range = d.reference_range.trim();
  if (d.flag && d.flag !== r.flag) c.flag = d.flag;
  return Object.keys(c).length > 1 ? c : null;
}

type Errors = Record<string, string>;
const errorKey = (index: number, field: string) => `${index}.${field}`;

function CorrectionRow({ index, result, draft, errors, onChange }: { index: number; result: LabResult; draft: Draft; errors: Errors; onChange: (d: Draft) => void }) {
  const changed = correctionOf(index, result, draft);
  const recomputed = changed && (changed.value !== undefined || changed.reference_range !== undefined) && changed.flag === undefined;
  const set = (k: EditedField) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => onChange({ ...draft, [k]: e.target.value });
  return (
    <fieldset
      data-testid="lab-correction"
      data-changed={String(!!changed)}
      data-flag={result.flag ?? ""}
      className={`min-w-0 rounded-md border p-3 ${changed ? "border-teal-500 bg-teal-50" : isCritical(result.flag) ? "border-red-300 bg-red-50" : "border-slate-200"}`}
    >
      <legend className="px-1 text-sm font-semibold break-words">{result.name}</legend>
      <p className="mb-2 flex flex-wrap items-center gap-x-2 text-xs text-slate-600">
        <span>
          Read as {result.value} {result.unit ?? ""}
          {result.reference_range ? ` (ref ${result.reference_range})` : ""}
        </span>
        <FlagLabel flag={result.flag} />
        {result.confidence !== undefined && <OcrMarker confidence={result.confidence} />}
        {result.loinc && <span>LOINC {result.loinc}</span>}
        {result.previous && (
          <span>
            previous: {result.previous.value}
            {result.previous.date ? ` (${result.previous.date})` : ""}
          </span>
        )}
      </p>
      <div className="grid grid-cols-1 gap-2 sm:grid-cols-2 lg:grid-cols-4">
        <TextField label="Value" value={draft.value} onChange={set("value")} error={errors[errorKey(index, "value")]} autoComplete="off" spellCheck={false} />
        <TextField label="Unit" value={draft.unit} onChange={set("unit")} error={errors[errorKey(index, "unit")]} autoComplete="off" spellCheck={false} />
        <TextField label="Reference range" value={draft.reference_range} onChange={set("reference_range")} error={errors[errorKey(index, "reference_range")]} autoComplete="off" />
        <SelectField label="Flag" value={draft.flag} onChange={set("flag")} error={errors[errorKey(index, "flag")]} hint={recomputed ? "Computed again from the new value unless you choose one." : undefined}>
          {result.flag === null && <option value="">— (none)</option>}
          {(Object.keys(FLAG_LABELS) as LabFlag[]).map((f) => (
            <option key={f} value={f}>
              {FLAG_LABELS[f]}
            </option>
          ))}
        </SelectField>
      </div>
    </fieldset>
  );
}

/**
 * A doctor corrects a report's values inline, then saves the corrections or signs the report
 * off (with them). The report and its revision are taken as they were when editing began: a
 * review or upload since then is refused (412) and offered for reloading.
 */
export function ReviewEditor({
  report,
  onDone,
  onCancel,
  onReload,
}: {
  report: LabReport;
  onDone: (updated: LabReport, signedOff: boolean) => void;
  onCancel: () => void;
  onReload: () => void;
}) {
  const [base] = useState(report);
  const [drafts, setDrafts] = useState(() => base.results.map(draftOf));
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<string | null>(null);
  const [stale, setStale] = useState(false);
  const [busy, setBusy] = useState<"save" | "sign" | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  const corrections = useMemo(() => drafts.map((d, i) => correctionOf(i, base.results[i], d)).filter((c): c is LabCorrection => c !== null), [drafts, base]);
  const groups = useMemo(() => panelGroups(base.results), [base]);
  const anyPanel = groups.some((g) => g.panel);

  // After a refusal: to the first field in error, else to the message at the top.
  useEffect(() => {
    const form = formRef.current;
    const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    else if (error) form?.scrollIntoView({ block: "start" });
  }, [errors, error]);

  async function send(signOff: boolean) {
    setStale(false);
    const v: Errors = {};
    for (const c of corrections) if (c.value === "") v[errorKey(c.index, "value")] = "Enter a value.";
    setErrors(v);
    if (Object.keys(v).length) return setError("Check the values marked below.");
    if (!signOff && corrections.length === 0) return setError("Nothing to save: correct a value first, or sign the report off.");
    setError(null);
    const what = corrections.length ? ` with ${plural(corrections.length, "corrected value")}` : "";
    if (signOff && !window.confirm(`Sign off these ${base.results.length} values${what}? A signed-off report can no longer be changed.`)) return;
    setBusy(signOff ? "sign" : "save");
    try {
      onDone(await reviewLabReport(base.patient_id, base.report_id, { revision: base.revision, corrections, sign_off: signOff }), signOff);
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) {
        setStale(true);
        setError("This report changed after you opened it (another clinician reviewed it, or a new file was uploaded). Reload it to see the current values; your corrections here are lost.");
      } else if (err instanceof ApiError && err.status === 409 && err.type?.endsWith("already-reviewed")) {
        setStale(true);
        setError("This report was signed off already: its values no longer change. Reload it to see them.");
      } else if (err instanceof ApiError && err.status === 403) {
        setError("Only a doctor in this patient's care can review their lab reports.");
      } else if (err instanceof ApiError && err.field) {
        // `corrections[2].value`: the third correction sent, at its value's field.
        const m = /^corrections\[(\d+)\]\.(\w+)$/.exec(err.field);
        const c = m ? corrections[Number(m[1])] : undefined;
        const detail = err.message.replace(`${humanField(err.field)}: `, "");
        if (c && m && (EDITED as string[]).includes(m[2])) {
          setErrors({ [errorKey(c.index, m[2])]: detail });
          setError(`${base.results[c.index].name}, ${humanField(m[2]).toLowerCase()}: ${detail}`);
        } else setError(errorMessage(err));
      } else setError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  }

  return (
    <form
      ref={formRef}
      noValidate
      aria-label="Review lab values"
      className="space-y-4"
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        void send(false);
      }}
    >
      <p className="text-sm text-slate-700">
        Correct what was read wrongly (compare with the paper report). When you change a value or a range, its flag is computed again unless you choose one; an emptied unit or
        range is removed. Signing off confirms all values.
      </p>
      <ErrorBanner error={error} />
      {stale && (
        <Button type="button" variant="secondary" onClick={onReload}>
          Reload
        </Button>
      )}
      {base.results.length === 0 && <p className="text-sm text-slate-600">No values were recognised in this report: you can only sign it off.</p>}
      {groups.map((g, gi) => {
        const heading = panelHeading(g.panel, anyPanel);
        return (
          <section key={gi} className="space-y-2" aria-label={heading ?? undefined}>
            {heading && <h3 className="text-xs font-semibold tracking-wide text-slate-600 uppercase">{heading}</h3>}
            {g.rows.map(({ result, index }) => (
              <CorrectionRow
                key={index}
                index={index}
                result={result}
                draft={drafts[index]}
                errors={errors}
                onChange={(d) => setDrafts((all) => all.map((x, i) => (i === index ? d : x)))}
              />
            ))}
          </section>
        );
      })}
      <div className="sticky bottom-0 flex flex-wrap items-center gap-2 border-t border-slate-200 bg-white/95 py-3">
        <Button busy={busy === "save"} disabled={!!busy}>
          Save corrections
        </Button>
        <Button type="button" busy={busy === "sign"} disabled={!!busy} onClick={() => void send(true)}>
          Sign off
        </Button>
        <Button type="button" variant="secondary" disabled={!!busy} onClick={onCancel}>
          Cancel
        </Button>
        <span className="text-sm text-slate-600" aria-live="polite" data-testid="corrections-count">
          {corrections.length ? `${plural(corrections.length, "value")} corrected` : "No corrections yet"}
        </span>
      </div>
    </form>
  );
}

// ---------------------------------------------------------------- the versions

const FIELD_WORDS: Record<string, string> = { reference_range: "reference range", unit_ucum: "UCUM unit", loinc: "LOINC" };

function RevisionItem({ v, doctorName, selfId }: { v: LabRevision; doctorName: (id: string) => string; selfId: string }) {
  const who = v.by ? (v.by === selfId ? "you" : v.by_role === "doctor" ? doctorName(v.by) : (v.by_role ?? "someone")) : null;
  return (
    <li className="rounded-md border border-slate-200 p-3 text-sm" data-testid="lab-revision" data-kind={v.kind} data-revision={v.revision}>
      <p className="font-semibold">
        Version {v.revision}: {v.kind === "extraction" ? "as read from the file" : v.signed_off ? "review, signed off" : "review, corrections"}
      </p>
      <p className="text-xs break-all text-slate-500">
        {dateTime(v.at)}
        {who && (
          <>
            {" "}
            · by {who} <span className="font-mono">({v.by})</span>
          </>
        )}
      </p>
      {v.kind === "extraction" ? (
        <p className="mt-1 text-slate-700">{plural(v.results.length, "value")} as they were read.</p>
      ) : v.changes.length === 0 ? (
        <p className="mt-1 text-slate-700">No values changed.</p>
      ) : (
        <ul className="mt-1 list-disc space-y-0.5 pl-5" aria-label={`Changes in version ${v.revision}`}>
          {v.changes.map((c, i) => (
            <li key={i} className="break-words">
              <span className="font-medium">{v.results[c.index]?.name ?? `Value ${c.index + 1}`}</span> —{" "}
              <span data-testid="lab-change">
                {FIELD_WORDS[c.field] ?? c.field}: {c.before ?? "—"} → {c.after ?? "—"}
              </span>
            </li>
          ))}
        </ul>
      )}
    </li>
  );
}

/** Every version of a report's values, oldest first (reloaded when the report's revision moves). */
export function LabVersions({ report }: { report: LabReport }) {
  const { me } = useAuth();
  const doctors = useDoctors();
  const list = useLoad(() => labReportRevisions(report.patient_id, report.report_id), [report.patient_id, report.report_id, report.revision]);
  if (list.loading && !list.data) return <Spinner label="Loading the versions…" />;
  if (list.error) return <ErrorBanner error={list.error} />;
  if (!list.data!.length) return <p className="text-sm text-slate-600">Not reviewed yet: the values are as they were read from the file.</p>;
  return (
    <ol className="space-y-2" aria-label="Versions">
      {list.data!.map((v) => (
        <RevisionItem key={v.revision} v={v} doctorName={doctorNames(doctors.data)} selfId={me!.user_id} />
      ))}
    </ol>
  );
}
