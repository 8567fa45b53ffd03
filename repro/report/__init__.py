"""What the book shows: tables, figures, mask budgets and overlaps, and the paper's own numbers.
Report reads results; it never trains."""
