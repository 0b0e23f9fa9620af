"""The Beta maths the report plots with: the trainer's own (`daddy.intrinsic.posteriors`), so
the report's credible intervals are exactly the ones the milestone posteriors compute."""

from daddy.intrinsic.posteriors import beta_cdf, beta_mean, beta_ppf

__all__ = ["beta_cdf", "beta_mean", "beta_ppf"]
