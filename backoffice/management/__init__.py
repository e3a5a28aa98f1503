"""The staff's commands (see README, "Staff and money")."""


def report(command, outcome, *, replay: str = "(a replay: seen before; nothing new was done)") -> None:
    """What every money command prints: `posted OPERATION_ID` or `pending REQUEST_ID` (or the
    state it is in) first, then a note when nothing new was done."""
    command.stdout.write(outcome.line)
    if outcome.replayed:
        command.stdout.write(replay)
