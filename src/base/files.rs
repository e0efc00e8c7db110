//! Writing results so that a file is either the old one or the whole new one, never half of
//! either: a full disk, a kill or a crash mid-write leaves what was there before.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary name `path` is written under before it is renamed into place: in the same
/// folder (a rename across file systems is not atomic), hidden, and unique to this process.
fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file, synced, then renamed over `path`. On any
/// error the temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |out| out.write_all(bytes))
}

/// `write_atomic` for content that `fill` streams out (buffered), so that large results are
/// never held twice in memory.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let temporary = temporary_beside(path);
    let written = (|| {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        fill(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

/// The bytes of `path`, at most `limit` of them: a larger file is refused before it is read,
/// and one that grows while it is read is cut at the limit and refused.
pub fn read_limited(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let too_large = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    if size > limit {
        return Err(too_large(format!(
            "{size} bytes, over the {limit}-byte limit for this file"
        )));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(format!(
            "grew past the {limit}-byte limit while it was read"
        )));
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_to_string_limited(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_limited(path, limit)?)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("rtcbench-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp folder");
        dir
    }

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = folder("replace");
        let path = dir.join("run.json");
        write_atomic(&path, b"old").expect("first");
        write_atomic(&path, b"new and longer").expect("second");
        assert_eq!(std::fs::read(&path).expect("read"), b"new and longer");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["run.json"]);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = folder("fail");
        let path = dir.join("run.json");
        write_atomic(&path, b"old").expect("first");
        // The temporary name taken by a folder: creating the file fails as a full disk would.
        std::fs::create_dir(temporary_beside(&path)).expect("block the temporary");
        assert!(write_atomic(&path, b"new").is_err());
        assert_eq!(std::fs::read(&path).expect("read"), b"old");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = folder("limit");
        let path = dir.join("big.json");
        std::fs::write(&path, vec![b'x'; 2000]).expect("write");
        let e = read_to_string_limited(&path, 1000).expect_err("too big");
        assert!(
            e.to_string()
                .contains("2000 bytes, over the 1000-byte limit"),
            "{e}"
        );
        assert_eq!(
            read_to_string_limited(&path, 2000).expect("fits").len(),
            2000
        );
    }
}
