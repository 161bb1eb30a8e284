"""Experiment kinds beyond the MLP sweep (2-D surfaces, deep linear networks, gradient noise,
random searches, numerics, rescues, data order), one module each, behind the registry; kinds do
not import each other."""
