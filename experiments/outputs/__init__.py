"""What the suite writes, whatever produced it: atomic strict-JSON and CSV files, figures (PNG and
TensorBoard images), tables of runs and configurations, and TensorBoard's HParams sessions."""
