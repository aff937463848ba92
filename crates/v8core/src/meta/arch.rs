//! What differs in V8 between processor architectures, for every version alike: a table per
//! architecture, beside the per-version tables of [`crate::meta::tables`]. Only values that
//! differ live here; everything else (object layouts, page headers, the isolate) is shared,
//! and each shared value is checked on the cores of both architectures by the tests.

use elfcore::Arch;

/// V8's values for one architecture.
#[derive(Debug)]
pub struct ArchTable {
    /// The architecture.
    pub arch: Arch,
    /// `kCodeAlignment`: the alignment of instruction streams, which rounds their sizes (V8's
    /// `globals.h`: 64 bytes on x64, 32 on arm64; measured on the cores of both).
    pub code_alignment: u64,
    /// Bits of a code address. A return address on the stack can carry a pointer
    /// authentication code above them (arm64 builds sign return addresses with
    /// `-mbranch-protection`), which is cleared before the address is looked up.
    pub code_address_bits: u32,
}

static X64: ArchTable = ArchTable {
    arch: Arch::X86_64,
    code_alignment: 64,
    code_address_bits: 64,
};

static ARM64: ArchTable = ArchTable {
    arch: Arch::Aarch64,
    code_alignment: 32,
    code_address_bits: 48,
};

/// The table of `arch`.
pub fn table(arch: Arch) -> &'static ArchTable {
    match arch {
        Arch::X86_64 => &X64,
        Arch::Aarch64 => &ARM64,
    }
}

impl ArchTable {
    /// A code address as read from a stack or a register, without a pointer authentication
    /// code.
    pub fn code_address(&self, a: u64) -> u64 {
        if self.code_address_bits >= 64 {
            a
        } else {
            a & ((1u64 << self.code_address_bits) - 1)
        }
    }

    /// `size` rounded up to the code alignment.
    pub fn align_code(&self, size: u64) -> u64 {
        let m = self.code_alignment - 1;
        size.saturating_add(m) & !m
    }

    /// Whether the 8 bytes before a return address end with a call instruction, the one
    /// that left that address (how a stack scan tells return addresses from other words).
    pub fn ends_with_call(&self, b: &[u8; 8]) -> bool {
        match self.arch {
            // call rel32 (E8 xx xx xx xx); call r/m64 (FF /2) in its 2-, 3-, 6- and 7-byte
            // forms.
            Arch::X86_64 => {
                let b = &b[1..];
                b[2] == 0xe8
                    || (b[5] == 0xff && (b[6] >> 3) & 7 == 2)
                    || (b[4] == 0xff && (b[5] >> 3) & 7 == 2)
                    || (b[1] == 0xff && (b[2] >> 3) & 7 == 2)
                    || (b[0] == 0xff && (b[1] >> 3) & 7 == 2)
                    || (b[3] == 0x41 && b[4] == 0xff && (b[5] >> 3) & 7 == 2)
            }
            // BL imm26; BLR Xn; BLRAA/BLRAB/BLRAAZ/BLRABZ Xn (pointer-authenticated calls).
            Arch::Aarch64 => {
                let i = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                i & 0xfc00_0000 == 0x9400_0000
                    || i & 0xffff_fc1f == 0xd63f_0000
                    || i & 0xfeff_f800 == 0xd63f_0800
            }
        }
    }

    /// The values, as (what, value), for `info`.
    pub fn facts(&self) -> Vec<(String, i64)> {
        vec![
            ("arch.code_alignment".into(), self.code_alignment as i64),
            (
                "arch.code_address_bits".into(),
                self.code_address_bits as i64,
            ),
        ]
    }
}
