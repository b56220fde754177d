"""Runs the loopback stub LLM (``prompt_ledger.testing.stub_llm.StubLLM``) as a process of its
own, for the benchmarks: ``python bench/_stub_llm.py --latency 0.05 --url-file PATH``.

Once it serves, its OpenAI base URL is written to ``--url-file`` (atomically); it runs until
SIGTERM or SIGINT. With ``--calls-file``, it then writes the last message of every call it
received, one JSON string a line (``bench/chaos.py`` counts the calls per execution).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType

from prompt_ledger.testing.stub_llm import StubLLM


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per reply")
    parser.add_argument("--url-file", type=Path, required=True)
    parser.add_argument("--calls-file", type=Path, default=None)
    args = parser.parse_args()
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with StubLLM(latency=args.latency) as stub:
        partial = args.url_file.with_suffix(".partial")
        partial.write_text(stub.openai_base_url)
        os.replace(partial, args.url_file)
        while not stopping.wait(0.5):
            pass
        if args.calls_file is not None:
            lines = [json.dumps(str(body["messages"][-1]["content"])) for body in stub.requests]
            args.calls_file.write_text("".join(f"{line}\n" for line in lines))


if __name__ == "__main__":
    main()
