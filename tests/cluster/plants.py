"""The plant file of a cluster test: presses in one cell of acme/hall-1/press/line-1, the historian on a PostgreSQL
database of the test's own, the cluster's broker; what a test adds (cluster settings, apps, server) as YAML."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

#: ``cluster`` lines of a test whose workers run the apps: four partitions, leases and redelivery in seconds
APPS = """\
  ack_wait_s: 2
  apps: true
  app_partitions: 4
  app_lease_ttl_s: 1.5
"""


def cluster_plant(
    tmp_path: Path,
    pg_url: str,
    nats_url: str,
    *,
    name: str = "cluster",
    presses: Iterable[str] = ("press-0",),
    plant: str = "",
    cluster: str = "",
    port: int | None = None,
    users: Iterable[tuple[str, str, str]] = (),
    more: str = "",
) -> Path:
    """Write ``<tmp_path>/<name>.yaml`` and return its path. ``plant``: lines under ``plant:`` after
    ``enterprise``; ``cluster``: lines under ``cluster:`` after ``nats`` (both indented two spaces); ``port``: the
    HTTP server's on loopback, with ``users`` as (name, role, environment variable of the token); ``more``:
    top-level YAML after it. The werk file is ``<name>.db`` beside it."""
    assets = "\n".join(f"                    {p}: {{kind: press}}" for p in presses)
    server = ""
    if port is not None:
        server = f"server:\n  host: 127.0.0.1\n  port: {port}\n"
        listed = [f"    - {{name: {n}, role: {r}, token_env: {env}}}\n" for n, r, env in users]
        server += "  users:\n" + "".join(listed) if listed else ""
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"""\
plant:
  enterprise: acme
{plant}  sites:
    hall-1:
      areas:
        press:
          lines:
            line-1:
              cells:
                cell-1:
                  assets:
{assets}
historian:
  backend: postgresql
  url: "{pg_url}"
  path: {tmp_path / f"{name}.db"}
cluster:
  nats: {nats_url}
{cluster}{server}{more}""",
        encoding="utf-8",
    )
    return path
