//! One error type for the whole engine. `kind` becomes the JS error's `code`, so callers can tell
//! a wrong key from a corrupted node from a foreign file format without parsing messages.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Not an SGX protected file at all (size, magic).
    NotPf,
    /// A stock Intel SGX SDK protected file (94-byte header), not Occlum's fork.
    StockIntel,
    /// A Gramine protected/encrypted file.
    Gramine,
    /// SGX_FILE with an unsupported major version.
    BadVersion,
    /// Authentication of the metadata node failed under the given key.
    WrongKey,
    /// The file's header says another key mode than the one requested.
    WrongMode,
    /// A node (or the metadata) failed its MAC check / is inconsistent.
    Corrupt,
    /// A PF is intact but its MAC differs from what its parent (inode record, root MAC) expects.
    MacMismatch,
    /// The PF's stored file name differs from its host file name (renamed or swapped file).
    NameMismatch,
    /// update_flag is set and no usable recovery journal exists.
    RecoveryNeeded,
    /// A file the structure refers to does not exist.
    Missing,
    /// Malformed SEFS structure (directory, inode record, superblock).
    Format,
    /// Bad argument from the caller.
    Usage,
    /// Cannot be represented in an image (pack) or not supported.
    Unsupported,
    Io,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::NotPf => "ENOTPF",
            Kind::StockIntel => "ESTOCKINTEL",
            Kind::Gramine => "EGRAMINE",
            Kind::BadVersion => "EPFVERSION",
            Kind::WrongKey => "EWRONGKEY",
            Kind::WrongMode => "EWRONGMODE",
            Kind::Corrupt => "ECORRUPT",
            Kind::MacMismatch => "EMACMISMATCH",
            Kind::NameMismatch => "ENAMEMISMATCH",
            Kind::RecoveryNeeded => "ERECOVERY",
            Kind::Missing => "EMISSING",
            Kind::Format => "EFORMAT",
            Kind::Usage => "EUSAGE",
            Kind::Unsupported => "EUNSUPPORTED",
            Kind::Io => "EIO",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: Kind,
    pub msg: String,
    /// Physical PF node number, when a node broke.
    pub node: Option<u64>,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: Kind, msg: impl Into<String>) -> Error {
        Error {
            kind,
            msg: msg.into(),
            node: None,
        }
    }
    pub fn node(kind: Kind, node: u64, msg: impl Into<String>) -> Error {
        Error {
            kind,
            msg: msg.into(),
            node: Some(node),
        }
    }
    /// Prefix the message with where it happened (a path).
    pub fn at(mut self, what: &str) -> Error {
        self.msg = format!("{}: {}", what, self.msg);
        self
    }
    pub fn io(e: std::io::Error, what: &str) -> Error {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            Kind::Missing
        } else {
            Kind::Io
        };
        Error::new(kind, format!("{}: {}", what, e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

pub fn err<T>(kind: Kind, msg: impl Into<String>) -> Result<T> {
    Err(Error::new(kind, msg))
}
