import { useEffect, useRef, useState } from "react";
import type { Role } from "./api";
import { useAuth } from "./auth";
import { ErrorBanner } from "./components/ui";
import { AnalyticsPage, DoctorsPage } from "./pages/admin";
import { AppointmentsPage, BookPage } from "./pages/appointments";
import { AvailabilityPage } from "./pages/availability";
import { LoginPage, RegisterPage, VerifyEmailPage, homeFor } from "./pages/auth";
import { AccessLogPage, CareTeamsPage, EmergencyGrantsPage, MyCareTeamPage } from "./pages/care";
import { InvoicesPage } from "./pages/invoices";
import { LabPage, LabReportPage } from "./pages/lab";
import { LabReviewQueuePage } from "./pages/lab-review";
import { ProfilePage } from "./pages/profile";
import { PatientRecordPage, PatientsPage } from "./pages/records";
import { WaitlistPage } from "./pages/waitlist";
import { currentRoute, match, navigate, rememberReturn, takeReturn, useRoute } from "./router";

const NAV: Record<Role, { href: string; label: string }[]> = {
  patient: [
    { href: "/appointments", label: "Appointments" },
    { href: "/book", label: "Book" },
    { href: "/waitlist", label: "Waitlist" },
    { href: "/invoices", label: "Invoices" },
    { href: "/lab", label: "Lab reports" },
    { href: "/profile", label: "Profile" },
    { href: "/care-team", label: "Care team" },
    { href: "/access-log", label: "Access log" },
  ],
  doctor: [
    { href: "/schedule", label: "Schedule" },
    { href: "/availability", label: "Availability" },
    { href: "/patients", label: "Patients" },
    { href: "/lab-review", label: "Lab review" },
  ],
  admin: [
    { href: "/admin/analytics", label: "Analytics" },
    { href: "/admin/invoices", label: "Invoices" },
    { href: "/admin/doctors", label: "Doctors" },
    { href: "/admin/appointments", label: "Appointments" },
    { href: "/patients", label: "Patients" },
    { href: "/lab-review", label: "Lab review" },
    { href: "/admin/care-teams", label: "Care teams" },
    { href: "/admin/emergency-access", label: "Emergency access" },
  ],
};

/** Pages shown without signing in; `/verify-email` is opened from the registration e-mail. */
const PUBLIC_ROUTES = ["/login", "/register", "/verify-email"];

function Page({ route, role, userId }: { route: string; role: Role; userId: string }) {
  const allow = (...roles: Role[]) => roles.includes(role);
  let m: Record<string, string> | null;
  if (route === "/appointments" && allow("patient")) return <AppointmentsPage />;
  if (route === "/book" && allow("patient")) return <BookPage />;
  if (route === "/waitlist" && allow("patient")) return <WaitlistPage />;
  if (route === "/invoices" && allow("patient", "doctor")) return <InvoicesPage />;
  if (route === "/lab" && allow("patient")) return <LabPage patientId={userId} />;
  if (route === "/profile" && allow("patient")) return <ProfilePage />;
  if (route === "/care-team" && allow("patient")) return <MyCareTeamPage patientId={userId} />;
  if (route === "/access-log" && allow("patient")) return <AccessLogPage patientId={userId} />;
  if (route === "/schedule" && allow("doctor")) return <AppointmentsPage />;
  if (route === "/availability" && allow("doctor")) return <AvailabilityPage doctorId={userId} own />;
  if (route === "/patients" && allow("doctor", "admin")) return <PatientsPage />;
  if ((m = match("/patients/:id", route)) && allow("doctor", "admin")) return <PatientRecordPage patientId={m.id} />;
  if (route === "/lab-review" && allow("doctor", "admin")) return <LabReviewQueuePage />;
  if ((m = match("/patients/:id/lab-reports/:reportId", route)) && allow("doctor", "admin")) return <LabReportPage key={`${m.id}/${m.reportId}`} patientId={m.id} reportId={m.reportId} />;
  if (route === "/admin/analytics" && allow("admin")) return <AnalyticsPage />;
  if (route === "/admin/invoices" && allow("admin")) return <InvoicesPage />;
  if (route === "/admin/doctors" && allow("admin")) return <DoctorsPage />;
  if ((m = match("/admin/doctors/:id/availability", route)) && allow("admin")) return <AvailabilityPage key={m.id} doctorId={m.id} own={false} />;
  if (route === "/admin/appointments" && allow("admin")) return <AppointmentsPage />;
  if (route === "/admin/care-teams" && allow("admin")) return <CareTeamsPage />;
  if ((m = match("/admin/care-teams/:id", route)) && allow("admin")) return <CareTeamsPage key={m.id} patientId={m.id} />;
  if (route === "/admin/emergency-access" && allow("admin")) return <EmergencyGrantsPage />;
  return <ErrorBanner error="This page does not exist or is not available to your account." />;
}

export default function App() {
  const { me, signOut, expired } = useAuth();
  const route = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);

  // Whether this tab was signed in before: a deliberate sign-out returns to no page afterwards.
  const hadSession = useRef(false);

  useEffect(() => {
    setMenuOpen(false);
    if (me) hadSession.current = true;
    if (!me && !PUBLIC_ROUTES.includes(route)) {
      // A link opened while signed out (an e-mail's `#/waitlist`), or a session that expired:
      // back to that page after signing in.
      if (!hadSession.current || expired) rememberReturn(route);
      navigate("/login");
    }
    // A patient who just confirmed their registration goes on to complete their profile.
    if (me && (route === "/register" || route === "/verify-email")) navigate(me.role === "patient" ? "/profile" : homeFor(me));
    // The address bar, not `route`: the sign-in page may have moved on already (to the page
    // a link asked for) before this render saw the hash change.
    const current = currentRoute();
    if (me && (current === "/" || current === "/login")) navigate(takeReturn() ?? homeFor(me));
    // Move focus to the main content on navigation, for keyboard and screen-reader users.
    document.getElementById("main")?.focus({ preventScroll: true });
  }, [me, route, expired]);

  const links = me ? NAV[me.role] : [];
  return (
    <div className="min-h-screen">
      <a href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }} className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:bg-white focus:p-2">
        Skip to content
      </a>
      <header className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-5xl flex-wrap items-center justify-between gap-2 px-4 py-3">
          <a href={me ? `#${homeFor(me)}` : "#/login"} className="text-xl font-bold text-teal-800">
            CareFlow
          </a>
          {me && (
            <>
              <button
                type="button"
                className="rounded-md border border-slate-300 px-3 py-1.5 text-sm font-semibold md:hidden"
                aria-expanded={menuOpen}
                aria-controls="main-nav"
                onClick={() => setMenuOpen(!menuOpen)}
              >
                Menu
              </button>
              <nav id="main-nav" aria-label="Main" className={`${menuOpen ? "block" : "hidden"} w-full md:block md:w-auto`}>
                <ul className="flex flex-col gap-1 md:flex-row md:items-center md:gap-4">
                  {links.map((l) => (
                    <li key={l.href}>
                      <a
                        href={`#${l.href}`}
                        aria-current={route === l.href || route.startsWith(`${l.href}/`) ? "page" : undefined}
                        className="block rounded px-2 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-100 aria-[current=page]:bg-teal-50 aria-[current=page]:text-teal-800"
                      >
                        {l.label}
                      </a>
                    </li>
                  ))}
                  <li className="border-t border-slate-100 pt-1 md:border-0 md:pt-0">
                    <span className="block px-2 text-xs text-slate-500 md:inline">
                      {me.full_name} ({me.role})
                    </span>
                  </li>
                  <li>
                    <button type="button" onClick={() => void signOut().then(() => navigate("/login"))} className="block rounded px-2 py-1.5 text-sm font-semibold text-teal-800 hover:bg-slate-100">
                      Sign out
                    </button>
                  </li>
                </ul>
              </nav>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1} className="mx-auto max-w-5xl px-4 py-6 focus:outline-none">
        {me ? <Page route={route} role={me.role} userId={me.user_id} /> : route === "/register" ? <RegisterPage /> : route === "/verify-email" ? <VerifyEmailPage /> : <LoginPage expired={expired} />}
      </main>
    </div>
  );
}
