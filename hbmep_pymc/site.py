"""Names of the model variables, as they appear in posteriors and summaries.

Examples
--------
>>> import hbmep_pymc as mep
>>> mep.site.a
'a'
"""

a = "a"
"""Threshold (S50 for the logistic-4 and logistic-5 curves)."""
b = "b"
"""Growth rate."""
g = "g"
"""Offset: the response without recruitment."""
h = "h"
"""Height from offset to saturation; ``g + h`` is the saturation."""
v = "v"
"""Shape parameter (rectified-logistic and logistic-5)."""
c1 = "c1"
"""Variance parameter: for large responses the variance is about ``c1 * mu``."""
c2 = "c2"
"""Variance parameter: for small responses the coefficient of variation is about ``sqrt(c2)``."""

a_loc = "a_loc"
a_scale = "a_scale"
b_scale = "b_scale"
g_scale = "g_scale"
h_scale = "h_scale"
v_scale = "v_scale"
c1_scale = "c1_scale"
c2_scale = "c2_scale"

b_raw = "b_raw"
g_raw = "g_raw"
h_raw = "h_raw"
v_raw = "v_raw"
c1_raw = "c1_raw"
c2_raw = "c2_raw"

mu = "mu"
"""Expected response (the curve evaluated at each intensity)."""
alpha = "alpha"
"""Shape of the gamma likelihood."""
beta = "beta"
"""Rate of the gamma likelihood."""
obs = "obs"
"""Observed response."""
outlier_prob = "outlier_prob"
"""Global weight ``q`` of the outlier component in the mixture model."""
outlier_posterior = "outlier_posterior_prob"
"""Posterior probability that each measurement is an outlier (mixture model)."""
