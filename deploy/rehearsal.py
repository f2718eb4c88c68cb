"""`python -m deploy rehearse`: each deploy path against moto server on 127.0.0.1, with AWS's rules.

moto accepts calls AWS refuses; deploy/rules.py adds those rules in front of it
(stack calls without capabilities or over the TemplateBody limit, alarm topics
CloudWatch cannot publish to, bucket logging set before the target's policy).
Path 1 creates the resources stack and the API key stack, then wires a stand-in
REST API as path 1 wires Chalice's. Path 2 packages, uploads and creates its one
stack from TemplateURL with the documented capabilities (deploy/rehearse_sam.py). Path 3 runs `terraform init` from a local
provider mirror, `apply`, a second `plan` that must find nothing to change, and
`destroy`. What moto lacks is named in the report and skipped alone (SKIPPED).
Needs no AWS account and no network beyond 127.0.0.1.

This module starts each path on a fresh moto server and prints the reports; path 1 lives in
deploy/rehearse_cfn.py, path 3 in deploy/rehearse_terraform.py, the server and clients they
share in deploy/rehearse_moto.py.
"""

import tempfile
from pathlib import Path

from deploy.rehearse_cfn import rehearse_path_one
from deploy.rehearse_moto import Report, moto_server
from deploy.rehearse_sam import rehearse_path_two
from deploy.rehearse_terraform import MOTO_DRIFT, SKIPPED_TERRAFORM, rehearse_terraform, terraform_missing

# What tests and callers read from here; each lives in the module of its path.
__all__ = ["MOTO_DRIFT", "SKIPPED_TERRAFORM", "Report", "main", "rehearse", "terraform_missing"]


def rehearse(paths: tuple[str, ...] = ("1", "2", "3")) -> list[Report]:
    """Each path against a fresh moto server of its own."""
    reports = []
    if "1" in paths:
        with moto_server() as endpoint:
            reports.append(rehearse_path_one(endpoint))
    if "2" in paths:
        with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="imgpipe-rehearsal-") as work:
            reports.append(rehearse_path_two(endpoint, Path(work)))
    if "3" in paths:
        missing = terraform_missing()
        if missing:
            reports.append(Report("path 3 (Terraform)", skipped=[f"the whole path: {missing}"]))
        else:
            with moto_server() as endpoint, tempfile.TemporaryDirectory(prefix="imgpipe-rehearsal-") as work:
                reports.append(rehearse_terraform(endpoint, Path(work)))
    return reports


def main(paths: tuple[str, ...]) -> int:
    reports = rehearse(paths)
    for report in reports:
        print(report.text())
    return 1 if any(report.problems for report in reports) else 0
