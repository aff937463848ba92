//! Who holds whom: the reverse reference index, named edges and retainer paths, the dominator
//! tree, and the DevTools heap-snapshot export.

pub mod describe;
pub mod dominators;
pub mod edges;
pub mod paths;
pub mod reverse;
pub mod search;
pub mod snapshot;
