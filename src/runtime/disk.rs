//! Files that outlive the process: autotune results and wgpu's pipeline cache, under
//! `<root>/<adapter>/`, one file each, in a checked container (see `docs/CACHE_KEYS.md`):
//!
//! ```text
//! magic "KILNC001" | u32 len, name | u32 len, identity | u64 len, payload | u64 checksum
//! ```
//!
//! `identity` names the kiln version and the adapter (backend, vendor, device, driver); the
//! checksum is FNV-1a 64 over name, identity and payload. A file that is missing is rebuilt;
//! one that is truncated, corrupted, or written for another adapter or kiln version is
//! removed when found, with a warning, and rebuilt. Only regular files owned by the user are
//! opened (never a FIFO or device, which could block or feed wgpu's pipeline cache untrusted
//! bytes); the directories are created private (0700 on unix) and the files 0600. Writes go to a temporary file in the same directory, then a rename, so
//! a reader never sees half a file and two processes writing at once leave one whole file.

use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"KILNC001";

/// The platform's cache directory for kiln: `$XDG_CACHE_HOME/kiln` or `~/.cache/kiln` on
/// Linux and BSDs, `~/Library/Caches/kiln` on macOS, `%LOCALAPPDATA%\kiln` on Windows.
pub fn default_root() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if cfg!(target_os = "windows") {
        return env("LOCALAPPDATA").map(|p| p.join("kiln"));
    }
    if cfg!(target_os = "macos") {
        return env("HOME").map(|p| p.join("Library/Caches/kiln"));
    }
    env("XDG_CACHE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".cache")))
        .map(|p| p.join("kiln"))
}

/// FNV-1a, 64 bits.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Reads the container's fields, failing on truncation.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let s = self.b.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(s)
    }

    /// A little-endian unsigned integer of `width` bytes (4 or 8).
    fn uint(&mut self, width: usize) -> Result<u64, String> {
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(self.take(width)?);
        Ok(u64::from_le_bytes(v))
    }

    /// A length of `width` bytes, then that many bytes.
    fn field(&mut self, width: usize) -> Result<&'a [u8], String> {
        let n = usize::try_from(self.uint(width)?).map_err(|_| "length overflow")?;
        self.take(n)
    }
}

/// One adapter's cache directory.
#[derive(Clone, Debug)]
pub struct CacheDir {
    dir: PathBuf,
    identity: String,
    /// The uid that owns files this process creates (unix), found once by creating a file.
    #[cfg_attr(not(unix), allow(dead_code))]
    owner: std::sync::Arc<std::sync::OnceLock<Option<u32>>>,
}

/// Creates `dir` and its missing parents private to the user (0700 on unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Options that create a new file private to the user (0600 on unix).
fn private_file() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// Removes a file, logging (not returning) a failure: for clean-up paths.
fn remove_logged(path: &Path, why: &str) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => log::warn!("kiln: cannot remove {} ({why}): {e}", path.display()),
    }
}

impl CacheDir {
    /// The directory for `info` under `root`.
    pub fn for_adapter(root: &Path, info: &wgpu::AdapterInfo) -> CacheDir {
        let sub =
            format!("{:?}-{:04x}-{:04x}", info.backend, info.vendor, info.device).to_lowercase();
        CacheDir {
            dir: root.join(sub),
            identity: format!(
                "kiln {}; {:?} {:04x}:{:04x} {}; driver {} {}",
                env!("CARGO_PKG_VERSION"),
                info.backend,
                info.vendor,
                info.device,
                info.name,
                info.driver,
                info.driver_info
            ),
            owner: Default::default(),
        }
    }

    /// Where the files live.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The uid of files this process creates here: the directory is created (private) if
    /// missing and a probe file made and removed. `None` where that fails; then no file here
    /// is trusted.
    #[cfg(unix)]
    fn owner(&self) -> Option<u32> {
        *self.owner.get_or_init(|| {
            use std::os::unix::fs::MetadataExt;
            let probe = self
                .dir
                .join(format!(".owner.{}.probe", std::process::id()));
            let made = create_private_dir(&self.dir)
                .and_then(|()| {
                    remove_logged(&probe, "a stale probe");
                    private_file().open(&probe)
                })
                .and_then(|f| f.metadata());
            remove_logged(&probe, "the owner probe");
            match made {
                Ok(m) => Some(m.uid()),
                Err(e) => {
                    log::warn!(
                        "kiln: cannot use the cache directory {}: {e}; its files are ignored",
                        self.dir.display()
                    );
                    None
                }
            }
        })
    }

    /// Opens file `name` for reading if it is a regular file (not a FIFO, device, directory
    /// or symlink) owned by this process' user; `Ok(None)` if it is missing. Checked before
    /// opening (`symlink_metadata`) and again on the open file (`fstat`, the same inode), so
    /// opening never blocks on a FIFO planted there. The directory is private (0700), so only
    /// the user could swap the file between the two checks.
    fn open_trusted(&self, path: &Path) -> Result<Option<std::fs::File>, String> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot inspect it: {e}")),
        };
        if !meta.file_type().is_file() {
            return Err(format!(
                "not a regular file ({:?}); it is not opened",
                meta.file_type()
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match self.owner() {
                Some(uid) if uid == meta.uid() => {}
                Some(uid) => {
                    return Err(format!(
                        "owned by uid {}, not by this user (uid {uid}); not trusted",
                        meta.uid()
                    ))
                }
                None => return Err("the directory's owner is unknown; not trusted".into()),
            }
        }
        let f = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
        let opened = f
            .metadata()
            .map_err(|e| format!("cannot inspect it: {e}"))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
                return Err("it was replaced while being opened".into());
            }
        }
        if !opened.file_type().is_file() {
            return Err("not a regular file once opened".into());
        }
        Ok(Some(f))
    }

    /// The payload of file `name`, or `None` (with a warning unless it is simply missing).
    /// A regular file of ours that is damaged or stale (truncated, corrupted, another
    /// adapter's or kiln version's) is removed at once, so that it does not warn at every
    /// start until something is stored; a file that is not ours or not regular is left
    /// alone and ignored.
    pub fn load(&self, name: &str) -> Option<Vec<u8>> {
        use std::io::Read;
        let path = self.dir.join(name);
        let mut f = match self.open_trusted(&path) {
            Ok(Some(f)) => f,
            Ok(None) => return None,
            Err(why) => {
                log::warn!("kiln: ignoring cache file {}: {why}", path.display());
                return None;
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = f.read_to_end(&mut bytes) {
            log::warn!(
                "kiln: cannot read cache file {}: {e}; rebuilding it",
                path.display()
            );
            return None;
        }
        match self.decode(name, &bytes) {
            Ok(p) => Some(p),
            Err(why) => {
                log::warn!(
                    "kiln: removing cache file {}: {why}; it will be rebuilt",
                    path.display()
                );
                remove_logged(&path, "a damaged cache file");
                None
            }
        }
    }

    fn decode(&self, name: &str, b: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = Reader { b, at: 0 };
        if r.take(8)? != MAGIC {
            return Err("not a kiln cache file".into());
        }
        let fname = r.field(4)?;
        let ident = r.field(4)?;
        let payload = r.field(8)?;
        let sum = r.uint(8)?;
        let at = r.at;
        if at != b.len() {
            return Err("trailing bytes".into());
        }
        if sum != fnv1a(&[fname, ident, payload]) {
            return Err("checksum mismatch (corrupted)".into());
        }
        if fname != name.as_bytes() {
            return Err(format!("holds {:?}", String::from_utf8_lossy(fname)));
        }
        if ident != self.identity.as_bytes() {
            return Err(format!(
                "written for {:?}, not {:?}",
                String::from_utf8_lossy(ident),
                self.identity
            ));
        }
        Ok(payload.to_vec())
    }

    fn encode(&self, name: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 64 + self.identity.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(self.identity.len() as u32).to_le_bytes());
        out.extend_from_slice(self.identity.as_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(payload);
        let sum = fnv1a(&[name.as_bytes(), self.identity.as_bytes(), payload]);
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    /// Replaces file `name` with `payload`: written to a temporary file beside it, synced,
    /// then renamed over it.
    pub fn store(&self, name: &str, payload: &[u8]) -> std::io::Result<()> {
        create_private_dir(&self.dir)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let tmp = self.dir.join(format!(
            ".{name}.{}.{nanos}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ));
        let result = (|| {
            {
                // Closed before the rename.
                let mut f = private_file().open(&tmp)?;
                f.write_all(&self.encode(name, payload))?;
                f.sync_all()?;
            }
            std::fs::rename(&tmp, self.dir.join(name))
        })();
        if result.is_err() {
            remove_logged(&tmp, "a failed write's temporary file");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(root: &Path, identity: &str) -> CacheDir {
        CacheDir {
            dir: root.join("adapter"),
            identity: identity.into(),
            owner: Default::default(),
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let root = std::env::temp_dir().join(format!("kiln-disk-test-{}", std::process::id()));
        let c = dir(&root, "kiln 0; adapter 1");
        assert_eq!(c.load("x"), None);
        c.store("x", b"hello").unwrap();
        assert_eq!(c.load("x").as_deref(), Some(&b"hello"[..]));
        let path = c.path().join("x");
        let good = std::fs::read(&path).unwrap();
        // Truncated at every length, one flipped bit anywhere, trailing garbage.
        for n in 0..good.len() {
            std::fs::write(&path, &good[..n]).unwrap();
            assert_eq!(c.load("x"), None, "truncated to {n}");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            std::fs::write(&path, &bad).unwrap();
            assert_eq!(c.load("x"), None, "bit flipped in byte {i}");
        }
        std::fs::write(&path, [good.clone(), vec![0]].concat()).unwrap();
        assert_eq!(c.load("x"), None);
        // Another adapter's file (copied over), and a file stored under another name.
        std::fs::write(&path, &good).unwrap();
        let other = dir(&root, "kiln 0; adapter 2");
        assert_eq!(other.load("x"), None);
        std::fs::write(&path, &good).unwrap();
        std::fs::copy(&path, c.path().join("y")).unwrap();
        assert_eq!(c.load("y"), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A damaged file is removed when found, not left to warn at every start.
    #[test]
    fn damaged_files_are_removed_when_found() {
        let root = std::env::temp_dir().join(format!("kiln-disk-damaged-{}", std::process::id()));
        let c = dir(&root, "kiln 0; adapter 1");
        c.store("x", b"hello").unwrap();
        let path = c.path().join("x");
        std::fs::write(&path, b"garbage").unwrap();
        assert_eq!(c.load("x"), None);
        assert!(!path.exists(), "the damaged file is still there");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// The directories are created 0700 and the files 0600; a FIFO named like a cache file
    /// is refused without blocking; a file of another owner is ignored (checked where the
    /// test runs as root and can give a file away).
    #[cfg(unix)]
    #[test]
    fn private_regular_own_files_only() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = std::env::temp_dir().join(format!("kiln-disk-private-{}", std::process::id()));
        let c = dir(&root, "kiln 0; adapter 1");
        c.store("x", b"hello").unwrap();
        for d in [&root, &c.path().to_path_buf()] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{} is {mode:o}", d.display());
        }
        let mode = std::fs::metadata(c.path().join("x"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "the file is {mode:o}");

        let fifo = c.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if made.is_ok_and(|s| s.success()) {
            let c2 = c.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(c2.load("fifo")).unwrap());
            let got = rx.recv_timeout(std::time::Duration::from_secs(20));
            assert_eq!(got, Ok(None), "loading a FIFO blocked or returned data");
            assert!(fifo.exists(), "a FIFO is not ours to remove");
        } else {
            eprintln!("mkfifo unavailable: FIFO case skipped");
        }

        // A symlink to a good file is not followed.
        let good = c.path().join("x");
        std::os::unix::fs::symlink(&good, c.path().join("link")).unwrap();
        std::fs::copy(&good, c.path().join("link-target-copy")).unwrap();
        assert_eq!(c.load("link"), None);

        let mine = std::fs::metadata(&good).unwrap().uid();
        if std::os::unix::fs::chown(&good, Some(mine.wrapping_add(4242)), None).is_ok() {
            assert_eq!(c.load("x"), None, "a file of another owner was trusted");
            assert!(good.exists(), "another owner's file is not ours to remove");
        } else {
            eprintln!("cannot give a file away (not root): foreign-owner case skipped");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}
