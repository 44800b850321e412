"""The `users` and `groups` of an image as lines for /etc/passwd, /etc/group and /etc/shadow,
checked before any action runs."""
from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address

from rules.core.origin import TargetInputError


class InvalidAccountsError(TargetInputError):
    pass


@dataclass(frozen=True)
class Accounts:
    passwd: str
    group: str
    shadow: str
    homes: str  # "path\tuid\tgid" lines
    # Lines that replace the /etc/group line of the same group (a layered root: a group of the
    # base that the image's users join).
    group_replace: str = ""

    def beyond(self, base: Accounts) -> Accounts:
        """What a root that has `base`'s accounts needs to have these: the lines it lacks, and
        the group lines whose members changed."""

        def lines(text: str) -> list[str]:
            return text.splitlines()

        def new(mine: str, theirs: str) -> str:
            known = set(lines(theirs))
            return "".join(f"{line}\n" for line in lines(mine) if line not in known)

        base_groups = {line.split(":", 1)[0]: line for line in lines(base.group)}
        added = [g for g in lines(self.group) if g.split(":", 1)[0] not in base_groups]
        changed = [g for g in lines(self.group) if base_groups.get(g.split(":", 1)[0], g) != g]
        return Accounts(
            passwd=new(self.passwd, base.passwd),
            group="".join(f"{line}\n" for line in added),
            shadow=new(self.shadow, base.shadow),
            homes=new(self.homes, base.homes),
            group_replace="".join(f"{line}\n" for line in changed),
        )


def accounts(address: Address, users, groups) -> Accounts:
    def fail(field: str, message: str) -> InvalidAccountsError:
        return InvalidAccountsError(f"The `{field}` field of {address}: {message}")

    group_gids: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for g in groups:
        if not g["gid"].isdigit():
            raise fail("groups", f"group {g['name']} has gid {g['gid']!r}; a gid is a number.")
        if g["name"] in group_gids:
            raise fail("groups", f"group {g['name']} is listed twice.")
        group_gids[g["name"]] = g["gid"]
        members[g["name"]] = []
    passwd, shadow, homes, own_groups = [], [], [], []
    seen_users: set[str] = set()
    for u in users:
        name, uid = u["name"], u["uid"]
        gid = u.get("gid", uid)
        if not uid.isdigit() or not gid.isdigit():
            raise fail("users", f"user {name} has uid {uid!r} and gid {gid!r}; both are numbers.")
        if name in seen_users:
            raise fail("users", f"user {name} is listed twice.")
        seen_users.add(name)
        if gid not in group_gids.values():
            own_groups.append(f"{name}:x:{gid}:")
        home = u.get("home", f"/home/{name}" if uid != "0" else "/root")
        shell = u.get("shell", "/bin/sh")
        passwd.append(f"{name}:x:{uid}:{gid}:{u.get('gecos', '')}:{home}:{shell}")
        # A locked password: accounts are reached by keys or a console the image sets up.
        shadow.append(f"{name}:!:0:0:99999:7:::")
        homes.append(f"{home}\t{uid}\t{gid}")
        for extra in filter(None, (s.strip() for s in u.get("groups", "").split(","))):
            if extra not in members:
                raise fail(
                    "users",
                    f"user {name} is to join group {extra}, which the `groups` field does not define.",
                )
            members[extra].append(name)
    group_lines = [f"{n}:x:{gid}:{','.join(members[n])}" for n, gid in group_gids.items()] + own_groups

    def text(lines: list[str]) -> str:
        return "".join(line + "\n" for line in lines)

    return Accounts(text(passwd), text(group_lines), text(shadow), text(homes))
