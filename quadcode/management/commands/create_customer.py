from b2b_server.commands import DomainCommand, date_argument
from quadcode.services import customer_register


class Command(DomainCommand):
    help = ("Create a customer (optionally with a login for the trading-room page); with --ip, also "
            "pre-register them at the gateway in the background.")

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--email", required=True)
        parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. DE")
        parser.add_argument("--username")
        parser.add_argument("--password")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--middle-name", default="")
        parser.add_argument("--last-name", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--timezone", default="")
        parser.add_argument("--date-of-birth")
        parser.add_argument("--ip", help="the address they signed up from (sent when pre-registering)")

    def handle(self, *args, **o):
        customer = customer_register(
            signup_ip=o["ip"], customer_id=o["customer_id"], email=o["email"], country_code=o["country"],
            username=o["username"], password=o["password"], first_name=o["first_name"],
            middle_name=o["middle_name"], last_name=o["last_name"], phone_number=o["phone"],
            account_timezone=o["timezone"],
            date_of_birth=date_argument(o["date_of_birth"], "--date-of-birth") if o["date_of_birth"] else None,
        )
        self.stdout.write(f"created customer {customer.customer_id}")
