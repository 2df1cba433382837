// The free-slot calendar: a range of days, the doctor's (or a specialty's) free start times
// from the API grouped by local day, and one of them chosen. Used to book and to reschedule.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { api, dateTime, errorMessage, rfc3339, type DoctorSlots, type Page, type Slot } from "../api";
import { addDays, browserTimeZone, clockTime, daysBetween, daysFrom, localDate, longDay, shortDay, startOfDay } from "../time";
import { Button, ErrorBanner, Spinner, TextField } from "./ui";

/** Whose free times: one doctor's, or those of every doctor of a specialty. */
export type SlotSource = { doctorId: string } | { specialty: string };

/** Local days, both included. */
export interface DayRange {
  first: string;
  last: string;
}

/** The API answers at most 31 days at once. */
export const MAX_RANGE_DAYS = 31;
const DAY_MS = 86_400_000;

export const sameSlot = (a: Slot | null, b: Slot | null) => !!a && !!b && a.doctor_id === b.doctor_id && a.start_time === b.start_time;

export function weekFrom(first: string): DayRange {
  return { first, last: addDays(first, 6) };
}

function rangeErrors(r: DayRange): { first?: string; last?: string } {
  const today = localDate(new Date());
  if (!r.first) return { first: "Choose the first day." };
  if (!r.last) return { last: "Choose the last day." };
  if (r.last < today) return { last: "Choose days from today on." };
  if (r.last < r.first) return { last: "The last day cannot be before the first." };
  if (daysBetween(r.first, r.last) + 1 > MAX_RANGE_DAYS) return { last: `Choose at most ${MAX_RANGE_DAYS} days.` };
  return {};
}

/** `[from, to)` for the API: local midnight of the first day to the midnight after the last,
 *  never more than 31 days (a DST change can make 31 local days an hour longer). */
function rangeQuery(r: DayRange) {
  const from = startOfDay(r.first);
  const to = new Date(Math.min(startOfDay(addDays(r.last, 1)).getTime(), from.getTime() + MAX_RANGE_DAYS * DAY_MS));
  return { from: rfc3339(from), to: rfc3339(to) };
}

interface Loaded {
  key: string;
  slots: Slot[];
  next: string | null;
  timeZone: string | null;
}

/** The free times of `source` for `type` over `range` (null: nothing to ask yet). Only the
 *  answer to the current question is returned, never the previous one while it loads. */
function useFreeSlots(source: SlotSource | null, type: string, range: DayRange | null, version: string) {
  const key = JSON.stringify([source, type, range, version]);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);
  const load = useCallback(
    async (cursor?: string) => {
      const n = cursor ? seq.current : ++seq.current;
      setError(null);
      if (!source || !range) {
        setLoaded({ key, slots: [], next: null, timeZone: null });
        setLoading(false);
        return;
      }
      setLoading(true);
      try {
        const query = { ...rangeQuery(range), type };
        let page: Page<Slot>;
        let timeZone: string | null = null;
        if ("doctorId" in source) {
          const r = await api.get<DoctorSlots>(`/doctors/${encodeURIComponent(source.doctorId)}/slots`, query);
          page = { items: r.slots, next_cursor: null };
          timeZone = r.time_zone;
        } else {
          page = await api.get<Page<Slot>>("/slots", { ...query, specialty: source.specialty, limit: 100, cursor });
        }
        if (n !== seq.current) return;
        setLoaded((prev) =>
          cursor && prev?.key === key
            ? { ...prev, slots: [...prev.slots, ...page.items], next: page.next_cursor }
            : { key, slots: page.items, next: page.next_cursor, timeZone },
        );
      } catch (e) {
        if (n === seq.current) setError(errorMessage(e));
      } finally {
        if (n === seq.current) setLoading(false);
      }
    },
    // `key` stands for source, type, range and version.
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );
  useEffect(() => {
    void load();
  }, [load]);
  const current = loaded?.key === key ? loaded : null;
  return {
    slots: current?.slots ?? null,
    next: current?.next ?? null,
    timeZone: current?.timeZone ?? null,
    error,
    loading,
    more: () => (current?.next ? load(current.next) : Promise.resolve()),
  };
}

/**
 * Pick a free start time. The days of the range are buttons (with how many times are free);
 * the chosen day's times are buttons too. Whenever the question changes (source, type, days,
 * or `refreshKey` after a refused booking) the choice is cleared.
 */
export function FreeSlotPicker({
  source,
  type,
  selected,
  onSelect,
  refreshKey,
  doctorName,
  initialDay,
}: {
  source: SlotSource | null;
  type: string;
  selected: Slot | null;
  onSelect: (slot: Slot | null) => void;
  refreshKey: number;
  doctorName: (doctorId: string) => string;
  initialDay?: string;
}) {
  const today = localDate(new Date());
  const [range, setRange] = useState<DayRange>(() => weekFrom(initialDay && initialDay > today ? initialDay : today));
  const errors = rangeErrors(range);
  const valid = !errors.first && !errors.last;
  // A failed load can be tried again without changing the question.
  const [retries, setRetries] = useState(0);
  const free = useFreeSlots(source, type, valid ? range : null, `${refreshKey}:${retries}`);
  const question = JSON.stringify([source, type, range]);

  const select = useRef(onSelect);
  select.current = onSelect;
  useEffect(() => {
    select.current(null);
  }, [question, refreshKey]);

  const byDay = useMemo(() => {
    const m = new Map<string, Slot[]>();
    for (const s of free.slots ?? []) {
      const d = localDate(new Date(s.start_time));
      const list = m.get(d);
      if (list) list.push(s);
      else m.set(d, [s]);
    }
    return m;
  }, [free.slots]);
  const days = valid ? daysFrom(range.first, range.last) : [];
  // Days after the last time loaded are unknown while a specialty's list has more pages.
  const lastLoaded = free.next && free.slots?.length ? localDate(new Date(free.slots[free.slots.length - 1].start_time)) : null;

  const [picked, setPicked] = useState<{ question: string; day: string } | null>(null);
  const day = picked?.question === question && days.includes(picked.day) ? picked.day : (days.find((d) => byDay.has(d)) ?? days[0]);
  const times = day ? (byDay.get(day) ?? []) : [];
  const bySpecialty = !!source && "specialty" in source;

  const shift = (n: number) => setRange({ first: addDays(range.first || today, n), last: addDays(range.last || range.first || today, n) });
  const setField = (k: keyof DayRange) => (e: React.ChangeEvent<HTMLInputElement>) => setRange({ ...range, [k]: e.target.value });

  return (
    <div className="space-y-4">
      <div className="flex flex-wrap items-end gap-3">
        <div className="w-44">
          <TextField label="First day" type="date" min={today} value={range.first} onChange={setField("first")} error={errors.first} />
        </div>
        <div className="w-44">
          <TextField label="Last day" type="date" min={range.first || today} value={range.last} onChange={setField("last")} error={errors.last} />
        </div>
        <div className="flex gap-2 pb-0.5">
          <Button type="button" variant="secondary" disabled={!range.first || range.first <= today} onClick={() => shift(-7)}>
            Previous week
          </Button>
          <Button type="button" variant="secondary" onClick={() => shift(7)}>
            Next week
          </Button>
        </div>
      </div>
      <p className="text-xs text-slate-500">
        Times are shown in your time zone ({browserTimeZone()}){free.timeZone && free.timeZone !== browserTimeZone() ? `; the doctor works in ${free.timeZone}` : ""}. Up to{" "}
        {MAX_RANGE_DAYS} days at a time.
      </p>
      {!source ? (
        <p className="text-sm text-slate-600">Choose whom to see to list the free times.</p>
      ) : free.error && !free.slots ? (
        <div className="space-y-2">
          <ErrorBanner error={`Could not load the free times: ${free.error}`} />
          <Button type="button" variant="secondary" onClick={() => setRetries((n) => n + 1)}>
            Try again
          </Button>
        </div>
      ) : !valid ? null : !free.slots ? (
        <Spinner label="Loading free times…" />
      ) : (
        <div className="space-y-3">
          <ul aria-label="Days" className="grid grid-cols-3 gap-2 sm:grid-cols-7">
            {days.map((d) => {
              const n = byDay.get(d)?.length ?? 0;
              const unknown = !!lastLoaded && d > lastLoaded;
              const { weekday, date } = shortDay(d);
              return (
                <li key={d}>
                  <button
                    type="button"
                    data-day={d}
                    aria-pressed={d === day}
                    onClick={() => setPicked({ question, day: d })}
                    className="w-full rounded-md border border-slate-300 px-2 py-1.5 text-center text-sm hover:bg-slate-100 focus:outline-none focus:ring-2 focus:ring-teal-500 aria-pressed:border-teal-700 aria-pressed:bg-teal-50"
                  >
                    <span className="block font-semibold">
                      {weekday} {date}
                    </span>
                    <span className={`block text-xs ${n ? "text-teal-800" : "text-slate-500"}`}>{unknown ? "more to load" : n ? `${n} free` : "none free"}</span>
                  </button>
                </li>
              );
            })}
          </ul>
          {day && (
            <div className="space-y-2">
              <h3 className="text-sm font-semibold text-slate-700">{longDay(day)}</h3>
              {times.length === 0 ? (
                <p className="text-sm text-slate-600">{lastLoaded && day > lastLoaded ? "Load more free times to see this day." : "No free times on this day."}</p>
              ) : (
                <ul aria-label={`Free times on ${longDay(day)}`} className="flex max-h-80 flex-wrap gap-2 overflow-y-auto p-0.5">
                  {times.map((s) => (
                    <li key={`${s.doctor_id}|${s.start_time}`}>
                      <button
                        type="button"
                        data-start={s.start_time}
                        aria-pressed={sameSlot(s, selected)}
                        onClick={() => onSelect(s)}
                        className="min-w-[4.5rem] rounded-md border border-teal-700 px-3 py-1.5 text-sm font-semibold text-teal-800 hover:bg-teal-50 focus:outline-none focus:ring-2 focus:ring-teal-500 aria-pressed:bg-teal-700 aria-pressed:text-white"
                      >
                        {clockTime(s.start_time)}
                        {bySpecialty && (
                          <>
                            {" "}
                            <span className="block text-xs font-normal">{doctorName(s.doctor_id)}</span>
                          </>
                        )}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </div>
          )}
          <ErrorBanner error={free.error} />
          {free.next && free.slots.length > 0 && (
            <div className="flex flex-wrap items-center gap-3">
              <Button type="button" variant="secondary" busy={free.loading} onClick={() => void free.more()}>
                More free times
              </Button>
              <span className="text-xs text-slate-500">Showing free times up to {dateTime(free.slots[free.slots.length - 1].start_time)}.</span>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

/** `Monday, December 14 at 10:30` (and the doctor, when known). */
export function slotText(slot: Slot, doctor?: string) {
  return `${longDay(localDate(new Date(slot.start_time)))} at ${clockTime(slot.start_time)}${doctor ? ` with ${doctor}` : ""}`;
}
