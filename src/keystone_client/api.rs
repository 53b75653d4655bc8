//! The Essex Keystone v2.0 admin API (port 35357) with the request and response shapes of
//! `keystone` 2012.1: `identity/core.py` and `contrib/admin_crud` (tenants, users, the OS-KSADM
//! roles and grants), `contrib/ec2` (credentials), `service.py` (tokens), `catalog/core.py`.
//!
//! Every request carries `X-Auth-Token`. A failed request becomes [`Error::Http`] with the status
//! and Keystone's own `{"error": {"title", "message"}}`, with the token, the password and any
//! password hash it may echo masked. http:// only: this build carries no TLS.

use std::time::Duration;

use serde_json::{Value as Json, json};

use super::{CatalogEntry, Ec2Credential, Grant, Kind, Named, NewEc2Credential, NewTenant, NewUser, enabled_of, id_of, text_of};
use super::{Role, Secret, Tenant, Transport, User};
use crate::error::{Error, Result};
use crate::redact;

/// How to get a token.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A token as it is: Keystone's `admin_token` (a service token) or a user's token.
    Token(Secret),
    /// Ask `POST {auth_url}/tokens` for one with a password, scoped to `tenant` when given (then
    /// the token's catalog names the admin endpoint, and `catalog` shows it).
    Password { auth_url: String, username: String, password: Secret, tenant: Option<String> },
}

pub struct ApiTransport {
    agent: ureq::Agent,
    endpoint: String,
    token: Secret,
    /// The catalog a password-scoped token came with (none for a bare token or an unscoped one).
    token_catalog: Option<Vec<CatalogEntry>>,
    /// What a server message must never show.
    secrets: Vec<Secret>,
}

/// A v2.0 base URL: `http://host:port/v2.0` (a URL without a path gets `/v2.0`), no trailing `/`.
pub fn base_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.starts_with("https://") {
        return Err(Error::Usage(format!(
            "`{raw}`: https:// is not supported, this build of osmigrate speaks http:// only; reach the admin API \
             over http (port 35357, as Essex ships it) or use --db"
        )));
    }
    let Some(rest) = raw.strip_prefix("http://") else {
        return Err(Error::Usage(format!("`{raw}` is not an http:// URL of the Keystone v2.0 API (e.g. http://keystone:35357/v2.0)")));
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.starts_with('/') {
        return Err(Error::Usage(format!("`{raw}` names no host")));
    }
    Ok(if rest.contains('/') { format!("http://{rest}") } else { format!("http://{rest}/v2.0") })
}

/// A path segment, percent-encoded (ids are usually hex, but an imported id may be anything).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ApiTransport {
    /// Gets a token (asking for one when `auth` is a password) and settles the admin endpoint:
    /// `endpoint`, else the identity service's adminURL in the token's catalog, else the auth URL.
    pub fn connect(endpoint: Option<&str>, auth: Auth) -> Result<Self> {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .user_agent(concat!("osmigrate/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let endpoint = endpoint.map(base_url).transpose()?;
        match auth {
            Auth::Token(token) => {
                let endpoint = endpoint.ok_or_else(|| Error::Usage("a token needs the admin endpoint URL it is for".into()))?;
                Ok(ApiTransport { agent, endpoint, secrets: vec![token.clone()], token, token_catalog: None })
            }
            Auth::Password { auth_url, username, password, tenant } => {
                let auth_url = base_url(&auth_url)?;
                let mut t = ApiTransport {
                    agent,
                    endpoint: auth_url.clone(),
                    token: Secret::new(""),
                    token_catalog: None,
                    secrets: vec![password.clone()],
                };
                let mut body = json!({"auth": {"passwordCredentials": {"username": username, "password": password.expose()}}});
                if let Some(tenant) = &tenant {
                    body["auth"]["tenantName"] = json!(tenant);
                }
                let url = format!("{auth_url}/tokens");
                let answer = t.send("POST", &url, Some(&body), false)?.unwrap_or(Json::Null);
                let access = &answer["access"];
                let token = access["token"]["id"]
                    .as_str()
                    .ok_or_else(|| t.protocol_error("POST", &url, "the answer holds no access.token.id"))?
                    .to_string();
                t.token = Secret::new(token);
                t.secrets.push(t.token.clone());
                let catalog = token_catalog(&access["serviceCatalog"]);
                let admin_url =
                    catalog.iter().find(|e| e.service_type == "identity" && !e.admin_url.is_empty()).map(|e| e.admin_url.clone());
                t.endpoint = match (endpoint, admin_url) {
                    (Some(e), _) => e,
                    (None, Some(a)) => base_url(&a)?,
                    (None, None) => auth_url,
                };
                t.token_catalog = if catalog.is_empty() { None } else { Some(catalog) };
                Ok(t)
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint)
    }

    fn get(&self, path: &str) -> Result<Json> {
        let url = self.url(path);
        self.send("GET", &url, None, true)?.ok_or_else(|| self.protocol_error("GET", &url, "the answer is empty"))
    }

    /// One request; `Ok(None)` for an empty answer (204).
    fn send(&self, method: &str, url: &str, body: Option<&Json>, with_token: bool) -> Result<Option<Json>> {
        fn headers<B>(rb: ureq::RequestBuilder<B>, token: Option<&str>) -> ureq::RequestBuilder<B> {
            let rb = rb.header("Accept", "application/json");
            match token {
                Some(t) => rb.header("X-Auth-Token", t),
                None => rb,
            }
        }
        let token = with_token.then(|| self.token.expose());
        let payload = body.map(std::string::ToString::to_string);
        let sent = match method {
            "GET" => headers(self.agent.get(url), token).call(),
            "DELETE" => headers(self.agent.delete(url), token).call(),
            "POST" | "PUT" => {
                let rb = if method == "POST" { self.agent.post(url) } else { self.agent.put(url) };
                let rb = headers(rb, token);
                match &payload {
                    Some(p) => rb.header("Content-Type", "application/json").send(p.as_str()),
                    None => rb.send_empty(),
                }
            }
            other => unreachable!("no {other} requests are made"),
        };
        // Only the masked text is kept: the client's own error may echo a secret.
        let mut response = sent.map_err(|e| Error::Connect { url: url.to_string(), reason: self.mask(&e.to_string()), source: None })?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(1 << 30).read_to_string().map_err(|e| Error::Connect {
            url: url.to_string(),
            reason: format!("reading the answer: {}", self.mask(&e.to_string())),
            source: None,
        })?;
        if !(200..300).contains(&status) {
            return Err(Error::Http { method: method.to_string(), url: url.to_string(), status, message: self.error_message(&text) });
        }
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| self.protocol_error(method, url, &format!("the answer is not JSON: {}", self.snippet(&text))))
    }

    /// Keystone's `{"error": {"code", "title", "message"}}`, or the start of whatever came back.
    fn error_message(&self, text: &str) -> String {
        match serde_json::from_str::<Json>(text) {
            Ok(j) if j["error"].is_object() => {
                let e = &j["error"];
                let title = e["title"].as_str().unwrap_or("");
                let message = e["message"].as_str().unwrap_or("");
                self.mask(&match (title.is_empty(), message.is_empty()) {
                    (false, false) => format!("{title}: {message}"),
                    (true, false) => message.to_string(),
                    _ => title.to_string(),
                })
            }
            _ if text.trim().is_empty() => "(empty answer)".to_string(),
            _ => self.snippet(text),
        }
    }

    fn snippet(&self, text: &str) -> String {
        // Masked whole before the cut, so that no secret is cut in two and half shown.
        let one_line = self.mask(&text.split_whitespace().collect::<Vec<_>>().join(" "));
        let cut: String = one_line.chars().take(300).collect();
        if cut.len() < one_line.len() { format!("{cut}…") } else { cut }
    }

    /// Masks the token, the password and password hashes (Keystone's 409 echoes the failed
    /// INSERT, hashed password included).
    fn mask(&self, text: &str) -> String {
        redact::in_text(text, self.secrets.iter().map(Secret::expose))
    }

    fn protocol_error(&self, method: &str, url: &str, what: &str) -> Error {
        Error::Http {
            method: method.to_string(),
            url: url.to_string(),
            status: 200,
            message: format!("not an Essex Keystone answer: {what}"),
        }
    }

    /// `answer[key]` as an array of objects.
    fn list(&self, path: &str, key: &str) -> Result<Vec<Json>> {
        let answer = self.get(path)?;
        match answer.get(key) {
            Some(Json::Array(items)) => Ok(items.iter().filter(|i| !i.is_null()).cloned().collect()),
            _ => Err(self.protocol_error("GET", &self.url(path), &format!("no `{key}` list"))),
        }
    }

    /// `answer[key]` of a POST or PUT as an object.
    fn object(&self, method: &str, path: &str, body: Option<&Json>, key: &str) -> Result<Json> {
        let url = self.url(path);
        let answer = self.send(method, &url, body, true)?.unwrap_or(Json::Null);
        match answer.get(key) {
            Some(o @ Json::Object(_)) => Ok(o.clone()),
            _ => Err(self.protocol_error(method, &url, &format!("no `{key}` object"))),
        }
    }

    fn roles_of(&self, user: &Named, tenant: &Named) -> Result<Vec<Grant>> {
        let path = format!("/tenants/{}/users/{}/roles", seg(&tenant.id), seg(&user.id));
        Ok(self.list(&path, "roles")?.iter().map(|r| Grant { tenant: tenant.clone(), user: user.clone(), role: named(r) }).collect())
    }

    fn members(&self, tenant: &Named) -> Result<Vec<Named>> {
        Ok(self.list(&format!("/tenants/{}/users", seg(&tenant.id)), "users")?.iter().map(named).collect())
    }
}

fn named(j: &Json) -> Named {
    Named { id: id_of(&j["id"]).unwrap_or_default(), name: text_of(j, "name").unwrap_or_default() }
}

fn tenant(j: &Json) -> Tenant {
    Tenant {
        id: id_of(&j["id"]).unwrap_or_default(),
        name: text_of(j, "name").unwrap_or_default(),
        description: text_of(j, "description"),
        enabled: enabled_of(j.get("enabled")),
    }
}

fn user(j: &Json) -> User {
    User {
        id: id_of(&j["id"]).unwrap_or_default(),
        name: text_of(j, "name").unwrap_or_default(),
        email: text_of(j, "email"),
        enabled: enabled_of(j.get("enabled")),
        tenant_id: j.get("tenantId").and_then(id_of).or_else(|| j.get("tenant_id").and_then(id_of)),
    }
}

/// A token's `serviceCatalog`: `[{"name", "type", "endpoints": [{"region", "publicURL", …}]}]`
/// (Essex answers `{}` for an unscoped token).
fn token_catalog(j: &Json) -> Vec<CatalogEntry> {
    let mut out = Vec::new();
    for service in j.as_array().into_iter().flatten() {
        for e in service["endpoints"].as_array().into_iter().flatten() {
            out.push(CatalogEntry {
                region: text_of(e, "region").unwrap_or_default(),
                service_type: text_of(service, "type").unwrap_or_default(),
                name: text_of(service, "name").unwrap_or_default(),
                public_url: text_of(e, "publicURL").unwrap_or_default(),
                admin_url: text_of(e, "adminURL").unwrap_or_default(),
                internal_url: text_of(e, "internalURL").unwrap_or_default(),
            });
        }
    }
    out
}

impl Transport for ApiTransport {
    fn target(&self) -> String {
        self.endpoint.clone()
    }

    fn tenants(&mut self) -> Result<Vec<Tenant>> {
        Ok(self.list("/tenants", "tenants")?.iter().map(tenant).collect())
    }

    fn users(&mut self) -> Result<Vec<User>> {
        Ok(self.list("/users", "users")?.iter().map(user).collect())
    }

    fn roles(&mut self) -> Result<Vec<Role>> {
        Ok(self.list("/OS-KSADM/roles", "roles")?.iter().map(named).map(|n| Role { id: n.id, name: n.name }).collect())
    }

    fn candidates(&mut self, kind: Kind, _key: &str) -> Result<Vec<Named>> {
        let (path, key) = match kind {
            Kind::Tenant => ("/tenants", "tenants"),
            Kind::User => ("/users", "users"),
            Kind::Role => ("/OS-KSADM/roles", "roles"),
        };
        Ok(self.list(path, key)?.iter().map(named).collect())
    }

    fn grants(&mut self, user: Option<&Named>, tenant: Option<&Named>) -> Result<Vec<Grant>> {
        let tenants: Vec<Named> = match tenant {
            Some(t) => vec![t.clone()],
            None => self.list("/tenants", "tenants")?.iter().map(named).collect(),
        };
        let mut out = Vec::new();
        for t in &tenants {
            match user {
                Some(u) => out.extend(self.roles_of(u, t)?),
                None => {
                    for u in self.members(t)? {
                        out.extend(self.roles_of(&u, t)?);
                    }
                }
            }
        }
        Ok(out)
    }

    fn grant(&mut self, user_id: &str, tenant_id: &str, role_id: &str) -> Result<()> {
        let path = format!("/tenants/{}/users/{}/roles/OS-KSADM/{}", seg(tenant_id), seg(user_id), seg(role_id));
        self.send("PUT", &self.url(&path), None, true).map(|_| ())
    }

    fn revoke(&mut self, user_id: &str, tenant_id: &str, role_id: &str) -> Result<()> {
        let path = format!("/tenants/{}/users/{}/roles/OS-KSADM/{}", seg(tenant_id), seg(user_id), seg(role_id));
        self.send("DELETE", &self.url(&path), None, true).map(|_| ())
    }

    fn create_tenant(&mut self, t: &NewTenant) -> Result<Tenant> {
        let mut body = json!({"tenant": {"name": t.name, "enabled": t.enabled}});
        if let Some(d) = &t.description {
            body["tenant"]["description"] = json!(d);
        }
        Ok(tenant(&self.object("POST", "/tenants", Some(&body), "tenant")?))
    }

    fn create_user(&mut self, u: &NewUser) -> Result<User> {
        let mut body = json!({"user": {"name": u.name, "enabled": u.enabled}});
        if let Some(p) = &u.password {
            self.secrets.push(p.clone());
            body["user"]["password"] = json!(p.expose());
        }
        if let Some(e) = &u.email {
            body["user"]["email"] = json!(e);
        }
        if let Some(t) = &u.tenant_id {
            body["user"]["tenantId"] = json!(t);
        }
        // The answer holds the new password hash: only the listed fields are kept.
        Ok(user(&self.object("POST", "/users", Some(&body), "user")?))
    }

    fn create_role(&mut self, name: &str) -> Result<Role> {
        let r = named(&self.object("POST", "/OS-KSADM/roles", Some(&json!({"role": {"name": name}})), "role")?);
        Ok(Role { id: r.id, name: r.name })
    }

    fn create_ec2_credential(&mut self, user: &Named, tenant: &Named) -> Result<NewEc2Credential> {
        let path = format!("/users/{}/credentials/OS-EC2", seg(&user.id));
        let c = self.object("POST", &path, Some(&json!({"tenant_id": tenant.id})), "credential")?;
        let (access, secret) = (text_of(&c, "access"), text_of(&c, "secret"));
        match (access, secret) {
            (Some(access), Some(secret)) => Ok(NewEc2Credential { access, secret, user: user.clone(), tenant: tenant.clone() }),
            _ => Err(self.protocol_error("POST", &self.url(&path), "the credential has no access or secret")),
        }
    }

    fn ec2_credentials(&mut self, user: &Named) -> Result<Vec<Ec2Credential>> {
        let creds = self.list(&format!("/users/{}/credentials/OS-EC2", seg(&user.id)), "credentials")?;
        let tenants: Vec<Named> = if creds.is_empty() { Vec::new() } else { self.list("/tenants", "tenants")?.iter().map(named).collect() };
        Ok(creds
            .iter()
            .map(|c| {
                let tenant_id = c.get("tenant_id").and_then(id_of).unwrap_or_default();
                let name = tenants.iter().find(|t| t.id == tenant_id).map(|t| t.name.clone()).unwrap_or_default();
                Ec2Credential {
                    access: text_of(c, "access").unwrap_or_default(),
                    user: user.clone(),
                    tenant: Named { id: tenant_id, name },
                }
            })
            .collect())
    }

    fn catalog(&mut self) -> Result<Vec<CatalogEntry>> {
        if let Some(c) = &self.token_catalog {
            return Ok(c.clone());
        }
        let endpoints = match self.list("/endpoints", "endpoints") {
            Err(Error::Http { status: 404 | 501, .. }) => {
                return Err(Error::Refused(format!(
                    "{} does not list its catalog over the admin API (the templated catalog backend, Essex's default): \
                     read it from a token instead (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD and OS_TENANT_NAME), \
                     or from the templates file with --db URL --catalog-templates FILE",
                    self.endpoint
                )));
            }
            other => other?,
        };
        let services = self.list("/OS-KSADM/services", "OS-KSADM:services")?;
        let mut out = Vec::new();
        for e in &endpoints {
            let service_id = e.get("service_id").and_then(id_of).unwrap_or_default();
            let service = services.iter().find(|s| s.get("id").and_then(id_of).as_deref() == Some(service_id.as_str()));
            out.push(CatalogEntry {
                region: text_of(e, "region").unwrap_or_default(),
                service_type: service.and_then(|s| text_of(s, "type")).unwrap_or_default(),
                name: service.and_then(|s| text_of(s, "name")).unwrap_or_default(),
                public_url: text_of(e, "publicurl").unwrap_or_default(),
                admin_url: text_of(e, "adminurl").unwrap_or_default(),
                internal_url: text_of(e, "internalurl").unwrap_or_default(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url("http://k:35357/v2.0/").unwrap(), "http://k:35357/v2.0");
        assert_eq!(base_url("http://k:35357").unwrap(), "http://k:35357/v2.0");
        assert_eq!(base_url("http://k:35357/").unwrap(), "http://k:35357/v2.0");
        assert!(base_url("https://k:35357/v2.0").unwrap_err().to_string().contains("http:// only"));
        assert!(matches!(base_url("k:35357"), Err(Error::Usage(_))));
        assert!(matches!(base_url("http:///v2.0"), Err(Error::Usage(_))));
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(seg("c93b19ea3fa9"), "c93b19ea3fa9");
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn messages_are_masked() {
        let t = ApiTransport {
            agent: ureq::Agent::new_with_defaults(),
            endpoint: "http://k/v2.0".into(),
            token: Secret::new("tok-123456"),
            token_catalog: None,
            secrets: vec![Secret::new("tok-123456"), Secret::new("pa55word")],
        };
        let body = r#"{"error": {"code": 409, "title": "Conflict", "message": "(IntegrityError) ('u1', 'nova', '{\"password\": \"$6$rounds=40000$abc$xyz/.\", \"x\": \"pa55word\"}') tok-123456"}}"#;
        let m = t.error_message(body);
        assert!(m.starts_with("Conflict: (IntegrityError)"), "{m}");
        assert!(!m.contains("$6$") && !m.contains("pa55word") && !m.contains("tok-123456"), "{m}");
        assert_eq!(t.error_message("<html>\n Not   found</html>"), "<html> Not found</html>");
    }

    #[test]
    fn token_catalogs() {
        let j = json!([{"name": "Compute Service", "type": "compute", "endpoints_links": [],
            "endpoints": [{"region": "RegionOne", "publicURL": "http://n:8774/v1.1/t1", "adminURL": "a", "internalURL": "i"}]}]);
        let c = token_catalog(&j);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].service_type.as_str(), c[0].public_url.as_str()), ("compute", "http://n:8774/v1.1/t1"));
        assert!(token_catalog(&json!({})).is_empty());
    }
}
