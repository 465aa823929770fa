"""The load plans, one per concern; ``python -m fileserver.load.plans`` writes them as ``.jmx``.

Each plan makes its own data in a setUp thread group and removes it in a tearDown one, so any
plan runs alone, on any system, any number of times. ``jmeter/plans/`` holds the output and
``charts/fileserver/files/jmeter/`` a copy (Helm reads only files inside the chart);
``tests/load/test_plans.py`` fails when either differs from what this module builds.

Every wait is a poll bounded by the ``wait_seconds`` property and followed by a check sampler,
so a wait that runs out is a failed sample, never a hang. Groovy (JSR223) is used where a check
compares several answers (rotation) or needs a digest; single answers are checked with JSON
Path assertions.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from fileserver.devstack.config import PROJECT_ROOT
from fileserver.load.jmx import (
    Node,
    body_contains,
    body_lacks,
    critical,
    extract,
    foreach,
    groovy_assert,
    groovy_post,
    groovy_pre,
    groovy_sampler,
    header,
    http,
    jmx_plan,
    json_equals,
    json_has,
    loop,
    pause,
    prop,
    status,
    thread_group,
    while_,
)

PLANS_DIR = PROJECT_ROOT / "jmeter" / "plans"
CHART_PLANS_DIR = PROJECT_ROOT / "charts" / "fileserver" / "files" / "jmeter"
POLL_MS = 250
LEASE_IDLE_MS = 6000  # above the Downloader's default lease_idle_seconds
UP = "uploader_token"
DOWN = "downloader_token"
FAKE_CREDENTIALS = (
    '{"type": "authorized_user", "client_id": "load", "client_secret": "load", '
    '"refresh_token": "load-secret"}'
)

# --- shared steps --------------------------------------------------------------------------


def wait(
    key: str, poll: Callable[..., Node], done: str, check: Node, *, every_ms: int = POLL_MS
) -> list[Node]:
    """Poll (``poll(post_processor)`` builds the sampler) until the Groovy expression ``done``
    holds or ``wait_seconds`` pass, then run ``check``, the sampler that judges the outcome.

    ``done`` sees ``code`` (the status, a string) and ``json()`` (the parsed body).
    """
    limit = f"(props.getProperty('wait_seconds', '120') as int) * 1000 / {every_ms}"
    decide = groovy_post(
        "decide",
        f"""
def code = prev.getResponseCode()
def json = {{ -> new groovy.json.JsonSlurper().parseText(prev.getResponseDataAsString()) }}
def polls = ((vars.get('{key}_polls') ?: '0') as int) + 1
vars.put('{key}_polls', polls as String)
if (({done}) || polls >= {limit}) vars.put('{key}', 'done')
""",
    )
    reset = groovy_post("reset the wait", f"vars.remove('{key}'); vars.remove('{key}_polls')")
    check.children.append(reset)
    condition = "${__groovy(vars.get('" + key + "') != 'done')}"
    return [while_(f"wait: {key}", condition, poll(decide, pause(every_ms))), check]


MAKE_CONTENT = """
def n = props.getProperty('file_bytes', '4096') as int
def alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
def rnd = new Random()
def text = new StringBuilder(n)
n.times { text.append(alphabet.charAt(rnd.nextInt(alphabet.length()))) }
def content = text.toString()
vars.put('content', content)
vars.put('sha', java.security.MessageDigest.getInstance('SHA-256')
    .digest(content.getBytes('UTF-8')).encodeHex().toString())
vars.put('name', 'load-' + UUID.randomUUID() + '.txt')
"""


def upload(label: str = "upload a file") -> list[Node]:
    """Upload ``file_bytes`` fresh random bytes; wait until the file is ``uploaded`` on every
    account placement chose and until the Downloader hands out URLs for it.

    Leaves ``file_id``, ``name``, ``sha`` and the holders (``holder_1…holder_N``) in variables.
    """
    size = prop("file_bytes")
    return [
        http(
            label,
            "uploader",
            "POST",
            "/files?name=${name}&sha256=${sha}",
            status(202),
            json_equals("$.status", "replicating"),
            json_equals("$.size", size),
            json_equals("$.sha256", "${sha}"),
            extract("file_id", "$.id"),
            groovy_pre("make the content", MAKE_CONTENT),
            body="${content}",
            token=UP,
            headers={"Content-Type": "text/plain"},
        ),
        *wait(
            "replicated",
            lambda *post: http(
                "poll the file until uploaded",
                "uploader",
                "GET",
                "/files/${file_id}",
                status(200),
                *post,
                token=UP,
            ),
            "code != '200' || json().status in ['uploaded', 'failed']",
            http(
                "check: the file is uploaded on every account",
                "uploader",
                "GET",
                "/files/${file_id}",
                status(200),
                json_equals("$.status", "uploaded"),
                json_equals("$.replicas[?(@.state != 'ready')]", "[]"),
                json_has("$.replicas[?(@.state == 'ready')]"),
                extract("holder", "$.replicas[?(@.state == 'ready')].account_id", match=-1),
                token=UP,
            ),
        ),
        *wait(
            "visible",
            lambda *post: http(
                "poll the Downloader until it serves the file",
                "downloader",
                "GET",
                "/files/${file_id}/download",
                status(200, 404, 409),
                *post,
            ),
            "code == '200'",
            http(
                "check: the Downloader serves the uploaded file",
                "downloader",
                "GET",
                "/files/${file_id}/download",
                status(200),
                json_equals("$.file_id", "${file_id}"),
                json_equals("$.charged_bytes", size),
                json_equals("$.length", size),
                json_equals("$.account_id", ".+", regex=True),
                json_equals("$.url", "https?://.+", regex=True),
                extract("url", "$.url"),
            ),
        ),
    ]


def delete_file(file_id: str, label: str = "delete the file") -> list[Node]:
    """Delete a file and wait until the Downloader answers 404 for it."""
    return [
        http(
            label,
            "uploader",
            "DELETE",
            f"/files/{file_id}",
            status(202),
            json_equals("$.status", "deleting"),
            token=UP,
        ),
        *wait(
            "gone",
            lambda *post: http(
                "poll the Downloader until the deleted file is gone",
                "downloader",
                "GET",
                f"/files/{file_id}/download",
                status(200, 404, 409),
                *post,
            ),
            "code == '404'",
            http(
                "check: a deleted file is 404 in the Downloader",
                "downloader",
                "GET",
                f"/files/{file_id}/download",
                status(404),
                json_equals("$.detail", ".*not found.*", regex=True),
            ),
        ),
    ]


def setup(*children: Node) -> Node:
    return thread_group("setUp", *children, threads="1", loops="1", kind="SetupThreadGroup")


def teardown(*children: Node) -> Node:
    return thread_group("tearDown", *children, threads="1", loops="1", kind="PostThreadGroup")


def clients(name: str, *children: Node) -> Node:
    return thread_group(name, *children, threads=prop("threads"), loops=prop("iterations"))


# --- the plans -----------------------------------------------------------------------------


def accounts_plan() -> ET.ElementTree[ET.Element]:
    """Account CRUD in the Uploader, the account reaching the Downloader, and bad requests."""
    account = (
        '{"email": "${email}", "display_name": "load test", "enabled": false, '
        f'"daily_budget_bytes": 1000000, "credentials": {FAKE_CREDENTIALS}}}'
    )
    return jmx_plan(
        "fileserver accounts",
        "Account CRUD. Accounts are created disabled with dummy credentials, so no file is "
        "ever placed on them; each is deleted at the end of its iteration.",
        clients(
            "account CRUD",
            http(
                "create an account",
                "uploader",
                "POST",
                "/accounts",
                status(201),
                json_equals("$.email", "${email}"),
                json_equals("$.enabled", "false"),
                json_equals("$.credentials_kind", "authorized_user"),
                body_lacks("load-secret"),
                extract("account_id", "$.id"),
                groovy_pre(
                    "a fresh email",
                    "vars.put('email', 'load-' + UUID.randomUUID() + '@example.com')",
                ),
                body=account,
                token=UP,
                headers={"Content-Type": "application/json"},
            ),
            http(
                "create an account with a taken email",
                "uploader",
                "POST",
                "/accounts",
                status(409),
                json_equals("$.detail", ".*exists already.*", regex=True),
                body=account,
                token=UP,
                headers={"Content-Type": "application/json"},
            ),
            http(
                "get the account",
                "uploader",
                "GET",
                "/accounts/${account_id}",
                status(200),
                json_equals("$.id", "${account_id}"),
                json_equals("$.email", "${email}"),
                json_equals("$.daily_budget_bytes", "1000000"),
                body_lacks("load-secret"),
                token=UP,
            ),
            http(
                "list the accounts",
                "uploader",
                "GET",
                "/accounts?limit=1000",
                status(200),
                json_has("$.items[?(@.id == '${account_id}')]"),
                body_lacks("load-secret"),
                token=UP,
            ),
            http(
                "update the account",
                "uploader",
                "PATCH",
                "/accounts/${account_id}",
                status(200),
                json_equals("$.display_name", "renamed by load test"),
                json_equals("$.daily_budget_bytes", "12345"),
                body={"display_name": "renamed by load test", "daily_budget_bytes": 12345},
                token=UP,
            ),
            *wait(
                "account_known",
                lambda *post: http(
                    "poll the Downloader until it has the account's budget",
                    "downloader",
                    "GET",
                    "/accounts/${account_id}/stats",
                    status(200, 404),
                    *post,
                    token=DOWN,
                ),
                "code == '200' && json().daily_budget_bytes == 12345",
                http(
                    "check: the Downloader has the updated account",
                    "downloader",
                    "GET",
                    "/accounts/${account_id}/stats",
                    status(200),
                    json_equals("$.email", "${email}"),
                    json_equals("$.daily_budget_bytes", "12345"),
                    json_equals("$.enabled", "false"),
                    json_equals("$.downloads", "0"),
                    token=DOWN,
                ),
            ),
            http(
                "delete the account",
                "uploader",
                "DELETE",
                "/accounts/${account_id}",
                status(202),
                json_equals("$.draining", "true"),
                token=UP,
            ),
            *wait(
                "account_gone",
                lambda *post: http(
                    "poll the account until it is deleted",
                    "uploader",
                    "GET",
                    "/accounts/${account_id}",
                    status(200, 404),
                    *post,
                    token=UP,
                ),
                "code == '404'",
                http(
                    "check: a deleted account is 404",
                    "uploader",
                    "GET",
                    "/accounts/${account_id}",
                    status(404),
                    json_has("$.detail"),
                    token=UP,
                ),
            ),
            http(
                "error: create an account with a bad email",
                "uploader",
                "POST",
                "/accounts",
                status(422),
                json_has("$.errors[?(@.loc[1] == 'email')]"),
                body_lacks("load-secret"),
                body='{"email": "not-an-email", "credentials": ' + FAKE_CREDENTIALS + "}",
                token=UP,
                headers={"Content-Type": "application/json"},
            ),
            http(
                "error: create an account with incomplete credentials",
                "uploader",
                "POST",
                "/accounts",
                status(422),
                json_equals("$.detail", ".*lack.*", regex=True),
                body={
                    "email": "incomplete@example.com",
                    "credentials": {"type": "service_account"},
                },
                token=UP,
            ),
            http(
                "error: create an account without the admin token",
                "uploader",
                "POST",
                "/accounts",
                status(401),
                body='{"email": "no-token@example.com", "credentials": ' + FAKE_CREDENTIALS + "}",
                headers={"Content-Type": "application/json"},
            ),
            http(
                "error: get an unknown account",
                "uploader",
                "GET",
                "/accounts/no-such-account",
                status(404),
                json_equals("$.detail", ".*no-such-account.*", regex=True),
                token=UP,
            ),
            http(
                "error: stats of an unknown account",
                "downloader",
                "GET",
                "/accounts/no-such-account/stats",
                status(404),
                token=DOWN,
            ),
        ),
    )


def files_plan() -> ET.ElementTree[ET.Element]:
    """File CRUD: upload, wait, read, rename, resumable upload, download bytes, delete, errors."""
    size = prop("file_bytes")
    return jmx_plan(
        "fileserver files",
        "Per iteration and thread: one file uploaded, replicated, visible in the Downloader, "
        "downloaded from Drive and checked, renamed and deleted (404 after); a resumable upload; "
        "bad requests.",
        clients(
            "file CRUD",
            *upload(),
            http(
                "fetch the bytes from the download URL",
                "downloader",
                "GET",
                "${url}",
                status(200),
                groovy_assert(
                    "the bytes are the uploaded ones",
                    """
def digest = java.security.MessageDigest.getInstance('SHA-256')
    .digest(prev.getResponseData()).encodeHex().toString()
if (digest != vars.get('sha')) {
    AssertionResult.setFailure(true)
    AssertionResult.setFailureMessage('sha256 ' + digest + ' != uploaded ' + vars.get('sha'))
}
""",
                ),
            ),
            http(
                "list files by name",
                "uploader",
                "GET",
                "/files?name_prefix=${name}",
                status(200),
                json_equals("$.total", "1"),
                json_equals("$.items[0].id", "${file_id}"),
                token=UP,
            ),
            http(
                "rename the file",
                "uploader",
                "PATCH",
                "/files/${file_id}",
                status(200),
                json_equals("$.name", "renamed-${name}"),
                body={"name": "renamed-${name}"},
                token=UP,
            ),
            http(
                "get the file",
                "uploader",
                "GET",
                "/files/${file_id}",
                status(200),
                json_equals("$.name", "renamed-${name}"),
                json_equals("$.size", size),
                json_equals("$.sha256", "${sha}"),
                token=UP,
            ),
            http(
                "error: download with a malformed range",
                "downloader",
                "GET",
                "/files/${file_id}/download",
                status(400),
                json_has("$.detail"),
                headers={"Range": "bytes=z-1"},
            ),
            http(
                "error: download beyond the end of the file",
                "downloader",
                "GET",
                f"/files/${{file_id}}/download?offset={prop('file_bytes')}",
                status(416),
                json_has("$.detail"),
            ),
            http(
                "error: rename to a path",
                "uploader",
                "PATCH",
                "/files/${file_id}",
                status(422),
                json_has("$.errors"),
                body={"name": "a/b"},
                token=UP,
            ),
            *delete_file("${file_id}"),
            http(
                "open a resumable upload",
                "uploader",
                "POST",
                "/uploads",
                status(201),
                json_equals("$.offset", "0"),
                extract("session_id", "$.id"),
                groovy_pre("make the content", MAKE_CONTENT),
                body='{"name": "${name}", "size": ' + size + ', "sha256": "${sha}"}',
                token=UP,
                headers={"Content-Type": "application/json"},
            ),
            http(
                "send the bytes in one range",
                "uploader",
                "PUT",
                "/uploads/${session_id}",
                status(200),
                json_equals("$.offset", size),
                groovy_pre(
                    "the range",
                    "def n = vars.get('content').length()\n"
                    "vars.put('content_range', 'bytes 0-' + (n - 1) + '/' + n)",
                ),
                body="${content}",
                token=UP,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": "${content_range}",
                },
            ),
            http(
                "finish the resumable upload",
                "uploader",
                "POST",
                "/uploads/${session_id}:finish",
                status(202),
                json_equals("$.id", "${session_id}"),
                json_equals("$.sha256", "${sha}"),
                json_equals("$.size", size),
                token=UP,
            ),
            http(
                "delete the resumable upload's file",
                "uploader",
                "DELETE",
                "/files/${session_id}",
                status(202),
                token=UP,
            ),
            http(
                "error: upload an empty body",
                "uploader",
                "POST",
                "/files?name=empty.txt",
                status(422),
                json_has("$.detail"),
                body="",
                token=UP,
                headers={"Content-Type": "text/plain"},
            ),
            http(
                "error: upload with a wrong sha256",
                "uploader",
                "POST",
                "/files?name=wrong.txt&sha256=" + "0" * 64,
                status(422),
                json_equals("$.detail", ".*sha256.*", regex=True),
                body="some bytes",
                token=UP,
                headers={"Content-Type": "text/plain"},
            ),
            http(
                "error: upload a name with a path separator",
                "uploader",
                "POST",
                "/files?name=dir%2Fx.txt",
                status(422),
                body="some bytes",
                token=UP,
                headers={"Content-Type": "text/plain"},
            ),
            http(
                "error: upload without the admin token",
                "uploader",
                "POST",
                "/files?name=x.txt",
                status(401),
                body="some bytes",
                headers={"Content-Type": "text/plain"},
            ),
            http(
                "error: get an unknown file",
                "uploader",
                "GET",
                "/files/no-such-file",
                status(404),
                json_equals("$.detail", ".*no-such-file.*", regex=True),
                token=UP,
            ),
            http(
                "error: download an unknown file",
                "downloader",
                "GET",
                "/files/no-such-file/download",
                status(404),
                json_equals("$.detail", ".*not found.*", regex=True),
            ),
            http(
                "error: download with a malformed file id",
                "downloader",
                "GET",
                "/files/bad%20id/download",
                status(422),
            ),
        ),
    )


ROTATION_CHECK = """
def seen = (vars.get('seen') ?: '').trim().tokenize(' ')
vars.remove('seen')
def holders = props.getProperty('holders') as int
def strict = props.getProperty('rotation_strict', 'true') == 'true'
def distinct = seen.toSet().size()
def ok = seen.size() == holders && (strict ? distinct == holders : (holders < 2 || distinct >= 2))
SampleResult.setResponseData('accounts in order: ' + seen.join(' '), 'UTF-8')
if (!ok) {
    AssertionResult.setFailure(true)
    AssertionResult.setFailureMessage('not rotated over ' + holders + ': ' + seen.join(' '))
}
"""


def downloads_plan() -> ET.ElementTree[ET.Element]:
    """Download URLs: rotation over the accounts, JSON, redirect and range answers."""
    shared = "/files/${__P(file_id)}/download"
    return jmx_plan(
        "fileserver downloads",
        "One file on every account (setUp). Rotation: each thread asks, alone (a critical "
        "section), for one URL per account holding the file; they must all be different "
        "accounts (rotation_strict=false: at least two, for several Downloader processes). "
        "Then download URLs under concurrency, as JSON, as redirects and for ranges.",
        setup(*upload("upload the shared file"), share_file()),
        clients(
            "rotation",
            critical(
                "one URL per holder, in a row",
                "rotation",
                loop(
                    "holders",
                    "${__P(holders)}",
                    http(
                        "download URL (rotation)",
                        "downloader",
                        "GET",
                        shared,
                        status(200),
                        json_equals("$.file_id", "${__P(file_id)}"),
                        groovy_post(
                            "remember the account",
                            "def ticket = new groovy.json.JsonSlurper()"
                            ".parseText(prev.getResponseDataAsString())\n"
                            "vars.put('seen', (vars.get('seen') ?: '') + ticket.account_id + ' ')",
                        ),
                    ),
                ),
                groovy_sampler("check: consecutive URLs rotate over the accounts", ROTATION_CHECK),
            ),
        ),
        clients(
            "download URLs",
            http(
                "download URL",
                "downloader",
                "GET",
                shared,
                status(200),
                json_equals("$.file_id", "${__P(file_id)}"),
                json_equals("$.charged_bytes", prop("file_bytes")),
                json_equals("$.url", "https?://.+", regex=True),
                json_has("$.expires_at"),
            ),
            http(
                "download URL as a redirect",
                "downloader",
                "GET",
                shared + "?redirect=true",
                status(302),
                header("location", "https?://.+"),
                header("x-download-id"),
            ),
            http(
                "download URL for a Range header",
                "downloader",
                "GET",
                shared,
                status(200),
                json_equals("$.charged_bytes", "100"),
                json_equals("$.range", "bytes=0-99"),
                headers={"Range": "bytes=0-99"},
            ),
            http(
                "download URL for offset and length",
                "downloader",
                "GET",
                shared + "?offset=10&length=20",
                status(200),
                json_equals("$.offset", "10"),
                json_equals("$.length", "20"),
                json_equals("$.charged_bytes", "20"),
            ),
        ),
        teardown(*delete_file("${__P(file_id)}", "delete the shared file")),
    )


def share_file() -> Node:
    """Publish the setUp's file and its holders to the other thread groups (as properties)."""
    return groovy_sampler(
        "share the file with the other thread groups",
        """
props.put('file_id', vars.get('file_id'))
props.put('holders', vars.get('holder_matchNr') ?: '0')
props.put('holder', vars.get('holder_1') ?: 'none')
SampleResult.setResponseData('file ' + vars.get('file_id') + ' on '
    + props.get('holders') + ' accounts', 'UTF-8')
if (vars.get('file_id') == null || vars.get('holder_1') == null) {
    AssertionResult.setFailure(true)
    AssertionResult.setFailureMessage('the setUp has no uploaded file to share')
}
""",
    )


def reports_plan() -> ET.ElementTree[ET.Element]:
    """Per-file and per-account statistics, both reports, and the Stats pipeline behind them."""
    file_ = "${__P(file_id)}"
    downloads = 6
    counted = downloads + 2  # and the two of upload(): its last poll and its check
    return jmx_plan(
        "fileserver reports",
        f"setUp uploads a file, takes {counted} download URLs for it and waits until "
        "Stats has counted them in the Downloader's figures; then every thread reads the "
        "statistics and reports, JSON and CSV, and the Stats service's probes.",
        setup(
            *upload("upload the file to count"),
            loop(
                "downloads",
                str(downloads),
                http(
                    "download URL (to count)",
                    "downloader",
                    "GET",
                    "/files/${file_id}/download",
                    status(200),
                ),
            ),
            *wait(
                "counted",
                lambda *post: http(
                    "poll the file's figures until Stats counted every URL",
                    "downloader",
                    "GET",
                    "/files/${file_id}/stats",
                    status(200),
                    *post,
                    token=DOWN,
                ),
                f"json().downloads >= {counted}",
                http(
                    "check: Stats counted every URL issued",
                    "downloader",
                    "GET",
                    "/files/${file_id}/stats",
                    status(200),
                    json_equals("$.downloads", str(counted)),
                    json_equals("$.downloads_today", str(counted)),
                    groovy_assert(
                        "bytes_total = downloads x size",
                        f"""
def figures = new groovy.json.JsonSlurper().parseText(prev.getResponseDataAsString())
def expected = (props.getProperty('file_bytes', '4096') as long) * {counted}
if (figures.bytes_total != expected) {{
    AssertionResult.setFailure(true)
    AssertionResult.setFailureMessage('bytes_total ' + figures.bytes_total + ' != ' + expected)
}}
""",
                    ),
                    token=DOWN,
                ),
            ),
            share_file(),
        ),
        clients(
            "statistics",
            http(
                "file stats",
                "downloader",
                "GET",
                f"/files/{file_}/stats",
                status(200),
                json_equals("$.id", file_),
                json_equals("$.size", prop("file_bytes")),
                json_equals("$.status", "uploaded"),
                json_equals("$.downloads", str(counted)),
                json_has("$.mb_total"),
                token=DOWN,
            ),
            http(
                "account stats",
                "downloader",
                "GET",
                "/accounts/${__P(holder)}/stats",
                status(200),
                json_equals("$.id", "${__P(holder)}"),
                json_equals("$.enabled", "true"),
                json_has("$.remaining_today"),
                json_has("$.issued_today"),
                json_has("$.mb_today"),
                token=DOWN,
            ),
            http(
                "files report",
                "downloader",
                "GET",
                "/reports/files?sort=-downloads&limit=1000",
                status(200),
                json_equals("$.sort", "-downloads"),
                json_has(f"$.items[?(@.id == '{file_}')]"),
                token=DOWN,
            ),
            http(
                "accounts report",
                "downloader",
                "GET",
                "/reports/accounts?sort=-bytes_today",
                status(200),
                json_equals("$.sort", "-bytes_today"),
                json_has("$.items[?(@.id == '${__P(holder)}')]"),
                token=DOWN,
            ),
            http(
                "files report as CSV",
                "downloader",
                "GET",
                "/reports/files?format=csv",
                status(200),
                body_contains("id,name,size,status,downloads"),
                body_contains(file_),
                token=DOWN,
            ),
            http(
                "accounts report as CSV",
                "downloader",
                "GET",
                "/reports/accounts?format=csv",
                status(200),
                body_contains("id,email,enabled,daily_budget_bytes"),
                token=DOWN,
            ),
            http(
                "error: report with an unknown sort",
                "downloader",
                "GET",
                "/reports/files?sort=nonsense",
                status(422),
                token=DOWN,
            ),
            http(
                "error: report without the admin token",
                "downloader",
                "GET",
                "/reports/accounts",
                status(401),
            ),
            http(
                "error: stats of an unknown file",
                "downloader",
                "GET",
                "/files/no-such-file/stats",
                status(404),
                token=DOWN,
            ),
            http(
                "stats healthz",
                "stats",
                "GET",
                "/healthz",
                status(200),
                json_equals("$.status", "ok"),
            ),
            http("stats readyz", "stats", "GET", "/readyz", status(200)),
            http(
                "stats metrics",
                "stats",
                "GET",
                "/metrics",
                status(200),
                body_contains("fileserver_stats_"),
            ),
        ),
        teardown(*delete_file(file_, "delete the counted file")),
    )


LOWER_BUDGETS = """
def page = new groovy.json.JsonSlurper().parseText(prev.getResponseDataAsString())
def saved = page.items.findAll { it.enabled }.collect { [id: it.id, budget: it.daily_budget_bytes] }
props.put('saved_budgets', groovy.json.JsonOutput.toJson(saved))
saved.eachWithIndex { a, i -> vars.put('lower_' + (i + 1), a.id) }
vars.put('lower_matchNr', saved.size() as String)
"""

RESTORE_LIST = """
def saved = new groovy.json.JsonSlurper().parseText(props.getProperty('saved_budgets', '[]'))
saved.eachWithIndex { a, i -> vars.put('restore_' + (i + 1), a.id + ' ' + a.budget) }
vars.put('restore_matchNr', saved.size() as String)
"""


def budget_plan() -> ET.ElementTree[ET.Element]:
    """Budget exhaustion: 503 with Retry-After when no account holding a file has budget."""
    file_ = "${__P(file_id)}"
    split = groovy_pre(
        "split id and budget",
        "def (id, budget) = vars.get('entry').tokenize(' ')\n"
        "vars.put('restore_id', id); vars.put('restore_budget', budget)",
    )
    return jmx_plan(
        "fileserver budget",
        "setUp uploads a file, then sets the daily budget of every enabled account to 1 byte "
        "(saved first) and waits until the Downloader refuses; every thread then checks the "
        "503 and its Retry-After. tearDown restores every saved budget, also after a failure, "
        "and checks that URLs are issued again. Run it alone: it starves the whole pool.",
        setup(
            *upload("upload the file to refuse"),
            share_file(),
            http(
                "list the accounts to starve",
                "uploader",
                "GET",
                "/accounts?limit=1000",
                status(200),
                groovy_post("save every enabled account's budget", LOWER_BUDGETS),
                token=UP,
            ),
            foreach(
                "every enabled account",
                "lower",
                "account",
                http(
                    "set an account's budget to 1 byte",
                    "uploader",
                    "PATCH",
                    "/accounts/${account}",
                    status(200),
                    json_equals("$.daily_budget_bytes", "1"),
                    body={"daily_budget_bytes": 1},
                    token=UP,
                ),
            ),
            # A lease the Downloader took before keeps serving until it is returned, which
            # happens once it is idle (lease_idle_seconds, 5 s): so poll slower than that.
            *wait(
                "refused",
                lambda *post: http(
                    "poll downloads until the budgets are spent",
                    "downloader",
                    "GET",
                    f"/files/{file_}/download",
                    status(200, 503),
                    *post,
                ),
                "code == '503'",
                http(
                    "check: the spent pool refuses",
                    "downloader",
                    "GET",
                    f"/files/{file_}/download",
                    status(503),
                ),
                every_ms=LEASE_IDLE_MS,
            ),
        ),
        clients(
            "refused downloads",
            http(
                "error: download URL with every budget spent",
                "downloader",
                "GET",
                f"/files/{file_}/download",
                status(503),
                header("retry-after", r"[1-9][0-9]*"),
                json_equals("$.detail", ".*daily budget left.*budgets renew at.*", regex=True),
            ),
            http(
                "account stats with the budget spent",
                "downloader",
                "GET",
                "/accounts/${__P(holder)}/stats",
                status(200),
                json_equals("$.daily_budget_bytes", "1"),
                json_equals("$.remaining_today", "0"),
                token=DOWN,
            ),
        ),
        teardown(
            groovy_sampler(
                "list the budgets to restore",
                RESTORE_LIST
                + "SampleResult.setResponseData(props.getProperty('saved_budgets', '[]'), 'UTF-8')",
            ),
            foreach(
                "every saved account",
                "restore",
                "entry",
                http(
                    "restore an account's budget",
                    "uploader",
                    "PATCH",
                    "/accounts/${restore_id}",
                    status(200),
                    json_equals("$.daily_budget_bytes", "${restore_budget}"),
                    split,
                    body='{"daily_budget_bytes": ${restore_budget}}',
                    token=UP,
                    headers={"Content-Type": "application/json"},
                ),
            ),
            *wait(
                "served_again",
                lambda *post: http(
                    "poll downloads until the budgets are back",
                    "downloader",
                    "GET",
                    f"/files/{file_}/download",
                    status(200, 503),
                    *post,
                ),
                "code == '200'",
                http(
                    "check: URLs are issued again after the budgets are restored",
                    "downloader",
                    "GET",
                    f"/files/{file_}/download",
                    status(200),
                    json_equals("$.file_id", file_),
                ),
            ),
            *delete_file(file_, "delete the refused file"),
        ),
    )


# Run order of ``--plan all``: the budget plan starves the pool, so it runs last.
PLANS: dict[str, Callable[[], ET.ElementTree[ET.Element]]] = {
    "accounts": accounts_plan,
    "files": files_plan,
    "downloads": downloads_plan,
    "reports": reports_plan,
    "budget": budget_plan,
}


def render(name: str) -> str:
    """The ``.jmx`` text of one plan."""
    tree = PLANS[name]()
    body = ET.tostring(tree.getroot(), encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{body}\n'


def write(*targets: Path) -> list[Path]:
    """Write every plan into each of ``targets`` (default: jmeter/plans and the chart's copy)."""
    written = []
    for target in targets or (PLANS_DIR, CHART_PLANS_DIR):
        target.mkdir(parents=True, exist_ok=True)
        for name in PLANS:
            path = target / f"{name}.jmx"
            path.write_text(render(name))
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write():
        print(path.relative_to(PROJECT_ROOT))
