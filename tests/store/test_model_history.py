"""Model activation: check with line numbers, atomic replacement, audit, every version kept."""

from __future__ import annotations

import json
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vitalsign.engine.run import score
from vitalsign.errors import ModelError
from vitalsign.model.loader import parse_model
from vitalsign.store import model_history as history
from vitalsign.store import model_text
from vitalsign.store.workspace import Workspace, open_workspace
from world import FIXTURES, T, load_tiny_world

TINY = (FIXTURES / "models" / "tiny.yml").read_text(encoding="utf-8")


def renamed(text: str, name: str) -> str:
    """The model text under another `name:` (a different model with a different hash)."""
    first = next(line for line in text.splitlines() if line.startswith("name:"))
    return text.replace(first, f"name: {name}", 1)


BROKEN = renamed(TINY, "broken").replace("window: 30d", "window: 30x", 1)


def test_a_problem_is_reported_with_its_line_as_load_model_does() -> None:
    found = model_text.check_model_text(BROKEN, "new.yml")
    assert not found.ok
    line = next(i for i, text in enumerate(BROKEN.splitlines(), 1) if "window: 30x" in text)
    assert [p.line for p in found.problems] == [line]
    assert found.problems[0].key.endswith(".window")
    with pytest.raises(ModelError) as raised:
        parse_model(BROKEN, "new.yml")
    assert [p.text("new.yml") for p in found.problems] == str(raised.value).splitlines()


def test_cross_reference_problems_and_yaml_errors_have_lines_too() -> None:
    unknown = TINY.replace("signals: {logins_30d: 1}", "signals: {nope_signal: 1}", 1)
    found = model_text.check_model_text(unknown, "u.yml")
    line = next(i for i, text in enumerate(unknown.splitlines(), 1) if "nope_signal" in text)
    assert [(p.line, "nope_signal" in p.message) for p in found.problems] == [(line, True)]
    bad_yaml = model_text.check_model_text("name: x\nsignals: [\n", "y.yml")
    assert bad_yaml.problems[0].line is not None
    assert "not valid YAML" in bad_yaml.problems[0].message
    assert model_text.check_model_text("- a list", "z.yml").problems[0].line is None


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_text_is_checked_without_a_crash(text: str) -> None:
    found = model_text.check_model_text(text, "fuzz.yml")
    assert found.ok == (found.model is not None)
    assert found.ok or found.problems


def test_activation_replaces_the_file_records_and_audits_it(workspace: Workspace) -> None:
    before = workspace.model_path.read_text(encoding="utf-8")
    made = history.activate_model(workspace, workspace.duckdb, TINY, "root", "tiny.yml")
    assert workspace.model_path.read_text(encoding="utf-8") == TINY
    assert workspace.load_model().hash == made.model_hash
    versions = history.model_versions(workspace.duckdb)
    assert [v.version for v in versions] == [2, 1]
    assert versions[1].text == before and versions[1].source == history.FOUND_IN_PLACE
    assert versions[1].activated_by is None
    assert (versions[0].activated_by, versions[0].source) == ("root", "tiny.yml")
    assert history.active_version(workspace.duckdb, workspace) == versions[0]
    actor, subject, detail = workspace.duckdb.execute(
        "SELECT actor, subject, detail FROM audit_log WHERE action = 'model.activate'"
    ).fetchone()
    assert (actor, subject) == ("root", made.model_name)
    assert json.loads(detail)["version"] == 2
    assert not list(workspace.model_path.parent.glob(".*"))  # no temporary file left


def test_an_earlier_version_is_activated_again(workspace: Workspace) -> None:
    starter = workspace.load_model()
    history.activate_model(workspace, workspace.duckdb, TINY, "root", "tiny.yml")
    again = history.reactivate_version(workspace, workspace.duckdb, 1, "maria")
    assert again.version == 3 and again.source == "version 1"
    assert workspace.load_model().hash == starter.hash
    assert len(history.model_versions(workspace.duckdb)) == 3  # the tiny one is kept too


def test_the_active_model_and_a_broken_one_are_refused(workspace: Workspace) -> None:
    history.activate_model(workspace, workspace.duckdb, TINY, "root", "tiny.yml")
    with pytest.raises(ModelError, match="active model already"):
        history.activate_model(workspace, workspace.duckdb, TINY, "root", "tiny.yml")
    with pytest.raises(ModelError, match=r"broken\.yml:\d+ "):
        history.activate_model(workspace, workspace.duckdb, BROKEN, "root", "broken.yml")
    assert workspace.model_path.read_text(encoding="utf-8") == TINY
    with pytest.raises(ModelError, match="no model version 9"):
        history.reactivate_version(workspace, workspace.duckdb, 9, "root")


def test_the_next_scoring_run_uses_the_activated_model(workspace: Workspace) -> None:
    load_tiny_world(workspace.duckdb)
    history.activate_model(workspace, workspace.duckdb, TINY, "root", "tiny.yml")
    other = renamed(TINY, "tiny_two")
    history.activate_model(workspace, workspace.duckdb, other, "root", "two.yml")
    reopened = open_workspace(workspace.root)  # as a later CLI run would
    try:
        assert reopened.load_model().name == "tiny_two"
    finally:
        reopened.close()
    score(workspace, T, workspace.load_model())
    names = workspace.duckdb.execute("SELECT DISTINCT model_name FROM scores").fetchall()
    assert names == [("tiny_two",)]


def test_readers_never_see_a_half_written_file(workspace: Workspace) -> None:
    texts = [renamed(TINY, f"m{i}") + "#" * (i * 997) for i in range(6)]
    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(workspace.model_path.read_text(encoding="utf-8"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i, text in enumerate(texts):
            history.activate_model(workspace, workspace.duckdb, text, "root", f"{i}.yml")
    finally:
        done.set()
        reader.join()
    whole = set(texts) | {history.model_versions(workspace.duckdb)[-1].text}
    assert seen and all(text in whole for text in seen)


def test_candidates_and_model_files(workspace: Workspace) -> None:
    folder = workspace.model_path.parent
    (folder / "default.proposed.yml").write_text(renamed(TINY, "proposed"), encoding="utf-8")
    (folder / "b.yml").write_text(TINY, encoding="utf-8")
    assert [p.name for p in model_text.model_files(workspace)] == ["default.proposed.yml", "b.yml"]
    path = model_text.pick_model_file(workspace, "default.proposed.yml")
    with pytest.raises(ModelError, match="no model file"):
        model_text.pick_model_file(workspace, "../vitalsign.yml")
    text = path.read_text(encoding="utf-8")
    first = history.add_candidate(workspace.duckdb, workspace, text, path.name, "root")
    same = history.add_candidate(workspace.duckdb, workspace, text, path.name, "root")
    assert same.candidate_id == first.candidate_id
    assert history.candidate(workspace.duckdb, first.candidate_id).text == text
    with pytest.raises(ModelError, match=r"bad\.yml:\d+"):
        history.add_candidate(workspace.duckdb, workspace, BROKEN, "bad.yml", "root")
    assert [c.model_name for c in history.candidates(workspace.duckdb)] == ["proposed"]
    with pytest.raises(ModelError, match="no model candidate"):
        history.candidate(workspace.duckdb, "nope")


def test_a_broken_file_in_place_is_replaced_but_not_kept(workspace: Workspace) -> None:
    workspace.model_path.write_text("name: [", encoding="utf-8")
    history.activate_model(workspace, workspace.duckdb, TINY, "root", "tiny.yml")
    assert [v.source for v in history.model_versions(workspace.duckdb)] == ["tiny.yml"]


def test_activations_at_the_same_moment_leave_the_file_and_its_record_agreeing(
    workspace: Workspace,
) -> None:
    texts = [renamed(TINY, f"at_once_{i}") for i in range(4)]
    failures: list[BaseException] = []

    def activate(text: str) -> None:
        cursor = workspace.duckdb.cursor()
        try:
            history.activate_model(workspace, cursor, text, "root", "at-once.yml")
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            failures.append(exc)
        finally:
            cursor.close()

    threads = [threading.Thread(target=activate, args=(t,)) for t in texts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    versions = history.model_versions(workspace.duckdb)
    assert [v.version for v in versions] == [5, 4, 3, 2, 1]
    assert workspace.model_path.read_text(encoding="utf-8") == versions[0].text
    assert {v.text for v in versions[:4]} == set(texts)
