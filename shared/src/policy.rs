//! Who may do what: the one place CareFlow decides access.
//!
//! Every "may this caller do this to that resource" question of every resource kind (patient
//! records: profile, history, lab reports; appointments; invoices; analytics; accounts) is a
//! function here. Services ask before they read or write, and handlers hold no role checks.
//! A decision depends only on the caller (id and role), the resource's parties (whose record,
//! whose appointment) and, for a doctor and a patient's records, the care relationship between
//! them; never on whether the record exists, so a denial reveals nothing.
//!
//! | resource | patient | doctor | admin |
//! |---|---|---|---|
//! | own profile, history, lab reports | create/read/update profile, read history, upload and read lab reports | in a care relationship ([`CareRules`]) or under an emergency grant: read profile, add and read history, upload, read, correct and sign off lab reports; lists only patients in a care relationship, and the review queue of their reports | all but reviewing lab reports (a clinician's act); sees the whole review queue |
//! | care team, access log | read their own | open an emergency grant (with a reason) | all; assign and end care-team membership, list emergency grants |
//! | appointment | book, see, cancel their own | see and cancel their own schedule's | all; books naming the patient |
//! | invoice | see their own | see their appointments' | all; pays |
//! | analytics | no | no | read |
//! | accounts | register themself | no | create doctors |

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::{Error, Result};

/// What a caller does to a patient's records. The names are also the audit trail's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CreateProfile,
    ReadProfile,
    UpdateProfile,
    ListProfiles,
    AddHistory,
    ReadHistory,
    /// Get a presigned upload for a lab-report PDF.
    UploadLabReport,
    /// List or read lab reports.
    ReadLabReports,
    /// Correct a lab report's values and sign it off: a clinician's act.
    ReviewLabReport,
    /// See who is in the patient's care team (assignments, appointments, emergency grants).
    ReadCareTeam,
    /// Assign a doctor to the patient's care team, or end the assignment.
    ManageCareTeam,
    /// Open a break-the-glass grant on the patient's records.
    EmergencyAccess,
    /// Read the patient's access log.
    ReadAccessLog,
}

fn allow(allowed: bool) -> Result<()> {
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// One stored link between a doctor and a patient (the facts; [`CareRules`] says what they
/// are worth at a given time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CareLink {
    /// An appointment of the doctor with the patient (a cancelled one is kept as such, so a
    /// redelivered booking event cannot bring it back).
    Appointment {
        start_time: DateTime<Utc>,
        cancelled: bool,
    },
    /// A care-team assignment made by an admin, from `since` until `until`.
    CareTeam {
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    },
    /// A break-the-glass grant the doctor opened with a stated reason.
    Emergency {
        grant_id: Uuid,
        granted_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
}

/// What a doctor's links to a patient amount to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relationship {
    None,
    /// An appointment or a care-team assignment.
    Care,
    /// Only an open emergency grant: access is given, and audited as emergency.
    Emergency {
        grant_id: Uuid,
    },
}

/// The care-relationship rule: an appointment counts while it is upcoming or started within
/// `appointment_window`; an assignment between its start and end; an emergency grant until it
/// expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CareRules {
    pub appointment_window: Duration,
    /// How long a break-the-glass grant lasts.
    pub emergency_access: Duration,
}

impl Default for CareRules {
    fn default() -> Self {
        Self {
            appointment_window: Duration::days(365),
            emergency_access: Duration::minutes(60),
        }
    }
}

impl CareRules {
    /// `CAREFLOW_CARE_WINDOW_DAYS` (default 365) and `CAREFLOW_EMERGENCY_ACCESS_MINUTES`
    /// (default 60, at most a day).
    pub fn from_vars(vars: &crate::config::Vars) -> Result<Self, crate::config::ConfigError> {
        let days: u32 = vars.parsed_or("CAREFLOW_CARE_WINDOW_DAYS", 365)?;
        if !(1..=3650).contains(&days) {
            return Err(crate::config::ConfigError::Invalid {
                name: "CAREFLOW_CARE_WINDOW_DAYS",
                message: "must be between 1 and 3650".into(),
            });
        }
        let minutes: u32 = vars.parsed_or("CAREFLOW_EMERGENCY_ACCESS_MINUTES", 60)?;
        if !(1..=24 * 60).contains(&minutes) {
            return Err(crate::config::ConfigError::Invalid {
                name: "CAREFLOW_EMERGENCY_ACCESS_MINUTES",
                message: "must be between 1 and 1440".into(),
            });
        }
        Ok(Self {
            appointment_window: Duration::days(days.into()),
            emergency_access: Duration::minutes(minutes.into()),
        })
    }

    /// Whether one link holds at `now`.
    pub fn holds(&self, link: &CareLink, now: DateTime<Utc>) -> bool {
        match *link {
            CareLink::Appointment {
                start_time,
                cancelled,
            } => !cancelled && start_time + self.appointment_window >= now,
            CareLink::CareTeam { since, until } => since <= now && now < until,
            CareLink::Emergency {
                granted_at,
                expires_at,
                ..
            } => granted_at <= now && now < expires_at,
        }
    }

    /// The relationship `links` make at `now`: care wins over an emergency grant (an access
    /// that care covers is not an emergency).
    pub fn relationship(&self, links: &[CareLink], now: DateTime<Utc>) -> Relationship {
        let mut relationship = Relationship::None;
        for link in links.iter().filter(|l| self.holds(l, now)) {
            match *link {
                CareLink::Emergency { grant_id, .. } => {
                    relationship = Relationship::Emergency { grant_id };
                }
                _ => return Relationship::Care,
            }
        }
        relationship
    }
}

/// How an allowed access to a patient's records came about; the audit trail records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access {
    /// The break-the-glass grant the access relies on, if any.
    pub emergency_grant: Option<Uuid>,
}

/// `action` on `patient`'s records, given the caller's relationship to that patient (only a
/// doctor's matters; pass [`Relationship::None`] for others).
pub fn patient_record(
    caller: &Caller,
    action: Action,
    patient: Uuid,
    relationship: Relationship,
) -> Result<Access> {
    use Action::*;
    let own = patient == caller.user_id;
    let normal = Access::default();
    match caller.role {
        // Administrators run the clinic; confirming a lab value is a clinician's judgement.
        Role::Admin => allow(action != ReviewLabReport).map(|()| normal),
        Role::Doctor => {
            let clinical = matches!(
                action,
                ReadProfile
                    | AddHistory
                    | ReadHistory
                    | UploadLabReport
                    | ReadLabReports
                    | ReviewLabReport
            );
            match relationship {
                _ if !clinical => Err(Error::Forbidden),
                Relationship::Care => Ok(normal),
                Relationship::Emergency { grant_id } => Ok(Access {
                    emergency_grant: Some(grant_id),
                }),
                Relationship::None => Err(Error::Forbidden),
            }
        }
        Role::Patient => allow(
            own && matches!(
                action,
                CreateProfile
                    | ReadProfile
                    | UpdateProfile
                    | ReadHistory
                    | UploadLabReport
                    | ReadLabReports
                    | ReadCareTeam
                    | ReadAccessLog
            ),
        )
        .map(|()| normal),
    }
}

/// Whether `action` needs the caller's care links looked up first (a doctor's clinical access).
pub fn needs_relationship(caller: &Caller) -> bool {
    caller.role == Role::Doctor
}

/// Whether an account of `role` can be put on a care team: doctors'.
pub fn joins_care_teams(role: Role) -> bool {
    role == Role::Doctor
}

/// Which profiles a caller's `GET /patients` covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileScope {
    All,
    /// The patients in a care relationship with this doctor (not emergency grants).
    CareOf(Uuid),
}

pub fn profile_list(caller: &Caller) -> Result<ProfileScope> {
    match caller.role {
        Role::Admin => Ok(ProfileScope::All),
        Role::Doctor => Ok(ProfileScope::CareOf(caller.user_id)),
        Role::Patient => Err(Error::Forbidden),
    }
}

/// Whose reports a caller's lab review queue shows: a doctor's patients in care, every
/// patient's for admins (who route the work); patients have none.
pub fn lab_review_queue(caller: &Caller) -> Result<ProfileScope> {
    match caller.role {
        Role::Admin => Ok(ProfileScope::All),
        Role::Doctor => Ok(ProfileScope::CareOf(caller.user_id)),
        Role::Patient => Err(Error::Forbidden),
    }
}

/// Opening a break-the-glass grant: doctors (admins see everything already, patients their own).
pub fn open_emergency_access(caller: &Caller) -> Result<()> {
    allow(caller.role == Role::Doctor)
}

/// Assigning or ending care-team membership, and listing every emergency grant: admins.
pub fn manage_care(caller: &Caller) -> Result<()> {
    allow(caller.role == Role::Admin)
}

/// Whose profile a create makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileSubject {
    pub patient: Uuid,
    /// An admin named the account: it must exist and be a patient's ([`holds_a_profile`]).
    pub named_account: bool,
}

/// A patient's own profile (naming another id is refused by [`patient_record`]); an admin must
/// name the patient account.
pub fn profile_subject(caller: &Caller, named: Option<Uuid>) -> Result<ProfileSubject> {
    match (caller.role, named) {
        (Role::Admin, None) => Err(Error::invalid(
            "patient_id",
            "is required when an admin creates a profile",
        )),
        (Role::Admin, Some(id)) => Ok(ProfileSubject {
            patient: id,
            named_account: true,
        }),
        (_, named) => Ok(ProfileSubject {
            patient: named.unwrap_or(caller.user_id),
            named_account: false,
        }),
    }
}

/// Whether an account of `role` has a patient profile: patients' only.
pub fn holds_a_profile(role: Role) -> bool {
    role == Role::Patient
}

/// The two people an appointment or its invoice concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parties {
    pub patient: Uuid,
    pub doctor: Uuid,
}

impl Parties {
    fn involve(&self, caller: &Caller) -> bool {
        match caller.role {
            Role::Admin => true,
            Role::Doctor => self.doctor == caller.user_id,
            Role::Patient => self.patient == caller.user_id,
        }
    }
}

/// For whom a booking is: a patient books for themself; an admin names the patient.
pub fn booking_patient(caller: &Caller, named: Option<Uuid>) -> Result<Uuid> {
    match (caller.role, named) {
        (Role::Patient, None) => Ok(caller.user_id),
        (Role::Patient, Some(id)) if id == caller.user_id => Ok(id),
        (Role::Admin, Some(id)) => Ok(id),
        (Role::Admin, None) => Err(Error::invalid(
            "patient_id",
            "is required when an admin books",
        )),
        _ => Err(Error::Forbidden),
    }
}

/// Who may change a doctor's availability (hours, exceptions, types, buffers): the doctor
/// themself and admins. Everyone signed in may read it and its free slots (that is how
/// patients find a time).
pub fn manage_availability(caller: &Caller, doctor: Uuid) -> Result<()> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Doctor if caller.user_id == doctor => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// Who records whether a patient came: the appointment's doctor and admins.
pub fn mark_attendance(caller: &Caller, parties: &Parties) -> Result<()> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Doctor if caller.user_id == parties.doctor => Ok(()),
        _ => Err(Error::Forbidden),
    }
}

/// Whose waitlist entries a caller lists: a patient their own, admins anyone's (`None`: all,
/// or the patient they name). Doctors see who waits through the offers that reach their
/// schedule, not the list.
pub fn waitlist_scope(caller: &Caller, named: Option<Uuid>) -> Result<Option<Uuid>> {
    match caller.role {
        Role::Patient if named.is_none_or(|id| id == caller.user_id) => Ok(Some(caller.user_id)),
        Role::Admin => Ok(named),
        _ => Err(Error::Forbidden),
    }
}

/// Whether the caller may see, leave, accept or decline a waitlist entry (or its offer) of
/// `patient`: that patient and admins.
pub fn act_on_waitlist(caller: &Caller, patient: Uuid) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Patient => caller.user_id == patient,
        Role::Doctor => false,
    }
}

/// Who reads and changes a patient's notification preferences: the patient and admins.
pub fn notification_preferences(caller: &Caller, patient: Uuid) -> Result<()> {
    allow(act_on_waitlist(caller, patient))
}

/// Who can be booked: the doctor named must hold a doctor's account and the patient a
/// patient's (`None`: no such account).
pub fn booking_accounts(doctor: Option<Role>, patient: Option<Role>) -> Result<()> {
    if doctor != Some(Role::Doctor) {
        return Err(Error::invalid("doctor_id", "is not a doctor"));
    }
    if patient != Some(Role::Patient) {
        return Err(Error::invalid("patient_id", "is not a patient"));
    }
    Ok(())
}

/// Who can wait: a patient's account, for a doctor's account when one is named (`Some(None)`:
/// the id named no account; `None`: a specialty instead).
pub fn waitlist_accounts(doctor: Option<Option<Role>>, patient: Option<Role>) -> Result<()> {
    match doctor {
        Some(role) => booking_accounts(role, patient),
        None => booking_accounts(Some(Role::Doctor), patient),
    }
}

/// Whether the caller may see (and so cancel) an appointment: its patient, its doctor, admins.
pub fn see_appointment(caller: &Caller, parties: &Parties) -> bool {
    parties.involve(caller)
}

/// The appointments a caller may list, from the doctor and patient they asked for: admins any,
/// a doctor their own schedule, a patient their own. Returns the (doctor, patient) to filter on.
pub fn appointment_list(
    caller: &Caller,
    doctor: Option<Uuid>,
    patient: Option<Uuid>,
) -> Result<(Option<Uuid>, Option<Uuid>)> {
    match caller.role {
        Role::Admin => Ok((doctor, patient)),
        Role::Doctor if patient.is_none() && doctor.is_none_or(|d| d == caller.user_id) => {
            Ok((Some(caller.user_id), None))
        }
        Role::Patient if doctor.is_none() && patient.is_none_or(|p| p == caller.user_id) => {
            Ok((None, Some(caller.user_id)))
        }
        _ => Err(Error::Forbidden),
    }
}

/// Whether the caller may see an invoice: its patient, its appointment's doctor, admins.
pub fn see_invoice(caller: &Caller, parties: &Parties) -> bool {
    parties.involve(caller)
}

/// The invoices a caller may list, as (patient, doctor) to filter on.
pub fn invoice_list(caller: &Caller) -> (Option<Uuid>, Option<Uuid>) {
    match caller.role {
        Role::Admin => (None, None),
        Role::Doctor => (None, Some(caller.user_id)),
        Role::Patient => (Some(caller.user_id), None),
    }
}

/// Marking invoices paid: admins.
pub fn pay_invoice(caller: &Caller) -> Result<()> {
    allow(caller.role == Role::Admin)
}

/// Appointment volume per minute: admins.
pub fn read_analytics(caller: &Caller) -> Result<()> {
    allow(caller.role == Role::Admin)
}

/// Creating doctor accounts: admins. Answers the role the new account gets.
pub fn create_doctor(caller: &Caller) -> Result<Role> {
    allow(caller.role == Role::Admin).map(|()| Role::Doctor)
}

/// Whether an account of `role` must present a second factor (TOTP) before it gets tokens:
/// staff, who reach many patients' records.
pub fn requires_second_factor(role: Role) -> bool {
    matches!(role, Role::Doctor | Role::Admin)
}

/// Whether a session whose token says `amr` may act as `role`: a staff token without a second
/// factor is refused (401), whoever signed it.
pub fn session_admissible(role: Role, amr: &[String]) -> Result<()> {
    if requires_second_factor(role) && !crate::auth::Amr::is_multi_factor(amr) {
        return Err(Error::Unauthenticated(
            "this account needs a second factor; log in again".into(),
        ));
    }
    Ok(())
}

/// Resetting an account's second factor (a lost phone): admins, for another account (an admin
/// who lost theirs asks another admin).
pub fn reset_second_factor(caller: &Caller, account: Uuid) -> Result<()> {
    allow(caller.role == Role::Admin && caller.user_id != account)
}

/// The role self-registration gives: always a patient.
pub const REGISTERED_ROLE: Role = Role::Patient;

/// The role of the first account, which the deployer bootstraps: an admin.
pub const BOOTSTRAP_ROLE: Role = Role::Admin;

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 3] = [Role::Patient, Role::Doctor, Role::Admin];

    fn caller(role: Role) -> Caller {
        Caller {
            user_id: Uuid::from_u128(1),
            role,
        }
    }

    /// Patient records: every action × role × (whose record, which relationship), against the
    /// table in the module docs. `Own` is the caller's own record; the others are someone
    /// else's, with the relationship the caller has to that patient.
    #[test]
    fn patient_records_table() {
        use Action::*;
        #[derive(Debug, Clone, Copy)]
        enum Whose {
            Own,
            Unrelated,
            InCare,
            Emergency,
        }
        use Whose::*;
        let grant = Uuid::from_u128(9);
        let clinical = [
            ReadProfile,
            AddHistory,
            ReadHistory,
            UploadLabReport,
            ReadLabReports,
            ReviewLabReport,
        ];
        let mut table = Vec::new();
        for action in [
            CreateProfile,
            ReadProfile,
            UpdateProfile,
            AddHistory,
            ReadHistory,
            UploadLabReport,
            ReadLabReports,
            ReviewLabReport,
            ReadCareTeam,
            ReadAccessLog,
        ] {
            let patient_own = !matches!(action, AddHistory | ReviewLabReport);
            let doctor = clinical.contains(&action);
            let admin = action != ReviewLabReport;
            // (whose, patient allowed, doctor allowed, admin allowed)
            table.push((action, Own, patient_own, false, admin));
            table.push((action, Unrelated, false, false, admin));
            table.push((action, InCare, false, doctor, admin));
            table.push((action, Emergency, false, doctor, admin));
        }
        for (action, whose, patient, doctor, admin) in table {
            for (role, want) in [Role::Patient, Role::Doctor, Role::Admin]
                .into_iter()
                .zip([patient, doctor, admin])
            {
                let c = caller(role);
                let (subject, relationship) = match whose {
                    Own => (c.user_id, Relationship::None),
                    Unrelated => (Uuid::from_u128(2), Relationship::None),
                    InCare => (Uuid::from_u128(2), Relationship::Care),
                    Emergency => (
                        Uuid::from_u128(2),
                        Relationship::Emergency { grant_id: grant },
                    ),
                };
                let decision = patient_record(&c, action, subject, relationship);
                assert_eq!(decision.is_ok(), want, "{role:?} {action:?} {whose:?}");
                if let Ok(access) = decision {
                    let emergency = role == Role::Doctor && matches!(whose, Emergency);
                    assert_eq!(
                        access.emergency_grant,
                        emergency.then_some(grant),
                        "{role:?} {action:?} {whose:?}"
                    );
                }
            }
        }
        assert_eq!(
            profile_list(&caller(Role::Admin)).unwrap(),
            ProfileScope::All
        );
        assert_eq!(
            profile_list(&caller(Role::Doctor)).unwrap(),
            ProfileScope::CareOf(Uuid::from_u128(1))
        );
        assert!(profile_list(&caller(Role::Patient)).is_err());
        assert_eq!(
            lab_review_queue(&caller(Role::Doctor)).unwrap(),
            ProfileScope::CareOf(Uuid::from_u128(1))
        );
        assert_eq!(
            lab_review_queue(&caller(Role::Admin)).unwrap(),
            ProfileScope::All
        );
        assert!(lab_review_queue(&caller(Role::Patient)).is_err());
        for role in ROLES {
            let c = caller(role);
            assert_eq!(open_emergency_access(&c).is_ok(), role == Role::Doctor);
            assert_eq!(manage_care(&c).is_ok(), role == Role::Admin);
            assert_eq!(needs_relationship(&c), role == Role::Doctor);
        }
    }

    /// Which stored links make a relationship at a given time.
    #[test]
    fn care_relationship_table() {
        let rules = CareRules::default();
        let now = DateTime::parse_from_rfc3339("2026-12-05T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let days = Duration::days;
        let grant = Uuid::from_u128(7);
        let appointment = |offset: Duration, cancelled| CareLink::Appointment {
            start_time: now + offset,
            cancelled,
        };
        let team = |since: Duration, until: Duration| CareLink::CareTeam {
            since: now + since,
            until: now + until,
        };
        let emergency = |granted: Duration, expires: Duration| CareLink::Emergency {
            grant_id: grant,
            granted_at: now + granted,
            expires_at: now + expires,
        };
        let care = Relationship::Care;
        let none = Relationship::None;
        let open = Relationship::Emergency { grant_id: grant };
        let cases = [
            (vec![], none),
            (vec![appointment(days(30), false)], care),
            (vec![appointment(days(-364), false)], care),
            (vec![appointment(days(-365), false)], care),
            (vec![appointment(days(-366), false)], none),
            (vec![appointment(days(3), true)], none),
            (vec![team(days(-10), days(10))], care),
            (vec![team(days(-10), days(-1))], none),
            (vec![team(days(1), days(10))], none),
            (vec![team(days(-10), Duration::zero())], none),
            (
                vec![emergency(Duration::minutes(-30), Duration::minutes(30))],
                open,
            ),
            (
                vec![emergency(Duration::minutes(-61), Duration::minutes(-1))],
                none,
            ),
            (
                vec![
                    emergency(Duration::minutes(-1), Duration::minutes(59)),
                    appointment(days(1), false),
                ],
                care,
            ),
            (
                vec![appointment(days(1), true), team(days(-400), days(-1))],
                none,
            ),
        ];
        for (links, want) in cases {
            assert_eq!(rules.relationship(&links, now), want, "{links:?}");
        }
        let short = CareRules {
            appointment_window: days(30),
            ..rules
        };
        assert_eq!(
            short.relationship(&[appointment(days(-31), false)], now),
            none
        );
    }

    /// Appointments and invoices: each role × which party the caller is.
    #[test]
    fn appointments_and_invoices_table() {
        let me = Uuid::from_u128(1);
        let someone = Uuid::from_u128(2);
        let cases = [
            // (parties, patient sees, doctor sees, admin sees)
            (
                Parties {
                    patient: me,
                    doctor: someone,
                },
                true,
                false,
                true,
            ),
            (
                Parties {
                    patient: someone,
                    doctor: me,
                },
                false,
                true,
                true,
            ),
            (
                Parties {
                    patient: someone,
                    doctor: someone,
                },
                false,
                false,
                true,
            ),
        ];
        for (parties, patient, doctor, admin) in cases {
            for (role, want) in ROLES.into_iter().zip([patient, doctor, admin]) {
                let c = caller(role);
                assert_eq!(see_appointment(&c, &parties), want, "{role:?} {parties:?}");
                assert_eq!(see_invoice(&c, &parties), want, "{role:?} {parties:?}");
            }
        }
        for role in ROLES {
            let c = caller(role);
            let admin = role == Role::Admin;
            assert_eq!(pay_invoice(&c).is_ok(), admin);
            assert_eq!(read_analytics(&c).is_ok(), admin);
            assert_eq!(create_doctor(&c).is_ok(), admin);
        }
    }

    #[test]
    fn staff_sessions_need_a_second_factor() {
        let amr = |values: &[&str]| values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>();
        for (role, values, admissible) in [
            (Role::Patient, amr(&["pwd"]), true),
            (Role::Patient, amr(&[]), true),
            (Role::Doctor, amr(&["pwd"]), false),
            (Role::Doctor, amr(&[]), false),
            (Role::Doctor, amr(&["pwd", "otp", "mfa"]), true),
            (Role::Admin, amr(&["pwd", "otp"]), false),
            (Role::Admin, amr(&["pwd", "mfa"]), true),
        ] {
            assert_eq!(
                session_admissible(role, &values).is_ok(),
                admissible,
                "{role:?} {values:?}"
            );
        }
        let (a, d) = (caller(Role::Admin), caller(Role::Doctor));
        assert!(reset_second_factor(&a, Uuid::from_u128(2)).is_ok());
        assert!(reset_second_factor(&a, a.user_id).is_err(), "not their own");
        assert!(reset_second_factor(&d, Uuid::from_u128(2)).is_err());
    }

    #[test]
    fn lists_are_scoped_to_the_caller() {
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (p, d, a) = (
            caller(Role::Patient),
            caller(Role::Doctor),
            caller(Role::Admin),
        );
        assert_eq!(appointment_list(&p, None, None).unwrap(), (None, Some(me)));
        assert_eq!(
            appointment_list(&p, None, Some(me)).unwrap(),
            (None, Some(me))
        );
        assert!(appointment_list(&p, None, Some(other)).is_err());
        assert!(appointment_list(&p, Some(other), None).is_err());
        assert_eq!(appointment_list(&d, None, None).unwrap(), (Some(me), None));
        assert_eq!(
            appointment_list(&d, Some(me), None).unwrap(),
            (Some(me), None)
        );
        assert!(appointment_list(&d, Some(other), None).is_err());
        assert!(appointment_list(&d, None, Some(other)).is_err());
        assert_eq!(
            appointment_list(&a, Some(other), Some(me)).unwrap(),
            (Some(other), Some(me))
        );
        assert_eq!(invoice_list(&p), (Some(me), None));
        assert_eq!(invoice_list(&d), (None, Some(me)));
        assert_eq!(invoice_list(&a), (None, None));
    }

    #[test]
    fn only_a_doctor_can_be_booked_and_only_for_a_patient() {
        let roles = [
            None,
            Some(Role::Patient),
            Some(Role::Doctor),
            Some(Role::Admin),
        ];
        for doctor in roles {
            for patient in roles {
                let field = match booking_accounts(doctor, patient) {
                    Ok(()) => None,
                    Err(Error::InvalidField { field, .. }) => Some(field),
                    Err(e) => panic!("{e:?}"),
                };
                let expected = if doctor != Some(Role::Doctor) {
                    Some("doctor_id")
                } else if patient != Some(Role::Patient) {
                    Some("patient_id")
                } else {
                    None
                };
                assert_eq!(field.as_deref(), expected, "{doctor:?} {patient:?}");
            }
        }
    }

    #[test]
    fn who_a_booking_or_a_profile_is_for() {
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let (p, d, a) = (
            caller(Role::Patient),
            caller(Role::Doctor),
            caller(Role::Admin),
        );
        assert_eq!(booking_patient(&p, None).unwrap(), me);
        assert_eq!(booking_patient(&p, Some(me)).unwrap(), me);
        assert!(matches!(
            booking_patient(&p, Some(other)),
            Err(Error::Forbidden)
        ));
        assert!(matches!(booking_patient(&d, None), Err(Error::Forbidden)));
        assert_eq!(booking_patient(&a, Some(other)).unwrap(), other);
        assert!(matches!(
            booking_patient(&a, None),
            Err(Error::InvalidField { .. })
        ));
        let own = |patient| ProfileSubject {
            patient,
            named_account: false,
        };
        assert_eq!(profile_subject(&p, None).unwrap(), own(me));
        assert_eq!(profile_subject(&p, Some(other)).unwrap(), own(other));
        assert_eq!(profile_subject(&d, None).unwrap(), own(me));
        assert_eq!(
            profile_subject(&a, Some(other)).unwrap(),
            ProfileSubject {
                patient: other,
                named_account: true
            }
        );
        assert!(profile_subject(&a, None).is_err());
        assert!(holds_a_profile(Role::Patient));
        assert!(!holds_a_profile(Role::Doctor) && !holds_a_profile(Role::Admin));
    }
}
