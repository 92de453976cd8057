//! See DESIGN.md §2 (policy).
