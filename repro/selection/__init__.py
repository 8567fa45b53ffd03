"""Which encoder entries a run may change: selectors, the empirical Fisher and the gradient
statistics behind the score-based selectors, the MLM decoder they need, and exact global top-k."""
