"""Console accounts from the terminal: `notifier users add|list|set-role|remove`. Passwords go
in by standard input, come out nowhere, and are kept only as Argon2id hashes."""

from __future__ import annotations

import asyncio
import json

from argon2 import PasswordHasher, extract_parameters

from notifier.store.engine import open_store
from notifier.store.users import find_user, password_matches
from tests.helpers import CHAIN, EXAMPLE_LISTS, Cli

SECRET = "correct horse battery staple"


def _hash_of(cli: Cli, email: str) -> tuple[str | None, bool]:
    async def read() -> tuple[str | None, bool]:
        async with open_store(cli.settings) as store, store.read() as session:
            user = await find_user(session, email)
            assert user is not None
            return user.password_hash, password_matches(user, SECRET)

    return asyncio.run(read())


def test_an_owner_an_editor_and_a_coordinator_from_the_terminal(cli: Cli) -> None:
    cli.ok("lists", "apply", str(EXAMPLE_LISTS))
    added = cli.ok("users", "add", "Owner@Example.org", "--role", "owner", "--password-stdin",
                   input=SECRET + "\n")  # fmt: skip
    assert added.stdout.strip() == "added owner@example.org as owner; password set"
    stored, matches = _hash_of(cli, "owner@example.org")
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert matches
    cli.ok("users", "add", "ed@example.org", "--role", "editor")
    coordinator = cli.ok("users", "add", "co@example.org", "--role", "coordinator", "--list", CHAIN)
    assert f"as coordinator for {CHAIN}" in coordinator.stdout

    listed = json.loads(cli.ok("users", "list", "--json").stdout)
    assert [(u["email"], u["role"], u["lists"], u["password"]) for u in listed] == [
        ("co@example.org", "coordinator", [CHAIN], "not set"),
        ("ed@example.org", "editor", [], "not set"),
        ("owner@example.org", "owner", [], "set"),
    ]
    everything = cli.ok("users", "list").stdout + cli.ok("users", "list", "--json").stdout
    assert SECRET not in everything
    assert "$argon2" not in everything

    assert (
        "is now editor" in cli.ok("users", "set-role", "co@example.org", "--role", "editor").stdout
    )
    assert json.loads(cli.ok("users", "list", "--json").stdout)[0]["lists"] == []
    cli.ok("users", "remove", "ed@example.org")
    assert len(json.loads(cli.ok("users", "list", "--json").stdout)) == 2


def test_bad_accounts_are_refused_naming_every_field(cli: Cli) -> None:
    cli.ok("lists", "apply", str(EXAMPLE_LISTS))
    bad = cli("users", "add", "nobody", "--role", "boss", "--password-stdin", input="short\n")
    assert bad.exit_code == 1
    for said in ("[email]", "[role]: 'boss': one of owner, editor, coordinator", "[password]"):
        assert said in bad.stderr
    assert "short" not in bad.stdout + bad.stderr  # the password is never echoed
    alone = cli("users", "add", "co@example.org", "--role", "coordinator")
    assert "a coordinator needs the lists they run" in alone.stderr
    listed = cli("users", "add", "ed@example.org", "--role", "editor", "--list", CHAIN)
    assert "only coordinators have lists" in listed.stderr
    unknown = cli("users", "add", "co@example.org", "--role", "coordinator", "--list", "nope")
    assert unknown.exit_code == 1
    assert "nope" in unknown.stderr
    long = cli("users", "add", "ed@example.org", "--role", "editor", "--password-stdin",
               input="x" * 5000 + "\n")  # fmt: skip
    assert "[password]: at most 1000 characters" in long.stderr
    nul = cli("users", "add", "ed\x00@example.org", "--role", "editor")
    assert nul.exit_code == 1
    assert "[email]" in nul.stderr
    cli.ok("users", "add", "ed@example.org", "--role", "editor")
    again = cli("users", "add", "ED@example.org", "--role", "owner")
    assert again.exit_code == 1
    assert "ed@example.org has an account already" in again.stderr
    gone = cli("users", "remove", "nobody@example.org")
    assert gone.exit_code == 1
    assert "no user 'nobody@example.org'" in gone.stderr
    assert json.loads(cli.ok("users", "list", "--json").stdout)[0]["email"] == "ed@example.org"


def test_an_installation_hashes_with_argon2ids_own_defaults(
    quick_password_hashes: PasswordHasher,
) -> None:
    """The tests hash with light parameters (conftest); notifier itself uses argon2-cffi's
    defaults: Argon2id, 64 MiB, 3 passes."""
    hashed = quick_password_hashes.hash(SECRET)
    parameters = extract_parameters(hashed)
    assert hashed.startswith("$argon2id$")
    assert parameters.memory_cost == PasswordHasher().memory_cost == 65536
    assert parameters.time_cost == PasswordHasher().time_cost
