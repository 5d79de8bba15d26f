"""Pattern resolvers, one module per topology family; importing :mod:`._all` registers them in order."""
