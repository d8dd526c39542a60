"""Public benchmark datasets mapped into workspaces: saas_churn and RavenStack.

>>> from vitalsign.analytics.datasets import load_saas_churn  # doctest: +SKIP
>>> load_saas_churn(init_workspace("sc"), Path("churn.csv")).observed_until  # doctest: +SKIP
datetime.datetime(2025, 2, 4, 0, 0)
"""

from vitalsign.analytics.datasets.ravenstack import RavenStackWorkspace, load_ravenstack
from vitalsign.analytics.datasets.saas_churn import SaasChurnWorkspace, load_saas_churn

__all__ = ["RavenStackWorkspace", "SaasChurnWorkspace", "load_ravenstack", "load_saas_churn"]
