"""The label-selector query grammar, as k8s.io/apimachinery/pkg/labels parses it (the API server's 400 wording).

The conformance tier (tests/conformance/test_contract.py) asks a real kube-apiserver the same questions.
"""

from __future__ import annotations

import pytest

from meshtui.domain.selectors import LabelSelector, Operator, Requirement, SelectorError

LABELS = {
    "app": "web",
    "app.kubernetes.io/instance": "x",
    "domain": "a",
    "empty": "",
    "rank": "2",
    "in": "in",
}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        # Keys and values containing the letters "in" are keys and values, not operators.
        ("app.kubernetes.io/instance in (x)", True),
        ("domain in (a)", True),
        ("domain notin (a)", False),
        ("in in (in)", True),
        ("in notin (notin)", True),
        # An empty value: `()`, `(,)`, `a=`, and empty items inside a list.
        ("empty in ()", True),
        ("domain in ()", False),
        ("missing in ()", False),
        ("missing notin ()", True),
        ("empty in (,)", True),
        ("empty in (x,,y)", True),
        ("empty=", True),
        ("empty==", True),
        ("empty!=", False),
        ("app=,empty", False),
        # Whitespace separates tokens and is otherwise ignored; none is needed around symbols.
        ("  app = web ,\tdomain\n", True),
        ("app in(web)", True),
        ("app notin(web)", False),
        ("app in ( web , cart )", True),
        ("!missing,app", True),
        ("! app", False),
        ("app==web", True),
        ("app!=web", False),
        ("missing!=web", True),
        # Gt and Lt compare integers; a missing label never matches.
        ("rank>1", True),
        ("rank<2", False),
        ("rank<3", True),
        ("missing>1", False),
        ("app>1", False),
        ("", True),
        ("   ", True),
    ],
)
def test_query_selectors_match_as_the_api_server_does(text: str, matches: bool) -> None:
    assert LabelSelector.parse(text).matches(LABELS) is matches


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("app in (", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
        ("app in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("app in a", "unable to parse requirement: found 'a' expected: '('"),
        ("app b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("app=b c", "found 'c', expected: ',' or 'end of string'"),
        ("app=b,", "found '', expected: identifier after ','"),
        ("app,,b", "found ',', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("app=(", "unable to parse requirement: found '(', expected: identifier"),
        (
            "rank>x",
            'unable to parse requirement: values[0]: Invalid value: "x": '
            "for 'Gt', 'Lt' operators, the value must be an integer",
        ),
        ("a/b/c", 'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key must consist'),
        ("Bad_/x", 'unable to parse requirement: <nil>: Invalid value: "Bad_/x": prefix part a lowercase RFC 1123'),
        ("app=-x", 'unable to parse requirement: values[0][app]: Invalid value: "-x": a valid label must be'),
    ],
)
def test_malformed_query_selectors_fail_with_the_api_servers_message(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        LabelSelector.parse(text)
    assert str(caught.value).startswith(message)


def test_requirements_keep_their_operator_and_come_sorted_by_key() -> None:
    parsed = LabelSelector.parse("z=1,a in (x,,y),!m,k,n!=2,g>3")
    assert parsed.requirements == (
        Requirement("a", Operator.IN, frozenset({"", "x", "y"})),
        Requirement("g", Operator.GREATER_THAN, frozenset({"3"})),
        Requirement("k", Operator.EXISTS),
        Requirement("m", Operator.DOES_NOT_EXIST),
        Requirement("n", Operator.NOT_EQUALS, frozenset({"2"})),
        Requirement("z", Operator.EQUALS, frozenset({"1"})),
    )
    assert parsed.describe() == "a in (,x,y),g>3,k,!m,n!=2,z=1"


def test_the_structured_form_takes_only_its_four_operators() -> None:
    selector = LabelSelector.from_dict(
        {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "rank", "operator": "Exists"}]}
    )
    assert selector.matches(LABELS)
    with pytest.raises(SelectorError):
        LabelSelector.from_dict({"matchExpressions": [{"key": "rank", "operator": "Gt", "values": ["1"]}]})
