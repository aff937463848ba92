//! Why the process died: thread stacks, the Node.js process, the one-screen report, and many
//! cores at once.

pub mod batch;
pub mod handles;
pub mod nodeinfo;
pub mod report;
pub mod stack;
