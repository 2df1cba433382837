//! auth-register, auth-login, auth-refresh, auth-logout, auth-me, users-create-doctor and
//! migrate, fed the sample events of `events/`.

use careflow::auth::Role;
use careflow::auth::token::Verifier;
use serde_json::{Value, json};

use crate::support::*;

const PASSWORD: &str = "a long passphrase 42";

#[tokio::test]
async fn registration_is_completed_by_the_link_and_the_password_and_makes_a_patient() {
    let env = TestEnv::new().await;
    let sample = event("auth-register/register.json");
    let mut sent = body_of(&sample);
    let email = unique_email("Jo.Example");
    sent["email"] = json!(email);
    let reply = env.call("auth-register", with_body(sample, &sent)).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    assert_eq!(
        reply.body,
        json!({"status": "verification_sent", "email": email.to_lowercase()})
    );
    // Nothing exists until the link is used; the link is in the mail, not in the answer.
    assert_eq!(env.db.count("SELECT count(*) FROM users").await, 0);
    let token = registration_token(&email.to_lowercase()).await;
    assert!(!reply.body.to_string().contains(&token));
    let verify = |token: &str, password: &str| {
        with_body(
            event("auth-verify-email/verify-email.json"),
            &json!({"token": token, "password": password}),
        )
    };
    // The link alone is not enough: the password chosen at registration must come with it.
    env.call(
        "auth-verify-email",
        verify(&token, "another long passphrase"),
    )
    .await
    .assert_problem(401, None);
    env.call("auth-verify-email", verify("cfv_garbage", PASSWORD))
        .await
        .assert_problem(400, Some("token"));
    let done = env
        .call(
            "auth-verify-email",
            verify(&token, sent["password"].as_str().unwrap()),
        )
        .await;
    assert_eq!(done.status, 201, "{done:?}");
    assert_eq!(done.body["role"], "patient");
    assert_eq!(done.body["email"], email.to_lowercase());
    assert!(done.body.get("password_hash").is_none());
    let claims = env
        .deps
        .verifier
        .verify(done.body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.amr, ["pwd"]);
    let id: uuid::Uuid = done.body["user_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(claims.sub, id);
    let row = env
        .db
        .client()
        .await
        .query_one(
            "SELECT password_hash, role FROM users WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap();
    let hash: String = row.get(0);
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(sent["password"].as_str().unwrap()));
    assert_eq!(row.get::<_, String>(1), "patient");
    // The link works once.
    env.call(
        "auth-verify-email",
        verify(&token, sent["password"].as_str().unwrap()),
    )
    .await
    .assert_problem(400, Some("token"));
}

#[tokio::test]
async fn register_rejects_bad_input_naming_the_field_and_writes_nothing() {
    let env = TestEnv::new().await;
    let invalid = env
        .call("auth-register", event("auth-register/invalid-email.json"))
        .await;
    invalid.assert_problem(400, Some("email"));

    let base = event("auth-register/register.json");
    let good = body_of(&base);
    let with = |patch: Value| {
        let mut body = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                body.as_object_mut().unwrap().remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        with_body(base.clone(), &body)
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (with(json!({"full_name": null})), 400, "full_name"),
        (with(json!({"email": null})), 400, "email"),
        (
            with(json!({"full_name": "x".repeat(201)})),
            400,
            "full_name",
        ),
        (with(json!({"full_name": "   "})), 400, "full_name"),
        (
            with(json!({"email": format!("{}@example.com", "a".repeat(250))})),
            400,
            "email",
        ),
        (with(json!({"password": "short"})), 400, "password"),
        (with(json!({"password": "x".repeat(129)})), 400, "password"),
        (with(json!({"email": 42})), 400, "email"),
        (with(json!({"role": "admin"})), 400, "role"),
    ];
    for (event, status, field) in cases {
        env.call("auth-register", event)
            .await
            .assert_problem(status, Some(field));
    }

    let mut malformed = base.clone();
    malformed["body"] = json!("{\"email\": ");
    env.call("auth-register", malformed)
        .await
        .assert_problem(400, Some("body"));

    let mut wrong_type = base.clone();
    wrong_type["headers"]["content-type"] = json!("text/plain");
    env.call("auth-register", wrong_type)
        .await
        .assert_problem(400, Some("content-type"));

    let mut no_type = base.clone();
    no_type["headers"]
        .as_object_mut()
        .unwrap()
        .remove("content-type");
    env.call("auth-register", no_type)
        .await
        .assert_problem(400, Some("content-type"));

    let huge = with(json!({"full_name": "y".repeat(20_000)}));
    env.call("auth-register", huge)
        .await
        .assert_problem(413, None);

    assert_eq!(env.db.count("SELECT count(*) FROM users").await, 0);
}

/// A stranger cannot tell a taken address from a free one: the same answer, and the owner of
/// the taken one gets a notice instead of a link.
#[tokio::test]
async fn registration_does_not_tell_which_addresses_have_accounts() {
    let env = TestEnv::new().await;
    let taken = unique_email("owner");
    register_patient(&env, &taken, PASSWORD, "Owner").await;
    let free = unique_email("newcomer");
    let mut answers = Vec::new();
    for email in [taken.to_uppercase(), free.clone()] {
        let reply = env
            .call(
                "auth-register",
                with_body(
                    event("auth-register/register.json"),
                    &json!({"email": email, "password": "a stranger's passphrase", "full_name": "S"}),
                ),
            )
            .await;
        assert_eq!(reply.status, 202, "{reply:?}");
        let mut body = reply.body.clone();
        body["email"] = json!("(the address sent)");
        answers.push((reply.status, body, reply.headers.clone()));
    }
    assert_eq!(
        answers[0], answers[1],
        "a taken address answers differently"
    );
    let to_owner = sent_emails(&taken.to_lowercase()).await;
    assert_eq!(to_owner.len(), 2, "{to_owner:?}");
    assert!(!to_owner[1].1.contains("token="), "{to_owner:?}");
    assert!(sent_emails(&free).await[0].1.contains("token="));
    assert_eq!(env.db.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM pending_registrations")
            .await,
        1
    );
}

#[tokio::test]
async fn concurrent_confirmations_of_one_address_create_one_user() {
    let env = TestEnv::new().await;
    let email = unique_email("twice");
    let register = with_body(
        event("auth-register/register.json"),
        &json!({"email": email, "password": PASSWORD, "full_name": "Twice"}),
    );
    // Two registrations of one address (two links), confirmed at the same time, four times each.
    for _ in 0..2 {
        assert_eq!(
            env.call("auth-register", register.clone()).await.status,
            202
        );
    }
    let tokens: Vec<String> = sent_emails(&email)
        .await
        .iter()
        .map(|(_, body)| {
            body.split("token=")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(tokens.len(), 2);
    let replies = futures::future::join_all(tokens.iter().cycle().take(8).map(|t| {
        env.call(
            "auth-verify-email",
            with_body(
                event("auth-verify-email/verify-email.json"),
                &json!({"token": t, "password": PASSWORD}),
            ),
        )
    }))
    .await;
    let created = replies.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "{replies:?}");
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 201)
            .all(|r| r.status == 400 || r.status == 409),
        "{replies:?}"
    );
    assert_eq!(env.db.count("SELECT count(*) FROM users").await, 1);
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM pending_registrations")
            .await,
        0
    );
}

#[tokio::test]
async fn login_sample_event_returns_verifiable_tokens() {
    let env = TestEnv::new().await;
    let sample = event("auth-login/login.json");
    let creds = body_of(&sample);
    let user = env
        .user(
            creds["email"].as_str().unwrap(),
            creds["password"].as_str().unwrap(),
            Role::Patient,
        )
        .await;
    let reply = env.call("auth-login", sample).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(
        reply.body["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("cfr_")
    );
    let claims = env
        .deps
        .verifier
        .verify(reply.body["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.sub, user.user_id);
    assert_eq!(claims.role, Role::Patient);
    assert_eq!(claims.iss, ISSUER);
    assert_eq!(claims.aud, AUDIENCE);
    assert_eq!(env.db.count("SELECT count(*) FROM refresh_tokens").await, 1);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_answer() {
    let env = TestEnv::new().await;
    env.user("known@example.com", PASSWORD, Role::Patient).await;
    let sample = event("auth-login/login.json");
    let wrong_password = env
        .call(
            "auth-login",
            with_body(
                sample.clone(),
                &json!({"email": "known@example.com", "password": "not the passphrase"}),
            ),
        )
        .await;
    let unknown = env
        .call(
            "auth-login",
            with_body(
                sample.clone(),
                &json!({"email": "nobody@example.com", "password": PASSWORD}),
            ),
        )
        .await;
    let malformed = env
        .call(
            "auth-login",
            with_body(
                sample,
                &json!({"email": "not-an-email", "password": PASSWORD}),
            ),
        )
        .await;
    wrong_password.assert_problem(401, None);
    assert_eq!(wrong_password.body, unknown.body);
    assert_eq!(wrong_password.body, malformed.body);
    assert_eq!(env.db.count("SELECT count(*) FROM refresh_tokens").await, 0);
}

async fn login(env: &TestEnv, email: &str) -> Value {
    let reply = env
        .call(
            "auth-login",
            with_body(
                event("auth-login/login.json"),
                &json!({"email": email, "password": PASSWORD}),
            ),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    reply.body
}

async fn refresh(env: &TestEnv, token: &str) -> crate::support::Reply {
    env.call(
        "auth-refresh",
        with_body(
            event("auth-refresh/refresh.json"),
            &json!({"refresh_token": token}),
        ),
    )
    .await
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let env = TestEnv::new().await;
    env.user("rot@example.com", PASSWORD, Role::Patient).await;
    let first = login(&env, "rot@example.com").await;
    let rt1 = first["refresh_token"].as_str().unwrap();

    let second = refresh(&env, rt1).await;
    assert_eq!(second.status, 200, "{second:?}");
    let rt2 = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    env.deps
        .verifier
        .verify(second.body["access_token"].as_str().unwrap())
        .unwrap();

    let third = refresh(&env, &rt2).await;
    assert_eq!(third.status, 200);
    let rt3 = third.body["refresh_token"].as_str().unwrap().to_owned();

    // rt1 was rotated already: presenting it again is reuse, and kills the family.
    refresh(&env, rt1).await.assert_problem(401, None);
    refresh(&env, &rt3).await.assert_problem(401, None);
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .await,
        0
    );

    // Another login starts a new, unaffected family.
    let again = login(&env, "rot@example.com").await;
    assert_eq!(
        refresh(&env, again["refresh_token"].as_str().unwrap())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_cannot_both_win() {
    let env = TestEnv::new().await;
    env.user("race@example.com", PASSWORD, Role::Patient).await;
    let rt = login(&env, "race@example.com").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let replies = futures::future::join_all((0..5).map(|_| refresh(&env, &rt))).await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{replies:?}");
    assert!(replies.iter().all(|r| r.status == 200 || r.status == 401));
    // The losers presented a rotated token, which revoked the family, the winner's new token included.
    refresh(&env, winners[0].body["refresh_token"].as_str().unwrap())
        .await
        .assert_problem(401, None);
}

#[tokio::test]
async fn refresh_rejects_garbage_expired_and_malformed_bodies() {
    let env = TestEnv::new().await;
    refresh(&env, "cfr_not-a-real-token")
        .await
        .assert_problem(401, None);
    refresh(&env, &format!("cfr_{}", "A".repeat(43)))
        .await
        .assert_problem(401, None);
    let reply = env
        .call(
            "auth-refresh",
            with_body(event("auth-refresh/refresh.json"), &json!({"token": "x"})),
        )
        .await;
    reply.assert_problem(400, Some("token"));

    env.user("old@example.com", PASSWORD, Role::Patient).await;
    let rt = login(&env, "old@example.com").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.db
        .client()
        .await
        .execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let expired = refresh(&env, &rt).await;
    expired.assert_problem(401, None);
    assert_eq!(expired.body["detail"], "refresh token expired");
}

#[tokio::test]
async fn logout_revokes_only_the_callers_own_family() {
    let env = TestEnv::new().await;
    let alice = env.user("alice@example.com", PASSWORD, Role::Patient).await;
    env.user("bob@example.com", PASSWORD, Role::Patient).await;
    let alice_rt = login(&env, "alice@example.com").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_rt = login(&env, "bob@example.com").await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice_token = env.token_for(&alice);

    // Alice "logs out" Bob's token: nothing happens to Bob.
    let sample = with_token(event("auth-logout/logout.json"), &alice_token);
    let reply = env
        .call(
            "auth-logout",
            with_body(sample.clone(), &json!({"refresh_token": bob_rt})),
        )
        .await;
    assert_eq!(reply.status, 204);
    assert_eq!(refresh(&env, &bob_rt).await.status, 200);

    let reply = env
        .call(
            "auth-logout",
            with_body(sample.clone(), &json!({"refresh_token": alice_rt})),
        )
        .await;
    assert_eq!(reply.status, 204);
    refresh(&env, &alice_rt).await.assert_problem(401, None);
    // Idempotent.
    assert_eq!(
        env.call(
            "auth-logout",
            with_body(sample, &json!({"refresh_token": alice_rt}))
        )
        .await
        .status,
        204
    );

    // Without a token: 401 before anything else.
    let anonymous = with_authorization(event("auth-logout/logout.json"), "");
    env.call("auth-logout", anonymous)
        .await
        .assert_problem(401, None);
}

#[tokio::test]
async fn me_sample_event_returns_the_caller() {
    let env = TestEnv::new().await;
    let user = env.user("me@example.com", PASSWORD, Role::Patient).await;
    let reply = env
        .call(
            "auth-me",
            with_token(event("auth-me/me.json"), &env.token_for(&user)),
        )
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["user_id"], user.user_id.to_string());
    assert_eq!(reply.body["email"], "me@example.com");
    assert_eq!(reply.body["role"], "patient");
    assert_eq!(reply.body["full_name"], "Test Person");

    // The sample's own placeholder token never verifies.
    env.call("auth-me", event("auth-me/me.json"))
        .await
        .assert_problem(401, None);

    // A token whose subject differs from what the authorizer saw is refused.
    let other = env.user("other@example.com", PASSWORD, Role::Patient).await;
    let mut mismatched = with_token(event("auth-me/me.json"), &env.token_for(&user));
    mismatched["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] =
        json!(other.user_id.to_string());
    env.call("auth-me", mismatched)
        .await
        .assert_problem(401, None);
}

#[tokio::test]
async fn only_admins_create_doctors() {
    let env = TestEnv::new().await;
    let admin = env.user("root@clinic.example", PASSWORD, Role::Admin).await;
    let patient = env.user("pat@example.com", PASSWORD, Role::Patient).await;
    let doctor = env.user("doc@clinic.example", PASSWORD, Role::Doctor).await;
    let sample = event("users-create-doctor/create-doctor.json");
    let sent = body_of(&sample);

    for caller in [&patient, &doctor] {
        let reply = env
            .call(
                "users-create-doctor",
                with_token(sample.clone(), &env.token_for(caller)),
            )
            .await;
        reply.assert_problem(403, None);
    }
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM users WHERE role = 'doctor'")
            .await,
        1
    );

    let reply = env
        .call(
            "users-create-doctor",
            with_token(sample.clone(), &env.token_for(&admin)),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    assert_eq!(reply.body["role"], "doctor");
    assert_eq!(reply.body["specialty"], sent["specialty"]);

    let again = env
        .call(
            "users-create-doctor",
            with_token(sample.clone(), &env.token_for(&admin)),
        )
        .await;
    again.assert_problem(409, None);

    let mut body = sent.clone();
    body.as_object_mut().unwrap().remove("specialty");
    body["email"] = json!("doc2@clinic.example");
    let missing = env
        .call(
            "users-create-doctor",
            with_token(with_body(sample, &body), &env.token_for(&admin)),
        )
        .await;
    missing.assert_problem(400, Some("specialty"));
    assert_eq!(
        env.db
            .count("SELECT count(*) FROM users WHERE role = 'doctor'")
            .await,
        2
    );

    // The new doctor can sign in (with a second factor) and gets the doctor role.
    let (login, _) = staff_sign_in(
        &env,
        sent["email"].as_str().unwrap(),
        sent["password"].as_str().unwrap(),
        None,
    )
    .await;
    let claims = env
        .deps
        .verifier
        .verify(login["access_token"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.role, Role::Doctor);
}

#[tokio::test]
async fn jwks_and_discovery_documents_verify_issued_tokens() {
    let env = TestEnv::new().await;
    let jwks = env.call("auth-jwks", event("auth-jwks/jwks.json")).await;
    assert_eq!(jwks.status, 200);
    assert_eq!(jwks.body["keys"][0]["kid"], env.key.kid());
    assert_eq!(jwks.body["keys"][0]["alg"], "RS256");
    assert_eq!(jwks.body["keys"][0]["kty"], "RSA");
    assert!(
        jwks.body["keys"][0].get("d").is_none(),
        "private part must never be published"
    );

    let discovery = env
        .call("auth-jwks", event("auth-jwks/openid-configuration.json"))
        .await;
    assert_eq!(discovery.status, 200);
    assert_eq!(discovery.body["issuer"], ISSUER);
    assert_eq!(
        discovery.body["jwks_uri"],
        format!("{ISSUER}/.well-known/jwks.json")
    );

    // What a verifier builds from the published JWKS accepts our tokens.
    let published: careflow::auth::token::Jwks = serde_json::from_value(jwks.body).unwrap();
    let verifier = Verifier::new(&published, &env.deps.settings).unwrap();
    let user = env.user("jwks@example.com", PASSWORD, Role::Patient).await;
    verifier.verify(&env.token_for(&user).token).unwrap();
}

/// A deployment from before e-mails were normalised to NFC: the upgrade brings stored addresses
/// to NFC (so their owners can still sign in), except one whose NFC form another account holds.
#[tokio::test]
async fn upgrading_normalises_stored_emails_to_nfc() {
    use careflow::db::migrate::{self, MIGRATIONS};
    let db = TestDb::empty().await;
    let mut client = db.client().await;
    let before = MIGRATIONS
        .iter()
        .position(|m| m.name == "registrations")
        .unwrap();
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
                 checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .unwrap();
    for m in &MIGRATIONS[..before] {
        client.batch_execute(m.sql).await.unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&m.version, &m.name, &m.checksum()],
            )
            .await
            .unwrap();
    }
    // "josé" written with a combining accent (NFD), and a pair that collides once normalised.
    let decomposed = "jose\u{301}@example.com";
    let clash_nfd = "rene\u{301}@example.com";
    for (email, name) in [
        (decomposed, "Jose"),
        (clash_nfd, "Rene one"),
        ("ren\u{e9}@example.com", "Rene two"),
    ] {
        client
            .execute(
                "INSERT INTO users (id, email, password_hash, full_name, role)
                 VALUES ($1, $2, 'x', $3, 'patient')",
                &[&uuid::Uuid::new_v4(), &email, &name],
            )
            .await
            .unwrap();
    }
    let applied = migrate::run(&mut client).await.unwrap();
    assert!(applied.contains(&MIGRATIONS[before].version), "{applied:?}");
    let email_of = |name: &'static str| {
        let client = &client;
        async move {
            client
                .query_one("SELECT email FROM users WHERE full_name = $1", &[&name])
                .await
                .unwrap()
                .get::<_, String>(0)
        }
    };
    assert_eq!(email_of("Jose").await, "jos\u{e9}@example.com");
    assert_eq!(
        email_of("Rene one").await,
        clash_nfd,
        "left for an operator"
    );
    assert_eq!(email_of("Rene two").await, "ren\u{e9}@example.com");
}

#[tokio::test]
async fn migrate_applies_once_and_bootstraps_one_admin() {
    use migrate::{Migrate, MigrateRequest, MigrateResponse};
    let db = TestDb::empty().await;
    let accounts = careflow::auth::accounts::Accounts::new(
        db.pool.clone(),
        std::time::Duration::from_secs(60),
    );
    let app = Migrate::new(accounts);
    let request = |v: Value| serde_json::from_value::<MigrateRequest>(v).unwrap();

    let sample = event("migrate/migrate.json");
    match app.handle(request(sample.clone())).await.unwrap() {
        MigrateResponse::Migrated { applied, .. } => {
            let all: Vec<i32> = careflow::db::migrate::MIGRATIONS
                .iter()
                .map(|m| m.version)
                .collect();
            assert_eq!(applied, all);
        }
        other => panic!("{other:?}"),
    }
    match app.handle(request(sample)).await.unwrap() {
        MigrateResponse::Migrated {
            applied,
            schema_version,
        } => {
            assert!(applied.is_empty());
            assert_eq!(
                Some(schema_version),
                careflow::db::migrate::MIGRATIONS.last().map(|m| m.version)
            );
        }
        other => panic!("{other:?}"),
    }

    let bootstrap = event("migrate/bootstrap-admin.json");
    let password = match app.handle(request(bootstrap.clone())).await.unwrap() {
        MigrateResponse::AdminCreated {
            email, password, ..
        } => {
            assert_eq!(email, bootstrap["email"]);
            password
        }
        other => panic!("{other:?}"),
    };
    assert!(password.len() >= 20);
    assert!(matches!(
        app.handle(request(bootstrap)).await.unwrap(),
        MigrateResponse::AdminExists { admin_exists: true }
    ));
    assert_eq!(
        db.count("SELECT count(*) FROM users WHERE role = 'admin'")
            .await,
        1
    );

    // An edited migration is refused rather than silently skipped.
    db.client()
        .await
        .execute("UPDATE schema_migrations SET checksum = 'edited'", &[])
        .await
        .unwrap();
    let err = app
        .handle(request(json!({"action": "migrate"})))
        .await
        .unwrap_err();
    assert!(
        err.safe_description()
            .contains("edited after it was applied"),
        "{}",
        err.safe_description()
    );
}

#[tokio::test]
async fn logout_racing_a_refresh_leaves_no_live_token() {
    let env = TestEnv::new().await;
    let user = env.user("racer@example.com", PASSWORD, Role::Patient).await;
    let token = env.token_for(&user);
    for _ in 0..10 {
        let rt = login(&env, "racer@example.com").await["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let logout = with_body(
            with_token(event("auth-logout/logout.json"), &token),
            &json!({"refresh_token": rt}),
        );
        let (refreshed, logged_out) =
            tokio::join!(refresh(&env, &rt), env.call("auth-logout", logout));
        assert_eq!(logged_out.status, 204);
        if refreshed.status == 200 {
            // The refresh won the race; its successor belongs to the revoked family.
            let next = refreshed.body["refresh_token"].as_str().unwrap();
            refresh(&env, next).await.assert_problem(401, None);
        }
    }
    assert_eq!(
        env.db.count("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL AND rotated_at IS NULL").await,
        0,
        "a refresh token outlived its logout"
    );
}

/// A login attempt for `email` from the client address `ip`.
async fn login_from(env: &TestEnv, email: &str, password: &str, ip: &str) -> Reply {
    let mut sample = with_body(
        event("auth-login/login.json"),
        &json!({ "email": email, "password": password }),
    );
    sample["requestContext"]["http"]["sourceIp"] = json!(ip);
    env.call("auth-login", sample).await
}

/// How many of `replies` were refused as wrong (401) and how many as too many (429, with a
/// `Retry-After` of at least a second).
fn tally(replies: &[Reply]) -> (usize, usize) {
    for reply in replies.iter().filter(|r| r.status == 429) {
        reply.assert_problem(429, None);
        let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{reply:?}");
    }
    let count = |status| replies.iter().filter(|r| r.status == status).count();
    assert_eq!(count(401) + count(429), replies.len());
    (count(401), count(429))
}

/// 100 wrong passwords for one account from 100 addresses, and 100 failed logins from one
/// address over 100 accounts, are both slowed down: past the free failures each is refused with
/// 429 before any password is checked, the right password included. Once the block has passed
/// (simulated by moving it into the past), the right password works and clears the count.
#[tokio::test]
async fn guessing_is_throttled_per_account_and_per_address() {
    let env = TestEnv::new().await;
    let email = "target@example.com";
    env.user(email, PASSWORD, Role::Patient).await;

    let mut replies = Vec::new();
    for i in 0..100 {
        let ip = format!("198.51.{}.{}", i / 250, i % 250 + 1);
        replies.push(login_from(&env, email, "a wrong passphrase 1", &ip).await);
    }
    let (wrong, throttled) = tally(&replies);
    // Five free failures, then a block that doubles; a slow machine lets a few more through.
    assert!(
        (6..=12).contains(&wrong),
        "{wrong} reached the password check"
    );
    assert!(throttled >= 88, "only {throttled} throttled");
    let blocked = login_from(&env, email, PASSWORD, "192.0.2.77").await;
    blocked.assert_problem(429, None);

    let mut replies = Vec::new();
    for i in 0..100 {
        let stranger = format!("guess{i}@example.com");
        replies.push(login_from(&env, &stranger, "a wrong passphrase 1", "203.0.113.9").await);
    }
    let (wrong, throttled) = tally(&replies);
    assert!(
        (21..=28).contains(&wrong),
        "{wrong} reached the password check"
    );
    assert!(throttled >= 72, "only {throttled} throttled");
    // The address is blocked for any account; another address is not.
    login_from(&env, "someone@example.com", PASSWORD, "203.0.113.9")
        .await
        .assert_problem(429, None);

    // The blocks run out (here: moved into the past, as time would).
    env.db
        .client()
        .await
        .execute(
            "UPDATE auth_throttle SET blocked_until = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    let reply = login_from(&env, email, PASSWORD, "192.0.2.77").await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // Success cleared the account's count: one wrong password is a plain 401 again.
    let again = login_from(&env, email, "a wrong passphrase 1", "192.0.2.78").await;
    again.assert_problem(401, None);
}

/// Guesses sent all at once (as from many Lambda instances: here one auth-login with a pool of
/// 16 connections) cannot outrun the count: each attempt is counted before its password is
/// checked, so only the free ones and the one that sets the block reach the password check.
#[tokio::test]
async fn concurrent_guesses_cannot_outrun_the_count() {
    let env = TestEnv::new().await;
    let email = "busy@example.com";
    env.user(email, PASSWORD, Role::Patient).await;
    let mut local = env.deps.local.clone();
    local.insert("DATABASE_POOL_SIZE".into(), "16".into());
    let vars = env.deps.aws.identities.vars("auth-login", &local).unwrap();
    let login = careflow_local::functions::build_http("auth-login", vars)
        .await
        .unwrap();
    let attempts = (0..24).map(|i| {
        let mut sample = with_body(
            event("auth-login/login.json"),
            &json!({ "email": email, "password": "a wrong passphrase 1" }),
        );
        sample["requestContext"]["http"]["sourceIp"] = json!(format!("198.51.100.{}", i + 1));
        login(sample)
    });
    let statuses: Vec<u64> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap()["statusCode"].as_u64().unwrap())
        .collect();
    let wrong = statuses.iter().filter(|s| **s == 401).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(wrong + throttled, 24, "{statuses:?}");
    assert!(
        wrong <= 7,
        "{wrong} of 24 concurrent guesses reached the password check"
    );
}

/// Registrations from one address past the free ones are slowed down; another address is not.
#[tokio::test]
async fn registrations_from_one_address_are_throttled() {
    let env = TestEnv::new().await;
    let register = |i: usize, ip: &'static str| {
        let mut sample = event("auth-register/register.json");
        let mut body = body_of(&sample);
        body["email"] = json!(unique_email(&format!("new{i}")));
        sample = with_body(sample, &body);
        sample["requestContext"]["http"]["sourceIp"] = json!(ip);
        env.call("auth-register", sample)
    };
    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(register(i, "198.51.100.200").await.status);
    }
    let created = statuses.iter().filter(|s| **s == 202).count();
    assert!((20..=22).contains(&created), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    assert_eq!(register(99, "198.51.100.201").await.status, 202);
}

/// One inbox cannot be flooded from many addresses: registrations naming one e-mail address are
/// limited whether or not it has an account, alike (so the limit tells nothing either).
#[tokio::test]
async fn registrations_to_one_mailbox_are_throttled_alike_for_taken_and_free_addresses() {
    let env = TestEnv::new().await;
    let taken = unique_email("taken");
    register_patient(&env, &taken, PASSWORD, "Taken").await;
    let free = unique_email("free");
    for (email, already_sent) in [(&taken, 1), (&free, 0)] {
        let mut statuses = Vec::new();
        for i in 0..7 {
            let mut ev = with_body(
                event("auth-register/register.json"),
                &json!({"email": email, "password": "a stranger's passphrase", "full_name": "S"}),
            );
            ev["requestContext"]["http"]["sourceIp"] = json!(format!("198.51.100.{}", 10 + i));
            statuses.push(env.call("auth-register", ev).await.status);
        }
        // The taken address's own registration counted once already.
        let free_ones = 6 - already_sent;
        assert!(
            statuses[..free_ones].iter().all(|s| *s == 202),
            "{email}: {statuses:?}"
        );
        assert_eq!(statuses.last(), Some(&429), "{email}: {statuses:?}");
        assert_eq!(
            sent_emails(email).await.len(),
            free_ones + already_sent,
            "no mail once throttled"
        );
    }
}
