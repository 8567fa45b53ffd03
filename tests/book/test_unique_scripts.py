"""book/_ext/unique_scripts.py: a page loads each script once, at its earliest position."""
from __future__ import annotations

from sphinx.builders.html._assets import _JavaScript

from unique_scripts import unique_scripts


def test_a_script_added_twice_with_different_priorities_is_kept_once_at_the_earlier():
    thebe = "const THEBE_JS_URL = 'x'"
    scripts = [_JavaScript("_static/doctools.js", priority=200), _JavaScript(None, priority=800, body=thebe),
               _JavaScript(None, priority=500, body=thebe), _JavaScript("_static/thebe.js", priority=500),
               _JavaScript(None, priority=500, body="let other = 1")]
    kept = unique_scripts(scripts)
    assert [(str(s.filename), s.priority, s.attributes.get("body")) for s in kept] == [
        ("_static/doctools.js", 200, None), ("None", 500, thebe), ("_static/thebe.js", 500, None),
        ("None", 500, "let other = 1")]


def test_scripts_given_as_plain_file_names_pass_through():
    assert unique_scripts(["a.js", "b.js", "a.js"]) == ["a.js", "b.js"]
