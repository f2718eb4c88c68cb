"""Operator tooling for the three AWS deploy paths; never shipped to Lambda.

`python -m deploy deploy --stage dev`      resources stack + `chalice deploy`
`python -m deploy package --stage cfn`     one SAM/CloudFormation template
`python -m deploy package-terraform`       Chalice's Terraform + infra/terraform
`python -m deploy step-indexes --stack S`  path 2: a table's index changes, one stack update each
"""
