"""How the agent learns: rollouts and GAE, the collector, the A2C loss and its backends,
evaluation, checkpoints, and the loop that runs them."""
