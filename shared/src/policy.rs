//! Who may do what: the one place CareFlow decides access.
//!
//! Every "may this caller do this to that resource" question of every resource kind (patient
//! records: profile, history, lab reports; appointments; invoices; analytics; accounts) is a
//! function here. Services ask before they read or write, and handlers hold no role checks.
//! A decision depends only on the caller (id and role) and the resource's parties (whose record,
//! whose appointment), never on whether the record exists, so a denial reveals nothing.
//!
//! | resource | patient | doctor | admin |
//! |---|---|---|---|
//! | own profile, history, lab reports | create/read/update profile, read history, upload and read lab reports | read profiles, list, add and read history, upload and read lab reports | all |
//! | appointment | book, see, cancel their own | see and cancel their own schedule's | all; books naming the patient |
//! | invoice | see their own | see their appointments' | all; pays |
//! | analytics | no | no | read |
//! | accounts | register themself | no | create doctors |

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
}

fn allow(allowed: bool) -> Result<()> {
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// `action` on `patient`'s records (`None` for list-wide actions).
pub fn patient_record(caller: &Caller, action: Action, patient: Option<Uuid>) -> Result<()> {
    use Action::*;
    let own = patient == Some(caller.user_id);
    allow(match caller.role {
        Role::Admin => true,
        Role::Doctor => matches!(
            action,
            ReadProfile
                | ListProfiles
                | AddHistory
                | ReadHistory
                | UploadLabReport
                | ReadLabReports
        ),
        Role::Patient => {
            own && matches!(
                action,
                CreateProfile
                    | ReadProfile
                    | UpdateProfile
                    | ReadHistory
                    | UploadLabReport
                    | ReadLabReports
            )
        }
    })
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

/// The role self-registration gives: always a patient.
pub const REGISTERED_ROLE: Role = Role::Patient;

/// The role of the first account, which the deployer bootstraps: an admin.
pub const BOOTSTRAP_ROLE: Role = Role::Admin;

#[cfg(test)]
mod tests {
    use super::*;

    const ROLES: [Role; 3] = [Role::Patient, Role::Doctor, Role::Admin];

    /// Who the resource belongs to, relative to the caller.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Relation {
        Own,
        Other,
        Nobody,
    }

    fn caller(role: Role) -> Caller {
        Caller {
            user_id: Uuid::from_u128(1),
            role,
        }
    }

    fn subject(caller: &Caller, relation: Relation) -> Option<Uuid> {
        match relation {
            Relation::Own => Some(caller.user_id),
            Relation::Other => Some(Uuid::from_u128(2)),
            Relation::Nobody => None,
        }
    }

    /// Patient records: every action × role × relation, against the table in the module docs.
    #[test]
    fn patient_records_table() {
        use Action::*;
        use Relation::*;
        // (action, relation, patient, doctor, admin)
        let table = [
            (CreateProfile, Own, true, false, true),
            (CreateProfile, Other, false, false, true),
            (ReadProfile, Own, true, true, true),
            (ReadProfile, Other, false, true, true),
            (UpdateProfile, Own, true, false, true),
            (UpdateProfile, Other, false, false, true),
            (ListProfiles, Nobody, false, true, true),
            (AddHistory, Own, false, true, true),
            (AddHistory, Other, false, true, true),
            (ReadHistory, Own, true, true, true),
            (ReadHistory, Other, false, true, true),
            (UploadLabReport, Own, true, true, true),
            (UploadLabReport, Other, false, true, true),
            (ReadLabReports, Own, true, true, true),
            (ReadLabReports, Other, false, true, true),
        ];
        for (action, relation, patient, doctor, admin) in table {
            for (role, want) in ROLES.into_iter().zip([patient, doctor, admin]) {
                let c = caller(role);
                assert_eq!(
                    patient_record(&c, action, subject(&c, relation)).is_ok(),
                    want,
                    "{role:?} {action:?} {relation:?}"
                );
            }
        }
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
