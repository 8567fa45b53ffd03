"""The masked trainer: AdamW over the selected entries only, selected-entry weight gradients, the
optimisation loop, decoder-first tuning, penalties toward theta_0, LoRA, evaluation, tuned weights."""
