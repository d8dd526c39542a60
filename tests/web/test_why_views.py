"""The account page's why: the same builder as the CLI and API, losses first, what changed."""

from __future__ import annotations

import html
import json
import re

import pytest

from conftest import World, red_account
from vitalsign.engine.why import why_account
from vitalsign.web.account_view import account_view
from vitalsign.web.charts import changes_figure, losses_figure


def _figure(page: str, name: str) -> dict[str, object]:
    found = re.search(rf'id="figure-{name}">(.*?)</script>', page, re.S)
    assert found, f"no figure {name}"
    figure: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return figure


@pytest.mark.parametrize("which", ["latest", "previous"])
def test_the_page_why_is_the_builder_s(world: World, which: str) -> None:
    con = world.workspace.duckdb.cursor()
    model = world.workspace.load_model()
    day = world.latest if which == "latest" else world.previous
    plain = con.execute(
        "SELECT account_id, snapshot_date FROM scores WHERE snapshot_date = ? "
        "AND gate_pass AND flags = '[]' ORDER BY account_id LIMIT 2",
        [day],
    ).fetchall()
    flagged = con.execute(  # a fired flag or a failed gate, on whichever date has one
        "SELECT account_id, snapshot_date FROM scores WHERE snapshot_date <= ? "
        "AND (flags != '[]' OR NOT gate_pass) ORDER BY snapshot_date DESC, account_id LIMIT 2",
        [day],
    ).fetchall()
    assert len(plain) == 2 and flagged, "the web world has accounts of both kinds"
    for account, snapshot in [*plain, *flagged]:
        view = account_view(con, model.name, account, snapshot, model=model)
        expected = why_account(con, model, account, snapshot)
        assert view.why is not None
        assert view.why.losses == expected.losses and view.why.groups == expected.groups
        assert view.why.flags == expected.flags
        nb, want = view.why.next_band, expected.next_band
        assert (nb.band, nb.needed, nb.gate, nb.flags) == (
            want.band,
            want.needed,
            want.gate,
            want.flags,
        )
        if expected.flags or not expected.explanation.gate_pass:
            # the page computed the values the conditions read: everything is the same
            assert view.why.gate == expected.gate and nb == want
            assert any(v is not None for f in view.why.flags for v in f.values.values()) or (
                view.why.gate is not None and not view.why.gate.holds
            )
        else:  # it did not (a query too dear for every page): a ratio's target is in its units
            assert view.why.gate is not None and expected.gate is not None
            assert (view.why.gate.holds, view.why.gate.fix) == (True, None)


def test_the_losses_chart_draws_losses_as_negative_bars(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    why = why_account(con, world.workspace.load_model(), red_account(world))
    loses, contributes = losses_figure(why)["data"]
    assert loses["name"] == "loses" and min(loses["x"]) < 0 and max(loses["x"]) <= 0
    assert min(contributes["x"]) >= 0
    assert loses["x"][0] == -round(why.losses[0].loss, 2)  # the largest loss on top


def test_what_changed_ends_at_today_s_score(world: World) -> None:
    con = world.workspace.duckdb.cursor()
    model = world.workspace.load_model()
    for account in (world.alice_account, red_account(world)):
        why = why_account(con, model, account, since=world.previous)
        trace = changes_figure(why.explanation)["data"][0]
        e = why.explanation
        assert trace["measure"][0] == "absolute" and trace["measure"][-1] == "total"
        steps = trace["x"][:-1]
        assert sum(steps) == pytest.approx(e.score or 0.0, abs=0.01 * len(steps))


def test_the_red_account_page_shows_its_largest_loss_first(world: World) -> None:
    account = red_account(world)
    why = why_account(world.workspace.duckdb.cursor(), world.workspace.load_model(), account)
    with world.login("maria") as browser:
        page = browser.get(f"/accounts/{account}").text
        compared = browser.get(
            f"/accounts/{account}", params={"since": world.previous.isoformat()}
        ).text
    first = re.search(r'<table id="signals">.*?<tbody><tr data-signal="([^"]+)"', page, re.S)
    assert first and first.group(1) == why.losses[0].name
    assert "What it would take to reach" in page
    assert why.next_band.band is not None and why.next_band.band in page
    assert min(_figure(page, "losses")["data"][0]["x"]) < 0  # type: ignore[index]
    assert 'id="figure-changes"' not in page  # nothing compared until a date is chosen
    assert f"What changed since {world.previous}" in compared
    assert _figure(compared, "changes")["data"][0]["type"] == "waterfall"  # type: ignore[index]


def test_the_page_compared_since_a_date_is_refused_like_the_page(world: World) -> None:
    url = f"/accounts/{world.alice_account}?since={world.previous.isoformat()}"
    with world.login("bob") as bob:
        assert bob.get(url).status_code == 403
    with world.client() as anonymous:
        reply = anonymous.get(url, follow_redirects=False)
        assert reply.status_code in (303, 401)
    with world.login("alice") as alice:
        assert alice.get(url).status_code == 200
        assert alice.get(f"/accounts/{world.alice_account}?since=last-week").status_code == 400


def test_what_changed_shows_the_raw_values_before_and_now(world: World) -> None:
    """Beside the waterfall, each changed signal's raw value before → now (as the CLI)."""
    account = red_account(world)
    why = why_account(
        world.workspace.duckdb.cursor(), world.workspace.load_model(), account, since=world.previous
    )
    changed = [c for c in why.explanation.changes if c.raw_before != c.raw_after]
    assert changed, "the red account changed since the previous snapshot"
    with world.login("maria") as browser:
        page = browser.get(
            f"/accounts/{account}", params={"since": world.previous.isoformat()}
        ).text
    table = re.search(r'<table id="changed-values">(.*?)</table>', page, re.S)
    assert table, "no before → now table beside the waterfall"
    rows = dict(
        re.findall(
            r'<tr data-signal="([^"]+)"><td>[^<]*</td><td class="num">([^<]*)<', table.group(1)
        )
    )
    for c in changed:
        before, now = why.show(c.name, c.raw_before), why.show(c.name, c.raw_after)
        assert html.unescape(rows[c.name]) == f"{before} → {now}"
