//! A process as something recorded it: its threads and registers, its mappings, its memory.
//!
//! Everything above this crate reads a process through the [`Dump`] trait, so the same code
//! runs on a core file ([`CoreDump`]: the core's segments layered over the files the process had
//! mapped), on a stopped live process ([`LiveProcess`]: memory read from `/proc/PID/mem`,
//! registers given by the debugger that stopped it), and on a hand-built image in unit tests.

use crate::core::{CoreFile, MappedFile, ProcessInfo, Segment, SigInfo, ThreadInfo, Truncation};
use crate::memory::{read_in_runs, Address, MemError, Memory};
use crate::space::{AddressSpace, Backing};
use crate::unpack::Compression;
use std::sync::Arc;

/// A recorded (or stopped) process. See the module docs.
pub trait Dump: Send + Sync {
    /// What it is, for messages: the core file's path, or `live process PID`.
    fn name(&self) -> String;
    /// The core file, when the dump is one.
    fn core_file(&self) -> Option<&CoreFile> {
        None
    }
    /// The process's memory.
    fn memory(&self) -> &(dyn Memory + Send + Sync);
    /// The mappings, sorted by address: each with its permissions and how many of its bytes
    /// the dump holds (`present`).
    fn segments(&self) -> &[Segment];
    /// Threads; the one that received the fatal signal (or the selected one) first.
    fn threads(&self) -> &[ThreadInfo];
    /// Files the process had mapped.
    fn mapped_files(&self) -> &[MappedFile];
    /// The auxiliary vector as (key, value) pairs.
    fn auxv(&self) -> &[(u64, u64)];
    /// The signal information, when recorded.
    fn siginfo(&self) -> Option<SigInfo> {
        None
    }
    /// The bits of a code pointer that hold its pointer authentication code, when recorded
    /// (arm64's NT_ARM_PAC_MASK).
    fn pointer_auth_mask(&self) -> Option<u64> {
        None
    }
    /// Process id, parent, command.
    fn process(&self) -> Option<&ProcessInfo>;
    /// What is missing from a truncated core.
    fn truncation(&self) -> Option<&Truncation> {
        None
    }
    /// The core's compression on disk.
    fn compression(&self) -> Option<Compression> {
        None
    }
    /// Bytes of the dump on disk (0 for a live process).
    fn size(&self) -> u64 {
        0
    }
    /// The parts of `addr..addr+len` that may hold anything but zeros (a core's sparse holes
    /// are left out), as (address, length).
    fn data_ranges(&self, addr: Address, len: u64) -> Vec<(Address, u64)> {
        vec![(addr, len)]
    }
    /// A hint: the bytes of `addr..addr+len` will not be read again soon.
    fn release(&self, _addr: Address, _len: u64) {}
    /// A hint: nothing read so far will be read again soon.
    fn release_all(&self) {}
    /// [`Dump::release_all`] when more than `budget` bytes of the dump are resident
    /// ([`CoreFile::release_over`]). Returns whether it let go.
    fn release_over(&self, _budget: u64) -> bool {
        false
    }

    /// The signal that ended the process: the signal information's, else the first thread's.
    fn signal(&self) -> Option<i32> {
        self.siginfo()
            .map(|s| s.signo)
            .filter(|&s| s != 0)
            .or_else(|| {
                self.threads()
                    .first()
                    .map(|t| t.signal as i32)
                    .filter(|&s| s != 0)
            })
    }
    /// One auxv entry.
    fn auxv_value(&self, key: u64) -> Option<u64> {
        self.auxv().iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
    /// The mapped file that covers `addr`.
    fn mapped_file_at(&self, addr: Address) -> Option<&MappedFile> {
        self.mapped_files()
            .iter()
            .find(|f| f.start <= addr && addr < f.end)
    }
    /// The segment holding `addr`.
    fn segment_at(&self, addr: u64) -> Option<&Segment> {
        let segs = self.segments();
        let i = segs.partition_point(|s| s.vaddr.0 <= addr).checked_sub(1)?;
        (addr < segs[i].end().0).then(|| &segs[i])
    }
}

/// A core file seen as a process: its own segments over the pages of the files it had mapped.
pub struct CoreDump {
    core: Arc<CoreFile>,
    space: AddressSpace,
}

impl CoreDump {
    /// The core and the address space built over it.
    pub fn new(space: AddressSpace) -> CoreDump {
        CoreDump {
            core: space.core().clone(),
            space,
        }
    }
    /// The address space.
    pub fn space(&self) -> &AddressSpace {
        &self.space
    }
}

impl Dump for CoreDump {
    fn name(&self) -> String {
        self.core.path().display().to_string()
    }
    fn core_file(&self) -> Option<&CoreFile> {
        Some(&self.core)
    }
    fn memory(&self) -> &(dyn Memory + Send + Sync) {
        &self.space
    }
    fn segments(&self) -> &[Segment] {
        self.core.segments()
    }
    fn threads(&self) -> &[ThreadInfo] {
        self.core.threads()
    }
    fn mapped_files(&self) -> &[MappedFile] {
        self.core.mapped_files()
    }
    fn auxv(&self) -> &[(u64, u64)] {
        self.core.auxv()
    }
    fn siginfo(&self) -> Option<SigInfo> {
        self.core.siginfo()
    }
    fn pointer_auth_mask(&self) -> Option<u64> {
        self.core.pointer_auth_mask()
    }
    fn process(&self) -> Option<&ProcessInfo> {
        self.core.process()
    }
    fn truncation(&self) -> Option<&Truncation> {
        self.core.truncation()
    }
    fn compression(&self) -> Option<Compression> {
        self.core.compression()
    }
    fn size(&self) -> u64 {
        self.core.data().len() as u64
    }
    fn data_ranges(&self, addr: Address, len: u64) -> Vec<(Address, u64)> {
        let end = addr.0.saturating_add(len);
        let regions = self.space.regions();
        let first = regions.partition_point(|r| r.end <= addr);
        let mut out = Vec::new();
        for r in regions[first..].iter().take_while(|r| r.start.0 < end) {
            let (lo, hi) = (addr.0.max(r.start.0), end.min(r.end.0));
            match r.backing {
                Backing::Core { offset } => {
                    let base = offset + (lo - r.start.0);
                    for (o, n) in self.core.data_within(base, hi - lo) {
                        out.push((Address(lo + (o - base)), n));
                    }
                }
                Backing::File { .. } => out.push((Address(lo), hi - lo)),
                Backing::Missing { .. } => {}
            }
        }
        out
    }
    fn release(&self, addr: Address, len: u64) {
        self.space.release(addr, len)
    }
    fn release_all(&self) {
        self.core.release_all()
    }
    fn release_over(&self, budget: u64) -> bool {
        self.core.release_over(budget)
    }
}

/// Bytes read from a live process at a time (and kept).
const CHUNK: u64 = 1 << 16;

/// A stopped live process: mappings, auxv and memory from `/proc/PID`, threads and registers
/// from whoever stopped it (a debugger). Memory is read in 64 KiB chunks on first use and
/// kept, so reads can be borrowed like a core's; nothing is written to disk.
pub struct LiveProcess {
    pid: u32,
    mem: ProcMemory,
    segments: Vec<Segment>,
    threads: Vec<ThreadInfo>,
    files: Vec<MappedFile>,
    auxv: Vec<(u64, u64)>,
    process: ProcessInfo,
}

impl LiveProcess {
    /// Process `pid`, stopped; `threads` in the order to report them (the selected first).
    pub fn open(pid: u32, threads: Vec<ThreadInfo>) -> crate::Result<LiveProcess> {
        let io = |what: &str, e: std::io::Error| crate::Error::Io {
            path: format!("/proc/{pid}/{what}").into(),
            source: e,
        };
        let maps =
            std::fs::read_to_string(format!("/proc/{pid}/maps")).map_err(|e| io("maps", e))?;
        let file = std::fs::File::open(format!("/proc/{pid}/mem")).map_err(|e| io("mem", e))?;
        let auxv_raw = std::fs::read(format!("/proc/{pid}/auxv")).map_err(|e| io("auxv", e))?;
        let auxv = auxv_raw
            .chunks_exact(16)
            .map(|c| {
                (
                    u64::from_le_bytes(c[..8].try_into().unwrap_or([0; 8])),
                    u64::from_le_bytes(c[8..].try_into().unwrap_or([0; 8])),
                )
            })
            .take_while(|&(k, _)| k != 0)
            .collect();
        let (mut segments, mut files) = (Vec::new(), Vec::new());
        for line in maps.lines() {
            let mut parts = line.split_whitespace();
            let (Some(range), Some(perms), Some(off)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = parts.nth(2).unwrap_or("").to_string();
            let Some((lo, hi)) = range.split_once('-') else {
                continue;
            };
            let (Ok(lo), Ok(hi), Ok(off)) = (
                u64::from_str_radix(lo, 16),
                u64::from_str_radix(hi, 16),
                u64::from_str_radix(off, 16),
            ) else {
                continue;
            };
            let b = perms.as_bytes();
            let flag = |i: usize, c: u8, f: u32| if b.get(i) == Some(&c) { f } else { 0 };
            let flags = flag(0, b'r', 4) | flag(1, b'w', 2) | flag(2, b'x', 1);
            // [vvar] and the like cannot be read through /proc/PID/mem.
            let readable = flags & 4 != 0 && !path.starts_with("[vvar") && path != "[vsyscall]";
            segments.push(Segment {
                vaddr: Address(lo),
                memsz: hi - lo,
                offset: 0,
                filesz: if readable { hi - lo } else { 0 },
                present: if readable { hi - lo } else { 0 },
                flags,
            });
            if path.starts_with('/') {
                files.push(MappedFile {
                    start: Address(lo),
                    end: Address(hi),
                    file_offset: off,
                    path,
                });
            }
        }
        segments.sort_by_key(|s| s.vaddr);
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let psargs = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let ppid = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                let after = s.rsplit_once(')')?.1.to_string();
                after.split_whitespace().nth(1)?.parse().ok()
            })
            .unwrap_or(0);
        Ok(LiveProcess {
            pid,
            mem: ProcMemory {
                file,
                regions: segments
                    .iter()
                    .filter(|s| s.present > 0)
                    .map(|s| (s.vaddr.0, s.end().0))
                    .collect(),
                chunks: Default::default(),
            },
            segments,
            threads,
            files,
            auxv,
            process: ProcessInfo {
                pid,
                ppid,
                uid: 0,
                fname: comm.trim().to_string(),
                psargs: psargs.trim().chars().take(80).collect(),
            },
        })
    }
}

impl Dump for LiveProcess {
    fn name(&self) -> String {
        format!("live process {}", self.pid)
    }
    fn memory(&self) -> &(dyn Memory + Send + Sync) {
        &self.mem
    }
    fn segments(&self) -> &[Segment] {
        &self.segments
    }
    fn threads(&self) -> &[ThreadInfo] {
        &self.threads
    }
    fn mapped_files(&self) -> &[MappedFile] {
        &self.files
    }
    fn auxv(&self) -> &[(u64, u64)] {
        &self.auxv
    }
    fn process(&self) -> Option<&ProcessInfo> {
        Some(&self.process)
    }
}

/// `/proc/PID/mem`, read a chunk at a time; chunks once read are kept (an insert-only map, so
/// borrowed slices stay valid for the life of the reader).
struct ProcMemory {
    file: std::fs::File,
    /// Readable mappings (start, end), sorted.
    regions: Vec<(u64, u64)>,
    chunks: elsa::sync::FrozenMap<u64, Box<[u8]>>,
}

impl ProcMemory {
    /// The chunk holding `addr` (read on first use), clipped to its mapping, and where it
    /// starts.
    fn chunk(&self, addr: u64) -> Result<(u64, &[u8]), MemError> {
        let i = self
            .regions
            .partition_point(|r| r.0 <= addr)
            .checked_sub(1)
            .filter(|&i| addr < self.regions[i].1)
            .ok_or(MemError::Unmapped {
                addr: Address(addr),
            })?;
        let (lo, hi) = self.regions[i];
        let start = (addr & !(CHUNK - 1)).max(lo);
        if let Some(c) = self.chunks.get(&start) {
            return Ok((start, c));
        }
        let end = ((addr & !(CHUNK - 1)) + CHUNK).min(hi);
        let mut buf = vec![0u8; (end - start) as usize];
        let mut done = 0;
        while done < buf.len() {
            match std::os::unix::fs::FileExt::read_at(
                &self.file,
                &mut buf[done..],
                start + done as u64,
            ) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(MemError::Io {
                        addr: Address(start + done as u64),
                        message: e.to_string(),
                    })
                }
            }
        }
        if done < buf.len() {
            return Err(MemError::NotInDump {
                addr: Address(start + done as u64),
                why: "the live process's memory could not be read there",
            });
        }
        Ok((start, self.chunks.insert(start, buf.into_boxed_slice())))
    }
}

impl Memory for ProcMemory {
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError> {
        read_in_runs(addr, buf, |a| {
            let (start, c) = self.chunk(a.0)?;
            Ok(&c[(a.0 - start) as usize..])
        })
    }
    fn slice(&self, addr: Address, len: usize) -> Option<&[u8]> {
        let (start, c) = self.chunk(addr.0).ok()?;
        let off = (addr.0 - start) as usize;
        c.get(off..off.checked_add(len)?)
    }
}

/// A dump with some of its bytes replaced: every read sees `patch` where it lies and the inner
/// dump elsewhere. The patch can be changed between questions ([`Overlay::set_patch`]); fuzz
/// targets damage a real core's heap this way without copying the core.
pub struct Overlay {
    inner: Arc<dyn Dump>,
    mem: OverlayMemory,
}

struct OverlayMemory {
    inner: Arc<dyn Dump>,
    /// (start address, bytes).
    patch: std::sync::RwLock<(u64, Vec<u8>)>,
}

impl Overlay {
    /// `inner` with nothing replaced yet.
    pub fn new(inner: Arc<dyn Dump>) -> Overlay {
        Overlay {
            mem: OverlayMemory {
                inner: inner.clone(),
                patch: std::sync::RwLock::new((0, Vec::new())),
            },
            inner,
        }
    }

    /// Replace the bytes at `addr..addr+bytes.len()` (and undo the previous patch).
    pub fn set_patch(&self, addr: Address, bytes: Vec<u8>) {
        if let Ok(mut p) = self.mem.patch.write() {
            *p = (addr.0, bytes);
        }
    }
}

impl Memory for OverlayMemory {
    fn read_at(&self, addr: Address, buf: &mut [u8]) -> Result<(), MemError> {
        let p = self.patch.read().map_err(|_| MemError::Unmapped { addr })?;
        let (lo, bytes) = (&p.0, &p.1);
        let hi = lo + bytes.len() as u64;
        let end = addr.0.saturating_add(buf.len() as u64);
        if bytes.is_empty() || end <= *lo || addr.0 >= hi {
            return self.inner.memory().read_at(addr, buf);
        }
        // The parts before and after the patch come from the inner dump.
        if addr.0 < *lo {
            let n = (lo - addr.0) as usize;
            self.inner.memory().read_at(addr, &mut buf[..n])?;
        }
        if end > hi {
            let n = (end - hi) as usize;
            let at = buf.len() - n;
            self.inner.memory().read_at(Address(hi), &mut buf[at..])?;
        }
        let from = addr.0.max(*lo);
        let to = end.min(hi);
        let dst = (from - addr.0) as usize;
        let src = (from - lo) as usize;
        let n = (to - from) as usize;
        buf[dst..dst + n].copy_from_slice(&bytes[src..src + n]);
        Ok(())
    }

    fn slice(&self, addr: Address, len: usize) -> Option<&[u8]> {
        let p = self.patch.read().ok()?;
        let hi = p.0 + p.1.len() as u64;
        if !p.1.is_empty() && addr.0 < hi && addr.0.saturating_add(len as u64) > p.0 {
            return None; // patched bytes are copied by read_at
        }
        drop(p);
        self.inner.memory().slice(addr, len)
    }
}

impl Dump for Overlay {
    fn name(&self) -> String {
        self.inner.name()
    }
    fn core_file(&self) -> Option<&CoreFile> {
        self.inner.core_file()
    }
    fn memory(&self) -> &(dyn Memory + Send + Sync) {
        &self.mem
    }
    fn segments(&self) -> &[Segment] {
        self.inner.segments()
    }
    fn threads(&self) -> &[ThreadInfo] {
        self.inner.threads()
    }
    fn mapped_files(&self) -> &[MappedFile] {
        self.inner.mapped_files()
    }
    fn auxv(&self) -> &[(u64, u64)] {
        self.inner.auxv()
    }
    fn pointer_auth_mask(&self) -> Option<u64> {
        self.inner.pointer_auth_mask()
    }
    fn siginfo(&self) -> Option<SigInfo> {
        self.inner.siginfo()
    }
    fn process(&self) -> Option<&ProcessInfo> {
        self.inner.process()
    }
    fn truncation(&self) -> Option<&Truncation> {
        self.inner.truncation()
    }
    fn compression(&self) -> Option<Compression> {
        self.inner.compression()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn data_ranges(&self, addr: Address, len: u64) -> Vec<(Address, u64)> {
        self.inner.data_ranges(addr, len)
    }
    // Releases are not passed on: the patch is what is read, and it stays.
}

#[cfg(test)]
mod overlay_tests {
    use super::*;
    use crate::memory::ByteImage;

    struct Image(ByteImage);
    impl Dump for Image {
        fn name(&self) -> String {
            "image".into()
        }
        fn memory(&self) -> &(dyn Memory + Send + Sync) {
            &self.0
        }
        fn segments(&self) -> &[Segment] {
            &[]
        }
        fn threads(&self) -> &[ThreadInfo] {
            &[]
        }
        fn mapped_files(&self) -> &[MappedFile] {
            &[]
        }
        fn auxv(&self) -> &[(u64, u64)] {
            &[]
        }
        fn process(&self) -> Option<&ProcessInfo> {
            None
        }
    }

    #[test]
    fn reads_see_the_patch_where_it_lies_and_the_dump_elsewhere() {
        let img = ByteImage::new().with(Address(0x1000), (0u8..32).collect());
        let o = Overlay::new(Arc::new(Image(img)));
        o.set_patch(Address(0x1008), vec![0xaa; 4]);
        let mut buf = [0u8; 16];
        o.memory().read_at(Address(0x1004), &mut buf).unwrap();
        assert_eq!(
            buf,
            [4, 5, 6, 7, 0xaa, 0xaa, 0xaa, 0xaa, 12, 13, 14, 15, 16, 17, 18, 19]
        );
        assert!(o.memory().slice(Address(0x1000), 16).is_none());
        assert_eq!(o.memory().read_u8(Address(0x1010)).unwrap(), 16);
        o.set_patch(Address(0), Vec::new());
        o.memory().read_at(Address(0x1008), &mut buf[..4]).unwrap();
        assert_eq!(&buf[..4], &[8, 9, 10, 11]);
    }
}
