"""Steer a running simulator from the shell (the demo uses it):

    python -m simulator.control trade --url http://127.0.0.1:8100 --customer C --balance B [--stake S --payout P]
    python -m simulator.control report --url http://127.0.0.1:8100 [--from ISO] [--to ISO] > report.csv
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import urllib.request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.control")
    parser.add_argument("what", choices=["trade", "report"])
    parser.add_argument("--url", default="http://127.0.0.1:8100")
    parser.add_argument("--customer")
    parser.add_argument("--balance")
    parser.add_argument("--stake", default="10.00")
    parser.add_argument("--payout", default="18.50")
    parser.add_argument("--from", dest="start", default="")
    parser.add_argument("--to", dest="end", default="")
    args = parser.parse_args(argv)
    if args.what == "trade":
        body = json.dumps({"customer_id": args.customer, "balance_id": args.balance, "stake": args.stake,
                           "payout": args.payout}).encode()
        request = urllib.request.Request(f"{args.url}/_control/trade", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
    else:
        query = urllib.parse.urlencode({k: v for k, v in (("from", args.start), ("to", args.end)) if v})
        request = urllib.request.Request(f"{args.url}/_control/report?{query}")
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    sys.stdout.write(text)
    return 0 if args.what == "report" or "trade done:" in text else 1


if __name__ == "__main__":
    sys.exit(main())
