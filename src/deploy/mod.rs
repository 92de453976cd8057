//! See DESIGN.md §2 (deploy).
