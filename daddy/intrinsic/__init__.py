"""Intrinsic rewards: RND, episodic novelty, Bayesian milestone posteriors, the facade."""
