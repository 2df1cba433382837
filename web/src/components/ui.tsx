import { useId, useLayoutEffect, useMemo, useRef, type ReactNode, type InputHTMLAttributes, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import { qrModules, qrPath } from "../qr";

/** `text` as a QR code (an SVG drawn here, no image service); nothing when it is too long. */
export function QrCode({ text, label, size = 192 }: { text: string; label: string; size?: number }) {
  const modules = useMemo(() => qrModules(text), [text]);
  if (!modules) return null;
  const n = modules.length + 8; // a quiet zone of four modules on each side
  return (
    <svg role="img" aria-label={label} viewBox={`0 0 ${n} ${n}`} width={size} height={size} shapeRendering="crispEdges" className="max-w-full rounded border border-slate-200 bg-white">
      <rect width={n} height={n} fill="#fff" />
      <path d={qrPath(modules)} fill="#0f172a" />
    </svg>
  );
}

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <p role="status" aria-live="polite" className="flex items-center gap-2 text-sm text-slate-600">
      <span aria-hidden="true" className="inline-block h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-teal-600" />
      {label}
    </p>
  );
}

export function ErrorBanner({ error }: { error: string | null | undefined }) {
  if (!error) return null;
  return (
    <div role="alert" className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800">
      <span className="font-semibold">Error: </span>
      {error}
    </div>
  );
}

export function Notice({ children }: { children: ReactNode }) {
  return (
    <div role="status" className="rounded-md border border-teal-300 bg-teal-50 px-3 py-2 text-sm text-teal-900">
      {children}
    </div>
  );
}

export function Card({ title, children, actions }: { title?: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm sm:p-6">
      {(title || actions) && (
        <div className="mb-4 flex flex-wrap items-center justify-between gap-2">
          {title && <h2 className="text-lg font-semibold">{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function PageTitle({ children }: { children: ReactNode }) {
  return <h1 className="mb-4 text-2xl font-bold tracking-tight">{children}</h1>;
}

const inputClass = (invalid: boolean) =>
  `mt-1 block w-full min-w-0 rounded-md border px-3 py-2 text-base shadow-sm focus:outline-none focus:ring-2 focus:ring-teal-500 ${
    invalid ? "border-red-500 bg-red-50" : "border-slate-300 bg-white"
  }`;

interface FieldProps {
  label: string;
  error?: string;
  hint?: string;
}

function FieldWrap({ id, label, error, hint, children }: FieldProps & { id: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <label htmlFor={id} className="block text-sm font-medium text-slate-700">
        {label}
      </label>
      {children}
      {hint && !error && (
        <p id={`${id}-hint`} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={`${id}-error`} className="mt-1 text-sm text-red-700">
          {error}
        </p>
      )}
    </div>
  );
}

function describedBy(id: string, error?: string, hint?: string) {
  return error ? `${id}-error` : hint ? `${id}-hint` : undefined;
}

export function TextField({ label, error, hint, ...rest }: FieldProps & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <FieldWrap id={id} label={label} error={error} hint={hint}>
      <input id={id} aria-invalid={!!error} aria-describedby={describedBy(id, error, hint)} className={inputClass(!!error)} {...rest} />
    </FieldWrap>
  );
}

export function SelectField({ label, error, hint, children, ...rest }: FieldProps & SelectHTMLAttributes<HTMLSelectElement>) {
  const id = useId();
  return (
    <FieldWrap id={id} label={label} error={error} hint={hint}>
      <select id={id} aria-invalid={!!error} aria-describedby={describedBy(id, error, hint)} className={inputClass(!!error)} {...rest}>
        {children}
      </select>
    </FieldWrap>
  );
}

export function TextAreaField({ label, error, hint, ...rest }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  return (
    <FieldWrap id={id} label={label} error={error} hint={hint}>
      <textarea id={id} aria-invalid={!!error} aria-describedby={describedBy(id, error, hint)} className={inputClass(!!error)} {...rest} />
    </FieldWrap>
  );
}

export function Button({
  children,
  busy,
  variant = "primary",
  className = "",
  ...rest
}: { busy?: boolean; variant?: "primary" | "secondary" | "danger" } & React.ButtonHTMLAttributes<HTMLButtonElement>) {
  const styles = {
    primary: "bg-teal-700 text-white hover:bg-teal-800 disabled:bg-teal-400",
    secondary: "border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 disabled:text-slate-400",
    danger: "border border-red-300 bg-white text-red-700 hover:bg-red-50 disabled:text-red-300",
  }[variant];
  return (
    <button
      type="submit"
      disabled={busy || rest.disabled}
      aria-busy={busy || undefined}
      className={`inline-flex items-center justify-center gap-2 rounded-md px-4 py-2 text-sm font-semibold focus:outline-none focus:ring-2 focus:ring-teal-500 focus:ring-offset-1 ${styles} ${className}`}
      {...rest}
    >
      {busy && <span aria-hidden="true" className="h-3 w-3 animate-spin rounded-full border-2 border-current border-t-transparent" />}
      {children}
    </button>
  );
}

export function StatusBadge({ status }: { status: string }) {
  const color: Record<string, string> = {
    scheduled: "bg-teal-100 text-teal-900",
    cancelled: "bg-slate-200 text-slate-700",
    open: "bg-amber-100 text-amber-900",
    paid: "bg-green-100 text-green-900",
    void: "bg-slate-200 text-slate-700",
    pending: "bg-amber-100 text-amber-900",
    processed: "bg-green-100 text-green-900",
    needs_review: "bg-orange-100 text-orange-900",
    unreadable: "bg-red-100 text-red-900",
    reviewed: "bg-teal-100 text-teal-900",
    attended: "bg-green-100 text-green-900",
    no_show: "bg-red-100 text-red-900",
    waiting: "bg-amber-100 text-amber-900",
    offered: "bg-teal-100 text-teal-900",
    booked: "bg-green-100 text-green-900",
    left: "bg-slate-200 text-slate-700",
  };
  return (
    <span className={`inline-block rounded-full px-2 py-0.5 text-xs font-semibold ${color[status] ?? "bg-slate-100 text-slate-800"}`}>
      {status.replace(/_/g, " ")}
    </span>
  );
}

const TONES = {
  teal: "bg-teal-100 text-teal-900",
  green: "bg-green-100 text-green-900",
  amber: "bg-amber-100 text-amber-900",
  red: "bg-red-100 text-red-900",
  slate: "bg-slate-200 text-slate-700",
};

/** A small label with a fixed wording (StatusBadge shows an API status as it is). */
export function Badge({ tone = "slate", children }: { tone?: keyof typeof TONES; children: ReactNode }) {
  return <span className={`inline-block rounded-full px-2 py-0.5 text-xs font-semibold whitespace-nowrap ${TONES[tone]}`}>{children}</span>;
}

/** A table that becomes stacked cards at phone width (no horizontal overflow). */
export function ResponsiveTable<T>({
  caption,
  rows,
  columns,
  rowKey,
  empty,
  rowProps,
}: {
  caption: string;
  rows: T[];
  columns: { header: string; cell: (row: T) => ReactNode }[];
  rowKey: (row: T) => string;
  empty: string;
  /** Extra attributes of a row: `data-*` for tests, a class to mark it. */
  rowProps?: (row: T) => { className?: string } & Record<`data-${string}`, string>;
}) {
  if (rows.length === 0) return <p className="text-sm text-slate-600">{empty}</p>;
  return (
    <table className="w-full text-left text-sm">
      <caption className="sr-only">{caption}</caption>
      <thead className="hidden border-b border-slate-200 md:table-header-group">
        <tr>
          {columns.map((c) => (
            <th key={c.header} scope="col" className="px-2 py-2 font-semibold text-slate-700">
              {c.header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => {
          const { className = "", ...attrs } = rowProps?.(r) ?? {};
          return (
            <tr key={rowKey(r)} {...attrs} className={`mb-3 block rounded-md border border-slate-200 p-2 md:mb-0 md:table-row md:rounded-none md:border-0 md:border-b md:p-0 ${className}`}>
              {columns.map((c) => (
                <td key={c.header} className="flex justify-between gap-3 px-2 py-1 md:table-cell md:py-2">
                  <span className="font-medium text-slate-500 md:hidden">{c.header}</span>
                  <span className="min-w-0 break-words text-right md:text-left">{c.cell(r)}</span>
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** A checkbox with its label on the right and an optional hint below. */
export function CheckboxField({ label, hint, ...rest }: { label: string; hint?: string } & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  return (
    <div className="flex items-start gap-2">
      <input id={id} type="checkbox" aria-describedby={hint ? `${id}-hint` : undefined} className="mt-1 h-4 w-4 shrink-0 accent-teal-700" {...rest} />
      <div className="min-w-0">
        <label htmlFor={id} className="text-sm font-medium text-slate-800">
          {label}
        </label>
        {hint && (
          <p id={`${id}-hint`} className="text-xs text-slate-500">
            {hint}
          </p>
        )}
      </div>
    </div>
  );
}

/** A modal dialog (the browser's own `<dialog>`: focus is kept inside, Escape closes it, and
 *  focus goes back where it was). Rendered while open; `onClose` unmounts it. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  // A layout effect: closed before it leaves the page, so the browser can put focus back.
  useLayoutEffect(() => {
    const dialog = ref.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (dialog && !dialog.open) dialog.showModal();
    return () => {
      dialog?.close();
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      aria-labelledby={`${id}-title`}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
      className="m-auto max-h-[calc(100dvh-2rem)] w-[min(44rem,calc(100vw-2rem))] overflow-y-auto rounded-lg border border-slate-200 bg-white p-4 text-slate-900 shadow-xl backdrop:bg-slate-900/40 sm:p-6"
    >
      <div className="mb-4 flex items-start justify-between gap-2">
        <h2 id={`${id}-title`} className="text-lg font-semibold">
          {title}
        </h2>
        <button type="button" onClick={onClose} aria-label="Close" className="rounded px-2 text-xl leading-none text-slate-500 hover:bg-slate-100 focus:outline-none focus:ring-2 focus:ring-teal-500">
          ×
        </button>
      </div>
      {children}
    </dialog>
  );
}
