"""A tiny SMTP server for worker/tests/smtp.rs (aiosmtpd, from PyPI).

    python3 smtp_server.py --port PORT --dir DIR [--reject ADDRESS ...] [--tempfail ADDRESS ...]

Saves each accepted message as DIR/<n>.eml (raw bytes, written to a temporary name then
renamed) beside DIR/<n>.rcpt (envelope sender on the first line, then one recipient per line),
answers `550 5.1.1 ... unknown mailbox` to RCPT TO for every --reject address and
`450 4.2.1 ... mailbox busy` for every --tempfail address, and prints
`ready` on stdout once it accepts connections. Runs until killed.
"""

import argparse
import itertools
import os
import threading

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, directory, reject, tempfail):
        self.directory = directory
        self.reject = {a.lower() for a in reject}
        self.tempfail = {a.lower() for a in tempfail}
        self.counter = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            return f"550 5.1.1 <{address}>: Recipient address rejected: unknown mailbox"
        if address.lower() in self.tempfail:
            return f"450 4.2.1 <{address}>: mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        n = next(self.counter)
        base = os.path.join(self.directory, str(n))
        with open(base + ".rcpt", "w", encoding="utf-8") as f:
            f.write("\n".join([envelope.mail_from, *envelope.rcpt_tos]) + "\n")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 2.0.0 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    # Up to 256 MiB a message (aiosmtpd's default is 32 MiB): a workflow test mails one merged
    # PDF of a thousand certificates.
    controller = Controller(
        Handler(args.dir, args.reject, args.tempfail),
        hostname="127.0.0.1",
        port=args.port,
        data_size_limit=256 * 1024 * 1024,
    )
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
