"""What the CLI's commands share: the --api, --aws-port and identity options, the API client
they act through, the consoles they print on, and the one-line errors for a stack that is not there."""

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from imgpipe.running import running_stack

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

    from imgpipe.client import ApiClient
    from rich.console import Console

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_API = "http://127.0.0.1:8000"  # localstage.HOST and make run's default PORT
DEFAULT_AWS_PORT = 4566
api_option = click.option("--api", envvar="IMGPIPE_API", default=None,
                          help="Base URL of the imgpipe API (env IMGPIPE_API) [default: the running "
                               f"`make run` stack's, else {DEFAULT_API}].")


def api_url(given: str | None) -> str:
    """--api / IMGPIPE_API, else the API of the stack running from the state directory."""
    return given or running_stack().get("api") or DEFAULT_API


def resolve_aws_port(given: int | None) -> int:
    return given or running_stack().get("aws_port") or DEFAULT_AWS_PORT


Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def aws_port_option(what: str) -> Callable[[Decorated], Decorated]:
    return click.option("--aws-port", type=int, default=None,
                        help=f"{what} [default: the running `make run` stack's, else {DEFAULT_AWS_PORT}].")


def identity_options(command: Decorated) -> Decorated:
    """--as NAME (the local stack's issuer), --admin, --token (a deployed stage's ID token)."""
    command = click.option("--token", envvar="IMGPIPE_TOKEN", default=None,
                           help="An ID token of the stage's user pool (env IMGPIPE_TOKEN).")(command)
    command = click.option("--admin", is_flag=True, help="With --as: in the admin group, which sees every image.")(command)
    return click.option("--as", "as_name", metavar="NAME",
                        help="Act as the user NAME, signed in by the local stack's issuer (`make run`).")(command)


def api_client(api: str, as_name: str | None, admin: bool, token: str | None) -> "ApiClient":
    """An ApiClient acting as the caller asked for; exits with a sentence if the sign-in fails."""
    from imgpipe.client import ApiClient, RefusedError, UnreachableError

    if admin and not as_name:
        raise click.UsageError("--admin goes with --as NAME")
    client = ApiClient(api, token=token)
    if as_name:
        try:
            client.sign_in_locally(as_name, admin)
        except RefusedError as exc:
            err().print(f"Could not sign in as {as_name}: {exc} (--as needs the local stack, "
                        "`make run`; a deployed stage takes --token).", style="red", highlight=False, markup=False)
            sys.exit(1)
        except UnreachableError as exc:
            err().print(f"The API at {exc}. {NO_API_HINT}", style="red", highlight=False, markup=False)
            sys.exit(1)
    return client


@functools.cache
def consoles() -> "tuple[Console, Console]":
    """rich's Console for stdout and stderr, imported on first use."""
    from rich.console import Console

    return Console(), Console(stderr=True)


def out() -> "Console":
    return consoles()[0]


def err() -> "Console":
    return consoles()[1]


NO_API_HINT = ("Is `make run` running? If it runs on another port, give its API with --api or IMGPIPE_API "
               "(its ready line names it).")


def no_local_stack(aws_port: int, what: str = "") -> None:
    """One line, no traceback, when nothing (or not the stack) answers on the AWS port."""
    err().print(f"No local stack answers on 127.0.0.1:{aws_port}{what}: start it with `make run` "
                "(or pass --aws-port).", style="red", highlight=False, markup=False)
    sys.exit(1)


def local_sqs(aws_port: int) -> "SQSClient":
    """An SQS client of the local stack listening on `aws_port`."""
    import boto3

    from imgpipe.localstage import aws_environment

    env = aws_environment(aws_port)
    return boto3.client("sqs", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
