"""Reports from whatever has been run: each experiment's report.md, the suite's REPORT.md,
claims.json and forest plot, and the catalogue of the notes' claims with the experiment testing each."""
