// A doctor's availability: weekly hours in the doctor's time zone, exceptions (days off or other
// hours), the types of visit offered, the slot interval, buffer and minimum notice. Doctors edit
// their own, admins any doctor's. Versioned: GET's ETag goes back in If-Match (412 if stale).
import { useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { APPOINTMENT_TYPES, ApiError, errorMessage, requestFull, type Availability } from "../api";
import { Button, Card, CheckboxField, ErrorBanner, Notice, PageTitle, Spinner, TextField } from "../components/ui";
import { useLoad } from "../hooks";
import { browserTimeZone } from "../time";
import { doctorNames, useDoctors } from "./appointments";

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const CLOCK = /^([01][0-9]|2[0-3]):[0-5][05]$/;
const MAX_INTERVALS_PER_DAY = 8;
const MAX_NOTICE_MINUTES = 43_200;

interface Interval {
  id: string;
  start: string;
  end: string;
}
interface WeeklyInterval extends Interval {
  weekday: number;
}
interface ExceptionDay {
  id: string;
  date: string;
  /** None: closed all day. */
  hours: Interval[];
}
/** The form's copy of the document (numbers as typed). */
interface Draft {
  time_zone: string;
  weekly: WeeklyInterval[];
  exceptions: ExceptionDay[];
  types: string[];
  interval: string;
  buffer: string;
  notice: string;
}
/** Errors by field key: `time_zone`, …, `<interval id>.start`, `<exception id>.date`. */
type Errors = Record<string, string>;

const newId = () => crypto.randomUUID();

function toDraft(doc: Availability): Draft {
  return {
    time_zone: doc.time_zone,
    weekly: [...doc.weekly_hours].sort((a, b) => a.weekday - b.weekday || a.start.localeCompare(b.start)).map((h) => ({ id: newId(), ...h })),
    exceptions: (doc.exceptions ?? []).map((x) => ({ id: newId(), date: x.date, hours: x.hours.map((h) => ({ id: newId(), ...h })) })),
    types: [...doc.appointment_types],
    interval: String(doc.slot_interval_minutes ?? 15),
    buffer: String(doc.buffer_minutes ?? 0),
    notice: String(doc.minimum_notice_minutes ?? 0),
  };
}

/** Where a doctor without availability starts: weekdays 09:00–17:00 in the browser's zone. */
function templateDraft(): Draft {
  return toDraft({
    time_zone: browserTimeZone(),
    weekly_hours: [1, 2, 3, 4, 5].map((weekday) => ({ weekday, start: "09:00", end: "17:00" })),
    appointment_types: APPOINTMENT_TYPES.map((t) => t.value),
    slot_interval_minutes: 15,
    buffer_minutes: 0,
    minimum_notice_minutes: 0,
  });
}

/** The weekly intervals in the order they are sent (the API's `weekly_hours[i]`). */
const sentWeekly = (d: Draft) => [...d.weekly].sort((a, b) => a.weekday - b.weekday);

function toDocument(d: Draft): Availability {
  return {
    time_zone: d.time_zone.trim(),
    weekly_hours: sentWeekly(d).map(({ weekday, start, end }) => ({ weekday, start, end })),
    exceptions: d.exceptions.map((x) => ({ date: x.date, hours: x.hours.map(({ start, end }) => ({ start, end })) })),
    appointment_types: APPOINTMENT_TYPES.map((t) => t.value).filter((t) => d.types.includes(t)),
    slot_interval_minutes: Number(d.interval),
    buffer_minutes: Number(d.buffer),
    minimum_notice_minutes: Number(d.notice),
  };
}

/** The form's key of an API error's `field` (`weekly_hours[3].end`, `exceptions[0].hours[1].start`). */
function errorKey(d: Draft, field: string): string {
  const weekly = /^weekly_hours\[(\d+)\]\.(start|end|weekday)$/.exec(field);
  if (weekly) {
    const row = sentWeekly(d)[Number(weekly[1])];
    return row ? `${row.id}.${weekly[2] === "end" ? "end" : "start"}` : "weekly_hours";
  }
  const hours = /^exceptions\[(\d+)\]\.hours\[(\d+)\]\.(start|end)$/.exec(field);
  if (hours) {
    const h = d.exceptions[Number(hours[1])]?.hours[Number(hours[2])];
    return h ? `${h.id}.${hours[3]}` : "exceptions";
  }
  const day = /^exceptions\[(\d+)\]\.(date|hours)$/.exec(field);
  if (day) {
    const x = d.exceptions[Number(day[1])];
    return x ? `${x.id}.${day[2]}` : "exceptions";
  }
  return field;
}

const minutes = (clock: string) => (clock === "24:00" ? 1440 : Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3)));

/** Checks one day's intervals: times on the grid, each end after its start, no overlaps. */
function checkDay(hours: Interval[], errors: Errors, dayKey: string) {
  for (const h of hours) {
    if (!CLOCK.test(h.start)) errors[`${h.id}.start`] = "Use HH:MM on a 5-minute grid, e.g. 09:00.";
    if (!CLOCK.test(h.end) && h.end !== "24:00") errors[`${h.id}.end`] = "Use HH:MM on a 5-minute grid, e.g. 17:00 (24:00 for midnight).";
    else if (CLOCK.test(h.start) && minutes(h.end) <= minutes(h.start)) errors[`${h.id}.end`] = "Must be after the start.";
  }
  const valid = hours.filter((h) => !errors[`${h.id}.start`] && !errors[`${h.id}.end`]).sort((a, b) => minutes(a.start) - minutes(b.start));
  for (let i = 1; i < valid.length; i++) {
    if (minutes(valid[i].start) < minutes(valid[i - 1].end)) errors[`${valid[i].id}.start`] = "Overlaps other hours of that day.";
  }
  if (hours.length > MAX_INTERVALS_PER_DAY) errors[dayKey] = `At most ${MAX_INTERVALS_PER_DAY} intervals a day.`;
}

function wholeMinutes(value: string, min: number, max: number, step: number): boolean {
  const n = Number(value);
  return value.trim() !== "" && Number.isInteger(n) && n >= min && n <= max && n % step === 0;
}

function validate(d: Draft): Errors {
  const errors: Errors = {};
  if (!d.time_zone.trim()) errors.time_zone = "Enter a time zone, e.g. Europe/Berlin.";
  for (let weekday = 1; weekday <= 7; weekday++) {
    checkDay(
      d.weekly.filter((h) => h.weekday === weekday),
      errors,
      "weekly_hours",
    );
  }
  const dates = new Set<string>();
  for (const x of d.exceptions) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(x.date)) errors[`${x.id}.date`] = "Choose the date.";
    else if (dates.has(x.date)) errors[`${x.id}.date`] = "This date is listed twice.";
    dates.add(x.date);
    checkDay(x.hours, errors, `${x.id}.hours`);
  }
  if (d.types.length === 0) errors.appointment_types = "Offer at least one type of visit.";
  if (!wholeMinutes(d.interval, 5, 120, 5)) errors.slot_interval_minutes = "5 to 120 minutes, a multiple of 5.";
  if (!wholeMinutes(d.buffer, 0, 120, 5)) errors.buffer_minutes = "0 to 120 minutes, a multiple of 5.";
  if (!wholeMinutes(d.notice, 0, MAX_NOTICE_MINUTES, 1)) errors.minimum_notice_minutes = `0 to ${MAX_NOTICE_MINUTES} minutes (30 days).`;
  return errors;
}

/** One interval: "From" and "Until" and its remove button. */
function IntervalFields({ value, onChange, onRemove, errors, context }: { value: Interval; onChange: (i: Interval) => void; onRemove: () => void; errors: Errors; context: string }) {
  return (
    <div className="flex flex-wrap items-start gap-2" data-testid="interval">
      <div className="w-28">
        <TextField label="From" placeholder="09:00" value={value.start} onChange={(e) => onChange({ ...value, start: e.target.value.trim() })} error={errors[`${value.id}.start`]} />
      </div>
      <div className="w-28">
        <TextField label="Until" placeholder="17:00" value={value.end} onChange={(e) => onChange({ ...value, end: e.target.value.trim() })} error={errors[`${value.id}.end`]} />
      </div>
      <Button type="button" variant="secondary" className="mt-6" onClick={onRemove} aria-label={`Remove ${value.start || "these"}–${value.end || ""} hours on ${context}`}>
        Remove
      </Button>
    </div>
  );
}

/** A day's intervals with "Add hours"; "Closed" when there are none. */
function DayHours({ hours, onChange, errors, context, closedText }: { hours: Interval[]; onChange: (h: Interval[]) => void; errors: Errors; context: string; closedText: string }) {
  return (
    <div className="space-y-2">
      {hours.length === 0 && <p className="text-sm text-slate-500">{closedText}</p>}
      {hours.map((h) => (
        <IntervalFields
          key={h.id}
          value={h}
          context={context}
          errors={errors}
          onChange={(v) => onChange(hours.map((x) => (x.id === h.id ? v : x)))}
          onRemove={() => onChange(hours.filter((x) => x.id !== h.id))}
        />
      ))}
      <Button type="button" variant="secondary" onClick={() => onChange([...hours, { id: newId(), start: "", end: "" }])} aria-label={`Add hours on ${context}`}>
        Add hours
      </Button>
    </div>
  );
}

function WeeklyHoursFields({ draft, setDraft, errors }: { draft: Draft; setDraft: (d: Draft) => void; errors: Errors }) {
  const setDay = (weekday: number, hours: Interval[]) =>
    setDraft({ ...draft, weekly: [...draft.weekly.filter((h) => h.weekday !== weekday), ...hours.map((h) => ({ ...h, weekday }))].sort((a, b) => a.weekday - b.weekday) });
  return (
    <fieldset className="min-w-0 space-y-3">
      <legend className="text-base font-semibold">Weekly hours</legend>
      {errors.weekly_hours && <p className="text-sm text-red-700">{errors.weekly_hours}</p>}
      <div className="grid grid-cols-1 gap-3 lg:grid-cols-2">
        {WEEKDAYS.map((name, i) => (
          <fieldset key={name} className="min-w-0 rounded-md border border-slate-200 p-3">
            <legend className="px-1 text-sm font-semibold text-slate-700">{name}</legend>
            <DayHours
              hours={draft.weekly.filter((h) => h.weekday === i + 1)}
              onChange={(h) => setDay(i + 1, h)}
              errors={errors}
              context={name}
              closedText="Closed."
            />
          </fieldset>
        ))}
      </div>
    </fieldset>
  );
}

function ExceptionFields({ draft, setDraft, errors }: { draft: Draft; setDraft: (d: Draft) => void; errors: Errors }) {
  const update = (x: ExceptionDay) => setDraft({ ...draft, exceptions: draft.exceptions.map((e) => (e.id === x.id ? x : e)) });
  return (
    <fieldset className="min-w-0 space-y-3">
      <legend className="text-base font-semibold">Exceptions</legend>
      <p className="text-sm text-slate-600">Days whose hours replace the weekly ones: a day off (no hours) or other hours.</p>
      {errors.exceptions && <p className="text-sm text-red-700">{errors.exceptions}</p>}
      {draft.exceptions.map((x) => {
        const label = x.date ? `Exception on ${x.date}` : "New exception";
        return (
          <fieldset key={x.id} className="min-w-0 space-y-2 rounded-md border border-slate-200 p-3" data-testid="exception" data-date={x.date}>
            <legend className="px-1 text-sm font-semibold text-slate-700">{label}</legend>
            <div className="flex flex-wrap items-start gap-2">
              <div className="w-44">
                <TextField label="Date" type="date" value={x.date} onChange={(e) => update({ ...x, date: e.target.value })} error={errors[`${x.id}.date`]} />
              </div>
              <Button type="button" variant="danger" className="mt-6" onClick={() => setDraft({ ...draft, exceptions: draft.exceptions.filter((e) => e.id !== x.id) })} aria-label={`Remove the ${label.toLowerCase()}`}>
                Remove day
              </Button>
            </div>
            {errors[`${x.id}.hours`] && <p className="text-sm text-red-700">{errors[`${x.id}.hours`]}</p>}
            <DayHours hours={x.hours} onChange={(hours) => update({ ...x, hours })} errors={errors} context={x.date || "the new exception"} closedText="Closed all day." />
          </fieldset>
        );
      })}
      <Button type="button" variant="secondary" onClick={() => setDraft({ ...draft, exceptions: [...draft.exceptions, { id: newId(), date: "", hours: [] }] })}>
        Add a day
      </Button>
    </fieldset>
  );
}

function TypesFields({ draft, setDraft, error }: { draft: Draft; setDraft: (d: Draft) => void; error?: string }) {
  return (
    <fieldset className="min-w-0 space-y-2" aria-describedby={error ? "types-error" : undefined}>
      <legend className="text-base font-semibold">Types of visit offered</legend>
      {APPOINTMENT_TYPES.map((t) => (
        <CheckboxField
          key={t.value}
          label={t.label}
          checked={draft.types.includes(t.value)}
          onChange={(e) => setDraft({ ...draft, types: e.target.checked ? [...draft.types, t.value] : draft.types.filter((x) => x !== t.value) })}
        />
      ))}
      {error && (
        <p id="types-error" className="text-sm text-red-700">
          {error}
        </p>
      )}
    </fieldset>
  );
}

function timeZones(): string[] {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

interface Versioned {
  doc: Availability | null;
  etag: string | null;
}

function AvailabilityForm({ initial, etag, path, onSaved, onReload }: { initial: Draft; etag: string | null; path: string; onSaved: (v: Versioned) => void; onReload: () => void }) {
  const [draft, setDraft] = useState(initial);
  const [errors, setErrors] = useState<Errors>({});
  const [error, setError] = useState<string | null>(null);
  const [stale, setStale] = useState(false);
  const [busy, setBusy] = useState(false);
  const zones = useMemo(timeZones, []);
  const formRef = useRef<HTMLFormElement>(null);
  // After a refused save: to the first field in error, else to the message at the top.
  useEffect(() => {
    const form = formRef.current;
    const invalid = form?.querySelector<HTMLElement>('[aria-invalid="true"]');
    if (invalid) invalid.focus();
    else if (error) form?.scrollIntoView({ block: "start" });
  }, [errors, error]);
  const num = (k: "interval" | "buffer" | "notice") => (e: React.ChangeEvent<HTMLInputElement>) => setDraft({ ...draft, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v = validate(draft);
    setErrors(v);
    setStale(false);
    if (Object.keys(v).length) {
      setError("Check the fields marked below.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await requestFull<Availability>("PUT", path, { body: toDocument(draft), headers: etag ? { "if-match": etag } : {} });
      onSaved({ doc: r.data, etag: r.headers.get("etag") });
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) {
        setStale(true);
        setError("Someone else changed this availability after you opened it. Reload it to see their version (your changes here are lost), then edit again.");
      } else {
        if (err instanceof ApiError && err.field) setErrors({ [errorKey(draft, err.field)]: err.message });
        setError(err instanceof ApiError && err.status === 403 ? "You can change only your own availability." : errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <form ref={formRef} noValidate onSubmit={submit} aria-label="Availability" className="space-y-6">
      <ErrorBanner error={error} />
      {stale && (
        <Button type="button" variant="secondary" onClick={onReload}>
          Reload
        </Button>
      )}
      <Card>
        <div className="max-w-sm">
          <TextField
            label="Time zone"
            list="time-zones"
            value={draft.time_zone}
            onChange={(e) => setDraft({ ...draft, time_zone: e.target.value })}
            error={errors.time_zone}
            hint="An IANA name, e.g. Europe/Berlin. The hours below are local times there."
            autoComplete="off"
          />
          <datalist id="time-zones">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
        </div>
      </Card>
      <Card>
        <WeeklyHoursFields draft={draft} setDraft={setDraft} errors={errors} />
      </Card>
      <Card>
        <ExceptionFields draft={draft} setDraft={setDraft} errors={errors} />
      </Card>
      <Card>
        <div className="grid grid-cols-1 gap-6 md:grid-cols-2">
          <TypesFields draft={draft} setDraft={setDraft} error={errors.appointment_types} />
          <div className="space-y-4">
            <TextField label="Start times every (minutes)" type="number" min={5} max={120} step={5} value={draft.interval} onChange={num("interval")} error={errors.slot_interval_minutes} />
            <TextField
              label="Buffer between appointments (minutes)"
              type="number"
              min={0}
              max={120}
              step={5}
              value={draft.buffer}
              onChange={num("buffer")}
              error={errors.buffer_minutes}
              hint="Kept free before and after every appointment."
            />
            <TextField
              label="Minimum notice (minutes)"
              type="number"
              min={0}
              max={MAX_NOTICE_MINUTES}
              value={draft.notice}
              onChange={num("notice")}
              error={errors.minimum_notice_minutes}
              hint="How long before its start a visit can still be booked."
            />
          </div>
        </div>
      </Card>
      <div className="flex flex-wrap gap-2">
        <Button busy={busy}>Save availability</Button>
        <Button type="button" variant="secondary" onClick={onReload}>
          Discard changes
        </Button>
      </div>
    </form>
  );
}

/** The availability of `doctorId`: the doctor's own (`own`) or, for admins, any doctor's. */
export function AvailabilityPage({ doctorId, own }: { doctorId: string; own: boolean }) {
  const path = `/doctors/${encodeURIComponent(doctorId)}/availability`;
  const load = useLoad<Versioned>(async () => {
    try {
      const r = await requestFull<Availability>("GET", path);
      return { doc: r.data, etag: r.headers.get("etag") };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return { doc: null, etag: null };
      throw e;
    }
  }, [path]);
  const doctors = useDoctors();
  const [generation, setGeneration] = useState(0);
  const [saved, setSaved] = useState<string | null>(null);
  const name = doctorNames(doctors.data)(doctorId);

  const reload = () => {
    setSaved(null);
    setGeneration((g) => g + 1);
    void load.reload();
  };

  return (
    <div className="space-y-4">
      {!own && (
        <a href="#/admin/doctors" className="text-sm font-semibold text-teal-700 underline">
          All doctors
        </a>
      )}
      <PageTitle>{own ? "My availability" : `Availability of ${name}`}</PageTitle>
      {saved && <Notice>{saved}</Notice>}
      {load.loading && !load.data ? (
        <Spinner label="Loading availability…" />
      ) : load.error ? (
        <ErrorBanner error={load.error} />
      ) : (
        <>
          {!load.data!.doc && (
            <Notice>
              No availability yet: patients cannot book {own ? "you" : "this doctor"} until it is saved. Below is a starting point (weekdays 09:00–17:00).
            </Notice>
          )}
          <AvailabilityForm
            key={`${load.data!.etag ?? "new"}-${generation}`}
            initial={load.data!.doc ? toDraft(load.data!.doc) : templateDraft()}
            etag={load.data!.etag}
            path={path}
            onReload={reload}
            onSaved={(v) => {
              load.setData(v);
              setSaved("Availability saved. Patients see the new free times at once; booked appointments stay as they are.");
              window.scrollTo({ top: 0 });
            }}
          />
        </>
      )}
    </div>
  );
}
