"""``runyard agent``: a worker of one compute pool that runs assigned jobs in a sandbox.

It reaches the server only through ``runyard.client`` (docs/agent-protocol.md). ``worker.Agent`` is
the entry point; each assignment runs in an ``attempt.AttemptRunner`` thread.
"""
