"""Simulated annotators for ``make loadtest`` (locust, headless, 127.0.0.1 only).

Each simulated user logs in through the real login form with its own account
(``accounts.json`` from ``prepare.py seed``), then loops: open the annotate screen
on a segment of an article in its queue, and save labels for it the way
``static/workbench/annotate.js`` does (form fields of ``annotations.forms``,
``Accept: application/json``, CSRF token in ``X-CSRFToken``, the revision the page
showed). Every save answered ``{"status": "saved"}`` is appended to
``$LOAD_OUT/acks.tsv``; ``check_writes.py`` then looks for each one in the database.

A page whose revision differs from the last one this user saved there is reported
as a failure: it would mean an acknowledged write was lost or reordered.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

from locust import HttpUser, between, task

OUT = Path(os.environ.get("LOAD_OUT", "artifacts/loadtest"))
DATA = json.loads((OUT / "accounts.json").read_text())
POSITIONS = {
    int(article): positions for article, positions in DATA["positions"].items()
}
ARTICLES = sorted(POSITIONS)
CLAIMS = ["checkworthy", "factual", "opinion", "none"]
FRAMES = ["economic", "morality", "legality", "policy", "political", "security_defense"]
REVISION = re.compile(
    r'name="revision"[^>]*?value="(\d*)"|value="(\d*)"[^>]*?name="revision"'
)
_accounts = list(DATA["accounts"])
_acks = (OUT / "acks.tsv").open("a", buffering=1, encoding="utf-8")


class Annotator(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        if not _accounts:
            raise RuntimeError("more simulated users than accounts in accounts.json")
        account = _accounts.pop()
        self.username = account["username"]
        self.revisions: dict[tuple[int, int], int] = {}
        self.client.get("/accounts/login/", name="login page")
        response = self.client.post(
            "/accounts/login/",
            {
                "username": self.username,
                "password": account["password"],
                "csrfmiddlewaretoken": self.client.cookies.get("csrftoken", ""),
            },
            name="login",
            allow_redirects=False,
        )
        if response.status_code != 302:
            raise RuntimeError(
                f"{self.username}: login answered {response.status_code}"
            )

    @task
    def annotate_and_save(self) -> None:
        article = random.choice(ARTICLES)
        position = random.choice(POSITIONS[article])
        key = (article, position)
        with self.client.get(
            f"/articles/{article}/segments/{position}/",
            name="annotate page",
            catch_response=True,
        ) as page:
            if page.status_code != 200:
                page.failure(f"annotate page answered {page.status_code}")
                return
            match = REVISION.search(page.text)
            shown = int((match.group(1) or match.group(2)) or 0) if match else None
            expected = self.revisions.get(key, 0)
            if shown is not None and shown != expected:
                page.failure(f"page shows revision {shown}, last saved {expected}")
                return
        frames = random.sample(FRAMES, random.randint(1, 2))
        data = {
            "dim-claim": random.choice(CLAIMS),
            "dim-frames": frames,
            "primary-frames": frames[0],
            "revision": str(self.revisions[key]) if key in self.revisions else "",
            "time_spent_ms": str(random.randint(1500, 20000)),
            "go": "next",
        }
        with self.client.post(
            f"/articles/{article}/segments/{position}/save/",
            data,
            headers={
                "Accept": "application/json",
                "X-CSRFToken": self.client.cookies.get("csrftoken", ""),
            },
            name="save",
            catch_response=True,
        ) as saved:
            body = saved.json() if saved.status_code == 200 else {}
            if body.get("status") != "saved":
                saved.failure(f"save answered {saved.status_code}: {saved.text[:200]}")
                return
            self.revisions[key] = body["revision"]
            _acks.write(f"{self.username}\t{article}\t{position}\t{body['revision']}\n")
