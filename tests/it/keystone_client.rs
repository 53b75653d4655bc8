//! `osmigrate keystone …` and `db create`: the admin client against an in-process server that
//! speaks the Essex v2.0 admin API (the requests it receives are recorded and checked exactly), the
//! database transport on every backend, the name-resolution corner cases, and `db create` for every
//! service, release and backend against the reference schemas.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use osmigrate::db::{Backend, DbUrl};
use osmigrate::essex_keystone::password;
use serde_json::{Value as Json, json};

use crate::schema::{assert_same_schema, live, reference};
use crate::support::{self, keystone_fixture, osmigrate, rows};

const ADMIN_TOKEN: &str = "ADMIN-TOKEN-7f3a9c";
const USER_TOKEN: &str = "USER-TOKEN-b41e02";

// ---------------------------------------------------------------------------------------------
// A stand-in Essex Keystone admin API: the v2.0 shapes of keystone 2012.1, in memory.

#[derive(Debug, Clone, PartialEq)]
struct Request {
    method: String,
    path: String,
    token: Option<String>,
    body: Option<Json>,
}

#[derive(Default)]
struct State {
    tenants: Vec<Json>,
    users: Vec<Json>,
    roles: Vec<Json>,
    /// (user id, tenant id) → role ids
    metadata: BTreeMap<(String, String), Vec<String>>,
    members: Vec<(String, String)>,
    ec2: Vec<Json>,
    /// Answer GET /endpoints as the SQL catalog (true) or as the templated one, 501 (false).
    sql_catalog: bool,
    /// User names the listing does not show but a POST conflicts on.
    conflict_names: Vec<String>,
    requests: Vec<Request>,
    next_id: usize,
}

struct FakeKeystone {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

fn error(code: u16, title: &str, message: &str) -> (u16, Json) {
    (code, json!({"error": {"code": code, "title": title, "message": message}}))
}

fn find<'a>(list: &'a [Json], id: &str) -> Option<&'a Json> {
    list.iter().find(|x| x["id"] == id)
}

impl State {
    fn new_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:030x}", self.next_id)
    }

    fn roles_of(&self, user: &str, tenant: &str) -> Json {
        let ids = self.metadata.get(&(user.to_string(), tenant.to_string())).cloned().unwrap_or_default();
        Json::Array(ids.iter().map(|r| find(&self.roles, r).cloned().unwrap_or(Json::Null)).collect())
    }

    fn handle(&mut self, port: u16, req: &Request) -> (u16, Json) {
        // The admin API under /v2.0, the public one (tokens only) under /public/v2.0.
        let path = req.path.strip_prefix("/public").unwrap_or(&req.path);
        let parts: Vec<&str> = path.trim_start_matches("/v2.0/").split('/').collect();
        let body = req.body.clone().unwrap_or(Json::Null);
        if req.method == "POST" && parts == ["tokens"] {
            let creds = &body["auth"]["passwordCredentials"];
            if creds["username"] != "admin" || creds["password"] != "s3cret-pw" {
                return error(401, "Not Authorized", "Invalid user / password");
            }
            let catalog = if body["auth"]["tenantName"].is_string() {
                json!([
                    {"name": "Identity Service", "type": "identity", "endpoints_links": [], "endpoints": [{
                        "region": "RegionOne", "publicURL": format!("http://127.0.0.1:{port}/public/v2.0"),
                        "internalURL": format!("http://127.0.0.1:{port}/public/v2.0"),
                        "adminURL": format!("http://127.0.0.1:{port}/v2.0")}]},
                    {"name": "Compute Service", "type": "compute", "endpoints_links": [], "endpoints": [{
                        "region": "RegionOne", "publicURL": "http://nova:8774/v1.1/t-sys",
                        "internalURL": "http://nova:8774/v1.1/t-sys", "adminURL": "http://nova:8774/v1.1/t-sys"}]}
                ])
            } else {
                json!({})
            };
            return (
                200,
                json!({"access": {"token": {"id": USER_TOKEN, "expires": "2012-04-06T00:00:00Z"},
                "user": {"id": "u-admin", "name": "admin", "roles": []}, "serviceCatalog": catalog}}),
            );
        }
        if req.token.as_deref() != Some(ADMIN_TOKEN) && req.token.as_deref() != Some(USER_TOKEN) {
            return error(401, "Not Authorized", "The request you have made requires authentication.");
        }
        match (req.method.as_str(), parts.as_slice()) {
            ("GET", ["tenants"]) => (200, json!({"tenants": self.tenants, "tenants_links": []})),
            ("GET", ["users"]) => (200, json!({"users": self.users})),
            ("GET", ["OS-KSADM", "roles"]) => (200, json!({"roles": self.roles})),
            ("GET", ["tenants", t, "users"]) => {
                let users: Vec<Json> = self.members.iter().filter(|m| m.1 == *t).filter_map(|m| find(&self.users, &m.0).cloned()).collect();
                (200, json!({"users": users}))
            }
            ("GET", ["tenants", t, "users", u, "roles"]) => {
                if find(&self.users, u).is_none() {
                    return error(404, "Not Found", &format!("Could not find user: {u}"));
                }
                (200, json!({"roles": self.roles_of(u, t)}))
            }
            (m @ ("PUT" | "DELETE"), ["tenants", t, "users", u, "roles", "OS-KSADM", r]) => {
                if find(&self.roles, r).is_none() {
                    return error(404, "Not Found", &format!("Could not find role: {r}"));
                }
                let key = (u.to_string(), t.to_string());
                if m == "PUT" {
                    if !self.members.contains(&key) {
                        self.members.push(key.clone());
                    }
                    let roles = self.metadata.entry(key).or_default();
                    if !roles.contains(&r.to_string()) {
                        roles.push(r.to_string());
                    }
                    (200, json!({"role": find(&self.roles, r)}))
                } else {
                    let roles = self.metadata.entry(key.clone()).or_default();
                    if !roles.contains(&r.to_string()) {
                        return error(404, "Not Found", &format!("Cannot remove role that has not been granted, {r}"));
                    }
                    roles.retain(|x| x != r);
                    if roles.is_empty() {
                        self.members.retain(|m| m != &key);
                    }
                    (204, Json::Null)
                }
            }
            ("POST", ["tenants"]) => {
                let mut t = body["tenant"].clone();
                if self.tenants.iter().any(|x| x["name"] == t["name"]) {
                    return error(409, "Conflict", "Conflict occurred attempting to store tenant. (IntegrityError)");
                }
                t["id"] = json!(self.new_id("t"));
                self.tenants.push(t.clone());
                (200, json!({"tenant": t}))
            }
            ("POST", ["users"]) => {
                let mut u = body["user"].clone();
                if self.users.iter().any(|x| x["name"] == u["name"]) || self.conflict_names.iter().any(|n| u["name"] == n.as_str()) {
                    // Essex echoes the failed INSERT, hashed password included.
                    return error(
                        409,
                        "Conflict",
                        "Conflict occurred attempting to store user. (IntegrityError) ('{\"password\": \"$6$rounds=40000$abcdefgh$HASHHASH\"}')",
                    );
                }
                u["id"] = json!(self.new_id("u"));
                let listed = u.as_object().unwrap().iter().filter(|(k, _)| *k != "password").map(|(k, v)| (k.clone(), v.clone())).collect();
                self.users.push(Json::Object(listed));
                if let Some(t) = u["tenantId"].as_str() {
                    self.members.push((u["id"].as_str().unwrap().to_string(), t.to_string()));
                }
                // The Essex answer carries the new hash.
                u["password"] = json!("$6$rounds=40000$saltsalt$0123456789abcdefHASH");
                (200, json!({"user": u}))
            }
            ("POST", ["OS-KSADM", "roles"]) => {
                let role = json!({"id": self.new_id("r"), "name": body["role"]["name"]});
                self.roles.push(role.clone());
                (200, json!({"role": role}))
            }
            ("POST", ["users", u, "credentials", "OS-EC2"]) => {
                let c = json!({"user_id": u, "tenant_id": body["tenant_id"], "access": self.new_id("a"), "secret": self.new_id("SECRET")});
                self.ec2.push(c.clone());
                (200, json!({"credential": c}))
            }
            ("GET", ["users", u, "credentials", "OS-EC2"]) => {
                (200, json!({"credentials": self.ec2.iter().filter(|c| c["user_id"] == *u).cloned().collect::<Vec<_>>()}))
            }
            ("GET", ["endpoints"]) if self.sql_catalog => (
                200,
                json!({"endpoints": [{"id": "e1", "region": "RegionOne", "service_id": "s1",
                    "publicurl": "http://glance:9292/v1", "internalurl": "http://glance:9292/v1", "adminurl": "http://glance:9292/v1"}]}),
            ),
            ("GET", ["endpoints"]) => error(501, "Not Implemented", "The action you have requested has not been implemented."),
            ("GET", ["OS-KSADM", "services"]) => {
                (200, json!({"OS-KSADM:services": [{"id": "s1", "type": "image", "name": "glance", "description": "Glance"}]}))
            }
            _ => error(404, "Not Found", "The resource could not be found."),
        }
    }
}

impl FakeKeystone {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut state = State {
            tenants: vec![
                json!({"id": "t-admin", "name": "admin", "enabled": true, "description": null}),
                json!({"id": "t-sys", "name": "systenant", "enabled": true, "description": "global roles"}),
                json!({"id": "2", "name": "demo", "enabled": true}),
                json!({"id": "t-two", "name": "2", "enabled": true}),
            ],
            users: vec![
                json!({"id": "u-admin", "name": "admin", "enabled": true, "email": "admin@example.com", "tenantId": "t-admin"}),
                json!({"id": "u-sysadmin", "name": "sysadmin", "enabled": true, "email": null}),
            ],
            roles: vec![
                json!({"id": "r-admin", "name": "Admin"}),
                json!({"id": "r-sysadmin", "name": "sysadmin"}),
                json!({"id": "r-member", "name": "Member"}),
            ],
            ..State::default()
        };
        state.metadata.insert(("u-admin".into(), "t-admin".into()), vec!["r-admin".into()]);
        state.members.push(("u-admin".into(), "t-admin".into()));
        let state = Arc::new(Mutex::new(state));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    serve(conn, port, &s);
                }
            }
        });
        FakeKeystone { port, state, stop }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v2.0", self.port)
    }

    fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut self.state.lock().unwrap().requests)
    }
}

impl Drop for FakeKeystone {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// One request per connection (answered with `Connection: close`).
fn serve(conn: TcpStream, port: u16, state: &Mutex<State>) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or("").to_string(), words.next().unwrap_or("").to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length").map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let body = (!body.is_empty()).then(|| serde_json::from_slice(&body).expect("request bodies are JSON"));
    let req = Request { method, path, token: headers.get("x-auth-token").cloned(), body };
    let (status, answer) = {
        let mut s = state.lock().unwrap();
        s.requests.push(req.clone());
        s.handle(port, &req)
    };
    let text = if status == 204 { String::new() } else { answer.to_string() };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nVary: X-Auth-Token\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Running the client.

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn clean_env(cmd: &mut assert_cmd::Command) -> &mut assert_cmd::Command {
    for v in [
        "SERVICE_ENDPOINT",
        "SERVICE_TOKEN",
        "OS_AUTH_URL",
        "OS_USERNAME",
        "OS_PASSWORD",
        "OS_TENANT_NAME",
        "http_proxy",
        "HTTP_PROXY",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(v);
    }
    cmd
}

fn run(cmd: &mut assert_cmd::Command) -> Out {
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `osmigrate keystone --endpoint URL --token-file F ARGS…`
fn api(fake: &FakeKeystone, token_dir: &tempfile::TempDir, args: &[&str]) -> Out {
    let token_file = token_dir.path().join("token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let mut cmd = osmigrate();
    clean_env(&mut cmd).args(["keystone", "--endpoint", &fake.url(), "--token-file", token_file.to_str().unwrap()]).args(args);
    run(&mut cmd)
}

fn get(path: &str) -> Request {
    Request { method: "GET".into(), path: format!("/v2.0{path}"), token: Some(ADMIN_TOKEN.into()), body: None }
}

fn with(method: &str, path: &str, body: Option<Json>) -> Request {
    Request { method: method.into(), path: format!("/v2.0{path}"), token: Some(ADMIN_TOKEN.into()), body }
}

#[test]
fn api_grants_by_name_with_the_ids_resolved_in_the_put() {
    let fake = FakeKeystone::start();
    let dir = tempfile::tempdir().unwrap();
    let o = api(&fake, &dir, &["user-role-add", "--user", "admin", "--tenant", "systenant", "--role", "Admin"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "granted role Admin to user admin on tenant systenant\n");
    assert_eq!(
        fake.take_requests(),
        vec![
            get("/users"),
            get("/tenants"),
            get("/OS-KSADM/roles"),
            with("PUT", "/tenants/t-sys/users/u-admin/roles/OS-KSADM/r-admin", None),
        ]
    );
    assert!(!o.stdout.contains(ADMIN_TOKEN) && !o.stderr.contains(ADMIN_TOKEN));

    // Listed back, by user: every tenant asked, the roles named.
    let o = api(&fake, &dir, &["user-role-list", "--user", "admin", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let grants: Json = serde_json::from_str(&o.stdout).unwrap();
    let got: Vec<(&str, &str)> =
        grants.as_array().unwrap().iter().map(|g| (g["tenant"]["name"].as_str().unwrap(), g["role"]["id"].as_str().unwrap())).collect();
    assert_eq!(got, vec![("admin", "r-admin"), ("systenant", "r-admin")]);
    let paths: Vec<String> = fake.take_requests().into_iter().map(|r| r.path).collect();
    assert!(paths.contains(&"/v2.0/tenants/t-sys/users/u-admin/roles".to_string()), "{paths:?}");

    // Taken back: the DELETE; a second time Keystone's 404 is reported with its message.
    let o = api(&fake, &dir, &["user-role-remove", "--user", "u-admin", "--tenant", "t-sys", "--role", "r-admin"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(fake.take_requests().last().unwrap(), &with("DELETE", "/tenants/t-sys/users/u-admin/roles/OS-KSADM/r-admin", None));
    let o = api(&fake, &dir, &["user-role-remove", "--user", "admin", "--tenant", "systenant", "--role", "Admin"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("HTTP 404") && o.stderr.contains("Cannot remove role that has not been granted, r-admin"), "{}", o.stderr);
}

#[test]
fn api_name_resolution_corner_cases() {
    let fake = FakeKeystone::start();
    let dir = tempfile::tempdir().unwrap();
    // `admin` is a user; `sysadmin` must never be taken for it.
    let o = api(&fake, &dir, &["get-id", "user", "admin"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "u-admin\n"), "{}", o.stderr);
    // No role is named `admin`: not `Admin`, not `sysadmin`; the case-only difference is a hint.
    let o = api(&fake, &dir, &["get-id", "role", "admin"]);
    assert_eq!(o.code, 2);
    assert_eq!(o.stdout, "");
    assert!(
        o.stderr.contains("no role has the id or the name `admin`") && o.stderr.contains("did you mean `Admin` (id r-admin)"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("r-sysadmin"), "{}", o.stderr);
    // `2` is tenant demo's id and tenant `2`'s name: the id wins, and the other is named on stderr.
    let o = api(&fake, &dir, &["get-id", "tenant", "2"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "2\n"));
    assert!(o.stderr.contains("note: `2` is the id of tenant `demo`") && o.stderr.contains("(id t-two)"), "{}", o.stderr);
    let o = api(&fake, &dir, &["get-id", "tenant", "t-two", "--json"]);
    assert_eq!(serde_json::from_str::<Json>(&o.stdout).unwrap(), json!({"kind": "tenant", "id": "t-two", "name": "2"}));

    // Two users of one name (a Keystone whose backend does not keep names unique): refused, listed.
    fake.state.lock().unwrap().users.push(json!({"id": "u-admin-2", "name": "admin", "enabled": true}));
    let o = api(&fake, &dir, &["user-role-add", "--user", "admin", "--tenant", "demo", "--role", "Member"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("`admin` names 2 users: `admin` (id u-admin), `admin` (id u-admin-2)"), "{}", o.stderr);
    assert!(fake.take_requests().iter().all(|r| r.method == "GET"), "nothing written when ambiguous");
}

#[test]
fn api_creates_with_the_v2_shapes_and_never_shows_secrets() {
    let fake = FakeKeystone::start();
    let dir = tempfile::tempdir().unwrap();
    let o = api(&fake, &dir, &["tenant-create", "--name", "service", "--description", "Service tenant", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let tenant: Json = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        fake.take_requests(),
        vec![
            get("/tenants"),
            with("POST", "/tenants", Some(json!({"tenant": {"name": "service", "enabled": true, "description": "Service tenant"}})))
        ]
    );
    let tid = tenant["id"].as_str().unwrap().to_string();

    // The password from stdin: sent once, in the body; shown nowhere, nor the hash Keystone answers with.
    let mut cmd = osmigrate();
    let token_file = dir.path().join("token");
    clean_env(&mut cmd)
        .args(["keystone", "user-create", "--name", "nova", "--tenant", "service", "--email", "nova@example.com", "--password-stdin"])
        .args(["--endpoint", &fake.url(), "--token-file", token_file.to_str().unwrap()])
        .write_stdin("n0va-pass\n");
    let o = run(&mut cmd);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let reqs = fake.take_requests();
    assert_eq!(
        reqs.last().unwrap(),
        &with(
            "POST",
            "/users",
            Some(json!({"user": {"name": "nova", "enabled": true, "password": "n0va-pass", "email": "nova@example.com", "tenantId": tid}}))
        )
    );
    for text in [&o.stdout, &o.stderr] {
        assert!(!text.contains("n0va-pass") && !text.contains("$6$") && !text.contains(ADMIN_TOKEN), "{text}");
    }
    assert!(o.stdout.contains("| name     | nova "), "{}", o.stdout);

    // A second user of that name is refused before anything is sent.
    let mut cmd = osmigrate();
    clean_env(&mut cmd)
        .args(["keystone", "--endpoint", &fake.url(), "--token-file", token_file.to_str().unwrap()])
        .args(["user-create", "--name", "nova", "--password-stdin"])
        .write_stdin("other\n");
    let o = run(&mut cmd);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("a user named `nova` already exists"), "{}", o.stderr);
    assert!(fake.take_requests().iter().all(|r| r.method == "GET"));

    // Keystone's own 409 (a name the listing did not show: taken meanwhile, or a backend that hides
    // it) is reported with its message, the password hash it echoes masked.
    fake.state.lock().unwrap().conflict_names.push("glance".into());
    let mut cmd = osmigrate();
    clean_env(&mut cmd)
        .args(["keystone", "--endpoint", &fake.url(), "--token-file", token_file.to_str().unwrap()])
        .args(["user-create", "--name", "glance", "--password-stdin"])
        .write_stdin("g-pass-77\n");
    let o = run(&mut cmd);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("POST ") && o.stderr.contains("/v2.0/users: HTTP 409: Conflict: Conflict occurred attempting to store user."),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("'{\"password\": \"****\"}'") && !o.stderr.contains("$6$") && !o.stderr.contains("g-pass-77"),
        "{}",
        o.stderr
    );
    fake.take_requests();

    let o = api(&fake, &dir, &["role-create", "--name", "ResellerAdmin"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(fake.take_requests().last().unwrap(), &with("POST", "/OS-KSADM/roles", Some(json!({"role": {"name": "ResellerAdmin"}}))));

    // EC2: the secret printed once by create, on stdout; never by list.
    let o = api(&fake, &dir, &["ec2-credentials-create", "--user", "admin", "--tenant", "systenant", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let cred: Json = serde_json::from_str(&o.stdout).unwrap();
    let secret = cred["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("SECRET"));
    assert_eq!(
        fake.take_requests().last().unwrap(),
        &with("POST", "/users/u-admin/credentials/OS-EC2", Some(json!({"tenant_id": "t-sys"})))
    );
    for json_flag in [false, true] {
        let mut args = vec!["ec2-credentials-list", "--user", "admin"];
        if json_flag {
            args.push("--json");
        }
        let o = api(&fake, &dir, &args);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert!(o.stdout.contains(cred["access"].as_str().unwrap()) && o.stdout.contains("systenant"), "{}", o.stdout);
        assert!(!o.stdout.contains(&secret) && !o.stdout.contains("secret"), "{}", o.stdout);
    }
}

#[test]
fn api_errors_name_the_status_and_keystone_message_without_the_token() {
    let fake = FakeKeystone::start();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "WRONG-TOKEN-123\n").unwrap();
    let mut cmd = osmigrate();
    clean_env(&mut cmd).args(["keystone", "tenant-list", "--endpoint", &fake.url(), "--token-file", token_file.to_str().unwrap()]);
    let o = run(&mut cmd);
    assert_eq!(o.code, 2);
    assert_eq!(
        o.stderr.trim(),
        format!("osmigrate: GET {}/tenants: HTTP 401: Not Authorized: The request you have made requires authentication.", fake.url())
    );
    assert_eq!(fake.take_requests()[0].token.as_deref(), Some("WRONG-TOKEN-123"));

    // Nothing listening: the URL and the reason.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = osmigrate();
    clean_env(&mut cmd).args([
        "keystone",
        "role-list",
        "--endpoint",
        &format!("http://127.0.0.1:{closed}/v2.0"),
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    let o = run(&mut cmd);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains(&format!("cannot connect to http://127.0.0.1:{closed}/v2.0/OS-KSADM/roles")), "{}", o.stderr);
    assert!(!o.stderr.contains("WRONG-TOKEN"));

    // The templated catalog cannot be listed with a bare token: said so, with the ways that work.
    let o = api(&fake, &dir, &["catalog"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("templated catalog") && o.stderr.contains("--catalog-templates"), "{}", o.stderr);
    fake.state.lock().unwrap().sql_catalog = true;
    let o = api(&fake, &dir, &["catalog", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c: Json = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(c[0]["service_type"], "image");
    assert_eq!(c[0]["name"], "glance");
    assert_eq!(c[0]["public_url"], "http://glance:9292/v1");
}

#[test]
fn api_from_the_environment_service_token_or_password() {
    let fake = FakeKeystone::start();
    // SERVICE_ENDPOINT / SERVICE_TOKEN.
    let mut cmd = osmigrate();
    clean_env(&mut cmd).env("SERVICE_ENDPOINT", fake.url()).env("SERVICE_TOKEN", ADMIN_TOKEN).args(["keystone", "tenant-list"]);
    let o = run(&mut cmd);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("| t-sys   | systenant | true    | global roles |"), "{}", o.stdout);
    assert_eq!(fake.take_requests(), vec![get("/tenants")]);

    // OS_*: a token asked for with the password; the admin URL taken from its catalog.
    let mut cmd = osmigrate();
    clean_env(&mut cmd)
        .env("OS_AUTH_URL", format!("http://127.0.0.1:{}/public/v2.0/", fake.port))
        .env("OS_USERNAME", "admin")
        .env("OS_PASSWORD", "s3cret-pw")
        .env("OS_TENANT_NAME", "systenant")
        .args(["keystone", "catalog"]);
    let o = run(&mut cmd);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("| RegionOne | compute  | Compute Service  | http://nova:8774/v1.1/t-sys"), "{}", o.stdout);
    let reqs = fake.take_requests();
    assert_eq!(
        reqs,
        vec![Request {
            method: "POST".into(),
            path: "/public/v2.0/tokens".into(),
            token: None,
            body: Some(json!({"auth": {"passwordCredentials": {"username": "admin", "password": "s3cret-pw"}, "tenantName": "systenant"}})),
        }]
    );
    let mut cmd = osmigrate();
    clean_env(&mut cmd)
        .env("OS_AUTH_URL", format!("http://127.0.0.1:{}/public/v2.0", fake.port))
        .env("OS_USERNAME", "admin")
        .env("OS_PASSWORD", "s3cret-pw")
        .env("OS_TENANT_NAME", "systenant")
        .args(["keystone", "role-list", "--json"]);
    let o = run(&mut cmd);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let reqs = fake.take_requests();
    assert_eq!(reqs[1], Request { method: "GET".into(), path: "/v2.0/OS-KSADM/roles".into(), token: Some(USER_TOKEN.into()), body: None });

    // A wrong password: Keystone's 401, the password not shown.
    let mut cmd = osmigrate();
    clean_env(&mut cmd)
        .env("OS_AUTH_URL", format!("http://127.0.0.1:{}/public/v2.0", fake.port))
        .env("OS_USERNAME", "admin")
        .env("OS_PASSWORD", "wrong-pw-42")
        .args(["keystone", "role-list"]);
    let o = run(&mut cmd);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("HTTP 401: Not Authorized: Invalid user / password") && !o.stderr.contains("wrong-pw-42"), "{}", o.stderr);
}

#[test]
fn keystone_usage_errors_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, ADMIN_TOKEN).unwrap();
    let t = token_file.to_str().unwrap();
    let cases: &[&[&str]] = &[
        &["keystone", "tenant-list"],
        &["keystone", "tenant-list", "--token-file", t],
        &["keystone", "tenant-list", "--endpoint", "https://k:35357/v2.0", "--token-file", t],
        &["keystone", "tenant-list", "--catalog-templates", "x.templates", "--endpoint", "http://k/v2.0", "--token-file", t],
        &["keystone", "tenant-list", "--db", "sqlite:///x.db", "--endpoint", "http://k/v2.0"],
        &["keystone", "user-create", "--name", "x", "--password", "pw", "--db", "sqlite:///x.db"],
        // No terminal to ask on, and no other source of a password.
        &["keystone", "user-create", "--name", "x", "--db", "sqlite:///x.db"],
        &["keystone", "get-id", "project", "x", "--db", "sqlite:///x.db"],
    ];
    for args in cases {
        let mut cmd = osmigrate();
        let o = run(clean_env(&mut cmd).args(*args));
        assert_eq!(o.code, 64, "{args:?}: {}", o.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// The database transport.

fn ks_db(url: &DbUrl, args: &[&str]) -> Out {
    let mut cmd = osmigrate();
    clean_env(&mut cmd).args(["keystone", "--db", &url.expose_secret()]).args(args);
    run(&mut cmd)
}

fn ok(o: Out) -> String {
    assert_eq!(o.code, 0, "stdout: {}\nstderr: {}", o.stdout, o.stderr);
    o.stdout
}

fn user_table(url: &DbUrl) -> &'static str {
    if url.backend == Backend::Mysql { "`user`" } else { "\"user\"" }
}

fn json_of(s: &str) -> Json {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

#[test]
fn db_transport_writes_what_essex_writes_on_every_backend() {
    support::each_server(|server| {
        let ctx = server.name();
        let fresh = support::fresh_db(&server, "ksc");
        let url = &fresh.url;
        let made = json_of(&ok(run(osmigrate().args(["db", "create", "keystone", "--release", "essex", &url.expose_secret(), "--json"]))));
        assert_eq!(made["stamp"], json!({"repository_id": "keystone", "version": 1}), "{ctx}");

        let t = json_of(&ok(ks_db(url, &["tenant-create", "--name", "systenant", "--description", "global roles", "--json"])));
        let tid = t["id"].as_str().unwrap().to_string();
        assert_eq!(tid.len(), 32, "{ctx}: uuid4 hex");
        let r = json_of(&ok(ks_db(url, &["role-create", "--name", "Admin", "--json"])));
        let rid = r["id"].as_str().unwrap().to_string();
        ok(ks_db(url, &["role-create", "--name", "sysadmin"]));
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "p@ss word\n").unwrap();
        let o = ks_db(url, &["user-create", "--name", "admin", "--tenant", "systenant", "--password-file", pw.to_str().unwrap(), "--json"]);
        assert!(!o.stdout.contains("p@ss") && !o.stdout.contains("$6$"), "{ctx}: {}", o.stdout);
        let u = json_of(&ok(o));
        let uid = u["id"].as_str().unwrap().to_string();

        // The rows, as Essex's SQL backends write them.
        assert_eq!(rows(url, "SELECT id, name, extra FROM tenant")[0][..2], [tid.clone(), "systenant".into()]);
        assert_eq!(json_of(&rows(url, "SELECT extra FROM tenant")[0][0]), json!({"description": "global roles", "enabled": true}));
        let user = &rows(url, &format!("SELECT id, name, extra FROM {}", user_table(url)))[0];
        let extra = json_of(&user[2]);
        let hash = extra["password"].as_str().unwrap();
        assert!(hash.starts_with("$6$rounds=40000$") && password::verify("p@ss word", hash), "{ctx}: {hash}");
        assert_eq!((extra["enabled"].clone(), extra["tenantId"].clone()), (json!(true), json!(tid)), "{ctx}");
        assert_eq!(rows(url, "SELECT user_id, tenant_id FROM user_tenant_membership"), vec![vec![uid.clone(), tid.clone()]], "{ctx}");

        // Granting by names (twice: no error, no duplicate), then listed.
        for _ in 0..2 {
            assert_eq!(
                ok(ks_db(url, &["user-role-add", "--user", "admin", "--tenant", "systenant", "--role", "Admin"])),
                "granted role Admin to user admin on tenant systenant\n"
            );
        }
        let md = rows(url, "SELECT user_id, tenant_id, data FROM metadata");
        assert_eq!((md[0][0].as_str(), md[0][1].as_str()), (uid.as_str(), tid.as_str()), "{ctx}");
        assert_eq!(json_of(&md[0][2]), json!({"roles": [rid]}), "{ctx}: role ids as strings");
        ok(ks_db(url, &["user-role-add", "--user", "admin", "--tenant", "systenant", "--role", "sysadmin"]));
        let listed = ok(ks_db(url, &["user-role-list", "--tenant", "systenant"]));
        assert!(
            listed.contains("| systenant | admin | Admin    |") && listed.contains("| systenant | admin | sysadmin |"),
            "{ctx}: {listed}"
        );
        assert_eq!(ok(ks_db(url, &["get-id", "role", "sysadmin"])).trim().len(), 32);
        assert_eq!(ks_db(url, &["get-id", "role", "admin"]).code, 2, "{ctx}: no case folding, no substring");

        // EC2: made, then listed without the secret.
        let cred = json_of(&ok(ks_db(url, &["ec2-credentials-create", "--user", "admin", "--tenant", "systenant", "--json"])));
        let stored = rows(url, "SELECT access, secret, user_id, tenant_id FROM ec2_credential");
        assert_eq!(
            stored,
            vec![vec![
                cred["access"].as_str().unwrap().to_string(),
                cred["secret"].as_str().unwrap().to_string(),
                uid.clone(),
                tid.clone()
            ]]
        );
        let list = ok(ks_db(url, &["ec2-credentials-list", "--user", "admin"]));
        assert!(list.contains(cred["access"].as_str().unwrap()) && !list.contains(cred["secret"].as_str().unwrap()), "{ctx}: {list}");

        // Revoking: the membership goes with the last role.
        ok(ks_db(url, &["user-role-remove", "--user", "admin", "--tenant", "systenant", "--role", "Admin"]));
        assert_eq!(rows(url, "SELECT COUNT(*) FROM user_tenant_membership")[0][0], "1", "{ctx}");
        ok(ks_db(url, &["user-role-remove", "--user", "admin", "--tenant", "systenant", "--role", "sysadmin"]));
        assert_eq!(rows(url, "SELECT COUNT(*) FROM user_tenant_membership")[0][0], "0", "{ctx}");
        assert_eq!(json_of(&rows(url, "SELECT data FROM metadata")[0][0]), json!({"roles": []}), "{ctx}");
        let o = ks_db(url, &["user-role-remove", "--user", "admin", "--tenant", "systenant", "--role", "sysadmin"]);
        assert_eq!(o.code, 2, "{ctx}");
        assert!(o.stderr.contains("does not hold role"), "{ctx}: {}", o.stderr);

        // Names: taken, too long, and (MySQL) taken without case.
        let o = ks_db(url, &["tenant-create", "--name", "systenant"]);
        assert_eq!(o.code, 2);
        assert!(o.stderr.contains(&format!("a tenant named `systenant` already exists (id {tid})")), "{ctx}: {}", o.stderr);
        assert_eq!(ks_db(url, &["role-create", "--name", &"r".repeat(65)]).code, 2);
        let o = ks_db(url, &["tenant-create", "--name", "SYSTENANT"]);
        if server.backend == Backend::Mysql {
            assert_eq!(o.code, 2);
            assert!(o.stderr.contains("MySQL compares names without case"), "{}", o.stderr);
        } else {
            assert_eq!(o.code, 0, "{ctx}: {}", o.stderr);
            assert_ne!(ok(ks_db(url, &["get-id", "tenant", "SYSTENANT"])).trim(), tid);
            assert_eq!(ok(ks_db(url, &["get-id", "tenant", "systenant"])).trim(), tid);
        }
    });
}

#[test]
fn db_transport_on_a_migrated_keystone() {
    support::each_server(|server| {
        let ctx = server.name();
        let source = keystone_fixture(&server, "diablo");
        let target = support::fresh_db(&server, "ksc_mig");
        let dir = tempfile::tempdir().unwrap();
        let templates = dir.path().join("default_catalog.templates");
        let (code, _, err) = support::migrate_keystone(&source.url, &target.url, &["--catalog-out", templates.to_str().unwrap()]);
        assert!(code <= 1, "{ctx}: {err}");
        let url = &target.url;

        // Imported ids are "1", "2"…: a tenant named "1" does not hide tenant 1.
        let o = ks_db(url, &["tenant-create", "--name", "1"]);
        assert_eq!(o.code, 0, "{ctx}: {}", o.stderr);
        assert!(o.stderr.contains("`1` will resolve to that one"), "{ctx}: {}", o.stderr);
        let o = ks_db(url, &["get-id", "tenant", "1"]);
        assert_eq!(o.stdout, "1\n", "{ctx}");
        assert!(o.stderr.contains("`1` is the id of tenant `admin`"), "{ctx}: {}", o.stderr);

        // The global roles moved onto systenant show up by name; `admin` never matches `sysadmin`.
        let grants = json_of(&ok(ks_db(url, &["user-role-list", "--user", "admin", "--tenant", "systenant", "--json"])));
        let names: Vec<&str> = grants.as_array().unwrap().iter().map(|g| g["role"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, vec!["Admin", "KeystoneAdmin", "KeystoneServiceAdmin"], "{ctx}");
        assert_eq!(ok(ks_db(url, &["get-id", "user", "admin"])), "1\n");
        ok(ks_db(url, &["user-role-add", "--user", "demo", "--tenant", "demo", "--role", "Admin"]));
        let md = rows(url, "SELECT data FROM metadata WHERE user_id = '2' AND tenant_id = '2'");
        assert_eq!(json_of(&md[0][0]), json!({"roles": ["2", "5", "6", "1"]}), "{ctx}");

        // The catalog, from the SQL tables and from the templates file.
        let sql = json_of(&ok(ks_db(url, &["catalog", "--json"])));
        let file = json_of(&ok(ks_db(url, &["catalog", "--catalog-templates", templates.to_str().unwrap(), "--json"])));
        for c in [&sql, &file] {
            let compute = c.as_array().unwrap().iter().find(|e| e["service_type"] == "compute").unwrap_or_else(|| panic!("{ctx}: {c}"));
            assert!(compute["public_url"].as_str().unwrap().ends_with("/v1.1/$(tenant_id)s"), "{ctx}: {compute}");
            assert_eq!(compute["region"], "RegionOne");
        }

        // The legacy database itself is not what this client manages.
        let o = ks_db(&source.url, &["tenant-list"]);
        assert_eq!(o.code, 2);
        assert!(o.stderr.contains("legacy (Diablo) Keystone database"), "{ctx}: {}", o.stderr);
    });
    // A SQLite file that does not exist is not created.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.db");
    let o = ks_db(&DbUrl::sqlite(&missing), &["tenant-list"]);
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("no such file") && !missing.exists(), "{}", o.stderr);
}

// ---------------------------------------------------------------------------------------------
// db create

#[test]
fn db_create_makes_every_release_schema_with_its_stamp() {
    /// (service, release, reference name, stamp: repository id and version)
    type Case = (&'static str, &'static str, &'static str, Option<(&'static str, &'static str)>);
    let cases: &[Case] = &[
        ("keystone", "essex", "keystone", Some(("keystone", "1"))),
        ("glance", "essex", "glance", Some(("Glance Migrations", "13"))),
        ("nova", "essex", "nova", Some(("nova", "82"))),
        ("keystone", "diablo", "keystone", None),
        ("glance", "diablo", "glance", Some(("Glance Migrations", "9"))),
        ("nova", "diablo", "nova", Some(("nova", "46"))),
    ];
    support::each_server(|server| {
        for (service, release, name, stamp) in cases {
            let (name, stamp) = if server.backend == Backend::Postgres && *service == "glance" && *release == "diablo" {
                ("glance-autocreate", None) // Diablo's Glance migrations fail on PostgreSQL
            } else {
                (*name, *stamp)
            };
            let what = format!("db create {service} --release {release} on {}", server.name());
            let fresh = support::fresh_db(&server, "create");
            let made =
                json_of(&ok(run(osmigrate().args(["db", "create", service, "--release", release, &fresh.url.expose_secret(), "--json"]))));
            assert_eq!(made["database_created"], json!(true), "{what}");
            assert!(!made["database"].as_str().unwrap().contains("osmigrate-pw"), "{what}: password hidden");
            // A note says why there is no stamp where one might be expected.
            let noted = name == "glance-autocreate" || (*service, *release) == ("keystone", "diablo");
            assert_eq!(!made["notes"].as_array().unwrap().is_empty(), noted, "{what}: {made}");
            assert_same_schema(&what, &live(&fresh.url), &reference(release, name, server.backend));
            match stamp {
                Some((repo, version)) => {
                    assert_eq!(
                        rows(&fresh.url, "SELECT repository_id, version FROM migrate_version"),
                        vec![vec![repo.to_string(), version.to_string()]],
                        "{what}"
                    );
                }
                None => assert!(!live(&fresh.url).contains_key("migrate_version"), "{what}: no stamp"),
            }
            // A database that holds tables is refused.
            let o = run(osmigrate().args(["db", "create", service, "--release", release, &fresh.url.expose_secret()]));
            assert_eq!(o.code, 2, "{what}");
            assert!(o.stderr.contains("`db create` only fills an empty or new database"), "{what}: {}", o.stderr);
        }
    });
    // The human form, and bad arguments.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:///{}", dir.path().join("g.db").display());
    let out = ok(run(osmigrate().args(["db", "create", "glance", "--release", "essex", &url])));
    assert!(out.starts_with("created sqlite:///") && out.contains("stamped `Glance Migrations` version 13"), "{out}");
    assert_eq!(run(osmigrate().args(["db", "create", "swift", "--release", "essex", &url])).code, 64);
    assert_eq!(run(osmigrate().args(["db", "create", "nova", "--release", "folsom", &url])).code, 64);
    assert_eq!(run(osmigrate().args(["db", "create", "nova", &url])).code, 64);
}
