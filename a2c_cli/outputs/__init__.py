"""What a run leaves behind: TensorBoard events, metrics.json, plots and videos."""
