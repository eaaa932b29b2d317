"""The pure side of alerts: settings -> rules, snapshot -> readings, and one step of a key's state."""
from openusage import config
from openusage.alerts import rules
from openusage.alerts.rules import Rule, readings, step
from openusage.core.timeutil import format_rfc3339

NOW = 1_800_000_000.0
PLAN = Rule(id="plan-80", when="rate_limit", threshold=80.0, margin=5.0)


def snap(used, resets_at=NOW + 3600, **limit):
    return {"provider_id": "zai", "account_id": "z1", "rate_limits": {
        "5h": dict({"used_percent": used, "resets_at": format_rfc3339(resets_at)}, **limit)}}


def run(rule, snaps_and_times, cooldown=0.0):
    """Feed (snapshot, now) pairs through readings and step; the times at which an alert fired."""
    states, fired = {}, []
    for snapshot, now in snaps_and_times:
        for reading in readings(rule, snapshot):
            last = max((s.fired_at for k, s in states.items() if k[:3] == reading.key[:3] and s.fired_at),
                       default=None)
            states[reading.key], fires = step(reading, states.get(reading.key), now, rule, cooldown, last)
            if fires:
                fired.append(now)
    return fired, states


def test_a_crossing_fires_once_and_staying_above_does_not_repeat():
    fired, states = run(PLAN, [(snap(50), NOW), (snap(81), NOW + 60), (snap(85), NOW + 120), (snap(99), NOW + 180)])
    assert fired == [NOW + 60]
    state = states[("plan-80", "zai", "z1", "5h")]
    assert state.firing and not state.armed and not state.seen and state.value == 81


def test_hysteresis_rearms_only_below_the_margin():
    seq = [(snap(81), NOW), (snap(77), NOW + 60), (snap(82), NOW + 120),  # 77 is inside the margin
           (snap(74), NOW + 180), (snap(80), NOW + 240)]  # 74 is below 80 - 5: re-armed, fires again
    fired, states = run(PLAN, seq)
    assert fired == [NOW, NOW + 240]
    between = run(PLAN, seq[:2])[1][("plan-80", "zai", "z1", "5h")]
    assert not between.firing and not between.armed  # below the threshold, not yet re-armed


def test_a_window_reset_rearms_even_while_above():
    seq = [(snap(95, resets_at=NOW + 100), NOW), (snap(96, resets_at=NOW + 100), NOW + 60),
           (snap(90, resets_at=NOW + 18100), NOW + 120)]  # the window fired in has reset at NOW + 100
    assert run(PLAN, seq)[0] == [NOW, NOW + 120]


def test_cooldown_holds_per_rule_and_account_across_limits():
    two = {"provider_id": "zai", "account_id": "z1", "rate_limits": {
        "5h": {"used_percent": 90}, "weekly": {"used_percent": 10}}}
    later = {"provider_id": "zai", "account_id": "z1", "rate_limits": {
        "5h": {"used_percent": 90}, "weekly": {"used_percent": 95}}}
    fired, states = run(PLAN, [(two, NOW), (later, NOW + 60), (later, NOW + 3601)], cooldown=3600)
    assert fired == [NOW, NOW + 3601]  # the weekly crossing waited out the account's cooldown
    assert states[("plan-80", "zai", "z1", "weekly")].fired_at == NOW + 3601


def test_cooldown_suppresses_a_recrossing():
    seq = [(snap(90), NOW), (snap(10), NOW + 60), (snap(90), NOW + 120), (snap(90), NOW + 4000)]
    assert run(PLAN, seq, cooldown=3600)[0] == [NOW, NOW + 4000]


def test_limit_and_provider_filters():
    only = Rule(id="w", when="rate_limit", provider="zai", limit="weekly", threshold=50.0, margin=5.0)
    s = {"provider_id": "zai", "account_id": "a", "rate_limits": {"5h": {"used_percent": 99},
                                                                   "weekly": {"limit": 10, "remaining": 2}}}
    found = readings(only, s)
    assert [(r.limit, r.value, r.active) for r in found] == [("weekly", 80.0, True)]
    assert readings(only, dict(s, provider_id="codex")) == []
    assert readings(Rule(id="x", when="rate_limit", account="other", threshold=1.0), s) == []


def pace_snap(pace):
    limit = {"used_percent": 40, "resets_at": format_rfc3339(NOW + 7200)}
    if pace is not None:
        limit["pace"] = pace
    return {"provider_id": "claude_code", "account_id": "c", "rate_limits": {"5h": limit}}


def test_projected_exhaustion_uses_pace():
    before = Rule(id="pace", when="projected_exhaustion", provider="claude_code", before_reset=True)
    anytime = Rule(id="pace2", when="projected_exhaustion")
    soon = {"rate_percent_per_hour": 30.0, "exhausts_at": format_rfc3339(NOW + 3600), "before_reset": True}
    late = {"rate_percent_per_hour": 5.0, "exhausts_at": format_rfc3339(NOW + 90000), "before_reset": False}
    never = {"rate_percent_per_hour": 0.0, "exhausts_at": None, "before_reset": False}
    assert [r.active for r in readings(before, pace_snap(soon))] == [True]
    assert [r.active for r in readings(before, pace_snap(late))] == [False]
    assert [r.active for r in readings(anytime, pace_snap(late))] == [True]
    assert [r.active for r in readings(anytime, pace_snap(never))] == [False]
    assert readings(before, pace_snap(None)) == []  # no pace: never fires
    fired, _ = run(before, [(pace_snap(late), NOW), (pace_snap(soon), NOW + 60), (pace_snap(soon), NOW + 120),
                            (pace_snap(late), NOW + 180), (pace_snap(soon), NOW + 240)])
    assert fired == [NOW + 60, NOW + 240]


def test_balance_and_spend_readings():
    low = Rule(id="low", when="balance", provider="deepseek", threshold=2.0, margin=0.1)
    s = {"provider_id": "deepseek", "account_id": "d", "spend": {"balance": {"cash": 1.0, "granted": 0.5}}}
    assert [(r.value, r.active, r.rearm) for r in readings(low, s)] == [(1.5, True, False)]
    assert readings(low, {"provider_id": "deepseek", "account_id": "d"}) == []
    budget = Rule(id="b", when="spend", window="1d", threshold=25.0, margin=1.25)
    asked = []

    def spend(provider, account, window):
        asked.append((provider, account, window))
        return 26.0, "2026-12-04T00:00:00.000Z"

    [reading] = readings(budget, {"provider_id": "claude_code", "account_id": "c"}, spend)
    assert asked == [("claude_code", "c", "1d")] and reading.active and reading.resets_at.startswith("2026-12-04")
    assert readings(budget, {"provider_id": "x", "account_id": "y"}, lambda *a: (None, None)) == []


def test_status_rule_waits_for_seconds():
    broken = Rule(id="broken", when="status", statuses=("AUTH", "ERR"), for_seconds=600)
    err = {"provider_id": "openai", "account_id": "o", "status": "ERR", "message": "boom"}
    ok = dict(err, status="OK")
    fired, _ = run(broken, [(err, NOW), (err, NOW + 300), (err, NOW + 600), (err, NOW + 900), (ok, NOW + 1000),
                            (err, NOW + 1100), (err, NOW + 1500), (err, NOW + 1700)])
    assert fired == [NOW + 600, NOW + 1700]


def test_rules_from_the_default_settings():
    found, notify = rules.from_settings(config.DEFAULTS["alerts"])
    assert [(r.id, r.when, r.provider, r.limit, r.threshold, r.margin) for r in found] == [
        ("plan-90", "rate_limit", "*", "*", 90.0, 5.0)]
    assert notify.desktop and notify.command is None and notify.cooldown == 3600


def test_issue_example_validates_and_loads():
    example = {"rules": [
        {"id": "plan-80", "when": "rate_limit", "provider": "*", "limit": "*", "used_percent_at_least": 80},
        {"id": "pace", "when": "projected_exhaustion", "provider": "claude_code", "before_reset": True},
        {"id": "daily-budget", "when": "spend", "window": "1d", "provider": "*", "at_least_usd": 25},
        {"id": "low-balance", "when": "balance", "provider": "deepseek", "at_most": 2.0},
        {"id": "broken", "when": "status", "status": ["AUTH", "ERR"], "for_seconds": 600},
        {"id": "off", "when": "balance", "at_most": 1, "enabled": False}],
        "notify": {"desktop": True, "command": ["/path/to/script"], "cooldown_seconds": 3600}}
    assert config.validate({"alerts": example}) == []
    found, notify = rules.from_settings(example)
    assert [r.id for r in found] == ["plan-80", "pace", "daily-budget", "low-balance", "broken"]
    assert found[2].margin == 1.25 and found[3].margin == 0.1 and found[4].statuses == ("AUTH", "ERR")
    assert notify.command == ["/path/to/script"]


def test_bad_alert_settings_name_their_key_paths():
    errors = config.validate({"alerts": {"rules": [
        {"id": "a", "when": "rate_limit"}, {"id": "a", "when": "soon"},
        {"id": "s", "when": "status", "status": []}, {"id": "p", "when": "spend", "window": "2w", "at_least_usd": -1,
                                                      "limit": "5h"}],
        "notify": {"command": ["script.sh"], "cooldown_seconds": -5, "desktop": "yes"}}})
    assert errors == [
        "alerts.rules[0].used_percent_at_least: required for a rate_limit rule",
        "alerts.rules[1].id: duplicate of alerts.rules[0].id",
        "alerts.rules[1].when: must be one of rate_limit, projected_exhaustion, spend, balance, status",
        "alerts.rules[2].status: a non-empty array of OK, WARN, LIMIT, AUTH, ERR, UNKNOWN",
        "alerts.rules[3].at_least_usd: must be at least 0, got -1",
        "alerts.rules[3].window: must be one of 1d, 3d, 7d, 30d, all",
        "alerts.notify.desktop: expected true or false, got a string",
        "alerts.notify.cooldown_seconds: must be at least 0, got -5",
        "alerts.notify.command[0]: must be an absolute path (no shell, no PATH search)",
    ]
    assert config.validate({"alerts": {"rules": {}}}) == ["alerts.rules: expected an array, got an object"]


def test_unknown_alert_keys_are_warnings_with_a_guess():
    raw = {"alerts": {"rules": [{"id": "p", "when": "spend", "window": "1d", "at_least_usd": 5, "limit": "5h",
                                 "at_least_usdd": 6}],
                      "notify": {"cooldown": 60}, "rule": []}}
    assert config.validate(raw) == []
    assert config.warnings(raw) == [
        "alerts.rule: unknown key; did you mean rules?",
        "alerts.notify.cooldown: unknown key (kept, not used)",
        "alerts.rules[0].limit: unknown key (kept, not used)",
        "alerts.rules[0].at_least_usdd: unknown key; did you mean at_least_usd?",
    ]

