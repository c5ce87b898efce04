"""Generated documentation stays in step with the registry: CI fails when README.md or docs/rules.md is stale."""

from __future__ import annotations

import re
from pathlib import Path

from mlwarden.cli import docs
from mlwarden.cli.frameworks import CONTROL_TITLES, NIST_BY_CONTROL, UNMAPPED, nist_requirements
from mlwarden.core.registry import all_rules

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
RULES_MD = ROOT / "docs" / "rules.md"
STALE = "is stale: run `make docs` (python -m mlwarden.cli.docs) and commit the result"


def test_readme_rule_table_matches_the_registry():
    text = README.read_text(encoding="utf-8")
    assert docs.render(text) == text, f"README.md rule table {STALE}"


def test_docs_rules_md_matches_the_registry():
    assert RULES_MD.is_file(), f"docs/rules.md is missing: {STALE}"
    assert RULES_MD.read_text(encoding="utf-8") == docs.rules_markdown(), f"docs/rules.md {STALE}"


def test_rules_md_has_a_section_per_rule_with_its_iam_actions_and_options():
    text = docs.rules_markdown()
    for rule in all_rules():
        spec = rule.spec
        start = text.index(f"\n## `{spec.id}`\n")
        end = text.find("\n## `", start + 1)
        section = text[start : end if end != -1 else len(text)]
        assert spec.title in section
        assert f"`{spec.resource_type}`" in section
        for action in spec.permissions.detect + spec.permissions.remediate:
            assert f"`{action}`" in section, f"{spec.id}: {action} not documented"
        for option in spec.options:
            assert f"| `{option.key}` |" in section, f"{spec.id}: option {option.key} not documented"
        if not spec.can_remediate:
            assert "notify only" in section
        first_line = (docs.description(rule).splitlines() or [""])[0]
        assert first_line in section, f"{spec.id}: module docstring missing"


def test_docs_check_fails_on_stale_files_and_passes_once_regenerated(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{docs.START}\n| old |\n{docs.END}\n\nafter\n", encoding="utf-8")
    rules_md = tmp_path / "docs" / "rules.md"
    args = [str(readme), "--rules-md", str(rules_md)]

    assert docs.main(["--check", *args]) == 1
    assert docs.main(args) == 0
    assert docs.main(["--check", *args]) == 0
    assert readme.read_text(encoding="utf-8").endswith(f"{docs.END}\n\nafter\n")  # only the table changes


def test_every_control_a_rule_names_has_a_published_mapping_or_is_explicitly_unmapped():
    named = {control for rule in all_rules() for control in rule.spec.controls}
    missing = sorted(named - set(NIST_BY_CONTROL) - UNMAPPED)
    assert not missing, (
        f"controls {missing} are in neither frameworks.NIST_BY_CONTROL nor UNMAPPED: copy the NIST.800-53.r5 "
        "'Related requirements' from the Security Hub controls reference page, or list the control as UNMAPPED"
    )
    assert not set(NIST_BY_CONTROL) & UNMAPPED
    assert named <= set(CONTROL_TITLES), f"titles missing for {sorted(named - set(CONTROL_TITLES))}"


def test_nist_requirements_are_well_formed_and_sorted_numerically():
    for control, requirements in NIST_BY_CONTROL.items():
        for requirement in requirements:
            assert re.fullmatch(r"[A-Z]{2}-\d+(\(\d+\))?", requirement), f"{control}: {requirement!r}"
        assert len(set(requirements)) == len(requirements), f"{control}: duplicate requirement"
    assert nist_requirements(["S3.5", "KMS.4"])[:3] == ["AC-4", "AC-17(2)", "IA-5(1)"]
    assert nist_requirements(["SageMaker.5"]) == []
