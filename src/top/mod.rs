//! `prof top`'s model, the last stage: the newest intervals of a recording (live, or read from
//! an archive directory as a continuous recorder writes them) folded into a decaying
//! [`Window`] of stacks, from which the [`table`] of hottest functions per process and the
//! [`zoom()`] of one function's callers and callees are computed. Pure and testable without a
//! terminal; the binary draws them.

pub mod follow;
pub mod print;
pub mod table;
pub mod window;
pub mod zoom;

pub use follow::DirFollower;
pub use print::write_rows;
pub use table::{rows, FunctionKey, Row, SortKey};
pub use window::{Window, DECAY};
pub use zoom::{zoom, Edge, Zoom};
