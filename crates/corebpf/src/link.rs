//! [`Link`]: an attachment that detaches on drop (work in progress).
