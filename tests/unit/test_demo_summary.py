"""The demo's first five minutes (issue 15): the one-screen summary that ends `mlwarden demo`, and the template
cache that makes a second run take seconds (content here; timing is measured, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlwarden.cli import demo, local_account

KMS, PUBLIC, SSL, NOTEBOOK = (
    "s3-bucket-kms-encryption",
    "s3-bucket-public-access",
    "s3-bucket-ssl-only",
    "sagemaker-notebook-direct-internet",
)


def verdict(rule: str, resource: str, compliance: str, action: str, reason: str = "") -> tuple[str, dict]:
    decision = {"rule_id": rule, "resource_id": resource, "compliance": compliance, "action": action}
    return rule, {"decisions": [dict(decision, reason=reason or f"{rule} says so")]}


# What the demo's handlers return (shape of handler.handler): fixed, fixed then compliant, a duplicate delivery,
# notify-mode findings, an exemption honoured by two rules.
SCENARIO = [
    verdict(KMS, "ml-training-data-demo", "NON_COMPLIANT", "remediated"),
    verdict(KMS, "ml-training-data-demo", "COMPLIANT", "none"),
    verdict(KMS, "ml-features-demo", "COMPLIANT", "none"),
    verdict(PUBLIC, "ml-training-data-demo", "NON_COMPLIANT", "notified"),
    verdict(SSL, "ml-training-data-demo", "NON_COMPLIANT", "notified"),
    verdict(NOTEBOOK, "research-notebook", "NON_COMPLIANT", "remediated"),
    verdict(NOTEBOOK, "research-notebook", "NON_COMPLIANT", "none", "duplicate: already acted on"),
    verdict(KMS, "ml-open-datasets-demo", "NON_COMPLIANT", "exempt", "no default encryption; exempt by tag (mirror)"),
    verdict(PUBLIC, "ml-open-datasets-demo", "NON_COMPLIANT", "exempt", "no BPA; exempt by tag (mirror)"),
]
ALERTS = [{"subject": "x"}] * 5


def lines(decisions=SCENARIO, **kwargs) -> list[str]:
    return demo.summary_lines(decisions, ALERTS, events=8, seconds=3.2, **kwargs)


def row(out: list[str], outcome: str, resource: str) -> str:
    (found,) = [line for line in out if line.split()[:2] == [outcome, resource]]
    return found


def test_summary_says_what_was_caught_fixed_left_open_and_exempt():
    out = lines()
    assert out[1] == "Summary: 8 events, 9 decisions, 5 alerts, 3.2s"
    assert out[2] == "Caught 6 violations on 3 resources: 2 fixed, 2 open (notify mode), 2 exempt (left alone)"
    # fixed stays fixed when a later event finds the resource compliant; a duplicate delivery adds nothing
    assert row(out, "fixed", "ml-training-data-demo").endswith(KMS)
    assert row(out, "fixed", "research-notebook").endswith(NOTEBOOK)
    assert row(out, "open", "ml-training-data-demo").endswith(f"{PUBLIC}, {SSL}")
    assert "research-notebook" not in " ".join(line for line in out if line.lstrip().startswith("open"))
    # an exemption shows its reason under its resource; the compliant bucket is not listed
    exempt = row(out, "exempt", "ml-open-datasets-demo")
    assert exempt.endswith(f"{PUBLIC}, {KMS}") or exempt.endswith(f"{KMS}, {PUBLIC}")
    assert out[out.index(exempt) + 1].strip() == "exempt by tag (mirror)"
    assert not [line for line in out if "ml-features-demo" in line]
    # fixed first, then open, then exempt
    outcomes = [line.split()[0] for line in out if line.startswith("  ") and line.split()[0] in demo.OUTCOMES]
    assert outcomes == sorted(outcomes, key=demo.OUTCOMES.index)


def test_summary_ends_with_what_to_try_next_naming_a_rule_still_in_notify_mode():
    out = lines()
    steps = out[out.index("Try next:") + 1 :]
    commands = [step.split("  ")[1] for step in steps]
    # the toggle names an open rule that did not remediate (it is in notify mode), not one already fixing
    assert commands[0] == f"mlwarden toggle {PUBLIC} remediate"
    assert any(c.startswith("mlwarden report") for c in commands)
    assert "cdk deploy" in commands
    # a scenario that can reuse the summary passes its own next steps
    own = lines(next_steps=[("mlwarden demo --org", "the organization scenario")])
    assert own[-2:] == ["Try next:", "  mlwarden demo --org  the organization scenario"]


def test_summary_fits_one_screen_whatever_the_account_holds():
    # 30 violating resources with long names, one of them with every rule of a long list
    many = [
        verdict(
            f"rule-{i:02d}-with-a-rather-long-identifier",
            f"bucket-{i:02d}/" + "deep/" * 20 + "x.csv",
            "NON_COMPLIANT",
            "notified",
        )
        for i in range(30)
    ]
    many += [verdict(f"sagemaker-notebook-rule-{i}", "a-notebook", "NON_COMPLIANT", "notified") for i in range(12)]
    out = lines(many)
    assert len(out) <= demo.SUMMARY_LINES
    assert max(len(line) for line in out) <= demo.SUMMARY_WIDTH
    assert any(line.startswith("  … and ") and "more resources" in line for line in out)
    (notebook,) = [line for line in out if line.split()[:2] == ["open", "a-notebook"]]
    assert notebook.endswith("more")  # rules beyond the width are counted, not cut mid-name
    # a long resource name is shortened in the middle: both of its ends stay readable
    (first,) = [line for line in out if "bucket-00/" in line]
    assert "…" in first and "x.csv" in first


def test_summary_of_nothing_caught_still_says_so_and_what_next():
    out = lines([verdict(KMS, "fine", "COMPLIANT", "none")])
    assert out[2].startswith("Caught 0 violations on 0 resources")
    assert "mlwarden toggle <rule-id> remediate" in out[out.index("Try next:") + 1]


def test_names_from_the_account_are_printed_as_they_are(capsys):
    narrator = demo.Narrator()
    narrator.plain("  open    [bold]evil[/]  rule")
    assert "[bold]evil[/]" in capsys.readouterr().out


# --------------------------------------------------------------------------------------- template cache
def app_tree(root: Path) -> None:
    (root / "mlwarden_cdk").mkdir(parents=True)
    (root / "lambdas" / "mlwarden").mkdir(parents=True)
    (root / "app.py").write_text("app")
    (root / "cdk.json").write_text('{"context": {}}')
    (root / "mlwarden_cdk" / "stack.py").write_text("stack")
    (root / "lambdas" / "mlwarden" / "rule.py").write_text("rule")


@pytest.mark.parametrize("changed", ["app.py", "cdk.json", "mlwarden_cdk/stack.py", "lambdas/mlwarden/rule.py"])
def test_template_key_changes_with_every_input_of_the_synthesis(tmp_path, changed):
    app_tree(tmp_path)
    before = local_account.template_key({"mlwarden": {}}, root=tmp_path)
    assert local_account.template_key({"mlwarden": {}}, root=tmp_path) == before  # stable
    (tmp_path / changed).write_text((tmp_path / changed).read_text() + " changed")
    assert local_account.template_key({"mlwarden": {}}, root=tmp_path) != before


def test_template_key_changes_with_the_overrides_and_the_cdk_environment(tmp_path, monkeypatch):
    app_tree(tmp_path)
    base = local_account.template_key({"mlwarden": {}}, root=tmp_path)
    assert local_account.template_key({"mlwarden": {"rules": {KMS: {"mode": "remediate"}}}}, root=tmp_path) != base
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-west-1")
    assert local_account.template_key({"mlwarden": {}}, root=tmp_path) != base
    # compiled files are not inputs
    monkeypatch.delenv("CDK_DEFAULT_REGION")
    (tmp_path / "mlwarden_cdk" / "__pycache__").mkdir()
    (tmp_path / "mlwarden_cdk" / "__pycache__" / "stack.cpython-311.pyc").write_bytes(b"\0")
    assert local_account.template_key({"mlwarden": {}}, root=tmp_path) == base


def test_cached_template_is_reused_only_for_the_same_inputs(tmp_path, monkeypatch):
    monkeypatch.setenv("MLWARDEN_CACHE_DIR", str(tmp_path / "cache"))
    synthesized: list[dict] = []

    def synthesize(overrides):
        synthesized.append(overrides)
        return {"Resources": {"Fn": {"Type": "AWS::Lambda::Function"}}, "n": len(synthesized)}

    monkeypatch.setattr(local_account, "synthesize_template", synthesize)
    first, cached = local_account.cached_template({"a": 1})
    assert (cached, first["n"]) == (False, 1)
    again, cached = local_account.cached_template({"a": 1})
    assert (cached, again) == (True, first)
    fresh, cached = local_account.cached_template({"a": 1}, fresh=True)
    assert (cached, fresh["n"]) == (False, 2)
    other, cached = local_account.cached_template({"a": 2})
    assert (cached, other["n"]) == (False, 3)
    # one template is kept: the latest inputs'
    assert len(list((tmp_path / "cache").glob("demo-template-*.json"))) == 1
    # a damaged cache file is synthesized again, not trusted
    (path,) = (tmp_path / "cache").glob("demo-template-*.json")
    path.write_text(json.dumps({"Resources": {}}))
    assert local_account.cached_template({"a": 2})[1] is False
