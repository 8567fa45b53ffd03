"""Section 4 of the paper: the MLM probe, the generalisation gap, secondary runs from a tuned
encoder, and how far fine-tuning moves the entries it tunes."""
