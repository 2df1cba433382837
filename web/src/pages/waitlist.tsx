// The patient's waitlists: join one (a doctor or a specialty, a type of visit, a window of
// time), see each entry's status, leave it; a time that frees up is offered and held for a
// while: accept it (booked) or decline it. Offer e-mails link here (`#/waitlist`).
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import {
  ApiError,
  UUID,
  api,
  dateTime,
  errorMessage,
  request,
  rfc3339,
  typeLabel,
  type Appointment,
  type Page,
  type WaitlistEntry,
  type WaitlistOffer,
} from "../api";
import { Button, Card, ErrorBanner, Notice, PageTitle, Spinner, StatusBadge, TextField } from "../components/ui";
import { useInterval, useNow, usePaged } from "../hooks";
import { clockTime, countdown, fromLocalInput, localDate } from "../time";
import { TypeField, WhomFields, doctorNames, useDoctors, type WhomMode } from "./appointments";

type DoctorName = (id: string) => string;

/** `Consultation with Dr Ada` or `Consultation with any Cardiology doctor`. */
const entryText = (e: WaitlistEntry, doctorName: DoctorName) =>
  `${typeLabel(e.appointment_type)} with ${e.doctor_id ? doctorName(e.doctor_id) : `any ${e.specialty ?? ""} doctor`}`;

/** A `datetime-local` value `hours` from now, on the hour. */
function inputHoursFromNow(hours: number): string {
  const d = new Date(Date.now() + hours * 3_600_000);
  return `${localDate(d)}T${String(d.getHours()).padStart(2, "0")}:00`;
}

type JoinErrors = Partial<Record<"doctor_id" | "specialty" | "appointment_type" | "from" | "to", string>>;

function JoinForm({ doctors, onJoined }: { doctors: ReturnType<typeof useDoctors>; onJoined: (e: WaitlistEntry) => void }) {
  const [mode, setMode] = useState<WhomMode>("doctor");
  const [doctorId, setDoctorId] = useState("");
  const [specialty, setSpecialty] = useState("");
  const [type, setType] = useState("consultation");
  const [from, setFrom] = useState(() => inputHoursFromNow(1));
  const [to, setTo] = useState(() => inputHoursFromNow(24 * 7 + 1));
  const [errors, setErrors] = useState<JoinErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: JoinErrors = {};
    const id = doctorId.trim();
    const start = fromLocalInput(from);
    const end = fromLocalInput(to);
    if (mode === "doctor" && !id) v.doctor_id = "Choose a doctor.";
    else if (mode === "doctor" && !UUID.test(id)) v.doctor_id = "Enter the doctor's ID as the clinic gave it.";
    if (mode === "specialty" && !specialty) v.specialty = "Choose a specialty.";
    if (!start) v.from = "Choose the earliest time.";
    if (!end) v.to = "Choose the latest time.";
    else if (start && end <= start) v.to = "Must be after the earliest time.";
    else if (end.getTime() <= Date.now()) v.to = "Must be in the future.";
    setErrors(v);
    if (!start || !end || Object.values(v).some(Boolean)) return;
    setBusy(true);
    setError(null);
    try {
      const whom = mode === "doctor" ? { doctor_id: id } : { specialty };
      onJoined(await request<WaitlistEntry>("POST", "/waitlist", { body: { ...whom, appointment_type: type, from: rfc3339(start), to: rfc3339(end) } }));
    } catch (err) {
      if (err instanceof ApiError && err.field && ["doctor_id", "specialty", "appointment_type", "from", "to"].includes(err.field)) setErrors({ [err.field]: err.message });
      setError(err instanceof ApiError && err.status === 404 ? "Complete your profile before joining a waitlist." : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form noValidate onSubmit={submit} aria-label="Join a waitlist" className="space-y-4">
      <ErrorBanner error={error} />
      <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
        <div className="space-y-4">
          <WhomFields
            doctors={doctors}
            mode={mode}
            onMode={setMode}
            doctorId={doctorId}
            onDoctor={setDoctorId}
            specialty={specialty}
            onSpecialty={setSpecialty}
            errors={errors}
          />
        </div>
        <TypeField value={type} onChange={setType} error={errors.appointment_type} />
        <TextField label="Earliest time" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} error={errors.from} />
        <TextField label="Latest time" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} error={errors.to} hint="We offer you a time that frees up between these two." />
      </div>
      <Button busy={busy}>Join waitlist</Button>
    </form>
  );
}

interface OfferHandlers {
  onAccepted: (a: Appointment) => void;
  onDeclined: () => void;
  /** The offer expired or is no longer open: reload, with a message (null: none). */
  onEnded: (message: string | null) => void;
}

/** An open offer: its time, a countdown to its expiry, Accept and Decline. */
function OfferPanel({ offer, doctorName, onAccepted, onDeclined, onEnded }: { offer: WaitlistOffer; doctorName: DoctorName } & OfferHandlers) {
  const id = useId();
  const now = useNow(1000);
  const left = Date.parse(offer.expires_at) - now;
  const expired = left <= 0;
  const [busy, setBusy] = useState<"accept" | "decline" | null>(null);
  const ended = useRef(onEnded);
  ended.current = onEnded;
  useEffect(() => {
    if (expired) ended.current(null);
  }, [expired]);

  async function answer(kind: "accept" | "decline") {
    if (kind === "decline" && !window.confirm(`Decline the time on ${dateTime(offer.start_time)}? It is offered to someone else.`)) return;
    setBusy(kind);
    try {
      if (kind === "accept") onAccepted(await request<Appointment>("POST", `/waitlist/offers/${offer.offer_id}/accept`));
      else {
        await request("POST", `/waitlist/offers/${offer.offer_id}/decline`);
        onDeclined();
      }
    } catch (e) {
      onEnded(e instanceof ApiError && e.status === 409 ? "This offer has expired or is no longer open." : errorMessage(e));
    } finally {
      setBusy(null);
    }
  }

  return (
    <section aria-labelledby={`${id}-title`} className="mt-3 space-y-2 rounded-md border border-teal-300 bg-teal-50 p-3 text-sm text-teal-950" data-testid="waitlist-offer">
      <h3 id={`${id}-title`} className="font-semibold">
        A time is free for you
      </h3>
      <p id={`${id}-what`}>
        {typeLabel(offer.appointment_type)} with {doctorName(offer.doctor_id)} on <strong>{dateTime(offer.start_time)}</strong> (until {clockTime(offer.end_time)}).
      </p>
      {expired ? (
        <p className="font-semibold">This offer has expired.</p>
      ) : (
        <p>
          Held for you for{" "}
          <strong role="timer" className="tabular-nums" data-testid="offer-countdown">
            {countdown(left)}
          </strong>
          , until {clockTime(offer.expires_at)}.
        </p>
      )}
      <div className="flex flex-wrap gap-2">
        <Button type="button" busy={busy === "accept"} disabled={expired || !!busy} onClick={() => void answer("accept")} aria-describedby={`${id}-what`}>
          Accept
        </Button>
        <Button type="button" variant="secondary" busy={busy === "decline"} disabled={expired || !!busy} onClick={() => void answer("decline")} aria-describedby={`${id}-what`}>
          Decline
        </Button>
      </div>
    </section>
  );
}

function EntryItem({
  entry: e,
  doctorName,
  onLeave,
  leaving,
  offerHandlers,
}: {
  entry: WaitlistEntry;
  doctorName: DoctorName;
  onLeave: () => void;
  leaving: boolean;
  offerHandlers: OfferHandlers;
}) {
  const text = entryText(e, doctorName);
  return (
    <li className="rounded-md border border-slate-200 p-3" data-testid="waitlist-entry" data-status={e.status} data-entry={e.entry_id}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="font-semibold break-words">{text}</p>
          <p className="text-sm text-slate-700">
            Between {dateTime(e.from)} and {dateTime(e.to)}
          </p>
          <p className="text-xs text-slate-500">Joined {dateTime(e.created_at)}</p>
        </div>
        <StatusBadge status={e.status} />
      </div>
      {e.offer?.status === "open" && <OfferPanel offer={e.offer} doctorName={doctorName} {...offerHandlers} />}
      {(e.status === "waiting" || e.status === "offered") && (
        <Button type="button" variant="secondary" className="mt-3" busy={leaving} onClick={onLeave} aria-label={`Leave the waitlist for ${text}`}>
          Leave waitlist
        </Button>
      )}
    </li>
  );
}

export function WaitlistPage() {
  const doctors = useDoctors();
  const doctorName = doctorNames(doctors.data);
  const entries = usePaged((cursor) => api.get<Page<WaitlistEntry>>("/waitlist", { limit: 50, cursor }), []);
  // Offers come when a time frees up: look again every few seconds while any entry is open.
  const open = (entries.items ?? []).some((e) => e.status === "waiting" || e.status === "offered");
  useInterval(() => void entries.reload(), 5000, open);
  const [done, setDone] = useState<{ text: string; booked?: boolean } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [leaving, setLeaving] = useState<string | null>(null);

  const show = (text: string, booked = false) => {
    setError(null);
    setDone({ text, booked });
    void entries.reload();
  };
  const fail = (message: string | null) => {
    if (message) {
      setDone(null);
      setError(message);
    }
    void entries.reload();
  };

  async function leave(e: WaitlistEntry) {
    const text = entryText(e, doctorName);
    if (!window.confirm(`Leave the waitlist for ${text}?`)) return;
    setLeaving(e.entry_id);
    try {
      await request("DELETE", `/waitlist/${e.entry_id}`);
      show(`You left the waitlist for ${text}.`);
    } catch (err) {
      fail(errorMessage(err));
    } finally {
      setLeaving(null);
    }
  }

  return (
    <div className="space-y-4">
      <PageTitle>Waitlist</PageTitle>
      <p className="text-sm text-slate-700">
        No free time that suits you? Join a waitlist: when a time frees up between the times you choose, it is held for you for a short while and we tell you by e-mail. Accept
        it here before the hold runs out.
      </p>
      <ErrorBanner error={error} />
      {done && (
        <Notice>
          {done.text}
          {done.booked && (
            <>
              {" "}
              <a className="font-semibold underline" href="#/appointments">
                See my appointments
              </a>
            </>
          )}
        </Notice>
      )}
      <Card title="Join a waitlist">
        <JoinForm doctors={doctors} onJoined={(e) => show(`You are on the waitlist for ${entryText(e, doctorName)}, between ${dateTime(e.from)} and ${dateTime(e.to)}.`)} />
      </Card>
      <Card
        title="My waitlist entries"
        actions={
          <Button type="button" variant="secondary" onClick={() => void entries.reload()}>
            Refresh
          </Button>
        }
      >
        {!entries.items && entries.loading ? (
          <Spinner label="Loading your waitlist…" />
        ) : !entries.items ? (
          <ErrorBanner error={entries.error} />
        ) : entries.items.length === 0 ? (
          <p className="text-sm text-slate-600">You are not on any waitlist.</p>
        ) : (
          <>
            <ul className="space-y-3" aria-label="My waitlist entries">
              {entries.items.map((e) => (
                <EntryItem
                  key={e.entry_id}
                  entry={e}
                  doctorName={doctorName}
                  leaving={leaving === e.entry_id}
                  onLeave={() => void leave(e)}
                  offerHandlers={{
                    onAccepted: (a) => show(`Booked: ${typeLabel(a.appointment_type)} with ${doctorName(a.doctor_id)} on ${dateTime(a.start_time)}.`, true),
                    onDeclined: () => show("You declined the offered time."),
                    onEnded: fail,
                  }}
                />
              ))}
            </ul>
            <ErrorBanner error={entries.error} />
            {entries.next && (
              <Button type="button" variant="secondary" className="mt-3" busy={entries.loading} onClick={() => void entries.more()}>
                More
              </Button>
            )}
          </>
        )}
      </Card>
    </div>
  );
}
