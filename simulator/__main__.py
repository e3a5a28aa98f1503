"""python -m simulator: run the gateway simulator (see simulator/__init__.py)."""

import argparse
from pathlib import Path

from simulator.server import Config, make_server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--b2b-public-key", type=Path, required=True,
                        help="the broker's public key (verifies its calls)")
    parser.add_argument("--quadcode-private-key", type=Path, required=True,
                        help="signs the trading room's calls to the balance API")
    parser.add_argument("--balance-api-url", default="http://127.0.0.1:8000")
    parser.add_argument("--public-url", help="base of session URLs (default http://HOST:PORT)")
    parser.add_argument("--issuer", default="", help="the broker's iss (default: any)")
    parser.add_argument("--audience", default="sandbox")
    args = parser.parse_args()
    config = Config(b2b_public_key_file=args.b2b_public_key, quadcode_private_key_file=args.quadcode_private_key,
                    balance_api_url=args.balance_api_url.rstrip("/"),
                    public_url=(args.public_url or f"http://{args.host}:{args.port}").rstrip("/"),
                    issuer=args.issuer, audience=args.audience)
    server = make_server(config, args.host, args.port)
    print(f"gateway simulator on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
