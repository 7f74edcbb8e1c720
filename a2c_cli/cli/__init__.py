"""The console scripts (a2c-train, a2c-eval, a2c-report) and what only a process needs:
Hydra, signals, the console, turning errors into one line and an exit code."""
