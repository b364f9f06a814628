"""Role-mapping rules evaluated the way Elasticsearch evaluates them, to tell when a rule grants to everyone.

Semantics follow elastic/elasticsearch x-pack security, in x-pack/plugin/core/src/main/java/org/elasticsearch/
xpack/core/security/: `authc/support/mapper/expressiondsl/ExpressionParser.java` (one of any/all/field/except
per object, `except` only directly inside `all`), `.../FieldExpression.java` (a string value is an automaton
when it contains `*` (server/.../common/regex/Regex.java `isSimpleMatchPattern`) or is `/.../`
(`Automatons.isLuceneRegex`), otherwise an exact string; a list matches when any value does),
`.../ExpressionModel.java` (a collection field matches when any element does) and `support/Automatons.java`
(`*` any string, `?` one character, `\\` escapes; `/.../` is a Lucene `RegExp`, always anchored).

"Matches everyone" means "excludes no realistic user": a rule is broad when it maps every user of a fixed set
of plausible users (plain, upper-case and digit-first names, dots/dashes/underscores/@, e-mail names, LDAP
DNs, unicode, a 64-character name; realms native1/file/ldap1/pki1/saml1/oidc1; some without groups), taking
only users that have every field the rule names. Excluding only names no realm issues (a newline, NUL, a
leading symbol, 100+ characters) therefore cannot hide a grant to everyone. `except X` is broad unless X
itself is broad: a rule that only excludes named users still cannot exclude an arbitrary one. Known gap: a
rule that excludes one realistic shape (every one-letter name, every e-mail name: `/[^@]*/`) is narrow,
although it still maps most users; review broad-looking patterns by eye. Lucene syntax this translation cannot mirror
exactly (`~` complement, `@`, `&`, `<n-m>`, `#`, `\\d`-style escapes, stacked quantifiers) is refused as
unsupported rather than guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from pydantic_core import SchemaError, SchemaValidator, core_schema

RULE_KINDS = ("any", "all", "field", "except")
# The fields a realm's user data defines (UserRoleMapper.UserData#asModel); any other name never matches.
USER_FIELDS = ("username", "dn", "groups", "realm.name")
METADATA_PREFIX = "metadata."

Matcher = Callable[[str], bool]


class RuleError(ValueError):
    """A rule Elasticsearch would refuse, or one this tool cannot evaluate faithfully."""


def check_rule(rule: Any, path: str = "", *, in_all: bool = False) -> None:
    """Refuse rule syntax Elasticsearch would refuse, unknown fields, null values and unsupported patterns."""
    where = f"{path}: " if path else ""
    if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in RULE_KINDS:
        raise RuleError(f"{where}a rule is an object with exactly one of {', '.join(RULE_KINDS)}")
    ((kind, value),) = rule.items()
    inner = f"{path}.{kind}" if path else kind
    if kind in ("any", "all"):
        if not isinstance(value, list) or not value:
            raise RuleError(f"{inner}: must be a non-empty list of rules")
        for index, child in enumerate(value):
            check_rule(child, f"{inner}[{index}]", in_all=kind == "all")
    elif kind == "except":
        # ExpressionParser.parseExpression: `except` is allowed only as a member of `all`, never nested in itself.
        if not in_all:
            raise RuleError(f"{inner}: except is only allowed as a member of all, e.g. {{all: [..., {{except: ...}}]}}")
        check_rule(value, inner)
    else:
        _check_field(value, inner)


def _check_field(value: Any, path: str) -> None:
    if not isinstance(value, dict) or len(value) != 1:
        raise RuleError(f"{path}: must name exactly one field, e.g. {{groups: cn=admins,dc=example}}")
    ((field, expected),) = value.items()
    if not isinstance(field, str) or not field:
        raise RuleError(f"{path}: the field name must be a non-empty string")
    if field not in USER_FIELDS and not (field.startswith(METADATA_PREFIX) and len(field) > len(METADATA_PREFIX)):
        raise RuleError(f"{path}: unknown field name; Elasticsearch matches {', '.join(USER_FIELDS)} or metadata.<key>")
    values = expected if isinstance(expected, list) else [expected]
    if not values:
        raise RuleError(f"{path}.{field}: needs at least one value")
    for v in values:
        if v is None:
            raise RuleError(f"{path}.{field}: null matches only users without the field; name a value")
        # ExpressionParser.parseFieldValue reads numbers with longValue(): a fraction would be truncated.
        if isinstance(v, float) or not isinstance(v, (str, int, bool)):
            raise RuleError(f"{path}.{field}: values must be strings, integers or booleans")
        if isinstance(v, str):
            compile_value(v, f"{path}.{field}")


def compile_value(value: str, path: str = "value") -> Matcher:
    """The matcher Elasticsearch builds for one string value (FieldExpression.FieldValue#buildAutomaton)."""
    if len(value) > 1 and value.startswith("/") and value.endswith("/"):
        pattern = _lucene_regexp(value[1:-1], path)
    elif value.startswith("/"):
        # Automatons.buildAutomaton refuses `/...` without the closing slash once `*` makes it a pattern;
        # without `*` it is an exact string, which is still surely a mistake.
        raise RuleError(f"{path}: a value starting with '/' is a regular expression and must end with '/'")
    elif "*" in value:
        pattern = _wildcard(value)
    else:
        return value.__eq__
    return _linear_matcher(pattern, path)


@cache
def _compiled(pattern: str) -> SchemaValidator:
    # pydantic-core's Rust regex engine runs in linear time: a hostile `/(a*)*b/` cannot stall validation, and
    # its size limit refuses patterns that would explode. Search semantics, so the pattern is anchored here.
    return SchemaValidator(core_schema.str_schema(pattern=f"(?s)^(?:{pattern})$"))


def _linear_matcher(pattern: str, path: str) -> Matcher:
    try:
        validator = _compiled(pattern)
    except SchemaError:
        raise RuleError(f"{path}: unsupported or too large regular expression") from None
    return validator.isinstance_python


def _lit(c: str) -> str:
    """One literal character, written so that both Python and Rust regex read it as itself."""
    if c.isascii() and c.isalnum():
        return c
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def _wildcard(text: str) -> str:
    """Automatons.wildcard: `*` any string, `?` one character, `\\` escapes the next one (a trailing one is literal)."""
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "\\" and i + 1 < len(text):
            i += 1
            out.append(_lit(text[i]))
        else:
            out.append(_lit(c))
        i += 1
    return "".join(out)


# Lucene RegExp operators (ALL flags) with no faithful Python equivalent: refused, never guessed.
_UNSUPPORTED = {
    "~": "complement",
    "@": "any-string",
    "&": "intersection",
    "<": "interval",
    ">": "interval",
    "#": "empty",
}
_QUANTIFIERS = "*+?"
_REPEAT = re.compile(r"\{\d+(,\d*)?\}")


def _lucene_regexp(body: str, path: str) -> str:
    """Translate a Lucene regexp (always anchored; `^`/`$` are plain characters) to a Python pattern."""
    out: list[str] = []
    i, quantified = 0, False
    depth = 0
    while i < len(body):
        c = body[i]
        if c in _UNSUPPORTED:
            raise RuleError(f"{path}: unsupported regular expression syntax {c!r} ({_UNSUPPORTED[c]})")
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum():
                raise RuleError(f"{path}: unsupported escape in regular expression; escape only punctuation")
            out.append(_lit(body[i + 1]))
            i, quantified = i + 2, False
            continue
        if c in _QUANTIFIERS or c == "{":
            repeat = _REPEAT.match(body, i) if c == "{" else None
            if c == "{" and repeat is None:
                raise RuleError(f"{path}: unsupported repetition in regular expression")
            if quantified or not out or out[-1] in ("(", "|"):
                raise RuleError(f"{path}: unsupported regular expression: a quantifier must follow an expression")
            token = repeat.group() if repeat is not None else c
            out.append(token)
            i, quantified = i + len(token), True
            continue
        quantified = False
        if c == '"':
            end = body.find('"', i + 1)
            if end < 0:
                raise RuleError(f"{path}: unterminated quoted string in regular expression")
            out.append(f"(?:{''.join(_lit(ch) for ch in body[i + 1 : end])})")
            i = end + 1
            continue
        if c == "[":
            end, cls = _char_class(body, i, path)
            out.append(cls)
            i = end
            continue
        if c == "(":
            depth += 1
            out.append("(")
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise RuleError(f"{path}: unbalanced parenthesis in regular expression")
            out.append(")")
        elif c in ".|":
            out.append(c)
        else:
            out.append(_lit(c))
        i += 1
    if depth:
        raise RuleError(f"{path}: unbalanced parenthesis in regular expression")
    return "".join(out)


def _char_class(body: str, start: int, path: str) -> tuple[int, str]:
    """`[...]` / `[^...]` with `a-z` ranges and `\\` escapes, every member escaped for Python."""
    i = start + 1
    negate = i < len(body) and body[i] == "^"
    i += negate
    members: list[str] = []
    while i < len(body) and body[i] != "]":
        c = body[i]
        if c == "\\":
            if i + 1 >= len(body) or body[i + 1].isalnum():
                raise RuleError(f"{path}: unsupported escape in regular expression; escape only punctuation")
            i += 1
            c = body[i]
        if c == "-" and members and i + 1 < len(body) and body[i + 1] != "]":
            members.append("-")
        else:
            members.append(_lit(c))
        i += 1
    if i >= len(body) or not members:
        raise RuleError(f"{path}: unterminated or empty character class in regular expression")
    return i + 1, f"[{'^' if negate else ''}{''.join(members)}]"


@dataclass(frozen=True)
class RealisticUser:
    """A user as a realm reports one (UserRoleMapper.UserData): no dn outside LDAP/PKI, possibly no groups."""

    username: str
    realm: str
    dn: str | None = None
    groups: tuple[str, ...] = ()
    metadata: str | None = None

    def field(self, name: str) -> list[str]:
        """The values ExpressionModel tests for `name`: a missing field or an empty group list matches nothing."""
        if name == "username":
            return [self.username]
        if name == "realm.name":
            return [self.realm]
        if name == "dn":
            return [] if self.dn is None else [self.dn]
        if name == "groups":
            return list(self.groups)
        return [] if self.metadata is None else [self.metadata]


_ADMINS = "cn=admins,ou=groups,dc=example,dc=com"
# Users a real deployment has. Every username starts with an ASCII letter or digit and is at most 64 characters:
# a rule that excludes only names no realm issues (empty, control characters, a leading symbol, 100+ characters)
# still grants to every real user, so it counts as broad.
REALISTIC_USERS: tuple[RealisticUser, ...] = (
    RealisticUser("x", "file", groups=("ops",), metadata="x"),
    RealisticUser("alice", "native1", metadata="platform"),
    RealisticUser("Bob", "native1", groups=("Developers",), metadata="Team-B"),
    RealisticUser("ADMIN", "file", groups=("superusers",), metadata="ADMIN"),
    RealisticUser("007bond", "native1", groups=(), metadata="007"),
    RealisticUser("1234", "file", metadata="1234"),
    RealisticUser("john.smith", "ldap1", "cn=John Smith,ou=people,dc=example,dc=com", (_ADMINS,), "eng"),
    RealisticUser("J.Doe", "ldap1", "uid=J.Doe,ou=people,dc=example,dc=com", ("cn=Staff,dc=example",), "42"),
    RealisticUser("jane-doe_2", "pki1", "CN=jane-doe_2, OU=Users, O=Example", ("cn=users,dc=example",), "Q3"),
    RealisticUser("svc_ci-bot", "native1", groups=("automation", "ci"), metadata="ci"),
    RealisticUser("jane.doe@example.com", "saml1", groups=("GG-LLM-Users",), metadata="jane.doe@example.com"),
    RealisticUser("Kim.Lee@Corp.Example.ORG", "saml1", metadata="Corp"),
    RealisticUser("j@x.io", "oidc1", groups=("urn:example:group:ops",), metadata="urn:x"),
    RealisticUser("josé.garcía", "saml1", groups=("ventes",), metadata="Équipe"),
    RealisticUser("zoë", "native1", groups=("研究",), metadata="研究"),
    RealisticUser("Müller-Lüdenscheidt", "ldap1", "cn=Müller,ou=people,dc=example,dc=de", ("ß",), "ü"),
    RealisticUser("u日本語", "file", metadata="日本語"),
    RealisticUser("a" + "b1.-_" * 12 + "xyz", "native1", groups=("g" * 64,), metadata="m" * 64),
)


def _fields(rule: Mapping[str, Any]) -> set[str]:
    ((kind, value),) = rule.items()
    if kind in ("any", "all"):
        return set().union(*(_fields(child) for child in value))
    if kind == "except":
        return set()
    return {next(iter(value))}


def matches(rule: Mapping[str, Any], user: RealisticUser) -> bool:
    """Whether `rule` (already checked) maps `user`, with `except X` counted as matching when X is not broad."""
    ((kind, value),) = rule.items()
    if kind == "any":
        return any(matches(child, user) for child in value)
    if kind == "all":
        return all(matches(child, user) for child in value)
    if kind == "except":
        return not _broad(json.dumps(value, sort_keys=True))
    ((field, expected),) = value.items()
    values = expected if isinstance(expected, list) else [expected]
    matchers = [compile_value(v) for v in values if isinstance(v, str)]
    return any(m(s) for m in matchers for s in user.field(field))


@cache
def _broad(rule_json: str) -> bool:
    # Memoised: without it, nested all/except would re-evaluate each inner rule once per outer user.
    return matches_everyone(json.loads(rule_json))


def matches_everyone(rule: Mapping[str, Any]) -> bool:
    """Whether a checked rule excludes no realistic user that has every field the rule names.

    Users lacking a named field (no dn, no groups) are left out: `groups: "*"` grants to every user with a
    group, which is everyone in practice, even though Elasticsearch skips a user without groups.
    """
    named = _fields(rule)
    population = [u for u in REALISTIC_USERS if all(u.field(f) for f in named)]
    return all(matches(rule, u) for u in population)
