//! Every reason code osmigrate reports, as one enum: its stable code string (the JSON and the
//! reference table `docs/reasons.md` show it), the severities it is reported with, what it means
//! and what the operator does about it. Findings of `check`, `verify`, the database migrations and
//! the config commands all carry a [`Reason`].

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How serious a finding is. Blockers stop `migrate` (and are `verify`'s mismatches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Expected and handled (a global role moved to `systenant`, an expired token dropped).
    Info,
    /// Needs the operator's eye: something was skipped, merged or could not be expressed.
    Warning,
    /// Stops the migration until fixed (check), or a result that is wrong (verify).
    Blocker,
}

impl Severity {
    /// The word every output uses for it, text and JSON alike.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Blocker => "blocker",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

macro_rules! reasons {
    ($($variant:ident $code:literal [$($sev:ident),+] $meaning:literal $fix:expr;)+) => {
        /// A reason code. Its JSON form is the code string (`orphan_user`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Reason { $($variant,)+ }

        impl Reason {
            /// Every reason, in the order of the reference table.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant,)+];

            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)+ }
            }

            /// The severities this reason is reported with (several when the context decides).
            pub fn severities(self) -> &'static [Severity] {
                match self { $(Reason::$variant => &[$(Severity::$sev),+],)+ }
            }

            pub fn meaning(self) -> &'static str {
                match self { $(Reason::$variant => $meaning,)+ }
            }

            /// What the operator does about it.
            pub fn fix(self) -> &'static str {
                match self { $(Reason::$variant => $fix,)+ }
            }
        }
    };
}

impl Reason {
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.code() == code)
    }

    /// Whether a finding of this reason may be reported at `severity` (asserted in debug builds,
    /// so that the reference table cannot drift from what the code reports).
    pub fn allows(self, severity: Severity) -> bool {
        self.severities().contains(&severity)
    }

    /// The reference table (`docs/reasons.md`), rendered from this enum.
    pub fn reference_table() -> String {
        let mut out = String::from(
            "# Reason codes\n\n\
             Every finding osmigrate reports (check, plan, migrate, verify, `db migrate`, `config …`) carries one of\n\
             these codes, in the human output and in `--json` alike. This file is rendered from `src/reason.rs`\n\
             by a test (`UPDATE_REASONS=1 cargo test --lib reason` rewrites it).\n\n\
             Severity: `info` is done and said; `warning` needs your eye (the fix says what to do); `blocker`\n\
             stops `migrate` until fixed (in `verify`: a result that is wrong).\n\n\
             | code | severity | meaning | fix |\n|---|---|---|---|\n",
        );
        for r in Reason::ALL {
            let severities: Vec<&str> = r.severities().iter().map(|s| s.word()).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                r.code(),
                severities.join(", "),
                r.meaning().replace('|', "\\|"),
                r.fix().replace('|', "\\|")
            ));
        }
        out
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl PartialEq<str> for Reason {
    fn eq(&self, other: &str) -> bool {
        self.code() == other
    }
}

impl PartialEq<&str> for Reason {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Reason, D::Error> {
        let code = String::deserialize(d)?;
        Reason::from_code(&code).ok_or_else(|| serde::de::Error::custom(format!("unknown reason code `{code}`")))
    }
}

const NOTHING: &str = "nothing to do: done and reported";
const ORPHAN: &str = "nothing blocks: Diablo could not use the row either; delete it from the Diablo database first for a clean report";

reasons! {
    // check: the controller, its databases and directories
    SourceUnusable "source_unusable" [Blocker] "a Diablo database cannot be opened or is not the release osmigrate migrates (the message says why)" "fix the database or its URL in the named config file, then check again";
    TargetNotOurs "target_not_ours" [Blocker] "the new database already holds tables osmigrate did not write, or its file is no database" "give an empty or new database: drop it, or move the file away (osmigrate never writes into a database it did not make)";
    CannotCreateDatabase "cannot_create_database" [Blocker] "the database user cannot create the new Essex database" "create the named empty database yourself and grant the service's user all privileges on it; check then accepts it";
    DirectoryMissing "directory_missing" [Blocker] "a directory migrate writes into does not exist (a missing var/lib/SERVICE: the Essex package is not installed yet)" "install the Essex packages, or create the named directory";
    NotWritable "not_writable" [Blocker] "osmigrate cannot write into a directory it needs (read-only mount, immutable flag, permissions)" "make the named directory writable for the user running osmigrate";
    StateDirUnusable "state_dir_unusable" [Blocker] "the state directory is not a directory, or cannot be made" "remove or rename the named file, or give --state-dir DIR";
    DiskSpace "disk_space" [Info, Blocker] "free space per filesystem against what the new databases and copies need" "free space on the named filesystem (or move the state directory), then check again";
    KeystoneConfWithoutDatabase "keystone_conf_without_database" [Blocker] "Diablo's keystone.conf names no database ([keystone.backends.sqlalchemy] sql_connection)" "add the sql_connection of the Diablo Keystone database to keystone.conf";
    NoKeystone "no_keystone" [Blocker] "no Diablo keystone.conf, and Nova's API authenticated with Keystone" "restore /etc/keystone/keystone.conf under the root, or check the --root";
    GlanceUnversioned "glance_unversioned" [Warning] "Glance is unversioned or stamped without the migrations run" "nothing blocks: osmigrate recognises Diablo Glance by its tables";
    RelativeSqlitePath "relative_sqlite_path" [Info] "a relative SQLite URL is resolved against the service's working directory (/var/lib/SERVICE)" NOTHING;
    RootOwnedLogs "root_owned_logs" [Warning] "files in /var/log/SERVICE belong to root: the service cannot write its logs" "run `osmigrate config fix-ownership`";
    RunningAsRoot "running_as_root" [Info] "osmigrate runs as root: files it writes are given to the service users" NOTHING;
    AuthKeystone "auth_keystone" [Info] "Nova's API authenticated with Keystone" NOTHING;
    AuthNova "auth_nova" [Info] "Nova ran its own auth: its users are imported into a new Essex Keystone (step nova-auth-db)" NOTHING;
    AuthNone "auth_none" [Warning] "Nova's API ran without auth" "nothing blocks: Essex's nova.conf keeps auth_strategy noauth; put Keystone in front before opening the API";
    NotRehearsed "not_rehearsed" [Info] "a step of the migration could not be rehearsed because of a blocker before it" "fix that blocker first, then check again";
    KeystoneDbFails "keystone_db_fails" [Blocker] "the rehearsed Keystone migration fails (the message names table, row and field)" "repair the named row or the database (osmigrate never changes a source), then check again";
    NovaAuthDbFails "nova_auth_db_fails" [Blocker] "the rehearsed import of Nova's own users fails" "repair the named row or the database (osmigrate never changes a source), then check again";
    ServiceUsersFails "service_users_fails" [Blocker] "the rehearsed creation of the service users fails" "fix what the message names, then check again";
    GlanceDbFails "glance_db_fails" [Blocker] "the rehearsed Glance migration fails (the message names table, row and field)" "repair the named row or the database (osmigrate never changes a source), then check again";
    NovaDbFails "nova_db_fails" [Blocker] "the rehearsed Nova migration fails (the message names table, row and field)" "repair the named row or the database (osmigrate never changes a source), then check again";
    KeystoneConfigFails "keystone_config_fails" [Blocker] "rendering the Essex keystone.conf fails" "fix the named file or line, then check again";
    GlanceConfigFails "glance_config_fails" [Blocker] "rendering the Essex glance files fails" "fix the named file or line, then check again";
    NovaConfigFails "nova_config_fails" [Blocker] "converting nova.conf or its paste file fails" "fix the named file or line, then check again";
    // verify
    MigrationFinished "migration_finished" [Info, Blocker] "whether the journal records a finished migration (after a rollback it does not)" "run `osmigrate migrate` (again), or nothing if you rolled back on purpose";
    EssexSchema "essex_schema" [Info, Blocker] "every Essex table, column, index, key and stamp as osmigrate makes them" "run `osmigrate migrate` (it builds a missing database and completes a half-made one), or `osmigrate rollback`";
    Stamp "stamp" [Info, Blocker] "the migrate_version stamp of an Essex database" "run the database's migration again: the stamp is written last";
    TargetRowsKept "target_rows_kept" [Info, Blocker] "every row the migration wrote is still in the Essex database (rows Essex added since are fine)" "a new target: `osmigrate rollback`, drop the Essex database, `osmigrate migrate`";
    RowsAccounted "rows_accounted" [Info, Blocker] "every source row read, each skipped one reported" "run `osmigrate migrate` again, or `osmigrate rollback`";
    ImageRefsResolve "image_refs_resolve" [Info, Blocker] "every instance's image UUID names an image of the new Glance" "run `osmigrate migrate` again, or `osmigrate rollback`";
    NovaUsersArrived "nova_users_arrived" [Info, Blocker] "every live Nova user is a Keystone user" "run `osmigrate migrate` again, or `osmigrate rollback`";
    NovaKeysArrived "nova_keys_arrived" [Info, Blocker] "every Nova access key has its EC2 credentials in Keystone" "run `osmigrate migrate` again, or `osmigrate rollback`";
    Ec2OwnersResolve "ec2_owners_resolve" [Info, Blocker] "every EC2 credential's user and tenant exist" "run `osmigrate migrate` again, or `osmigrate rollback`";
    GrantsResolve "grants_resolve" [Info, Blocker] "every role grant's user, tenant and roles exist" "run `osmigrate migrate` again, or `osmigrate rollback`";
    ConfigNamesNewDatabase "config_names_new_database" [Info, Blocker] "each Essex config names the new database" "run `osmigrate migrate` again, or `osmigrate rollback`";
    ServiceFile "service_file" [Info, Blocker] "a file an Essex config names (catalog, policy, paste file, SQLite database) exists and its service user may read it" "create the named file or give it to the service user (`osmigrate config fix-ownership`)";
    ServiceDirectory "service_directory" [Warning] "a directory the service writes into (its SQLite database's, its logs') is missing or not writable by its user" "create the named directory and give it to the service user";
    ServiceUserUnknown "service_user_unknown" [Warning] "etc/passwd has no such service user: whether it may use its files is not checked" "install the Essex packages (they add the user), then verify again";
    // Keystone import
    NameNull "name_null" [Warning] "the name is NULL; the object is named after its id" "rename it in Essex Keystone if the id is no good name";
    EnabledText "enabled_text" [Warning] "`enabled` holds text (only SQLite keeps it in an integer column); Diablo took any text but '' as true, `no` and `false` included, so it is carried as Diablo read it" "disable the named user or tenant in Essex if the text meant it";
    EnabledNull "enabled_null" [Warning] "`enabled` is NULL; Diablo treated that as disabled, so it is carried as disabled" "enable the named user or tenant in Essex if it should be";
    PasswordHashed "password_hashed" [Info] "a plaintext password hashed with sha512_crypt as Essex stores it" NOTHING;
    NoPassword "no_password" [Warning] "the user has no password and cannot log in with one" "give the named user a password (`osmigrate keystone user-create` … or the API) if it needs one";
    OrphanDefaultTenant "orphan_default_tenant" [Warning] "the user's default tenant does not exist; the user is carried without one" ORPHAN;
    OrphanUser "orphan_user" [Warning] "the row names a user that does not exist: not carried" ORPHAN;
    OrphanRole "orphan_role" [Warning] "the grant names a role that does not exist: not carried" ORPHAN;
    OrphanTenant "orphan_tenant" [Warning] "the row names a tenant that does not exist: not carried" ORPHAN;
    OrphanService "orphan_service" [Warning] "the endpoint template names no existing service: not carried" ORPHAN;
    OrphanProject "orphan_project" [Warning] "the membership names a Nova project that does not exist: not carried, nor its roles" ORPHAN;
    OrphanImage "orphan_image" [Warning] "the row names an image that does not exist (possible without foreign keys): not carried" ORPHAN;
    InstanceWithoutUuid "instance_without_uuid" [Warning] "an instance without a uuid: Essex needs one" "give the named instance a uuid in Diablo before the final migration";
    OrphanInstanceAction "orphan_instance_action" [Warning] "the action names an instance that does not exist: instance_uuid is NULL" ORPHAN;
    OrphanProjectManager "orphan_project_manager" [Warning] "the project manager is no live Nova user (Essex has no project manager anyway)" ORPHAN;
    RoleMerged "role_merged" [Warning] "two roles are one role name in Essex: merged into the first, grants moved" "check that the merged roles meant the same; rename one in Diablo first to keep both";
    RoleDescriptionDropped "role_description_dropped" [Info] "Essex roles have no description" NOTHING;
    RoleServiceDropped "role_service_dropped" [Info] "Essex roles belong to no service; carried by name only" NOTHING;
    GlobalRoleMoved "global_role_moved" [Info] "Essex has no global roles: granted on the global-roles tenant instead" NOTHING;
    GlobalRolesTenantCreated "global_roles_tenant_created" [Info] "the tenant that receives Diablo's global roles was created" NOTHING;
    Ec2NoAccessKey "ec2_no_access_key" [Warning] "the EC2 credential has no access key: not carried" ORPHAN;
    Ec2DefaultTenant "ec2_default_tenant" [Info] "the EC2 credential had no tenant; it gets the user's default tenant" NOTHING;
    Ec2NoTenant "ec2_no_tenant" [Warning] "the EC2 credential has no tenant and its user no default tenant: not carried" "create the credential again in Essex with a tenant (`osmigrate keystone ec2-credentials-create`)";
    Ec2DuplicateAccessKey "ec2_duplicate_access_key" [Warning] "an earlier EC2 credential has the same access key (Essex keys are unique): not carried" "give the named user a new EC2 credential";
    CredentialTypeNotEc2 "credential_type_not_ec2" [Info] "Essex keeps only EC2 credentials (passwords live on the user)" NOTHING;
    TokenExpired "token_expired" [Info] "expired tokens are not carried" NOTHING;
    TokenNoExpiry "token_no_expiry" [Info, Warning] "tokens without an expiry, or whose expiry is no date and time (a warning), are not carried (Diablo refused them; Essex would accept them forever)" NOTHING;
    TokenWithoutId "token_without_id" [Warning] "the token has no id: nothing can present it; not carried" NOTHING;
    TokenIdTooLong "token_id_too_long" [Warning] "the token id is longer than Essex's 64 characters: not carried" "clients holding it sign in again";
    TokenSampleValue "token_sample_value" [Warning] "the token id is a value published in OpenStack's sample files: not carried" "services that used it get the new admin_token (STATE/admin-token) or a service user";
    ServiceTokenCarried "service_token_carried" [Info] "a service token a Diablo paste file names is carried and keeps working" NOTHING;
    ServiceTokenNotCarried "service_token_not_carried" [Warning] "a Diablo paste file names an admin_token that no unexpired token has" "give the Essex services the new admin_token or service users (--create-service-users)";
    DefaultRegion "default_region" [Info] "an endpoint without a region is placed in the default region" NOTHING;
    UrlNull "url_null" [Warning] "an endpoint URL is NULL; written as empty" "set the URL in the catalog templates file";
    EndpointDisabled "endpoint_disabled" [Warning] "a disabled Diablo endpoint: Essex's SQL catalog lists it (the templates file leaves it out)" "delete it from Essex's catalog if it should stay hidden";
    EndpointNotGlobal "endpoint_not_global" [Warning] "served to some tenants only in Diablo; Essex serves every endpoint to every tenant" "check that every tenant may see the named endpoint";
    PerTenantEndpoint "per_tenant_endpoint" [Warning] "per-tenant endpoint attachments have no Essex equivalent" "check that every tenant may see the named endpoints";
    SecondEndpointForType "second_endpoint_for_type" [Warning] "the templates file holds one endpoint per region and type: this one is only in the SQL catalog" "keep the one you want in default_catalog.templates";
    NotInTemplatesFile "not_in_templates_file" [Warning] "an endpoint left out of the templates file (the message says why)" "add it to default_catalog.templates by hand if Essex should serve it";
    // Nova's own auth into Keystone
    AdminGranted "admin_granted" [Info] "a Diablo administrator gets the admin role on the global-roles tenant" NOTHING;
    AdminNotMember "admin_not_member" [Warning] "a Diablo administrator signed requests for projects it is no member of; Essex credentials name one tenant" "give the administrator EC2 credentials for each project it works in";
    AdminRole "admin_role" [Info] "the role Essex services check for administrators" NOTHING;
    Ec2AlreadyPresent "ec2_already_present" [Info] "Keystone already holds this credential for the same user and secret" NOTHING;
    Ec2OnlyUser "ec2_only_user" [Info] "the user has no password (Nova's auth had none) and signs EC2 requests as in Diablo" "give it a password if it should use the OpenStack API";
    Ec2NoSecret "ec2_no_secret" [Warning] "an access key without a secret key: no request could be signed; no EC2 credential made" "give the named user new EC2 credentials if it needs them";
    Ec2AccessKeyColon "ec2_access_key_colon" [Warning] "the access key holds a `:`, where Diablo split the access string: it never matched; not carried" "give the named user new EC2 credentials";
    Ec2AccessKeyShared "ec2_access_key_shared" [Warning] "several users share an access key: the user Diablo authenticated keeps it" "give the other named users new EC2 credentials";
    Ec2NoProject "ec2_no_project" [Warning] "the user belongs to no project, so its key worked for none: no EC2 credential made" "add the user to a tenant and give it EC2 credentials if it needs them";
    Ec2AccessTooLong "ec2_access_too_long" [Warning] "the access string is longer than Essex's 64 characters: not carried" "give the named user a new key for this project";
    GrantAddedToExisting "grant_added_to_existing" [Info] "the user already had roles on this tenant: Nova's are added" NOTHING;
    NoCredentials "no_credentials" [Warning] "neither an EC2 access key nor a password: the user cannot authenticate" "give the named user a password or EC2 credentials";
    NoNovaUsers "no_nova_users" [Info] "the Nova database holds no users of its own: nothing to import" NOTHING;
    PasswordNotApplied "password_not_applied" [Warning] "the user already exists in Keystone and keeps its password: the password file's entry is not used" "set the password in Keystone yourself if it should change";
    PasswordSet "password_set" [Info] "the password comes from the password file" NOTHING;
    ProjectManager "project_manager" [Info] "Essex has no project manager: not carried" NOTHING;
    ProjectName "project_name" [Info] "the tenant keeps the project's id and takes its name" NOTHING;
    ProjectRoleAlone "project_role_alone" [Info] "a project role Diablo did not honour (no matching global role)" NOTHING;
    RoleCreated "role_created" [Info] "Keystone had no role of this name: created" NOTHING;
    RoleExists "role_exists" [Info] "the Keystone role of this name is used" NOTHING;
    RoleWithoutMembership "role_without_membership" [Warning] "a project role of a user who is not a member of the project: not carried" "add the user to the project in Essex if it should hold the role";
    UpstreamAccessForm "upstream_access_form" [Info] "EC2 access strings as Diablo's clients send them" NOTHING;
    UserNameColumn "user_name_column" [Info] "Diablo named users by their id: the Keystone user is named by the id" NOTHING;
    Deleted "deleted" [Info] "a row deleted in Diablo: not carried" NOTHING;
    TenantExists "tenant_exists" [Info] "a tenant of this id or name is already in Keystone: used as it is" NOTHING;
    UserMerged "user_merged" [Info, Warning] "the user is already in Keystone: Nova's roles and keys are added to it" "check that the two are the same person";
    // every database migration
    NotAnInteger "not_an_integer" [Warning] "text or a fraction in an integer column (SQLite stores what it is given): no Essex backend can hold it, so it is carried as NULL" "put the right number into the named row and column of the Essex database (the message quotes the Diablo text)";
    NotADatetime "not_a_datetime" [Warning] "text or a number in a datetime column that is no date and time (SQLite stores what it is given): Essex could not read the row, so it is carried as NULL" "put the right date and time into the named row and column of the Essex database (the message quotes the Diablo text)";
    ZeroDate "zero_date" [Info] "MySQL's zero date `0000-00-00 00:00:00` names no point in time: carried as NULL (what SQLAlchemy read it as)" NOTHING;
    // Glance
    UpdatedAtFilled "updated_at_filled" [Info] "updated_at was NULL; set to created_at (Essex 010)" NOTHING;
    MinDiskNull "min_disk_null" [Info] "min_disk was NULL; set to 0 (upstream's 011 fails on it)" NOTHING;
    MinRamNull "min_ram_null" [Info] "min_ram was NULL; set to 0 (upstream's 011 fails on it)" NOTHING;
    ImageReferenceRewritten "image_reference_rewritten" [Info] "kernel_id/ramdisk_id rewritten to the new UUID (as 2012.1.1 does)" NOTHING;
    ImageReferenceUnknown "image_reference_unknown" [Warning] "a kernel_id/ramdisk_id value names no image; kept as it is" "give the named images an existing kernel or ramdisk after the upgrade";
    ImageReferenceDeleted "image_reference_deleted" [Warning] "a kernel_id/ramdisk_id property points at a deleted image" "point the named image at a live kernel or ramdisk";
    LocationNamesOldId "location_names_old_id" [Info] "the location names the old integer id; Essex reads through `location`, so the image stays reachable" NOTHING;
    LocationNoScheme "location_no_scheme" [Warning] "the location has no store scheme: Essex cannot read the image data" "correct the named image's location (file://…, swift://…)";
    LocationUnknownStore "location_unknown_store" [Warning] "the location names a store Essex does not know" "move the named image's data to a store Essex has";
    StampWithoutMigration "stamp_without_migration" [Info] "Glance was stamped by Essex but never migrated: recognised by its tables" NOTHING;
    // Nova
    Settings "settings" [Info] "the values the data migrations used, and where each came from" "check them; give --set KEY=VALUE or --nova-conf to change one";
    FlagfileStopped "flagfile_stopped" [Warning] "Diablo stopped reading nova.conf at an indented comment; later lines never took effect" "remove the indentation if the later lines were meant, or delete them";
    ColumnTransformed "column_transformed" [Info] "a column gone in Essex whose values became another column's (the message says how)" NOTHING;
    ColumnDropped "column_dropped" [Info] "a column gone in Essex: its non-NULL values are not carried" NOTHING;
    TableDropped "table_dropped" [Info] "a Diablo table Essex no longer has: its rows are counted, not carried" NOTHING;
    SchemaCompleted "schema_completed" [Info] "a half-made schema from an interrupted run was completed" NOTHING;
    ImageRefRewritten "image_ref_rewritten" [Info] "an instance's image reference rewritten to the image's new UUID" NOTHING;
    ImageRefNotInMap "image_ref_not_in_map" [Warning] "the referenced image is not in the Glance map; the reference is kept" "after the upgrade, rebuild the named instances from an existing image, or register the image";
    ImageRefUnknown "image_ref_unknown" [Warning] "not an image id, href or UUID; kept as it was" "correct the named instances' image reference";
    ImageMapDuplicate "image_map_duplicate" [Warning] "the map names the same old id more than once; the first UUID is kept" "check the map file (`osmigrate glance map`)";
    ImageNotPlaced "image_not_placed" [Warning] "the image's location carries no old integer id: references to it cannot be rewritten" "rewrite the named references by hand after the upgrade";
    MapRebuiltFromLocations "map_rebuilt_from_locations" [Info] "Glance was migrated by upstream: the map is rebuilt from image locations" NOTHING;
    NetworkInfoIncomplete "network_info_incomplete" [Warning] "no IPv6 address could be computed; the cache holds no vifs" "set ipv6_backend, or let nova-compute rebuild the cache";
    VifWithoutNetwork "vif_without_network" [Warning] "a virtual interface whose network row does not exist (network_id NULL or naming no row): the cache holds the vif with `network: null`, without its fixed and floating addresses" "fix the vif's network_id, then let nova-compute rebuild the instance's cache";
    BdmConnectionInfoRebuilt "bdm_connection_info_rebuilt" [Info] "connection_info of an attached volume built as Essex's volume driver stores it" NOTHING;
    BdmWithoutConnectionInfo "bdm_without_connection_info" [Warning] "an attached volume for which Essex cannot build connection_info (the row says why and how)" "run the UPDATE the row gives, or detach the volume under Diablo before the final migration";
    // config files
    Renamed "renamed" [Info, Warning] "an option renamed in Essex, carried under its new name" "read the warning's message: the new option's meaning differs";
    Removed "removed" [Info, Warning] "an option Essex no longer has: commented out (warning when it had an effect)" "check that the named behaviour is not needed, or configure its Essex replacement";
    NotCarried "not_carried" [Info, Warning] "a setting, section or paste filter that is not carried into the Essex file (the message says why)" "add it to the Essex file by hand if Essex has an equivalent";
    UnparsableLine "unparsable_line" [Warning] "a line of a Diablo config or paste file that Python's ConfigParser refuses, so the Diablo service could not start with this file; the line is not carried" "put the line under its section (a key at the top of keystone.conf under a `[DEFAULT]` header) or delete it, and run again";
    DefaultMadeExplicit "default_made_explicit" [Info] "Diablo's default written out, because Essex's default differs" NOTHING;
    DefaultChanged "default_changed" [Info, Warning] "not set in Diablo: Essex's new default applies (the message says what changes)" "set the option to keep Diablo's behaviour";
    KeptFromEssex "kept_from_essex" [Info] "not set in Diablo: the shipped Essex value is kept" NOTHING;
    ValueRewritten "value_rewritten" [Info] "a value rewritten to mean in Essex what it meant in Diablo" NOTHING;
    SqlConnection "sql_connection" [Info, Warning] "the database URL of the Essex config (warning: still the Diablo database)" "give --sql-connection with the new database";
    AfterStop "after_stop" [Warning] "set after the line where Diablo stopped reading nova.conf: it never took effect, and is left out" "move the setting above the stop if it is meant (or give --carry-after-stop)";
    CarriedAfterStop "carried_after_stop" [Warning] "set after the line where Diablo stopped reading nova.conf: carried anyway (--carry-after-stop)" "check that the setting is meant";
    Superseded "superseded" [Info] "set again later: Diablo kept the last value" NOTHING;
    Carried "carried" [Info] "carried as written" NOTHING;
    UnknownOption "unknown_option" [Info] "neither release's nova defines this option (a plug-in's?); carried as written" "check that the plug-in exists for Essex";
    NotADiabloOption "not_a_diablo_option" [Warning] "Diablo had no such option, so the line never took effect; Essex would apply it" "delete the line if it should stay without effect";
    IndentedInclude "indented_include" [Warning] "an indented --flagfile= was no include for Diablo: the file never took effect" "remove the indentation if the file is meant";
    ValueFromNextLine "value_from_next_line" [Warning] "`--name` without `=` in a flagfile: Diablo's gflags took the next line as the value (often another option, which then set nothing)" "write `--name=VALUE` on one line, and check the option of the next line";
    LeadingSpaceLost "leading_space_lost" [Warning] "the value starts with a blank that Essex strips" "check the value";
    ListRejoined "list_rejoined" [Info] "list items re-joined without blanks" NOTHING;
    QuotedValue "quoted_value" [Warning] "the quotes are part of the value (gflags kept them; so does Essex)" "remove the quotes if they were meant as quoting";
    ApiNames "api_names" [Info] "Diablo's API names in Essex's names" NOTHING;
    AuthStrategy "auth_strategy" [Info, Warning] "auth_strategy derived from the Diablo API pipelines" "check the auth_strategy written";
    AuthStrategyUnknown "auth_strategy_unknown" [Warning] "no Diablo api-paste file, or no pipeline with an auth filter: auth_strategy not set" "give --paste with the Diablo api-paste.ini, or set auth_strategy";
    ImageId "image_id" [Info] "an image id in a setting rewritten through the Glance map" NOTHING;
    ImageIdNotRewritten "image_id_not_rewritten" [Warning] "an old integer image id in a setting, and no map given" "give --image-map";
    ImageIdUnknown "image_id_unknown" [Warning] "not an image id or href the map can rewrite; carried as written" "correct the setting";
    ImageNotInMap "image_not_in_map" [Warning] "an image id in a setting that the map lacks; carried as written" "correct the setting to an existing image";
    SchedulerChanged "scheduler_changed" [Warning] "Diablo's default scheduler was ChanceScheduler; Essex's is FilterScheduler, which places instances differently" "set scheduler_driver = nova.scheduler.chance.ChanceScheduler to keep Diablo's placement, or check the filters";
    GlanceWithoutKeystone "glance_without_keystone" [Warning] "the cloud authenticates with Keystone but glance-api's pipeline has none: Nova passes its users' tokens to a Glance that does not take them, and Nova's image API answers 500 (as on Diablo)" "set `[paste_deploy] flavor = keystone` in glance-api.conf and the [filter:authtoken] settings in glance-api-paste.ini";
    NotInterpolated "not_interpolated" [Warning] "a value with `%(…)s` Essex would not interpolate; carried as written" "check the value";
    PercentEscaped "percent_escaped" [Info] "a `%` doubled so that Paste Deploy reads it as written" NOTHING;
    PercentInDefault "percent_in_default" [Warning] "keystone.conf's [DEFAULT] is also read by Paste Deploy, which may choke on `%`" "avoid `%` in [DEFAULT] values";
    AdminToken "admin_token" [Info, Warning] "where Essex keystone's admin_token comes from (never its value)" "read the message: the file that holds the token, or the services to give it";
    AdminTokenNotCarried "admin_token_not_carried" [Info] "Diablo's admin_token is not carried (a sample value, or one no pipeline ran)" NOTHING;
    AdminTokenSample "admin_token_sample" [Warning] "the admin_token is a published sample value: replaced by a random one (STATE/admin-token)" "give the services that used the sample the new token";
    AdminRoleChecked "admin_role_checked" [Info] "glance's admin role is a role of the migrated Keystone" NOTHING;
    AdminRoleMissing "admin_role_missing" [Warning] "glance's admin role is no role of the migrated Keystone: nobody is a glance admin" "create the role in Keystone (`osmigrate keystone role-create`)";
    AdminRoleUnchecked "admin_role_unchecked" [Warning] "glance's admin role not checked against the migrated Keystone" "give --keystone-db";
    AdminRoleCase "admin_role_case" [Warning] "glance's admin role matches a Keystone role only without case" "use the role's exact name";
    AuthPort "auth_port" [Warning] "glance's auth_port is not Diablo Keystone's admin port" "make the named auth_port Keystone's admin port (35357 in Essex)";
    BindHost "bind_host" [Warning] "Diablo bound the public and admin APIs to different addresses; Essex binds both to one" "check bind_host";
    CatalogMissing "catalog_missing" [Warning] "no default_catalog.templates yet" "write it with `db migrate keystone --catalog-out`";
    CatalogEntry "catalog_entry" [Info] "an endpoint written into the catalog templates file" NOTHING;
    CatalogHostUnknown "catalog_host_unknown" [Warning] "nova.conf does not say which address a catalog host is" "set my_ip (or the named host) in nova.conf, or correct the catalog after the migration";
    Consumed "consumed" [Info] "a Diablo setting expressed otherwise in Essex (its pipeline)" NOTHING;
    IgnoredByEssex "ignored_by_essex" [Info] "a setting Essex ignores" NOTHING;
    NewKeystone "new_keystone" [Info] "the cloud had no Keystone: keystone.conf rendered from the shipped Essex file" NOTHING;
    Pipeline "pipeline" [Info, Warning] "a paste pipeline carried as an Essex pipeline or flavor" "add any filter named in the message by hand";
    Placeholder "placeholder" [Info] "a shipped placeholder commented out" NOTHING;
    PolicyAdded "policy_added" [Info] "Essex refuses to start without a policy file: the shipped one is added" NOTHING;
    RelativePath "relative_path" [Warning] "a relative path Essex opens in its working directory" "make the path absolute";
    Skipped "skipped" [Info] "a file left alone by fix-ownership" NOTHING;
    OwnerNotSet "owner_not_set" [Warning] "a file stays root's (no such service user, or not running as root)" "add the service user (install the Essex packages) and run as root, or chown the named file";
    OwnerRepaired "owner_repaired" [Info] "a root-owned file given back to its service user" NOTHING;
    NoServiceUser "no_service_user" [Warning] "no such service user: the file stays owned by root" "install the Essex packages (they add the user), then run `osmigrate config fix-ownership`";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_snake_case_with_meaning_and_fix() {
        let mut seen = std::collections::HashSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()), "{} twice", r.code());
            assert!(r.code().chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{}", r.code());
            assert!(!r.meaning().is_empty() && !r.fix().is_empty(), "{}", r.code());
            assert_eq!(Reason::from_code(r.code()), Some(*r));
            assert_eq!(serde_json::to_string(r).unwrap(), format!("\"{}\"", r.code()));
        }
    }

    /// docs/reasons.md is rendered from the enum; `UPDATE_REASONS=1` rewrites it.
    #[test]
    fn reference_table_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reasons.md");
        let want = Reason::reference_table();
        if std::env::var_os("UPDATE_REASONS").is_some() {
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(have == want, "docs/reasons.md is out of date: run `UPDATE_REASONS=1 cargo test --lib reason`");
    }
}
