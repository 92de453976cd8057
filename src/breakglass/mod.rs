//! See DESIGN.md §2 (breakglass).
