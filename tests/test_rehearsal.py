"""`python -m deploy rehearse --path 1`: make deploy's stacks against moto server, with AWS's rules."""

from deploy import rehearsal


def test_path_one_rehearses_against_moto_server_and_names_what_moto_lacks():
    (report,) = rehearsal.rehearse(("1",))
    assert report.problems == [], report.text()
    assert "stack imgpipe-dev-resources deployed again without changes" in report.steps
    assert "stack imgpipe-dev-resources: the legacy indexes dropped, one stack update each" in report.steps
    skipped = "\n".join(report.skipped)
    assert "GetAccountSettings" in skipped and "WebhookSecret (AWS::SecretsManager::Secret)" in skipped
    assert "AlarmTopic " not in skipped and "AlarmTopicKey" not in skipped  # made, and checked


def test_the_rehearsal_refuses_what_aws_refuses(monkeypatch):
    from deploy import aws

    monkeypatch.setattr(aws, "CAPABILITIES", [])
    (report,) = rehearsal.rehearse(("1",))
    assert any("InsufficientCapabilities" in problem for problem in report.problems), report.text()
