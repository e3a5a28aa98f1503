"""Our machine-readable transcription of the contract (see README.md), and a reader for it."""
