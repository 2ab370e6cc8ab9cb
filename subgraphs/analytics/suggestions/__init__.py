"""Campaign suggestions from segment movements: evidence, proposal, accept or dismiss."""
