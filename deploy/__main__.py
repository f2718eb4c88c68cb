"""`python -m deploy deploy|package|package-terraform|step-indexes|rehearse`: see deploy/__init__.py."""

import argparse
from pathlib import Path

from deploy import build


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy")
    commands = parser.add_subparsers(dest="command", required=True)
    to_aws = commands.add_parser("deploy", help="resources, chalice deploy, API key and wiring (path 1)")
    to_aws.add_argument("--stage", default="dev", choices=("dev", "prod"))
    to_aws.add_argument("--alarm-topic-arn", default="", help="SNS topic for the alarms (else the stack's)")
    to_aws.add_argument("--versioning", action="store_true", help="keep object versions for 30 days")
    cfn = commands.add_parser("package", help="one SAM template in build/cfn (path 2)")
    cfn.add_argument("--stage", default="cfn")
    tf = commands.add_parser("package-terraform", help="Terraform in build/terraform (path 3)")
    tf.add_argument("--stage", default="tf")
    steps = commands.add_parser("step-indexes", help="path 2: a stack's index changes, one per update")
    steps.add_argument("--stack", required=True, help="the deployed stack, e.g. imgpipe-cfn")
    steps.add_argument("--template", type=Path, default=build.ROOT / "build" / "cfn" / "sam.json",
                       help="the template to deploy next (its table's indexes are the target)")
    steps.add_argument("--out", type=Path, default=build.ROOT / "build" / "cfn" / "index-steps")
    steps.add_argument("--apply", action="store_true", help="deploy the steps (and wait for each index)")
    steps.add_argument("--s3-bucket", default="", help="bucket for templates over CloudFormation's body limit")
    rehearse = commands.add_parser("rehearse", help="each path against moto server, with AWS's rules")
    rehearse.add_argument("--path", action="append", choices=("1", "2", "3"),
                          help="1 (make deploy), 2 (one SAM stack) or 3 (Terraform); all when not given")
    args = parser.parse_args()

    if args.command == "deploy":
        from deploy.aws import deploy  # boto3 and credentials only for this path

        deploy(args.stage, args.alarm_topic_arn, args.versioning)
    elif args.command == "rehearse":
        from deploy import rehearsal

        raise SystemExit(rehearsal.main(tuple(args.path or ("1", "2", "3"))))
    elif args.command == "step-indexes":
        from deploy import index_steps

        index_steps.command(args.stack, args.template, args.out, args.apply, args.s3_bucket)
    elif args.command == "package":
        print(build.package_cloudformation(args.stage))
    else:
        print(build.package_terraform(args.stage))


if __name__ == "__main__":
    main()
