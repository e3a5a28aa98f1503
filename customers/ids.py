"""The grammar of the external ids we hand to Quadcode (customer ids, balance ids).

Ids arrive in URL paths from the outside world; anything outside this grammar cannot name a
row we created, so it is answered 404 before any query (and never reaches the database,
which rejects NUL bytes with an error instead of a miss).
"""

import re

EXTERNAL_ID_MAX_LENGTH = 64
_EXTERNAL_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,%d}" % EXTERNAL_ID_MAX_LENGTH, re.ASCII)


def is_external_id(value: object) -> bool:
    return isinstance(value, str) and _EXTERNAL_ID_RE.fullmatch(value) is not None
