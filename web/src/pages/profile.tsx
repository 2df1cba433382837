import { useState, type FormEvent } from "react";
import { ApiError, api, dateTime, errorMessage, request, requestFull, type NotificationPreferences, type PatientProfile } from "../api";
import { useAuth } from "../auth";
import { Button, Card, CheckboxField, ErrorBanner, Notice, PageTitle, SelectField, Spinner, TextField } from "../components/ui";
import { useLoad } from "../hooks";

const PHONE = /^\+[1-9][0-9]{6,14}$/;
const BLOOD = ["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"];

interface FormState {
  full_name: string;
  date_of_birth: string;
  sex: string;
  phone: string;
  allergies: string;
  blood_type: string;
  line1: string;
  city: string;
  country: string;
}

function toForm(p: PatientProfile | null, fallbackName: string): FormState {
  return {
    full_name: p?.full_name ?? fallbackName,
    date_of_birth: p?.date_of_birth ?? "",
    sex: p?.sex ?? "",
    phone: p?.phone ?? "",
    allergies: (p?.allergies ?? []).join(", "),
    blood_type: p?.blood_type ?? "",
    line1: p?.address?.line1 ?? "",
    city: p?.address?.city ?? "",
    country: p?.address?.country ?? "",
  };
}

function validate(f: FormState): Record<string, string> {
  const v: Record<string, string> = {};
  if (!f.full_name.trim()) v.full_name = "Enter your full name.";
  if (!/^\d{4}-\d{2}-\d{2}$/.test(f.date_of_birth)) v.date_of_birth = "Enter your date of birth.";
  else if (new Date(f.date_of_birth) > new Date()) v.date_of_birth = "The date of birth cannot be in the future.";
  if (!f.sex) v.sex = "Choose an option.";
  if (f.phone && !PHONE.test(f.phone.replace(/[\s-]/g, ""))) v.phone = "Use international format, e.g. +15555550100.";
  const anyAddress = f.line1 || f.city || f.country;
  if (anyAddress) {
    if (!f.line1.trim()) v.line1 = "Enter the street address.";
    if (!f.city.trim()) v.city = "Enter the city.";
    if (!/^[A-Za-z]{2}$/.test(f.country.trim())) v.country = "Use the 2-letter country code, e.g. US.";
  }
  return v;
}

function toBody(f: FormState) {
  const body: Record<string, unknown> = {
    full_name: f.full_name.trim(),
    date_of_birth: f.date_of_birth,
    sex: f.sex,
    phone: f.phone ? f.phone.replace(/[\s-]/g, "") : null,
    allergies: f.allergies
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
    blood_type: f.blood_type || null,
  };
  if (f.line1 || f.city || f.country) body.address = { line1: f.line1.trim(), city: f.city.trim(), country: f.country.trim().toUpperCase() };
  return body;
}

export function ProfilePage() {
  const { me } = useAuth();
  const id = me!.user_id;
  const load = useLoad(async () => {
    try {
      const r = await requestFull<PatientProfile>("GET", `/patients/${id}`);
      return { profile: r.data, etag: r.headers.get("etag") ?? `"${r.data.version}"` };
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return { profile: null, etag: null };
      throw e;
    }
  }, [id]);
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);

  if (load.loading && !load.data) return <Spinner label="Loading your profile…" />;
  if (load.error) return <ErrorBanner error={load.error} />;
  const { profile, etag } = load.data!;

  const creating = !profile;
  return (
    <div className="mx-auto max-w-2xl space-y-4">
      <PageTitle>{creating ? "Complete your profile" : "My profile"}</PageTitle>
      {saved && <Notice>{saved}</Notice>}
      {creating && <p className="text-sm text-slate-700">Before you book, tell us a little about yourself. Fields marked * are required.</p>}
      {!creating && !editing ? (
        <Card title="Details" actions={<Button variant="secondary" type="button" onClick={() => { setEditing(true); setSaved(null); }}>Edit profile</Button>}>
          <dl className="grid grid-cols-1 gap-x-6 gap-y-3 text-sm sm:grid-cols-2">
            {[
              ["Full name", profile.full_name],
              ["Date of birth", profile.date_of_birth],
              ["Sex", profile.sex],
              ["Phone", profile.phone ?? "—"],
              ["Blood type", profile.blood_type ?? "—"],
              ["Allergies", profile.allergies.length ? profile.allergies.join(", ") : "None recorded"],
              ["Address", profile.address ? `${profile.address.line1}, ${profile.address.city}, ${profile.address.country}` : "—"],
            ].map(([k, v]) => (
              <div key={k} className="min-w-0">
                <dt className="font-medium text-slate-500">{k}</dt>
                <dd className="break-words">{v}</dd>
              </div>
            ))}
          </dl>
        </Card>
      ) : (
        <ProfileForm
          initial={toForm(profile, me!.full_name)}
          submitLabel={creating ? "Save profile" : "Save changes"}
          onCancel={creating ? undefined : () => setEditing(false)}
          onSubmit={async (f) => {
            if (creating) {
              await request("POST", "/patients", { body: toBody(f) });
              setSaved("Profile saved. You can now book an appointment.");
            } else {
              await request("PATCH", `/patients/${id}`, { body: toBody(f), contentType: "application/merge-patch+json", headers: { "if-match": etag! } });
              setSaved("Your changes were saved.");
            }
            setEditing(false);
            await load.reload();
          }}
        />
      )}
      {!creating && <NotificationsCard patientId={id} email={me!.email} />}
    </div>
  );
}

/** Whether confirmations and reminders are e-mailed; saved as soon as it is changed. */
function NotificationsCard({ patientId, email }: { patientId: string; email: string }) {
  const path = `/patients/${patientId}/notification-preferences`;
  const prefs = useLoad(() => api.get<NotificationPreferences>(path), [path]);
  const [saving, setSaving] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function change(on: boolean) {
    const before = prefs.data;
    // Shown at once, put back if it cannot be saved.
    if (before) prefs.setData({ ...before, email: on });
    setSaving(true);
    setError(null);
    setStatus(null);
    try {
      prefs.setData(await request<NotificationPreferences>("PUT", path, { body: { email: on } }));
      setStatus(on ? "Saved: we e-mail you confirmations and reminders." : "Saved: we no longer e-mail you confirmations and reminders.");
    } catch (e) {
      prefs.setData(before);
      setError(`Not saved: ${errorMessage(e)}`);
    } finally {
      setSaving(false);
    }
  }

  return (
    <Card title="Notifications">
      {prefs.loading && !prefs.data ? (
        <Spinner label="Loading your notification settings…" />
      ) : prefs.error && !prefs.data ? (
        <ErrorBanner error={prefs.error} />
      ) : (
        <div className="space-y-3">
          <ErrorBanner error={error} />
          <CheckboxField
            label="E-mail me confirmations and reminders"
            hint={`Sent to ${email}.${prefs.data!.updated_at ? ` Last changed ${dateTime(prefs.data!.updated_at)}.` : ""}`}
            checked={prefs.data!.email}
            aria-busy={saving || undefined}
            onChange={(e) => {
              // Not disabled while saving: that would take the keyboard focus away.
              if (!saving) void change(e.target.checked);
            }}
          />
          <p role="status" className="text-sm text-teal-800">
            {status}
          </p>
        </div>
      )}
    </Card>
  );
}

function ProfileForm({
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial: FormState;
  submitLabel: string;
  onSubmit: (f: FormState) => Promise<void>;
  onCancel?: () => void;
}) {
  const [f, setF] = useState(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof FormState) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setF({ ...f, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v = validate(f);
    setErrors(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    setError(null);
    try {
      await onSubmit(f);
    } catch (err) {
      if (err instanceof ApiError && err.field) {
        const key = err.field.replace(/^address\./, "");
        setErrors({ [key]: err.message });
      }
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Card>
      <form noValidate onSubmit={submit} className="space-y-4" aria-label="Profile">
        <ErrorBanner error={error} />
        <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
          <TextField label="Full name *" value={f.full_name} onChange={set("full_name")} error={errors.full_name} autoComplete="name" />
          <TextField label="Date of birth *" type="date" value={f.date_of_birth} onChange={set("date_of_birth")} error={errors.date_of_birth} />
          <SelectField label="Sex *" value={f.sex} onChange={set("sex")} error={errors.sex}>
            <option value="">Choose…</option>
            <option value="female">Female</option>
            <option value="male">Male</option>
            <option value="other">Other</option>
            <option value="unknown">Prefer not to say</option>
          </SelectField>
          <TextField label="Phone" type="tel" value={f.phone} onChange={set("phone")} error={errors.phone} hint="International format, e.g. +15555550100" autoComplete="tel" />
          <SelectField label="Blood type" value={f.blood_type} onChange={set("blood_type")} error={errors.blood_type}>
            <option value="">Unknown</option>
            {BLOOD.map((b) => (
              <option key={b}>{b}</option>
            ))}
          </SelectField>
          <TextField label="Allergies" value={f.allergies} onChange={set("allergies")} error={errors.allergies} hint="Separate with commas" />
          <TextField label="Street address" value={f.line1} onChange={set("line1")} error={errors.line1} autoComplete="address-line1" />
          <TextField label="City" value={f.city} onChange={set("city")} error={errors.city} autoComplete="address-level2" />
          <TextField label="Country code" value={f.country} onChange={set("country")} error={errors.country} maxLength={2} hint="2 letters, e.g. US" />
        </div>
        <div className="flex flex-wrap gap-2">
          <Button busy={busy}>{submitLabel}</Button>
          {onCancel && (
            <Button type="button" variant="secondary" onClick={onCancel}>
              Cancel
            </Button>
          )}
        </div>
      </form>
    </Card>
  );
}
