//! Mutations of real inputs: what damage and hostile files look like to a parser.

use fastrand::Rng;

/// Values that sit on the edges of what parsers check: zero, one, sign bits, the largest
/// lengths, a Smi of 2^31-1.
const INTERESTING: [u64; 12] = [
    0,
    1,
    0x7f,
    0xff,
    0xffff,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff << 32,
    i64::MAX as u64,
    1 << 63,
    u64::MAX,
];

/// Apply 1 to 2^`max_log2` byte-level mutations to `data`, keeping it at most `cap` bytes.
pub fn bytes(rng: &mut Rng, data: &mut Vec<u8>, max_log2: u32, cap: usize) {
    let n = 1usize << rng.u32(0..=max_log2);
    for _ in 0..n {
        if data.is_empty() {
            data.push(rng.u8(..));
            continue;
        }
        let len = data.len();
        let at = rng.usize(..len);
        match rng.u8(0..9) {
            0 => data[at] ^= 1 << rng.u8(0..8),
            1 => data[at] = rng.u8(..),
            2 | 3 => {
                // An edge value over an aligned 1, 2, 4 or 8 bytes (headers are aligned).
                let w = 1usize << rng.u32(0..4);
                let at = at & !(w - 1);
                let v = INTERESTING[rng.usize(..INTERESTING.len())].to_le_bytes();
                let end = (at + w).min(len);
                data[at..end].copy_from_slice(&v[..end - at]);
            }
            4 => {
                // A word copied from elsewhere in the input (a pointer or offset that is valid
                // somewhere else).
                let from = rng.usize(..len) & !7;
                let to = at & !7;
                if from + 8 <= len && to + 8 <= len {
                    let w: [u8; 8] = data[from..from + 8].try_into().unwrap_or([0; 8]);
                    data[to..to + 8].copy_from_slice(&w);
                }
            }
            5 => data.truncate(at),
            6 => {
                let k = rng.usize(1..=(len - at).min(4096));
                data.drain(at..at + k);
            }
            7 => {
                // A stretch repeated (lists that loop, counts that grow).
                let k = rng.usize(1..=(len - at).min(4096));
                let chunk: Vec<u8> = data[at..at + k].to_vec();
                let to = rng.usize(..=len);
                if len + k <= cap {
                    data.splice(to..to, chunk);
                }
            }
            _ => {
                let k = rng.usize(1..=(len - at).min(64));
                for b in &mut data[at..at + k] {
                    *b = rng.u8(..);
                }
            }
        }
    }
}

/// Apply 1 to 2^`max_log2` word-level mutations to a heap page's bytes (`base` is its
/// address): map words and lengths overwritten, pointers into the page, to itself and to
/// random places, random words, flipped bits.
pub fn heap_words(rng: &mut Rng, page: &mut [u8], base: u64, others: &[u64], max_log2: u32) {
    let words = page.len() / 8;
    if words == 0 {
        return;
    }
    let n = 1usize << rng.u32(0..=max_log2);
    for _ in 0..n {
        let k = rng.usize(..words);
        let at = k * 8;
        let here = base + at as u64;
        let v = match rng.u8(0..8) {
            0 => INTERESTING[rng.usize(..INTERESTING.len())],
            1 => rng.u64(..),
            2 => (base + 8 * rng.usize(..words) as u64) | 1, // into the page
            3 => here | 1,                                   // to itself
            4 => others
                .get(rng.usize(..others.len().max(1)))
                .copied()
                .unwrap_or(0),
            5 => {
                let w = u64::from_le_bytes(page[at..at + 8].try_into().unwrap_or([0; 8]));
                w ^ (1 << rng.u32(0..64))
            }
            6 => (rng.u64(..) & 0x7fff_ffff) << 32, // a Smi, maybe huge
            _ => {
                // A word from elsewhere in the page (a map word where a field was).
                let from = rng.usize(..words) * 8;
                u64::from_le_bytes(page[from..from + 8].try_into().unwrap_or([0; 8]))
            }
        };
        page[at..at + 8].copy_from_slice(&v.to_le_bytes());
    }
}
