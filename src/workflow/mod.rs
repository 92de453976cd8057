//! See DESIGN.md §2 (workflow).
