"""EXTENSION POINT — compute workloads (dispatch latency, scheduler throughput) go here.

Add ``Workload`` entries to ``WORKLOADS`` (see ``workloads/base.py``): each gets a live server, one
kept-alive client per concurrent caller and the sizes, and returns ``{key: value}``. Raise
``httpclient.Unavailable`` when the server has no such endpoint (MLflow has no compute API, so its
cells read "not available"). Then add one ``Row`` per key to ``report.ROWS`` with its unit and target,
and sizes (with ``--quick`` values) to ``sizes.Sizes``.
"""

from __future__ import annotations

from workloads.base import Workload

WORKLOADS: list[Workload] = []
