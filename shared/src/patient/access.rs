//! Who may do what to a patient's records.
//!
//! Checked before any lookup, so a denial never reveals whether a record exists: a patient
//! asking for someone else's profile gets 403 whether or not it exists.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Caller, Role};
use crate::{Error, Result};

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

/// Allows or refuses `action` on `patient`'s records (`None` for list-wide actions).
pub fn authorize(caller: &Caller, action: Action, patient: Option<Uuid>) -> Result<()> {
    use Action::*;
    let own = patient == Some(caller.user_id);
    let allowed = match caller.role {
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
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix() {
        let me = Uuid::new_v4();
        let other = Uuid::new_v4();
        let patient = Caller {
            user_id: me,
            role: Role::Patient,
        };
        let doctor = Caller {
            user_id: Uuid::new_v4(),
            role: Role::Doctor,
        };
        let admin = Caller {
            user_id: Uuid::new_v4(),
            role: Role::Admin,
        };
        use Action::*;
        for action in [
            CreateProfile,
            ReadProfile,
            UpdateProfile,
            ReadHistory,
            UploadLabReport,
            ReadLabReports,
        ] {
            assert!(authorize(&patient, action, Some(me)).is_ok(), "{action:?}");
            assert!(
                authorize(&patient, action, Some(other)).is_err(),
                "{action:?}"
            );
        }
        assert!(authorize(&patient, AddHistory, Some(me)).is_err());
        assert!(authorize(&patient, ListProfiles, None).is_err());
        for action in [
            ReadProfile,
            ListProfiles,
            AddHistory,
            ReadHistory,
            UploadLabReport,
            ReadLabReports,
        ] {
            assert!(
                authorize(&doctor, action, Some(other)).is_ok(),
                "{action:?}"
            );
        }
        assert!(authorize(&doctor, UpdateProfile, Some(other)).is_err());
        assert!(authorize(&doctor, CreateProfile, Some(other)).is_err());
        for action in [
            CreateProfile,
            ReadProfile,
            UpdateProfile,
            ListProfiles,
            AddHistory,
            ReadHistory,
            UploadLabReport,
            ReadLabReports,
        ] {
            assert!(authorize(&admin, action, Some(other)).is_ok(), "{action:?}");
        }
    }
}
