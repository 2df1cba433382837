// Local dates and times for the scheduling screens. The API speaks UTC instants (RFC 3339);
// the portal shows and groups them in the browser's time zone.

const pad = (n: number) => String(n).padStart(2, "0");

/** `YYYY-MM-DD` of a Date in the browser's time zone. */
export function localDate(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** Local midnight of a `YYYY-MM-DD` day. */
export function startOfDay(day: string): Date {
  return new Date(`${day}T00:00`);
}

/** `YYYY-MM-DD` `n` days after `day` (calendar days, whatever the DST changes). */
export function addDays(day: string, n: number): string {
  const d = startOfDay(day);
  d.setDate(d.getDate() + n);
  return localDate(d);
}

/** Calendar days from `from` to `to` (0 when the same day). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.UTC(...ymd(to)) - Date.UTC(...ymd(from))) / 86_400_000);
}

function ymd(day: string): [number, number, number] {
  const [y, m, d] = day.split("-").map(Number);
  return [y, m - 1, d];
}

/** Every day from `from` to `to`, both included. */
export function daysFrom(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to && out.length < 400; d = addDays(d, 1)) out.push(d);
  return out;
}

/** `10:30`: a 24-hour local time, the same in every locale. */
export const clockTime = (iso: string) => new Date(iso).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });

/** `Monday, December 14` for a `YYYY-MM-DD` day. */
export const longDay = (day: string) => startOfDay(day).toLocaleDateString(undefined, { weekday: "long", month: "long", day: "numeric" });

/** `Mon` and `Dec 14`, the two lines of a day button. */
export const shortDay = (day: string) => ({
  weekday: startOfDay(day).toLocaleDateString(undefined, { weekday: "short" }),
  date: startOfDay(day).toLocaleDateString(undefined, { month: "short", day: "numeric" }),
});

/** `YYYY-MM-DDTHH:MM` (a `datetime-local` value) to a Date, or null when incomplete. */
export function fromLocalInput(value: string): Date | null {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** What is left of `ms` milliseconds as `14:05` or `1:02:09`. */
export function countdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** The browser's IANA time zone, e.g. `Europe/Berlin`. */
export const browserTimeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
