//! The staff second factor through auth-login, auth-mfa, auth-refresh and users-mfa-reset:
//! no tokens without a valid TOTP code, codes and recovery codes work once, admins reset a lost
//! factor, and staff tokens without one are refused.

use careflow::auth::{Amr, Role};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

const PASSWORD: &str = "a clinician passphrase 9";

async fn login(env: &TestEnv, email: &str) -> Reply {
    env.call(
        "auth-login",
        with_body(
            event("auth-login/login.json"),
            &json!({"email": email, "password": PASSWORD}),
        ),
    )
    .await
}

async fn challenge(env: &TestEnv, email: &str) -> (String, bool) {
    let reply = login(env, email).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["mfa_required"], true, "{reply:?}");
    for absent in ["access_token", "refresh_token"] {
        assert!(reply.body.get(absent).is_none(), "{reply:?}");
    }
    (
        reply.body["mfa_token"].as_str().unwrap().to_owned(),
        reply.body["enrolment_required"].as_bool().unwrap(),
    )
}

async fn enroll(env: &TestEnv, token: &str) -> Reply {
    env.call(
        "auth-mfa",
        with_body(
            event("auth-mfa/enroll.json"),
            &json!({ "mfa_token": token }),
        ),
    )
    .await
}

async fn verify(env: &TestEnv, body: Value) -> Reply {
    env.call("auth-mfa", with_body(event("auth-mfa/verify.json"), &body))
        .await
}

fn amr_of(env: &TestEnv, tokens: &Value) -> Vec<String> {
    env.deps
        .verifier
        .verify(tokens["access_token"].as_str().unwrap())
        .unwrap()
        .amr
}

#[tokio::test]
async fn staff_get_no_tokens_without_a_valid_code_and_codes_work_once() {
    let env = TestEnv::new().await;
    let email = "doc@clinic.example";
    env.user(email, PASSWORD, Role::Doctor).await;

    // Login answers a challenge, not tokens; nothing verifies before an enrolment.
    let (token, enrolment_required) = challenge(&env, email).await;
    assert!(enrolment_required);
    verify(&env, json!({"mfa_token": token, "code": "123456"}))
        .await
        .assert_problem(409, None);
    let first = enroll(&env, &token).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert!(
        first.body["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/CareFlow:doc%40clinic.example?secret=")
    );
    // Enrolling again before confirming replaces the secret: the first one no longer works.
    let second = enroll(&env, &token).await;
    let (old, secret) = (
        first.body["secret"].as_str().unwrap(),
        second.body["secret"].as_str().unwrap().to_owned(),
    );
    assert_ne!(old, secret);
    for (body, field) in [
        (json!({"mfa_token": token}), Some("code")),
        (
            json!({"mfa_token": token, "code": "1", "recovery_code": "x"}),
            Some("recovery_code"),
        ),
        (json!({"mfa_token": token, "code": totp_now(old)}), None),
        (json!({"mfa_token": token, "code": "abcdef"}), None),
    ] {
        let reply = verify(&env, body).await;
        match field {
            Some(field) => reply.assert_problem(400, Some(field)),
            None => reply.assert_problem(401, None),
        }
    }
    let confirmed = verify(&env, json!({"mfa_token": token, "code": totp_now(&secret)})).await;
    assert_eq!(confirmed.status, 200, "{confirmed:?}");
    assert_eq!(amr_of(&env, &confirmed.body), ["pwd", "otp", "mfa"]);
    let recovery: Vec<String> =
        serde_json::from_value(confirmed.body["recovery_codes"].clone()).unwrap();
    assert_eq!(recovery.len(), 10);
    assert_eq!(
        recovery
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        10
    );
    // The challenge is spent; a confirmed factor cannot be enrolled over.
    verify(&env, json!({"mfa_token": token, "code": totp_now(&secret)}))
        .await
        .assert_problem(401, None);
    let (token, enrolment_required) = challenge(&env, email).await;
    assert!(!enrolment_required);
    enroll(&env, &token).await.assert_problem(409, None);
    // The code just used is refused (replay); the next step's is accepted, once.
    verify(&env, json!({"mfa_token": token, "code": totp_now(&secret)}))
        .await
        .assert_problem(401, None);
    let next = verify(
        &env,
        json!({"mfa_token": token, "code": totp_at(&secret, 1)}),
    )
    .await;
    assert_eq!(next.status, 200, "{next:?}");
    assert!(next.body.get("recovery_codes").is_none());

    // A recovery code works once, typed any way.
    let (token, _) = challenge(&env, email).await;
    let typed = recovery[3].to_lowercase().replace('-', " ");
    let recovered = verify(&env, json!({"mfa_token": token, "recovery_code": typed})).await;
    assert_eq!(recovered.status, 200, "{recovered:?}");
    assert_eq!(amr_of(&env, &recovered.body), ["pwd", "mfa"]);
    let (token, _) = challenge(&env, email).await;
    verify(
        &env,
        json!({"mfa_token": token, "recovery_code": recovery[3]}),
    )
    .await
    .assert_problem(401, None);

    // A refreshed session keeps its second factor.
    let refreshed = env
        .call(
            "auth-refresh",
            with_body(
                event("auth-refresh/refresh.json"),
                &json!({"refresh_token": recovered.body["refresh_token"]}),
            ),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{refreshed:?}");
    assert_eq!(amr_of(&env, &refreshed.body), ["pwd", "mfa"]);

    // Five wrong codes spend a challenge: the right one then fails too (another account, whose
    // count of wrong codes starts at zero).
    let email = "doc2@clinic.example";
    env.user(email, PASSWORD, Role::Doctor).await;
    let (_, secret) = staff_sign_in(&env, email, PASSWORD, None).await;
    let (token, _) = challenge(&env, email).await;
    for _ in 0..5 {
        verify(&env, json!({"mfa_token": token, "code": "000000"}))
            .await
            .assert_problem(401, None);
    }
    let late = verify(
        &env,
        json!({"mfa_token": token, "code": totp_at(&secret, 1)}),
    )
    .await;
    assert_eq!(late.status, 401, "{late:?}");
}

#[tokio::test]
async fn staff_tokens_without_a_second_factor_are_refused_and_patients_need_none() {
    let env = TestEnv::new().await;
    let me = event("auth-me/me.json");
    for role in [Role::Doctor, Role::Admin] {
        let user = Uuid::new_v4();
        insert_user(&env.db, user, role).await;
        let password_only = env.deps.issuer.issue(user, role, Amr::Password).unwrap();
        env.call("auth-me", with_token(me.clone(), &password_only))
            .await
            .assert_problem(401, None);
        let full = env.token(user, role);
        assert_eq!(
            env.call("auth-me", with_token(me.clone(), &full))
                .await
                .status,
            200
        );
    }
    env.user("pat@example.com", PASSWORD, Role::Patient).await;
    let reply = login(&env, "pat@example.com").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(amr_of(&env, &reply.body), ["pwd"]);
    assert!(reply.body.get("mfa_required").is_none());
}

#[tokio::test]
async fn wrong_codes_are_throttled_across_challenges_and_the_right_one_works_after() {
    let env = TestEnv::new().await;
    let email = "doc@clinic.example";
    env.user(email, PASSWORD, Role::Doctor).await;
    let (_, secret) = staff_sign_in(&env, email, PASSWORD, None).await;
    // Five free failures per account, over any number of challenges (a right password does
    // not reset them); then each failure blocks the account's codes for longer.
    let mut throttled = None;
    for attempt in 0..8 {
        let (token, _) = challenge(&env, email).await;
        let reply = verify(&env, json!({"mfa_token": token, "code": "000000"})).await;
        if reply.status == 429 {
            throttled = Some((attempt, reply));
            break;
        }
        reply.assert_problem(401, None);
    }
    let (attempt, reply) = throttled.expect("wrong codes were never throttled");
    assert_eq!(attempt, 6, "blocked after the sixth failure");
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    // While blocked even the right code is refused unread; after the back-off it works.
    let (token, _) = challenge(&env, email).await;
    verify(
        &env,
        json!({"mfa_token": token, "code": totp_at(&secret, 1)}),
    )
    .await
    .assert_problem(429, None);
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    let ok = verify(
        &env,
        json!({"mfa_token": token, "code": totp_at(&secret, 1)}),
    )
    .await;
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[tokio::test]
async fn admins_reset_a_lost_factor_and_end_its_sessions() {
    let env = TestEnv::new().await;
    let email = "doc@clinic.example";
    let doctor = env.user(email, PASSWORD, Role::Doctor).await;
    let (session, _) = staff_sign_in(&env, email, PASSWORD, None).await;
    let admin = env.user("root@clinic.example", PASSWORD, Role::Admin).await;
    let reset = |target: Uuid, token: &careflow::auth::token::AccessToken| {
        let text = event("users-mfa-reset/reset.json")
            .to_string()
            .replace("22222222-2222-4222-8222-222222222222", &target.to_string());
        with_token(serde_json::from_str(&text).unwrap(), token)
    };
    // Not by the doctor, not by an admin for themself; 404 for nobody.
    env.call(
        "users-mfa-reset",
        reset(doctor.user_id, &env.token_for(&doctor)),
    )
    .await
    .assert_problem(403, None);
    env.call(
        "users-mfa-reset",
        reset(admin.user_id, &env.token_for(&admin)),
    )
    .await
    .assert_problem(403, None);
    env.call(
        "users-mfa-reset",
        reset(Uuid::new_v4(), &env.token_for(&admin)),
    )
    .await
    .assert_problem(404, None);

    let done = env
        .call(
            "users-mfa-reset",
            reset(doctor.user_id, &env.token_for(&admin)),
        )
        .await;
    assert_eq!(done.status, 204, "{done:?}");
    // Recorded; the doctor's sessions are over; the next login enrols again.
    assert_eq!(
        env.db
            .count(&format!(
                "SELECT count(*) FROM account_events WHERE user_id = '{}' AND actor_id = '{}' AND event = 'second_factor_reset'",
                doctor.user_id, admin.user_id
            ))
            .await,
        1
    );
    env.call(
        "auth-refresh",
        with_body(
            event("auth-refresh/refresh.json"),
            &json!({"refresh_token": session["refresh_token"]}),
        ),
    )
    .await
    .assert_problem(401, None);
    let (_, enrolment_required) = challenge(&env, email).await;
    assert!(enrolment_required);
    let (again, _) = staff_sign_in(&env, email, PASSWORD, None).await;
    assert_eq!(again["recovery_codes"].as_array().unwrap().len(), 10);
}
