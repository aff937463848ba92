//! Who holds whom: the reverse reference index, named edges and retainer paths, the dominator
//! tree, and the DevTools heap-snapshot export.

pub mod dominators;
pub mod reverse;
pub mod snapshot;
