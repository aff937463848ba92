//! Searches over the reachable heap: objects with a property of a name (`findrefs -n`),
//! strings equal to a text (`findrefs -s`).

use crate::heap::loaded::Heap;
use crate::meta::kinds::Kind;
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// Reachable JS objects with an own property named `name`, with the property's value (for
/// accessors, the AccessorPair). Objects with fast properties are decided once per map.
pub fn objects_with_property(h: &Heap, name: &str) -> Vec<(usize, u64)> {
    let r = h.reader();
    let n = h.index.len();
    let chunk = 1 << 14;
    let mut out: Vec<(usize, u64)> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .flat_map_iter(|c| {
            // Per map: does its own descriptor list have the key?
            let mut by_map: FxHashMap<u64, bool> = FxHashMap::default();
            let mut found = Vec::new();
            for i in c * chunk..((c + 1) * chunk).min(n) {
                if h.names.id(i).is_none()
                    || !h.marking.is_marked(i)
                    || !h.index.kind(&h.p, i).is_receiver()
                {
                    continue;
                }
                let obj = h.index.tagged(i);
                let map = h.index.map(&h.p, i);
                let fast = !r.is_dictionary_map(map);
                if fast {
                    if let Some(false) = by_map.get(&map) {
                        continue;
                    }
                }
                let mut hit = None;
                r.for_each_own_property_raw(obj, |prop| {
                    if prop.key_word != 0 && r.string_eq(prop.key_word, name) {
                        hit = Some(prop.value);
                        return false;
                    }
                    true
                });
                if fast {
                    by_map.insert(map, hit.is_some());
                }
                if let Some(v) = hit {
                    found.push((i, v));
                }
            }
            found
        })
        .collect();
    out.sort_unstable();
    out
}

/// Reachable strings equal to `text` (every representation: the comparison reads through
/// cons, sliced, thin and external strings).
pub fn strings_equal(h: &Heap, text: &str) -> Vec<usize> {
    let r = h.reader();
    let n = h.index.len();
    let chunk = 1 << 14;
    let want_len = text.encode_utf16().count() as u64;
    let len_off = h.p.layout.string_length as u64;
    let mut out: Vec<usize> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut found = Vec::new();
            for i in c * chunk..((c + 1) * chunk).min(n) {
                if h.index.kind(&h.p, i) != Kind::String || !h.marking.is_marked(i) {
                    continue;
                }
                let s = h.index.tagged(i);
                if r.u32_at(s, len_off).map(u64::from) != Some(want_len) {
                    continue;
                }
                if r.string_eq(s, text) {
                    found.push(i);
                }
            }
            found
        })
        .collect();
    out.sort_unstable();
    out
}
