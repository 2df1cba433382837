import { useState, type FormEvent } from "react";
import { ApiError, ChallengeEndedError, enrollMfa, errorMessage, request, verifyMfa, type Me, type MfaChallenge, type MfaEnrolment } from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, Notice, PageTitle, QrCode, TextField } from "../components/ui";
import { navigate } from "../router";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function homeFor(me: Me) {
  return me.role === "patient" ? "/appointments" : me.role === "doctor" ? "/schedule" : "/admin/analytics";
}

type Step =
  | { kind: "password" }
  | { kind: "enrol"; challenge: MfaChallenge; enrolment: MfaEnrolment }
  | { kind: "code"; challenge: MfaChallenge }
  | { kind: "recovery-codes"; me: Me; codes: string[] };

export function LoginPage({ expired }: { expired: boolean }) {
  const { signIn, completeSignIn } = useAuth();
  const [step, setStep] = useState<Step>({ kind: "password" });
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    if (!EMAIL.test(email.trim())) v.email = "Enter a valid e-mail address.";
    if (!password) v.password = "Enter your password.";
    setErrors(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    setError(null);
    try {
      const result = await signIn(email.trim(), password);
      if (result.me) {
        navigate(homeFor(result.me));
        return;
      }
      // Doctors and admins: the password was right; a second factor completes the sign-in.
      const challenge = result.challenge;
      setPassword("");
      if (!challenge.enrolment_required) {
        setStep({ kind: "code", challenge });
        return;
      }
      try {
        setStep({ kind: "enrol", challenge, enrolment: await enrollMfa(challenge.mfa_token) });
      } catch (err) {
        // Enrolled meanwhile (another tab): a code from the app is what is needed.
        if (err instanceof ApiError && err.status === 409) setStep({ kind: "code", challenge });
        else throw err;
      }
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  function enter(me: Me) {
    completeSignIn(me);
    navigate(homeFor(me));
  }

  function restart(message: string | null) {
    setStep({ kind: "password" });
    setError(message);
    setErrors({});
  }

  return (
    <div className="mx-auto max-w-md">
      <PageTitle>Sign in</PageTitle>
      {step.kind === "enrol" || step.kind === "code" ? (
        <SecondFactorStep
          key={step.challenge.mfa_token}
          email={email.trim()}
          challenge={step.challenge}
          enrolment={step.kind === "enrol" ? step.enrolment : null}
          onSignedIn={(me, codes) => (codes ? setStep({ kind: "recovery-codes", me, codes }) : enter(me))}
          onEnded={restart}
          onCancel={() => restart(null)}
        />
      ) : step.kind === "recovery-codes" ? (
        <RecoveryCodes email={step.me.email} codes={step.codes} onDone={() => enter(step.me)} />
      ) : (
        <Card>
          <form noValidate onSubmit={submit} className="space-y-4" aria-label="Sign in">
            {expired && <Notice>Your session ended. Please sign in again.</Notice>}
            <ErrorBanner error={error} />
            <TextField label="E-mail" type="email" autoComplete="username" value={email} onChange={(e) => setEmail(e.target.value)} error={errors.email} />
            <TextField label="Password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} error={errors.password} />
            <Button busy={busy} className="w-full">
              Sign in
            </Button>
            <p className="text-sm text-slate-600">
              New patient?{" "}
              <a className="font-semibold text-teal-700 underline" href="#/register">
                Create an account
              </a>
            </p>
          </form>
        </Card>
      )}
    </div>
  );
}

/** `JBSWY3DPEHPK3PXP` as `JBSW Y3DP EHPK 3PXP`, for typing into an app. */
const groupSecret = (secret: string) => secret.replace(/\s/g, "").match(/.{1,4}/g)?.join(" ") ?? "";

const linkButton = "font-semibold text-teal-700 underline hover:text-teal-900 focus:outline-none focus:ring-2 focus:ring-teal-500";

/** The second step of a staff sign-in: a code from the authenticator app (or a recovery code),
 *  after setting the app up when the account has no factor yet (`enrolment`). */
function SecondFactorStep({
  email,
  challenge,
  enrolment,
  onSignedIn,
  onEnded,
  onCancel,
}: {
  email: string;
  challenge: MfaChallenge;
  enrolment: MfaEnrolment | null;
  onSignedIn: (me: Me, recoveryCodes: string[] | null) => void;
  onEnded: (message: string) => void;
  onCancel: () => void;
}) {
  const [recovery, setRecovery] = useState(false);
  const [code, setCode] = useState("");
  const [recoveryCode, setRecoveryCode] = useState("");
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const title = enrolment ? "Set up two-step sign-in" : "Two-step sign-in";
  const digits = enrolment?.digits ?? 6;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    const totp = code.replace(/\s/g, "");
    const spare = recoveryCode.trim();
    if (recovery) {
      if (spare.replace(/[^0-9a-z]/gi, "").length !== 12) v.recovery_code = "Enter one of your recovery codes, like K7QX-3MZP-9WTD.";
    } else if (!new RegExp(`^\\d{${digits}}$`).test(totp)) {
      v.code = `Enter the ${digits}-digit code your app shows.`;
    }
    setErrors(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    setError(null);
    try {
      const { me, recoveryCodes } = await verifyMfa(challenge.mfa_token, recovery ? { recovery_code: spare } : { code: totp });
      onSignedIn(me, recoveryCodes);
    } catch (err) {
      if (err instanceof ChallengeEndedError) {
        onEnded(err.message);
        return;
      }
      if (err instanceof ApiError && (err.field === "code" || err.field === "recovery_code")) setErrors({ [err.field]: err.message });
      setError(errorMessage(err));
      // A wrong code is typed anew (the next one the app shows).
      if (err instanceof ApiError && err.status === 401) {
        if (recovery) setRecoveryCode("");
        else setCode("");
      }
    } finally {
      setBusy(false);
    }
  }

  function toggle() {
    setRecovery(!recovery);
    setErrors({});
    setError(null);
  }

  return (
    <Card title={title}>
      <form noValidate onSubmit={submit} className="space-y-4" aria-label={title}>
        <ErrorBanner error={error} />
        <p className="text-sm text-slate-700">
          Signing in as <strong className="break-all">{email}</strong>.{" "}
          {enrolment
            ? "Doctors and admins confirm each sign-in with a code from an authenticator app on their phone (for example Google Authenticator, Microsoft Authenticator or 1Password)."
            : recovery
              ? "Enter one of the recovery codes you saved when you set up two-step sign-in. Each code works once."
              : "Enter the current code that your authenticator app shows for CareFlow."}
        </p>
        {enrolment && (
          <ol className="list-decimal space-y-3 pl-5 text-sm text-slate-700">
            <li className="space-y-2">
              <p>Scan this QR code with your authenticator app:</p>
              <QrCode text={enrolment.otpauth_uri} label="QR code of the setup link for your authenticator app" />
              <p>
                On this phone?{" "}
                <a className={linkButton} href={enrolment.otpauth_uri}>
                  Open the setup link
                </a>
                . No camera? Choose &ldquo;enter a setup key&rdquo; in the app and type this key (time-based, {enrolment.digits} digits, every {enrolment.period} seconds):
              </p>
              <code data-testid="mfa-secret" className="block rounded-md border border-slate-200 bg-slate-50 px-3 py-2 text-center font-mono text-base font-semibold tracking-wider break-words text-slate-900">
                {groupSecret(enrolment.secret)}
              </code>
            </li>
            <li>Enter the {enrolment.digits}-digit code the app now shows for CareFlow.</li>
          </ol>
        )}
        {recovery ? (
          <TextField
            key="recovery"
            label="Recovery code"
            autoComplete="off"
            autoCapitalize="characters"
            spellCheck={false}
            autoFocus
            value={recoveryCode}
            onChange={(e) => setRecoveryCode(e.target.value)}
            error={errors.recovery_code}
          />
        ) : (
          <TextField
            key="code"
            label="Code from your authenticator app"
            inputMode="numeric"
            autoComplete="one-time-code"
            pattern="[0-9 ]*"
            maxLength={digits + 2}
            autoFocus
            value={code}
            onChange={(e) => setCode(e.target.value)}
            error={errors.code}
            hint={`${digits} digits; a new code every ${enrolment?.period ?? 30} seconds.`}
          />
        )}
        <Button busy={busy} className="w-full">
          {enrolment ? "Turn on and sign in" : "Verify"}
        </Button>
        <div className="flex flex-wrap justify-between gap-x-4 gap-y-2 text-sm">
          {!enrolment && (
            <button type="button" className={linkButton} onClick={toggle}>
              {recovery ? "Use a code from your app instead" : "Use a recovery code instead"}
            </button>
          )}
          <button type="button" className={linkButton} onClick={onCancel}>
            Cancel and start over
          </button>
        </div>
        {!enrolment && <p className="text-xs text-slate-500">Lost your phone and your recovery codes? An admin can reset your two-step sign-in.</p>}
      </form>
    </Card>
  );
}

/** The ten recovery codes of a new enrolment: shown once, before the portal opens. */
function RecoveryCodes({ email, codes, onDone }: { email: string; codes: string[]; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null);
  const text = `CareFlow recovery codes for ${email}\n(each signs in once instead of an app code)\n\n${codes.join("\n")}\n`;

  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setCopied("Copied to the clipboard.");
    } catch {
      setCopied("Copying is not allowed here; select the codes and copy them, or download them.");
    }
  }

  return (
    <Card title="Save these recovery codes">
      <div className="space-y-4">
        <Notice>Two-step sign-in is on for {email}.</Notice>
        <p className="text-sm text-slate-700">
          If you lose your phone, each of these codes signs you in once instead of a code from the app. <strong>They are shown only now:</strong> print them or keep them in a password manager, not on the phone.
        </p>
        <ol aria-label="Recovery codes" className="grid grid-cols-1 gap-2 sm:grid-cols-2">
          {codes.map((c) => (
            <li key={c} className="rounded-md border border-slate-200 bg-slate-50 px-3 py-2 text-center font-mono text-base font-semibold tracking-wider text-slate-900">
              {c}
            </li>
          ))}
        </ol>
        <div className="flex flex-wrap items-center gap-3">
          <Button type="button" variant="secondary" onClick={() => void copy()}>
            Copy codes
          </Button>
          <a className={`text-sm ${linkButton}`} download="careflow-recovery-codes.txt" href={`data:text/plain;charset=utf-8,${encodeURIComponent(text)}`}>
            Download as a text file
          </a>
        </div>
        {copied && <p className="text-sm text-slate-600" role="status">{copied}</p>}
        <Button type="button" className="w-full" onClick={onDone}>
          I have saved them
        </Button>
      </div>
    </Card>
  );
}

export function RegisterPage() {
  const { signIn } = useAuth();
  const [form, setForm] = useState({ full_name: "", email: "", password: "", confirm: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [k]: e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    const v: Record<string, string> = {};
    if (!form.full_name.trim()) v.full_name = "Enter your full name.";
    if (!EMAIL.test(form.email.trim())) v.email = "Enter a valid e-mail address.";
    if (form.password.length < 12) v.password = "Use at least 12 characters.";
    else if (form.password.length > 128) v.password = "Use at most 128 characters.";
    if (form.confirm !== form.password) v.confirm = "The passwords do not match.";
    setErrors(v);
    if (Object.keys(v).length) return;
    setBusy(true);
    setError(null);
    try {
      await request("POST", "/auth/register", { body: { email: form.email.trim(), password: form.password, full_name: form.full_name.trim() } });
      await signIn(form.email.trim(), form.password);
      navigate("/profile");
    } catch (err) {
      if (err instanceof ApiError && err.field && err.field in form) setErrors({ [err.field]: err.message });
      setError(err instanceof ApiError && err.status === 409 ? "An account with this e-mail already exists. Sign in instead." : errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="mx-auto max-w-md">
      <PageTitle>Create a patient account</PageTitle>
      <Card>
        <form noValidate onSubmit={submit} className="space-y-4" aria-label="Create account">
          <ErrorBanner error={error} />
          <TextField label="Full name" autoComplete="name" value={form.full_name} onChange={set("full_name")} error={errors.full_name} />
          <TextField label="E-mail" type="email" autoComplete="email" value={form.email} onChange={set("email")} error={errors.email} />
          <TextField label="Password" type="password" autoComplete="new-password" hint="At least 12 characters." value={form.password} onChange={set("password")} error={errors.password} />
          <TextField label="Confirm password" type="password" autoComplete="new-password" value={form.confirm} onChange={set("confirm")} error={errors.confirm} />
          <Button busy={busy} className="w-full">
            Create account
          </Button>
          <p className="text-sm text-slate-600">
            Already registered?{" "}
            <a className="font-semibold text-teal-700 underline" href="#/login">
              Sign in
            </a>
          </p>
        </form>
      </Card>
    </div>
  );
}
