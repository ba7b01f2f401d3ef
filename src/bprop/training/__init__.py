"""Training: the trainer (modes, epochs), stopping criteria, history, metrics, the
full-batch objective, checkpoints, the compiled fast path, explain and the demo."""
