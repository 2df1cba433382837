import { useEffect, useState, type FormEvent } from "react";
import { ApiError, ChallengeEndedError, enrollMfa, errorMessage, register, verifyEmail, verifyMfa, type Me, type MfaChallenge, type MfaEnrolment } from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, Notice, PageTitle, QrCode, TextField } from "../components/ui";
import { navigate, takeReturn } from "../router";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function homeFor(me: Me) {
  return me.role === "patient" ? "/appointments" : me.role === "doctor" ? "/schedule" : "/admin/analytics";
}

/** After signing in: the page a link or an expired session asked for, else the home page. */
const afterSignIn = (me: Me) => takeReturn() ?? homeFor(me);

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
        navigate(afterSignIn(result.me));
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
    navigate(afterSignIn(me));
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
              <br />
              Just registered? Open the link in the e-mail we sent you first: it creates your account.
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

/** Registration asks for an account; the account is created only from the e-mailed link
 *  (`VerifyEmailPage`). The answer is the same whether or not the address has an account, and so
 *  is the "check your e-mail" step shown here: it never says which it was. */
export function RegisterPage() {
  const [form, setForm] = useState({ full_name: "", email: "", password: "", confirm: "" });
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** The (normalised) address the e-mail went to, once the API accepted the registration. */
  const [sentTo, setSentTo] = useState<string | null>(null);
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
      const accepted = await register({ email: form.email.trim(), password: form.password, full_name: form.full_name.trim() });
      setSentTo(accepted.email || form.email.trim());
    } catch (err) {
      if (err instanceof ApiError && err.field && err.field in form) setErrors({ [err.field]: err.message });
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  function again() {
    // The details stay for a corrected address; the password is chosen (and typed) again.
    setForm({ ...form, password: "", confirm: "" });
    setErrors({});
    setError(null);
    setSentTo(null);
  }

  if (sentTo) {
    return (
      <div className="mx-auto max-w-md">
        <PageTitle>Check your e-mail</PageTitle>
        <Card>
          <div className="space-y-4 text-sm text-slate-700">
            <Notice>
              We sent an e-mail to <strong className="wrap-anywhere" data-testid="sent-to">{sentTo}</strong>.
            </Notice>
            <p>
              Open the link in it <strong>within 24 hours</strong> to confirm your registration. The link asks for{" "}
              <strong>the same password you just chose</strong>, so keep it at hand: your account is created only when both match.
            </p>
            <p>If this address already has a CareFlow account, the e-mail tells you so instead and has no link: sign in with that account.</p>
            <p>Nothing after a few minutes? Check your spam folder and that the address above is right, then register again.</p>
            <div className="flex flex-wrap items-center justify-between gap-3">
              <Button type="button" variant="secondary" onClick={again}>
                Register again
              </Button>
              <a className={linkButton} href="#/login">
                Back to sign in
              </a>
            </div>
          </div>
        </Card>
      </div>
    );
  }

  return (
    <div className="mx-auto max-w-md">
      <PageTitle>Create a patient account</PageTitle>
      <Card>
        <form noValidate onSubmit={submit} className="space-y-4" aria-label="Create account">
          <ErrorBanner error={error} />
          <TextField label="Full name" autoComplete="name" value={form.full_name} onChange={set("full_name")} error={errors.full_name} />
          <TextField label="E-mail" type="email" autoComplete="email" value={form.email} onChange={set("email")} error={errors.email} />
          <TextField label="Password" type="password" autoComplete="new-password" hint="At least 12 characters. You will need it again to confirm your registration." value={form.password} onChange={set("password")} error={errors.password} />
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

/** The token of a registration link, `#/verify-email?token=cfv_…` (the fragment never reaches a
 *  server, so neither does the token). */
function linkToken(): string | null {
  const hash = window.location.hash;
  const q = hash.indexOf("?");
  if (q < 0) return null;
  return new URLSearchParams(hash.slice(q + 1)).get("token")?.trim() || null;
}

/** Where a registration link leads: the password chosen at registration creates the account and
 *  signs the patient in. A link that cannot work any more (used, expired, damaged) or an address
 *  that has an account meanwhile end here with what to do instead. */
export function VerifyEmailPage() {
  const { completeSignIn } = useAuth();
  const [token, setToken] = useState(linkToken);
  const [password, setPassword] = useState("");
  const [fieldError, setFieldError] = useState<string | undefined>();
  const [error, setError] = useState<string | null>(null);
  const [ended, setEnded] = useState<"link" | "taken" | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    // Another link pasted into the address bar of this tab.
    const on = () => {
      setToken(linkToken());
      setEnded(null);
      setError(null);
      setFieldError(undefined);
    };
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!token) return;
    if (!password) {
      setFieldError("Enter the password you chose when registering.");
      return;
    }
    setFieldError(undefined);
    setBusy(true);
    setError(null);
    try {
      const me = await verifyEmail(token, password);
      completeSignIn(me);
      navigate("/profile");
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.field === "token") setEnded("link");
      else if (err instanceof ApiError && err.status === 409) setEnded("taken");
      else if (err instanceof ApiError && err.status === 401) {
        setPassword("");
        setError("That is not the password you chose when registering. Check it (capital letters and spaces count) and try again.");
      } else {
        if (err instanceof ApiError && err.field === "password") setFieldError(err.message);
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  const registerAgain = (
    <a className={linkButton} href="#/register">
      Register again
    </a>
  );

  return (
    <div className="mx-auto max-w-md">
      <PageTitle>Confirm your registration</PageTitle>
      <Card>
        {!token || ended === "link" ? (
          <div className="space-y-4 text-sm text-slate-700">
            <ErrorBanner
              error={
                token
                  ? "This link is invalid or has expired. A link works once, for 24 hours."
                  : "This link is incomplete. Open it again from the e-mail, or copy the whole link into the address bar."
              }
            />
            <p>{registerAgain} to get a new link. Confirmed already? Then your account exists: sign in instead.</p>
            <p>
              <a className={linkButton} href="#/login">
                Go to sign in
              </a>
            </p>
          </div>
        ) : ended === "taken" ? (
          <div className="space-y-4 text-sm text-slate-700">
            <Notice>An account with this e-mail address already exists, so no new one was created.</Notice>
            <p>Sign in with that account. If you do not know its password, ask the clinic to help.</p>
            <p>
              <a className={linkButton} href="#/login">
                Go to sign in
              </a>
            </p>
          </div>
        ) : (
          <form noValidate onSubmit={submit} className="space-y-4" aria-label="Confirm your registration">
            <p className="text-sm text-slate-700">To create your CareFlow account, enter the password you chose when you registered.</p>
            <ErrorBanner error={error} />
            <TextField
              label="Password you chose when registering"
              type="password"
              autoComplete="current-password"
              autoFocus
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              error={fieldError}
            />
            <Button busy={busy} className="w-full">
              Confirm and sign in
            </Button>
            <p className="text-sm text-slate-600">Forgot which password you chose? {registerAgain} with the same address; the new e-mail has a new link.</p>
          </form>
        )}
      </Card>
    </div>
  );
}
