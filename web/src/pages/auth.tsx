import { useState, type FormEvent } from "react";
import { ApiError, errorMessage, request, type Me } from "../api";
import { useAuth } from "../auth";
import { Button, Card, ErrorBanner, Notice, PageTitle, TextField } from "../components/ui";
import { navigate } from "../router";

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function homeFor(me: Me) {
  return me.role === "patient" ? "/appointments" : me.role === "doctor" ? "/schedule" : "/admin/analytics";
}

export function LoginPage({ expired }: { expired: boolean }) {
  const { signIn } = useAuth();
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
      const me = await signIn(email.trim(), password);
      navigate(homeFor(me));
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="mx-auto max-w-md">
      <PageTitle>Sign in</PageTitle>
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
    </div>
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
