import random
import string

from openusage.core import redact

_rng = random.Random(1414)


def secret(n):
    return "".join(_rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def test_a_registered_secret_and_every_long_piece_of_it_are_masked_whole():
    key = secret(161)
    redact.remember(key)
    assert redact.mask(f"bad key {key}.") == "bad key [masked]."
    assert redact.mask(f"cut: {key[:92]}") == "cut: [masked]"
    assert redact.mask(f"middle {key[40:52]} end") == "middle [masked] end"  # 12 characters: caught
    assert redact.mask(f"short {key[40:51]} end") == f"short {key[40:51]} end"  # 11: ordinary text
    assert redact.mask(f"{key[:20]} and {key[100:130]}") == "[masked] and [masked]"


def test_masking_comes_before_the_cut():
    key = secret(40)
    redact.remember(key)
    text = "x" * 100 + key
    cut_first = text[:110]  # ten characters of the key left: too short to recognise afterwards
    assert key[:10] in redact.mask(cut_first)
    clipped = redact.clip(text, 110)
    assert key[:10] not in clipped and clipped == "x" * 100 + "[masked]"
    assert redact.clip("a" * 50, 10) == "a" * 9 + "…"


def test_short_secrets_and_values_too_short_to_be_keys():
    short = secret(9)
    redact.remember(short, "abc", "", None)
    assert redact.mask(f"k={short}") == "k=[masked]"
    assert redact.mask("abc abc") == "abc abc"


def test_key_shapes_are_masked_unregistered_but_not_inside_words():
    assert redact.mask("key sk-proj-abcdefghij1234 refused") == "key [masked] refused"
    assert redact.mask("Authorization: Bearer eyJhbGciOi.J9abcdef") == "Authorization: Bearer [masked]"
    assert redact.mask("task-abcdefghijkl and desk_abcdefghij") == "task-abcdefghijkl and desk_abcdefghij"


def test_headers_register_what_a_request_carries():
    bearer, api_key, cookie = secret(30), secret(30), secret(30)
    redact.remember_headers({"Authorization": f"Bearer {bearer}", "x-api-key": api_key,
                             "Cookie": f"session={cookie}; theme=dark", "Accept": "application/json-long-value"})
    assert redact.mask(f"{bearer} {api_key} {cookie}") == "[masked] [masked] [masked]"
    assert redact.mask("application/json-long-value") == "application/json-long-value"


def test_trees_are_masked_in_every_string():
    key = secret(50)
    redact.remember(key)
    tree = {"message": f"no {key}", "extras": {key: [1, f"{key[5:30]}", None]}, "n": 3}
    assert redact.mask_tree(tree) == {"message": "no [masked]", "extras": {"[masked]": [1, "[masked]", None]}, "n": 3}


def test_account_key_names():
    names = redact.account_key_names("MY_KEY", {"admin_key_env": "ADMIN", "region": "eu"},
                                     ["OPENAI_API_KEY", "CODEX_HOME", "GH_TOKEN"])
    assert list(names) == ["MY_KEY", "ADMIN", "OPENAI_API_KEY", "GH_TOKEN"]
