"""Write the README's deploy buttons for a repository: ``make buttons`` (or
``python3 infra/buttons.py [--repo URL] [--railway-template CODE]``).

Render's and Heroku's deploy buttons take the repository from the link (``?repo=`` /
``?template=``); without it they fall back on the page's referrer, and GitHub sends only its
origin (``https://github.com/``) as referrer, so a button without the URL cannot find the
repository. This writes both links for ``--repo`` (default: ``git remote get-url origin``, an
SSH remote turned into its HTTPS URL), and the Railway button when a template code is given
(a Railway template is created on Railway from a deployed project; docs/deployment.md). Only
the block between the README's two markers changes; the Railway template code already there is
kept unless another is given. Standard library only: any ``python3`` runs it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

README = Path(__file__).resolve().parents[1] / "README.md"
START = "<!-- deploy-buttons:start (written by `make buttons`; edit infra/buttons.py) -->"
END = "<!-- deploy-buttons:end -->"
RAILWAY = re.compile(r"railway\.com/(?:new/template|deploy)/([A-Za-z0-9_-]+)")
SCP_LIKE = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+)$")


def https_url(remote: str) -> str:
    """A clone URL as the repository's HTTPS page: SSH remotes converted, credentials and the
    ``.git`` suffix dropped."""
    text = remote.strip()
    scp = SCP_LIKE.match(text)
    if scp and "://" not in text:
        host, path = scp.groups()
        text = f"https://{host}/{path}"
    parts = urlsplit(text)
    if parts.scheme not in {"https", "http", "ssh", "git"} or not parts.hostname:
        raise ValueError(f"not a repository URL: {remote!r}")
    path = parts.path.rstrip("/").removesuffix(".git")
    if path.count("/") < 2:
        raise ValueError(f"not a repository URL (expected host/owner/name): {remote!r}")
    return urlunsplit(("https", parts.hostname, path, "", ""))


def block(repo: str | None, railway_template: str | None) -> str:
    lines = [START]
    if repo is None:
        lines.append(
            "*No buttons yet: this copy of the repository has no public URL. Run `make buttons` "
            "in a clone whose `origin` is on GitHub (or `make buttons REPO=<url>`) and commit "
            "the README.*"
        )
    else:
        lines += [
            f"[![Deploy to Render](https://render.com/images/deploy-to-render-button.svg)]"
            f"(https://render.com/deploy?repo={repo})",
            f"[![Deploy to Heroku](https://www.herokucdn.com/deploy/button.svg)]"
            f"(https://www.heroku.com/deploy?template={repo})",
        ]
    if railway_template:
        lines.append(
            f"[![Deploy on Railway](https://railway.com/button.svg)]"
            f"(https://railway.com/new/template/{railway_template}"
            "?utm_medium=integration&utm_source=button&utm_campaign=promptledger)"
        )
    else:
        lines.append(
            "Railway: `railway config apply` with `.railway/railway.py` "
            "([steps](docs/deployment.md#railway)); a button needs a template made from a "
            "deployed project ([how](docs/deployment.md#a-deploy-on-railway-button))."
        )
    lines.append(END)
    return "\n\n".join(lines)


def rewrite(text: str, repo: str | None, railway_template: str | None) -> str:
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {START!r} ... {END!r} block")
    current = text[start:end]
    kept = RAILWAY.search(current)
    template = railway_template or (kept.group(1) if kept else None)
    return text[:start] + block(repo, template) + text[end + len(END) :]


def origin() -> str:
    found = subprocess.run(
        ["git", "remote", "get-url", "origin"],  # noqa: S607 - the user's git
        cwd=README.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        raise ValueError("no git remote 'origin': pass --repo https://github.com/<owner>/<name>")
    return found.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", help="repository URL (default: git remote get-url origin)")
    parser.add_argument("--railway-template", help="Railway template code for its button")
    parser.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        repo = https_url(args.repo or origin())
        text = args.readme.read_text(encoding="utf-8")
        updated = rewrite(text, repo, args.railway_template)
    except ValueError as error:
        print(f"buttons: {error}", file=sys.stderr)
        return 2
    args.readme.write_text(updated, encoding="utf-8")
    print(f"{args.readme.name}: deploy buttons for {repo}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
