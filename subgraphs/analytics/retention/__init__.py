"""Do customers come back: monthly cohorts by first order, members against non-members."""
