"""`notifier users add|list|set-role|remove`: the console's accounts. A password is read from
standard input (`--password-stdin`), never from the command line (where `ps` and the shell's
history would keep it), and never shown."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from notifier.cli.shell import cli_actor, print_json, run_with_store, say, table

if TYPE_CHECKING:
    from notifier.config import Settings
    from notifier.store.engine import Store

app = typer.Typer(help="Console users: owners, editors and list coordinators.")

RoleOption = Annotated[
    str,
    typer.Option("--role", help="owner (everything), editor (cases and updates) or coordinator."),
]
ListsOption = Annotated[
    list[str] | None,
    typer.Option("--list", help="A list a coordinator runs (repeat for more)."),
]


def _role(row: dict[str, Any]) -> str:
    """ "coordinator for kazakhstan-prayer-chain", "editor"."""
    return str(row["role"]) + (f" for {', '.join(row['lists'])}" if row["lists"] else "")


def _password_from_stdin() -> str:
    """The first line of standard input, without its line break."""
    return sys.stdin.readline().rstrip("\r\n")


@app.command()
def add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="Their email address: their login.")],
    role: RoleOption,
    lists: ListsOption = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read their password from standard input.")
    ] = False,
) -> None:
    """Give someone an account."""
    from notifier import app as tasks

    password = _password_from_stdin() if password_stdin else None
    # Checked before the store is opened: bad input is named even where there is no store.
    tasks.users_check(email, role, lists or [], password, where="users add")

    async def job(store: Store, _: Settings) -> None:
        row = await tasks.add_user(
            store, email, role, lists or [], by=cli_actor(), password=password, where="users add"
        )
        say(f"added {row['email']} as {_role(row)}; password {row['password']}")

    run_with_store(ctx, job)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every account, its role and lists (never a password)."""
    from notifier import app as tasks

    async def job(store: Store, _: Settings) -> None:
        rows = await tasks.users(store)
        if as_json:
            print_json(rows)
            return
        table(
            f"{len(rows)} user(s)",
            ["email", "role", "lists", "password"],
            [[r["email"], r["role"], ", ".join(r["lists"]), r["password"]] for r in rows],
        )

    run_with_store(ctx, job)


@app.command("set-role")
def set_role(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
    role: RoleOption,
    lists: ListsOption = None,
) -> None:
    """Change what an account may do (and a coordinator's lists)."""
    from notifier import app as tasks

    tasks.users_check(email, role, lists or [], None, where="users set-role")

    async def job(store: Store, _: Settings) -> None:
        row = await tasks.set_role(
            store, email, role, lists or [], by=cli_actor(), where="users set-role"
        )
        say(f"{row['email']} is now {_role(row)}")

    run_with_store(ctx, job)


@app.command()
def remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
) -> None:
    """Take an account away."""
    from notifier import app as tasks

    async def job(store: Store, _: Settings) -> None:
        await tasks.remove_user(store, email, by=cli_actor())
        say(f"removed {email}")

    run_with_store(ctx, job)


@app.command("reset-password")
def reset_password(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The account's email address.")],
) -> None:
    """Print a one-time link that lets them set a new password (an earlier link stops working;
    the link works for `console_reset_hours`, 24 by default)."""
    from notifier import app as tasks

    async def job(store: Store, settings: Settings) -> None:
        link = await tasks.issue_reset(store, settings, cli_actor(), email)
        say(f"send {email.strip().lower()} this link to set their password (it works once):")
        print(link)

    run_with_store(ctx, job)
