//! The processor architectures a core or an executable can be for, as data: which registers
//! `NT_PRSTATUS` holds and in which order, which of them is the program counter, the stack
//! pointer, the frame pointer and the link register, and where the thread pointer is. Code
//! above asks [`Regs`] for a role (`pc`, `sp`), never for a register by its x86-64 name.
//!
//! Facts from the Linux headers: x86-64's `struct user_regs_struct` (27 words) and arm64's
//! `struct user_pt_regs` (`regs[31]`, `sp`, `pc`, `pstate`: 34 words), both stored from byte
//! 112 of `struct elf_prstatus`; arm64 keeps the thread pointer (`TPIDR_EL0`) in a note of its
//! own, `NT_ARM_TLS` (0x401), where x86-64 has it as `fs_base` in the register set.

use object::elf;

/// A processor architecture v8dump reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// x86-64 (`EM_X86_64`).
    X86_64,
    /// 64-bit ARM (`EM_AARCH64`): Graviton, Ampere, Apple-silicon Linux VMs.
    Aarch64,
}

/// What one architecture's register set is: names in `NT_PRSTATUS` order and the index of
/// each role.
#[derive(Debug)]
pub struct RegSet {
    /// Register names, in the order the kernel stores them.
    pub names: &'static [&'static str],
    /// Index of the program counter.
    pub pc: usize,
    /// Index of the stack pointer.
    pub sp: usize,
    /// Index of the frame-pointer register (rbp, x29).
    pub fp: usize,
    /// Index of the link register, where calls leave the return address in a register (x30).
    pub lr: Option<usize>,
    /// Index of the thread pointer, where the register set holds it (x86-64's fs_base).
    pub thread_pointer: Option<usize>,
    /// Where the executable's TLS block is relative to the thread pointer.
    pub tls: TlsVariant,
    /// DWARF register numbers (call-frame information) of the stack pointer, the frame
    /// pointer and the return-address column.
    pub dwarf: DwarfRegs,
}

/// DWARF register numbers of an architecture's ABI, as `.eh_frame` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DwarfRegs {
    /// The stack pointer.
    pub sp: u16,
    /// The frame pointer.
    pub fp: u16,
    /// The return-address column (x86-64's pseudo-register 16, arm64's x30).
    pub ra: u16,
}

/// The two TLS layouts of the ELF TLS ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVariant {
    /// Variant I (arm64): the thread pointer points at a 16-byte thread control block; the
    /// executable's block follows it, aligned to its own alignment.
    AfterTcb {
        /// Size of the thread control block.
        tcb: u64,
    },
    /// Variant II (x86-64): the executable's block ends at the thread pointer.
    BelowPointer,
}

const X86_64_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

const AARCH64_NAMES: [&str; 34] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14",
    "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
    "x28", "x29", "x30", "sp", "pc", "pstate",
];

static X86_64: RegSet = RegSet {
    names: &X86_64_NAMES,
    pc: 16,
    sp: 19,
    fp: 4,
    lr: None,
    thread_pointer: Some(21),
    tls: TlsVariant::BelowPointer,
    dwarf: DwarfRegs {
        sp: 7,
        fp: 6,
        ra: 16,
    },
};

static AARCH64: RegSet = RegSet {
    names: &AARCH64_NAMES,
    pc: 32,
    sp: 31,
    fp: 29,
    lr: Some(30),
    thread_pointer: None,
    tls: TlsVariant::AfterTcb { tcb: 16 },
    dwarf: DwarfRegs {
        sp: 31,
        fp: 29,
        ra: 30,
    },
};

/// The most registers any architecture's set has.
pub const MAX_REGS: usize = 34;

impl Arch {
    /// The architecture of an ELF `e_machine`, if v8dump reads it.
    pub fn from_machine(machine: u16) -> Option<Arch> {
        match machine {
            elf::EM_X86_64 => Some(Arch::X86_64),
            elf::EM_AARCH64 => Some(Arch::Aarch64),
            _ => None,
        }
    }

    /// The name people and tables use: `x86-64`, `arm64`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86-64",
            Arch::Aarch64 => "arm64",
        }
    }

    /// A name for an `e_machine` v8dump does not read, for error messages.
    pub fn machine_name(machine: u16) -> String {
        match machine {
            elf::EM_386 => "i386".into(),
            elf::EM_ARM => "32-bit ARM".into(),
            elf::EM_PPC64 => "PowerPC 64".into(),
            elf::EM_S390 => "s390".into(),
            elf::EM_RISCV => "RISC-V".into(),
            elf::EM_MIPS => "MIPS".into(),
            m => format!("machine type {m}"),
        }
    }

    /// This architecture's register set.
    pub fn regs(self) -> &'static RegSet {
        match self {
            Arch::X86_64 => &X86_64,
            Arch::Aarch64 => &AARCH64,
        }
    }

    /// The architecture this program runs on (live processes are read on it).
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One thread's general registers, as `NT_PRSTATUS` stores them, with the thread pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    arch: Arch,
    words: [u64; MAX_REGS],
    /// The thread pointer, when the register set does not hold it (arm64's `NT_ARM_TLS`).
    tls: Option<u64>,
}

impl Default for Regs {
    fn default() -> Self {
        Regs::new(Arch::host(), &[])
    }
}

impl Regs {
    /// Registers of `arch` from `values` in the kernel's order (missing ones are 0, extra
    /// ones dropped).
    pub fn new(arch: Arch, values: &[u64]) -> Regs {
        let mut words = [0u64; MAX_REGS];
        let n = arch.regs().names.len().min(values.len());
        words[..n].copy_from_slice(&values[..n]);
        Regs {
            arch,
            words,
            tls: None,
        }
    }

    /// The same registers with the thread pointer from a note of its own.
    pub fn with_thread_pointer(mut self, tp: u64) -> Regs {
        self.tls = Some(tp);
        self
    }

    /// The architecture.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// The values, in the kernel's order.
    pub fn values(&self) -> &[u64] {
        &self.words[..self.arch.regs().names.len()]
    }

    /// The names, in the same order.
    pub fn names(&self) -> &'static [&'static str] {
        self.arch.regs().names
    }

    /// A register by name.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.names()
            .iter()
            .position(|n| *n == name)
            .map(|i| self.words[i])
    }

    /// Program counter.
    pub fn pc(&self) -> u64 {
        self.words[self.arch.regs().pc]
    }

    /// Stack pointer.
    pub fn sp(&self) -> u64 {
        self.words[self.arch.regs().sp]
    }

    /// The frame-pointer register (not always a frame pointer).
    pub fn fp(&self) -> u64 {
        self.words[self.arch.regs().fp]
    }

    /// The link register, on architectures whose calls leave the return address in one.
    pub fn lr(&self) -> Option<u64> {
        self.arch.regs().lr.map(|i| self.words[i])
    }

    /// The thread pointer (base of the thread's TLS area), when the core holds it.
    pub fn thread_pointer(&self) -> Option<u64> {
        match self.arch.regs().thread_pointer {
            Some(i) => Some(self.words[i]),
            None => self.tls,
        }
        .filter(|&t| t != 0)
    }
}
