"""What every trained model in sidkit shares: the step loop (resume, progress, log, checkpoints),
checkpoints without pickle, and early stopping on a validation score."""
