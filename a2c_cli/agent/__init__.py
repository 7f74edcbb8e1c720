"""What acts: the actor-critic network, action distributions, observation normalisation,
and the :class:`~a2c_cli.agent.agent.Agent` that bundles them."""
