from openusage.agents import saved


def test_each_older_form_is_rewritten_in_order():
    state = {"files": {"a": 1}}  # saved before versions existed: version 1
    ran = []
    steps = {1: lambda s: ran.append(("1->2", dict(s))), 2: lambda s: s.update(moved=True) or ran.append("2->3")}
    saved.upgrade(state, 3, steps)
    assert ran == [("1->2", {"files": {"a": 1}}), "2->3"]
    assert state == {"files": {"a": 1}, "moved": True, "version": 3}
    saved.upgrade(state, 3, steps)  # current: nothing runs again
    assert len(ran) == 2


def test_a_first_poll_starts_at_the_current_form():
    state = {}
    saved.upgrade(state, 2, {1: lambda s: s.update(wrong=True)})
    assert state == {"version": 2}


def test_a_newer_or_unreadable_form_starts_over():
    for version in (7, "2", None):
        state = {"version": version, "files": {"a": 1}}
        saved.upgrade(state, 2, {1: lambda s: s.update(wrong=True)})
        assert state == {"version": 2}
