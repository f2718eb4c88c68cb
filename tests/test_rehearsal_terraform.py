"""`python -m deploy rehearse --path 3`: terraform apply, plan (no changes) and destroy against moto server.

Marked `rehearsal`: the run takes minutes, so `make rehearse` (which CI runs after
`make test`) runs it, and `make test` leaves it out to stay within its time.
"""

import pytest

from deploy import rehearsal

pytestmark = pytest.mark.rehearsal


@pytest.mark.skipif(rehearsal.terraform_missing() is not None, reason=str(rehearsal.terraform_missing()))
def test_terraform_applies_plans_no_changes_and_destroys_against_moto_server():
    (report,) = rehearsal.rehearse(("3",))
    assert report.problems == [], report.text()
    order = ["terraform apply", "terraform plan after apply: no changes", "terraform destroy"]
    assert [step for step in report.steps if step in order] == order
    named = {skip.split(":")[0] for skip in report.skipped}
    drift = {name.split("[")[0].removesuffix(" in the second plan") for name in named if "second plan" in name}
    assert set(rehearsal.SKIPPED_TERRAFORM) == named - {n for n in named if "second plan" in n}
    assert drift <= set(rehearsal.MOTO_DRIFT)
