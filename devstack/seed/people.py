"""The company of a seeded year: a department tree, its popugs, their positions and roles (pure, seeded).

Roles follow SPEC §2: most popugs are workers (the assignees, R-TASK-2); each department's head is a
manager; a few admins run the place; the Accounting department's members are accountants by a role
granted to the department (R-AUTH-6), so their effective roles hold `accountant` without owning it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST = (
    "Kesha",
    "Rio",
    "Gosha",
    "Petrusha",
    "Zhako",
    "Lori",
    "Ara",
    "Kakadu",
    "Tuki",
    "Koko",
    "Chika",
    "Pippi",
    "Boris",
    "Ulyana",
    "Fedya",
    "Masha",
    "Yasha",
    "Nika",
    "Sasha",
    "Tosha",
    "Zhora",
    "Kira",
    "Lyova",
    "Mila",
)
LAST = (
    "Ararauna",
    "Macaw",
    "Budgie",
    "Cockatiel",
    "Lovebird",
    "Amazona",
    "Kakapo",
    "Lorikeet",
    "Conure",
    "Rosella",
    "Galah",
    "Corella",
    "Kea",
    "Caique",
    "Pionus",
    "Eclectus",
    "Senegal",
    "Quaker",
)
TREE = {  # department -> its sub-departments (the root is the company)
    "UberPopug Inc.": ("Engineering", "Operations", "Accounting", "People"),
    "Engineering": ("Nest Platform", "Seed Logistics", "Feather Analytics", "Perch Mobile"),
    "Operations": ("Cage Maintenance", "Flight Control", "Supply"),
    "Nest Platform": ("Nest Storage", "Nest API"),
}
POSITIONS = ("Junior popug", "Popug", "Senior popug", "Staff popug", "Principal popug")
ACCOUNTING = "Accounting"
ADMINS = 3


@dataclass(frozen=True)
class Department:
    department_id: str
    name: str
    parent_id: str | None
    head_id: str | None = None


@dataclass(frozen=True)
class Popug:
    employee_id: str
    name: str
    email: str
    position: str
    department_id: str
    own_roles: tuple[str, ...]
    department_roles: tuple[str, ...]  # granted to their department (R-AUTH-6)

    @property
    def roles(self) -> tuple[str, ...]:
        """Effective roles: their own plus their department's."""
        return tuple(sorted({*self.own_roles, *self.department_roles}))


@dataclass(frozen=True)
class Company:
    departments: tuple[Department, ...]
    popugs: tuple[Popug, ...]
    department_roles: dict[str, tuple[str, ...]]  # department id -> roles granted to it

    def members(self, department_id: str) -> int:
        return sum(1 for p in self.popugs if p.department_id == department_id)

    def children(self, department_id: str) -> int:
        return sum(1 for d in self.departments if d.parent_id == department_id)


_V4_CLEAR = ~(0xF000 << 64 | 0xC000 << 48) & (2**128 - 1)
_V4_SET = 0x4000 << 64 | 0x8000 << 48


def ids(rng: random.Random) -> str:
    """A version-4 UUID from the seeded generator (the same seed makes the same company); what
    `str(uuid.UUID(int=..., version=4))` gives, without its cost (a year takes millions)."""
    h = f"{rng.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def company(count: int, rng: random.Random) -> Company:
    """`count` popugs (at least one per department head and admin) in the department tree."""
    departments: list[Department] = []

    def add(name: str, parent: str | None) -> None:
        department = Department(ids(rng), name, parent)
        departments.append(department)
        for child in TREE.get(name, ()):
            add(child, department.department_id)

    add("UberPopug Inc.", None)
    grants = {d.department_id: ("accountant",) for d in departments if d.name == ACCOUNTING}
    popugs: list[Popug] = []
    heads: dict[str, str] = {}
    # the first popugs head departments (managers; every department once the company is big enough, only the
    # root in a tiny one, which would otherwise have no workers), the next ones are the admins, then workers
    n_heads = len(departments) if count >= 10 * len(departments) else 1
    for index in range(count):
        department = departments[index] if index < n_heads else rng.choice(departments[1:])
        own: tuple[str, ...] = ("worker",)
        if index < n_heads:
            own = ("manager", "worker")
        elif index < n_heads + ADMINS:
            own = ("admin",)
        first, last = rng.choice(FIRST), rng.choice(LAST)
        employee_id = ids(rng)
        popugs.append(
            Popug(
                employee_id=employee_id, name=f"{first} {last}", email=f"{first}.{last}.{index}@popug.example".lower(),
                position=("Head of " + department.name) if index < n_heads else rng.choice(POSITIONS),
                department_id=department.department_id, own_roles=own,
                department_roles=grants.get(department.department_id, ()),
            )
        )  # fmt: skip
        if index < n_heads:
            heads[department.department_id] = employee_id
    departments = [Department(d.department_id, d.name, d.parent_id, heads.get(d.department_id)) for d in departments]
    return Company(tuple(departments), tuple(popugs), grants)
