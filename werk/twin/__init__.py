"""The plant bound to its Asset Administration Shell: a shell per asset with submodels built from IDTA templates
and the plant file (:mod:`~werk.twin.environment`), Properties bound to Unified Namespace signals that read the
latest sample (:mod:`~werk.twin.binding`), and the plant's twin opened from, imported into and exported out of the
historian's file (:mod:`~werk.twin.plant`). The AAS server that keeps and serves it is :mod:`werk.aas`."""

from werk.twin.environment import build_environment
from werk.twin.plant import open_twin

__all__ = ["build_environment", "open_twin"]
