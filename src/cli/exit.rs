//! The exit status of every command: one meaning per code (the README's table).

use osmigrate::reason::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done, or nothing to report.
    Clean,
    /// Done, with warnings to read.
    Warnings,
    /// Blocked, refused, a mismatch, not found, declined, or an error the message names.
    Refused,
    /// Bad usage (arguments, a URL that does not parse).
    Usage,
    /// A bug in osmigrate.
    Internal,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Warnings => 1,
            ExitStatus::Refused => 2,
            ExitStatus::Usage => 64,
            ExitStatus::Internal => 70,
        }
    }

    /// The status of a command that reported findings, the worst of which is `worst`.
    pub fn of_worst(worst: Option<Severity>) -> ExitStatus {
        match worst {
            Some(Severity::Blocker) => ExitStatus::Refused,
            Some(Severity::Warning) => ExitStatus::Warnings,
            Some(Severity::Info) | None => ExitStatus::Clean,
        }
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code())
    }
}
