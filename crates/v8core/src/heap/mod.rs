//! The heap as memory: V8's pages, the object-by-object walk, the object index and liveness,
//! and the loaded heap every question shares.

pub mod index;
pub mod loaded;
pub mod marking;
pub mod pages;
pub mod walk;
