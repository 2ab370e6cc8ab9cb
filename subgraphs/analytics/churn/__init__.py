"""Who is about to leave: a churn model per merchant, each customer's score and lifecycle stage."""
