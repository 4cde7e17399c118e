//! Files that outlive the process: autotune results and wgpu's pipeline cache, under
//! `<root>/<adapter>/`, one file each, in a checked container (see `docs/CACHE_KEYS.md`):
//!
//! ```text
//! magic "KILNC001" | u32 len, name | u32 len, identity | u64 len, payload | u64 checksum
//! ```
//!
//! `identity` names the kiln version and the adapter (backend, vendor, device, driver); the
//! checksum is FNV-1a 64 over name, identity and payload. A file that is missing, truncated,
//! corrupted, or written for another adapter or kiln version is ignored with a warning (the
//! caller rebuilds it). Writes go to a temporary file in the same directory, then a rename, so
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
        }
    }

    /// Where the files live.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The payload of file `name`, or `None` (with a warning unless it is simply missing).
    pub fn load(&self, name: &str) -> Option<Vec<u8>> {
        let path = self.dir.join(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => {
                log::warn!(
                    "kiln: cannot read cache file {}: {e}; rebuilding it",
                    path.display()
                );
                return None;
            }
        };
        match self.decode(name, &bytes) {
            Ok(p) => Some(p),
            Err(why) => {
                log::warn!(
                    "kiln: ignoring cache file {}: {why}; rebuilding it",
                    path.display()
                );
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
        std::fs::create_dir_all(&self.dir)?;
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
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&self.encode(name, payload))?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, self.dir.join(name))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
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
        std::fs::copy(&path, c.path().join("y")).unwrap();
        assert_eq!(c.load("y"), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
