"""Vector environments behind one SAME_STEP-autoreset contract (gymnasium or EnvPool), and
the description of their spaces."""
