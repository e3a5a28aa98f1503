"""The grammars of the ids and codes we accept from the outside world: the external ids we hand
to Quadcode (customer ids, balance ids) and ISO 3166-1 country codes.

Ids arrive in URL paths from anywhere; anything outside this grammar cannot name a row we
created, so it is answered 404 before any query (and never reaches the database, which rejects
NUL bytes with an error instead of a miss). The database holds every stored id to the same
pattern (CHECK constraints built from EXTERNAL_ID_PATTERN).
"""

import re

EXTERNAL_ID_MAX_LENGTH = 64
EXTERNAL_ID_CHARACTERS = "A-Za-z0-9._:-"
# For the CHECK constraints: the characters only (the length is the column's).
EXTERNAL_ID_PATTERN = f"^[{EXTERNAL_ID_CHARACTERS}]+$"
EXTERNAL_ID_RULE = f"1-{EXTERNAL_ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ : -"
COUNTRY_CODE_PATTERN = "^[A-Z]{2}$"

_EXTERNAL_ID_RE = re.compile(f"[{EXTERNAL_ID_CHARACTERS}]{{1,{EXTERNAL_ID_MAX_LENGTH}}}", re.ASCII)
_COUNTRY_RE = re.compile("[A-Z]{2}", re.ASCII)


def is_external_id(value: object) -> bool:
    return isinstance(value, str) and _EXTERNAL_ID_RE.fullmatch(value) is not None


def is_country_code(value: object) -> bool:
    """Two capital ASCII letters, as ISO 3166-1 alpha-2 codes are written."""
    return isinstance(value, str) and _COUNTRY_RE.fullmatch(value) is not None
