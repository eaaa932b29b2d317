"""Report tables fitted to the terminal: every kind at 80 columns, a note of what was left out."""
import pytest

from openusage.reports import render

MODELS = ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001", "gpt-5-codex"]


def tokens(scale=1):
    return dict(input_tokens=1234567 * scale, output_tokens=7654321 * scale, cache_write_tokens=14814804 * scale,
                cache_read_tokens=1185185184 * scale, reasoning_tokens=0, total_tokens=1208888876 * scale,
                cost_usd=1284.07 * scale, requests=12)


def row(**extra):
    return dict(models=[dict(model=m, **tokens()) for m in MODELS], **tokens(4), **extra)


REPORTS = {
    "daily": {"daily": [row(date="2026-11-20"), row(date="2026-11-21")]},
    "weekly": {"weekly": [row(date="2026-11-16")]},
    "monthly": {"monthly": [row(date="2026-11-01")]},
    "session": {"sessions": [row(session_id="5f0e8a7c-1b2d-4e8f-9a6b-0c3d2e1f4a5b", provider="claude_code",
                                 project="a-rather-long-project-name-for-a-report", last_at="2026-11-22T10:00:00Z",
                                 duration_seconds=172800)]},
    "blocks": {"blocks": [row(start="2026-11-22T10:00:00.000Z", end="2026-11-22T15:00:00.000Z", is_active=True,
                              burn_rate={"cost_per_hour": 245.5, "tokens_per_minute": 1234567.0},
                              projection={"cost_usd": 9999.99, "total_tokens": 9876543210,
                                          "remaining_minutes": 123})]},
}
for _report in REPORTS.values():
    _report["totals"] = tokens(8)


@pytest.mark.parametrize("breakdown", [False, True])
@pytest.mark.parametrize("kind", sorted(REPORTS))
def test_every_report_fits_80_columns_and_says_what_it_left_out(kind, breakdown):
    text, note = render.table(REPORTS[kind], kind, 80, breakdown)
    lines = text.splitlines() + [note]
    assert max(len(line) for line in lines) <= 80, "\n".join(line for line in lines if len(line) > 80)
    assert "--wide shows all" in note and "\n" not in note
    assert "TOTAL" in text and "$10,272.56" in text  # the totals row keeps its cost
    if kind == "blocks":
        burn = render.burn_rate_line(REPORTS[kind]["blocks"][0], 80)
        assert max(len(line) for line in burn.splitlines()) <= 80 and "projected $9,999.99" in burn


def test_a_wide_terminal_keeps_what_fits_and_names_only_what_it_changed():
    text, note = render.table(REPORTS["daily"], "daily", 200)
    assert "CACHE READ" in text and "claude-opus-4-1-20250805 +1" not in text
    assert note == "" and "+1" in text  # three names listed, the fourth counted
    text, note = render.table(REPORTS["daily"], "daily", 130)
    assert "CACHE READ" in text and note == "shortened: models (--wide shows all)"
    text, note = render.table(REPORTS["session"], "session", 80)
    assert "LAST ACTIVE" not in text and note.startswith("hidden: cache tokens, last active, duration")


def test_without_a_width_every_column_is_there_and_cells_are_bounded():
    text, note = render.table(REPORTS["session"], "session", None, breakdown=True)
    assert note == ""
    head = text.splitlines()[0]
    for column in ("LAST ACTIVE", "DURATION", "CACHE WRITE", "CACHE READ", "TOTAL TOKENS", "COST (USD)"):
        assert column in head
    assert "1,185,185,184" in text and "48h 00m" in text
    first = text.splitlines()[2]
    assert first.count("claude-") == 3 and "+1" in first  # at most MODELS_LISTED names in a row
    assert "gpt-5-codex" in text  # the breakdown rows name every model
    assert max(len(line) for line in text.splitlines()) < 250


def test_a_breakdown_names_its_model_in_the_models_column():
    text, _ = render.table(REPORTS["daily"], "daily", None, breakdown=True)
    sub = [line for line in text.splitlines() if line.startswith("  └")][0]
    header = text.splitlines()[0]
    assert sub.index("claude-sonnet-4-5-20250929") == header.index("MODELS")


def test_rounded_counts():
    assert [render._short_n(n) for n in (999, 1234, 1234567, 9876543210)] == ["999", "1.2k", "1.2M", "9.9B"]
