// A lab report's values as read: grouped under their panel headings, flags (critical ones
// unmistakable), the previous result, the LOINC code and, for scans, OCR's confidence; and
// what the report's status means for them (pending, needs a clinician, reviewed).
import type { ReactNode } from "react";
import { dateTime, type LabFlag, type LabReport, type LabResult } from "../api";
import { Spinner } from "../components/ui";
import { doctorNames, useDoctors } from "./appointments";

export const isCritical = (f: LabFlag | null) => f === "HH" || f === "LL";
export const isOutOfRange = (f: LabFlag | null) => f === "H" || f === "L" || isCritical(f);

/** The flags a clinician may set, with their words. */
export const FLAG_LABELS: Record<LabFlag, string> = {
  normal: "Normal",
  H: "High (H)",
  L: "Low (L)",
  HH: "Critical high (HH)",
  LL: "Critical low (LL)",
  A: "Abnormal (A)",
};

/** Consecutive rows under the same panel heading, in the order printed (`index` into results). */
export function panelGroups(results: LabResult[]): { panel: string | null; rows: { result: LabResult; index: number }[] }[] {
  const groups: { panel: string | null; rows: { result: LabResult; index: number }[] }[] = [];
  results.forEach((result, index) => {
    const panel = result.panel?.trim() || null;
    const last = groups[groups.length - 1];
    if (last && last.panel === panel) last.rows.push({ result, index });
    else groups.push({ panel, rows: [{ result, index }] });
  });
  return groups;
}

/** A group's heading: its panel, or "Other tests" between panels; none when nothing has one. */
export const panelHeading = (panel: string | null, anyPanel: boolean) => panel ?? (anyPanel ? "Other tests" : null);

/** "OCR 96%": the value was read from a scan, with this confidence. */
export function OcrMarker({ confidence }: { confidence: number }) {
  const pct = Math.round(confidence * 100);
  const low = confidence < 0.9;
  return (
    <span
      title={`Read by OCR from a scan, ${pct}% confidence`}
      data-testid="ocr-confidence"
      className={`ml-1 inline-block rounded px-1 text-xs font-medium whitespace-nowrap ${low ? "bg-amber-100 text-amber-900" : "bg-slate-100 text-slate-600"}`}
    >
      OCR {pct}%<span className="sr-only"> confidence</span>
    </span>
  );
}

/** A flag in words: critical ones with a "Critical" label, abnormal ones without a direction. */
export function FlagLabel({ flag }: { flag: LabFlag | null }) {
  switch (flag) {
    case "HH":
    case "LL":
      return (
        <span className="inline-flex flex-wrap items-center gap-1 font-bold text-red-800">
          <span className="rounded bg-red-700 px-1.5 py-0.5 text-xs font-bold text-white uppercase">Critical</span>
          <span>
            <span aria-hidden="true">{flag === "HH" ? "▲▲ " : "▼▼ "}</span>
            {flag === "HH" ? "High" : "Low"}
          </span>
        </span>
      );
    case "H":
      return (
        <span>
          <span aria-hidden="true">▲ </span>High
        </span>
      );
    case "L":
      return (
        <span>
          <span aria-hidden="true">▼ </span>Low
        </span>
      );
    case "A":
      return <span className="text-amber-900">Abnormal</span>;
    case "normal":
      return <span>Normal</span>;
    default:
      return <span>—</span>;
  }
}

function rowClass(flag: LabFlag | null) {
  if (isCritical(flag)) return "border-l-4 border-l-red-700 bg-red-100 font-semibold text-red-950";
  if (flag === "H" || flag === "L") return "bg-red-50 font-semibold text-red-900";
  if (flag === "A") return "bg-amber-50 text-amber-950";
  return "";
}

/** One value: test (LOINC below), result (previous below), reference, flag. */
function ResultRow({ r }: { r: LabResult }) {
  return (
    <tr data-flag={r.flag ?? ""} data-testid="lab-result" className={`border-b border-slate-100 align-top ${rowClass(r.flag)}`}>
      <td className="py-1.5 pr-2 break-words">
        {r.name}
        {r.loinc && <span className="block text-xs font-normal text-slate-500">LOINC {r.loinc}</span>}
      </td>
      <td className="py-1.5 pr-2">
        <span className="whitespace-nowrap" data-testid="lab-value">
          {r.value} {r.unit ?? ""}
        </span>
        {r.confidence !== undefined && <OcrMarker confidence={r.confidence} />}
        <span className="block text-xs font-normal text-slate-500 sm:hidden">ref {r.reference_range ?? "—"}</span>
        {r.previous && (
          <span className="block text-xs font-normal text-slate-500" data-testid="lab-previous">
            previous: {r.previous.value}
            {r.previous.date ? ` (${r.previous.date})` : ""}
          </span>
        )}
      </td>
      <td className="hidden py-1.5 pr-2 sm:table-cell">{r.reference_range ?? "—"}</td>
      <td className="py-1.5">
        <FlagLabel flag={r.flag} />
      </td>
    </tr>
  );
}

/** The values of a report that has some, under their panel headings. */
export function ResultsTable({ report }: { report: LabReport }) {
  const results = report.results;
  const out = results.filter((r) => isOutOfRange(r.flag)).length;
  const critical = results.filter((r) => isCritical(r.flag)).length;
  const groups = panelGroups(results);
  const anyPanel = groups.some((g) => g.panel);
  return (
    <div>
      <p className="mb-2 text-sm text-slate-700">
        {results.length} values; <strong>{out}</strong> outside the reference range (marked ▲ high, ▼ low)
        {critical > 0 && (
          <>
            , of which <strong className="text-red-800">{critical} critical</strong>
          </>
        )}
        .
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
        {groups.map((g, gi) => {
          const heading = panelHeading(g.panel, anyPanel);
          return (
            <tbody key={gi}>
              {heading && (
                <tr data-testid="lab-panel">
                  <th scope="colgroup" colSpan={4} className="bg-slate-50 px-1 pt-3 pb-1 text-xs font-semibold tracking-wide text-slate-600 uppercase">
                    {heading}
                  </th>
                </tr>
              )}
              {g.rows.map(({ result, index }) => (
                <ResultRow key={index} r={result} />
              ))}
            </tbody>
          );
        })}
      </table>
    </div>
  );
}

function StatusNote({ tone, children, testId }: { tone: "amber" | "green"; children: ReactNode; testId: string }) {
  const colors = tone === "amber" ? "border-amber-300 bg-amber-50 text-amber-950" : "border-green-300 bg-green-50 text-green-950";
  return (
    <div className={`mb-3 rounded-md border px-3 py-2 text-sm ${colors}`} data-testid={testId}>
      {children}
    </div>
  );
}

/** "Reviewed by a clinician on …", naming the doctor when known. */
function ReviewedNote({ report }: { report: LabReport }) {
  const doctors = useDoctors();
  const name = report.reviewed_by ? doctorNames(doctors.data)(report.reviewed_by) : null;
  return (
    <StatusNote tone="green" testId="lab-reviewed">
      <strong>Reviewed by a clinician</strong>
      {report.reviewed_at && <> on {dateTime(report.reviewed_at)}</>}
      {name && <> ({name})</>}. These values were confirmed.
    </StatusNote>
  );
}

/** What the status means, then the values (when there are any). */
export function LabResultsTable({ report }: { report: LabReport }) {
  if (report.status === "pending") return <Spinner label="Reading the report…" />;
  const reason = report.reason && <span className="block text-slate-600">Reason: {report.reason}</span>;
  if (report.status === "unreadable")
    return (
      <p className="text-sm text-slate-700">
        The file could not be read.
        {reason}
      </p>
    );
  return (
    <div>
      {report.status === "needs_review" && (
        <StatusNote tone="amber" testId="lab-needs-review">
          <strong>Not confirmed yet: a clinician must confirm these values</strong> before they are relied on
          {report.results.length === 0 ? " (no values were recognised in the file)" : ""}.{reason}
        </StatusNote>
      )}
      {report.status === "reviewed" && <ReviewedNote report={report} />}
      {report.results.length > 0 ? <ResultsTable report={report} /> : report.status !== "needs_review" && <p className="text-sm text-slate-600">No values were found.</p>}
    </div>
  );
}
