"""From records to verdicts: the decision rule written down before the runs, pairing by seed, the
claims a spec declares and the tests that decide them, and the findings an experiment saves.
Reads records only; never imports the engine."""
