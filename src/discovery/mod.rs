//! See DESIGN.md §2 (discovery).
