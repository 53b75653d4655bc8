//! A legacy (stable/diablo) Keystone database: tenants, users with hashed and plaintext
//! passwords, tenant and global roles, a service-scoped role whose name collides in Essex, EC2 and
//! other credentials, the catalog, and tokens (a long-lived service token, live and expired ones).

use chrono::{Duration, NaiveDateTime};

use crate::db::{Db, OnConflict, Value};
use crate::error::Result;
use crate::schema;

/// `secrete` as sha512_crypt with 40000 rounds (from the upstream essex-3 fixture).
pub const HASHED_SECRETE: &str =
    "$6$rounds=40000$hFXlgBSMi599197d$tmGKBpoGHNRsLB3ruK9f1wPvvtfWWuMEUzdqUAynsmmYXBK6eekyNHTzzhwXTM3mWpnaMHCI4mHPOycqmPJJc0";

/// The token Diablo's sample paste configs use as `admin_token`.
pub const SERVICE_TOKEN: &str = "999888777666";

#[derive(Debug, Clone)]
pub struct Shape {
    /// Project tenants besides admin, demo and service.
    pub tenants: usize,
    /// Users besides admin, demo, nova, glance and swift; one per project, round robin.
    pub users: usize,
    /// Live user tokens besides the service token.
    pub tokens: usize,
    /// Expired tokens (a Diablo Keystone never purged them).
    pub expired_tokens: usize,
    /// One generated user in this many has a plaintext password (the rest a sha512_crypt hash).
    pub plaintext_every: usize,
    /// "Now" for token expiry.
    pub now: NaiveDateTime,
    pub batch_size: usize,
}

impl Shape {
    pub fn demo() -> Self {
        Shape {
            tenants: 3,
            users: 6,
            tokens: 4,
            expired_tokens: 4,
            plaintext_every: 2,
            now: chrono::Utc::now().naive_utc(),
            batch_size: 1000,
        }
    }

    /// Benchmark sizes: n=1 is 10k users in 2k tenants, 200k tokens of which 190k expired, one user in
    /// ten with a plaintext password.
    pub fn scale(n: f64) -> Self {
        Shape {
            tenants: super::scaled(2_000, n),
            users: super::scaled(10_000, n),
            tokens: super::scaled(10_000, n),
            expired_tokens: super::scaled(190_000, n),
            plaintext_every: 10,
            now: chrono::Utc::now().naive_utc(),
            batch_size: 5_000,
        }
    }
}

/// What was generated, for the caller to check against.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub tenants: usize,
    pub users: usize,
    pub global_grants: usize,
    pub live_tokens: usize,
    pub expired_tokens: usize,
}

pub fn generate(db: &mut Db, shape: &Shape) -> Result<Generated> {
    let schema = schema::diablo::keystone(db.backend())?;
    db.create_schema(&schema)?;
    let t = |name: &str| schema.table(name).expect("diablo keystone table").clone();
    let mut g = Generated::default();

    let services = [
        (1, "nova", "compute", "Nova Compute Service", "http://cloud:8774/v1.1/%tenant_id%", "http://cloud:8774/v1.1/%tenant_id%"),
        (2, "glance", "image", "Glance Image Service", "http://cloud:9292/v1", "http://cloud:9292/v1"),
        (3, "keystone", "identity", "Keystone Identity Service", "http://cloud:5000/v2.0", "http://cloud:35357/v2.0"),
        (4, "swift", "object-store", "Swift Service", "http://cloud:8080/v1/AUTH_%tenant_id%", "http://cloud:8080/"),
        (5, "ec2", "ec2", "EC2 Compatibility Layer", "http://cloud:8773/services/Cloud", "http://cloud:8773/services/Admin"),
    ];
    let rows: Vec<Vec<Value>> = services.iter().map(|s| vec![s.0.into(), s.1.into(), s.2.into(), s.3.into()]).collect();
    db.insert_rows(&t("services"), &["id", "name", "type", "desc"], &rows, OnConflict::Fail)?;
    let mut templates: Vec<Vec<Value>> = services
        .iter()
        .map(|s| vec![s.0.into(), "RegionOne".into(), s.0.into(), s.4.into(), s.5.into(), s.4.into(), true.into(), true.into()])
        .collect();
    // A second compute endpoint in the same region, and one that is not global.
    templates.push(vec![
        6.into(),
        "RegionOne".into(),
        1.into(),
        "http://cloud2:8774/v1.1/%tenant_id%".into(),
        "http://cloud2:8774/v1.1/%tenant_id%".into(),
        "http://cloud2:8774/v1.1/%tenant_id%".into(),
        true.into(),
        false.into(),
    ]);
    db.insert_rows(
        &t("endpoint_templates"),
        &["id", "region", "service_id", "public_url", "admin_url", "internal_url", "enabled", "is_global"],
        &templates,
        OnConflict::Fail,
    )?;

    // Tenants: admin, demo, service, project-N.
    let mut tenant_rows: Vec<Vec<Value>> = vec![
        vec![1.into(), "admin".into(), Value::Null, 1.into()],
        vec![2.into(), "demo".into(), "Demonstration tenant".into(), 1.into()],
        vec![3.into(), "service".into(), "Service users".into(), 1.into()],
    ];
    for i in 0..shape.tenants {
        tenant_rows.push(vec![(4 + i as i64).into(), format!("project-{i}").into(), format!("Project {i}").into(), 1.into()]);
    }
    g.tenants = tenant_rows.len();
    db.insert_rows(&t("tenants"), &["id", "name", "desc", "enabled"], &tenant_rows, OnConflict::Fail)?;
    db.insert_rows(&t("endpoints"), &["id", "tenant_id", "endpoint_template_id"], &[vec![1.into(), 2.into(), 6.into()]], OnConflict::Fail)?;

    // Roles: Diablo's defaults, plus a swift-scoped `Member` (one name in Essex with the global one).
    let roles: Vec<Vec<Value>> = vec![
        vec![1.into(), "Admin".into(), Value::Null, Value::Null],
        vec![2.into(), "Member".into(), Value::Null, Value::Null],
        vec![3.into(), "KeystoneAdmin".into(), Value::Null, Value::Null],
        vec![4.into(), "KeystoneServiceAdmin".into(), Value::Null, Value::Null],
        vec![5.into(), "sysadmin".into(), "Project administrator".into(), Value::Null],
        vec![6.into(), "netadmin".into(), Value::Null, Value::Null],
        vec![7.into(), "Member".into(), "Swift account member".into(), 4.into()],
    ];
    db.insert_rows(&t("roles"), &["id", "name", "desc", "service_id"], &roles, OnConflict::Fail)?;

    // Users. One real hash of `secrete` is reused for the hashed ones (40000 rounds per user
    // would dominate), fixed so that the same shape always gives the same database.
    let hashed = HASHED_SECRETE.to_string();
    let mut users: Vec<Vec<Value>> = vec![
        vec![1.into(), "admin".into(), hashed.clone().into(), "admin@example.com".into(), 1.into(), 1.into()],
        vec![2.into(), "demo".into(), "secrete".into(), Value::Null, 1.into(), 2.into()],
        vec![3.into(), "nova".into(), "nova-secret".into(), Value::Null, 1.into(), 3.into()],
        vec![4.into(), "glance".into(), "glance-secret".into(), Value::Null, 1.into(), 3.into()],
        vec![5.into(), "swift".into(), hashed.clone().into(), Value::Null, 0.into(), 3.into()],
    ];
    let first_user = users.len() as i64 + 1;
    let projects = shape.tenants.max(1) as i64;
    for i in 0..shape.users as i64 {
        let pw: Value = if i % shape.plaintext_every.max(1) as i64 == 1 % shape.plaintext_every.max(1) as i64 {
            format!("password-{i}").into()
        } else {
            hashed.clone().into()
        };
        let tenant = if shape.tenants == 0 { 2 } else { 4 + i % projects };
        users.push(vec![
            (first_user + i).into(),
            format!("user-{i}").into(),
            pw,
            format!("user-{i}@example.com").into(),
            1.into(),
            tenant.into(),
        ]);
    }
    g.users = users.len();
    for chunk in users.chunks(shape.batch_size.max(1)) {
        db.insert_rows(&t("users"), &["id", "name", "password", "email", "enabled", "tenant_id"], chunk, OnConflict::Fail)?;
    }

    // Grants: admin is Admin on admin and demo and holds three global roles (the ones upstream drops).
    let mut grants: Vec<Vec<Value>> = vec![
        vec![1.into(), 1.into(), 1.into(), 1.into()],
        vec![2.into(), 1.into(), 1.into(), 2.into()],
        vec![3.into(), 1.into(), 1.into(), Value::Null],
        vec![4.into(), 1.into(), 3.into(), Value::Null],
        vec![5.into(), 1.into(), 4.into(), Value::Null],
        vec![6.into(), 2.into(), 2.into(), 2.into()],
        vec![7.into(), 2.into(), 5.into(), 2.into()],
        vec![8.into(), 2.into(), 7.into(), 2.into()],
        vec![9.into(), 3.into(), 1.into(), 3.into()],
        vec![10.into(), 4.into(), 1.into(), 3.into()],
        vec![11.into(), 5.into(), 1.into(), 3.into()],
    ];
    g.global_grants = 3;
    for (next, u) in (grants.len() as i64 + 1..).zip(&users[5..]) {
        grants.push(vec![next.into(), u[0].clone(), 2.into(), u[5].clone()]);
    }
    for chunk in grants.chunks(shape.batch_size.max(1)) {
        db.insert_rows(&t("user_roles"), &["id", "user_id", "role_id", "tenant_id"], chunk, OnConflict::Fail)?;
    }

    // Credentials: an EC2 key pair per user (demo's without a tenant), and a legacy password row.
    let mut creds: Vec<Vec<Value>> = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let tenant = if i == 1 { Value::Null } else { u[5].clone() };
        let name = u[1].as_str().unwrap_or("user");
        creds.push(vec![
            (i as i64 + 1).into(),
            u[0].clone(),
            tenant,
            "EC2".into(),
            format!("{name}-access").into(),
            format!("{name}-ec2-secret").into(),
        ]);
    }
    creds.push(vec![(creds.len() as i64 + 1).into(), 1.into(), 1.into(), "Password".into(), "admin".into(), "secrete".into()]);
    for chunk in creds.chunks(shape.batch_size.max(1)) {
        db.insert_rows(&t("credentials"), &["id", "user_id", "tenant_id", "type", "key", "secret"], chunk, OnConflict::Fail)?;
    }

    // Tokens: the service token (long-lived), live user tokens, and expired ones, in batches.
    let token_table = t("token");
    let token_columns = ["id", "user_id", "tenant_id", "expires"];
    let later = shape.now + Duration::days(365);
    let mut tokens: Vec<Vec<Value>> = vec![vec![SERVICE_TOKEN.into(), 1.into(), 1.into(), later.into()]];
    for i in 0..shape.tokens + shape.expired_tokens {
        let u = &users[i % users.len()];
        let (id, expires) = if i < shape.tokens {
            (format!("live{i:028x}"), shape.now + Duration::hours(12))
        } else {
            (format!("old{i:029x}"), shape.now - Duration::days(3))
        };
        tokens.push(vec![id.into(), u[0].clone(), u[5].clone(), expires.into()]);
        if tokens.len() >= shape.batch_size.max(1) {
            db.insert_rows(&token_table, &token_columns, &tokens, OnConflict::Fail)?;
            tokens.clear();
        }
    }
    db.insert_rows(&token_table, &token_columns, &tokens, OnConflict::Fail)?;
    g.live_tokens = shape.tokens + 1;
    g.expired_tokens = shape.expired_tokens;
    Ok(g)
}
