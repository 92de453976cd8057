//! See DESIGN.md §2 (lifecycle).
