//! See DESIGN.md §2 (ca).
