// The CareFlow HTTP API client: tokens in memory only, proactive and on-401 refresh, and every
// error turned into an ApiError with a readable message (problem+json `detail`, and its `field`).

declare global {
  interface Window {
    CAREFLOW_CONFIG?: { apiBaseUrl?: string };
  }
}

export const apiBaseUrl = (window.CAREFLOW_CONFIG?.apiBaseUrl ?? "").replace(/\/+$/, "");

export class ApiError extends Error {
  status: number;
  type?: string;
  field?: string;
  constructor(message: string, status: number, type?: string, field?: string) {
    super(message);
    this.status = status;
    this.type = type;
    this.field = field;
  }
}

export type Role = "patient" | "doctor" | "admin";
export interface Me {
  user_id: string;
  email: string;
  role: Role;
  full_name: string;
}
interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
}

// Tokens live in this module only: never in localStorage or sessionStorage. A reload signs
// the user out, which is the price of keeping the refresh token out of script-readable storage.
let accessToken: string | null = null;
let refreshToken: string | null = null;
let refreshTimer: number | undefined;
let refreshing: Promise<boolean> | null = null;
let onSignedOut: (() => void) | null = null;

export function setSignedOutHandler(fn: () => void) {
  onSignedOut = fn;
}

function storeTokens(t: TokenResponse) {
  accessToken = t.access_token;
  refreshToken = t.refresh_token;
  window.clearTimeout(refreshTimer);
  // Refresh a minute before expiry (or at 80 % of very short lifetimes).
  const lead = Math.min(60, t.expires_in * 0.2);
  const ms = Math.max(5, t.expires_in - lead) * 1000;
  refreshTimer = window.setTimeout(() => void refresh(), ms);
}

function clearTokens() {
  accessToken = null;
  refreshToken = null;
  window.clearTimeout(refreshTimer);
}

export function isSignedIn() {
  return accessToken !== null;
}

const STATUS_TEXT: Record<number, string> = {
  400: "The request was not valid.",
  401: "Please sign in again.",
  403: "You are not allowed to do that.",
  404: "Not found.",
  409: "That conflicts with existing data.",
  412: "Someone else changed this record; reload and try again.",
  413: "That is too large.",
  422: "That could not be processed.",
  428: "This change needs the current version; reload and try again.",
  429: "Too many requests; wait a moment and try again.",
};

async function toError(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> | null = null;
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    body = null;
  }
  const str = (v: unknown) => (typeof v === "string" && v.trim() ? v : undefined);
  const field = str(body?.field);
  let message = str(body?.detail) ?? str(body?.title) ?? str(body?.message) ?? STATUS_TEXT[res.status];
  if (!message) message = res.status >= 500 ? "The server had a problem; try again shortly." : `Request failed (${res.status}).`;
  if (field && body?.detail && !message.toLowerCase().includes(field.replace(/_/g, " "))) {
    message = `${humanField(field)}: ${message}`;
  }
  return new ApiError(message, res.status, str(body?.type), field);
}

export function humanField(field: string) {
  // `date_of_birth`, `address.city` and path parameters such as `doctorId` alike.
  const s = field.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/[_.]/g, " ").toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

async function rawFetch(path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(apiBaseUrl + path, init);
  } catch {
    throw new ApiError("Cannot reach CareFlow. Check your connection and try again.", 0);
  }
}

export async function refresh(): Promise<boolean> {
  if (!refreshToken) return false;
  if (!refreshing) {
    const token = refreshToken;
    refreshing = (async () => {
      try {
        const res = await rawFetch("/auth/refresh", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ refresh_token: token }),
        });
        if (!res.ok) {
          clearTokens();
          onSignedOut?.();
          return false;
        }
        storeTokens((await res.json()) as TokenResponse);
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

export interface RequestOptions {
  body?: unknown;
  headers?: Record<string, string>;
  contentType?: string;
  query?: Record<string, string | number | undefined | null>;
}

export interface ApiResponse<T> {
  data: T;
  headers: Headers;
}

/** Sends a request with the access token (refreshed once on a 401) and answers the response;
 *  an error status is thrown as an ApiError (problem+json `detail` and `field`). */
async function send(method: string, path: string, opts: RequestOptions, accept: string): Promise<Response> {
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const build = (): RequestInit => {
    const headers: Record<string, string> = { accept, ...opts.headers };
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    const init: RequestInit = { method, headers };
    if (opts.body !== undefined) {
      headers["content-type"] = opts.contentType ?? "application/json";
      init.body = JSON.stringify(opts.body);
    }
    return init;
  };
  let res = await rawFetch(url, build());
  if (res.status === 401 && refreshToken && (await refresh())) {
    res = await rawFetch(url, build());
  }
  if (res.status === 401 && !path.startsWith("/auth/")) {
    clearTokens();
    onSignedOut?.();
  }
  if (!res.ok) throw await toError(res);
  return res;
}

export async function requestFull<T>(method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse<T>> {
  const res = await send(method, path, opts, "application/json");
  const text = await res.text();
  return { data: (text ? JSON.parse(text) : null) as T, headers: res.headers };
}

/** A file the API answers (e.g. `text/calendar`), read with the bearer token as a Blob. */
export async function requestBlob(path: string, accept: string): Promise<Blob> {
  const res = await send("GET", path, {}, `${accept}, application/problem+json`);
  return res.blob();
}

export async function request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
  return (await requestFull<T>(method, path, opts)).data;
}

export const api = {
  get: <T>(path: string, query?: RequestOptions["query"]) => request<T>("GET", path, { query }),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, { body }),
};

/** What a staff account's correct password yields instead of tokens: a short-lived challenge
 *  for the second factor. Its `mfa_token` is kept in memory (component state) only. */
export interface MfaChallenge {
  mfa_required: true;
  mfa_token: string;
  /** No confirmed factor yet: enrol (`enrollMfa`) before a code can be verified. */
  enrolment_required: boolean;
  expires_in: number;
}
/** A new TOTP secret, shown once. */
export interface MfaEnrolment {
  secret: string;
  otpauth_uri: string;
  digits: number;
  period: number;
}
export type MfaProof = { code: string } | { recovery_code: string };
export type LoginResult = { me: Me; challenge?: undefined } | { me?: undefined; challenge: MfaChallenge };

/** The sign-in challenge is spent (too many wrong codes), expired or was revoked: the password
 *  step has to be done again. */
export class ChallengeEndedError extends ApiError {}

function publicPost(path: string, body: unknown): Promise<Response> {
  // No bearer token: these calls start a session.
  return rawFetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify(body),
  });
}

/** Checks the password. Patients are signed in at once (`me`); staff get a `challenge`. */
export async function login(email: string, password: string): Promise<LoginResult> {
  const res = await publicPost("/auth/login", { email, password });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401) err.message = "Wrong e-mail or password.";
    throw err;
  }
  const body = (await res.json()) as TokenResponse | MfaChallenge;
  if ("mfa_required" in body && body.mfa_required) return { challenge: body };
  storeTokens(body as TokenResponse);
  return { me: await api.get<Me>("/me") };
}

/** "in 40 s", "in 3 min" or "in a moment", from a 429's `Retry-After` (seconds). */
function retryAfterText(res: Response): string {
  const wait = Number(res.headers.get("retry-after"));
  if (!(wait > 0)) return "in a moment";
  return wait <= 90 ? `in ${Math.ceil(wait)} s` : `in ${Math.ceil(wait / 60)} min`;
}

/** What `POST /auth/register` answers, whether or not the address already has an account. */
export interface RegistrationAccepted {
  status: "verification_sent";
  /** The address as the API normalised it (the one the e-mail went to). */
  email: string;
}

/** Asks for a patient account: the API e-mails a confirmation link (or, to an address that
 *  already has an account, a notice). No account exists, and nobody is signed in, until the
 *  link is opened ({@link verifyEmail}). Errors keep the API's `field` (400). */
export async function register(body: { email: string; password: string; full_name: string }): Promise<RegistrationAccepted> {
  const res = await publicPost("/auth/register", body);
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 429) err.message = `Too many registrations from your network. Try again ${retryAfterText(res)}.`;
    else if (res.status === 503) err.message = "We could not send the confirmation e-mail just now. Try again in a few minutes.";
    throw err;
  }
  return (await res.json()) as RegistrationAccepted;
}

/** A new account, answered by `POST /auth/verify-email` with its first tokens. */
interface Registered extends Me, TokenResponse {
  created_at: string;
}

/** Completes a registration from its e-mailed link: the link's `token` and the password chosen
 *  when registering create the patient's account, who is then signed in (the tokens are kept as
 *  after a login). Errors: 400 `field: "token"` (invalid, expired or used link), 401 (not the
 *  password chosen), 409 (the address has an account already), 429 (message with the wait). */
export async function verifyEmail(token: string, password: string): Promise<Me> {
  const res = await publicPost("/auth/verify-email", { token, password });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 429) err.message = `Too many attempts. Try again ${retryAfterText(res)}.`;
    throw err;
  }
  const body = (await res.json()) as Registered;
  storeTokens(body);
  return { user_id: body.user_id, email: body.email, role: body.role, full_name: body.full_name };
}

/** Errors of the two second-factor calls, in words for the sign-in page. */
async function mfaError(res: Response, proof?: MfaProof): Promise<ApiError> {
  const err = await toError(res);
  if (res.status === 401) {
    if (/log in again|expired/i.test(err.message) || !proof) {
      return new ChallengeEndedError("This sign-in attempt is no longer valid (it expired, had too many wrong codes or was reset). Sign in again with your password.", 401, err.type);
    }
    err.message = "recovery_code" in proof ? "That recovery code is not valid or was used already." : "That code is not valid or was used already. Wait for the next code in your app and try again.";
  } else if (res.status === 429) {
    const wait = Number(res.headers.get("retry-after"));
    err.message = `Too many attempts. Try again in ${wait > 0 ? `${wait} s` : "a moment"}.`;
  }
  return err;
}

/** Starts (or restarts) enrolment of an authenticator app for a challenge's account. */
export async function enrollMfa(mfaToken: string): Promise<MfaEnrolment> {
  const res = await publicPost("/auth/mfa/enroll", { mfa_token: mfaToken });
  if (!res.ok) throw await mfaError(res);
  return (await res.json()) as MfaEnrolment;
}

/** Trades the challenge and a code (or recovery code) for a session. `recoveryCodes` is set
 *  when this code confirmed a new enrolment: they are shown to the user once. */
export async function verifyMfa(mfaToken: string, proof: MfaProof): Promise<{ me: Me; recoveryCodes: string[] | null }> {
  const res = await publicPost("/auth/mfa/verify", { mfa_token: mfaToken, ...proof });
  if (!res.ok) throw await mfaError(res, proof);
  const body = (await res.json()) as TokenResponse & { recovery_codes?: string[] };
  storeTokens(body);
  return { me: await api.get<Me>("/me"), recoveryCodes: body.recovery_codes?.length ? body.recovery_codes : null };
}

/** An admin removes a staff account's second factor (a lost phone); its next sign-in enrols again. */
export async function resetMfa(userId: string): Promise<void> {
  await request("DELETE", `/users/${encodeURIComponent(userId)}/mfa`);
}

export async function logout() {
  const token = refreshToken;
  clearTokens();
  if (token) {
    try {
      await rawFetch("/auth/logout", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${accessToken ?? ""}` },
        body: JSON.stringify({ refresh_token: token }),
      });
    } catch {
      // Signed out locally either way.
    }
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return "Something went wrong.";
}

// ---------------------------------------------------------------- types of the API

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}
export interface Address {
  line1: string;
  line2?: string | null;
  city: string;
  region?: string | null;
  postal_code?: string | null;
  country: string;
}
export interface PatientProfile {
  patient_id: string;
  full_name: string;
  date_of_birth: string;
  sex: string;
  phone?: string | null;
  email?: string | null;
  address?: Address | null;
  allergies: string[];
  blood_type?: string | null;
  version: number;
}
export interface Doctor {
  doctor_id: string;
  full_name: string;
  specialty: string;
}
export type AppointmentStatus = "scheduled" | "attended" | "no_show" | "cancelled";
export type CancelReasonCode = "patient" | "clinic" | "illness" | "other";
export interface Appointment {
  appointment_id: string;
  patient_id: string;
  doctor_id: string;
  start_time: string;
  end_time: string;
  appointment_type: string;
  status: AppointmentStatus;
  reason?: string | null;
  created_at?: string;
  cancelled_at?: string;
  cancel_reason?: string | null;
  cancel_reason_code?: CancelReasonCode;
  rescheduled_at?: string;
  attendance_marked_at?: string;
}
/** A free start time of a doctor (`GET /doctors/{id}/slots`, `GET /slots`). */
export interface Slot {
  doctor_id: string;
  start_time: string;
  end_time: string;
}
export interface DoctorSlots {
  doctor_id: string;
  appointment_type: string;
  time_zone: string;
  slots: Slot[];
}
/** Local wall-clock hours, `HH:MM` on a 5-minute grid (an end may be `24:00`). */
export interface Hours {
  start: string;
  end: string;
}
/** A doctor's availability document (`/doctors/{id}/availability`), versioned by ETag. */
export interface Availability {
  time_zone: string;
  weekly_hours: (Hours & { weekday: number })[];
  exceptions?: { date: string; hours: Hours[] }[];
  appointment_types: string[];
  slot_interval_minutes?: number;
  buffer_minutes?: number;
  minimum_notice_minutes?: number;
}
export type WaitlistStatus = "waiting" | "offered" | "booked" | "left";
export type OfferStatus = "open" | "accepted" | "declined" | "expired" | "withdrawn";
/** A freed time held for a waitlisted patient until `expires_at`. */
export interface WaitlistOffer {
  offer_id: string;
  entry_id: string;
  doctor_id: string;
  start_time: string;
  end_time: string;
  appointment_type: string;
  expires_at: string;
  status: OfferStatus;
}
export interface WaitlistEntry {
  entry_id: string;
  patient_id: string;
  doctor_id: string | null;
  specialty: string | null;
  appointment_type: string;
  from: string;
  to: string;
  status: WaitlistStatus;
  created_at: string;
  /** Its open offer, if any. */
  offer: WaitlistOffer | null;
}
export interface NotificationPreferences {
  email: boolean;
  updated_at: string | null;
}
export interface Invoice {
  invoice_id: string;
  number: string;
  appointment_id: string;
  patient_id: string;
  status: "open" | "paid" | "void";
  currency: string;
  amount_due: number;
  issued_at: string;
  due_date: string;
  paid_at?: string | null;
}
/** HL7 interpretation of a value: `H`/`L` outside the range, `HH`/`LL` critical, `A` abnormal
 *  without a direction. */
export type LabFlag = "H" | "L" | "HH" | "LL" | "A" | "normal";
export interface LabResult {
  name: string;
  value: string;
  unit: string | null;
  reference_range: string | null;
  flag: LabFlag | null;
  /** The panel heading the row was printed under. */
  panel: string | null;
  loinc: string | null;
  unit_ucum: string | null;
  /** The earlier result printed beside this one (`date` as printed). */
  previous: { value: string; date: string | null } | null;
  /** Only for values read by OCR from a scan: how sure it was (0..1). */
  confidence?: number;
}
export type LabReportStatus = "pending" | "processed" | "needs_review" | "unreadable" | "reviewed";
export interface LabReport {
  report_id: string;
  patient_id: string;
  status: LabReportStatus;
  reason: string | null;
  results: LabResult[];
  filename: string;
  size_bytes: number;
  created_at: string;
  processed_at?: string | null;
  collected_at?: string | null;
  /** Counts the versions of the values; a review names the one it read. */
  revision: number;
  extraction_revision: number;
  reviewed_by: string | null;
  reviewed_at: string | null;
}
/** A report waiting for a clinician (`GET /lab-reports/review-queue`): critical first, then oldest. */
export interface LabReviewQueueEntry {
  report_id: string;
  patient_id: string;
  reason: string | null;
  created_at: string;
  collected_at: string | null;
  revision: number;
  values: number;
  critical_values: number;
  read_by_ocr: boolean;
}
/** New content for fields of `results[index]`; an empty `unit` or `reference_range` removes it.
 *  A changed value or range gets its flag computed again unless `flag` is given. */
export interface LabCorrection {
  index: number;
  name?: string;
  value?: string;
  unit?: string;
  reference_range?: string;
  flag?: LabFlag;
  loinc?: string;
}
export interface LabReviewRequest {
  /** The report's `revision` as read: 412 when it changed since. */
  revision: number;
  corrections: LabCorrection[];
  sign_off: boolean;
}
/** One version of a report's values: the extraction, then each review. */
export interface LabRevision {
  revision: number;
  kind: "extraction" | "review";
  results: LabResult[];
  changes: { index: number; field: string; before: string | null; after: string | null }[];
  by: string | null;
  by_role: Role | null;
  at: string;
  signed_off: boolean;
}

const labReportPath = (patientId: string, reportId: string) => `/patients/${encodeURIComponent(patientId)}/lab-reports/${encodeURIComponent(reportId)}`;

export const getLabReport = (patientId: string, reportId: string) => api.get<LabReport>(labReportPath(patientId, reportId));

/** A page of the caller's review queue (doctors: patients in their care; admins: all). */
export const labReviewQueue = (cursor?: string, limit = 20) => api.get<Page<LabReviewQueueEntry>>("/lab-reports/review-queue", { limit, cursor });

/** Corrects and/or signs off a report (doctors in the care relationship); the report as it now
 *  is. 412: `revision` is stale; 409 `already-reviewed`; 400 names `corrections[i].field`. */
export const reviewLabReport = (patientId: string, reportId: string, body: LabReviewRequest) => api.post<LabReport>(`${labReportPath(patientId, reportId)}/review`, body);

/** Every version of a report's values, oldest first; empty until the first review. */
export const labReportRevisions = async (patientId: string, reportId: string) =>
  (await api.get<{ items: LabRevision[] }>(`${labReportPath(patientId, reportId)}/revisions`)).items;

export interface LabUploadGrant {
  report_id: string;
  method: string;
  url: string;
  fields: Record<string, string>;
  expires_at: string;
  max_bytes: number;
}
export interface HistoryEntry {
  entry_id: string;
  diagnosis: string;
  notes?: string | null;
  medications: string[];
  allergies: string[];
  author_role: string;
  recorded_at: string;
}
/** One line of a patient's access log (newest first). */
export interface AccessLogEntry {
  event_id: string;
  patient_id: string;
  actor_id: string;
  actor_role: Role;
  action: string;
  outcome: "allowed" | "denied" | "not_found";
  at: string;
  emergency: boolean;
  emergency_grant?: string | null;
}
export const ACTION_LABELS: Record<string, string> = {
  create_profile: "Created the profile",
  read_profile: "Read profile",
  update_profile: "Updated the profile",
  list_profiles: "Listed patients",
  add_history: "Added a history entry",
  read_history: "Read medical history",
  upload_lab_report: "Uploaded a lab report",
  read_lab_reports: "Read lab reports",
  review_lab_report: "Reviewed a lab report",
  read_care_team: "Read the care team",
  manage_care_team: "Changed the care team",
  emergency_access: "Opened emergency access",
  read_access_log: "Read this access log",
};
export const actionLabel = (a: string) => ACTION_LABELS[a] ?? a.replace(/_/g, " ");

/** A doctor's link to a patient; `kind` says which fields it has. */
export type CareEntry = { patient_id: string; doctor_id: string; active: boolean } & (
  | { kind: "appointment"; appointment_id: string; start_time: string; cancelled: boolean }
  | { kind: "care_team"; since: string; until: string; assigned_by: string; reason?: string | null }
  | { kind: "emergency"; grant_id: string; granted_at: string; expires_at: string; reason: string }
);
export interface EmergencyGrant {
  grant_id: string;
  patient_id: string;
  doctor_id: string;
  reason: string;
  granted_at: string;
  expires_at: string;
}
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface AnalyticsWindow {
  window_start: string;
  window_end: string;
  total: number;
  cancellations: number;
  late_events: number;
}

/** Uploads a file with an S3 presigned POST: every field first, the file last as `file`. */
export async function uploadToS3(grant: LabUploadGrant, file: File): Promise<void> {
  const form = new FormData();
  for (const [k, v] of Object.entries(grant.fields)) form.append(k, v);
  form.append("file", file, file.name);
  let res: Response;
  try {
    res = await fetch(grant.url, { method: grant.method || "POST", body: form });
  } catch {
    throw new ApiError("The upload to storage failed. Check your connection and try again.", 0);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => "");
    const code = /<Message>([^<]*)<\/Message>/.exec(text)?.[1];
    throw new ApiError(`The upload was refused by storage${code ? `: ${code}` : ` (${res.status})`}.`, res.status);
  }
}

export const money = (minor: number, currency: string) =>
  new Intl.NumberFormat(undefined, { style: "currency", currency }).format(minor / 100);

export const dateTime = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An RFC 3339 instant without milliseconds, as the API's examples write them. */
export const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");

/** A fresh key for `Idempotency-Key`. */
export const idempotencyKey = () => crypto.randomUUID();

export const APPOINTMENT_TYPES: { value: string; label: string; minutes: number }[] = [
  { value: "consultation", label: "Consultation (30 min)", minutes: 30 },
  { value: "follow_up", label: "Follow-up (15 min)", minutes: 15 },
  { value: "lab_review", label: "Lab review (20 min)", minutes: 20 },
];
export const typeLabel = (t: string) => APPOINTMENT_TYPES.find((x) => x.value === t)?.label.replace(/ \(.*/, "") ?? t;
