"""Where each audit rule is documented: one page per rule, docs/audit-rules/RULE_ID.md.

A page per rule (not anchors in one file) because a file either exists or not: the link
cannot break when a heading is reworded, and a test can check every rule of the registry.

SARIF's `helpUri` must be an *absolute* URI (SARIF 2.1.0, 3.49.12); unlike an artifact
location it has no `uriBaseId`, so a repository-relative path cannot stand there. The
URI is therefore `BASE/docs/audit-rules/RULE_ID.md`, where BASE is where the repository's
files are published (`--docs-url` or DRILLS_DOCS_URL, e.g. the repository's web view at
the tag that was run, which a code-scanning UI on another machine can open). Without a
BASE it is the `file:` URI of the page in this checkout: real on the machine that ran the
audit, and never a made-up address. Every format also carries the repository-relative
path, which is right wherever the repository is.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from drills.errors import UserError

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = "docs/audit-rules"  # repository-relative, POSIX
INDEX_PAGE = f"{DOCS_DIR}/README.md"
DOCS_URL_ENV = "DRILLS_DOCS_URL"


def page_path(rule_id: str) -> str:
    """The page of a rule, relative to the repository root."""
    return f"{DOCS_DIR}/{rule_id}.md"


def docs_base(url: str | None) -> str | None:
    """The base URL of the published repository (`--docs-url`, else DRILLS_DOCS_URL), checked:
    an absolute URI, because SARIF viewers open it as is."""
    url = url if url is not None else os.environ.get(DOCS_URL_ENV) or None
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file") or not (parts.netloc or parts.scheme == "file"):
        raise UserError(f"--docs-url {url!r}: expected an absolute http(s):// or file:// URL of the repository's files, "
                        f"e.g. https://git.example.com/drills/blob/v1.2/ (also read from {DOCS_URL_ENV})")
    return url if url.endswith("/") else url + "/"


def doc_uri(repo_path: str, base: str | None) -> str | None:
    """Absolute URI of a repository file: under `base`, else the file in this checkout
    (None when the checkout has no such file, e.g. an installed wheel without docs/)."""
    if base is not None:
        return base + repo_path
    local = REPO_ROOT / repo_path
    return local.as_uri() if local.is_file() else None


def missing_pages(rule_ids: list[str], root: Path = REPO_ROOT) -> list[str]:
    """Rules of `rule_ids` without a page under `root`."""
    return [r for r in rule_ids if not (root / page_path(r)).is_file()]
