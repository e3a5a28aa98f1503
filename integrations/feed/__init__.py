"""The live event feed, `/ws/events` (WebSocket, served by the ASGI application).

The protocol follows Peatio's: the client's first message is `{"jwt": "Bearer <token>"}`
(optionally with `"resume_from": N`); the server answers `{"success": {"message":
"Authenticated."}}` or an `{"error": {"message": ...}}` and closes. Then every numbered event
the token may see is pushed as `{"event": {...}}` in sequence order; `{"resume_from": N}` at any
time replays everything after N. Tokens are short-lived JWTs minted by `/account/ws-token` (a
customer: their own events) and by `POST /backoffice/v1/ws-token` (an API key: all events).
"""
