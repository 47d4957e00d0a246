"""The dashboard's and the landing page's registries: steps other apps add, in order, done when any
of their checks says so; priced actions in order with their current prices."""

from __future__ import annotations

import pytest

from accounts import dashboard, landing
from accounts.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "_steps", {})
    monkeypatch.setattr(dashboard, "_extra_checks", {})
    monkeypatch.setattr(landing, "_actions", {})
    monkeypatch.setattr(landing, "_providers", [])


def test_checklist_steps_come_in_their_order_with_their_urls(registries):
    dashboard.register_checklist_step(
        key="second", title="Second", text="b", url_name="api-keys", order=20, done=lambda user: True
    )
    dashboard.register_checklist_step(
        key="first",
        title="First",
        text=lambda: "a",
        url_name="no-such-page",
        order=10,
        done=lambda user: False,
    )

    checklist = dashboard.checklist_for(UserFactory())

    assert [(i.key, i.text, i.url, i.done) for i in checklist.items] == [
        ("first", "a", "", False),
        ("second", "b", "/keys/", True),
    ]
    assert checklist.done_count == 1
    assert not checklist.complete


def test_another_app_can_complete_a_step_it_does_not_own(registries):
    dashboard.register_checklist_step(
        key="lookup", title="Look up", text="", url_name="home", order=1, done=lambda user: False
    )
    assert not dashboard.checklist_for(UserFactory()).complete

    dashboard.register_checklist_done(key="lookup", done=lambda user: True)

    assert dashboard.checklist_for(UserFactory()).complete


def test_a_step_is_done_for_the_user_its_check_names(registries):
    done_for = UserFactory()
    dashboard.register_checklist_step(
        key="mine", title="Mine", text="", url_name="home", order=1, done=lambda user: user == done_for
    )

    assert dashboard.checklist_for(done_for).complete
    assert not dashboard.checklist_for(UserFactory()).complete


def test_action_prices_are_read_when_asked_and_listed_in_order(registries, rf):
    price = {"value": 1}
    landing.register_action_price(
        landing.ActionPrice(key="b", label="B", detail="", credits=lambda: 7, order=2)
    )
    landing.register_action_price(
        landing.ActionPrice(key="a", label="A", detail="", credits=lambda: price["value"], order=1)
    )
    landing.register_landing_context(lambda request: {"extra": "yes"})

    context = landing.landing_context(rf.get("/"))
    assert [(a.key, a.credits) for a in context["action_prices"]] == [("a", 1), ("b", 7)]
    assert context["extra"] == "yes"

    price["value"] = 4
    assert [a.credits for a in landing.action_prices()] == [4, 7]
