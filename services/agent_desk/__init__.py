"""The agent desk: the human side of a handoff, as a secure, real-time web console.

It consumes ``HandoffRequested`` (rapport.handoff.v1) into its own database as tickets,
shows each agent the queue they can take (team, languages, skills; most urgent first),
the customer's history across channels from the context service, and publishes what
agents do as ``AgentActionTaken`` (rapport.agent-actions.v1) for the orchestrator,
through an outbox written with each change and relayed after the commit. It follows the
delivery of the messages it sent (``MessageDeliveryUpdated``, rapport.delivery.v1).
Supervisors and admins exercise customers' rights over their data from it (``rights.py``:
export, consent, erasure, in every store), and it keeps customers' data no longer than
the context service promises (``retention.py``).

Library choices, and why: aiohttp (the project's HTTP stack) with aiohttp-jinja2/Jinja2
for server-rendered pages with autoescaping; argon2-cffi for argon2id password hashes;
aiohttp-sse for the live queue; SQLAlchemy 2 + Alembic as in the context store. Sessions
and CSRF tokens are a small table and a constant-time comparison (see ``security.py``)
rather than aiohttp-session, whose cookie storages cannot revoke a session and whose
server-side storages need Redis or Memcached; the login throttle is a few lines there
too (delays that grow per account and address, no lockout anyone else can cause).
"""
