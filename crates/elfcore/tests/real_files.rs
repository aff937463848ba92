//! The ELF layer on real node binaries and real cores.

use elfcore::space::{FileLookup, FileStatus};
use elfcore::{Address, AddressSpace, CoreFile, ElfImage, Memory};
use std::sync::Arc;
use v8dump_testkit::{fixture, MAJORS};

#[test]
fn node_symbols_and_dwarf_lines_resolve() {
    for major in MAJORS {
        let f = fixture("basic", major);
        let img = ElfImage::open(&f.node).unwrap();
        assert!(!img.is_pie(), "official node builds are non-PIE");
        assert_eq!(
            img.build_id().map(|b| b.len()),
            Some(20),
            "node{major}: GNU build ID"
        );
        let uv_run = img
            .symbol("uv_run")
            .unwrap_or_else(|| panic!("node{major}: uv_run"));
        assert!(uv_run.text && uv_run.size > 0);
        // An address inside uv_run symbolizes back to it, with the offset.
        let (sym, off) = img.symbolize(uv_run.addr + 5).unwrap();
        assert_eq!((&*sym.name, off), ("uv_run", 5));
        // libuv is the part of node built with DWARF: its lines resolve to a C file.
        let (file, line) = img
            .source_line(uv_run.addr)
            .unwrap_or_else(|| panic!("node{major}: no DWARF line for uv_run"));
        assert!(
            file.ends_with(".c") && line > 0,
            "node{major}: {file}:{line}"
        );
        // A C++ symbol demangles.
        let v = img.symbol("_ZN2v88internal7Version6major_E").unwrap();
        assert_eq!(v.demangled(), "v8::internal::Version::major_");
    }
}

#[test]
fn core_notes_and_layered_reads_on_a_real_core() {
    let f = fixture("basic", 20);
    let core = Arc::new(CoreFile::open(&f.core).unwrap());
    assert!(core.truncation().is_none());
    let pid = f.stats["pid"].as_u64().unwrap() as u32;
    assert_eq!(
        core.threads()[0].tid,
        pid,
        "the signalled main thread comes first"
    );
    assert_eq!(core.siginfo().map(|s| s.signo), Some(6));
    assert_eq!(
        core.siginfo().and_then(|s| s.sender_pid),
        Some(pid),
        "abort() sends SIGABRT to itself"
    );
    let exe_real = std::fs::canonicalize(&f.node).unwrap();
    assert!(
        core.mapped_files()
            .iter()
            .any(|m| std::path::Path::new(&m.path) == exe_real),
        "NT_FILE lists the executable"
    );

    // The text of node is not in the core (file-backed, not dumped) but the address space reads
    // it from the executable; the bytes equal the file's.
    let img = ElfImage::open(&exe_real).unwrap();
    let uv_run = img.symbol("uv_run").unwrap().addr;
    let bare = AddressSpace::new(core.clone(), &FileLookup::default());
    assert!(matches!(
        bare.read_u64(Address(uv_run)),
        Err(elfcore::MemError::NotInDump { .. })
    ));
    let space = AddressSpace::new(
        core.clone(),
        &FileLookup {
            from_disk: true,
            ..Default::default()
        },
    );
    let mut from_file = [0u8; 16];
    img.read_static(uv_run, &mut from_file).unwrap();
    let mut from_space = [0u8; 16];
    space.read_at(Address(uv_run), &mut from_space).unwrap();
    assert_eq!(from_file, from_space);
    let layer = space
        .files()
        .iter()
        .find(|l| std::path::Path::new(&l.process_path) == exe_real)
        .unwrap();
    assert!(
        matches!(
            layer.status,
            FileStatus::Used {
                build_id_checked: true,
                ..
            }
        ),
        "{:?}",
        layer.status
    );
    // The main thread's stack pointer is in dumped memory.
    let rsp = core.threads()[0].regs.sp();
    assert!(space.read_u64(Address(rsp)).is_ok());
    // Auxv's AT_ENTRY lies in the executable's mapping.
    let entry = core.auxv_value(9).unwrap();
    assert_eq!(
        core.mapped_file_at(Address(entry))
            .map(|m| std::path::PathBuf::from(&m.path)),
        Some(exe_real)
    );
}
